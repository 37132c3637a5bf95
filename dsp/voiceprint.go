package dsp

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrTooShort reports an utterance with too little speech to characterise
// a speaker.
var ErrTooShort = errors.New("dsp: too little speech for a voiceprint")

// VoiceprintConfig configures a SpeakerVerifier. The zero value gives the
// defaults named on each field; Threshold and StatsWeight were chosen on a
// tuning set of synthetic voices (docs/dsp-voiceprint-report.md) and must be
// recalibrated on real callers before a Match is trusted.
type VoiceprintConfig struct {
	// MFCC configures the cepstra (zero value: 13 cepstra of 25 ms windows
	// every 10 ms at 8 kHz); c0 is dropped and deltas are appended.
	MFCC MFCCConfig
	// Band is the Sakoe-Chiba band of the text-dependent DTW, as a fraction
	// of the longer utterance. Zero means 0.15.
	Band float64
	// StatsWeight scales the text-independent distance in the combined
	// score. Zero means 20, the best of a sweep on the tuning voices.
	StatsWeight float64
	// Threshold is the combined distance at or under which an utterance
	// matches. Zero means 2.85, the equal-error point on the tuning voices.
	Threshold float64
	// StatsThreshold is the Stats distance at or under which an utterance
	// matches by the text-independent score alone (StatsMatch). Zero means
	// 0.021, the equal-error point on the tuning voices.
	StatsThreshold float64
	// MinSpeech is the least speech an utterance must hold. Zero means
	// 500 ms.
	MinSpeech time.Duration
	// UBM, when set, is a universal background model (TrainGMM on the
	// Seq frames of many speakers, not the ones to verify): enrolment then
	// adapts it to the speaker and verification adds a text-independent
	// log-likelihood ratio (VoiceScore.LLR). Nil means no GMM scoring.
	UBM *GMM
	// Relevance is the MAP adaptation relevance factor. Zero means 16.
	Relevance float64
	// LLRThreshold is the LLR at or above which an utterance matches by
	// the GMM (GMMMatch). Zero means 0.13, the equal-error point on the
	// tuning voices saying other sentences than they enrolled with
	// (docs/dsp-voiceprint-report.md).
	LLRThreshold float64
}

// VoiceFeatures are what a SpeakerVerifier keeps of one utterance.
type VoiceFeatures struct {
	// Seq is the MFCC sequence of the speech frames (c1… and their deltas),
	// normalised to zero mean and unit variance per dimension over the
	// utterance: the template for DTW.
	Seq [][]float64
	// Mean and Var are the per-dimension mean and variance of the same
	// frames before mean removal: a diagonal Gaussian of the voice.
	Mean, Var []float64
}

// Voiceprint is an enrolled speaker: DTW templates for a passphrase and a
// pooled diagonal Gaussian. Its fields are plain data, for storing.
type Voiceprint struct {
	// Templates are the enrolment utterances' features.
	Templates []VoiceFeatures
	// Mean and Var pool all enrolment frames.
	Mean, Var []float64
	// GMM is the UBM adapted to the speaker, when the verifier has a UBM.
	GMM *GMM
}

// VoiceScore is the result of verifying an utterance against a Voiceprint.
// All distances are lower for more alike.
type VoiceScore struct {
	// DTW is the smallest path-normalised DTW distance to a template:
	// meaningful when the utterance says the enrolled passphrase.
	DTW float64
	// Stats compares the utterance's and the voiceprint's diagonal
	// Gaussians of static cepstra: mean difference squared over summed
	// variance, averaged over dimensions. It does not depend on the words
	// said.
	Stats float64
	// Combined is DTW + StatsWeight·Stats.
	Combined float64
	// Match reports Combined ≤ Threshold: the verdict when the utterance
	// says the enrolled passphrase.
	Match bool
	// StatsMatch reports Stats ≤ StatsThreshold: the verdict for other
	// words, weaker (docs/dsp-voiceprint-report.md).
	StatsMatch bool
	// GMMScored reports whether LLR and GMMMatch were computed (the
	// verifier has a UBM and the voiceprint a GMM).
	GMMScored bool
	// LLR is the mean per-frame log-likelihood of the utterance under the
	// speaker's GMM minus that under the UBM: higher is more alike,
	// whatever the words.
	LLR float64
	// GMMMatch reports LLR ≥ LLRThreshold.
	GMMMatch bool
}

// SpeakerVerifier extracts voice features, enrols speakers and verifies
// utterances. It owns scratch buffers: not safe for concurrent use.
type SpeakerVerifier struct {
	cfg     VoiceprintConfig
	mfcc    *MFCC
	framer  *Framer
	dtw     *DTW
	window  []float64
	ceps    []float64
	minKeep int
}

// NewSpeakerVerifier returns a verifier for cfg.
func NewSpeakerVerifier(cfg VoiceprintConfig) (*SpeakerVerifier, error) {
	if cfg.StatsWeight == 0 {
		cfg.StatsWeight = 20
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 2.85
	}
	if cfg.MinSpeech == 0 {
		cfg.MinSpeech = 500 * time.Millisecond
	}
	if cfg.StatsThreshold == 0 {
		cfg.StatsThreshold = 0.021
	}
	if cfg.Relevance == 0 {
		cfg.Relevance = 16
	}
	if cfg.LLRThreshold == 0 {
		cfg.LLRThreshold = 0.13
	}
	if cfg.StatsWeight < 0 || cfg.Threshold < 0 || cfg.StatsThreshold < 0 || cfg.MinSpeech < 0 || cfg.Relevance < 0 {
		return nil, fmt.Errorf("voiceprint config %+v: %w", cfg, ErrConfig)
	}
	m, err := NewMFCC(cfg.MFCC)
	if err != nil {
		return nil, fmt.Errorf("voiceprint mfcc: %w", err)
	}
	if m.NumCeps() < 2 {
		return nil, fmt.Errorf("voiceprint needs ≥ 2 cepstra, got %d: %w", m.NumCeps(), ErrConfig)
	}
	if u := cfg.UBM; u != nil {
		dim := 2 * (m.NumCeps() - 1)
		if len(u.Weights) == 0 || len(u.Means) != len(u.Weights) || len(u.Vars) != len(u.Weights) {
			return nil, fmt.Errorf("voiceprint UBM with %d weights, %d means, %d variances: %w", len(u.Weights), len(u.Means), len(u.Vars), ErrConfig)
		}
		for c := range u.Means {
			if len(u.Means[c]) != dim || len(u.Vars[c]) != dim {
				return nil, fmt.Errorf("voiceprint UBM component %d has %d/%d dimensions, features have %d: %w", c, len(u.Means[c]), len(u.Vars[c]), dim, ErrConfig)
			}
		}
	}
	rate := cfg.MFCC.SampleRate
	if rate == 0 {
		rate = SampleRate
	}
	fr, err := NewFramer(FramerConfig{SampleRate: rate, WindowSamples: m.WindowSamples()})
	if err != nil {
		return nil, fmt.Errorf("voiceprint framer: %w", err)
	}
	hop := fr.HopSamples()
	return &SpeakerVerifier{cfg: cfg, mfcc: m, framer: fr, dtw: NewDTW(cfg.Band),
		window: make([]float64, m.WindowSamples()), ceps: make([]float64, m.NumCeps()),
		minKeep: max(1, int(cfg.MinSpeech.Seconds()*float64(rate))/hop)}, nil
}

// Extract computes the features of one utterance (8 kHz samples unless the
// MFCC config says otherwise). Frames more than 30 dB under the loudest, or
// under −55 dBFS, are left out; an utterance with less than MinSpeech of
// speech gives ErrTooShort.
func (v *SpeakerVerifier) Extract(samples []int16) (VoiceFeatures, error) {
	v.framer.Reset()
	v.framer.Write(samples)
	var statics [][]float64
	var levels []float64
	for v.framer.Next(v.window) {
		level := EnergyDBFSFloat(v.window)
		v.mfcc.Compute(v.ceps, v.window)
		statics = append(statics, append([]float64(nil), v.ceps[1:]...))
		levels = append(levels, level)
	}
	loudest := math.Inf(-1)
	for _, l := range levels {
		loudest = math.Max(loudest, l)
	}
	// Deltas over the whole utterance, so kept frames keep their context.
	dim := len(v.ceps) - 1
	deltas := make([][]float64, len(statics))
	for i := range deltas {
		deltas[i] = make([]float64, dim)
	}
	Delta(deltas, statics, 2)
	var kept [][]float64
	for i, l := range levels {
		if l >= loudest-30 && l >= -55 {
			kept = append(kept, append(statics[i], deltas[i]...))
		}
	}
	if len(kept) < v.minKeep {
		return VoiceFeatures{}, fmt.Errorf("%d speech frames of %d needed: %w", len(kept), v.minKeep, ErrTooShort)
	}
	f := VoiceFeatures{Seq: kept}
	f.Mean, f.Var = gaussian(kept)
	// Mean and variance normalisation: the lifter scales cepstra up to ten
	// times, and DTW's Euclidean distance should weigh them alike.
	for _, fr := range f.Seq {
		for k := range fr {
			fr[k] = (fr[k] - f.Mean[k]) / math.Sqrt(f.Var[k])
		}
	}
	return f, nil
}

// Enroll builds a voiceprint from one or more utterances of the speaker
// (for text-dependent use, the same passphrase each time).
func (v *SpeakerVerifier) Enroll(utts ...VoiceFeatures) (*Voiceprint, error) {
	var all [][]float64
	p := &Voiceprint{}
	for _, u := range utts {
		if len(u.Seq) == 0 || len(u.Mean) == 0 {
			continue
		}
		p.Templates = append(p.Templates, u)
		// Pool raw frames: undo the template's normalisation.
		for _, f := range u.Seq {
			raw := make([]float64, len(f))
			for k := range min(len(f), len(u.Mean), len(u.Var)) {
				raw[k] = f[k]*math.Sqrt(u.Var[k]) + u.Mean[k]
			}
			all = append(all, raw)
		}
	}
	if len(p.Templates) == 0 {
		return nil, fmt.Errorf("enrol with no usable utterance: %w", ErrTooShort)
	}
	p.Mean, p.Var = gaussian(all)
	if v.cfg.UBM != nil {
		var seq [][]float64
		for _, t := range p.Templates {
			seq = append(seq, t.Seq...)
		}
		p.GMM = v.cfg.UBM.MAPAdapt(seq, v.cfg.Relevance)
	}
	return p, nil
}

// Verify scores an utterance's features against a voiceprint.
func (v *SpeakerVerifier) Verify(p *Voiceprint, u VoiceFeatures) VoiceScore {
	s := VoiceScore{DTW: math.Inf(1), Stats: math.Inf(1), Combined: math.Inf(1)}
	if p == nil || len(u.Seq) == 0 {
		return s
	}
	for _, t := range p.Templates {
		s.DTW = math.Min(s.DTW, v.dtw.Distance(t.Seq, u.Seq))
	}
	s.Stats = meanDistance(p.Mean, p.Var, u.Mean, u.Var)
	s.Combined = s.DTW + v.cfg.StatsWeight*s.Stats
	s.Match = s.Combined <= v.cfg.Threshold
	s.StatsMatch = s.Stats <= v.cfg.StatsThreshold
	if v.cfg.UBM != nil && p.GMM != nil {
		s.GMMScored = true
		s.LLR = p.GMM.LogLikelihood(u.Seq) - v.cfg.UBM.LogLikelihood(u.Seq)
		s.GMMMatch = s.LLR >= v.cfg.LLRThreshold
	}
	return s
}

// gaussian returns the per-dimension mean and variance of frames, the
// variance floored so a constant dimension cannot divide by zero.
func gaussian(frames [][]float64) (mean, variance []float64) {
	if len(frames) == 0 {
		return nil, nil
	}
	dim := len(frames[0])
	mean, variance = make([]float64, dim), make([]float64, dim)
	for _, f := range frames {
		for k := range min(dim, len(f)) {
			mean[k] += f[k]
		}
	}
	n := float64(len(frames))
	for k := range mean {
		mean[k] /= n
	}
	for _, f := range frames {
		for k := range min(dim, len(f)) {
			d := f[k] - mean[k]
			variance[k] += d * d
		}
	}
	for k := range variance {
		variance[k] = math.Max(variance[k]/n, 1e-3)
	}
	return mean, variance
}

// meanDistance compares two diagonal Gaussians by their means over the
// static half of the dimensions (the deltas' means are near zero for
// everyone): the squared difference divided by the summed variances,
// averaged. Variances themselves, estimated from a few seconds, proved too
// noisy to compare (a symmetric Kullback-Leibler divergence did worse on the
// tuning voices).
func meanDistance(m1, v1, m2, v2 []float64) float64 {
	dim := min(len(m1), len(v1), len(m2), len(v2)) / 2
	if dim == 0 {
		return math.Inf(1)
	}
	var s float64
	for k := range dim {
		d := m1[k] - m2[k]
		s += d * d / (v1[k] + v2[k])
	}
	return s / float64(dim)
}
