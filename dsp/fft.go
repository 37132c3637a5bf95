package dsp

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"
)

// FFT is a reusable real FFT of a fixed length, backed by gonum's plan. Its
// buffers are owned by the value, so it is not safe for concurrent use; make
// one per goroutine.
type FFT struct {
	n     int
	plan  *fourier.FFT
	in    []float64
	coeff []complex128
	// For power-of-two lengths the forward transform packs the real input
	// into a half-length complex sequence for gonum's in-place radix-2
	// FFT, about 3× faster than the general real plan at these sizes.
	half    []complex128
	twiddle []complex128 // e^(−2πik/N), k = 0…N/2
}

// NewFFT returns an FFT of length n. Any n ≥ 2 works; powers of two are
// fastest.
func NewFFT(n int) (*FFT, error) {
	if n < 2 {
		return nil, fmt.Errorf("fft length %d: %w", n, ErrConfig)
	}
	f := &FFT{n: n, plan: fourier.NewFFT(n), in: make([]float64, n),
		coeff: make([]complex128, n/2+1)}
	if n >= 4 && n&(n-1) == 0 {
		f.half = make([]complex128, n/2)
		f.twiddle = make([]complex128, n/2+1)
		for k := range f.twiddle {
			f.twiddle[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
		}
	}
	return f, nil
}

// Len returns the transform length.
func (f *FFT) Len() int { return f.n }

// Bins returns the number of non-negative frequency bins, Len()/2+1.
func (f *FFT) Bins() int { return f.n/2 + 1 }

// Transform returns the unnormalised DFT X[k] = Σ x[n]·e^(−2πikn/N) for
// k = 0…N/2 of src, zero-padded or truncated to Len. The returned slice is
// owned by f and overwritten by the next call.
func (f *FFT) Transform(src []float64) []complex128 {
	m := copy(f.in, src)
	clear(f.in[m:])
	if f.half == nil {
		return f.plan.Coefficients(f.coeff, f.in)
	}
	z := f.half
	for i := range z {
		z[i] = complex(f.in[2*i], f.in[2*i+1])
	}
	fourier.CoefficientsRadix2(z)
	// Split the half-length spectrum Z into the spectra of the even and
	// odd samples, E and O, and combine: X[k] = E[k] + e^(−2πik/N)·O[k].
	h := len(z)
	c, tw := f.coeff[:h+1], f.twiddle[:h+1]
	r0, i0 := real(z[0]), imag(z[0])
	c[0], c[h] = complex(r0+i0, 0), complex(r0-i0, 0)
	for k := 1; k < h; k++ {
		a, b := z[k], z[h-k]
		er, ei := (real(a)+real(b))*0.5, (imag(a)-imag(b))*0.5
		or, oi := (imag(a)+imag(b))*0.5, (real(b)-real(a))*0.5
		wr, wi := real(tw[k]), imag(tw[k])
		c[k] = complex(er+wr*or-wi*oi, ei+wr*oi+wi*or)
	}
	return f.coeff
}

// Inverse computes the real sequence whose non-negative spectrum is coeff
// (length Bins) into dst (length Len), unnormalised: Inverse(Transform(x))
// is Len·x. It returns false, leaving dst alone, if the lengths are wrong.
func (f *FFT) Inverse(dst []float64, coeff []complex128) bool {
	if len(coeff) != f.Bins() || len(dst) != f.n {
		return false
	}
	f.plan.Sequence(dst, coeff)
	return true
}

// BinHz returns the centre frequency of bin k for sampleRate.
func (f *FFT) BinHz(k int, sampleRate float64) float64 {
	return float64(k) * sampleRate / float64(f.n)
}

// nextPow2 returns the smallest power of two ≥ n (and ≥ 2).
func nextPow2(n int) int {
	p := 2
	for p < n {
		p <<= 1
	}
	return p
}
