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
	// VoicingThreshold is the highest aperiodicity (see
	// PitchEstimate.Aperiodicity) still called voiced; YIN's cumulative-
	// mean-normalised difference at the period must also stay under 1.5×
	// it. Zero means 0.35.
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
	// Aperiodicity is the squared difference between the buffer and itself
	// one period later, relative to the energy of the two stretches
	// compared: 0 for a perfectly periodic signal, ≈1 for noise, up to 2.
	// It is 1 for silence. Frames rejected by the coarse search carry the
	// coarse YIN value instead, which is on a similar scale.
	Aperiodicity float64
}

// PitchTracker estimates f0 with YIN (de Cheveigné & Kawahara 2002): the
// squared-difference function, its cumulative-mean normalisation and
// absolute threshold pick the period on a half-rate copy of the buffer (a
// quarter of the work); the lag is then refined at full rate with an octave
// check that prefers half or a third of the lag when it is as periodic, and
// parabolic interpolation gives sub-sample precision. It is fed 20 ms frames
// and analyses the last BufferSamples each time. Not safe for concurrent use.
type PitchTracker struct {
	cfg            PitchConfig
	buf            []float64
	tauMin, tauMax int          // full-rate lag range
	w              int          // full-rate integration window
	dec            []float64    // history at half rate
	wc             int          // half-rate integration window
	d              []float64    // half-rate normalised difference, by lag
	coarseN        int          // lags 1…coarseN of d are computed
	coarseRun      float64      // Σ of their raw differences
	fine           [2][]float64 // full-rate differences around candidate lags
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
	nd := cfg.BufferSamples / 2
	dmax := tauMax/2 + 3 // half-rate lags 0 … tauMax/2+2
	if nd-dmax < dmax {
		return nil, fmt.Errorf("pitch buffer %d samples too short for %g Hz: %w", cfg.BufferSamples, cfg.MinHz, ErrConfig)
	}
	return &PitchTracker{cfg: cfg, buf: make([]float64, cfg.BufferSamples), tauMin: tauMin,
		tauMax: tauMax, w: w, dec: make([]float64, nd), wc: nd - dmax, d: make([]float64, dmax),
		fine:     [2][]float64{make([]float64, 0, 8), make([]float64, 0, 8)},
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

// push appends frame, already in float64, to the history without
// estimating, for callers that estimate less often than they feed.
func (p *PitchTracker) push(frame []float64) {
	if len(frame) > len(p.buf) {
		frame = frame[len(frame)-len(p.buf):]
	}
	copy(p.buf, p.buf[len(frame):])
	copy(p.buf[len(p.buf)-len(frame):], frame)
}

// BufferSamples returns the length of the analysed history.
func (p *PitchTracker) BufferSamples() int { return len(p.buf) }

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
	// Coarse search at half rate: the squared difference costs lags ×
	// window, so halving both quarters the work. The [1 2 1]/4 smoother
	// before decimation keeps the difference function smooth between the
	// even lags it samples.
	xd := p.dec
	for i := range xd {
		a, b, c := x[max(2*i-1, 0)], x[2*i], x[min(2*i+1, len(x)-1)]
		xd[i] = 0.25*a + 0.5*b + 0.25*c
	}
	// The difference function is computed lag by lag only as far as the
	// search reads it: YIN takes the first dip under the threshold, so for
	// a voiced buffer the lags past the period (nearly half the range for a
	// 120 Hz voice) are never needed. The values are the same as computing
	// all lags first.
	d := p.d
	d[0] = 1
	p.coarseN, p.coarseRun = 0, 0
	lo, hi := p.tauMin/2, min(p.tauMax/2+1, len(d)-2)
	tau := -1
	for t := lo; t <= hi; t++ {
		p.coarse(t)
		if d[t] < p.cfg.DipThreshold {
			for t+1 <= hi {
				p.coarse(t + 1)
				if !(d[t+1] < d[t]) {
					break
				}
				t++
			}
			tau = t
			break
		}
	}
	if tau < 0 {
		p.coarse(len(d) - 1)
	}
	if tau < 0 {
		// No dip under the threshold: take the deepest one, then prefer a
		// comparable dip at a fraction of the lag, since the deepest dip of
		// a weakly periodic signal is often a multiple of the period.
		tau = lo
		for t := lo + 1; t <= hi; t++ {
			if d[t] < d[tau] {
				tau = t
			}
		}
		for _, k := range [...]int{3, 2} {
			sub := p.localMin(tau/k, lo, hi)
			if sub >= lo && d[sub] < d[tau]+0.1 {
				tau = sub
				break
			}
		}
	}
	// The voicing check below reads the lags next to the fine result, at
	// most two past the coarse lag.
	p.coarse(min(tau+2, len(d)-1))
	// Far from periodic even at the best coarse lag: skip the fine search.
	if d[tau] > 2*p.cfg.VoicingThreshold {
		unvoiced.Aperiodicity = d[tau]
		return unvoiced
	}
	// Fine search at full rate around twice the coarse lag, then the same
	// at a half and a third of it: the coarse lag can land on a multiple
	// of the period when decimation blurs the true dip, and a shorter lag
	// that explains the signal as well is the period.
	// The energy of the first stretch is the same for every lag tried.
	var e0 float64
	for _, v := range x[:p.w] {
		e0 += v * v
	}
	best, _, ap, first, fine := p.fineSearch(2*tau, e0, p.fine[0])
	if best < 0 {
		return unvoiced
	}
	for _, k := range [...]int{3, 2} {
		if 2*tau/k < p.tauMin {
			continue
		}
		b, _, a, f, fn := p.fineSearch(2*tau/k, e0, p.fine[1])
		if b >= 0 && a <= ap+0.05 {
			best, ap, first, fine = b, a, f, fn
			break
		}
	}
	// Voicing needs both measures: the full-rate one is blind to the long
	// correlation of low-pass noise (pink noise at one lag can look 70 %
	// alike), which YIN's cumulative-mean normalisation discounts.
	cm := math.Min(d[best/2], d[min((best+1)/2, len(d)-1)])
	if ap > p.cfg.VoicingThreshold || cm > 1.5*p.cfg.VoicingThreshold {
		unvoiced.Aperiodicity = max(ap, cm)
		return unvoiced
	}
	// Parabolic interpolation of the dip for sub-sample lag.
	ft := float64(best)
	if i := best - first; i > 0 && i+1 < len(fine) {
		a, b, c := fine[i-1], fine[i], fine[i+1]
		if den := a - 2*b + c; den > 0 {
			off := 0.5 * (a - c) / den
			if off > -1 && off < 1 {
				ft += off
			}
		}
	}
	return PitchEstimate{Hz: float64(p.cfg.SampleRate) / ft, Voiced: true, Aperiodicity: ap}
}

// coarse computes the half-rate squared difference, cumulative-mean
// normalised (d'(τ) = d(τ)·τ / Σ_{k≤τ} d(k)), for the lags up to n not yet
// computed in this estimate.
func (p *PitchTracker) coarse(n int) {
	xd, d, wc := p.dec, p.d, p.wc
	for tau := p.coarseN + 1; tau <= n; tau++ {
		v := sqDiff(xd[:wc], xd[tau:tau+wc])
		p.coarseRun += v
		if p.coarseRun > 0 {
			d[tau] = v * (float64(tau) / p.coarseRun)
		} else {
			d[tau] = 1
		}
	}
	p.coarseN = max(p.coarseN, n)
}

// fineSearch computes the full-rate squared difference for lags centre±3
// and returns the lowest one within range, its difference, its
// aperiodicity (the difference relative to the energy of the two stretches
// compared: 0 for a periodic signal, ≈1 for noise), the first lag computed
// and the differences from it, written into buf. e0 is the energy of the
// buffer's first w samples. best is −1 if no lag is in range.
func (p *PitchTracker) fineSearch(centre int, e0 float64, buf []float64) (best int, bestD, ap float64, first int, fine []float64) {
	x, w := p.buf, p.w
	fine = buf[:0]
	best, bestD = -1, math.Inf(1)
	first = max(centre-3, p.tauMin-1, 1)
	last := min(centre+3, p.tauMax+1)
	for t := first; t <= last; t++ {
		v := sqDiff(x[:w], x[t:t+w])
		fine = append(fine, v)
		if t >= p.tauMin && t <= p.tauMax && v < bestD {
			best, bestD = t, v
		}
	}
	if best < 0 {
		return -1, 0, 1, first, fine
	}
	var e1 float64
	for _, v := range x[best : best+w] {
		e1 += v * v
	}
	ap = 1
	if e0+e1 > 0 {
		ap = bestD / (e0 + e1)
	}
	return best, bestD, ap, first, fine
}

// sqDiff returns Σ (a[j] − b[j])² with four partial sums so the loads
// pipeline; b must be at least as long as a.
func sqDiff(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		e0, e1, e2, e3 := a[j]-b[j], a[j+1]-b[j+1], a[j+2]-b[j+2], a[j+3]-b[j+3]
		s0 += e0 * e0
		s1 += e1 * e1
		s2 += e2 * e2
		s3 += e3 * e3
	}
	for ; j < len(a); j++ {
		e := a[j] - b[j]
		s0 += e * e
	}
	return s0 + s1 + s2 + s3
}

// localMin walks from coarse lag t (±1) to the lowest normalised
// difference nearby within [lo, hi].
func (p *PitchTracker) localMin(t, lo, hi int) int {
	best := -1
	for c := t - 1; c <= t+1; c++ {
		if c >= lo && c <= hi && (best < 0 || p.d[c] < p.d[best]) {
			best = c
		}
	}
	return best
}
