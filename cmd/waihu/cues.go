package main

import (
	"sync/atomic"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/dsp"
)

// cues gives the dialog engine what dsp/ hears in the caller's voice: the emotion
// label of each utterance against this caller's own baseline and, on outbound
// calls, the answering-machine verdict. It runs on the leg's reader goroutine.
type cues struct {
	vad     *dsp.VAD
	emotion *dsp.EmotionTracker
	spoke   bool // frames of the current utterance went to emotion
	label   string

	amd     *dsp.AMDDetector // nil on inbound calls: a person called us
	verdict string
	// kind is the latest AMD verdict (dsp.AMDKind+1; 0 = none yet), read by
	// the dialler after the script, possibly while the reader still runs.
	kind atomic.Int32
}

// newCues builds the analysers for one call; amd is for calls we placed.
func newCues(amd bool) (*cues, error) {
	vad, err := dsp.NewVAD(dsp.VADConfig{})
	if err != nil {
		return nil, err
	}
	em, err := dsp.NewEmotionTracker(dsp.EmotionConfig{})
	if err != nil {
		return nil, err
	}
	c := &cues{vad: vad, emotion: em}
	if amd {
		c.amd = dsp.NewAMDDetector(dsp.AMDConfig{})
	}
	return c, nil
}

func (c *cues) Write(frame []int16) {
	// The tracker measures speech only: its pause ratio and speaking rate
	// would mean nothing over the seconds the caller listens to the bot.
	if r := c.vad.Process(frame); r.Active {
		c.emotion.Process(frame)
		c.spoke = true
	}
	if c.amd != nil && !c.amd.Done() {
		for _, r := range c.amd.Process(frame) {
			c.verdict = amdLabel(r.Kind)
			c.kind.Store(int32(r.Kind) + 1)
		}
	}
}

func (c *cues) Utterance() dialog.Cues {
	if c.spoke {
		c.label = c.emotion.EndUtterance().Label.String()
		c.spoke = false
	}
	out := dialog.Cues{Emotion: c.label}
	if c.amd != nil {
		out.AMD = c.verdict
		if out.AMD == "" {
			out.AMD = "unknown"
		}
	}
	return out
}

// amdLabel maps dsp's verdicts onto the three a script branches on. A fax is
// not a person to talk to, so scripts treat it as a machine.
func amdLabel(k dsp.AMDKind) string {
	switch k {
	case dsp.AMDHuman:
		return "human"
	case dsp.AMDUnknown:
		return "unknown"
	}
	return "machine"
}

// answeredBy is the call's answered_by in the values of the big voice APIs
// (human, machine_start, machine_end_beep, …, fax, unknown).
func (c *cues) answeredBy() string {
	if k := c.kind.Load(); k > 0 {
		return dsp.AMDKind(k - 1).String()
	}
	return "unknown"
}
