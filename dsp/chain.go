package dsp

import (
	"fmt"
	"sync"
)

// ChainConfig configures a Chain; the zero value uses each stage's defaults
// (25 ms / 10 ms MFCC framing at 8 kHz).
type ChainConfig struct {
	// VAD configures the voice activity detector.
	VAD VADConfig
	// Pitch configures the pitch tracker.
	Pitch PitchConfig
	// MFCC configures the cepstra; its WindowSamples also sets the
	// analysis window.
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
	// Pitch is the f0 estimate over the last 40 ms (the pitch tracker's
	// buffer). It is estimated once per buffer's worth of new audio —
	// every second 20 ms frame, so every sample is analysed once — and
	// repeated on the frames in between; see Chain.
	Pitch PitchEstimate
	// MFCC holds the cepstra of the analysis windows completed by this
	// frame: two for a 20 ms frame at a 10 ms hop (none during the first
	// frame, whose first window is not yet complete).
	MFCC [][]float64
}

// Chain runs the per-frame analysers of a call leg — energy, VAD, pitch and
// MFCC — on 20 ms frames without allocating. Not safe for concurrent use;
// make one per leg.
//
// It is built for thousands of legs per machine, so it shares what the
// stages would each redo: a frame is converted to float64 once, and its sum
// of squares serves both the energy and the VAD. The MFCC windows are cut
// from one history buffer and read in place.
//
// The pitch tracker's YIN search is the costliest stage (about 4 µs of a
// frame's budget), and its 40 ms buffer spans two frames, so estimating on
// every frame analysed each sample twice. The Chain estimates once per
// buffer's worth of new samples (every second 20 ms frame) and reports the
// last estimate on the frames between: each estimate equals the pitch
// tracker's on the same 40 ms (TestChainPitchMatchesTrackerOnItsFrames),
// and an estimate is at most one frame (20 ms) older than the frame it is
// reported with.
type Chain struct {
	vad   *VAD
	pitch *PitchTracker
	mfcc  *MFCC

	x []float64 // the current frame as float64

	// MFCC windowing, as a Framer would do it, without copies.
	win, hop int
	buf      []float64 // pending samples, oldest first
	n        int       // valid samples in buf
	skip     int       // samples still to drop when the hop exceeds the window
	rows     [][]float64

	pitchDue int // new samples since the last pitch estimate
	lastF0   PitchEstimate

	scratch *sync.Pool // of *chainScratch, shared by Chains of one shape
}

// chainScratch holds the stages' buffers that carry nothing from one frame
// to the next: FFT work arrays, windowed frames, spectra, the pitch
// tracker's decimated copy and difference function — about 12 KB at the
// defaults. A Chain borrows a set for each Process call from a pool shared
// by every Chain of the same shape, so with thousands of legs a frame's
// scratch is one that was used a moment ago and is still in cache; only
// the state a leg keeps between frames (about 10 KB of histories) is
// touched per leg. Each leg owning its scratch, the per-frame work read
// twice as much memory that had gone cold since the leg's last frame.
type chainScratch struct {
	vadFFT, mfccFFT *FFT
	vadFrame, spec  []float64
	mfccFrame       []float64
	power, melE     []float64
	dec, d          []float64
}

// chainShape is what the scratch buffers' sizes depend on.
type chainShape struct{ mfccFFT, mfccBins, melFilters, pitchDec, pitchD int }

var chainScratchPools sharedTables[chainShape, *sync.Pool]

func (c *Chain) shape() chainShape {
	return chainShape{mfccFFT: c.mfcc.fft.Len(), mfccBins: len(c.mfcc.power), melFilters: len(c.mfcc.melE),
		pitchDec: len(c.pitch.dec), pitchD: len(c.pitch.d)}
}

func newChainScratch(sh chainShape) *chainScratch {
	s := &chainScratch{vadFrame: make([]float64, vadFFT), spec: make([]float64, vadFFT/2+1),
		mfccFrame: make([]float64, sh.mfccFFT), power: make([]float64, sh.mfccBins),
		melE: make([]float64, sh.melFilters), dec: make([]float64, sh.pitchDec), d: make([]float64, sh.pitchD)}
	s.vadFFT, _ = NewFFT(vadFFT) // a power of two cannot fail
	s.mfccFFT = s.vadFFT
	if sh.mfccFFT != vadFFT {
		s.mfccFFT, _ = NewFFT(sh.mfccFFT) // the MFCC's own size worked before
	}
	return s
}

// lend points the stages' scratch fields at s for one Process call.
func (c *Chain) lend(s *chainScratch) {
	c.vad.fft, c.vad.frame, c.vad.spec = s.vadFFT, s.vadFrame, s.spec
	c.mfcc.fft, c.mfcc.frame, c.mfcc.power, c.mfcc.melE = s.mfccFFT, s.mfccFrame, s.power, s.melE
	c.pitch.dec, c.pitch.d = s.dec, s.d
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
	hop := cfg.HopSamples
	if hop == 0 {
		sr := cfg.MFCC.SampleRate
		if sr == 0 {
			sr = SampleRate
		}
		hop = sr / 100
	}
	if hop < 0 {
		return nil, fmt.Errorf("chain: MFCC hop %d samples: %w", hop, ErrConfig)
	}
	// Enough rows for one frame's windows even if callers send 40 ms.
	rows := make([][]float64, 4*FrameSamples/hop+1)
	for i := range rows {
		rows[i] = make([]float64, mfcc.NumCeps())
	}
	win := mfcc.WindowSamples()
	c := &Chain{vad: vad, pitch: pitch, mfcc: mfcc, x: make([]float64, FrameSamples),
		win: win, hop: hop, buf: make([]float64, win+2*FrameSamples), rows: rows}
	sh := c.shape()
	c.scratch = chainScratchPools.get(sh, func() *sync.Pool {
		return &sync.Pool{New: func() any { return newChainScratch(sh) }}
	})
	// The stages' own scratch is never used: hand it back now.
	c.lend(&chainScratch{})
	c.Reset()
	return c, nil
}

// Process analyses one frame (normally 160 samples) into out.
func (c *Chain) Process(frame []int16, out *ChainResult) {
	s := c.scratch.Get().(*chainScratch)
	defer c.scratch.Put(s)
	c.lend(s)
	if len(frame) > len(c.x) {
		c.x = make([]float64, len(frame)) // only for frames longer than any seen
	}
	x := c.x[:len(frame)]
	var sumSq float64
	for i, s := range frame {
		v := float64(s)
		x[i] = v
		sumSq += v * v
	}
	out.EnergyDBFS = MinDBFS
	if len(frame) > 0 {
		out.EnergyDBFS = powerToDBFS(sumSq / float64(len(frame)))
	}
	out.VAD = c.vad.processFloat(x, sumSq)

	c.pitch.push(x)
	c.pitchDue += len(x)
	if c.pitchDue >= c.pitch.BufferSamples() {
		c.pitchDue = 0
		c.lastF0 = c.pitch.estimate()
	}
	out.Pitch = c.lastF0

	out.MFCC = c.rows[:c.windows(x)]
}

// windows appends x to the pending samples, computes the cepstra of every
// window completed (up to len(c.rows)) and returns how many it wrote.
func (c *Chain) windows(x []float64) int {
	k := min(c.skip, len(x))
	x, c.skip = x[k:], c.skip-k
	if c.n+len(x) > len(c.buf) {
		nb := make([]float64, c.n+len(x)+c.win) // only for frames longer than any seen
		copy(nb, c.buf[:c.n])
		c.buf = nb
	}
	copy(c.buf[c.n:], x)
	c.n += len(x)
	rows, start := 0, 0
	for ; start+c.win <= c.n; start += c.hop {
		if rows < len(c.rows) {
			c.mfcc.Compute(c.rows[rows], c.buf[start:start+c.win])
			rows++
		}
	}
	if start >= c.n {
		c.skip, c.n = start-c.n, 0
	} else {
		c.n = copy(c.buf, c.buf[start:c.n])
	}
	return rows
}

// Reset prepares the Chain for a new call.
func (c *Chain) Reset() {
	c.vad.Reset()
	c.pitch.Reset()
	c.n, c.skip = 0, 0
	c.pitchDue = 0
	c.lastF0 = PitchEstimate{Aperiodicity: 1}
}
