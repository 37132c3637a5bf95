package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCMNRemovesMean(t *testing.T) {
	f := randomFeats(50, 13, 9)
	for _, v := range f {
		v[0] += 100
	}
	CMN(f)
	for i := 0; i < 13; i++ {
		var s float64
		for _, v := range f {
			s += v[i]
		}
		if math.Abs(s/50) > 1e-9 {
			t.Errorf("dim %d mean %v after CMN", i, s/50)
		}
	}
	CMN(nil)
	CMN([][]float64{{1, 2}, {1}})
}

func TestLiveCMNTracksAChannelOffset(t *testing.T) {
	c := NewLiveCMN(LiveCMNConfig{Dim: 2, TimeConstantFrames: 100})
	rng := rand.New(rand.NewPCG(1, 1))
	out := make([]float64, 2)
	// First frame is fully normalised away: the mean of one frame is itself.
	c.Process(out, []float64{5, -5})
	if out[0] != 0 || out[1] != 0 {
		t.Errorf("first frame -> %v", out)
	}
	var late float64
	for i := 0; i < 2000; i++ {
		c.Process(out, []float64{20 + rng.NormFloat64(), -7 + rng.NormFloat64()})
		if i >= 1000 {
			late += out[0]
		}
	}
	if m := c.Mean(); math.Abs(m[0]-20) > 0.5 || math.Abs(m[1]+7) > 0.5 {
		t.Errorf("mean %v, want ≈ [20 -7]", m)
	}
	if math.Abs(late/1000) > 0.2 {
		t.Errorf("normalised output mean %v, want ≈ 0", late/1000)
	}
	c.Process(out, []float64{math.NaN(), 0})
	if math.IsNaN(c.Mean()[0]) {
		t.Error("NaN poisoned the mean")
	}
}

func BenchmarkLiveCMN(b *testing.B) {
	c := NewLiveCMN(LiveCMNConfig{})
	x := make([]float64, 13)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		c.Process(x, x)
	}
}
