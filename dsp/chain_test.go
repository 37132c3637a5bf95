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

// syllables is a copy of bench/measure's test signal (dsp imports nothing
// of the project): a 110–130 Hz voice with eight harmonics in 200 ms
// syllables and 100 ms pauses.
func syllables() []int16 {
	out := make([]int16, 8000)
	for i := range out {
		t := float64(i) / 8000
		ms := (i * 1000 / 8000) % 300
		if ms >= 200 {
			continue
		}
		env := math.Sin(math.Pi * float64(ms) / 200)
		f0 := 110 + 20*math.Sin(2*math.Pi*1.5*t)
		var v float64
		for h := 1; h <= 8; h++ {
			v += math.Sin(2*math.Pi*f0*float64(h)*t) / float64(h)
		}
		out[i] = int16(6000 * env * v)
	}
	return out
}

// TestChainMatchesItsStagesRunAlone holds the Chain's shared conversion,
// in-place MFCC windowing and pitch schedule to the stages' own APIs: the
// energy, VAD and cepstra must be identical to EnergyDBFS, VAD.Process and
// Framer+MFCC.Compute, and the pitch equal to PitchTracker.Process on the
// frames where the Chain estimates and to the previous estimate between.
func TestChainMatchesItsStagesRunAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := append(syllables(), harmonic(95, 4000, false)...)
	for i := range x {
		x[i] += int16(rng.NormFloat64() * 200)
	}
	for _, frameLen := range []int{160, 80, 237, 400} {
		c, _ := NewChain(ChainConfig{})
		vad, _ := NewVAD(VADConfig{})
		pitch, _ := NewPitchTracker(PitchConfig{})
		mfcc, _ := NewMFCC(MFCCConfig{})
		framer, _ := NewFramer(FramerConfig{})
		win := make([]float64, mfcc.WindowSamples())
		want := make([]float64, mfcc.NumCeps())
		var out ChainResult
		due, estimates, voiced := 0, 0, 0
		last := PitchEstimate{Aperiodicity: 1}
		for i := 0; i+frameLen <= len(x); i += frameLen {
			f := x[i : i+frameLen]
			c.Process(f, &out)
			if e := EnergyDBFS(f); out.EnergyDBFS != e {
				t.Fatalf("frames of %d at %d: energy %v, alone %v", frameLen, i, out.EnergyDBFS, e)
			}
			if v := vad.Process(f); out.VAD != v {
				t.Fatalf("frames of %d at %d: VAD %+v, alone %+v", frameLen, i, out.VAD, v)
			}
			p := pitch.Process(f)
			if due += frameLen; due >= pitch.BufferSamples() {
				due, last = 0, p
				estimates++
				if p.Voiced {
					voiced++
				}
			}
			if out.Pitch != last {
				t.Fatalf("frames of %d at %d: pitch %+v, want %+v", frameLen, i, out.Pitch, last)
			}
			framer.Write(f)
			n := 0
			for framer.Next(win) {
				mfcc.Compute(want, win)
				if n >= len(out.MFCC) {
					t.Fatalf("frames of %d at %d: %d MFCC rows, alone more", frameLen, i, len(out.MFCC))
				}
				for k := range want {
					if out.MFCC[n][k] != want[k] {
						t.Fatalf("frames of %d at %d: MFCC row %d = %v, alone %v", frameLen, i, n, out.MFCC[n], want)
					}
				}
				n++
			}
			if n != len(out.MFCC) {
				t.Fatalf("frames of %d at %d: %d MFCC rows, alone %d", frameLen, i, len(out.MFCC), n)
			}
		}
		// The signal is mostly voiced: the comparison must have seen it.
		if voiced < estimates/2 {
			t.Fatalf("frames of %d: %d of %d estimates voiced", frameLen, voiced, estimates)
		}
	}
}

// BenchmarkChainSyllables runs the Chain on the bench's own signal (voiced
// syllables and silent pauses), the workload of `waihu bench channels`.
func BenchmarkChainSyllables(b *testing.B) {
	c, _ := NewChain(ChainConfig{})
	x := syllables()
	var out ChainResult
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		c.Process(x[i:i+FrameSamples], &out)
		i = (i + FrameSamples) % len(x)
	}
}

// BenchmarkChainManyLegs runs one frame on each of 500 Chains in turn, as
// a media server with 500 legs does every 20 ms: each leg's state has gone
// cold in cache since its last frame, which a single-Chain benchmark hides.
// ns/op is per frame.
func BenchmarkChainManyLegs(b *testing.B) {
	const legs = 500
	chains := make([]*Chain, legs)
	for i := range chains {
		chains[i], _ = NewChain(ChainConfig{})
	}
	x := syllables()
	var out ChainResult
	b.ReportAllocs()
	defer reportCPU(b)()
	i, leg := 0, 0
	for b.Loop() {
		chains[leg].Process(x[i:i+FrameSamples], &out)
		if leg++; leg == legs {
			leg = 0
			i = (i + FrameSamples) % len(x)
		}
	}
}
