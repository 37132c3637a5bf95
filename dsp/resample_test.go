package dsp

import (
	"math"
	"testing"
)

func tone(hz, rate float64, n int, amp float64) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(math.Round(amp * math.Sin(2*math.Pi*hz*float64(i)/rate)))
	}
	return x
}

// resampleAll feeds x in 20 ms frames (of the input rate) and returns all output.
func resampleAll(t testing.TB, r *Resampler, x []int16, frame int) []int16 {
	var out []int16
	dst := make([]int16, r.MaxOut(frame))
	for i := 0; i < len(x); i += frame {
		end := min(i+frame, len(x))
		n := r.Process(dst, x[i:end])
		out = append(out, dst[:n]...)
	}
	return out
}

// hannPowerDB returns the power of x (skipping the first skip samples) in
// the FFT bin nearest hz, in dB, using a 4096-point Hann-windowed FFT; Hann
// leakage hundreds of bins away is far below the levels measured.
func hannPowerDB(x []int16, skip int, rate, hz float64) float64 {
	const n = 4096
	seg := make([]float64, n)
	w := Hann(n)
	for i := range seg {
		seg[i] = float64(x[skip+i]) * w[i]
	}
	f, _ := NewFFT(n)
	p := make([]float64, f.Bins())
	f.PowerSpectrum(p, seg)
	k := int(math.Round(hz * n / rate))
	var s float64
	for j := max(k-3, 0); j <= min(k+3, len(p)-1); j++ {
		s += p[j]
	}
	return 10 * math.Log10(s+1e-30)
}

func TestResamplerUpKeepsPassbandFlatAndImagesDown(t *testing.T) {
	for _, hz := range []float64{100, 300, 1000, 2000, 3000, 3400} {
		r, err := NewResampler(ResamplerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		x := tone(hz, 8000, 8000, 16000)
		y := resampleAll(t, r, x, 160)
		if len(y) != 2*len(x) {
			t.Fatalf("%v Hz: %d outputs for %d inputs", hz, len(y), len(x))
		}
		ref := tone(hz, 16000, 16000, 16000)
		gain := hannPowerDB(y, 1000, 16000, hz) - hannPowerDB(ref, 1000, 16000, hz)
		image := hannPowerDB(y, 1000, 16000, 8000-hz) - hannPowerDB(y, 1000, 16000, hz)
		t.Logf("%4.0f Hz: gain %+.4f dB, image at %4.0f Hz %.1f dB", hz, gain, 8000-hz, image)
		if math.Abs(gain) > 0.1 {
			t.Errorf("%v Hz: passband gain %.3f dB, want within ±0.1 dB", hz, gain)
		}
		if image > -60 {
			t.Errorf("%v Hz: image at %v Hz only %.1f dB down, want ≥ 60 dB", hz, 8000-hz, -image)
		}
	}
}

func TestResamplerPassbandRippleOnToneGrid(t *testing.T) {
	// Tones every 100 Hz from 100 to 3400 Hz through 8 → 16 → 8 kHz: the
	// spread of gains is the passband ripple of both filters together.
	var lo, hi float64 = math.Inf(1), math.Inf(-1)
	for hz := 100.0; hz <= 3400; hz += 100 {
		up, _ := NewResampler(ResamplerConfig{})
		down, _ := NewResampler(ResamplerConfig{InRate: 16000, OutRate: 8000})
		x := tone(hz, 8000, 6000, 16000)
		y := resampleAll(t, down, resampleAll(t, up, x, 160), 320)
		g := hannPowerDB(y, 1000, 8000, hz) - hannPowerDB(x, 1000, 8000, hz)
		lo, hi = math.Min(lo, g), math.Max(hi, g)
	}
	t.Logf("round-trip passband gain %+.4f … %+.4f dB", lo, hi)
	if hi-lo > 0.1 || math.Abs(lo) > 0.1 || math.Abs(hi) > 0.1 {
		t.Errorf("passband ripple %.3f dB (gains %+.3f … %+.3f), want within ±0.1 dB", hi-lo, lo, hi)
	}
}

func TestResamplerDownRejectsAliases(t *testing.T) {
	tests := []struct {
		hz       float64
		passband bool
	}{
		{200, true}, {1000, true}, {3400, true},
		{4000, false}, {4500, false}, {5500, false}, {7000, false}, {7900, false},
	}
	for _, tc := range tests {
		r, _ := NewResampler(ResamplerConfig{InRate: 16000, OutRate: 8000})
		x := tone(tc.hz, 16000, 16000, 16000)
		y := resampleAll(t, r, x, 320)
		if len(y) != len(x)/2 {
			t.Fatalf("%v Hz: %d outputs for %d inputs", tc.hz, len(y), len(x))
		}
		ref := tone(1000, 8000, 8000, 16000)
		alias := math.Abs(8000 - tc.hz) // where it would fold to
		if tc.hz < 4000 {
			alias = tc.hz
		}
		level := hannPowerDB(y, 500, 8000, alias) - hannPowerDB(ref, 500, 8000, 1000)
		t.Logf("%4.0f Hz in → %4.0f Hz out at %.2f dB", tc.hz, alias, level)
		if tc.passband && math.Abs(level) > 0.1 {
			t.Errorf("%v Hz: passband gain %.3f dB", tc.hz, level)
		}
		if !tc.passband && level > -60 {
			t.Errorf("%v Hz: alias only %.1f dB down, want ≥ 60 dB", tc.hz, -level)
		}
	}
}

func TestResamplerDownOnSweepAttenuatesAboveNyquist(t *testing.T) {
	// A linear chirp 0 → 8 kHz over 4 s at 16 kHz; after decimation the
	// stretch where the chirp is above 4.1 kHz must be ≥ 60 dB below the
	// stretch in the passband.
	const secs, rate = 4.0, 16000.0
	n := int(secs * rate)
	x := make([]int16, n)
	for i := range x {
		tt := float64(i) / rate
		x[i] = int16(16000 * math.Sin(math.Pi*(8000/secs)*tt*tt))
	}
	r, _ := NewResampler(ResamplerConfig{InRate: 16000, OutRate: 8000})
	y := resampleAll(t, r, x, 320)
	freqAt := func(j int) float64 { return 8000 / secs * float64(j) / 8000 }
	var pass, stop float64
	var np, ns int
	for j, v := range y {
		f := freqAt(j - r.Taps()/2)
		p := float64(v) * float64(v)
		switch {
		case f > 100 && f < 3300:
			pass += p
			np++
		case f > 4150 && f < 7900:
			stop += p
			ns++
		}
	}
	ratio := 10 * math.Log10((stop/float64(ns)+1e-12)/(pass/float64(np)))
	t.Logf("stop-band/pass-band power %.1f dB", ratio)
	if ratio > -60 {
		t.Errorf("sweep stop band only %.1f dB down", -ratio)
	}
}

func TestResamplerConvertsPromptRatesTo8k(t *testing.T) {
	for _, rate := range []int{48000, 32000, 24000, 16000} {
		r, err := NewResampler(ResamplerConfig{InRate: rate, OutRate: 8000})
		if err != nil {
			t.Fatalf("%d Hz: %v", rate, err)
		}
		for _, tc := range []struct {
			hz, want float64 // want: output level re a full-level 1 kHz tone, dB
		}{{1000, 0}, {3000, 0}, {4500, -60}, {float64(rate) / 2 * 0.9, -60}} {
			if tc.hz >= float64(rate)/2 {
				continue
			}
			r.Reset()
			x := tone(tc.hz, float64(rate), rate, 16000)
			y := resampleAll(t, r, x, rate/50)
			if d := len(y) - 8000; d < -1 || d > 1 {
				t.Fatalf("%d Hz: %d outputs for 1 s", rate, len(y))
			}
			alias := math.Mod(tc.hz, 8000)
			if alias > 4000 {
				alias = 8000 - alias
			}
			level := hannPowerDB(y, 1000, 8000, alias) - hannPowerDB(tone(1000, 8000, 8000, 16000), 1000, 8000, 1000)
			if tc.want == 0 && math.Abs(level) > 0.1 {
				t.Errorf("%d Hz: %v Hz passband gain %.3f dB", rate, tc.hz, level)
			}
			if tc.want < 0 && level > tc.want {
				t.Errorf("%d Hz: %v Hz aliases to %v Hz at %.1f dB, want ≤ %v", rate, tc.hz, alias, level, tc.want)
			}
		}
	}
}

func TestResamplerStreamsLikeOneBlock(t *testing.T) {
	x := tone(440, 8000, 4000, 10000)
	for i := range x {
		x[i] += int16(i % 97 * 20)
	}
	for _, cfg := range []ResamplerConfig{{}, {InRate: 16000, OutRate: 8000}, {InRate: 8000, OutRate: 12000}, {InRate: 48000, OutRate: 8000}} {
		a, _ := NewResampler(cfg)
		whole := make([]int16, a.MaxOut(len(x)))
		nw := a.Process(whole, x)
		b, _ := NewResampler(cfg)
		parts := resampleAll(t, b, x, 53)
		if nw != len(parts) {
			t.Fatalf("%+v: %d outputs whole, %d in parts", cfg, nw, len(parts))
		}
		for i := range parts {
			if parts[i] != whole[i] {
				t.Fatalf("%+v: sample %d differs: %d vs %d", cfg, i, parts[i], whole[i])
			}
		}
	}
}

func TestResamplerRoundTripPreservesSpeechBand(t *testing.T) {
	up, _ := NewResampler(ResamplerConfig{})
	down, _ := NewResampler(ResamplerConfig{InRate: 16000, OutRate: 8000})
	x := tone(700, 8000, 8000, 12000)
	y := resampleAll(t, down, resampleAll(t, up, x, 160), 320)
	delay := 0
	best := math.Inf(1)
	for d := 0; d < 200; d++ {
		var e float64
		for i := 1000; i < 3000; i++ {
			v := float64(y[i+d]) - float64(x[i])
			e += v * v
		}
		if e < best {
			best, delay = e, d
		}
	}
	snr := 10 * math.Log10(12000*12000/2/(best/2000))
	t.Logf("round trip delay %d samples, SNR %.1f dB", delay, snr)
	if snr < 50 {
		t.Errorf("round trip SNR %.1f dB, want ≥ 50", snr)
	}
}

func TestResamplerHandlesBadInput(t *testing.T) {
	if _, err := NewResampler(ResamplerConfig{InRate: -8000}); err == nil {
		t.Error("negative rate accepted")
	}
	for _, rate := range []int{44100, 22050, 11025} {
		if _, err := NewResampler(ResamplerConfig{InRate: rate, OutRate: 8000}); err == nil {
			t.Errorf("%d Hz accepted", rate)
		}
	}
	r, _ := NewResampler(ResamplerConfig{})
	if n := r.Process(make([]int16, 3), make([]int16, 160)); n != 3 {
		t.Errorf("short dst: wrote %d", n)
	}
	r.Process(nil, nil)
	r.Process(make([]int16, 10000), make([]int16, 5000))
}

func BenchmarkResampleUp8to16(b *testing.B) {
	r, _ := NewResampler(ResamplerConfig{})
	x := tone(440, 8000, 160, 10000)
	dst := make([]int16, r.MaxOut(160))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		r.Process(dst, x)
	}
}

func BenchmarkResampleDown16to8(b *testing.B) {
	r, _ := NewResampler(ResamplerConfig{InRate: 16000, OutRate: 8000})
	x := tone(440, 16000, 320, 10000)
	dst := make([]int16, r.MaxOut(320))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		r.Process(dst, x)
	}
}
