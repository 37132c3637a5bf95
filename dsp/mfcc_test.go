package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// directDCT is the textbook orthonormal DCT-II.
func directDCT(x []float64, k int) []float64 {
	n := len(x)
	out := make([]float64, k)
	for i := range out {
		var s float64
		for j, v := range x {
			s += v * math.Cos(math.Pi/float64(n)*(float64(j)+0.5)*float64(i))
		}
		if i == 0 {
			out[i] = s * math.Sqrt(1/float64(n))
		} else {
			out[i] = s * math.Sqrt(2/float64(n))
		}
	}
	return out
}

func TestDCTMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, 23)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	d, err := NewDCT(23, 13, DCTOrtho)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 13)
	d.Transform(got, x)
	want := directDCT(x, 13)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("c%d = %v, want %v", i, got[i], want[i])
		}
	}
	// Orthonormal: a full DCT preserves energy.
	full, _ := NewDCT(23, 23, DCTOrtho)
	all := make([]float64, 23)
	full.Transform(all, x)
	var ex, ec float64
	for i := range x {
		ex += x[i] * x[i]
		ec += all[i] * all[i]
	}
	if math.Abs(ex-ec) > 1e-9 {
		t.Errorf("energy %v became %v", ex, ec)
	}
	u, _ := NewDCT(4, 2, DCTUnscaled)
	u.Transform(got[:2], []float64{1, 1, 1, 1})
	if math.Abs(got[0]-4) > 1e-12 || math.Abs(got[1]) > 1e-12 {
		t.Errorf("unscaled DCT of ones = %v", got[:2])
	}
}

// referenceMFCC computes MFCCs from the textbook definitions, sharing no
// code with the package beyond the filter-bank edges' formula.
func referenceMFCC(x []float64) []float64 {
	const n, nfft, nfilt, ncep, rate = 200, 256, 23, 13, 8000.0
	y := make([]float64, n)
	for i := range y {
		prev := x[0]
		if i > 0 {
			prev = x[i-1]
		}
		y[i] = (x[i] - 0.97*prev) * (0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/(n-1)))
	}
	spec := directDFT(y, nfft)
	mel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	imel := func(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }
	logE := make([]float64, nfilt)
	for m := 0; m < nfilt; m++ {
		step := (mel(3800) - mel(64)) / (nfilt + 1)
		l, c, r := imel(mel(64)+step*float64(m)), imel(mel(64)+step*float64(m+1)), imel(mel(64)+step*float64(m+2))
		var e float64
		for k, v := range spec {
			f := float64(k) * rate / nfft
			w := 0.0
			if f > l && f <= c {
				w = (f - l) / (c - l)
			} else if f > c && f < r {
				w = (r - f) / (r - c)
			}
			e += w * (real(v)*real(v) + imag(v)*imag(v))
		}
		logE[m] = math.Log(math.Max(e, 1e-10))
	}
	c := directDCT(logE, ncep)
	for i := range c {
		c[i] *= 1 + 11*math.Sin(math.Pi*float64(i)/22)
	}
	return c
}

func TestMFCCMatchesTextbookReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		gen  func(i int) float64
	}{
		{"white noise", func(int) float64 { return rng.NormFloat64() * 3000 }},
		{"vowel-like harmonics", func(i int) float64 {
			s := 0.0
			for h := 1; h < 20; h++ {
				s += 2000 / float64(h) * math.Sin(2*math.Pi*120*float64(h)*float64(i)/8000)
			}
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := make([]float64, 200)
			for i := range x {
				x[i] = tc.gen(i)
			}
			m, err := NewMFCC(MFCCConfig{})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, m.NumCeps())
			m.Compute(got, x)
			want := referenceMFCC(x)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
					t.Errorf("c%d = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestMFCCHandlesSilenceAndShortInput(t *testing.T) {
	m, _ := NewMFCC(MFCCConfig{})
	out := make([]float64, 13)
	m.Compute(out, make([]float64, 200))
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("c%d of silence = %v", i, v)
		}
	}
	m.Compute(out, []float64{1, 2, 3})
	m.Compute(out[:2], []float64{math.NaN(), 1})
	m.Compute(nil, nil)
}

func TestNewMFCCSphinxParameters(t *testing.T) {
	m, err := NewMFCC(MFCCConfig{SampleRate: 16000, WindowSamples: 410, FFTSize: 512,
		Mel:    MelConfig{NumFilters: 40, LowHz: 133.33334, HighHz: 6855.4976, Norm: MelUnitArea},
		Lifter: -1, DCT: DCTUnscaled})
	if err != nil {
		t.Fatal(err)
	}
	if m.NumCeps() != 13 || m.WindowSamples() != 410 {
		t.Errorf("got %d ceps, window %d", m.NumCeps(), m.WindowSamples())
	}
	if _, err := NewMFCC(MFCCConfig{WindowSamples: 300, FFTSize: 256}); err == nil {
		t.Error("FFT shorter than window accepted")
	}
}

func BenchmarkMFCC(b *testing.B) {
	m, _ := NewMFCC(MFCCConfig{})
	x := make([]float64, 200)
	for i := range x {
		x[i] = 1000 * math.Sin(float64(i)*0.3)
	}
	out := make([]float64, 13)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		m.Compute(out, x)
	}
}

// TestMFCCFusedStepsMatchSeparateSteps computes the cepstra the slow way —
// a zero-padded copy, preEmphasizeWindow, ApplyWindow, the O(N²) DFT, the
// filter bank, log, DCT and lifter as separate steps — and holds Compute's
// fused pre-emphasis and windowing and its FFT to it, for full, short and
// long windows.
func TestMFCCFusedStepsMatchSeparateSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, cfg := range []MFCCConfig{{}, {PreEmphasis: -1}, {SampleRate: 16000, WindowSamples: 410, FFTSize: 512,
		Mel: MelConfig{NumFilters: 40, LowHz: 133.33334, HighHz: 6855.4976, Norm: MelUnitArea}, Lifter: -1, DCT: DCTUnscaled}} {
		m, err := NewMFCC(cfg)
		if err != nil {
			t.Fatal(err)
		}
		win := m.WindowSamples()
		for _, n := range []int{win, win / 2, 1, win + 30} {
			x := make([]float64, n)
			for i := range x {
				x[i] = rng.NormFloat64()*3000 + 2000*math.Sin(float64(i)*0.2)
			}
			got := make([]float64, m.NumCeps())
			m.Compute(got, x)

			f := make([]float64, win)
			copy(f, x)
			preEmphasizeWindow(f, f, m.preemph)
			ApplyWindow(f, f, m.window)
			spec := directDFT(f, m.fft.Len())
			power := make([]float64, len(spec))
			for k, c := range spec {
				power[k] = real(c)*real(c) + imag(c)*imag(c)
			}
			melE := make([]float64, m.mel.NumFilters())
			m.mel.Apply(melE, power)
			for i, e := range melE {
				melE[i] = math.Log(math.Max(e, m.logFloor))
			}
			want := make([]float64, m.NumCeps())
			m.dct.Transform(want, melE)
			for i := range want {
				want[i] *= m.lifter[i]
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-8*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("%+v, %d samples: c%d = %v, reference %v", cfg, n, i, got[i], want[i])
				}
			}
		}
	}
}
