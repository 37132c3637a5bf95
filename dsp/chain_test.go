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
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		c.Process(x[i:i+FrameSamples], &out)
		i = (i + FrameSamples) % len(x)
	}
}

func FuzzChainProcess(f *testing.F) {
	f.Add([]byte{}, uint8(160))
	f.Add(make([]byte, 640), uint8(80))
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80, 0x01, 0x00}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, frameLen uint8) {
		c, err := NewChain(ChainConfig{})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int16, len(data)/2)
		for i := range x {
			x[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		n := max(int(frameLen), 1)
		var out ChainResult
		for i := 0; i < len(x); i += n {
			c.Process(x[i:min(i+n, len(x))], &out)
			if math.IsNaN(out.EnergyDBFS) || math.IsNaN(out.Pitch.Hz) || math.IsNaN(out.VAD.Score) {
				t.Fatalf("NaN in %+v", out)
			}
			for _, row := range out.MFCC {
				for _, v := range row {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("MFCC %v", row)
					}
				}
			}
		}
	})
}
