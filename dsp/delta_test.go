package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomFeats(T, dim int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	f := make([][]float64, T)
	for t := range f {
		f[t] = make([]float64, dim)
		for i := range f[t] {
			f[t][i] = rng.NormFloat64()
		}
	}
	return f
}

func alloc2(T, dim int) [][]float64 {
	f := make([][]float64, T)
	for t := range f {
		f[t] = make([]float64, dim)
	}
	return f
}

func TestDeltaOfLinearRampIsItsSlope(t *testing.T) {
	T := 20
	f := alloc2(T, 2)
	for i := range f {
		f[i][0] = 3 * float64(i)
		f[i][1] = -0.5 * float64(i)
	}
	d := alloc2(T, 2)
	Delta(d, f, 2)
	dd := alloc2(T, 2)
	Delta(dd, d, 2)
	for i := 2; i < T-2; i++ {
		if math.Abs(d[i][0]-3) > 1e-12 || math.Abs(d[i][1]+0.5) > 1e-12 {
			t.Errorf("frame %d delta %v", i, d[i])
		}
	}
	for i := 4; i < T-4; i++ {
		if math.Abs(dd[i][0]) > 1e-12 {
			t.Errorf("frame %d delta-delta %v, want 0", i, dd[i])
		}
	}
	Delta(nil, f, 2)
	Delta(alloc2(3, 1), f, 0) // ragged sizes must not panic
}

func TestDeltaStreamMatchesBatch(t *testing.T) {
	for _, w := range []int{1, 2, 3} {
		T, dim := 40, 13
		f := randomFeats(T, dim, uint64(w))
		d, dd := alloc2(T, dim), alloc2(T, dim)
		Delta(d, f, w)
		Delta(dd, d, w)
		s := NewDeltaStream(dim, w)
		st, sd, sdd := make([]float64, dim), make([]float64, dim), make([]float64, dim)
		out := 0
		for i := 0; i < T; i++ {
			if !s.Push(f[i], st, sd, sdd) {
				continue
			}
			if out >= T-s.Delay() {
				break // batch replicates the right edge; a live stream cannot
			}
			for k := 0; k < dim; k++ {
				if st[k] != f[out][k] || math.Abs(sd[k]-d[out][k]) > 1e-12 || math.Abs(sdd[k]-dd[out][k]) > 1e-12 {
					t.Fatalf("window %d frame %d dim %d: stream (%v %v %v) batch (%v %v %v)",
						w, out, k, st[k], sd[k], sdd[k], f[out][k], d[out][k], dd[out][k])
				}
			}
			out++
		}
		if out != T-s.Delay() {
			t.Errorf("window %d: %d frames out, want %d", w, out, T-s.Delay())
		}
	}
}

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
	for b.Loop() {
		c.Process(x, x)
	}
}

func BenchmarkDeltaStream(b *testing.B) {
	s := NewDeltaStream(13, 2)
	x := make([]float64, 13)
	o1, o2, o3 := make([]float64, 13), make([]float64, 13), make([]float64, 13)
	b.ReportAllocs()
	for b.Loop() {
		s.Push(x, o1, o2, o3)
	}
}
