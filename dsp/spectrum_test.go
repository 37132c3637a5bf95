package dsp

import (
	"math"
	"testing"
)

func TestPowerSpectrumOfSinePeaksInItsBin(t *testing.T) {
	for _, tc := range []struct {
		name string
		hz   float64
		rate float64
		n    int
	}{
		{"1 kHz at 8 kHz, 256 points", 1000, 8000, 256},
		{"440 Hz at 8 kHz, 512 points", 440, 8000, 512},
		{"3 kHz at 16 kHz, 512 points", 3000, 16000, 512},
		{"100 Hz at 8 kHz, 1024 points", 100, 8000, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := NewFFT(tc.n)
			x := make([]float64, tc.n)
			w := Hann(tc.n)
			for i := range x {
				x[i] = math.Sin(2*math.Pi*tc.hz*float64(i)/tc.rate) * w[i]
			}
			p := make([]float64, f.Bins())
			f.PowerSpectrum(p, x)
			best := 0
			for k := range p {
				if p[k] > p[best] {
					best = k
				}
			}
			want := int(math.Round(tc.hz * float64(tc.n) / tc.rate))
			if best != want {
				t.Errorf("peak at bin %d (%.1f Hz), want bin %d", best, f.BinHz(best, tc.rate), want)
			}
		})
	}
}

func BenchmarkPowerSpectrum256(b *testing.B) {
	f, _ := NewFFT(256)
	x := make([]float64, 200)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	p := make([]float64, f.Bins())
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		f.PowerSpectrum(p, x)
	}
}

func TestMagnitudeSpectrumIsRootOfPower(t *testing.T) {
	f, _ := NewFFT(64)
	x := make([]float64, 64)
	for i := range x {
		x[i] = math.Cos(float64(i)) * 100
	}
	p, m := make([]float64, f.Bins()), make([]float64, f.Bins())
	f.PowerSpectrum(p, x)
	f.MagnitudeSpectrum(m, x)
	for k := range p {
		if math.Abs(m[k]*m[k]-p[k]) > 1e-6*math.Max(1, p[k]) {
			t.Fatalf("bin %d: |X|=%v, |X|²=%v", k, m[k], p[k])
		}
	}
	f.PowerSpectrum(p[:3], x) // short dst must not panic
}
