package dsp

import "math"

// Hamming returns a symmetric Hamming window of n points,
// w[i] = 0.54 − 0.46·cos(2πi/(n−1)).
func Hamming(n int) []float64 {
	return cosineWindow(n, 0.54, 0.46)
}

// Hann returns a symmetric Hann window of n points.
func Hann(n int) []float64 {
	return cosineWindow(n, 0.5, 0.5)
}

func cosineWindow(n int, a, b float64) []float64 {
	if n <= 0 {
		return nil
	}
	w := make([]float64, n)
	if n == 1 {
		w[0] = 1
		return w
	}
	for i := range w {
		w[i] = a - b*math.Cos(2*math.Pi*float64(i)/float64(n-1))
	}
	return w
}

// ApplyWindow writes src·w into dst over the shortest of the three lengths.
func ApplyWindow(dst, src, w []float64) {
	n := min(len(dst), len(src), len(w))
	for i := 0; i < n; i++ {
		dst[i] = src[i] * w[i]
	}
}
