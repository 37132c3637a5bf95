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

func BenchmarkDeltaStream(b *testing.B) {
	s := NewDeltaStream(13, 2)
	x := make([]float64, 13)
	o1, o2, o3 := make([]float64, 13), make([]float64, 13), make([]float64, 13)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		s.Push(x, o1, o2, o3)
	}
}
