package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/nlu"
)

var errIOEOF = io.EOF

// TestMain fails the package if any engine goroutine outlives its call.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func sin440(i int) float64 { return math.Sin(2 * math.Pi * 440 * float64(i) / speech.SampleRate) }

// classifiers holds one trained speech/nlu classifier per script: training
// takes a moment, and the classifier is safe to share.
var classifiers sync.Map

func understander(t *testing.T, s *Script) speech.Understander {
	t.Helper()
	if c, ok := classifiers.Load(s.Name); ok {
		return c.(*nlu.Classifier)
	}
	intents := make([]nlu.Intent, len(s.Intents))
	for i, in := range s.Intents {
		intents[i] = nlu.Intent{Name: in.Name, Examples: in.Examples}
	}
	c, err := nlu.New(context.Background(), intents, nlu.Config{})
	if err != nil {
		t.Fatalf("train the script's intents with speech/nlu: %v", err)
	}
	classifiers.Store(s.Name, c)
	return c
}

type rig struct {
	script  *Script
	leg     *memLeg
	asr     *scriptedRecognizer
	synth   *toneSynth
	prompts *toneSynth
	cfg     Config
}

func newRig(t *testing.T, file string, steps ...step) *rig {
	t.Helper()
	s, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	leg := newMemLeg(steps...)
	r := &rig{script: s, leg: leg, asr: &scriptedRecognizer{leg: leg}, synth: &toneSynth{}, prompts: &toneSynth{}}
	leg.idle = func() bool { return r.synth.idle() && r.prompts.idle() }
	r.cfg = Config{
		Script: s, Recognizer: r.asr, Understander: understander(t, s), Synthesizer: r.synth,
		Prompts: r.prompts, Rand: func() float64 { return 0 },
		Logger: testLogger(t),
	}
	return r
}

func (r *rig) run(t *testing.T) Record {
	t.Helper()
	e, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec, err := e.Run(ctx, Call{ID: "call-" + t.Name(), Leg: r.leg, DTMF: r.leg.dtmf})
	if err != nil {
		t.Fatalf("Run: %v\nrecord: %s", err, dump(rec))
	}
	return rec
}

// testLogger shows the engine's logs, call_id and all, with a failing
// test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func dump(rec Record) string {
	b, _ := json.MarshalIndent(rec, "", "  ")
	return string(b)
}

// botEntries returns the bot's transcript entries for node.
func botEntries(rec Record, node string) []Entry {
	var out []Entry
	for _, e := range rec.Transcript {
		if e.Side == SideBot && e.Node == node {
			out = append(out, e)
		}
	}
	return out
}

const disclosureText = "This call is recorded, as the law requires."

func TestEngineBranchesOnTheCallersAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		steps   func(t *testing.T) []step
		outcome string
		path    string
	}{
		{"yes is interested", func(t *testing.T) []step {
			return []step{{waitSilent: 50}, {say: fliteClip(t, "yes please"), text: "yes please"}}
		}, "interested", "disclosure offer bye_yes"},
		{"no is not interested", func(t *testing.T) []step {
			return []step{{waitSilent: 50}, {say: fliteClip(t, "no thanks"), text: "no thanks"}}
		}, "not_interested", "disclosure offer bye_no"},
		{"key 1 is interested", func(t *testing.T) []step {
			return []step{{waitSilent: 50}, {key: '1'}}
		}, "interested", "disclosure offer bye_yes"},
		{"key 2 during the question cuts it and is not interested", func(t *testing.T) []step {
			return []step{{waitBot: int64(estimateFrames(disclosureText)) + 40}, {key: '2'}}
		}, "not_interested", "disclosure offer bye_no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "testdata/engine_en.yaml", tc.steps(t)...)
			rec := r.run(t)
			if rec.Outcome != tc.outcome || strings.Join(rec.Path, " ") != tc.path {
				t.Fatalf("outcome %q path %v, want %q via %s\n%s", rec.Outcome, rec.Path, tc.outcome, tc.path, dump(rec))
			}
			if q := botEntries(rec, "offer"); len(q) != 1 || !strings.HasPrefix(q[0].Intended+q[0].Text, "Hello Alex.") {
				t.Errorf("offer question entries %+v, want one with ${name} expanded", q)
			}
			if len(r.asr.phrases) > 0 && strings.Join(r.asr.phrases[0], ",") != "yes,yes please,no,no thanks,what is the interest rate" {
				t.Errorf("recogniser got phrases %v, want the listen node's grammar", r.asr.phrases[0])
			}
		})
	}
}

func TestEngineSilenceRepromptsThenEndsWithNoInput(t *testing.T) {
	t.Parallel()
	r := newRig(t, "testdata/engine_en.yaml")
	rec := r.run(t)
	if rec.Outcome != "no_input" {
		t.Fatalf("outcome %q, want no_input\n%s", rec.Outcome, dump(rec))
	}
	var said []string
	for _, e := range rec.Transcript {
		said = append(said, e.Text)
	}
	// Retries 2: the question, two reprompts, then on_no_input's goodbye.
	want := []string{disclosureText, "", "Are you still there?", "Are you still there?", "Goodbye."}
	if len(said) != len(want) {
		t.Fatalf("transcript %q, want %d entries", said, len(want))
	}
	for i, w := range want {
		if w != "" && said[i] != w {
			t.Errorf("entry %d = %q, want %q", i, said[i], w)
		}
	}
	// Each no-input waits the node's 3 s after the prompt played out.
	gap := rec.Transcript[2].At - rec.Transcript[1].End
	if gap < 3*time.Second || gap > 4*time.Second {
		t.Errorf("reprompt came %v after the question ended, want 3 s (the timeout) and a little", gap)
	}
}

func TestEngineBargeInCutsAnInterruptiblePrompt(t *testing.T) {
	t.Parallel()
	const before = 80 // frames of the question heard before the caller speaks
	r := newRig(t, "testdata/engine_en.yaml",
		step{waitBot: int64(estimateFrames(disclosureText)) + before},
		step{say: fliteClip(t, "no thanks"), text: "no thanks"})
	rec := r.run(t)
	if rec.Outcome != "not_interested" {
		t.Fatalf("outcome %q, want not_interested\n%s", rec.Outcome, dump(rec))
	}
	clears, clearsBot, clips := r.leg.snapshot()
	if len(clips) != 1 || len(clears) == 0 {
		t.Fatalf("clips %+v clears %v", clips, clears)
	}
	heard := int(clearsBot[0]) - estimateFrames(disclosureText)
	cutMs := (clears[0] - clips[0].onset) * 20
	if cutMs < 0 || cutMs > 100 {
		t.Errorf("ClearOutput %d ms after the caller's speech began (frame time), want within 100 ms", cutMs)
	}
	q := botEntries(rec, "offer")
	if len(q) != 1 || !q[0].Interrupted {
		t.Fatalf("offer entries %+v, want one interrupted", q)
	}
	e := q[0]
	if !strings.HasSuffix(e.Text, "…") || !strings.HasPrefix(e.Intended, strings.TrimSuffix(e.Text, "…")) || len(e.Text) >= len(e.Intended)/2 {
		t.Errorf("played text %q is not a short cut of %q", e.Text, e.Intended)
	}
	if heard < before || heard > before+15 {
		t.Errorf("the leg played %d frames of the question, want %d and the few until the cut", heard, before)
	}
	// The record estimates from the frame clock; a stall of the machine
	// longer than the leg's patience would add a frame or two.
	if e.FramesPlayed < heard-2 || e.FramesPlayed > heard+6 {
		t.Errorf("record says %d frames played, the leg played %d", e.FramesPlayed, heard)
	}
	if len(rec.Turns) != 1 || rec.Turns[0].FirstWrite.IsZero() || rec.Turns[0].Latency() <= 0 {
		t.Errorf("turn stages %+v, want every stage stamped", rec.Turns)
	}
	t.Logf("cut %d ms after speech onset; heard %q (%d frames); turn latency %v", cutMs, e.Text, e.FramesPlayed, rec.Turns[0].Latency())
}

func TestEngineDoesNotCutAnUninterruptiblePrompt(t *testing.T) {
	t.Parallel()
	r := newRig(t, "testdata/engine_en.yaml",
		step{waitBot: 10},
		step{say: fliteClip(t, "hello there"), text: "hello there"},
		step{waitSilent: 50},
		step{say: fliteClip(t, "yes please"), text: "yes please"})
	rec := r.run(t)
	if rec.Outcome != "interested" {
		t.Fatalf("outcome %q, want interested\n%s", rec.Outcome, dump(rec))
	}
	clears, _, _ := r.leg.snapshot()
	if len(clears) != 0 {
		t.Errorf("ClearOutput at frames %v, want never", clears)
	}
	d := botEntries(rec, "disclosure")
	if len(d) != 1 || d[0].Interrupted || d[0].FramesPlayed != estimateFrames(disclosureText) {
		t.Errorf("disclosure %+v, want played whole (%d frames)", d, estimateFrames(disclosureText))
	}
	found := false
	for _, e := range rec.Transcript {
		found = found || (e.Side == SideCaller && e.Text == "hello there")
	}
	if !found {
		t.Errorf("what the caller said over the disclosure is not in the transcript\n%s", dump(rec))
	}
}

func TestEngineIgnoresFalseInterruptions(t *testing.T) {
	t.Parallel()
	cough := make([]int16, 8*120) // 120 ms of loud noise
	seed := uint32(1)
	for i := range cough {
		seed = seed*1664525 + 1013904223
		cough[i] = int16(int32(seed>>16)-32768) / 3
	}
	for _, tc := range []struct {
		name string
		clip func(t *testing.T) ([]int16, string)
	}{
		{"a cough", func(t *testing.T) ([]int16, string) { return cough, "" }},
		{"a backchannel", func(t *testing.T) ([]int16, string) { return fliteClip(t, "uh huh"), "uh-huh" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clip, text := tc.clip(t)
			r := newRig(t, "testdata/engine_en.yaml",
				step{waitBot: int64(estimateFrames(disclosureText)) + 40},
				step{say: clip, text: text},
				step{waitSilent: 50},
				step{say: fliteClip(t, "yes please"), text: "yes please"})
			rec := r.run(t)
			if rec.Outcome != "interested" {
				t.Fatalf("outcome %q, want interested\n%s", rec.Outcome, dump(rec))
			}
			clears, _, _ := r.leg.snapshot()
			q := botEntries(rec, "offer")
			if len(clears) == 0 || len(q) != 1 || q[0].Interrupted || q[0].Resumed != 1 {
				t.Fatalf("clears %v, offer %+v: want paused once, then resumed and finished", clears, q)
			}
			// The frames the cut dropped from the leg were played again:
			// the caller heard every frame of every prompt, give or take
			// the one frame the engine may have been writing as the reader
			// cleared the leg.
			want := 0
			for _, e := range rec.Transcript {
				if e.Side == SideBot {
					want += tonePromptFrames(e.Text)
				}
			}
			r.leg.mu.Lock()
			played := r.leg.botPlayed
			r.leg.mu.Unlock()
			if played < int64(want)-1 || played > int64(want)+1 || q[0].FramesPlayed != tonePromptFrames(q[0].Text) {
				t.Errorf("leg played %d bot frames, want %d; offer recorded %d frames, want %d",
					played, want, q[0].FramesPlayed, tonePromptFrames(q[0].Text))
			}
		})
	}
}

func TestEngineAnswersKnowledgeQuestionsThenResumes(t *testing.T) {
	t.Parallel()
	r := newRig(t, "testdata/engine_en.yaml",
		step{waitSilent: 50},
		step{say: fliteClip(t, "what is the interest rate"), text: "what is the interest rate"},
		step{waitSilent: 50},
		step{say: fliteClip(t, "yes please"), text: "yes please"})
	rec := r.run(t)
	if rec.Outcome != "interested" {
		t.Fatalf("outcome %q, want interested\n%s", rec.Outcome, dump(rec))
	}
	var bot []string
	for _, e := range botEntries(rec, "offer") {
		bot = append(bot, e.Text[:min(len(e.Text), 20)])
	}
	want := []string{"Hello Alex. We have ", "The rate is four poi", "Hello Alex. We have "}
	if strings.Join(bot, "|") != strings.Join(want, "|") {
		t.Errorf("offer node said %q, want question, answer, question again", bot)
	}
	var intents []string
	for _, e := range rec.Transcript {
		if e.Side == SideCaller {
			intents = append(intents, e.Intent)
		}
	}
	if strings.Join(intents, ",") != "ask_rate,affirm" {
		t.Errorf("caller intents %v, want ask_rate then affirm", intents)
	}
}

func TestEngineFailureRunsTheFallback(t *testing.T) {
	t.Parallel()
	prompts := func(r *rig) *toneSynth { return r.prompts }
	synth := func(r *rig) *toneSynth { return r.synth }
	for _, tc := range []struct {
		name   string
		setup  func(r *rig)
		player func(r *rig) *toneSynth // which synthesiser said goodbye
		said   string                  // what it was asked to say
		err    string
	}{
		{"synthesiser refuses the question: recorded goodbye", func(r *rig) { r.synth.failOn = "long offer" },
			prompts, "sorry_goodbye", "synthesiser crashed"},
		{"synthesiser dies mid-question: recorded goodbye", func(r *rig) { r.synth.failOn, r.synth.failAfter = "long offer", 30 },
			prompts, "sorry_goodbye", "died mid-sentence"},
		{"no prompt player: spoken goodbye", func(r *rig) { r.synth.failOn = "long offer"; r.cfg.Prompts = nil },
			synth, "Sorry, something went wrong. Goodbye.", "synthesiser crashed"},
		{"recogniser fails", func(r *rig) { r.asr.failNew = errors.New("model missing") },
			prompts, "sorry_goodbye", "model missing"},
		{"recogniser never answers", func(r *rig) { r.asr.mute = true; r.cfg.RecognizerTimeout = 300 * time.Millisecond },
			prompts, "sorry_goodbye", "no final 300ms after speech ended"},
		{"understander fails", func(r *rig) { r.cfg.Understander = failingUnderstander{} },
			prompts, "sorry_goodbye", "classifier not trained"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "testdata/engine_en.yaml",
				step{waitSilent: 50}, step{say: fliteClip(t, "yes please"), text: "yes please"})
			tc.setup(r)
			rec := r.run(t)
			if rec.Outcome != "failed" || !strings.Contains(rec.Error, tc.err) {
				t.Fatalf("outcome %q error %q, want failed with %q\n%s", rec.Outcome, rec.Error, tc.err, dump(rec))
			}
			last := rec.Transcript[len(rec.Transcript)-1]
			if last.Node != "fallback" || last.Text != "Sorry, something went wrong. Goodbye." || last.FramesPlayed == 0 {
				t.Errorf("last entry %+v, want the fallback goodbye played", last)
			}
			p := tc.player(r)
			if !strings.HasSuffix(strings.Join(p.texts, ""), tc.said) {
				t.Errorf("goodbye player was asked for %q, want %q last", p.texts, tc.said)
			}
		})
	}
}

func TestEngineRecordsVariantsAndSavesJSON(t *testing.T) {
	t.Parallel()
	const script = `name: ab
intents:
  affirm: [yes, sure, yeah, of course]
  deny: [no, nope, no thanks, not interested]
fallback: {text: bye}
variants:
  - {name: a, weight: 1}
  - {name: b, weight: 3, start: ask, variables: {greeting: Howdy}}
nodes:
  - id: hello
    kind: say
    text: Hello.
    next: ask
  - id: ask
    kind: listen
    timeout: 1s
    retries: 0
    variants:
      - {name: short, text: "${greeting}. Yes?"}
      - {name: long, text: "${greeting}. Would you say yes?"}
    branches:
      - {intent: affirm, goto: done}
  - id: done
    kind: hangup
    outcome: interested
`
	s, err := Parse("ab.yaml", []byte(script))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	leg := newMemLeg()
	cfg := Config{
		Script: s, Recognizer: &scriptedRecognizer{leg: leg}, Understander: understander(t, s),
		Synthesizer: &toneSynth{}, Sink: JSONFileSink{Dir: dir}, Rand: func() float64 { return 0.9 },
		Logger: testLogger(t),
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.Run(context.Background(), Call{ID: "ab/1", Leg: leg})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Variant != "b" || rec.NodeVariants["ask"] != "long" || rec.Path[0] != "ask" || rec.Outcome != "no_input" {
		t.Fatalf("variant %q node variants %v path %v outcome %q", rec.Variant, rec.NodeVariants, rec.Path, rec.Outcome)
	}
	if got := rec.Transcript[0].Text; got != "Howdy. Would you say yes?" {
		t.Errorf("said %q, want the variant's text with its variable", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, "ab_1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := json.Unmarshal(data, &back); err != nil || back.Variant != "b" || back.Outcome != "no_input" || len(back.Transcript) != len(rec.Transcript) {
		t.Fatalf("saved record %s (err %v)", data, err)
	}
}

func TestEngineRunsTheVariantTheDiallerAssigned(t *testing.T) {
	t.Parallel()
	const script = `name: ab
intents:
  affirm: [yes, sure]
fallback: {text: bye}
variants:
  - {name: a, weight: 1}
  - {name: b, weight: 3, start: short}
nodes:
  - {id: hello, kind: say, text: Hello., next: done}
  - {id: short, kind: say, text: Hi., next: done}
  - {id: done, kind: hangup, outcome: interested}
`
	s, err := Parse("ab.yaml", []byte(script))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		assigned, want, firstWords string
	}{
		{assigned: "a", want: "a", firstWords: "Hello."}, // the draw (0.9) alone would give b
		{assigned: "b", want: "b", firstWords: "Hi."},
		{assigned: "", want: "b", firstWords: "Hi."},    // no assignment: by weight
		{assigned: "zzz", want: "b", firstWords: "Hi."}, // unknown: by weight, logged
	} {
		t.Run(tc.assigned, func(t *testing.T) {
			leg := newMemLeg()
			e, err := New(Config{Script: s, Recognizer: &scriptedRecognizer{leg: leg}, Understander: understander(t, s),
				Synthesizer: &toneSynth{}, Rand: func() float64 { return 0.9 }, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := e.Run(context.Background(), Call{ID: "ab/" + tc.assigned, Leg: leg, Variant: tc.assigned})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Variant != tc.want || len(rec.Transcript) == 0 || rec.Transcript[0].Text != tc.firstWords {
				t.Fatalf("variant %q transcript %+v, want %q starting %q", rec.Variant, rec.Transcript, tc.want, tc.firstWords)
			}
		})
	}
}

func TestPickFollowsWeights(t *testing.T) {
	for _, tc := range []struct {
		r    float64
		want int
	}{{0, 0}, {0.24, 0}, {0.26, 1}, {0.99, 1}} {
		if got := pick([]float64{1, 3}, tc.r); got != tc.want {
			t.Errorf("pick(1:3, %v) = %d, want %d", tc.r, got, tc.want)
		}
	}
}

func TestEngineRecordsHangUpWhenTheCallerLeaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newRig(t, "testdata/engine_en.yaml", step{waitBot: 30}, step{hangup: true})
	r.cfg.Sink = JSONFileSink{Dir: dir}
	e, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.Run(context.Background(), Call{ID: "gone", Leg: r.leg})
	if !errors.Is(err, errLegClosed) || rec.Outcome != "hung_up" {
		t.Fatalf("Run = %v with outcome %q, want the leg's error and hung_up", err, rec.Outcome)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.json")); err != nil {
		t.Errorf("record of a call the caller left was not saved: %v", err)
	}
}

func TestBranchConditions(t *testing.T) {
	und := &speech.Understanding{Intent: "affirm", Confidence: 0.7, Slots: []speech.Slot{
		{Name: "amount", Type: "money", Value: "3500"},
		{Name: "when", Type: "datetime", Value: "2026-11-26T15:00"},
	}}
	cues := Cues{Emotion: "angry", Voiceprint: "mismatch", AMD: "human"}
	for _, tc := range []struct {
		name  string
		b     Branch
		digit string
		und   *speech.Understanding
		want  bool
	}{
		{"intent matches", Branch{Intent: "affirm"}, "", und, true},
		{"other intent", Branch{Intent: "deny"}, "", und, false},
		{"intent below min confidence", Branch{Intent: "affirm", MinConfidence: 0.8}, "", und, false},
		{"intent needs an utterance", Branch{Intent: "affirm"}, "1", nil, false},
		{"digit matches", Branch{DTMF: "1"}, "1", nil, true},
		{"other digit", Branch{DTMF: "2"}, "1", nil, false},
		{"slot exists by type", Branch{Slot: &SlotCond{Name: "datetime", Op: "exists"}}, "", und, true},
		{"slot missing", Branch{Slot: &SlotCond{Name: "phone", Op: "exists"}}, "", und, false},
		{"slot compares as a number", Branch{Slot: &SlotCond{Name: "amount", Op: ">=", Value: "3000"}}, "", und, true},
		{"slot number too small", Branch{Slot: &SlotCond{Name: "amount", Op: ">", Value: "5000"}}, "", und, false},
		{"slot equals", Branch{Slot: &SlotCond{Name: "money", Op: "==", Value: "3500"}}, "", und, true},
		{"intent and slot both needed", Branch{Intent: "affirm", Slot: &SlotCond{Name: "phone"}}, "", und, false},
		{"emotion", Branch{Emotion: "angry"}, "", und, true},
		{"voiceprint", Branch{Voiceprint: "match"}, "", und, false},
		{"amd", Branch{AMD: "human"}, "", und, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matches(tc.b, tc.digit, tc.und, cues); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

// machineCues says every utterance came from an answering machine and
// sounded neutral, as dsp's AMD and emotion analysers would.
type machineCues struct{ frames int }

func (m *machineCues) Write([]int16)   { m.frames++ }
func (m *machineCues) Utterance() Cues { return Cues{AMD: "machine", Emotion: "neutral"} }

func TestEngineBranchesOnAudioCues(t *testing.T) {
	t.Parallel()
	r := newRig(t, "testdata/engine_en.yaml",
		step{waitSilent: 50},
		step{say: fliteClip(t, "please leave a message after the tone"), text: "please leave a message after the tone"})
	e, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cues := &machineCues{}
	rec, err := e.Run(context.Background(), Call{ID: "amd", Leg: r.leg, Cues: cues})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != "voicemail" || cues.frames == 0 {
		t.Fatalf("outcome %q after %d frames analysed, want voicemail\n%s", rec.Outcome, cues.frames, dump(rec))
	}
	for _, e := range rec.Transcript {
		if e.Side == SideCaller && (e.AMD != "machine" || e.Emotion != "neutral") {
			t.Errorf("caller entry %+v does not carry the cues", e)
		}
	}
}

type failingUnderstander struct{}

func (failingUnderstander) Understand(context.Context, string) (speech.Understanding, error) {
	return speech.Understanding{}, errors.New("classifier not trained")
}

func TestEngineKeysTypedAheadAnswerTheNextQuestion(t *testing.T) {
	t.Parallel()
	r := newRig(t, "testdata/engine_en.yaml", step{waitBot: 10}, step{key: '2'})
	rec := r.run(t)
	if rec.Outcome != "not_interested" {
		t.Fatalf("outcome %q, want not_interested\n%s", rec.Outcome, dump(rec))
	}
	if d := botEntries(rec, "disclosure"); len(d) != 1 || d[0].Interrupted {
		t.Errorf("disclosure %+v, want played whole despite the key", d)
	}
	if q := botEntries(rec, "offer"); len(q) != 0 {
		t.Errorf("offer question played %+v, want it skipped: the key already answered it", q)
	}
}

// legsByCall is a scripted recogniser for many calls at once: each stream
// hears the leg of the call that opened it.
type legsByCall map[string]*memLeg

func (m legsByCall) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.RecognizerStream, error) {
	return (&scriptedRecognizer{leg: m[opts.CallID]}).NewStream(ctx, opts)
}

func TestEngineRunsConcurrentCallsIndependently(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/engine_en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yes, no := fliteClip(t, "yes please"), fliteClip(t, "no thanks")
	legs := legsByCall{}
	want := map[string]string{}
	for i := range 6 {
		id := fmt.Sprintf("c%d", i)
		switch i % 3 {
		case 0:
			legs[id] = newMemLeg(step{waitSilent: 50}, step{say: yes, text: "yes please"})
			want[id] = "interested"
		case 1:
			legs[id] = newMemLeg(step{waitSilent: 50}, step{say: no, text: "no thanks"})
			want[id] = "not_interested"
		case 2:
			legs[id] = newMemLeg(step{waitSilent: 50}, step{key: '1'})
			want[id] = "interested"
		}
	}
	synth := &toneSynth{}
	for _, l := range legs {
		l.idle = synth.idle
	}
	e, err := New(Config{Script: s, Recognizer: legs, Understander: understander(t, s), Synthesizer: synth, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make(map[string]string)
	var mu sync.Mutex
	for id, leg := range legs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rec, err := e.Run(ctx, Call{ID: id, Leg: leg, DTMF: leg.dtmf})
			mu.Lock()
			defer mu.Unlock()
			got[id] = rec.Outcome
			if err != nil {
				got[id] = err.Error()
			}
		})
	}
	wg.Wait()
	for id, w := range want {
		if got[id] != w {
			t.Errorf("call %s: outcome %q, want %q", id, got[id], w)
		}
	}
}

// tonePromptFrames is how many frames toneSynth makes for a prompt.
func tonePromptFrames(text string) int {
	n := 0
	for _, c := range clauses(text) {
		n += max(1, estimateFrames(c))
	}
	return n
}
