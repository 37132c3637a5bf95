package dialog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// Leg is the call's audio: 20 ms frames of 8 kHz mono PCM in both
// directions. rtp.Leg satisfies it. ReadFrame is called from one goroutine,
// WriteFrame from another, ClearOutput from either.
type Leg interface {
	// ReadFrame blocks for the caller's next frame.
	ReadFrame(ctx context.Context, dst []int16) error
	// WriteFrame queues one frame to play, blocking while the queue is full.
	WriteFrame(ctx context.Context, src []int16) error
	// ClearOutput drops queued frames at once, for barge-in.
	ClearOutput()
}

// Digit is one DTMF key the caller pressed. The wiring code turns the leg's
// own events (rtp.DTMFEvent) into these.
type Digit struct {
	// Digit is one of 0-9, *, #, A-D.
	Digit rune
	// At is when it arrived.
	At time.Time
}

// Transferer hands a call to a person.
type Transferer interface {
	// Transfer refers ("refer") or bridges ("bridge") the call to uri and
	// returns once the far end took it or failed.
	Transfer(ctx context.Context, mode, uri string) error
}

// Messenger sends text messages on the call's behalf (SIP MESSAGE).
type Messenger interface {
	// SendMessage sends text to uri; an empty uri means the called person.
	SendMessage(ctx context.Context, uri, text string) error
}

// Cues are what audio analysers say about an utterance, for branching.
type Cues struct {
	// Emotion is a label such as "angry", "neutral"; empty when unknown.
	Emotion string
	// Voiceprint is "match" or "mismatch" against the enrolled speaker;
	// empty when no one is enrolled.
	Voiceprint string
	// AMD is the answering-machine detector's verdict so far: "human",
	// "machine" or "unknown"; empty when none runs.
	AMD string
}

// CueSource analyses the caller's audio alongside the recogniser. It is
// called from the leg's reader goroutine only.
type CueSource interface {
	// Write sees every frame the caller sends.
	Write(frame []int16)
	// Utterance returns the cues of the utterance that just ended.
	Utterance() Cues
}

// Call is one call for the engine to run.
type Call struct {
	// ID names the call in logs and records.
	ID string
	// Leg is the call's audio.
	Leg Leg
	// DTMF delivers the caller's keys; nil when the leg has none.
	DTMF <-chan Digit
	// Variables are the contact's values (name, amount…); they override
	// the script's defaults.
	Variables map[string]string
	// Transfer performs transfer nodes; nil makes every transfer fail.
	Transfer Transferer
	// Messages sends message nodes; nil makes every message fail.
	Messages Messenger
	// Cues analyses the caller's audio for emotion, voiceprint and AMD
	// branches; nil means no cues.
	Cues CueSource
	// Variant names the script variant to run, as the dialler assigned
	// it; empty (or a name the script lacks) means a draw by weight.
	Variant string
	// Events receives the call's live events, each stamped with ID, the
	// running node and the time: caller_said (throttled partials, then the
	// final with the recogniser's confidence), bot_said (when a prompt's
	// first frame is written, and again with Interrupted when the caller
	// cuts it), intent, emotion, dtmf and transferred. nil means none; a
	// sink that panics is cut off for the rest of the call (see emit).
	Events EventSink
}

// Config is what an Engine runs scripts with. Script and the three speech
// engines are required; every other zero field has the default documented
// beside it.
type Config struct {
	// Script is the call script.
	Script *Script
	// Recognizer, Understander and Synthesizer are the speech engines.
	Recognizer   speech.Recognizer
	Understander speech.Understander
	Synthesizer  speech.Synthesizer
	// Prompts plays recorded prompts by id (prompt: in a script); nil
	// means nodes with a prompt id speak their text instead.
	Prompts speech.Synthesizer
	// NewVAD builds one VAD per call; nil means dsp's detector with its
	// defaults (NewDSPVAD).
	NewVAD func() (VAD, error)
	// Sink stores each call's record; nil means records are only returned.
	Sink RecordSink
	// Logger receives the engine's logs, each line with call_id; nil means
	// slog.Default().
	Logger *slog.Logger

	// EndSilence is how much more silence, after the VAD's speech end
	// (itself after the VAD's hang-over), ends the caller's turn; 0 means
	// 400 ms. A recogniser final at least ConfidentFinal sure ends the turn
	// as soon as it arrives.
	EndSilence time.Duration
	// ConfidentFinal is the recogniser confidence that ends a turn without
	// waiting for EndSilence; 0 means 0.85.
	ConfidentFinal float64
	// MinBargeIn is the shortest speech that interrupts a prompt, from the
	// VAD's start event to its end event (so hang-over included): shorter
	// sounds (coughs, clicks) are false interruptions and the prompt goes
	// on; 0 means 500 ms (about 250 ms of sound with dsp's VAD).
	MinBargeIn time.Duration
	// BackchannelMax is the longest an utterance may last, from the VAD's
	// start event, and still count as a backchannel: speech this long
	// confirms a barge-in without waiting for the recogniser; 0 means 1.2 s.
	BackchannelMax time.Duration
	// Backchannels are utterances that, over a prompt, mean "go on";
	// nil means DefaultBackchannels.
	Backchannels []string
	// PreRoll is audio before the VAD's speech start given to the
	// recogniser, since VADs start late; 0 means 200 ms.
	PreRoll time.Duration
	// RecognizerTimeout bounds the wait for a final after speech ends;
	// 0 means 5 s.
	RecognizerTimeout time.Duration
	// SynthTimeout bounds the wait for each synthesised frame; 0 means 5 s.
	SynthTimeout time.Duration
	// UnderstandTimeout bounds each understanding; 0 means 3 s.
	UnderstandTimeout time.Duration
	// MaxSteps bounds the nodes one call visits, so a script loop cannot
	// hold a line forever; 0 means 200.
	MaxSteps int
	// Rand returns numbers in [0, 1) to choose variants; nil means
	// math/rand/v2's Float64.
	Rand func() float64
	// Now is the wall clock for records and events; nil means time.Now.
	Now func() time.Time
	// PartialEvery is the least call-audio time between two partial
	// caller_said events of one utterance, so a recogniser that revises
	// its hypothesis every frame cannot flood the event stream; 0 means
	// 200 ms. A partial is only sent when its text changed.
	PartialEvery time.Duration
}

// DefaultBackchannels are the utterances that do not interrupt a prompt.
// Words that can answer a question ("okay", "yeah", "对", "好") are left
// out: said over a question, they are more often the answer than a nod.
var DefaultBackchannels = []string{
	"mm", "mmm", "mhm", "mm-hm", "mm hm", "uh-huh", "uh huh", "hmm",
	"嗯", "嗯嗯", "哦", "噢", "喔",
}

// Engine runs calls through one script. It is safe for concurrent Runs.
type Engine struct {
	cfg Config
	// voicemail is set when the script has voicemail nodes: calls then
	// listen for answering-machine beeps.
	voicemail bool
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("dialog: invalid configuration")

// New checks cfg and fills its defaults.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Script == nil:
		return nil, fmt.Errorf("%w: no script", ErrConfig)
	case cfg.Recognizer == nil:
		return nil, fmt.Errorf("%w: no recognizer for script %q", ErrConfig, cfg.Script.Name)
	case cfg.Understander == nil:
		return nil, fmt.Errorf("%w: no understander for script %q", ErrConfig, cfg.Script.Name)
	case cfg.Synthesizer == nil:
		return nil, fmt.Errorf("%w: no synthesizer for script %q", ErrConfig, cfg.Script.Name)
	}
	if cfg.Prompts == nil {
		if where := promptOnly(cfg.Script); where != "" {
			return nil, fmt.Errorf("%w: script %q plays recorded prompt %s with no text to speak instead, and no prompt player is configured", ErrConfig, cfg.Script.Name, where)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.EndSilence, 400*time.Millisecond)
	def(&cfg.MinBargeIn, 500*time.Millisecond)
	def(&cfg.BackchannelMax, 1200*time.Millisecond)
	def(&cfg.PreRoll, 200*time.Millisecond)
	def(&cfg.RecognizerTimeout, 5*time.Second)
	def(&cfg.SynthTimeout, 5*time.Second)
	def(&cfg.UnderstandTimeout, 3*time.Second)
	def(&cfg.PartialEvery, 200*time.Millisecond)
	if cfg.ConfidentFinal <= 0 {
		cfg.ConfidentFinal = 0.85
	}
	if cfg.Backchannels == nil {
		cfg.Backchannels = DefaultBackchannels
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 200
	}
	if cfg.NewVAD == nil {
		cfg.NewVAD = func() (VAD, error) { return NewDSPVAD(dsp.VADConfig{}) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	voicemail := slices.ContainsFunc(cfg.Script.Nodes, func(n *Node) bool { return n.Kind == KindVoicemail })
	return &Engine{cfg: cfg, voicemail: voicemail}, nil
}

// frames converts a duration to whole 20 ms frames, at least one.
func frames(d time.Duration) int64 {
	n := int64(d / speech.FrameDuration)
	if n < 1 {
		n = 1
	}
	return n
}

// errHungUp ends a run when the leg or the context ended it.
var errHungUp = errors.New("call ended")

// Run plays the script over call until a hangup node, a transfer or the
// fallback ends it, and returns the call's record, also saved to the Sink.
// Engine failures (recogniser, understander, synthesiser errors and
// timeouts) run the script's fallback and are noted in Record.Error, not
// returned. Run returns an error only when the leg failed or ctx ended
// (the caller hung up): the record then has outcome "hung_up". Run never
// ends the SIP call itself; its caller hangs up when it returns.
func (e *Engine) Run(ctx context.Context, call Call) (Record, error) {
	if call.Leg == nil {
		return Record{}, fmt.Errorf("run script %q on call %q: no leg", e.cfg.Script.Name, call.ID)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := e.cfg.Script
	c := &conv{
		e:    e,
		cfg:  &e.cfg,
		s:    s,
		call: call,
		log:  e.cfg.Logger.With("call_id", call.ID, "script", s.Name),
		vars: map[string]string{},
		turn: -1,
		rec: Record{
			CallID: call.ID, Script: s.Name, Start: e.cfg.Now(),
		},
	}
	start := s.Start
	maps.Copy(c.vars, s.Variables)
	if len(s.Variants) > 0 {
		// The dialler's assignment wins over the weighted draw, so that a
		// retried contact hears the same variant and the A/B split is the
		// campaign's, not chance's.
		i := slices.IndexFunc(s.Variants, func(v ScriptVariant) bool { return v.Name == call.Variant })
		if i < 0 {
			if call.Variant != "" {
				e.cfg.Logger.Warn("assigned variant not in script; choosing by weight",
					"call_id", call.ID, "script", s.Name, "variant", call.Variant)
			}
			ws := make([]float64, len(s.Variants))
			for k, v := range s.Variants {
				ws[k] = v.Weight
			}
			i = pick(ws, e.cfg.Rand())
		}
		v := s.Variants[i]
		c.rec.Variant = v.Name
		if v.Start != "" {
			start = v.Start
		}
		maps.Copy(c.vars, v.Variables)
	}
	maps.Copy(c.vars, call.Variables)
	vad, err := e.cfg.NewVAD()
	if err != nil {
		return c.rec, fmt.Errorf("run script %q on call %q: build VAD: %w", s.Name, call.ID, err)
	}
	c.r = newReader(c, vad)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.r.run(ctx, cancel)
	}()
	c.log.Info("call script started", "variant", c.rec.Variant, "start", start)

	err = c.walk(ctx, start)
	if err != nil && !errors.Is(err, errHungUp) {
		err = c.fallback(ctx, err)
	}
	cancel()
	wg.Wait()
	c.r.close()

	c.rec.End = e.cfg.Now()
	c.rec.Variables = c.vars
	if lerr := c.legErr.Load(); lerr != nil && err != nil {
		err = fmt.Errorf("read caller audio: %w", *lerr)
	}
	if err != nil {
		c.rec.Outcome = "hung_up"
		err = fmt.Errorf("run script %q on call %q: %w", s.Name, call.ID, err)
	}
	c.log.Info("call script ended", "outcome", c.rec.Outcome, "steps", len(c.rec.Path))
	if e.cfg.Sink != nil {
		// The call's ctx may be over (caller hung up); the record must still land.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if serr := e.cfg.Sink.Save(sctx, c.rec); serr != nil {
			c.log.Error("save call record", "err", serr)
		}
		scancel()
	}
	return c.rec, err
}

// pick chooses an index with probability proportional to weights, given r
// uniform in [0, 1).
func pick(weights []float64, r float64) int {
	var total float64
	for _, w := range weights {
		total += w
	}
	r *= total
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

// conv is the state of one running call.
type conv struct {
	e    *Engine
	cfg  *Config
	s    *Script
	call Call
	log  *slog.Logger
	r    *reader
	rec  Record
	vars map[string]string

	gen     uint64 // generation of the current synthesis
	last    *speech.Understanding
	carried *input                // caller input that interrupted a prompt, for the next listen
	digits  []Digit               // keys pressed during uninterruptible prompts
	turn    int                   // index in rec.Turns awaiting its reply's first frame; -1 none
	playEnd int64                 // reader frame by which the last prompt has played out
	legErr  atomic.Pointer[error] // why the leg stopped, if it failed

	node       atomic.Pointer[string] // id of the running node, for events from the reader
	sinkBroken atomic.Bool            // the event sink panicked: emit no more
}

// engineError marks failures of a speech engine, which run the fallback.
type engineError struct{ err error }

func (e engineError) Error() string { return e.err.Error() }
func (e engineError) Unwrap() error { return e.err }

// lookup resolves ${name}: contact and script variables, slot.NAME from the
// last understood utterance, call.id.
func (c *conv) lookup(name string) (string, bool) {
	if v, ok := c.vars[name]; ok {
		return v, true
	}
	if rest, ok := strings.CutPrefix(name, "slot."); ok && c.last != nil {
		for _, sl := range c.last.Slots {
			if sl.Name == rest || sl.Type == rest {
				return sl.Value, true
			}
		}
	}
	if name == "call.id" {
		return c.call.ID, true
	}
	return "", false
}

func (c *conv) expand(s string) string {
	return expand(s, c.lookup, func(name string) {
		c.log.Warn("script variable has no value", "variable", name)
	})
}

// words returns the node's text, prompt and next after choosing a variant.
func (c *conv) words(n *Node) (text, prompt, next string) {
	text, prompt, next = n.Text, n.Prompt, n.Next
	if len(n.Variants) == 0 {
		return
	}
	if c.rec.NodeVariants == nil {
		c.rec.NodeVariants = map[string]string{}
	}
	// One choice per node per call: a caller who hears the node again
	// hears the same wording, and the record names one variant.
	i := slices.IndexFunc(n.Variants, func(v NodeVariant) bool { return v.Name == c.rec.NodeVariants[n.ID] })
	if i < 0 {
		ws := make([]float64, len(n.Variants))
		for k, v := range n.Variants {
			ws[k] = v.Weight
		}
		i = pick(ws, c.cfg.Rand())
		c.rec.NodeVariants[n.ID] = n.Variants[i].Name
	}
	v := n.Variants[i]
	if v.Text != "" || v.Prompt != "" {
		text, prompt = v.Text, v.Prompt
	}
	if v.Next != "" {
		next = v.Next
	}
	return
}

// walk runs nodes from id until the call ends.
func (c *conv) walk(ctx context.Context, id string) error {
	for steps := 0; ; steps++ {
		if steps >= c.cfg.MaxSteps {
			return engineError{fmt.Errorf("script %q visited %d nodes without ending (a loop?)", c.s.Name, steps)}
		}
		n := c.s.Node(id)
		c.node.Store(&n.ID)
		c.rec.Path = append(c.rec.Path, id)
		c.log.Debug("node", "node", id, "kind", n.Kind)
		next, done, err := c.step(ctx, n)
		if err != nil || done {
			return err
		}
		id = next
	}
}

// step runs one node and says where to go next, or that the call is over.
func (c *conv) step(ctx context.Context, n *Node) (next string, done bool, err error) {
	switch n.Kind {
	case KindSay:
		text, prompt, next := c.words(n)
		res, err := c.play(ctx, n.ID, c.expand(text), prompt, n.Interruptible)
		if err != nil {
			return "", false, err
		}
		if res.input != nil {
			c.carried = res.input
		}
		return next, false, nil
	case KindListen:
		return c.listen(ctx, n)
	case KindSet:
		for _, t := range n.Tags {
			if t = c.expand(t); !slices.Contains(c.rec.Tags, t) {
				c.rec.Tags = append(c.rec.Tags, t)
			}
		}
		for k, v := range n.Set {
			c.vars[k] = c.expand(v)
		}
		return n.Next, false, nil
	case KindMessage:
		text := c.expand(n.Text)
		err := errors.New("no messenger for this call")
		if c.call.Messages != nil {
			err = c.call.Messages.SendMessage(ctx, c.expand(n.To), text)
		}
		if err != nil {
			c.log.Warn("send message", "node", n.ID, "err", err)
			if n.OnFail != "" {
				return n.OnFail, false, nil
			}
			return n.Next, false, nil
		}
		c.rec.Transcript = append(c.rec.Transcript, Entry{Side: SideBot, Node: n.ID, At: c.r.now(), Text: text, Message: true})
		return n.Next, false, nil
	case KindTransfer:
		to := c.expand(n.To)
		mode := n.TransferMode
		if mode == "" {
			mode = "refer"
		}
		// The summary is spoken for the agent while the caller hears the
		// node's prompt, so the briefing costs the caller no extra wait.
		var brief <-chan Briefing
		bctx, stopBrief := context.WithCancel(ctx)
		defer stopBrief()
		if _, warm := c.call.Transfer.(WarmTransferer); warm && n.Brief {
			text := c.summaryText(n)
			c.rec.TransferSummary = text
			brief = c.startBriefing(bctx, n.ID, text)
		}
		text, prompt, _ := c.words(n)
		if text != "" || prompt != "" {
			if _, err := c.play(ctx, n.ID, c.expand(text), prompt, n.Interruptible); err != nil {
				if brief != nil {
					stopBrief()
					<-brief
				}
				return "", false, err
			}
		}
		var err error
		if brief != nil {
			err = c.transferWarm(ctx, mode, to, <-brief)
		} else {
			err = c.transfer(ctx, mode, to)
		}
		if err != nil {
			c.log.Warn("transfer", "node", n.ID, "to", to, "err", err)
			if n.OnFail != "" {
				return n.OnFail, false, nil
			}
			return "", false, engineError{fmt.Errorf("transfer to %s: %w", to, err)}
		}
		return "", true, nil
	case KindVoicemail:
		return c.voicemail(ctx, n)
	case KindHangup:
		text, prompt, _ := c.words(n)
		if text != "" || prompt != "" {
			if _, err := c.play(ctx, n.ID, c.expand(text), prompt, n.Interruptible); err != nil {
				return "", false, err
			}
			// The goodbye must be heard before the caller of Run hangs up.
			if err := c.drain(ctx); err != nil {
				return "", false, err
			}
		}
		c.rec.Outcome = c.expand(n.Outcome)
		return "", true, nil
	}
	return "", false, engineError{fmt.Errorf("node %q has kind %q, which this engine cannot run", n.ID, n.Kind)}
}

func (c *conv) transfer(ctx context.Context, mode, to string) error {
	if c.call.Transfer == nil {
		return errors.New("no transferer for this call")
	}
	if err := c.call.Transfer.Transfer(ctx, mode, to); err != nil {
		return err
	}
	return c.transferred(to)
}

// transferWarm is transfer with a briefing for the agent; the call's
// Transferer is a WarmTransferer.
func (c *conv) transferWarm(ctx context.Context, mode, to string, b Briefing) error {
	if err := c.call.Transfer.(WarmTransferer).TransferWarm(ctx, mode, to, b); err != nil {
		return err
	}
	return c.transferred(to)
}

func (c *conv) transferred(to string) error {
	c.rec.Outcome, c.rec.TransferredTo = "transferred", to
	c.emit(Event{Kind: EventTransferred, Target: to})
	return nil
}

// fallback runs the script's fallback after an engine failure: a transfer
// to people, else a goodbye, then the end of the call, never silence.
func (c *conv) fallback(ctx context.Context, cause error) error {
	c.log.Error("engine failed, running the script's fallback", "err", cause)
	c.rec.Error = cause.Error()
	fb := c.s.Fallback
	c.r.setPlaying(false, false)
	if fb.Transfer != "" {
		to := c.expand(fb.Transfer)
		if err := c.transfer(ctx, "refer", to); err == nil {
			return nil
		} else if errors.Is(err, errHungUp) || ctx.Err() != nil {
			return errHungUp
		} else {
			c.log.Warn("fallback transfer", "to", to, "err", err)
		}
	}
	c.rec.Outcome = fb.Outcome
	if c.rec.Outcome == "" {
		c.rec.Outcome = "failed"
	}
	if fb.Text != "" || fb.Prompt != "" {
		if _, err := c.play(ctx, "fallback", c.expand(fb.Text), fb.Prompt, false); err != nil {
			if errors.Is(err, errHungUp) {
				return err
			}
			c.log.Error("fallback goodbye could not be played either; ending the call", "err", err)
			return nil
		}
		if err := c.drain(ctx); errors.Is(err, errHungUp) {
			return err
		}
	}
	return nil
}

// promptOnly names the first place in s that has a prompt id but no text,
// which only a prompt player can say; "" if there is none.
func promptOnly(s *Script) string {
	for _, n := range s.Nodes {
		if n.Prompt != "" && n.Text == "" {
			return fmt.Sprintf("%q (node %q, %s:%d)", n.Prompt, n.ID, s.File, n.Line)
		}
		for _, v := range n.Variants {
			if v.Prompt != "" && v.Text == "" {
				return fmt.Sprintf("%q (node %q variant %q, %s:%d)", v.Prompt, n.ID, v.Name, s.File, v.Line)
			}
		}
	}
	for intent, a := range s.Knowledge {
		if a.Prompt != "" && a.Text == "" {
			return fmt.Sprintf("%q (knowledge %q, %s:%d)", a.Prompt, intent, s.File, a.Line)
		}
	}
	if fb := s.Fallback; fb.Prompt != "" && fb.Text == "" {
		return fmt.Sprintf("%q (fallback)", fb.Prompt)
	}
	return ""
}

// DigitsFrom turns a leg's own DTMF events (such as rtp.DTMFEvent) into
// Digits for Call.DTMF, until ctx ends or in is closed. digit extracts the
// key and its arrival time; the wiring code supplies it, so dialog needs no
// import of the leg's package.
func DigitsFrom[T any](ctx context.Context, in <-chan T, digit func(T) (rune, time.Time)) <-chan Digit {
	out := make(chan Digit, 8)
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				d, at := digit(ev)
				select {
				case out <- Digit{Digit: d, At: at}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
