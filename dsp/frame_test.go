package dsp

import (
	"math"
	"testing"
)

func TestFramerEmitsOverlappingWindowsFrom20msFrames(t *testing.T) {
	tests := []struct {
		name      string
		cfg       FramerConfig
		frameLen  int
		frames    int
		wantCount int
	}{
		{"default 25ms/10ms from 20ms frames", FramerConfig{}, 160, 10, (1600-200)/80 + 1},
		{"hop equals window", FramerConfig{WindowSamples: 160, HopSamples: 160}, 160, 5, 5},
		{"hop larger than window skips samples", FramerConfig{WindowSamples: 50, HopSamples: 120}, 160, 3, (480-50)/120 + 1},
		{"odd feed sizes", FramerConfig{}, 37, 50, (37*50-200)/80 + 1},
		{"feed larger than buffer grows once", FramerConfig{}, 1000, 2, (2000-200)/80 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFramer(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := make([]float64, f.WindowSamples())
			src := make([]int16, tc.frameLen)
			next := 0
			count := 0
			for i := 0; i < tc.frames; i++ {
				for j := range src {
					src[j] = int16(next % 30000)
					next++
				}
				f.Write(src)
				for f.Next(w) {
					// Window i starts at sample i·hop of the stream.
					start := count * f.HopSamples()
					for j, v := range w {
						if int(v) != (start+j)%30000 {
							t.Fatalf("window %d sample %d = %v, want %d", count, j, v, start+j)
						}
					}
					count++
				}
			}
			if count != tc.wantCount {
				t.Errorf("got %d windows, want %d", count, tc.wantCount)
			}
		})
	}
}

func TestFramerRejectsBadConfigAndShortDst(t *testing.T) {
	if _, err := NewFramer(FramerConfig{WindowSamples: -1}); err == nil {
		t.Error("negative window accepted")
	}
	f, _ := NewFramer(FramerConfig{})
	f.Write(make([]int16, 400))
	if f.Next(make([]float64, 10)) {
		t.Error("Next filled a too-short dst")
	}
}

func TestPreEmphasisStreamsAcrossCalls(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6}
	whole := make([]float64, len(x))
	p := PreEmphasis{Coef: 0.97}
	p.Process(whole, x)
	q := PreEmphasis{Coef: 0.97}
	split := make([]float64, len(x))
	q.Process(split[:2], x[:2])
	q.Process(split[2:], x[2:])
	for i := range x {
		want := x[i]
		if i > 0 {
			want -= 0.97 * x[i-1]
		}
		if math.Abs(whole[i]-want) > 1e-12 || math.Abs(split[i]-want) > 1e-12 {
			t.Errorf("sample %d: whole %v split %v want %v", i, whole[i], split[i], want)
		}
	}
}

func BenchmarkFramer(b *testing.B) {
	f, _ := NewFramer(FramerConfig{})
	frame := make([]int16, FrameSamples)
	w := make([]float64, f.WindowSamples())
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		f.Write(frame)
		for f.Next(w) {
		}
	}
}
