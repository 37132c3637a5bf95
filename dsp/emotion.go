package dsp

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// EmotionLabel is the arousal of an utterance relative to the same caller's
// earlier ones.
type EmotionLabel int

// Emotion labels.
const (
	// EmotionNeutral: within this caller's usual range.
	EmotionNeutral EmotionLabel = iota
	// EmotionCalm: slower, lower, quieter than this caller usually speaks.
	EmotionCalm
	// EmotionAgitated: faster, higher, louder than this caller usually
	// speaks: a cue for the dialog to de-escalate or hand over to a person.
	EmotionAgitated
)

// String returns the label in lower case.
func (l EmotionLabel) String() string {
	switch l {
	case EmotionCalm:
		return "calm"
	case EmotionAgitated:
		return "agitated"
	}
	return "neutral"
}

// UtteranceCues are the prosodic measurements of one utterance.
type UtteranceCues struct {
	// Duration of the utterance as fed.
	Duration time.Duration
	// VoicedFrames is how many frames had a pitch; the f0 cues are zero
	// when there are fewer than three.
	VoicedFrames int
	// F0MeanHz is the geometric mean f0 of voiced frames.
	F0MeanHz float64
	// F0RangeSemitones is the spread of f0, 90th minus 10th percentile.
	F0RangeSemitones float64
	// F0SlopeSemitonesPerSec is the least-squares trend of f0 over the
	// utterance (positive rises, as in a question).
	F0SlopeSemitonesPerSec float64
	// EnergyMeanDBFS is the mean level of speech frames, in dBFS.
	EnergyMeanDBFS float64
	// EnergyStdDB is the standard deviation of the level of speech frames.
	EnergyStdDB float64
	// SyllablesPerSec is the count of syllable nuclei (peaks of the voiced
	// energy envelope with a dip of at least 2 dB between them) per second
	// of the utterance.
	SyllablesPerSec float64
	// PauseRatio is the share of frames that are pauses (more than 30 dB
	// under the utterance's loudest frame, or within 6 dB of its noise
	// floor and 6 dB under its loudest).
	PauseRatio float64
}

// EmotionResult is the verdict on one utterance.
type EmotionResult struct {
	// Cues are the utterance's measurements.
	Cues UtteranceCues
	// Arousal is the weighted mean of the cues' z-scores against the
	// caller's baseline (docs/dsp-emotion.md): 0 is this caller's usual,
	// positive is more aroused.
	Arousal float64
	// Label is Arousal thresholded.
	Label EmotionLabel
	// Baseline is how many earlier utterances the baseline held; 0 means
	// the neutral prior decided (Arousal 0).
	Baseline int
}

// EmotionConfig tunes an EmotionTracker. The zero value gives the defaults
// named on each field.
type EmotionConfig struct {
	// Pitch configures the f0 tracker (zero value: 70–400 Hz YIN).
	Pitch PitchConfig
	// MaxUtterance bounds the frames kept per utterance; later frames are
	// ignored. Zero means 30 s.
	MaxUtterance time.Duration
	// AgitatedAt is the arousal at or above which an utterance is
	// agitated. Zero means 1.0.
	AgitatedAt float64
	// CalmAt is the arousal at or below which an utterance is calm. Zero
	// means −1.0.
	CalmAt float64
	// PriorUtterances is the weight, in utterances, of the prior spread of
	// each cue when the caller's own spread is still unknown. Zero means 3.
	PriorUtterances float64
}

// emotionCue indexes the cues that enter the arousal score.
const (
	cueF0 = iota
	cueF0Range
	cueEnergy
	cueEnergyStd
	cueRate
	cuePause
	numCues
)

// Per cue: the arousal weight (a pause-rich utterance is calmer) and the
// prior within-speaker spread, from the prosody literature's typical
// utterance-to-utterance variation of one speaker in neutral speech.
var (
	cueWeights     = [numCues]float64{1, 0.5, 1, 0.5, 1, -0.5}
	cuePriorSpread = [numCues]float64{1.5, 1.5, 3, 1.5, 0.6, 0.1}
)

// EmotionTracker measures prosodic cues of a caller's utterances and scores
// each against the caller's running baseline. Feed the frames of one
// utterance (from speech start to speech end, e.g. from the VAD) to Process,
// then call EndUtterance. One tracker per caller; not safe for concurrent
// use.
type EmotionTracker struct {
	cfg    EmotionConfig
	pitch  *PitchTracker
	db     []float64 // per frame level, dBFS
	st     []float64 // per frame f0 in semitones re 100 Hz, NaN if unvoiced
	frames int       // frames fed this utterance (may exceed len(db))
	sorted []float64 // scratch for percentiles

	n        int // utterances in the baseline
	mean, m2 [numCues]float64
}

// NewEmotionTracker returns a tracker for one caller.
func NewEmotionTracker(cfg EmotionConfig) (*EmotionTracker, error) {
	if cfg.MaxUtterance == 0 {
		cfg.MaxUtterance = 30 * time.Second
	}
	if cfg.AgitatedAt == 0 {
		cfg.AgitatedAt = 1
	}
	if cfg.CalmAt == 0 {
		cfg.CalmAt = -1
	}
	if cfg.PriorUtterances == 0 {
		cfg.PriorUtterances = 3
	}
	if cfg.MaxUtterance < 0 || cfg.CalmAt >= cfg.AgitatedAt || cfg.PriorUtterances < 0 {
		return nil, fmt.Errorf("emotion config %+v: %w", cfg, ErrConfig)
	}
	pitch, err := NewPitchTracker(cfg.Pitch)
	if err != nil {
		return nil, fmt.Errorf("emotion pitch tracker: %w", err)
	}
	maxFrames := int(cfg.MaxUtterance / (20 * time.Millisecond))
	return &EmotionTracker{cfg: cfg, pitch: pitch,
		db: make([]float64, 0, maxFrames), st: make([]float64, 0, maxFrames),
		sorted: make([]float64, 0, maxFrames)}, nil
}

// Process accumulates one 20 ms frame of the current utterance.
func (e *EmotionTracker) Process(frame []int16) {
	e.frames++
	p := e.pitch.Process(frame)
	if len(e.db) == cap(e.db) {
		return
	}
	st := math.NaN()
	if p.Voiced && p.Hz > 0 {
		st = 12 * math.Log2(p.Hz/100)
	}
	e.db = append(e.db, EnergyDBFS(frame))
	e.st = append(e.st, st)
}

// EndUtterance measures the utterance fed since the last call, scores it
// against the caller's baseline, adds it to the baseline and readies the
// tracker for the next utterance. An utterance with no voiced speech is
// scored neutral and left out of the baseline.
func (e *EmotionTracker) EndUtterance() EmotionResult {
	cues := e.measure()
	res := e.Score(cues)
	if cues.VoicedFrames >= 3 {
		e.add(cueVector(cues))
	}
	e.db, e.st, e.frames = e.db[:0], e.st[:0], 0
	e.pitch.Reset()
	return res
}

// Reset forgets the baseline and any utterance in progress: a new caller.
func (e *EmotionTracker) Reset() {
	e.db, e.st, e.frames = e.db[:0], e.st[:0], 0
	e.pitch.Reset()
	e.n, e.mean, e.m2 = 0, [numCues]float64{}, [numCues]float64{}
}

// Score rates cues against the baseline without changing it.
func (e *EmotionTracker) Score(cues UtteranceCues) EmotionResult {
	res := EmotionResult{Cues: cues, Baseline: e.n}
	if e.n == 0 || cues.VoicedFrames < 3 {
		return res // the neutral prior: a caller's first utterance is their usual
	}
	x := cueVector(cues)
	var sum, wsum float64
	for i := range numCues {
		// The spread blends the prior with what this caller has shown.
		k := e.cfg.PriorUtterances
		variance := (k*cuePriorSpread[i]*cuePriorSpread[i] + e.m2[i]) / (k + float64(e.n-1))
		z := (x[i] - e.mean[i]) / math.Sqrt(variance)
		sum += cueWeights[i] * z
		wsum += math.Abs(cueWeights[i])
	}
	res.Arousal = sum / wsum
	switch {
	case res.Arousal >= e.cfg.AgitatedAt:
		res.Label = EmotionAgitated
	case res.Arousal <= e.cfg.CalmAt:
		res.Label = EmotionCalm
	}
	return res
}

// add puts one utterance's cues into the running baseline (Welford).
func (e *EmotionTracker) add(x [numCues]float64) {
	e.n++
	for i := range numCues {
		d := x[i] - e.mean[i]
		e.mean[i] += d / float64(e.n)
		e.m2[i] += d * (x[i] - e.mean[i])
	}
}

func cueVector(c UtteranceCues) [numCues]float64 {
	return [numCues]float64{
		cueF0:        12 * math.Log2(math.Max(c.F0MeanHz, 1)/100),
		cueF0Range:   c.F0RangeSemitones,
		cueEnergy:    c.EnergyMeanDBFS,
		cueEnergyStd: c.EnergyStdDB,
		cueRate:      c.SyllablesPerSec,
		cuePause:     c.PauseRatio,
	}
}

// measure computes the cues of the frames kept.
func (e *EmotionTracker) measure() UtteranceCues {
	c := UtteranceCues{Duration: time.Duration(e.frames) * 20 * time.Millisecond}
	n := len(e.db)
	if n == 0 {
		return c
	}
	// Pauses: more than 30 dB under the loudest frame, or within 6 dB of
	// the quietest tenth (the noise floor) — but frames within 6 dB of the
	// loudest are speech, so a pause-free utterance has no pauses.
	e.sorted = append(e.sorted[:0], e.db...)
	slices.Sort(e.sorted)
	floor, loudest := e.sorted[n/10], e.sorted[n-1]
	thresh := math.Max(loudest-30, math.Min(floor+6, loudest-6))
	var speech int
	var sum, sum2 float64
	for _, v := range e.db {
		if v >= thresh {
			speech++
			sum += v
			sum2 += v * v
		}
	}
	c.PauseRatio = 1 - float64(speech)/float64(n)
	if speech > 0 {
		c.EnergyMeanDBFS = sum / float64(speech)
		c.EnergyStdDB = math.Sqrt(math.Max(0, sum2/float64(speech)-c.EnergyMeanDBFS*c.EnergyMeanDBFS))
	}

	// f0 over voiced speech frames: geometric mean, percentile range and
	// least-squares slope against time.
	e.sorted = e.sorted[:0]
	var st, t, tt, tst float64
	for i, v := range e.st {
		if math.IsNaN(v) || e.db[i] < thresh {
			continue
		}
		e.sorted = append(e.sorted, v)
		ti := float64(i) * 0.02
		st += v
		t += ti
		tt += ti * ti
		tst += ti * v
	}
	c.VoicedFrames = len(e.sorted)
	if nv := float64(len(e.sorted)); nv >= 3 {
		c.F0MeanHz = 100 * math.Pow(2, st/nv/12)
		slices.Sort(e.sorted)
		c.F0RangeSemitones = e.sorted[len(e.sorted)*9/10] - e.sorted[len(e.sorted)/10]
		if den := nv*tt - t*t; den > 0 {
			c.F0SlopeSemitonesPerSec = (nv*tst - t*st) / den
		}
	}
	c.SyllablesPerSec = float64(e.nuclei(thresh)) / c.Duration.Seconds()
	return c
}

// nuclei counts syllable nuclei: peaks of the 3-frame smoothed level that
// are speech, voiced within a frame, and separated from the previous nucleus
// by a dip of at least 2 dB (after de Jong & Wempe 2009, on 20 ms frames).
func (e *EmotionTracker) nuclei(thresh float64) int {
	const minDipDB = 2
	n := len(e.db)
	env := func(i int) float64 {
		lo, hi := max(0, i-1), min(n-1, i+1)
		var s float64
		for j := lo; j <= hi; j++ {
			s += e.db[j]
		}
		return s / float64(hi-lo+1)
	}
	voiced := func(i int) bool {
		for j := max(0, i-1); j <= min(n-1, i+1); j++ {
			if !math.IsNaN(e.st[j]) {
				return true
			}
		}
		return false
	}
	count := 0
	havePeak := false
	var peak, dip float64
	for i := 0; i < n; i++ {
		v := env(i)
		if havePeak {
			dip = math.Min(dip, v)
		}
		isPeak := (i == 0 || v > env(i-1)) && (i == n-1 || v >= env(i+1))
		if !isPeak || v < thresh || !voiced(i) {
			continue
		}
		switch {
		case !havePeak || (peak-dip >= minDipDB && v-dip >= minDipDB):
			count++
			havePeak, peak, dip = true, v, v
		case v > peak:
			// The same syllable, louder: move the nucleus.
			peak, dip = v, v
		}
	}
	return count
}
