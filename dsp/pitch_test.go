package dsp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// harmonic returns n samples of a tone at f0 with harmonics falling 6 dB per
// octave up to 3.4 kHz (a crude glottal source), at peak ≈ 0.5 full scale.
func harmonic(f0 float64, n int, missingFundamental bool) []int16 {
	out := make([]int16, n)
	var norm float64
	for h := 1; float64(h)*f0 < 3400; h++ {
		norm += 1 / float64(h)
	}
	for i := range out {
		var s float64
		for h := 1; float64(h)*f0 < 3400; h++ {
			if h == 1 && missingFundamental {
				continue
			}
			s += math.Sin(2*math.Pi*f0*float64(h)*float64(i)/8000+float64(h)) / float64(h)
		}
		out[i] = int16(16000 * s / norm)
	}
	return out
}

func TestPitchTrackerFindsF0OfHarmonicSignals(t *testing.T) {
	tests := []struct {
		name    string
		f0      float64
		missing bool
	}{
		{"70 Hz low male", 70, false},
		{"85 Hz", 85, false},
		{"100 Hz", 100, false},
		{"123.4 Hz off-grid", 123.4, false},
		{"150 Hz", 150, false},
		{"210 Hz female", 210, false},
		{"266.7 Hz", 266.7, false},
		{"333 Hz child", 333, false},
		{"400 Hz", 400, false},
		{"120 Hz with the fundamental removed (telephone band)", 120, true},
		{"90 Hz with the fundamental removed", 90, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPitchTracker(PitchConfig{})
			if err != nil {
				t.Fatal(err)
			}
			x := harmonic(tc.f0, 8000, tc.missing)
			var worst float64
			for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
				est := p.Process(x[i : i+FrameSamples])
				if i < 2*FrameSamples {
					continue // history not yet full
				}
				if !est.Voiced {
					t.Fatalf("frame %d unvoiced (aperiodicity %.3f)", i/FrameSamples, est.Aperiodicity)
				}
				worst = math.Max(worst, math.Abs(est.Hz-tc.f0)/tc.f0)
			}
			if worst > 0.02 {
				t.Errorf("worst relative error %.2f%%, want ≤ 2%%", 100*worst)
			}
			t.Logf("worst error %.3f%%", 100*worst)
		})
	}
}

func TestPitchTrackerCallsNoiseAndSilenceUnvoiced(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	noise := make([]int16, 8000)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 3000)
	}
	for _, tc := range []struct {
		name string
		x    []int16
	}{
		{"white noise", noise},
		{"pink noise", func() []int16 {
			pink, err := testaudio.Noise("pink", 8000, 7)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]int16, len(pink))
			for i, v := range pink {
				x[i] = int16(3000 * v)
			}
			return x
		}()},
		{"digital silence", make([]int16, 8000)},
		{"very quiet tone", func() []int16 {
			x := harmonic(150, 8000, false)
			for i := range x {
				x[i] /= 2000
			}
			return x
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := NewPitchTracker(PitchConfig{})
			voiced := 0
			for i := 0; i+FrameSamples <= len(tc.x); i += FrameSamples {
				if p.Process(tc.x[i : i+FrameSamples]).Voiced {
					voiced++
				}
			}
			if voiced > 2 {
				t.Errorf("%d of %d frames voiced", voiced, len(tc.x)/FrameSamples)
			}
		})
	}
}

func TestPitchTrackerSurvivesOddInput(t *testing.T) {
	p, _ := NewPitchTracker(PitchConfig{})
	p.Process(nil)
	p.Process(make([]int16, 5000))
	p.Process([]int16{1})
	if _, err := NewPitchTracker(PitchConfig{MinHz: 20, BufferSamples: 320}); err == nil {
		t.Error("buffer too short for 20 Hz accepted")
	}
	if _, err := NewPitchTracker(PitchConfig{MaxHz: 3000}); err == nil {
		t.Error("max above sample rate/4 accepted")
	}
}

func BenchmarkPitchTracker(b *testing.B) {
	p, _ := NewPitchTracker(PitchConfig{})
	x := harmonic(130, 3200, false)
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		p.Process(x[i : i+FrameSamples])
		i = (i + FrameSamples) % (len(x) - FrameSamples)
	}
}
