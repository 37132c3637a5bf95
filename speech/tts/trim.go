package tts

import (
	"sync/atomic"

	"github.com/waihu/waihu/speech"
)

// Synthesisers start their output with silence (flite's first loud sample
// comes ≈285 ms in), and every millisecond of it is added to the caller's wait
// for the bot's answer. These bounds keep one frame of lead-in, so the onset of
// the first word is not clipped, and give up trimming after a second so a
// text that is meant to begin with a pause still gets one.
const (
	// leadSilencePeak is the loudest sample, in 16-bit units (≈ −30 dBFS),
	// that still counts as lead-in: flite's first 260 ms peak at 30–520
	// (breath and noise) before its first word jumps past 1800, and
	// synthesised speech itself peaks far above this.
	leadSilencePeak = 1000
	// leadTrimMaxFrames bounds the silence dropped: 50 frames = 1 s.
	leadTrimMaxFrames = 50
)

// leadTrimmer drops the silent frames a synthesiser emits before its first
// word, keeping the last of them as a lead-in.
type leadTrimmer struct {
	speech.AudioStream
	trimming bool
	held     [speech.FrameSamples]int16 // the lead-in frame
	haveHeld bool
	next     [speech.FrameSamples]int16 // the first loud frame, after the lead-in
	haveNext bool
	// closed is set by Close, which barge-in may call while Read runs on
	// another goroutine; the fields above belong to Read alone.
	closed atomic.Bool
}

func trimLeadingSilence(s speech.AudioStream) speech.AudioStream {
	return &leadTrimmer{AudioStream: s, trimming: true}
}

// Read implements speech.AudioStream.
func (t *leadTrimmer) Read(dst []int16) error {
	if t.closed.Load() {
		return t.AudioStream.Read(dst) // the engine's own error after Close
	}
	if t.haveNext {
		copy(dst[:speech.FrameSamples], t.next[:])
		t.haveNext = false
		return nil
	}
	if !t.trimming {
		return t.AudioStream.Read(dst)
	}
	if len(dst) < speech.FrameSamples {
		return ErrShortFrame
	}
	for dropped := 0; ; dropped++ {
		if err := t.AudioStream.Read(dst); err != nil {
			// All silence (or an error): nothing worth keeping.
			return err
		}
		if dropped >= leadTrimMaxFrames || !quiet(dst[:speech.FrameSamples]) {
			break
		}
		copy(t.held[:], dst[:speech.FrameSamples])
		t.haveHeld = true
	}
	t.trimming = false
	if !t.haveHeld {
		return nil
	}
	copy(t.next[:], dst[:speech.FrameSamples])
	t.haveNext = true
	copy(dst[:speech.FrameSamples], t.held[:])
	return nil
}

func quiet(frame []int16) bool {
	for _, v := range frame {
		if v > leadSilencePeak || v < -leadSilencePeak {
			return false
		}
	}
	return true
}

// Close implements speech.AudioStream: nothing held back plays after it.
func (t *leadTrimmer) Close() error {
	t.closed.Store(true)
	return t.AudioStream.Close()
}
