package dsp

import (
	"time"
)

// EarlyMediaKind is what the audio of a call before answer (the early media
// of a 183 Session Progress) is.
type EarlyMediaKind int

// Early media classes. Tones come from a ToneDetector's cadence rules; an
// announcement is speech (a recorded "the number you dialled is not in
// service", "您拨打的电话已关机"); silence is neither for a while.
const (
	// EarlyMediaUnknown: nothing decided yet.
	EarlyMediaUnknown EarlyMediaKind = iota
	// EarlyMediaSilence: neither tone nor speech within SilenceTimeout.
	EarlyMediaSilence
	// EarlyMediaRingback: the far end is ringing.
	EarlyMediaRingback
	// EarlyMediaBusy: the called line is busy.
	EarlyMediaBusy
	// EarlyMediaCongestion: the network is congested (reorder).
	EarlyMediaCongestion
	// EarlyMediaSIT: a special information tone, which precedes an
	// intercept announcement.
	EarlyMediaSIT
	// EarlyMediaAnnouncement: a voice speaking, before anyone answered:
	// the network's (or the handset's) recorded announcement.
	EarlyMediaAnnouncement
)

// String returns the kind in snake case, as in call records.
func (k EarlyMediaKind) String() string {
	switch k {
	case EarlyMediaSilence:
		return "silence"
	case EarlyMediaRingback:
		return "ringback"
	case EarlyMediaBusy:
		return "busy"
	case EarlyMediaCongestion:
		return "congestion"
	case EarlyMediaSIT:
		return "sit"
	case EarlyMediaAnnouncement:
		return "announcement"
	}
	return "unknown"
}

// EarlyMediaConfig tunes an EarlyMediaClassifier; zero fields take the
// defaults named on each.
type EarlyMediaConfig struct {
	// Tones configures the call-progress tone detector; its zero value is
	// the North American plan (ChinaTones() for Chinese carriers).
	Tones ToneConfig
	// VAD configures the speech detector; the zero value suits telephone
	// speech.
	VAD VADConfig
	// MinSpeech is the speech (summed, tonal frames excepted) that makes
	// the early media an announcement. Zero means 1 s: longer than any
	// click or burst of line noise, shorter than the first sentence of an
	// announcement.
	MinSpeech time.Duration
	// SilenceTimeout is how long early media may go on without a tone
	// confirmed or MinSpeech of speech before it is called silence (a
	// tone or an announcement later still replaces it). Zero means 5 s:
	// every plan's ringback is confirmed sooner.
	SilenceTimeout time.Duration
	// TonalFraction is the share of a frame's power that its one or two
	// strongest spectral peaks must hold for the frame to count as tone,
	// not speech, whatever the tone plan. Zero means 0.9: a Hann-windowed
	// tone puts over 95 % in its peak, while a synthetic voice's strongest
	// two harmonics reach 70 % in a quarter of its frames.
	TonalFraction float64
}

// EarlyMediaResult is a classification of early media.
type EarlyMediaResult struct {
	// Kind is the class.
	Kind EarlyMediaKind
	// At is when it was decided, from the first frame fed.
	At time.Duration
	// Speech is how much speech had been heard by then.
	Speech time.Duration
}

// EarlyMediaClassifier classifies a call's early media, frame by frame:
// ringback, busy, congestion or SIT by frequency and cadence (ToneDetector),
// an announcement by speech (VAD, with frames dominated by one or two pure
// tones set aside, so a tone of any plan never counts as speech), or silence.
// The class can change as the media goes on — a ringback, then "the
// subscriber you dialled cannot be reached" — and each change is reported
// once. A colour ringback tone (彩铃) with singing is classed as an
// announcement: it is a voice that is not the called person. Not safe for
// concurrent use; Process allocates nothing.
type EarlyMediaClassifier struct {
	cfg                  EarlyMediaConfig
	tones                *ToneDetector
	vad                  *VAD
	fft                  *FFT
	window, buf, spec    []float64
	minSpeech, silentFor int64 // frames
	minPower             float64

	frame   int64
	speech  int64 // speech frames so far
	kind    EarlyMediaKind
	pend    [FrameSamples]int16
	npend   int
	changed bool
	result  EarlyMediaResult
}

// NewEarlyMediaClassifier returns a classifier for one call's early media,
// or an error wrapping ErrConfig when cfg's tone plan or VAD settings are
// malformed.
func NewEarlyMediaClassifier(cfg EarlyMediaConfig) (*EarlyMediaClassifier, error) {
	if cfg.MinSpeech <= 0 {
		cfg.MinSpeech = time.Second
	}
	if cfg.SilenceTimeout <= 0 {
		cfg.SilenceTimeout = 5 * time.Second
	}
	if cfg.TonalFraction <= 0 {
		cfg.TonalFraction = 0.9
	}
	tones, err := NewToneDetector(cfg.Tones)
	if err != nil {
		return nil, err
	}
	vad, err := NewVAD(cfg.VAD)
	if err != nil {
		return nil, err
	}
	fft, _ := NewFFT(amdFFTSize) // a power of two cannot fail
	return &EarlyMediaClassifier{
		cfg: cfg, tones: tones, vad: vad, fft: fft,
		window: Hann(FrameSamples), buf: make([]float64, FrameSamples), spec: make([]float64, fft.Bins()),
		minSpeech: int64(amdFrames(cfg.MinSpeech)), silentFor: int64(amdFrames(cfg.SilenceTimeout)),
		minPower: dbfsToPower(-50),
	}, nil
}

// Process feeds the next samples (normally one 20 ms frame; other lengths
// are re-cut into 20 ms frames) and reports the class when it changed in
// them (the latest change, if several).
func (c *EarlyMediaClassifier) Process(frame []int16) (EarlyMediaResult, bool) {
	c.changed = false
	if c.npend == 0 && len(frame) == FrameSamples {
		c.step(frame)
		return c.result, c.changed
	}
	for len(frame) > 0 {
		n := copy(c.pend[c.npend:], frame)
		c.npend += n
		frame = frame[n:]
		if c.npend == FrameSamples {
			c.npend = 0
			c.step(c.pend[:])
		}
	}
	return c.result, c.changed
}

// Result is the latest classification (Kind EarlyMediaUnknown until one).
func (c *EarlyMediaClassifier) Result() EarlyMediaResult { return c.result }

func (c *EarlyMediaClassifier) step(x []int16) {
	c.frame++
	total := meanSquare(x)
	tonal := c.tonal(x, total)
	for _, ev := range c.tones.Process(x) {
		switch ev.Kind {
		case ToneRingback:
			c.decide(EarlyMediaRingback)
		case ToneBusy:
			c.decide(EarlyMediaBusy)
		case ToneCongestion:
			c.decide(EarlyMediaCongestion)
		case ToneSIT:
			c.decide(EarlyMediaSIT)
		}
	}
	speech := c.vad.Process(x).Speech && !tonal && total >= c.minPower
	if speech {
		c.speech++
		if c.speech >= c.minSpeech {
			c.decide(EarlyMediaAnnouncement)
		}
	}
	if c.frame == c.silentFor && c.kind == EarlyMediaUnknown {
		c.decide(EarlyMediaSilence)
	}
}

// decide records a class, reporting it if it is new. An announcement is
// not undone by the tones that may follow it (a SIT repeats between the
// announcement's repetitions): the words are what the call-progress result
// is about.
func (c *EarlyMediaClassifier) decide(k EarlyMediaKind) {
	if k == c.kind || (c.kind == EarlyMediaAnnouncement && k != EarlyMediaAnnouncement) {
		return
	}
	c.kind, c.changed = k, true
	c.result = EarlyMediaResult{Kind: k, At: frameTime(c.frame), Speech: frameTime(c.speech)}
}

// tonal reports whether one or two narrow spectral peaks hold
// TonalFraction of the frame's power in 100–3800 Hz: a call-progress tone
// of any plan, not a voice, whose harmonics spread its power.
func (c *EarlyMediaClassifier) tonal(x []int16, total float64) bool {
	if total < c.minPower {
		return false
	}
	for i, v := range x {
		c.buf[i] = float64(v) * c.window[i]
	}
	c.fft.PowerSpectrum(c.spec, c.buf)
	binHz := float64(SampleRate) / amdFFTSize
	first, last := int(100/binHz), int(3800/binHz)
	var sum float64
	k1 := first
	for i := first; i <= last; i++ {
		sum += c.spec[i]
		if c.spec[i] > c.spec[k1] {
			k1 = i
		}
	}
	if sum <= 0 {
		return false
	}
	near := func(k int) float64 {
		var p float64
		for i := max(first, k-2); i <= min(last, k+2); i++ {
			p += c.spec[i]
		}
		return p
	}
	p1 := near(k1)
	// The second peak lies outside the first's skirt.
	k2 := -1
	for i := first; i <= last; i++ {
		if (i < k1-2 || i > k1+2) && (k2 < 0 || c.spec[i] > c.spec[k2]) {
			k2 = i
		}
	}
	p2 := 0.0
	if k2 >= 0 {
		lo, hi := max(first, k2-2), min(last, k2+2)
		for i := lo; i <= hi; i++ {
			if i < k1-2 || i > k1+2 {
				p2 += c.spec[i]
			}
		}
	}
	return p1+p2 >= c.cfg.TonalFraction*sum
}
