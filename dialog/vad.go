package dialog

import "github.com/waihu/waihu/dsp"

// VADEvent is what a VAD saw in one frame.
type VADEvent uint8

// VAD events. Between VADSpeechStart and VADSpeechEnd the caller is speaking.
const (
	// VADNone means no change: still silent, or still speaking.
	VADNone VADEvent = iota
	// VADSpeechStart marks the frame where speech was confirmed.
	VADSpeechStart
	// VADSpeechEnd marks the frame where silence was confirmed after speech.
	VADSpeechEnd
)

// VAD finds speech in the caller's frames. One VAD serves one call and is
// called from one goroutine only. The default is dsp's detector through
// DSPVAD.
type VAD interface {
	// Process looks at one 20 ms frame and says whether speech started or
	// ended with it.
	Process(frame []int16) VADEvent
}

// DSPVAD adapts dsp's detector to VAD. Its events come late by design
// (SpeechStart after dsp.VADConfig.MinSpeech, SpeechEnd after the
// hang-over), which Config's durations take into account.
type DSPVAD struct {
	// VAD is the detector; it must not be shared with another call.
	VAD *dsp.VAD
}

// NewDSPVAD builds a DSPVAD from cfg (the zero value gives dsp's defaults:
// 60 ms minimum speech, 300 ms hang-over).
func NewDSPVAD(cfg dsp.VADConfig) (DSPVAD, error) {
	v, err := dsp.NewVAD(cfg)
	return DSPVAD{VAD: v}, err
}

// Process implements VAD.
func (d DSPVAD) Process(frame []int16) VADEvent {
	switch d.VAD.Process(frame).Event {
	case dsp.SpeechStart:
		return VADSpeechStart
	case dsp.SpeechEnd:
		return VADSpeechEnd
	}
	return VADNone
}
