package dsp

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// VADConfig configures a VAD. The zero value suits 8 kHz telephone speech:
// 300 ms hang-over, 60 ms minimum speech, the default thresholds.
type VADConfig struct {
	// Threshold is the weighted mean over bands of the speech/noise log
	// likelihood ratio above which a frame is speech; zero means 1.0.
	// Higher is stricter (fewer false alarms, more missed speech).
	Threshold float64
	// BandThreshold is the log likelihood ratio of a single band that
	// makes a frame speech on its own (narrow-band speech under noise that
	// masks the other bands); zero means 3.5.
	BandThreshold float64
	// MinEnergyDBFS is the level under which a frame is never speech;
	// zero means −60 dBFS.
	MinEnergyDBFS float64
	// Hangover keeps the smoothed state active this long after the last
	// speech frame, bridging pauses between words; zero means 300 ms,
	// negative means none.
	Hangover time.Duration
	// MinSpeech is how much speech a run of speech frames (allowing
	// single missed frames) must hold before SpeechStart; shorter bursts
	// (clicks, coughs) are ignored. Zero means 60 ms, negative means a
	// single frame suffices.
	MinSpeech time.Duration
	// NoiseAdaptation is the per-10 ms rate at which the noise model
	// follows frames judged noise; zero means 0.03 (≈ 0.3 s time
	// constant).
	NoiseAdaptation float64
}

// VADEvent is a change of the smoothed speech state.
type VADEvent int

const (
	// VADNone means the smoothed state did not change on this frame.
	VADNone VADEvent = iota
	// SpeechStart means speech began; VADResult.EventSample says where.
	SpeechStart
	// SpeechEnd means speech ended; VADResult.EventSample says where.
	SpeechEnd
)

// String names the event.
func (e VADEvent) String() string {
	switch e {
	case SpeechStart:
		return "SpeechStart"
	case SpeechEnd:
		return "SpeechEnd"
	}
	return "None"
}

// VADResult is the VAD's answer for one frame.
type VADResult struct {
	// Speech is the raw decision for this frame.
	Speech bool
	// Active is the smoothed state after hang-over and minimum duration.
	Active bool
	// Event reports a change of Active on this frame.
	Event VADEvent
	// EventSample is, for SpeechStart, the stream position (in samples
	// since the VAD started) of the first frame of the speech run, and
	// for SpeechEnd the position just after its last speech frame: the
	// event is reported later (by MinSpeech or Hangover) than it happened.
	EventSample int64
	// Score is the weighted mean log likelihood ratio of speech over
	// noise across the bands (positive favours speech).
	Score float64
}

// vadBands are the sub-band edges of the WebRTC VAD, in Hz.
var vadBands = [...]float64{80, 250, 500, 1000, 2000, 3000, 4000}

const (
	vadNumBands  = len(vadBands) - 1
	vadWindow    = 240 // 30 ms analysis window at 8 kHz
	vadFFT       = 256
	vadMinBlocks = 8  // noise floor tracked over 8 blocks…
	vadBlockLen  = 25 // …of 25 × 10 ms: 2 s
)

// vadHamming is the analysis window, one read-only copy shared by every
// VAD of the process (see sharedTables).
var vadHamming = sync.OnceValue(func() []float64 { return Hamming(vadWindow) })

// vadWeights favour the bands where speech energy sits above telephone
// noise (250–2000 Hz), as WebRTC's spectrum weights do.
var vadWeights = [vadNumBands]float64{0.6, 1.0, 1.2, 1.2, 0.9, 0.6}

// VAD is a voice activity detector for 8 kHz speech fed in 10 or 20 ms
// frames. It follows the WebRTC VAD's design in floating point: per frame,
// the log energies of six sub-bands (80–250–500–1000–2000–3000–4000 Hz);
// per band, a two-Gaussian model (noise and speech) whose means and spreads
// adapt — the noise one on frames judged noise, held near a minimum-
// statistics floor so it keeps tracking through long speech; a likelihood
// ratio test per band and over the weighted bands; then hang-over and
// minimum-duration smoothing into SpeechStart/SpeechEnd events. Not safe
// for concurrent use.
type VAD struct {
	cfg       VADConfig
	fft       *FFT
	window    []float64
	hist      []float64 // last vadWindow samples
	frame     []float64 // windowed analysis, zero-padded to vadFFT
	spec      []float64
	bandLo    [vadNumBands]int
	bandHi    [vadNumBands]int
	minPower  float64
	hangover  int64 // samples
	minSpeech int64 // samples

	noiseMean, noiseVar   [vadNumBands]float64
	speechMean, speechVar [vadNumBands]float64
	// ½·ln of each variance, kept with it: the variances change at most
	// once a frame, the likelihoods need them twice per band.
	noiseHalfLog, speechHalfLog [vadNumBands]float64
	// The noise adaptation rate for adaptTicks 10 ms units, cached: the
	// frame length rarely changes and math.Pow is not cheap.
	adaptTicks int
	adaptRate  float64
	blockMin   [vadNumBands][vadMinBlocks]float64
	curMin     [vadNumBands]float64
	blockFill  int // 10 ms units in the current block
	block      int
	frames     int // frames seen, for the start-up phase

	pos        int64 // samples seen
	active     bool
	runStart   int64 // start of the current raw speech run, −1 if none
	runSpeech  int64 // speech samples in that run
	lastSpeech int64 // end of the last raw speech frame
}

// NewVAD returns a VAD for 8 kHz audio.
func NewVAD(cfg VADConfig) (*VAD, error) {
	if cfg.Threshold == 0 {
		cfg.Threshold = 1.0
	}
	if cfg.BandThreshold == 0 {
		cfg.BandThreshold = 3.5
	}
	if cfg.MinEnergyDBFS == 0 {
		cfg.MinEnergyDBFS = -60
	}
	if cfg.Hangover == 0 {
		cfg.Hangover = 300 * time.Millisecond
	}
	if cfg.MinSpeech == 0 {
		cfg.MinSpeech = 60 * time.Millisecond
	}
	if cfg.NoiseAdaptation == 0 {
		cfg.NoiseAdaptation = 0.03
	}
	if cfg.NoiseAdaptation < 0 || cfg.NoiseAdaptation > 1 || math.IsNaN(cfg.Threshold) {
		return nil, fmt.Errorf("vad noise adaptation %g: %w", cfg.NoiseAdaptation, ErrConfig)
	}
	fft, _ := NewFFT(vadFFT)
	v := &VAD{cfg: cfg, fft: fft, window: vadHamming(), hist: make([]float64, vadWindow),
		frame:     make([]float64, vadFFT), // the tail past vadWindow stays zero
		spec:      make([]float64, fft.Bins()),
		minPower:  32768 * 32768 * math.Pow(10, cfg.MinEnergyDBFS/10),
		hangover:  max(int64(cfg.Hangover*SampleRate/time.Second), 0),
		minSpeech: max(int64(cfg.MinSpeech*SampleRate/time.Second), 0),
		runStart:  -1}
	binHz := float64(SampleRate) / vadFFT
	for b := 0; b < vadNumBands; b++ {
		v.bandLo[b] = int(math.Ceil(vadBands[b] / binHz))
		v.bandHi[b] = min(int(math.Ceil(vadBands[b+1]/binHz)), fft.Bins())
	}
	v.Reset()
	return v, nil
}

// Reset returns the VAD to its initial state, as for a new call.
func (v *VAD) Reset() {
	clear(v.hist)
	for b := range v.noiseMean {
		v.noiseMean[b], v.noiseVar[b] = 0, 9
		v.speechMean[b], v.speechVar[b] = 0, 64
		v.noiseHalfLog[b] = 0.5 * math.Log(v.noiseVar[b])
		v.speechHalfLog[b] = 0.5 * math.Log(v.speechVar[b])
		for i := range v.blockMin[b] {
			v.blockMin[b][i] = math.Inf(1)
		}
		v.curMin[b] = math.Inf(1)
	}
	v.blockFill, v.block, v.frames = 0, 0, 0
	v.pos, v.active, v.runStart, v.lastSpeech = 0, false, -1, 0
}

// Process analyses one frame (normally 160 samples, 20 ms; 80 samples for
// 10 ms decisions; other lengths work) and returns the decision.
func (v *VAD) Process(frame []int16) VADResult {
	n := len(frame)
	if n == 0 {
		return VADResult{Active: v.active}
	}
	src := frame
	if len(src) > vadWindow {
		src = src[len(src)-vadWindow:]
	}
	copy(v.hist, v.hist[len(src):])
	off := vadWindow - len(src)
	var power float64
	for i, s := range src {
		x := float64(s)
		v.hist[off+i] = x
		power += x * x
	}
	return v.analyse(n, power/float64(len(src)))
}

// processFloat is Process for a frame already converted to float64, with
// sumSq the sum of its squared samples (which the Chain has computed for
// the energy): the same decision without converting the samples again.
func (v *VAD) processFloat(frame []float64, sumSq float64) VADResult {
	n := len(frame)
	if n == 0 {
		return VADResult{Active: v.active}
	}
	src := frame
	if len(src) > vadWindow {
		src = src[len(src)-vadWindow:]
		sumSq = 0
		for _, x := range src {
			sumSq += x * x
		}
	}
	copy(v.hist, v.hist[len(src):])
	copy(v.hist[vadWindow-len(src):], src)
	return v.analyse(n, sumSq/float64(len(src)))
}

// analyse runs the detector on the history once the newest n samples, of
// mean square power, are in it.
func (v *VAD) analyse(n int, power float64) VADResult {
	ticks := max(n/80, 1) // 10 ms units, for rates given per 10 ms

	// The window goes straight into the FFT's zero-padded input.
	ApplyWindow(v.frame[:vadWindow], v.hist, v.window)
	v.fft.PowerSpectrum(v.spec, v.frame)
	var x [vadNumBands]float64
	for b := range x {
		var s float64
		for k := v.bandLo[b]; k < v.bandHi[b]; k++ {
			s += v.spec[k]
		}
		// The +1 keeps digital silence finite (about −200 dB re full scale).
		x[b] = 10 * math.Log10(s/float64(v.bandHi[b]-v.bandLo[b])+1)
	}

	score, speech := v.classify(&x, power)
	v.adapt(&x, speech, ticks)
	return v.smooth(speech, score, int64(n))
}

// classify computes the per-band and weighted log likelihood ratios.
func (v *VAD) classify(x *[vadNumBands]float64, power float64) (float64, bool) {
	if v.frames < 4 {
		// Start-up: the first frames seed the noise model; calls open
		// on ring tone or silence, not on speech.
		return 0, false
	}
	thr, bandThr := v.cfg.Threshold, v.cfg.BandThreshold
	if v.active || v.runStart >= 0 {
		// Hysteresis: inside speech, or once a run has begun, weaker
		// evidence keeps it going, so soft word edges are not chopped.
		thr *= 0.5
		bandThr *= 0.67
	}
	var sum, wsum float64
	bandHit := false
	for b, xb := range x {
		ln := logGaussHL(xb, v.noiseMean[b], v.noiseVar[b], v.noiseHalfLog[b])
		ls := logGaussHL(xb, v.speechMean[b], v.speechVar[b], v.speechHalfLog[b])
		llr := ls - ln
		if xb < v.noiseMean[b] {
			// Below the noise mean is never evidence for speech, however
			// wide the speech Gaussian is.
			llr = math.Min(llr, 0)
		}
		llr = math.Max(llr, -10) // one dead band must not veto the rest
		if llr > bandThr {
			bandHit = true
		}
		sum += vadWeights[b] * llr
		wsum += vadWeights[b]
	}
	score := sum / wsum
	speech := (score > thr || bandHit) && power >= v.minPower
	return score, speech
}

// logGaussHL is the log density of a Gaussian, up to a constant, with
// ½·ln(variance) supplied by the caller.
func logGaussHL(x, mean, variance, halfLogVar float64) float64 {
	d := x - mean
	return -0.5*d*d/variance - halfLogVar
}

// adapt updates the noise and speech models and the noise floor tracker.
func (v *VAD) adapt(x *[vadNumBands]float64, speech bool, ticks int) {
	v.frames++
	if ticks != v.adaptTicks {
		v.adaptTicks = ticks
		v.adaptRate = 1 - math.Pow(1-v.cfg.NoiseAdaptation, float64(ticks))
	}
	a := v.adaptRate
	if v.frames <= 4 {
		a = 1 / float64(v.frames) // plain mean of the first frames
	}
	for b, xb := range x {
		v.curMin[b] = math.Min(v.curMin[b], xb)
		floor := v.curMin[b]
		for _, m := range v.blockMin[b] {
			floor = math.Min(floor, m)
		}
		sd := math.Sqrt(v.noiseVar[b])
		if !speech {
			// Quiet frames inside an utterance (soft consonants, short
			// pauses) are not noise: while the smoothed state is active
			// the noise model barely moves.
			a := a
			if v.active {
				a *= 0.1
			}
			d := xb - v.noiseMean[b]
			v.noiseMean[b] += a * d
			v.noiseVar[b] += a * (d*d - v.noiseVar[b])
			// Spread between 1 dB (white noise, long window) and 8 dB
			// (babble): wider would make the model deaf to quiet speech.
			v.noiseVar[b] = min(max(v.noiseVar[b], 1), 64)
			v.noiseHalfLog[b] = 0.5 * math.Log(v.noiseVar[b])
		} else {
			d := xb - v.speechMean[b]
			v.speechMean[b] += 0.5 * a * d
			v.speechVar[b] += 0.5 * a * (d*d - v.speechVar[b])
			v.speechVar[b] = min(max(v.speechVar[b], 16), 144)
			v.speechHalfLog[b] = 0.5 * math.Log(v.speechVar[b])
		}
		// The minimum over 2 s sits about 2.5 σ under the noise mean in
		// stationary noise. Keep the mean within reach of that floor: down
		// at once (speech mistaken for noise at the start), up slowly
		// (the noise got louder while every frame was called speech).
		if v.frames > vadBlockLen/2 {
			hi := floor + 2.5*sd + 3
			if v.noiseMean[b] > hi {
				v.noiseMean[b] = hi
			} else if lo := floor + 1.5*sd; v.noiseMean[b] < lo {
				// A mean under the minimum of the whole window is stale:
				// the noise got louder. Jump to the floor, then creep up.
				v.noiseMean[b] = max(v.noiseMean[b], floor)
				v.noiseMean[b] += 0.02 * float64(ticks) * (lo - v.noiseMean[b])
			}
		}
		// Speech sits at least 6 dB over the noise, as WebRTC keeps its
		// two means apart.
		if v.frames <= 4 || v.speechMean[b] < v.noiseMean[b]+6+sd {
			v.speechMean[b] = max(v.speechMean[b], v.noiseMean[b]+6+sd)
		}
	}
	v.blockFill += ticks
	if v.blockFill >= vadBlockLen {
		v.blockFill = 0
		for b := range x {
			v.blockMin[b][v.block] = v.curMin[b]
			v.curMin[b] = math.Inf(1)
		}
		v.block = (v.block + 1) % vadMinBlocks
	}
}

// smooth turns raw decisions into the hang-over state and its events.
func (v *VAD) smooth(speech bool, score float64, n int64) VADResult {
	start := v.pos
	v.pos += n
	r := VADResult{Speech: speech, Score: score}
	if speech {
		if v.runStart < 0 {
			v.runStart = start
			v.runSpeech = 0
		}
		v.runSpeech += n
		v.lastSpeech = v.pos
	} else if !v.active && v.pos-v.lastSpeech > n {
		// A run survives one missed frame: under noise, a word's frames
		// are rarely all detected in a row.
		v.runStart = -1
	}
	switch {
	case !v.active && speech && v.runSpeech >= v.minSpeech:
		v.active = true
		r.Event, r.EventSample = SpeechStart, v.runStart
	case v.active && !speech && v.pos-v.lastSpeech >= v.hangover:
		v.active = false
		v.runStart = -1
		r.Event, r.EventSample = SpeechEnd, v.lastSpeech
	}
	r.Active = v.active
	return r
}
