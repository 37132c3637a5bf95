package dsp

import "time"

// Beep is a beep a BeepDetector heard.
type Beep struct {
	// FreqHz is the beep's frequency, to the analyser's 31 Hz bins.
	FreqHz float64
	// Duration is how long the tone lasted.
	Duration time.Duration
	// At is when the beep was confirmed, from the first frame fed: after
	// its end and the quiet that follows it (about 100 ms later).
	At time.Duration
}

// BeepDetector hears the beep with which an answering machine starts
// recording, for leaving a message after it. It is AMDDetector's beep rule
// on its own, without the verdicts around it, so it can listen from any
// moment of a call (a script that reaches its voicemail node mid-greeting):
// a steady tone of MinBeep or longer in BeepMinHz–BeepMaxHz, at one level,
// after 100 ms without speech and followed by 60 ms without speech. A
// vowel is neither steady nor preceded and followed by quiet. Not safe for
// concurrent use; Process allocates nothing.
type BeepDetector struct {
	speech amdSpeech
	beep   beepTracker
	frame  int64
	pend   [FrameSamples]int16
	npend  int
	// found is the beep confirmed in the current Process call, if any.
	found Beep
	ok    bool
}

// NewBeepDetector returns a detector configured by cfg's speech and beep
// fields (MinSpeechDBFS, SpeechMarginDB, LoudMarginDB, MinBeep, BeepMinHz,
// BeepMaxHz, BeepTonality); zero fields take AMDConfig's defaults.
func NewBeepDetector(cfg AMDConfig) *BeepDetector {
	cfg = cfg.withDefaults()
	return &BeepDetector{speech: newAMDSpeech(cfg), beep: newBeepTracker(cfg)}
}

// Process feeds the next samples (normally one 20 ms frame; other lengths
// are re-cut into 20 ms frames) and reports a beep confirmed in them.
func (d *BeepDetector) Process(frame []int16) (Beep, bool) {
	d.ok = false
	if d.npend == 0 && len(frame) == FrameSamples {
		d.step(frame)
		return d.found, d.ok
	}
	for len(frame) > 0 {
		n := copy(d.pend[d.npend:], frame)
		d.npend += n
		frame = frame[n:]
		if d.npend == FrameSamples {
			d.npend = 0
			d.step(d.pend[:])
		}
	}
	return d.found, d.ok
}

func (d *BeepDetector) step(x []int16) {
	d.frame++
	db := EnergyDBFS(x)
	speech := d.speech.isSpeech(x, db)
	_, ended, frames := d.beep.step(x, meanSquare(x), db, speech)
	if !ended {
		return
	}
	d.found = Beep{
		FreqHz:   float64(d.beep.doneBin) * SampleRate / amdFFTSize,
		Duration: time.Duration(frames) * 20 * time.Millisecond,
		At:       time.Duration(d.frame) * 20 * time.Millisecond,
	}
	d.ok = true
}
