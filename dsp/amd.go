package dsp

import (
	"math"
	"time"
)

// AMDKind is the verdict of answering-machine detection.
type AMDKind int

// AMD verdicts. The first result of a call is Human, MachineStart, Fax or
// Unknown; after MachineStart comes one of the MachineEnd kinds, telling
// when to start talking to the recorder.
const (
	// AMDUnknown: no rule decided within TotalAnalysisTime.
	AMDUnknown AMDKind = iota
	// AMDHuman: a person answered.
	AMDHuman
	// AMDMachineStart: a machine answered and its greeting is playing.
	AMDMachineStart
	// AMDMachineEndBeep: the greeting ended with a beep; recording has begun.
	AMDMachineEndBeep
	// AMDMachineEndSilence: the greeting ended in a long silence.
	AMDMachineEndSilence
	// AMDMachineEndOther: the greeting did not end within the time allowed.
	AMDMachineEndOther
	// AMDFax: a fax machine answered (CED 2100 Hz or CNG 1100 Hz).
	AMDFax
)

// String returns the verdict in snake case, as in reports and call events.
func (k AMDKind) String() string {
	switch k {
	case AMDHuman:
		return "human"
	case AMDMachineStart:
		return "machine_start"
	case AMDMachineEndBeep:
		return "machine_end_beep"
	case AMDMachineEndSilence:
		return "machine_end_silence"
	case AMDMachineEndOther:
		return "machine_end_other"
	case AMDFax:
		return "fax"
	}
	return "unknown"
}

// AMDResult is one verdict of an AMDDetector.
type AMDResult struct {
	// Kind is the verdict.
	Kind AMDKind
	// Confidence is in (0, 1]: how far the evidence was past the threshold
	// that decided it, 0.5 at the threshold.
	Confidence float64
	// At is when the verdict was reached, from the first frame fed (answer).
	At time.Duration
	// Reason names the rule that decided, e.g. "long_greeting",
	// "after_greeting_silence", "beep", "ced".
	Reason string
}

// AMDConfig tunes an AMDDetector. The zero value gives the defaults named
// on each field; they are Asterisk app_amd's parameters where those held on
// the test corpus (docs/dsp-amd-report.md), and otherwise say why not.
type AMDConfig struct {
	// InitialSilence: no speech for this long after answer means a machine
	// (one that records at once) or dead air. Zero means 2.5 s (Asterisk).
	InitialSilence time.Duration
	// Greeting is the voiced time (summed over words) past which the
	// greeting is a machine's. Zero means 1.8 s: Asterisk's 1.5 s called
	// people saying "Hi, John speaking." a machine on the tuning corpus.
	Greeting time.Duration
	// AfterGreetingSilence: this much silence after speech means a person
	// waiting for an answer. Zero means 800 ms (Asterisk).
	AfterGreetingSilence time.Duration
	// TotalAnalysisTime bounds the first verdict: Unknown if neither rule
	// fired by then. Zero means 5 s (Asterisk).
	TotalAnalysisTime time.Duration
	// MinWordLength is the shortest voiced run counted as a word. Zero
	// means 100 ms (Asterisk).
	MinWordLength time.Duration
	// BetweenWordsSilence is the shortest silence that separates words.
	// Zero means 100 ms: Asterisk's 50 ms splits more words, and with
	// them more people's greetings past MaxWords, on the tuning corpus.
	BetweenWordsSilence time.Duration
	// MaxWords is the word count at which the greeting is a machine's.
	// Zero means 6: Asterisk's 3 called "Hi, John speaking." a machine in
	// 8 of 12 tuning clips.
	// Negative disables the rule.
	MaxWords int
	// SpeechMarginDB is how far above the tracked noise floor a voiced
	// (periodic, by YIN) frame must be to count as speech; Asterisk uses a
	// fixed level instead (silence_threshold 256), which noise defeats.
	// Zero means 3 dB.
	SpeechMarginDB float64
	// LoudMarginDB is how far above the noise floor an unvoiced frame must
	// be to count as speech: fluctuating noise (babble, traffic) swings
	// 10 dB or more without being anyone's greeting. Zero means 20 dB.
	LoudMarginDB float64
	// MinSpeechDBFS is the quietest frame ever counted as speech. Zero
	// means −50 dBFS.
	MinSpeechDBFS float64
	// EndSilence: after MachineStart, this much silence ends the greeting
	// (machine_end_silence). Zero means 1.5 s, above the pauses between a
	// greeting's sentences.
	EndSilence time.Duration
	// MaxGreetingWait: after MachineStart, no end by this time since answer
	// gives machine_end_other. Zero means 30 s.
	MaxGreetingWait time.Duration
	// MinBeep is the shortest beep: a steady tone of BeepMinHz–BeepMaxHz
	// holding most of the power. Zero means 100 ms.
	MinBeep time.Duration
	// BeepMinHz and BeepMaxHz bound the beep's frequency. Zero means 350
	// and 2050 Hz.
	BeepMinHz, BeepMaxHz float64
	// BeepTonality is the share of a frame's power that the beep's peak
	// must hold. Zero means 0.7.
	BeepTonality float64
}

func (c AMDConfig) withDefaults() AMDConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.InitialSilence, 2500*time.Millisecond)
	def(&c.Greeting, 1800*time.Millisecond)
	def(&c.AfterGreetingSilence, 800*time.Millisecond)
	def(&c.TotalAnalysisTime, 5*time.Second)
	def(&c.MinWordLength, 100*time.Millisecond)
	def(&c.BetweenWordsSilence, 100*time.Millisecond)
	def(&c.EndSilence, 1500*time.Millisecond)
	def(&c.MaxGreetingWait, 30*time.Second)
	def(&c.MinBeep, 100*time.Millisecond)
	if c.MaxWords == 0 {
		c.MaxWords = 6
	}
	if c.SpeechMarginDB == 0 {
		c.SpeechMarginDB = 3
	}
	if c.LoudMarginDB == 0 {
		c.LoudMarginDB = 20
	}
	if c.MinSpeechDBFS == 0 {
		c.MinSpeechDBFS = -50
	}
	if c.BeepMinHz == 0 {
		c.BeepMinHz = 350
	}
	if c.BeepMaxHz == 0 {
		c.BeepMaxHz = 2050
	}
	if c.BeepTonality == 0 {
		c.BeepTonality = 0.7
	}
	return c
}

// amdPhase is where the detector is in a call.
type amdPhase int

const (
	amdGreeting   amdPhase = iota // before the first verdict
	amdMachineEnd                 // after MachineStart, waiting for the end
	amdDone
)

const (
	amdFFTSize      = 256
	noiseWinFrames  = 100 // 2 s of frame energies for the noise floor minimum
	faxMinFrames    = 20  // 400 ms of CED or CNG
	beepMaxFrames   = 100 // 2 s: a long beep is still a beep
	beepMaxSwingDB  = 4   // level range of a steady beep
	beepQuietFrames = 3   // 60 ms without speech after a beep
	beepGapFrames   = 5   // 100 ms without speech before a beep
)

// AMDDetector decides whether a person, an answering machine or a fax
// answered an outbound call, from 20 ms frames fed from answer time. It is a
// cadence detector in the spirit of Asterisk's app_amd — people say a short
// greeting and wait, machines talk on — with a noise-tracking speech detector
// instead of a fixed level, and beep and fax tone detection. Not safe for
// concurrent use.
type AMDDetector struct {
	cfg   AMDConfig
	phase amdPhase
	frame int64 // frames fed

	// Durations in frames, from cfg.
	initialSilence, greeting, afterGreeting, totalAnalysis int
	minWord, betweenWords, endSilence, maxWait, minBeep    int

	// Speech detector: minimum of recent frame energies as the noise floor.
	speech amdSpeech
	// vad, when set (by the evaluation only), replaces the speech decision
	// with the package VAD's raw one, to compare the two.
	vad *VAD

	// Greeting cadence.
	heardSpeech bool
	voiced      int // voiced frames since the first word, summed
	voiceRun    int
	gapRun      int // frames without speech
	silenceRun  int // frames without speech or tone
	words       int
	inWord      bool

	// Tones.
	beep     beepTracker
	ced, cng Goertzel
	cedRun   int
	cngRun   int

	pend    [FrameSamples]int16
	npend   int
	results []AMDResult
}

// amdFrames converts a duration to whole 20 ms frames, rounded, at least one.
func amdFrames(d time.Duration) int {
	return max(1, int((d+10*time.Millisecond)/(20*time.Millisecond)))
}

// NewAMDDetector returns a detector for one call, configured by cfg (see
// AMDConfig for the defaults of zero fields).
func NewAMDDetector(cfg AMDConfig) *AMDDetector {
	cfg = cfg.withDefaults()
	return &AMDDetector{
		cfg:            cfg,
		initialSilence: amdFrames(cfg.InitialSilence),
		greeting:       amdFrames(cfg.Greeting),
		afterGreeting:  amdFrames(cfg.AfterGreetingSilence),
		totalAnalysis:  amdFrames(cfg.TotalAnalysisTime),
		minWord:        amdFrames(cfg.MinWordLength),
		betweenWords:   amdFrames(cfg.BetweenWordsSilence),
		endSilence:     amdFrames(cfg.EndSilence),
		maxWait:        amdFrames(cfg.MaxGreetingWait),
		minBeep:        amdFrames(cfg.MinBeep),
		speech:         newAMDSpeech(cfg),
		beep:           newBeepTracker(cfg),
		ced:            NewGoertzel(2100, SampleRate),
		cng:            NewGoertzel(1100, SampleRate),
		results:        make([]AMDResult, 0, 2),
	}
}

// Done reports whether the detector has given its last verdict.
func (a *AMDDetector) Done() bool { return a.phase == amdDone }

// Process feeds the next samples (normally one 20 ms frame; other lengths
// are re-cut into 20 ms frames) and returns the verdicts reached in them:
// usually none, at most a first verdict and an end of greeting. The
// returned slice is reused by the next call.
func (a *AMDDetector) Process(frame []int16) []AMDResult {
	a.results = a.results[:0]
	if a.npend == 0 && len(frame) == FrameSamples {
		a.step(frame)
		return a.results
	}
	for len(frame) > 0 {
		n := copy(a.pend[a.npend:], frame)
		a.npend += n
		frame = frame[n:]
		if a.npend == FrameSamples {
			a.npend = 0
			a.step(a.pend[:])
		}
	}
	return a.results
}

func (a *AMDDetector) emit(kind AMDKind, conf float64, reason string) {
	at := time.Duration(a.frame+1) * 20 * time.Millisecond
	a.results = append(a.results, AMDResult{Kind: kind, Confidence: math.Max(0.01, math.Min(1, conf)), At: at, Reason: reason})
	switch kind {
	case AMDMachineStart:
		a.phase = amdMachineEnd
	default:
		a.phase = amdDone
	}
}

// step analyses one 20 ms frame.
func (a *AMDDetector) step(x []int16) {
	defer func() { a.frame++ }()
	if a.phase == amdDone {
		return
	}
	total := meanSquare(x)
	db := EnergyDBFS(x)
	speech := a.speech.isSpeech(x, db)
	if a.vad != nil {
		speech = a.vad.Process(x).Speech
	}
	tonal, beepEnded, beepFrames := a.beep.step(x, total, db, speech)
	if a.phase == amdGreeting && a.fax(x, total) {
		return
	}
	if tonal {
		speech = false // a beep is not a word, nor is it silence
	}
	if speech {
		a.voiceRun++
		if a.voiceRun >= 3 {
			// A blip of 40 ms or less (a noise burst, a click) does not
			// break a silence.
			a.silenceRun = 0
		}
	} else {
		a.gapRun++
		if a.gapRun >= a.betweenWords {
			a.voiceRun, a.inWord = 0, false
		}
	}
	switch {
	case tonal:
		a.silenceRun = 0
	case !speech:
		a.silenceRun++
	}
	if speech {
		a.gapRun = 0
	}
	switch a.phase {
	case amdGreeting:
		a.greetingStep(speech, beepEnded, beepFrames)
	case amdMachineEnd:
		a.machineEndStep(beepEnded, beepFrames)
	}
}

func (a *AMDDetector) greetingStep(speech, beepEnded bool, beepFrames int) {
	if beepEnded {
		// A beep before any verdict: a machine with a short greeting or
		// none, already recording.
		a.emit(AMDMachineStart, 0.9, "beep")
		a.emit(AMDMachineEndBeep, beepConfidence(beepFrames, a.minBeep), "beep")
		return
	}
	if speech {
		a.voiced++
		if !a.inWord && a.voiceRun >= a.minWord {
			a.inWord = true
			a.words++
			if a.words == 1 {
				a.heardSpeech = true
				a.voiced = a.voiceRun
			}
		}
		if a.heardSpeech && a.voiced >= a.greeting {
			a.emit(AMDMachineStart, 0.5+0.5*math.Min(1, float64(a.voiced)/float64(a.greeting)-0.5), "long_greeting")
			return
		}
		if a.cfg.MaxWords > 0 && a.words >= a.cfg.MaxWords {
			a.emit(AMDMachineStart, 0.65, "max_words")
			return
		}
	} else if a.heardSpeech && a.silenceRun >= a.afterGreeting {
		// The shorter the greeting before the pause, the surer.
		conf := 0.5 + 0.5*(1-float64(a.voiced)/float64(a.greeting))
		a.emit(AMDHuman, conf, "after_greeting_silence")
		return
	}
	if !a.heardSpeech && int(a.frame)+1 >= a.initialSilence {
		a.emit(AMDMachineStart, 0.55, "initial_silence")
		return
	}
	if int(a.frame)+1 >= a.totalAnalysis {
		a.emit(AMDUnknown, 0.5, "total_analysis_time")
	}
}

func (a *AMDDetector) machineEndStep(beepEnded bool, beepFrames int) {
	switch {
	case beepEnded:
		a.emit(AMDMachineEndBeep, beepConfidence(beepFrames, a.minBeep), "beep")
	case a.silenceRun >= a.endSilence:
		a.emit(AMDMachineEndSilence, 0.5+0.5*math.Min(1, float64(a.silenceRun-a.endSilence)/float64(a.endSilence)+0.5), "end_silence")
	case int(a.frame)+1 >= a.maxWait:
		a.emit(AMDMachineEndOther, 0.5, "max_greeting_wait")
	}
}

func beepConfidence(frames, minFrames int) float64 {
	return 0.5 + 0.5*math.Min(1, float64(frames)/float64(2*minFrames))
}

// isSpeech decides whether a frame is speech from its level above the noise
// floor — the minimum of the last 2 s of frame levels, which the pauses
// between words reach even in a continuous greeting — and its periodicity:
// voiced speech needs only a small margin, anything else a large one.
func (a *amdSpeech) isSpeech(x []int16, db float64) bool {
	a.energies[a.nEnergy%noiseWinFrames] = db
	a.nEnergy++
	floor := math.Inf(1)
	for i := range min(a.nEnergy, noiseWinFrames) {
		floor = math.Min(floor, a.energies[i])
	}
	voiced := a.pitch.Process(x).Voiced
	if db < a.minDBFS {
		return false
	}
	return db >= floor+a.loudMargin || (voiced && db >= floor+a.speechMargin)
}

// amdSpeech is the answering-machine detector's speech decision: a frame's
// level against a noise floor tracked as the minimum of recent levels, with
// periodicity lowering the bar.
type amdSpeech struct {
	energies                          [noiseWinFrames]float64
	nEnergy                           int
	pitch                             *PitchTracker
	minDBFS, loudMargin, speechMargin float64
}

func newAMDSpeech(cfg AMDConfig) amdSpeech {
	pitch, _ := NewPitchTracker(PitchConfig{}) // the defaults are valid
	return amdSpeech{pitch: pitch, minDBFS: cfg.MinSpeechDBFS, loudMargin: cfg.LoudMarginDB, speechMargin: cfg.SpeechMarginDB}
}

// track follows a steady tone in the beep band: a frame is tonal when one
// spectral peak holds BeepTonality of the power, and a beep is a run of
// tonal frames at one frequency, at a steady level (a sung vowel wavers), of
// at least MinBeep, after 100 ms without speech (machines pause before
// the beep; a vowel has speech right before it). It reports whether this frame is tonal and, once a beep
// has stopped and, past its tail, 60 ms without speech have followed it (a vowel is followed
// by more speech, a beep by the recorder's silence), or has gone on for 2 s,
// that a beep ended and how many frames it lasted.
// beepTracker finds beeps in a stream of frames, for AMDDetector and
// BeepDetector.
type beepTracker struct {
	minDBFS, minHz, maxHz, tonality float64
	minBeep                         int // frames

	fft        *FFT
	window     []float64
	buf        []float64
	spec       []float64
	beepRun    int
	beepBin    int
	beepLo     float64 // level range over the run, dBFS
	beepHi     float64
	beepPrevDB float64
	beepGap    bool   // no speech in the 100 ms before the run began
	speechHist uint32 // speech flags of past frames, the last in bit 0
	beepDone   int    // length of a beep that stopped, awaiting the quiet after it
	beepAfter  int    // frames since it stopped
	doneBin    int    // spectral bin of that beep
}

func newBeepTracker(cfg AMDConfig) beepTracker {
	fft, _ := NewFFT(amdFFTSize) // a power of two ≥ 2 cannot fail
	return beepTracker{
		minDBFS: cfg.MinSpeechDBFS, minHz: cfg.BeepMinHz, maxHz: cfg.BeepMaxHz, tonality: cfg.BeepTonality,
		minBeep: amdFrames(cfg.MinBeep),
		fft:     fft, window: Hann(FrameSamples), buf: make([]float64, FrameSamples), spec: make([]float64, fft.Bins()),
	}
}

// step is track, then notes whether the frame was speech (a tonal frame is
// not) for the gap a later beep needs before it.
func (a *beepTracker) step(x []int16, total, db float64, speech bool) (tonal, ended bool, frames int) {
	tonal, ended, frames = a.track(x, total, db, speech)
	a.speechHist <<= 1
	if speech && !tonal {
		a.speechHist |= 1
	}
	return tonal, ended, frames
}

func (a *beepTracker) track(x []int16, total, db float64, speech bool) (tonal, ended bool, frames int) {
	bin := -1
	if db >= a.minDBFS && total > 0 {
		for i, v := range x {
			a.buf[i] = float64(v) * a.window[i]
		}
		a.fft.PowerSpectrum(a.spec, a.buf)
		binHz := float64(SampleRate) / amdFFTSize
		lo, hi := int(a.minHz/binHz), int(a.maxHz/binHz)+1
		first, last := int(100/binHz), int(3800/binHz)
		var sum, peak float64
		k := 0
		for i := first; i <= last; i++ {
			sum += a.spec[i]
			if i >= lo && i <= hi && a.spec[i] > peak {
				peak, k = a.spec[i], i
			}
		}
		// A Hann-windowed tone spreads over its bin and two neighbours each side.
		var near float64
		for i := max(first, k-2); i <= min(last, k+2); i++ {
			near += a.spec[i]
		}
		if sum > 0 && near >= a.tonality*sum {
			bin = k
		}
	}
	if bin >= 0 && a.beepRun > 0 && absInt(bin-a.beepBin) <= 1 {
		// Judge the level of the frame before: neither the first nor the
		// last frame of a run need be wholly tone.
		if a.beepRun >= 2 {
			a.beepLo, a.beepHi = math.Min(a.beepLo, a.beepPrevDB), math.Max(a.beepHi, a.beepPrevDB)
		}
		a.beepRun++
		a.beepPrevDB = db
		if a.beepRun == beepMaxFrames && a.beepLo >= a.beepHi-beepMaxSwingDB && a.beepGap {
			a.doneBin = a.beepBin
			return true, true, a.beepRun
		}
		return true, false, 0
	}
	// The run (if any) has stopped: judge it, then start anew.
	if a.beepRun >= a.minBeep && a.beepRun < beepMaxFrames && a.beepLo >= a.beepHi-beepMaxSwingDB && a.beepGap {
		// This frame may still hold the tone's tail, and the pitch
		// tracker's 40 ms buffer the next one too: the quiet is judged
		// after them.
		a.beepDone, a.beepAfter, a.doneBin = a.beepRun, -2, a.beepBin
	}
	a.beepRun = 0
	if bin >= 0 {
		// The first frame may hold the tone's onset: its level is not judged.
		a.beepRun, a.beepBin, a.beepLo, a.beepHi, a.beepPrevDB = 1, bin, math.Inf(1), math.Inf(-1), db
		// The frame before may hold the onset, voiced and loud: look past it.
		a.beepGap = (a.speechHist>>1)&(1<<beepGapFrames-1) == 0
	}
	if a.beepDone > 0 && a.beepRun == 0 {
		a.beepAfter++
		if a.beepAfter > 0 && speech {
			a.beepDone = 0
		} else if a.beepAfter >= beepQuietFrames {
			run := a.beepDone
			a.beepDone = 0
			return false, true, run
		}
	}
	return bin >= 0, false, 0
}

// fax reports (and emits) a fax once CED or CNG has lasted 400 ms.
func (a *AMDDetector) fax(x []int16, total float64) bool {
	if total <= 0 {
		a.cedRun, a.cngRun = 0, 0
		return false
	}
	if a.ced.Power(x) >= 0.7*total {
		a.cedRun++
	} else {
		a.cedRun = 0
	}
	if a.cng.Power(x) >= 0.7*total {
		a.cngRun++
	} else {
		a.cngRun = 0
	}
	switch {
	case a.cedRun >= faxMinFrames:
		a.emit(AMDFax, 0.95, "ced")
		return true
	case a.cngRun >= faxMinFrames:
		a.emit(AMDFax, 0.9, "cng")
		return true
	}
	return false
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
