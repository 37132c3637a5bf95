package sphinx

import (
	"fmt"
	"math"

	"github.com/waihu/waihu/dsp"
)

// FrontEnd turns a stream of samples at the model's rate into sphinx MFCC
// cepstra, one vector per frame shift, the way sphinxbase's front end does
// with the model's feat.params: continuous pre-emphasis, a Hamming window of
// -wlen seconds every 1/-frate seconds, an -nfft power spectrum, -nfilt
// unit-area triangles whose edges are rounded to FFT bins, natural log, the
// orthonormal DCT-II and a sinusoidal lifter.
//
// The FFT, DCT, window, lifter, pre-emphasis and mel scale are dsp's; the
// triangle weights are built here because sphinx rounds each filter edge to
// an FFT bin, which dsp's MelFilterBank does not: with dsp's bank the
// cepstra part from sphinx_fe's by up to 1.4 instead of 0.2. A FrontEnd is not safe for
// concurrent use: make one per stream (they are cheap).
type FrontEnd struct {
	shift, win int
	window     []float64
	fft        *dsp.FFT
	dct        *dsp.DCT
	lifter     []float64
	filters    []melFilter

	pre     dsp.PreEmphasis
	buf     []float64 // pre-emphasised samples not yet consumed
	frame   []float64
	power   []float64
	logMel  []float64
	ceps    []float64
	nFrames int
	dither  bool
	// floor is added to each filter's energy: the expected energy of white
	// noise of NoiseLSB, in the filters at or above NoiseFromHz.
	floor []float64
	rng   uint64
}

type melFilter struct {
	first   int
	weights []float64
}

// NewFrontEnd builds a front end for p.
func NewFrontEnd(p FeatParams) (*FrontEnd, error) {
	fe := &FrontEnd{
		shift: int(math.Round(float64(p.SampleRate) / float64(p.FrameRate))),
		win:   int(math.Round(p.WindowSec * float64(p.SampleRate))),
	}
	if fe.shift <= 0 || fe.win <= 0 || fe.win > p.FFTSize {
		return nil, fmt.Errorf("front end: window %d and shift %d samples for a %d-point FFT: %w", fe.win, fe.shift, p.FFTSize, ErrUnsupported)
	}
	var err error
	if fe.fft, err = dsp.NewFFT(p.FFTSize); err != nil {
		return nil, fmt.Errorf("front end: %w", err)
	}
	if fe.dct, err = dsp.NewDCT(p.NumFilters, p.NumCeps, dsp.DCTOrtho); err != nil {
		return nil, fmt.Errorf("front end: %w", err)
	}
	fe.window = dsp.Hamming(fe.win)
	fe.lifter = dsp.Lifter(p.NumCeps, p.Lifter)
	fe.filters = sphinxMelFilters(p)
	fe.pre.Coef = p.PreEmphasis
	fe.dither = p.Dither
	fe.floor = make([]float64, len(fe.filters))
	if p.NoiseLSB > 0 {
		// White noise of variance σ² gives every FFT bin of a windowed
		// frame an expected power σ²·Σw², so a filter gets that times the
		// sum of its weights.
		w2 := 0.0
		for _, w := range fe.window {
			w2 += w * w
		}
		binHz := float64(p.SampleRate) / float64(p.FFTSize)
		for i, f := range fe.filters {
			if float64(f.first)*binHz < p.NoiseFromHz {
				continue
			}
			sum := 0.0
			for _, w := range f.weights {
				sum += w
			}
			fe.floor[i] = p.NoiseLSB * p.NoiseLSB * w2 * sum
		}
	}
	fe.rng = 0x9E3779B97F4A7C15
	fe.buf = make([]float64, 0, 4*fe.win)
	fe.frame = make([]float64, p.FFTSize)
	fe.power = make([]float64, fe.fft.Bins())
	fe.logMel = make([]float64, p.NumFilters)
	fe.ceps = make([]float64, p.NumCeps)
	return fe, nil
}

// sphinxMelFilters builds sphinxbase's filter bank: triangles with edges
// equally spaced on the HTK mel scale between -lowerf and -upperf, each edge
// rounded to the nearest FFT bin, scaled to unit area over Hz.
func sphinxMelFilters(p FeatParams) []melFilter {
	mel := dsp.MelHTK
	binHz := float64(p.SampleRate) / float64(p.FFTSize)
	lo, hi := mel.HzToMel(p.LowerHz), mel.HzToMel(p.UpperHz)
	step := (hi - lo) / float64(p.NumFilters+1)
	nBins := p.FFTSize/2 + 1
	out := make([]melFilter, p.NumFilters)
	for i := range out {
		var e [3]float64
		for j := range e {
			e[j] = mel.MelToHz(lo + float64(i+j)*step)
			e[j] = math.Floor(e[j]/binHz+0.5) * binHz
		}
		var f melFilter
		f.first = -1
		for k := 0; k < nBins; k++ {
			hz := float64(k) * binHz
			if hz < e[0] {
				continue
			}
			if hz > e[2] || k == nBins-1 {
				break
			}
			if f.first < 0 {
				f.first = k
			}
			up := (hz - e[0]) / (e[1] - e[0])
			down := (e[2] - hz) / (e[2] - e[1])
			w := min(up, down) * 2 / (e[2] - e[0])
			f.weights = append(f.weights, w)
		}
		if f.first < 0 {
			f.first = 0
		}
		out[i] = f
	}
	return out
}

// NumCeps returns the length of the cepstra the front end emits.
func (fe *FrontEnd) NumCeps() int { return len(fe.ceps) }

// Write feeds samples and calls emit with each complete frame's cepstra; the
// slice passed to emit is reused for the next frame.
func (fe *FrontEnd) Write(samples []int16, emit func(ceps []float64)) {
	for len(samples) > 0 {
		n := min(len(samples), cap(fe.buf)-len(fe.buf))
		start := len(fe.buf)
		fe.buf = fe.buf[:start+n]
		for i, s := range samples[:n] {
			x := float64(s)
			if fe.dither {
				// Sphinx's dither: +1 LSB on a random quarter of the samples,
				// so bands the audio left empty (above 4 kHz in upsampled
				// telephone speech) hold a faint noise floor like the
				// training recordings, not a log of nothing.
				fe.rng ^= fe.rng << 13
				fe.rng ^= fe.rng >> 7
				fe.rng ^= fe.rng << 17
				if fe.rng&3 == 0 {
					x++
				}
			}
			fe.buf[start+i] = x
		}
		fe.pre.Process(fe.buf[start:], fe.buf[start:])
		samples = samples[n:]
		fe.drain(emit)
	}
}

func (fe *FrontEnd) drain(emit func([]float64)) {
	pos := 0
	for len(fe.buf)-pos >= fe.win {
		fe.compute(fe.buf[pos : pos+fe.win])
		emit(fe.ceps)
		pos += fe.shift
	}
	fe.buf = fe.buf[:copy(fe.buf, fe.buf[pos:])]
}

// Flush emits a last, zero-padded frame from the samples left over, as
// sphinx does at the end of an utterance, and resets the sample history.
func (fe *FrontEnd) Flush(emit func(ceps []float64)) {
	if len(fe.buf) > 0 && fe.nFrames > 0 {
		// Only the part of the tail not yet covered by a full frame counts.
		if len(fe.buf) > fe.win-fe.shift {
			fe.compute(fe.buf)
			emit(fe.ceps)
		}
	}
	fe.buf = fe.buf[:0]
	fe.pre.Reset()
	fe.nFrames = 0
}

func (fe *FrontEnd) compute(samples []float64) {
	fe.nFrames++
	clear(fe.frame)
	dsp.ApplyWindow(fe.frame, samples, fe.window)
	fe.fft.PowerSpectrum(fe.power, fe.frame)
	for i, f := range fe.filters {
		e := 0.0
		for k, w := range f.weights {
			e += w * fe.power[f.first+k]
		}
		// A floor keeps digital silence finite; sphinx floors likewise.
		fe.logMel[i] = math.Log(max(e+fe.floor[i], 1e-10))
	}
	fe.dct.Transform(fe.ceps, fe.logMel)
	for i := range fe.ceps {
		fe.ceps[i] *= fe.lifter[i]
	}
}
