package dsp

import (
	"errors"
	"fmt"
)

// Common audio constants of the house format.
const (
	// SampleRate is the sample rate of frames exchanged between packages.
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms frame at SampleRate.
	FrameSamples = 160
)

// ErrConfig reports a configuration that cannot be built.
var ErrConfig = errors.New("dsp: invalid configuration")

// FramerConfig configures a Framer. The zero value gives 25 ms windows with a
// 10 ms hop at 8 kHz.
type FramerConfig struct {
	// SampleRate in Hz; zero means 8000.
	SampleRate int
	// WindowSamples is the analysis window length; zero means 25 ms.
	WindowSamples int
	// HopSamples is the distance between window starts; zero means 10 ms.
	HopSamples int
}

func (c FramerConfig) withDefaults() FramerConfig {
	if c.SampleRate == 0 {
		c.SampleRate = SampleRate
	}
	if c.WindowSamples == 0 {
		c.WindowSamples = c.SampleRate * 25 / 1000
	}
	if c.HopSamples == 0 {
		c.HopSamples = c.SampleRate * 10 / 1000
	}
	return c
}

// Framer cuts a stream fed in frames of any length (normally 20 ms) into
// overlapping analysis windows. It is not safe for concurrent use.
type Framer struct {
	win, hop int
	buf      []float64 // pending samples, oldest first
	n        int       // valid samples in buf
	skip     int       // samples still to drop when hop > window
}

// NewFramer returns a Framer for cfg.
func NewFramer(cfg FramerConfig) (*Framer, error) {
	cfg = cfg.withDefaults()
	if cfg.SampleRate < 0 || cfg.WindowSamples <= 0 || cfg.HopSamples <= 0 {
		return nil, fmt.Errorf("framer window %d hop %d: %w", cfg.WindowSamples, cfg.HopSamples, ErrConfig)
	}
	// Room for one window plus two 20 ms frames covers the normal feed
	// without growing; larger writes grow the buffer once.
	return &Framer{win: cfg.WindowSamples, hop: cfg.HopSamples,
		buf: make([]float64, cfg.WindowSamples+2*FrameSamples)}, nil
}

// WindowSamples returns the length of the windows Next produces.
func (f *Framer) WindowSamples() int { return f.win }

// HopSamples returns the hop between successive windows.
func (f *Framer) HopSamples() int { return f.hop }

// Write appends samples to the stream. Call Next until it returns false
// before the next Write to keep the buffer from growing.
func (f *Framer) Write(src []int16) {
	for len(src) > 0 && f.skip > 0 {
		src = src[1:]
		f.skip--
	}
	if f.n+len(src) > len(f.buf) {
		nb := make([]float64, f.n+len(src)+f.win)
		copy(nb, f.buf[:f.n])
		f.buf = nb
	}
	dst := f.buf[f.n : f.n+len(src)]
	for i, s := range src {
		dst[i] = float64(s)
	}
	f.n += len(src)
}

// Next copies the next complete window into dst (which must hold
// WindowSamples) and reports whether there was one.
func (f *Framer) Next(dst []float64) bool {
	if f.n < f.win || len(dst) < f.win {
		return false
	}
	copy(dst, f.buf[:f.win])
	if f.hop >= f.n {
		f.skip = f.hop - f.n
		f.n = 0
		return true
	}
	copy(f.buf, f.buf[f.hop:f.n])
	f.n -= f.hop
	return true
}

// Reset drops all buffered samples.
func (f *Framer) Reset() { f.n, f.skip = 0, 0 }

// PreEmphasis is a first-order high-pass y[n] = x[n] - Coef·x[n-1] that keeps
// its last input across calls, so a stream can be filtered frame by frame.
type PreEmphasis struct {
	// Coef is the filter coefficient, typically 0.97.
	Coef float64
	prev float64
}

// Process filters src into dst (which may alias src); it processes
// min(len(dst), len(src)) samples.
func (p *PreEmphasis) Process(dst, src []float64) {
	n := min(len(dst), len(src))
	prev := p.prev
	for i := 0; i < n; i++ {
		x := src[i]
		dst[i] = x - p.Coef*prev
		prev = x
	}
	if n > 0 {
		p.prev = prev
	}
}

// Reset forgets the previous sample.
func (p *PreEmphasis) Reset() { p.prev = 0 }

// preEmphasizeWindow applies pre-emphasis within one window, treating the
// sample before the window as equal to the first one (as HTK does), so windows
// are independent of each other.
func preEmphasizeWindow(dst, src []float64, coef float64) {
	n := min(len(dst), len(src))
	if n == 0 {
		return
	}
	for i := n - 1; i > 0; i-- {
		dst[i] = src[i] - coef*src[i-1]
	}
	dst[0] = src[0] * (1 - coef)
}
