package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestChainProducesEveryStageForEachFrame(t *testing.T) {
	c, err := NewChain(ChainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// 1 s silence then 1 s of a 150 Hz harmonic tone.
	x := append(make([]int16, 8000), harmonic(150, 8000, false)...)
	var out ChainResult
	mfccRows, starts := 0, 0
	for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
		c.Process(x[i:i+FrameSamples], &out)
		mfccRows += len(out.MFCC)
		if out.VAD.Event == SpeechStart {
			starts++
		}
		for _, row := range out.MFCC {
			if len(row) != 13 {
				t.Fatalf("MFCC row of %d", len(row))
			}
		}
		if i >= 8000+2*FrameSamples {
			if !out.Pitch.Voiced || math.Abs(out.Pitch.Hz-150) > 3 {
				t.Fatalf("frame %d pitch %+v", i/FrameSamples, out.Pitch)
			}
			if math.Abs(out.EnergyDBFS-EnergyDBFS(x[i:i+FrameSamples])) > 1e-9 {
				t.Fatalf("energy %v", out.EnergyDBFS)
			}
		}
	}
	// 16000 samples at a 10 ms hop with 25 ms windows.
	if want := (16000-200)/80 + 1; mfccRows != want {
		t.Errorf("%d MFCC rows, want %d", mfccRows, want)
	}
	if starts != 1 {
		t.Errorf("%d SpeechStart events, want 1", starts)
	}
}

func TestNewChainReportsBadStageConfig(t *testing.T) {
	if _, err := NewChain(ChainConfig{Pitch: PitchConfig{MinHz: 500, MaxHz: 100}}); err == nil {
		t.Error("bad pitch range accepted")
	}
	if _, err := NewChain(ChainConfig{MFCC: MFCCConfig{NumCeps: 100}}); err == nil {
		t.Error("more cepstra than filters accepted")
	}
}

func BenchmarkChain(b *testing.B) {
	c, _ := NewChain(ChainConfig{})
	x := harmonic(140, 8000, false)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range x {
		x[i] += int16(rng.NormFloat64() * 300)
	}
	var out ChainResult
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Process(x[i:i+FrameSamples], &out)
		i = (i + FrameSamples) % len(x)
	}
}
