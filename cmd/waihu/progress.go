package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/sphinx"
)

const (
	// maxEarlyAudio bounds the early media kept for the recogniser: longer
	// than any carrier announcement's first sentence.
	maxEarlyAudio = 12 * time.Second
	// announcementTail is how much audio after the classifier called the
	// early media an announcement (it needs 1 s of speech for that) is
	// awaited before the words are recognised, unless the sentence ends
	// sooner (announcementPause of quiet).
	announcementTail  = 5 * time.Second
	announcementPause = 700 * time.Millisecond
	// quietDBFS is the level below which a frame counts as a pause between
	// the announcement's sentences.
	quietDBFS = -45
	// recogniseTimeout bounds the recognition of one announcement.
	recogniseTimeout = 10 * time.Second
)

// tonePlan is the call-progress tone plan a trunk's tones key names.
func tonePlan(name string) (dsp.TonePlan, error) {
	switch strings.ToLower(name) {
	case "", "china", "cn":
		return dsp.ChinaTones(), nil
	case "north_america", "us":
		return dsp.NorthAmericaTones(), nil
	}
	return dsp.TonePlan{}, fmt.Errorf("tones %q: want china or north_america", name)
}

// callProgress classifies outbound calls' early media (the audio of a 183
// before anyone answers): the tone plan of each trunk, and the recogniser
// that reads a carrier announcement's words, shared by the dialler's calls.
type callProgress struct {
	plans map[string]dsp.TonePlan
	log   *slog.Logger

	// load builds the recogniser on the first announcement, so a node
	// whose calls never hear one never loads a model.
	load    func() (speech.Recognizer, error)
	asrOnce sync.Once
	asr     speech.Recognizer // nil: announcements are classified, not read
}

// newCallProgress prepares early-media classification for cfg's trunks.
// The words are read by the bot's recogniser when it is sphinx (the
// announcement phrases are a sphinx grammar), else by a sphinx recogniser of
// its own, loaded when first needed; without the pocketsphinx model an
// announcement is recorded as one, unread.
func newCallProgress(cfg Config, b *bot, log *slog.Logger) *callProgress {
	p := &callProgress{plans: map[string]dsp.TonePlan{}, log: log}
	for _, t := range cfg.Trunks {
		plan, err := tonePlan(t.Tones)
		if err != nil {
			plan = dsp.ChinaTones() // validate refused it already
		}
		p.plans[t.Name] = plan
	}
	switch {
	case b != nil && b.asrEngine == sphinx.EngineName && b.asr != nil:
		p.load = func() (speech.Recognizer, error) { return b.asr, nil }
	default:
		p.load = func() (speech.Recognizer, error) { return sphinx.New(sphinx.Config{}) }
	}
	return p
}

// recognizer is the announcement recogniser, nil when none can be loaded.
func (p *callProgress) recognizer() speech.Recognizer {
	p.asrOnce.Do(func() {
		r, err := p.load()
		if err != nil {
			p.log.Warn("carrier announcements will be classified but not read: no recogniser", "err", err)
			return
		}
		p.asr = r
	})
	return p.asr
}

// earlyMediaResult is what one call's early media said.
type earlyMediaResult struct {
	// Kind is the classifier's last class.
	Kind dsp.EarlyMediaKind
	// Progress is the call-progress result for the call record: one of
	// dialog's Progress constants read from an announcement's words,
	// "announcement" when its words matched none (or were not read), or
	// the tone heard (sit, busy, congestion); "" for ringback, silence or
	// no early media.
	Progress string
	// Heard is what the recogniser heard in the announcement.
	Heard string
	// Cancelled says the dial was cancelled because the announcement said
	// the number is vacant or out of service.
	Cancelled bool
}

// cancels reports whether an announcement result ends the dial at once:
// a number that does not exist or is no longer in service will not answer,
// so ringing it out only wastes the trunk and delays the contact's result.
func cancels(progress string) bool {
	return progress == dialog.ProgressVacant || progress == dialog.ProgressOutOfService
}

// earlyMedia watches one outbound call's early media from the first 183
// with SDP until Dial returns.
type earlyMedia struct {
	p          *callProgress
	leg        *rtp.Leg
	plan       dsp.TonePlan
	callID     string
	log        *slog.Logger
	cancelDial context.CancelFunc

	ctx  context.Context
	stop context.CancelFunc
	// recCtx bounds the recognition; abandon ends it when the call is
	// answered, so the script never waits for an announcement no one needs.
	recCtx  context.Context
	abandon context.CancelFunc
	started atomic.Bool
	done    chan struct{}

	mu       sync.Mutex
	res      earlyMediaResult
	answered bool // set by finish
}

// watch prepares the early-media watch of a call on leg through trunk;
// cancelDial cancels its INVITE. A nil callProgress watches nothing.
func (p *callProgress) watch(leg *rtp.Leg, trunk, callID string, cancelDial context.CancelFunc, log *slog.Logger) *earlyMedia {
	if p == nil {
		return nil
	}
	plan, ok := p.plans[trunk]
	if !ok {
		plan = dsp.ChinaTones()
	}
	ctx, stop := context.WithCancel(context.Background())
	recCtx, abandon := context.WithCancel(context.Background())
	return &earlyMedia{p: p, leg: leg, plan: plan, callID: callID, log: log, cancelDial: cancelDial,
		ctx: ctx, stop: stop, recCtx: recCtx, abandon: abandon, done: make(chan struct{})}
}

// start begins reading the leg's early media, once; it returns at once, as
// sip's OnProgress must.
func (e *earlyMedia) start() {
	if e == nil || !e.started.CompareAndSwap(false, true) {
		return
	}
	go e.run()
}

// finish stops the watch (Dial returned) and returns what it found. The
// leg has no other reader once it returned. An announcement not yet read is
// read now unless the call was answered: the script needs the leg then, and
// the announcement no longer matters.
func (e *earlyMedia) finish(answered bool) earlyMediaResult {
	if e == nil {
		return earlyMediaResult{}
	}
	e.mu.Lock()
	e.answered = answered
	e.mu.Unlock()
	if answered {
		e.abandon()
	}
	e.stop()
	if e.started.Load() {
		<-e.done
	}
	e.abandon()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.res
}

// run classifies frames until finish, and recognises an announcement's
// words once its first sentence is in.
func (e *earlyMedia) run() {
	defer close(e.done)
	cls, err := dsp.NewEarlyMediaClassifier(dsp.EarlyMediaConfig{Tones: dsp.ToneConfig{Plan: e.plan}})
	if err != nil {
		e.log.Warn("early media not classified", "err", err)
		return
	}
	const frameSamples = rtp.FrameSamples
	maxSamples := int(maxEarlyAudio / rtp.FrameDuration * frameSamples)
	tailSamples := int(announcementTail / rtp.FrameDuration * frameSamples)
	pauseFrames := int(announcementPause / rtp.FrameDuration)
	// Most early media is a short ringback: the buffer grows to
	// maxEarlyAudio only for calls that go on.
	audio := make([]int16, 0, maxSamples/4)
	frame := make([]int16, frameSamples)
	announcedAt, quiet, read := -1, 0, false
	for {
		if err := e.readFrame(frame, announcedAt >= 0 && !read); err != nil {
			if errors.Is(err, errEarlyMediaStopped) && e.ctx.Err() == nil {
				// The carrier stopped sending: the announcement is over.
				read = true
				e.recognise(audio)
				continue
			}
			break
		}
		if len(audio) < maxSamples {
			audio = append(audio, frame...)
		}
		if r, ok := cls.Process(frame); ok {
			e.log.Debug("early media", "kind", r.Kind.String(), "at", r.At.String())
			e.mu.Lock()
			e.res.Kind = r.Kind
			if p := tonesProgress(r.Kind); p != "" && e.res.Progress == "" {
				e.res.Progress = p
			}
			e.mu.Unlock()
			if r.Kind == dsp.EarlyMediaAnnouncement && announcedAt < 0 {
				announcedAt = len(audio)
			}
		}
		if announcedAt < 0 || read {
			continue
		}
		if dsp.EnergyDBFS(frame) < quietDBFS {
			quiet++
		} else {
			quiet = 0
		}
		if quiet >= pauseFrames || len(audio)-announcedAt >= tailSamples || len(audio) >= maxSamples {
			read = true
			e.recognise(audio)
		}
	}
	e.mu.Lock()
	answered := e.answered
	e.mu.Unlock()
	if announcedAt >= 0 && !read && !answered {
		e.recognise(audio)
	}
}

// errEarlyMediaStopped says no early media came for announcementPause.
var errEarlyMediaStopped = errors.New("early media stopped")

// readFrame reads the next frame of early media. While an announcement is
// awaited (waiting), a carrier that stops sending ends the wait: the leg
// gives no frame before a first packet, or after its playout drained.
func (e *earlyMedia) readFrame(frame []int16, waiting bool) error {
	if !waiting {
		return e.leg.ReadFrame(e.ctx, frame)
	}
	ctx, cancel := context.WithTimeout(e.ctx, announcementPause)
	defer cancel()
	err := e.leg.ReadFrame(ctx, frame)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && e.ctx.Err() == nil {
		return errEarlyMediaStopped
	}
	return err
}

// tonesProgress is the call-progress result of a tone class ("" for the
// ordinary ringback and silence).
func tonesProgress(k dsp.EarlyMediaKind) string {
	switch k {
	case dsp.EarlyMediaSIT, dsp.EarlyMediaBusy, dsp.EarlyMediaCongestion, dsp.EarlyMediaAnnouncement:
		return k.String()
	}
	return ""
}

// recognise reads the announcement's words against dialog's announcement
// phrases, records the result, and cancels the dial for a vacant or
// out-of-service number.
//
// The phrases are a grammar: an utterance must be one of them, or the
// recogniser's phone loop rejects it. A carrier says more ("… is not in
// service. Please check the number and try again."), so each sentence (a
// stretch of speech between pauses) is read on its own until one matches.
func (e *earlyMedia) recognise(audio []int16) {
	progress, text := "announcement", ""
	for _, s := range sentences(audio) {
		heard, err := e.read(s)
		if err != nil {
			e.log.Warn("carrier announcement not read", "err", err)
			break
		}
		if heard != "" {
			text = heard
		}
		if p := dialog.AnnouncementProgress(heard); p != "" {
			progress = p
			break
		}
	}
	e.mu.Lock()
	e.res.Progress, e.res.Heard = progress, text
	cancel := cancels(progress) && e.ctx.Err() == nil
	e.res.Cancelled = e.res.Cancelled || cancel
	e.mu.Unlock()
	e.log.Info("carrier announcement on early media", "progress", progress, "heard", text, "cancel", cancel)
	if cancel {
		e.cancelDial()
	}
}

const (
	// sentenceGap is the pause that separates two sentences of an
	// announcement; shorter ones are between words.
	sentenceGap = 240 * time.Millisecond
	// minSentence is the shortest speech worth reading: a click or a
	// burst of noise is shorter.
	minSentence = 500 * time.Millisecond
	// sentencePad is the quiet kept on each side of a sentence, so the
	// recogniser hears its first and last phones whole.
	sentencePad = 100 * time.Millisecond
)

// sentences splits early media into its stretches of speech, at pauses of
// sentenceGap or longer, each with sentencePad of what surrounds it.
func sentences(audio []int16) [][]int16 {
	const n = rtp.FrameSamples
	frames := len(audio) / n
	gap, minLen, pad := int(sentenceGap/rtp.FrameDuration), int(minSentence/rtp.FrameDuration), int(sentencePad/rtp.FrameDuration)
	var out [][]int16
	start, quiet := -1, 0
	flush := func(end int) { // end: one past the last loud frame
		if start >= 0 && end-start >= minLen {
			from, to := max(start-pad, 0), min(end+pad, frames)
			out = append(out, audio[from*n:to*n])
		}
		start = -1
	}
	for i := range frames {
		if dsp.EnergyDBFS(audio[i*n:(i+1)*n]) < quietDBFS {
			quiet++
			if quiet == gap {
				flush(i - gap + 1)
			}
			continue
		}
		quiet = 0
		if start < 0 {
			start = i
		}
	}
	flush(frames - quiet)
	return out
}

// errNoRecognizer says announcements cannot be read on this node.
var errNoRecognizer = errors.New("no recogniser (install pocketsphinx-en-us)")

// read recognises audio as one utterance of the announcement phrases.
func (e *earlyMedia) read(audio []int16) (string, error) {
	rec := e.p.recognizer()
	if rec == nil {
		return "", errNoRecognizer
	}
	ctx, cancel := context.WithTimeout(e.recCtx, recogniseTimeout)
	defer cancel()
	st, err := rec.NewStream(ctx, speech.StreamOptions{Phrases: dialog.AnnouncementPhrases(), Language: "en-US", CallID: e.callID})
	if err != nil {
		return "", fmt.Errorf("read announcement of call %s: %w", e.callID, err)
	}
	defer st.Close()
	for off := 0; off+speech.FrameSamples <= len(audio); off += speech.FrameSamples {
		if err := st.Write(audio[off : off+speech.FrameSamples]); err != nil {
			return "", fmt.Errorf("read announcement of call %s: %w", e.callID, err)
		}
	}
	if err := st.EndUtterance(); err != nil {
		return "", fmt.Errorf("read announcement of call %s: %w", e.callID, err)
	}
	for {
		select {
		case r, ok := <-st.Results():
			if !ok {
				return "", nil
			}
			if r.Final {
				return r.Text, nil
			}
		case <-ctx.Done():
			return "", fmt.Errorf("read announcement of call %s: %w", e.callID, ctx.Err())
		}
	}
}
