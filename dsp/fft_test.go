package dsp

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

// directDFT is the textbook O(N²) definition, the reference for FFT tests.
func directDFT(x []float64, n int) []complex128 {
	out := make([]complex128, n/2+1)
	for k := range out {
		var s complex128
		for j := 0; j < n && j < len(x); j++ {
			s += complex(x[j], 0) * cmplx.Exp(complex(0, -2*math.Pi*float64(k*j)/float64(n)))
		}
		out[k] = s
	}
	return out
}

func TestFFTMatchesDirectDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name   string
		n, len int
	}{
		{"power of two 256 with zero padding", 256, 200},
		{"power of two 512 sphinx size", 512, 410},
		{"small 8", 8, 8},
		{"non power of two 100", 100, 100},
		{"input longer than transform is truncated", 64, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFFT(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float64, tc.len)
			for i := range x {
				x[i] = rng.NormFloat64() * 1000
			}
			got := f.Transform(x)
			want := directDFT(x, tc.n)
			for k := range want {
				if cmplx.Abs(got[k]-want[k]) > 1e-6*float64(tc.n)*1000 {
					t.Fatalf("bin %d = %v, want %v", k, got[k], want[k])
				}
			}
			back := make([]float64, tc.n)
			if !f.Inverse(back, got) {
				t.Fatal("inverse refused matching lengths")
			}
			for i := 0; i < min(tc.n, tc.len); i++ {
				if math.Abs(back[i]/float64(tc.n)-x[i]) > 1e-6 {
					t.Fatalf("round trip sample %d = %v, want %v", i, back[i]/float64(tc.n), x[i])
				}
			}
		})
	}
}

func TestNewFFTRejectsTinyLength(t *testing.T) {
	if _, err := NewFFT(1); err == nil {
		t.Error("length 1 accepted")
	}
	f, _ := NewFFT(8)
	if f.Inverse(make([]float64, 3), make([]complex128, 5)) {
		t.Error("inverse accepted wrong lengths")
	}
}

func TestPowerSpectrumMatchesDirectDFTAtEveryPowerOfTwo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Odd and even numbers of radix-2 stages, with and without zero padding,
	// and short destinations.
	for _, n := range []int{8, 16, 32, 64, 128, 256, 512, 1024} {
		for _, fill := range []int{n, n * 3 / 4} {
			x := make([]float64, fill)
			for i := range x {
				x[i] = rng.NormFloat64() * 1000
			}
			want := directDFT(x, n)
			f, _ := NewFFT(n)
			for _, bins := range []int{f.Bins(), f.Bins() / 2, 1} {
				p := make([]float64, bins)
				f.PowerSpectrum(p, x)
				for k := range p {
					w := real(want[k])*real(want[k]) + imag(want[k])*imag(want[k])
					if math.Abs(p[k]-w) > 1e-9*float64(n)*float64(n)*1e6 {
						t.Fatalf("n %d fill %d bins %d: |X[%d]|² = %v, want %v", n, fill, bins, k, p[k], w)
					}
				}
			}
		}
	}
}

func TestTransformsShareTablesButNotBuffers(t *testing.T) {
	a, _ := NewFFT(256)
	b, _ := NewFFT(256)
	if a.r2.radix2Plan != b.r2.radix2Plan {
		t.Error("two 256-point FFTs built their own tables")
	}
	if &a.r2.re[0] == &b.r2.re[0] {
		t.Error("two FFTs share a work buffer")
	}
	m1, _ := NewMFCC(MFCCConfig{})
	m2, _ := NewMFCC(MFCCConfig{})
	if m1.mel != m2.mel || &m1.window[0] != &m2.window[0] || &m1.frame[0] == &m2.frame[0] {
		t.Error("MFCC extractors of one config must share tables and only tables")
	}
}
