package dialog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

type eventKind uint8

const (
	evSpeechStart eventKind = iota + 1 // the VAD heard the caller start
	evSpeechLong                       // speech has lasted BackchannelMax
	evSpeechEnd                        // the VAD heard the caller stop
	evUtterance                        // a whole turn, recognised
	evTimeout                          // the listen deadline passed in silence
	evError                            // the leg or the recogniser failed
	evBeep                             // an answering machine's beep ended
)

// event is what the reader tells the call's goroutine.
type event struct {
	kind eventKind
	// frame is the reader's frame count when it happened.
	frame int64
	// barged is set on evSpeechStart when the reader cleared the leg's
	// output because an interruptible prompt was playing.
	barged bool
	// speechFrames is the length of the speech, on evSpeechEnd.
	speechFrames int64
	// seq identifies the deadline an evTimeout is for.
	seq uint64
	utt *utterance
	err error
}

// utterance is one turn of the caller, from VAD start to the end of its
// recognition.
type utterance struct {
	text       string
	confidence float64
	start, end int64 // frames
	vadEnd     time.Time
	final      time.Time
	cues       Cues
	// overGuarded marks speech that began over an uninterruptible prompt
	// (a legal disclosure): it is recorded but answers nothing.
	overGuarded bool
}

// input is what a listen node answers to: an utterance or a key.
type input struct {
	utt   *utterance
	digit *Digit
}

// reader is the call's only reader of the leg. It runs the VAD and the
// recogniser, and cuts interruptible prompts itself on speech start so that
// barge-in takes effect in the frame the VAD decides, whatever the call's
// goroutine is busy with.
type reader struct {
	c      *conv
	vad    VAD
	events chan event

	frameCount atomic.Int64  // frames read so far: the call's clock
	armed      atomic.Bool   // an interruptible prompt is playing
	guarded    atomic.Bool   // an uninterruptible prompt is playing
	cuts       atomic.Uint64 // barge-in cuts so far
	deadline   atomic.Int64  // frame at which evTimeout fires; 0 none
	deadSeq    atomic.Uint64 // sequence of the current deadline
	hard       atomic.Bool   // the deadline fires even while the caller speaks
	beepAt     atomic.Int64  // frame of the latest beep; 0 none
	speechAt   atomic.Int64  // frame of the latest VAD speech start
	phrases    atomic.Pointer[[]string]

	// Owned by the reader goroutine.
	beep      *dsp.BeepDetector // nil unless the script leaves voicemail
	preroll   [][]int16         // ring of recent frames
	head      int
	cur       *recognition
	asrBroken bool
}

// recognition is the recogniser stream of the utterance in progress.
type recognition struct {
	stream      speech.RecognizerStream
	start       int64
	speaking    bool
	lastEnd     int64 // frame of the latest VAD end
	awaiting    int   // EndUtterance calls without their final yet
	confident   bool  // the latest final was confident
	long        bool  // evSpeechLong sent
	overGuarded bool
	texts       []string
	conf        float64
	vadEnd      time.Time
	final       time.Time
	// partial is the recogniser's latest hypothesis of the segment in
	// progress; sent is the last one emitted, at frame sentAt.
	partial, sent string
	sentAt        int64
}

func newReader(c *conv, vad VAD) *reader {
	r := &reader{c: c, vad: vad, events: make(chan event, 64)}
	if c.e.voicemail {
		// From the first frame: a script may reach its voicemail node
		// only after the greeting (and its beep) that told it a machine
		// answered.
		r.beep = dsp.NewBeepDetector(dsp.AMDConfig{})
	}
	r.preroll = make([][]int16, frames(c.cfg.PreRoll))
	for i := range r.preroll {
		r.preroll[i] = make([]int16, speech.FrameSamples)
	}
	return r
}

// now is the call's frame time.
func (r *reader) now() time.Duration {
	return time.Duration(r.frameCount.Load()) * speech.FrameDuration
}

// setPlaying tells the reader whether a prompt is playing and whether the
// caller may cut it; a prompt that may not be cut guards its speech.
func (r *reader) setPlaying(playing, interruptible bool) {
	r.armed.Store(playing && interruptible)
	r.guarded.Store(playing && !interruptible)
}

// setDeadline asks for an evTimeout once the clock reaches frame at while
// the caller is silent, and returns the sequence the event will carry.
func (r *reader) setDeadline(at int64) uint64 {
	seq := r.deadSeq.Add(1)
	r.deadline.Store(at)
	return seq
}

// setHardDeadline is setDeadline for a deadline that fires whether or not
// the caller (or a machine's greeting) is speaking.
func (r *reader) setHardDeadline(at int64) uint64 {
	r.hard.Store(true)
	return r.setDeadline(at)
}

func (r *reader) clearDeadline() {
	r.deadSeq.Add(1)
	r.deadline.Store(0)
	r.hard.Store(false)
}

func (r *reader) send(ctx context.Context, ev event) {
	select {
	case r.events <- ev:
	case <-ctx.Done():
	}
}

// run reads the leg until ctx ends or the leg fails; then it cancels the
// call (hangUp), so that a WriteFrame blocked on a dead leg returns too.
func (r *reader) run(ctx context.Context, hangUp context.CancelFunc) {
	buf := make([]int16, speech.FrameSamples)
	for {
		if err := r.c.call.Leg.ReadFrame(ctx, buf); err != nil {
			if ctx.Err() == nil {
				r.c.legErr.Store(&err)
				hangUp()
			}
			return
		}
		n := r.frameCount.Add(1)
		if r.c.call.Cues != nil {
			r.c.call.Cues.Write(buf)
		}
		if r.beep != nil {
			if _, ok := r.beep.Process(buf); ok {
				r.beepAt.Store(n)
				r.send(ctx, event{kind: evBeep, frame: n})
			}
		}
		copy(r.preroll[r.head], buf)
		r.head = (r.head + 1) % len(r.preroll)
		if err := r.frame(ctx, n, buf); err != nil {
			r.asrBroken = true
			r.drop()
			r.send(ctx, event{kind: evError, frame: n, err: engineError{err}})
		}
	}
}

// frame handles one frame of caller audio.
func (r *reader) frame(ctx context.Context, n int64, buf []int16) error {
	switch r.vad.Process(buf) {
	case VADSpeechStart:
		r.speechAt.Store(n)
		if r.cur == nil {
			barged := false
			if r.armed.Load() {
				r.c.call.Leg.ClearOutput()
				r.cuts.Add(1)
				barged = true
			}
			r.send(ctx, event{kind: evSpeechStart, frame: n, barged: barged})
			if !r.asrBroken {
				if err := r.open(ctx, n); err != nil {
					return err
				}
			}
		} else {
			r.cur.speaking = true // resumed within the end silence: same turn
		}
		return nil
	case VADSpeechEnd:
		if r.cur == nil {
			return nil
		}
		if err := r.cur.stream.Write(buf); err != nil {
			return fmt.Errorf("recognise: write frame: %w", err)
		}
		r.cur.speaking = false
		r.cur.lastEnd = n
		r.cur.vadEnd = r.c.cfg.Now()
		r.cur.awaiting++
		r.cur.confident = false
		r.send(ctx, event{kind: evSpeechEnd, frame: n, speechFrames: n - r.cur.start})
		if err := r.cur.stream.EndUtterance(); err != nil {
			return fmt.Errorf("recognise: end utterance: %w", err)
		}
	default:
		if r.cur != nil && r.cur.speaking {
			if err := r.cur.stream.Write(buf); err != nil {
				return fmt.Errorf("recognise: write frame: %w", err)
			}
			if !r.cur.long && n-r.cur.start >= frames(r.c.cfg.BackchannelMax) {
				r.cur.long = true
				r.send(ctx, event{kind: evSpeechLong, frame: n})
			}
		}
	}
	if r.cur != nil {
		if err := r.poll(ctx, n); err != nil || !r.hard.Load() {
			return err
		}
	}
	if d := r.deadline.Load(); d > 0 && n >= d {
		seq := r.deadSeq.Load()
		if r.deadline.CompareAndSwap(d, 0) {
			r.send(ctx, event{kind: evTimeout, frame: n, seq: seq})
		}
	}
	return nil
}

// open starts recognising an utterance with the pre-roll frames.
func (r *reader) open(ctx context.Context, n int64) error {
	opts := speech.StreamOptions{Language: r.c.s.Language, CallID: r.c.call.ID}
	if p := r.phrases.Load(); p != nil {
		opts.Phrases = *p
	}
	st, err := r.c.cfg.Recognizer.NewStream(ctx, opts)
	if err != nil {
		return fmt.Errorf("recognise: start stream: %w", err)
	}
	r.cur = &recognition{stream: st, start: n, speaking: true, overGuarded: r.guarded.Load(), sentAt: math.MinInt64 / 2}
	for i := range r.preroll {
		if err := st.Write(r.preroll[(r.head+i)%len(r.preroll)]); err != nil {
			return fmt.Errorf("recognise: write pre-roll: %w", err)
		}
	}
	return nil
}

// poll takes the recogniser's results and ends the turn when the caller has
// been silent long enough, or at once after a confident final.
func (r *reader) poll(ctx context.Context, n int64) error {
	cur := r.cur
	for more := true; more; {
		select {
		case res, ok := <-cur.stream.Results():
			if !ok {
				return errors.New("recognise: stream closed before its final")
			}
			if !res.Final {
				cur.partial = strings.TrimSpace(res.Text)
				continue
			}
			cur.partial = ""
			if cur.awaiting > 0 {
				cur.awaiting--
			}
			cur.final = r.c.cfg.Now()
			if t := strings.TrimSpace(res.Text); t != "" {
				cur.texts = append(cur.texts, t)
				cur.conf = res.Confidence
			}
			cur.confident = res.Confidence >= r.c.cfg.ConfidentFinal && strings.TrimSpace(res.Text) != ""
		default:
			more = false
		}
	}
	r.partial(n)
	if cur.speaking {
		return nil
	}
	if cur.awaiting > 0 {
		if r.c.cfg.Now().Sub(cur.vadEnd) > r.c.cfg.RecognizerTimeout {
			return fmt.Errorf("recognise: no final %v after speech ended", r.c.cfg.RecognizerTimeout)
		}
		return nil
	}
	if !cur.confident && n-cur.lastEnd < frames(r.c.cfg.EndSilence) {
		return nil
	}
	u := &utterance{
		text: strings.Join(cur.texts, " "), confidence: cur.conf,
		start: cur.start, end: cur.lastEnd, vadEnd: cur.vadEnd, final: cur.final,
		overGuarded: cur.overGuarded,
	}
	if r.c.call.Cues != nil {
		u.cues = r.c.call.Cues.Utterance()
	}
	if u.text != "" {
		// Sent before the utterance reaches the call's goroutine, so the
		// intent event it leads to always follows.
		r.c.emit(Event{Kind: EventCallerSaid, Text: u.text, Confidence: u.confidence})
		if u.cues.Emotion != "" {
			r.c.emit(Event{Kind: EventEmotion, Emotion: u.cues.Emotion})
		}
	}
	r.drop()
	r.send(ctx, event{kind: evUtterance, frame: n, utt: u})
	return nil
}

// partial emits the hypothesis in progress as a partial caller_said when
// it changed and PartialEvery has passed since the last one: a chatty
// recogniser's revisions in between are folded into the next event. It
// builds an event only then, so the frames in between cost a comparison.
func (r *reader) partial(n int64) {
	cur := r.cur
	if cur.partial == "" || cur.partial == cur.sent || n-cur.sentAt < frames(r.c.cfg.PartialEvery) || r.c.call.Events == nil {
		return
	}
	cur.sent, cur.sentAt = cur.partial, n
	text := cur.partial
	if len(cur.texts) > 0 {
		// Finals of the utterance's earlier segments lead the hypothesis.
		text = strings.Join(cur.texts, " ") + " " + text
	}
	r.c.emit(Event{Kind: EventCallerSaid, Text: text, Partial: true})
}

func (r *reader) drop() {
	if r.cur != nil {
		r.cur.stream.Close()
		r.cur = nil
	}
}

// close releases the recogniser after the reader goroutine has returned.
func (r *reader) close() { r.drop() }
