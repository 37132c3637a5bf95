package dialog

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

// eventLog is a sink that keeps every event, as the dashboard's hub would
// fan them out.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Emit(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// peek returns the text of the clip the recogniser will report next,
// without using it up: what a streaming recogniser is part-way through.
func (l *memLeg) peek() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.clips) - 1; i >= 0; i-- {
		if !l.clips[i].used {
			return l.clips[i].text
		}
	}
	return ""
}

// chattyRecognizer is the scripted recogniser with partial results: from
// the end of the pre-roll it revises its hypothesis every other frame, one
// more letter of the clip's text each time, as fast as a real streaming
// recogniser can (they emit about every 100 ms; this is five times that).
type chattyRecognizer struct {
	scriptedRecognizer
	preroll int
	mu      sync.Mutex
	hyps    int // distinct partial hypotheses given
}

func (r *chattyRecognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.RecognizerStream, error) {
	st, err := r.scriptedRecognizer.NewStream(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &chattyStream{scriptedStream: st.(*scriptedStream), r: r}, nil
}

type chattyStream struct {
	*scriptedStream
	r    *chattyRecognizer
	last string
}

func (s *chattyStream) Write(frame []int16) error {
	if err := s.scriptedStream.Write(frame); err != nil {
		return err
	}
	text := []rune(s.leg.peek())
	hyp := string(text[:min(len(text), max(0, s.frames-s.r.preroll)/2)])
	if hyp == "" || hyp == s.last {
		return nil
	}
	s.last = hyp
	s.r.mu.Lock()
	s.r.hyps++
	s.r.mu.Unlock()
	select {
	case s.results <- speech.Result{Text: hyp}:
	default: // a full channel drops a partial, as engines do
	}
	return nil
}

// labelCues labels every utterance with one emotion.
type labelCues struct{ label string }

func (labelCues) Write([]int16)     {}
func (c labelCues) Utterance() Cues { return Cues{Emotion: c.label} }

const transferScript = `name: events_transfer
language: en-US
intents:
  affirm: ["yes", "yes please", "sure", "of course"]
  deny: ["no", "no thanks", "not interested"]
fallback: {text: "Goodbye."}
nodes:
  - id: ask
    kind: listen
    text: "Shall I put you through to an advisor?"
    timeout: 3s
    retries: 0
    branches:
      - {intent: affirm, goto: agent}
      - {intent: deny, goto: bye}
  - id: agent
    kind: transfer
    text: "Connecting you."
    mode: refer
    to: "sip:advisor@example.com"
  - id: bye
    kind: hangup
    outcome: not_interested
`

// kinds lists the events as "kind:node", partials folded into one
// "caller_said~" per run, so a test can state the exact sequence.
func kindsOf(events []Event) []string {
	var out []string
	for _, e := range events {
		k := string(e.Kind) + ":" + e.Node
		if e.Partial {
			k = "caller_said~:" + e.Node
			if len(out) > 0 && out[len(out)-1] == k {
				continue
			}
		}
		if e.Interrupted {
			k += "!"
		}
		out = append(out, k)
	}
	return out
}

func TestEngineEmitsLiveEventsInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		script  string // inline script; "" means testdata/engine_en.yaml
		steps   func(t *testing.T) []step
		outcome string
		kinds   []string
		check   func(t *testing.T, ev []Event)
	}{
		{"an answer: what was said, its emotion and intent", "", func(t *testing.T) []step {
			return []step{{waitSilent: 50}, {say: fliteClip(t, "yes please"), text: "yes please"}}
		}, "interested", []string{
			"bot_said:disclosure", "bot_said:offer", "caller_said~:offer", "caller_said:offer",
			"emotion:offer", "intent:offer", "bot_said:bye_yes",
		}, func(t *testing.T, ev []Event) {
			if ev[0].Text != disclosureText || !strings.HasPrefix(ev[1].Text, "Hello Alex. We have") {
				t.Errorf("bot_said texts %q, %q: want the prompts being spoken, variables expanded", ev[0].Text, ev[1].Text)
			}
			final := find(ev, func(e Event) bool { return e.Kind == EventCallerSaid && !e.Partial })
			if final.Text != "yes please" || final.Confidence != 0.9 {
				t.Errorf("final caller_said %+v, want \"yes please\" at the recogniser's 0.9", final)
			}
			if em := find(ev, func(e Event) bool { return e.Kind == EventEmotion }); em.Emotion != "calm" {
				t.Errorf("emotion event %+v, want the cue's label", em)
			}
			if in := find(ev, func(e Event) bool { return e.Kind == EventIntent }); in.Intent != "affirm" || in.Confidence <= 0 || in.Confidence > 1 {
				t.Errorf("intent event %+v, want affirm with its confidence", in)
			}
			if last := ev[len(ev)-1]; last.Text != "Great. Goodbye." {
				t.Errorf("last event %+v, want the goodbye", last)
			}
		}},
		{"a key cuts the question", "", func(t *testing.T) []step {
			return []step{{waitBot: int64(estimateFrames(disclosureText)) + 40}, {key: '2'}}
		}, "not_interested", []string{
			"bot_said:disclosure", "bot_said:offer", "dtmf:offer", "bot_said:offer!", "bot_said:bye_no",
		}, func(t *testing.T, ev []Event) {
			if ev[2].Digit != "2" {
				t.Errorf("dtmf event %+v, want digit 2", ev[2])
			}
			cut := ev[3]
			if !strings.HasSuffix(cut.Text, "…") || !strings.HasPrefix(ev[1].Text, strings.TrimSuffix(cut.Text, "…")) {
				t.Errorf("interrupted bot_said %q, want the heard part of %q", cut.Text, ev[1].Text)
			}
		}},
		{"a transfer names its target", transferScript, func(t *testing.T) []step {
			return []step{{waitSilent: 50}, {say: fliteClip(t, "yes please"), text: "yes please"}}
		}, "transferred", []string{
			"bot_said:ask", "caller_said~:ask", "caller_said:ask", "emotion:ask", "intent:ask",
			"bot_said:agent", "transferred:agent",
		}, func(t *testing.T, ev []Event) {
			if last := ev[len(ev)-1]; last.Target != "sip:advisor@example.com" {
				t.Errorf("transferred event %+v, want the node's target", last)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r *rig
			if tc.script == "" {
				r = newRig(t, "testdata/engine_en.yaml", tc.steps(t)...)
			} else {
				r = newRigScript(t, tc.script, tc.steps(t)...)
			}
			asr := &chattyRecognizer{scriptedRecognizer: scriptedRecognizer{leg: r.leg}, preroll: int(frames(200 * time.Millisecond))}
			r.cfg.Recognizer = asr
			// Events are stamped with the leg's frame clock, so the test can
			// read their spacing in call-audio time.
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			r.cfg.Now = func() time.Time {
				r.leg.mu.Lock()
				defer r.leg.mu.Unlock()
				return start.Add(time.Duration(r.leg.frame) * speech.FrameDuration)
			}
			sink := &eventLog{}
			sip := &fakeSIP{}
			e, err := New(r.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const id = "call-events"
			rec, err := e.Run(ctx, Call{ID: id, Leg: r.leg, DTMF: r.leg.dtmf, Cues: labelCues{"calm"}, Events: sink, Transfer: sip})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, dump(rec))
			}
			ev := sink.all()
			if rec.Outcome != tc.outcome {
				t.Fatalf("outcome %q, want %q\n%s", rec.Outcome, tc.outcome, dump(rec))
			}
			if got := kindsOf(ev); strings.Join(got, " ") != strings.Join(tc.kinds, " ") {
				t.Fatalf("events\n got %q\nwant %q", got, tc.kinds)
			}
			for i, e := range ev {
				if e.CallID != id || e.At.IsZero() || (i > 0 && e.At.Before(ev[i-1].At)) {
					t.Errorf("event %d %+v: want call id %q and a time not before the previous event's", i, e, id)
				}
			}
			checkPartials(t, ev, asr)
			tc.check(t, ev)
		})
	}
}

// checkPartials asserts the throttle: partials are distinct growing
// hypotheses at least PartialEvery apart, fewer than the recogniser gave.
func checkPartials(t *testing.T, ev []Event, asr *chattyRecognizer) {
	t.Helper()
	var parts []Event
	for _, e := range ev {
		if e.Kind == EventCallerSaid && e.Partial {
			parts = append(parts, e)
		}
	}
	asr.mu.Lock()
	hyps := asr.hyps
	asr.mu.Unlock()
	if hyps == 0 {
		if len(parts) != 0 {
			t.Errorf("%d partial events from a recogniser that gave none", len(parts))
		}
		return
	}
	if len(parts) == 0 || len(parts) >= hyps {
		t.Errorf("%d partial events for %d hypotheses: want some, and fewer than the recogniser gave", len(parts), hyps)
	}
	t.Logf("%d partial events for %d hypotheses", len(parts), hyps)
	for i := 1; i < len(parts); i++ {
		if gap := parts[i].At.Sub(parts[i-1].At); gap < 200*time.Millisecond {
			t.Errorf("partials %q and %q %v apart, want at least 200 ms", parts[i-1].Text, parts[i].Text, gap)
		}
		if parts[i].Text == parts[i-1].Text || !strings.HasPrefix(parts[i].Text, parts[i-1].Text) {
			t.Errorf("partial %q after %q: want a changed, growing hypothesis", parts[i].Text, parts[i-1].Text)
		}
	}
}

func find(ev []Event, f func(Event) bool) Event {
	for _, e := range ev {
		if f(e) {
			return e
		}
	}
	return Event{}
}

// newRigScript is newRig for a script given inline.
func newRigScript(t *testing.T, script string, steps ...step) *rig {
	t.Helper()
	s, err := Parse(t.Name()+".yaml", []byte(script))
	if err != nil {
		t.Fatal(err)
	}
	leg := newMemLeg(steps...)
	r := &rig{script: s, leg: leg, asr: &scriptedRecognizer{leg: leg}, synth: &toneSynth{}, prompts: &toneSynth{}}
	leg.idle = func() bool { return r.synth.idle() && r.prompts.idle() }
	r.cfg = Config{
		Script: s, Recognizer: r.asr, Understander: understander(t, s), Synthesizer: r.synth,
		Prompts: r.prompts, Rand: func() float64 { return 0 }, Logger: testLogger(t),
	}
	return r
}

func TestEngineSurvivesAPanickingEventSink(t *testing.T) {
	t.Parallel()
	r := newRig(t, "testdata/engine_en.yaml", step{waitSilent: 50}, step{say: fliteClip(t, "yes please"), text: "yes please"})
	e, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	sink := EventFunc(func(Event) {
		mu.Lock()
		calls++
		mu.Unlock()
		panic("dashboard bug")
	})
	rec, err := e.Run(context.Background(), Call{ID: "panicky", Leg: r.leg, DTMF: r.leg.dtmf, Events: sink})
	if err != nil || rec.Outcome != "interested" {
		t.Fatalf("outcome %q err %v, want the call to go on to interested", rec.Outcome, err)
	}
	if calls != 1 {
		t.Errorf("sink called %d times, want once: a sink that panicked is not called again", calls)
	}
}

// countSink counts events without keeping them: it allocates nothing.
type countSink struct{ n int }

func (s *countSink) Emit(Event) { s.n++ }

func TestEmitAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		sink EventSink
	}{
		{"nil sink", nil},
		{"a sink that keeps nothing", &countSink{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := eventConv(tc.sink)
			allocs := testing.AllocsPerRun(1000, func() {
				c.emit(Event{Kind: EventBotSaid, Text: "Hello."})
				c.emitDigit("", Digit{Digit: '5'})
			})
			if allocs != 0 {
				t.Errorf("emit allocates %v times per event, want 0", allocs)
			}
			if s, ok := tc.sink.(*countSink); ok && s.n == 0 {
				t.Error("the sink received nothing")
			}
		})
	}
}

func TestPartialEventsCostNothingPerFrameWhileUnchanged(t *testing.T) {
	sink := &countSink{}
	c := eventConv(sink)
	r := &reader{c: c, cur: &recognition{sentAt: -1 << 40}}
	r.cur.partial = "yes"
	n := int64(1)
	r.partial(n) // the first hypothesis is sent at once
	r.cur.partial = "yes please"
	allocs := testing.AllocsPerRun(100, func() {
		n++
		if n < 10 { // within PartialEvery: a new text waits
			r.partial(n)
			return
		}
		r.cur.partial = r.cur.sent // nothing new: nothing sent
		r.partial(n)
	})
	if allocs != 0 || sink.n != 1 {
		t.Errorf("%v allocations per frame and %d events, want 0 and only the first hypothesis", allocs, sink.n)
	}
	r.cur.partial = "yes please now"
	r.partial(n + 10)
	if sink.n != 2 {
		t.Errorf("a changed hypothesis after the throttle sent %d events in all, want 2", sink.n)
	}
}

func eventConv(sink EventSink) *conv {
	cfg := &Config{Now: time.Now, PartialEvery: 200 * time.Millisecond}
	return &conv{cfg: cfg, call: Call{ID: "c1", Events: sink}, log: slog.New(slog.DiscardHandler)}
}

func BenchmarkEmit(b *testing.B) {
	for _, tc := range []struct {
		name string
		sink EventSink
	}{{"nil", nil}, {"counting", &countSink{}}} {
		b.Run(tc.name, func(b *testing.B) {
			c := eventConv(tc.sink)
			b.ReportAllocs()
			for b.Loop() {
				c.emit(Event{Kind: EventCallerSaid, Text: "yes", Partial: true})
			}
		})
	}
}

func TestEventJSONLeavesOutWhatDoesNotApply(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: EventDTMF, CallID: "c", Digit: "5"}, `{"kind":"dtmf","call_id":"c","at":"0001-01-01T00:00:00Z","digit":"5"}`},
		{Event{Kind: EventBotSaid, CallID: "c", Node: "n", Text: "Hel…", Interrupted: true},
			`{"kind":"bot_said","call_id":"c","at":"0001-01-01T00:00:00Z","node":"n","text":"Hel…","interrupted":true}`},
	} {
		b, err := json.Marshal(tc.e)
		if err != nil || string(b) != tc.want {
			t.Errorf("json %s (err %v), want %s", b, err, tc.want)
		}
	}
}
