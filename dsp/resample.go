package dsp

import (
	"fmt"
	"math"
)

// ResamplerConfig configures a Resampler. The zero value converts 8 kHz to
// 16 kHz with a 70 dB Kaiser-window low-pass passing 0–3.4 kHz.
type ResamplerConfig struct {
	// InRate and OutRate are in Hz; zero means 8000 and 16000.
	InRate, OutRate int
	// PassbandHz is the highest frequency kept flat; zero means 85% of
	// the lower Nyquist frequency (3.4 kHz between 8 and 16 kHz).
	PassbandHz float64
	// StopbandHz is where the attenuation must be reached; zero means the
	// lower Nyquist frequency, so nothing aliases or images into the
	// lower-rate band.
	StopbandHz float64
	// AttenuationDB is the stop-band attenuation the Kaiser design aims
	// for; zero means 70.
	AttenuationDB float64
}

// Resampler converts a stream of int16 samples between rates by a rational
// factor L/M with a polyphase FIR, keeping its history across calls so a
// stream can be fed 20 ms frames. Not safe for concurrent use.
type Resampler struct {
	l, m   int
	k      int         // taps per phase
	phases [][]float64 // phases[p][K−1−k] = h[p + k·L], reversed to run forward over the input
	buf    []float64   // k−1 history samples then the current input
	t      int         // position of the next output, in 1/L input samples, from the current input's start
}

// NewResampler designs the filter and returns a Resampler.
func NewResampler(cfg ResamplerConfig) (*Resampler, error) {
	if cfg.InRate == 0 {
		cfg.InRate = 8000
	}
	if cfg.OutRate == 0 {
		cfg.OutRate = 16000
	}
	if cfg.InRate <= 0 || cfg.OutRate <= 0 {
		return nil, fmt.Errorf("resample %d → %d Hz: %w", cfg.InRate, cfg.OutRate, ErrConfig)
	}
	g := gcd(cfg.InRate, cfg.OutRate)
	l, m := cfg.OutRate/g, cfg.InRate/g
	// The prototype's length grows with L; 64 keeps it under ≈ 10 000
	// taps. 22.05 and 44.1 kHz (L = 160 or 80 over M = 441) would need
	// ≈ 25 000: callers convert those with sox first.
	if l > 64 || m > 64 {
		return nil, fmt.Errorf("resample %d → %d Hz: ratio %d/%d too fine for a polyphase filter: %w",
			cfg.InRate, cfg.OutRate, l, m, ErrConfig)
	}
	nyq := float64(min(cfg.InRate, cfg.OutRate)) / 2
	if cfg.PassbandHz == 0 {
		cfg.PassbandHz = 0.85 * nyq
	}
	if cfg.StopbandHz == 0 {
		cfg.StopbandHz = nyq
	}
	if cfg.AttenuationDB == 0 {
		cfg.AttenuationDB = 70
	}
	if cfg.PassbandHz <= 0 || cfg.StopbandHz <= cfg.PassbandHz || cfg.AttenuationDB < 20 {
		return nil, fmt.Errorf("resample pass %g Hz stop %g Hz %g dB: %w",
			cfg.PassbandHz, cfg.StopbandHz, cfg.AttenuationDB, ErrConfig)
	}
	// The prototype runs at the upsampled rate L·InRate.
	fs := float64(cfg.InRate) * float64(l)
	h := kaiserLowPass(fs, (cfg.PassbandHz+cfg.StopbandHz)/2, cfg.StopbandHz-cfg.PassbandHz, cfg.AttenuationDB)
	k := (len(h) + l - 1) / l
	r := &Resampler{l: l, m: m, k: k, phases: make([][]float64, l)}
	for p := range r.phases {
		r.phases[p] = make([]float64, k)
		for j := 0; j < k; j++ {
			if i := p + j*l; i < len(h) {
				// Gain L restores the level lost to zero-stuffing.
				r.phases[p][k-1-j] = h[i] * float64(l)
			}
		}
	}
	r.buf = make([]float64, k-1+4*FrameSamples)
	return r, nil
}

// kaiserLowPass designs a linear-phase low-pass by the window method with a
// Kaiser window (Kaiser's formulas for β and length from the attenuation
// and transition width).
func kaiserLowPass(fs, cutoffHz, transitionHz, attenDB float64) []float64 {
	var beta float64
	switch {
	case attenDB > 50:
		beta = 0.1102 * (attenDB - 8.7)
	case attenDB >= 21:
		beta = 0.5842*math.Pow(attenDB-21, 0.4) + 0.07886*(attenDB-21)
	}
	dw := 2 * math.Pi * transitionHz / fs
	n := int(math.Ceil((attenDB-8)/(2.285*dw))) + 1
	if n%2 == 0 {
		n++ // odd length: integer group delay
	}
	h := make([]float64, n)
	fc := cutoffHz / fs
	mid := float64(n-1) / 2
	i0b := besselI0(beta)
	for i := range h {
		x := float64(i) - mid
		sinc := 2 * fc
		if x != 0 {
			sinc = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		r := 2*float64(i)/float64(n-1) - 1
		h[i] = sinc * besselI0(beta*math.Sqrt(math.Max(0, 1-r*r))) / i0b
	}
	return h
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series (converges fast for the β of filter design).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 200; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < 1e-17*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Taps returns the length of each polyphase branch; the filter delays the
// signal by about Taps/2 input samples.
func (r *Resampler) Taps() int { return r.k }

// MaxOut returns the most samples one Process call on n input samples can
// write.
func (r *Resampler) MaxOut(n int) int { return (n*r.l)/r.m + 1 }

// Process resamples src, appending nothing: it writes the outputs into dst
// and returns how many it wrote. dst should hold MaxOut(len(src)) samples
// (exactly twice or half len(src) for 8↔16 kHz with even frames); if it is
// shorter, the outputs that do not fit are dropped, never written past its
// end. Input longer than any seen before grows the buffer once.
func (r *Resampler) Process(dst []int16, src []int16) int {
	h := r.k - 1
	if need := h + len(src); need > len(r.buf) {
		nb := make([]float64, need)
		copy(nb, r.buf[:h])
		r.buf = nb
	}
	buf := r.buf[:h+len(src)]
	for i, s := range src {
		buf[h+i] = float64(s)
	}
	end := len(src) * r.l
	n := 0
	t := r.t
	for ; t < end; t += r.m {
		i, p := t/r.l, t%r.l
		ph := r.phases[p]
		x := buf[i : i+len(ph)]
		var s0, s1 float64
		j := 0
		for ; j+2 <= len(ph); j += 2 {
			s0 += ph[j] * x[j]
			s1 += ph[j+1] * x[j+1]
		}
		if j < len(ph) {
			s0 += ph[j] * x[j]
		}
		s := s0 + s1
		if n < len(dst) {
			dst[n] = clip16(s)
		}
		n++
	}
	r.t = t - end
	copy(r.buf, buf[len(buf)-h:])
	return min(n, len(dst))
}

// Reset clears the history.
func (r *Resampler) Reset() {
	clear(r.buf)
	r.t = 0
}

func clip16(v float64) int16 {
	switch {
	case v >= 32767:
		return 32767
	case v <= -32768:
		return -32768
	case v != v:
		return 0
	}
	return int16(math.Round(v))
}
