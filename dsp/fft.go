package dsp

import (
	"fmt"

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
}

// NewFFT returns an FFT of length n. Any n ≥ 2 works; powers of two are
// fastest.
func NewFFT(n int) (*FFT, error) {
	if n < 2 {
		return nil, fmt.Errorf("fft length %d: %w", n, ErrConfig)
	}
	return &FFT{n: n, plan: fourier.NewFFT(n), in: make([]float64, n),
		coeff: make([]complex128, n/2+1)}, nil
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
	return f.plan.Coefficients(f.coeff, f.in)
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
