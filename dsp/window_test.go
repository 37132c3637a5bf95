package dsp

import (
	"math"
	"testing"
)

func TestHammingMatchesDefinition(t *testing.T) {
	w := Hamming(200)
	if math.Abs(w[0]-0.08) > 1e-12 || math.Abs(w[199]-0.08) > 1e-12 {
		t.Errorf("ends %v %v, want 0.08", w[0], w[199])
	}
	if Hamming(0) != nil || Hamming(1)[0] != 1 {
		t.Error("degenerate lengths mishandled")
	}
}

func TestApplyWindowUsesShortestLength(t *testing.T) {
	dst := make([]float64, 3)
	ApplyWindow(dst, []float64{1, 2, 3, 4}, []float64{0.5, 0.5})
	if dst[0] != 0.5 || dst[1] != 1 || dst[2] != 0 {
		t.Errorf("got %v", dst)
	}
	if w := Hann(5); math.Abs(w[2]-1) > 1e-12 || w[0] != 0 {
		t.Errorf("Hann(5) = %v", w)
	}
}
