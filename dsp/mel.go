package dsp

import (
	"fmt"
	"math"
)

// MelScale names a Hz ↔ mel mapping.
type MelScale int

const (
	// MelHTK is mel = 2595·log10(1 + f/700), used by HTK and CMU Sphinx.
	MelHTK MelScale = iota
	// MelSlaney is linear below 1 kHz and logarithmic above (Slaney's
	// Auditory Toolbox, librosa's default).
	MelSlaney
)

// HzToMel converts a frequency in Hz to mels on scale s.
func (s MelScale) HzToMel(hz float64) float64 {
	if s == MelSlaney {
		const fsp = 200.0 / 3
		const minLogHz = 1000.0
		const minLogMel = minLogHz / fsp
		logStep := math.Log(6.4) / 27
		if hz < minLogHz {
			return hz / fsp
		}
		return minLogMel + math.Log(hz/minLogHz)/logStep
	}
	return 2595 * math.Log10(1+hz/700)
}

// MelToHz converts mels on scale s to Hz.
func (s MelScale) MelToHz(mel float64) float64 {
	if s == MelSlaney {
		const fsp = 200.0 / 3
		const minLogHz = 1000.0
		const minLogMel = minLogHz / fsp
		logStep := math.Log(6.4) / 27
		if mel < minLogMel {
			return mel * fsp
		}
		return minLogHz * math.Exp(logStep*(mel-minLogMel))
	}
	return 700 * (math.Pow(10, mel/2595) - 1)
}

// MelNorm names how each triangular filter is scaled.
type MelNorm int

const (
	// MelUnitHeight gives every triangle a peak of 1 (HTK).
	MelUnitHeight MelNorm = iota
	// MelUnitArea gives every triangle an area of 1 over Hz, i.e. a peak
	// of 2/(right−left) (CMU Sphinx "unit area", Slaney).
	MelUnitArea
)

// MelConfig configures a MelFilterBank. The zero value gives 23 unit-height
// filters on the HTK scale from 64 Hz to 3800 Hz for a 256-point FFT at 8 kHz.
type MelConfig struct {
	// SampleRate in Hz; zero means 8000.
	SampleRate int
	// FFTSize is the FFT length the power spectra come from; zero means 256.
	FFTSize int
	// NumFilters is the number of triangles; zero means 23.
	NumFilters int
	// LowHz is the lower edge of the first triangle; zero means 64 Hz.
	// Use a tiny positive value for a true 0 Hz edge.
	LowHz float64
	// HighHz is the upper edge of the last triangle; zero means 3800 Hz at
	// 8 kHz, otherwise SampleRate/2.
	HighHz float64
	// Norm is the triangle scaling; zero means MelUnitHeight.
	Norm MelNorm
	// Scale is the mel formula; zero means MelHTK.
	Scale MelScale
}

func (c MelConfig) withDefaults() MelConfig {
	if c.SampleRate == 0 {
		c.SampleRate = SampleRate
	}
	if c.FFTSize == 0 {
		c.FFTSize = 256
	}
	if c.NumFilters == 0 {
		c.NumFilters = 23
	}
	if c.LowHz == 0 {
		c.LowHz = 64
	}
	if c.HighHz == 0 {
		c.HighHz = float64(c.SampleRate) / 2
		if c.SampleRate == SampleRate {
			c.HighHz = 3800 // telephone band stops near 3.4 kHz
		}
	}
	return c
}

// MelFilterBank maps a power spectrum to mel-band energies. Triangles are
// evaluated at each bin's frequency in Hz between edges equally spaced in
// mels. It is read-only after construction and safe for concurrent use.
type MelFilterBank struct {
	cfg     MelConfig
	first   []int       // first bin of each filter
	weights [][]float64 // weights from first onward
	centres []float64   // centre frequency of each filter, Hz
}

// NewMelFilterBank builds the filter bank for cfg.
func NewMelFilterBank(cfg MelConfig) (*MelFilterBank, error) {
	cfg = cfg.withDefaults()
	nyq := float64(cfg.SampleRate) / 2
	if cfg.SampleRate < 0 || cfg.FFTSize < 2 || cfg.NumFilters < 1 ||
		cfg.LowHz < 0 || cfg.HighHz <= cfg.LowHz || cfg.HighHz > nyq+1e-9 {
		return nil, fmt.Errorf("mel bank %d filters %g–%g Hz at %d Hz, FFT %d: %w",
			cfg.NumFilters, cfg.LowHz, cfg.HighHz, cfg.SampleRate, cfg.FFTSize, ErrConfig)
	}
	lo, hi := cfg.Scale.HzToMel(cfg.LowHz), cfg.Scale.HzToMel(cfg.HighHz)
	edges := make([]float64, cfg.NumFilters+2)
	for i := range edges {
		edges[i] = cfg.Scale.MelToHz(lo + (hi-lo)*float64(i)/float64(cfg.NumFilters+1))
	}
	bins := cfg.FFTSize/2 + 1
	binHz := float64(cfg.SampleRate) / float64(cfg.FFTSize)
	fb := &MelFilterBank{cfg: cfg, first: make([]int, cfg.NumFilters),
		weights: make([][]float64, cfg.NumFilters), centres: make([]float64, cfg.NumFilters)}
	for m := 0; m < cfg.NumFilters; m++ {
		l, c, r := edges[m], edges[m+1], edges[m+2]
		fb.centres[m] = c
		height := 1.0
		if cfg.Norm == MelUnitArea {
			height = 2 / (r - l)
		}
		start := int(math.Ceil(l / binHz))
		var w []float64
		for k := start; k < bins; k++ {
			f := float64(k) * binHz
			if f >= r {
				break
			}
			var v float64
			if f <= c {
				v = (f - l) / (c - l)
			} else {
				v = (r - f) / (r - c)
			}
			w = append(w, math.Max(v, 0)*height)
		}
		fb.first[m], fb.weights[m] = start, w
	}
	return fb, nil
}

// NumFilters returns the number of filters (the length Apply writes).
func (fb *MelFilterBank) NumFilters() int { return len(fb.weights) }

// Config returns the configuration with defaults filled in.
func (fb *MelFilterBank) Config() MelConfig { return fb.cfg }

// CentreHz returns the centre frequency of filter m.
func (fb *MelFilterBank) CentreHz(m int) float64 { return fb.centres[m] }

// Weights returns the first bin and weights of filter m; the slice is
// shared, do not modify it.
func (fb *MelFilterBank) Weights(m int) (firstBin int, w []float64) {
	return fb.first[m], fb.weights[m]
}

// Apply writes the energy of each filter over power (FFTSize/2+1 bins) into
// dst (NumFilters values). Bins missing from a short power slice count as
// zero; extra dst entries are left alone.
func (fb *MelFilterBank) Apply(dst, power []float64) {
	n := min(len(dst), len(fb.weights))
	for m := 0; m < n; m++ {
		k0, w := fb.first[m], fb.weights[m]
		var s float64
		for i, wi := range w {
			if k := k0 + i; k < len(power) {
				s += wi * power[k]
			}
		}
		dst[m] = s
	}
}
