package dsp

import "math/cmplx"

// PowerSpectrum writes |X[k]|² of src (zero-padded to f.Len) into dst,
// which should hold f.Bins values; extra bins are left alone and missing
// ones are skipped.
func (f *FFT) PowerSpectrum(dst, src []float64) {
	if f.r2 != nil {
		// Straight from the split, without storing complex bins.
		f.r2.forward(f.input(src))
		f.r2.power(dst)
		return
	}
	c := f.Transform(src)
	n := min(len(dst), len(c))
	for k := 0; k < n; k++ {
		re, im := real(c[k]), imag(c[k])
		dst[k] = re*re + im*im
	}
}

// MagnitudeSpectrum writes |X[k]| of src into dst, like PowerSpectrum.
func (f *FFT) MagnitudeSpectrum(dst, src []float64) {
	c := f.Transform(src)
	n := min(len(dst), len(c))
	for k := 0; k < n; k++ {
		dst[k] = cmplx.Abs(c[k])
	}
}
