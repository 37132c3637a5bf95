package dsp

import "fmt"

// ChainConfig configures a Chain; the zero value uses each stage's defaults
// (25 ms / 10 ms MFCC framing at 8 kHz).
type ChainConfig struct {
	// VAD configures the voice activity detector.
	VAD VADConfig
	// Pitch configures the pitch tracker.
	Pitch PitchConfig
	// MFCC configures the cepstra; its WindowSamples also sets the
	// framer's window.
	MFCC MFCCConfig
	// HopSamples is the MFCC hop; zero means 10 ms.
	HopSamples int
}

// ChainResult holds what a Chain found in one frame. Its MFCC rows are owned
// by the Chain and overwritten by the next Process call; copy them to keep.
type ChainResult struct {
	// EnergyDBFS is the level of the frame.
	EnergyDBFS float64
	// VAD is the voice activity decision and event for the frame.
	VAD VADResult
	// Pitch is the f0 estimate over the last 40 ms.
	Pitch PitchEstimate
	// MFCC holds the cepstra of the analysis windows completed by this
	// frame: two for a 20 ms frame at a 10 ms hop (none during the first
	// frame, whose first window is not yet complete).
	MFCC [][]float64
}

// Chain runs the per-frame analysers of a call leg — energy, VAD, pitch and
// MFCC — on 20 ms frames without allocating. Not safe for concurrent use;
// make one per leg.
type Chain struct {
	vad    *VAD
	pitch  *PitchTracker
	mfcc   *MFCC
	framer *Framer
	win    []float64
	rows   [][]float64
}

// NewChain builds the stages.
func NewChain(cfg ChainConfig) (*Chain, error) {
	vad, err := NewVAD(cfg.VAD)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	pitch, err := NewPitchTracker(cfg.Pitch)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	mfcc, err := NewMFCC(cfg.MFCC)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	framer, err := NewFramer(FramerConfig{SampleRate: cfg.MFCC.SampleRate,
		WindowSamples: mfcc.WindowSamples(), HopSamples: cfg.HopSamples})
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	// Enough rows for one frame's windows even if callers send 40 ms.
	rows := make([][]float64, 4*FrameSamples/framer.HopSamples()+1)
	for i := range rows {
		rows[i] = make([]float64, mfcc.NumCeps())
	}
	return &Chain{vad: vad, pitch: pitch, mfcc: mfcc, framer: framer,
		win: make([]float64, mfcc.WindowSamples()), rows: rows}, nil
}

// Process analyses one frame (normally 160 samples) into out.
func (c *Chain) Process(frame []int16, out *ChainResult) {
	out.EnergyDBFS = EnergyDBFS(frame)
	out.VAD = c.vad.Process(frame)
	out.Pitch = c.pitch.Process(frame)
	c.framer.Write(frame)
	n := 0
	for c.framer.Next(c.win) {
		if n < len(c.rows) {
			c.mfcc.Compute(c.rows[n], c.win)
			n++
		}
	}
	out.MFCC = c.rows[:n]
}

// Reset prepares the Chain for a new call.
func (c *Chain) Reset() {
	c.vad.Reset()
	c.pitch.Reset()
	c.framer.Reset()
}
