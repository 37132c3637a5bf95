package dsp

import (
	"fmt"
	"math"
)

// DCTNorm names the scaling of a DCT-II.
type DCTNorm int

const (
	// DCTOrtho is the orthonormal DCT-II: c[0] scaled by √(1/N), the
	// others by √(2/N) (scipy norm="ortho").
	DCTOrtho DCTNorm = iota
	// DCTHTK scales every coefficient by √(2/N), as HTK does.
	DCTHTK
	// DCTUnscaled is the bare sum c[k] = Σ x[n]·cos(πk(n+½)/N).
	DCTUnscaled
)

// DCT is a DCT-II of N inputs keeping the first K outputs, computed with a
// precomputed basis (N and K are small for cepstra, so a matrix beats an FFT).
// It is read-only after construction and safe for concurrent use.
type DCT struct {
	n, k  int
	basis []float64 // k rows of n
}

// NewDCT returns a DCT-II of n inputs and k ≤ n outputs with scaling norm.
func NewDCT(n, k int, norm DCTNorm) (*DCT, error) {
	if n < 1 || k < 1 || k > n {
		return nil, fmt.Errorf("dct %d inputs %d outputs: %w", n, k, ErrConfig)
	}
	d := &DCT{n: n, k: k, basis: make([]float64, n*k)}
	for i := 0; i < k; i++ {
		scale := 1.0
		switch norm {
		case DCTOrtho:
			scale = math.Sqrt(2 / float64(n))
			if i == 0 {
				scale = math.Sqrt(1 / float64(n))
			}
		case DCTHTK:
			scale = math.Sqrt(2 / float64(n))
		}
		for j := 0; j < n; j++ {
			d.basis[i*n+j] = scale * math.Cos(math.Pi*float64(i)*(float64(j)+0.5)/float64(n))
		}
	}
	return d, nil
}

// Inputs returns N.
func (d *DCT) Inputs() int { return d.n }

// Outputs returns K.
func (d *DCT) Outputs() int { return d.k }

// Transform writes the first K DCT-II coefficients of src (N values, missing
// ones count as zero) into dst (up to K values).
func (d *DCT) Transform(dst, src []float64) {
	m := min(len(src), d.n)
	for i := 0; i < min(len(dst), d.k); i++ {
		row := d.basis[i*d.n : i*d.n+m]
		src := src[:len(row)]
		// Four partial sums, so the adds overlap instead of waiting on
		// each other.
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+4 <= len(row); j += 4 {
			s0 += row[j] * src[j]
			s1 += row[j+1] * src[j+1]
			s2 += row[j+2] * src[j+2]
			s3 += row[j+3] * src[j+3]
		}
		for ; j < len(row); j++ {
			s0 += row[j] * src[j]
		}
		dst[i] = (s0 + s1) + (s2 + s3)
	}
}

// Lifter returns the sinusoidal lifter weights 1 + (L/2)·sin(πi/L) for k
// cepstra; L ≤ 0 gives all ones.
func Lifter(k int, l float64) []float64 {
	w := make([]float64, max(k, 0))
	for i := range w {
		w[i] = 1
		if l > 0 {
			w[i] += l / 2 * math.Sin(math.Pi*float64(i)/l)
		}
	}
	return w
}

// MFCCConfig configures an MFCC extractor. The zero value gives 13 cepstra
// from 25 ms Hamming windows at 8 kHz: pre-emphasis 0.97, 256-point FFT,
// 23 mel filters 64–3800 Hz, natural log floored at 1e-10, orthonormal
// DCT-II, lifter 22.
type MFCCConfig struct {
	// SampleRate in Hz; zero means 8000.
	SampleRate int
	// WindowSamples is the analysis window length; zero means 25 ms.
	WindowSamples int
	// FFTSize zero means the next power of two ≥ WindowSamples.
	FFTSize int
	// PreEmphasis coefficient; zero means 0.97, negative disables it.
	PreEmphasis float64
	// Mel configures the filter bank; its SampleRate and FFTSize are
	// taken from this config when zero.
	Mel MelConfig
	// NumCeps is the number of cepstra kept, c0 included; zero means 13.
	NumCeps int
	// DCT is the DCT scaling; zero means DCTOrtho.
	DCT DCTNorm
	// Lifter is the sinusoidal lifter parameter; zero means 22, negative
	// disables it.
	Lifter float64
	// LogFloor bounds filter energies from below before the log so
	// silence stays finite; zero means 1e-10.
	LogFloor float64
}

// MFCC computes mel-frequency cepstral coefficients of single windows. It owns
// scratch buffers: not safe for concurrent use.
type MFCC struct {
	win      int
	preemph  float64
	window   []float64
	fft      *FFT
	mel      *MelFilterBank
	dct      *DCT
	lifter   []float64
	logFloor float64
	frame    []float64 // windowed input, zero-padded to the FFT length
	power    []float64
	melE     []float64
}

// NewMFCC builds an MFCC extractor.
func NewMFCC(cfg MFCCConfig) (*MFCC, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = SampleRate
	}
	if cfg.WindowSamples == 0 {
		cfg.WindowSamples = cfg.SampleRate * 25 / 1000
	}
	if cfg.WindowSamples < 2 {
		return nil, fmt.Errorf("mfcc window %d samples: %w", cfg.WindowSamples, ErrConfig)
	}
	if cfg.FFTSize == 0 {
		cfg.FFTSize = nextPow2(cfg.WindowSamples)
	}
	if cfg.FFTSize < cfg.WindowSamples {
		return nil, fmt.Errorf("mfcc FFT %d shorter than window %d: %w", cfg.FFTSize, cfg.WindowSamples, ErrConfig)
	}
	if cfg.PreEmphasis == 0 {
		cfg.PreEmphasis = 0.97
	}
	if cfg.PreEmphasis < 0 {
		cfg.PreEmphasis = 0
	}
	if cfg.Mel.SampleRate == 0 {
		cfg.Mel.SampleRate = cfg.SampleRate
	}
	if cfg.Mel.FFTSize == 0 {
		cfg.Mel.FFTSize = cfg.FFTSize
	}
	if cfg.Mel.FFTSize != cfg.FFTSize || cfg.Mel.SampleRate != cfg.SampleRate {
		return nil, fmt.Errorf("mfcc mel bank for %d Hz/FFT %d, extractor %d Hz/FFT %d: %w",
			cfg.Mel.SampleRate, cfg.Mel.FFTSize, cfg.SampleRate, cfg.FFTSize, ErrConfig)
	}
	if cfg.NumCeps == 0 {
		cfg.NumCeps = 13
	}
	if cfg.Lifter == 0 {
		cfg.Lifter = 22
	}
	if cfg.LogFloor == 0 {
		cfg.LogFloor = 1e-10
	}
	fft, err := NewFFT(cfg.FFTSize)
	if err != nil {
		return nil, err
	}
	t, err := mfccTables.get(cfg, func() mfccTablesOrErr { return newMFCCTables(cfg) }).get()
	if err != nil {
		return nil, err
	}
	return &MFCC{win: cfg.WindowSamples, preemph: cfg.PreEmphasis,
		window: t.window, fft: fft, mel: t.mel, dct: t.dct,
		lifter: t.lifter, logFloor: cfg.LogFloor,
		frame: make([]float64, fft.Len()), power: make([]float64, fft.Bins()),
		melE: make([]float64, t.mel.NumFilters())}, nil
}

// mfccTableSet is the read-only part of an MFCC extractor — window, filter
// bank, DCT basis and lifter, about 7 KB at the defaults — shared by every
// extractor of one configuration in the process (see sharedTables).
type mfccTableSet struct {
	window []float64
	mel    *MelFilterBank
	dct    *DCT
	lifter []float64
}

type mfccTablesOrErr struct {
	t   *mfccTableSet
	err error
}

func (t mfccTablesOrErr) get() (*mfccTableSet, error) { return t.t, t.err }

var mfccTables sharedTables[MFCCConfig, mfccTablesOrErr]

func newMFCCTables(cfg MFCCConfig) mfccTablesOrErr {
	mel, err := NewMelFilterBank(cfg.Mel)
	if err != nil {
		return mfccTablesOrErr{err: err}
	}
	dct, err := NewDCT(mel.NumFilters(), cfg.NumCeps, cfg.DCT)
	if err != nil {
		return mfccTablesOrErr{err: fmt.Errorf("mfcc: %w", err)}
	}
	return mfccTablesOrErr{t: &mfccTableSet{window: Hamming(cfg.WindowSamples), mel: mel, dct: dct,
		lifter: Lifter(cfg.NumCeps, cfg.Lifter)}}
}

// WindowSamples returns the window length Compute expects.
func (m *MFCC) WindowSamples() int { return m.win }

// NumCeps returns the number of coefficients Compute writes.
func (m *MFCC) NumCeps() int { return m.dct.Outputs() }

// Compute writes NumCeps cepstra of window (WindowSamples samples on any
// scale; a short window is zero-padded) into dst. It also returns the log
// mel energies of the window, owned by m until the next call.
func (m *MFCC) Compute(dst, window []float64) (logMel []float64) {
	// Pre-emphasis (within the window, the sample before the first taken
	// as equal to it, as HTK does) and the Hamming window in one pass,
	// straight into the FFT's zero-padded input: the same arithmetic as
	// preEmphasizeWindow then ApplyWindow, without two copies.
	n := min(len(window), m.win)
	f, w, c := m.frame[:m.win], m.window[:m.win], m.preemph
	if n > 0 {
		f[0] = window[0] * (1 - c) * w[0]
		for i := 1; i < n; i++ {
			f[i] = (window[i] - c*window[i-1]) * w[i]
		}
	}
	clear(f[n:])
	if n > 0 && n < len(f) {
		// A short window is zero-padded before pre-emphasis, so the
		// first padded sample carries the filter's echo of the last one.
		f[n] = (0 - c*window[n-1]) * w[n]
	}
	m.fft.PowerSpectrum(m.power, m.frame)
	m.mel.Apply(m.melE, m.power)
	for i, e := range m.melE {
		if !(e > m.logFloor) { // NaN goes to the floor too
			e = m.logFloor
		}
		m.melE[i] = math.Log(e)
	}
	m.dct.Transform(dst, m.melE)
	for i := 0; i < min(len(dst), len(m.lifter)); i++ {
		dst[i] *= m.lifter[i]
	}
	return m.melE
}
