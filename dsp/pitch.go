package dsp

import (
	"fmt"
	"math"
)

// PitchConfig configures a PitchTracker. The zero value tracks 70–400 Hz at
// 8 kHz over a 40 ms buffer, the shortest that holds two periods of 70 Hz
// plus the lag search.
type PitchConfig struct {
	// SampleRate in Hz; zero means 8000.
	SampleRate int
	// MinHz is the lowest f0 searched; zero means 70.
	MinHz float64
	// MaxHz is the highest f0 searched; zero means 400.
	MaxHz float64
	// BufferSamples is the analysis history; zero means 40 ms. It must
	// exceed twice the longest period searched.
	BufferSamples int
	// DipThreshold is YIN's absolute threshold: the first lag whose
	// cumulative-mean-normalised difference falls below it is taken, which
	// keeps the estimate off sub-harmonics; zero means 0.15.
	DipThreshold float64
	// VoicingThreshold is the highest aperiodicity (normalised difference
	// at the chosen lag, 0 for a perfectly periodic signal, ≈1 for noise)
	// still called voiced; zero means 0.35.
	VoicingThreshold float64
	// MinDBFS is the level under which a buffer is unvoiced without
	// looking at its periodicity; zero means −55 dBFS.
	MinDBFS float64
}

// PitchEstimate is the result for one frame.
type PitchEstimate struct {
	// Hz is the estimated f0, or 0 when unvoiced.
	Hz float64
	// Voiced reports whether the buffer is periodic enough to have a pitch.
	Voiced bool
	// Aperiodicity is YIN's normalised difference at the chosen lag, in
	// [0, ~1.5]; lower is more periodic. It is 1 for silence.
	Aperiodicity float64
}

// PitchTracker estimates f0 with YIN (de Cheveigné & Kawahara 2002): the
// squared-difference function, its cumulative-mean normalisation, the
// absolute threshold, parabolic interpolation, and an octave check that
// prefers a near-equal dip at half or a third of the lag. It is fed 20 ms
// frames and analyses the last BufferSamples each time. Not safe for
// concurrent use.
type PitchTracker struct {
	cfg            PitchConfig
	buf            []float64
	tauMin, tauMax int
	w              int       // integration window
	d              []float64 // difference, then normalised difference, by lag
	minPower       float64
}

// NewPitchTracker returns a PitchTracker for cfg.
func NewPitchTracker(cfg PitchConfig) (*PitchTracker, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = SampleRate
	}
	if cfg.MinHz == 0 {
		cfg.MinHz = 70
	}
	if cfg.MaxHz == 0 {
		cfg.MaxHz = 400
	}
	if cfg.BufferSamples == 0 {
		cfg.BufferSamples = cfg.SampleRate * 40 / 1000
	}
	if cfg.DipThreshold == 0 {
		cfg.DipThreshold = 0.15
	}
	if cfg.VoicingThreshold == 0 {
		cfg.VoicingThreshold = 0.35
	}
	if cfg.MinDBFS == 0 {
		cfg.MinDBFS = -55
	}
	if cfg.SampleRate <= 0 || cfg.MinHz <= 0 || cfg.MaxHz <= cfg.MinHz ||
		cfg.MaxHz >= float64(cfg.SampleRate)/4 {
		return nil, fmt.Errorf("pitch %g–%g Hz at %d Hz: %w", cfg.MinHz, cfg.MaxHz, cfg.SampleRate, ErrConfig)
	}
	tauMin := max(int(float64(cfg.SampleRate)/cfg.MaxHz), 2)
	tauMax := int(math.Ceil(float64(cfg.SampleRate)/cfg.MinHz)) + 1
	w := cfg.BufferSamples - tauMax - 1
	if w < tauMax {
		return nil, fmt.Errorf("pitch buffer %d samples too short for %g Hz: %w", cfg.BufferSamples, cfg.MinHz, ErrConfig)
	}
	return &PitchTracker{cfg: cfg, buf: make([]float64, cfg.BufferSamples), tauMin: tauMin,
		tauMax: tauMax, w: w, d: make([]float64, tauMax+2),
		minPower: 32768 * 32768 * math.Pow(10, cfg.MinDBFS/10)}, nil
}

// Process appends frame to the history and estimates the pitch of the last
// BufferSamples. Frames longer than the buffer keep only their tail.
func (p *PitchTracker) Process(frame []int16) PitchEstimate {
	if len(frame) > len(p.buf) {
		frame = frame[len(frame)-len(p.buf):]
	}
	keep := len(p.buf) - len(frame)
	copy(p.buf, p.buf[len(frame):])
	for i, s := range frame {
		p.buf[keep+i] = float64(s)
	}
	return p.estimate()
}

// Reset clears the history.
func (p *PitchTracker) Reset() { clear(p.buf) }

func (p *PitchTracker) estimate() PitchEstimate {
	unvoiced := PitchEstimate{Aperiodicity: 1}
	x := p.buf
	var power float64
	for _, v := range x {
		power += v * v
	}
	if !(power/float64(len(x)) >= p.minPower) { // NaN falls here too
		return unvoiced
	}
	w, d := p.w, p.d
	// Squared difference d(τ) = Σ_{j<W} (x[j] − x[j+τ])², four sums at a
	// time so the loads pipeline.
	for tau := 1; tau <= p.tauMax+1; tau++ {
		a, b := x[:w], x[tau:tau+w]
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+4 <= w; j += 4 {
			e0, e1, e2, e3 := a[j]-b[j], a[j+1]-b[j+1], a[j+2]-b[j+2], a[j+3]-b[j+3]
			s0 += e0 * e0
			s1 += e1 * e1
			s2 += e2 * e2
			s3 += e3 * e3
		}
		for ; j < w; j++ {
			e := a[j] - b[j]
			s0 += e * e
		}
		d[tau] = s0 + s1 + s2 + s3
	}
	// Cumulative-mean normalisation d'(τ) = d(τ)·τ / Σ_{k≤τ} d(k).
	d[0] = 1
	var run float64
	for tau := 1; tau < len(d); tau++ {
		run += d[tau]
		if run > 0 {
			d[tau] *= float64(tau) / run
		} else {
			d[tau] = 1
		}
	}
	tau := -1
	for t := p.tauMin; t <= p.tauMax; t++ {
		if d[t] < p.cfg.DipThreshold {
			for t+1 <= p.tauMax && d[t+1] < d[t] {
				t++
			}
			tau = t
			break
		}
	}
	if tau < 0 {
		// No dip under the threshold: take the deepest one, then prefer a
		// comparable dip at a fraction of the lag, since the deepest dip of
		// a weakly periodic signal is often a multiple of the period.
		tau = p.tauMin
		for t := p.tauMin + 1; t <= p.tauMax; t++ {
			if d[t] < d[tau] {
				tau = t
			}
		}
		for _, k := range []int{3, 2} {
			sub := p.localMin(tau / k)
			if sub >= p.tauMin && d[sub] < d[tau]+0.1 {
				tau = sub
				break
			}
		}
	}
	ap := d[tau]
	if ap > p.cfg.VoicingThreshold {
		unvoiced.Aperiodicity = ap
		return unvoiced
	}
	// Parabolic interpolation of the dip for sub-sample lag.
	ft := float64(tau)
	if tau > 1 && tau+1 < len(d) {
		a, b, c := d[tau-1], d[tau], d[tau+1]
		if den := a - 2*b + c; den > 0 {
			off := 0.5 * (a - c) / den
			if off > -1 && off < 1 {
				ft += off
			}
		}
	}
	return PitchEstimate{Hz: float64(p.cfg.SampleRate) / ft, Voiced: true, Aperiodicity: ap}
}

// localMin walks from lag t (±2) to the lowest normalised difference nearby.
func (p *PitchTracker) localMin(t int) int {
	best := t
	for c := t - 2; c <= t+2; c++ {
		if c >= p.tauMin && c <= p.tauMax && d(p, c) < d(p, best) {
			best = c
		}
	}
	return best
}

func d(p *PitchTracker, t int) float64 {
	if t < 0 || t >= len(p.d) {
		return math.Inf(1)
	}
	return p.d[t]
}
