package dsp

import (
	"math"
	"testing"
)

func TestEnergyDBFSOfKnownSignals(t *testing.T) {
	sine := make([]int16, 160)
	for i := range sine {
		sine[i] = int16(32767 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	half := make([]int16, 160)
	for i := range half {
		half[i] = sine[i] / 2
	}
	square := make([]int16, 160)
	for i := range square {
		square[i] = -32768
	}
	tests := []struct {
		name  string
		frame []int16
		want  float64
		tol   float64
	}{
		{"full-scale sine is -3 dBFS", sine, -3.01, 0.02},
		{"half-scale sine is -9 dBFS", half, -9.03, 0.05},
		{"full-scale square is 0 dBFS", square, 0, 1e-9},
		{"digital silence is the floor", make([]int16, 160), MinDBFS, 0},
		{"empty frame is the floor", nil, MinDBFS, 0},
		{"one LSB is -90 dBFS", []int16{1, -1, 1, -1}, -90.31, 0.01},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EnergyDBFS(tc.frame); math.Abs(got-tc.want) > tc.tol {
				t.Errorf("got %v dBFS, want %v", got, tc.want)
			}
		})
	}
	if got := EnergyDBFSFloat([]float64{math.NaN()}); got != MinDBFS {
		t.Errorf("NaN frame = %v", got)
	}
}

func BenchmarkEnergyDBFS(b *testing.B) {
	f := make([]int16, 160)
	for i := range f {
		f[i] = int16(i * 100)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		EnergyDBFS(f)
	}
}
