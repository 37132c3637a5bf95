package dialog

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/sphinx"
	"github.com/waihu/waihu/speech/tts"
)

// Tests here run the engine with the real speech/tts engines (flite for
// English, espeak-ng for Chinese) speaking for the bot, real speech from the
// same programs as the caller's audio, dsp's VAD and speech/nlu; the last
// also with speech/sphinx recognising the caller. The others use the
// scripted recogniser, so that they test the engine and not recognition.

// need builds a real engine or skips (fails in CI) when it cannot run here.
func need[T any](t *testing.T, build func() (T, error)) T {
	t.Helper()
	v, err := build()
	if errors.Is(err, speech.ErrEngineUnavailable) && os.Getenv("CI") == "" {
		t.Skipf("real engine unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// trackedSynth counts a real synthesiser's open streams, so the simulated
// caller can tell a pause between sentences from the bot waiting.
type trackedSynth struct {
	speech.Synthesizer
	mu    sync.Mutex
	open  int
	texts []string
}

func (s *trackedSynth) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	st, err := s.Synthesizer.Synthesize(ctx, text, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.open++
	s.texts = append(s.texts, text)
	s.mu.Unlock()
	return &trackedStream{AudioStream: st, s: s}, nil
}

func (s *trackedSynth) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open == 0
}

type trackedStream struct {
	speech.AudioStream
	s    *trackedSynth
	once sync.Once
}

func (t *trackedStream) Close() error {
	err := t.AudioStream.Close()
	t.once.Do(func() {
		t.s.mu.Lock()
		t.s.open--
		t.s.mu.Unlock()
	})
	return err
}

// clip synthesises a whole utterance for the simulated caller.
func clip(t *testing.T, synth speech.Synthesizer, lang, text string) []int16 {
	t.Helper()
	st, err := synth.Synthesize(context.Background(), text, speech.SynthOptions{Language: lang})
	if err != nil {
		t.Fatalf("synthesise caller clip %q: %v", text, err)
	}
	defer st.Close()
	var out []int16
	buf := make([]int16, speech.FrameSamples)
	for {
		err := st.Read(buf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("synthesise caller clip %q: %v", text, err)
		}
		out = append(out, buf...)
	}
}

type fakeSIP struct {
	mu        sync.Mutex
	messages  []string
	transfers []string
	fail      error
}

func (f *fakeSIP) SendMessage(ctx context.Context, uri, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages = append(f.messages, text)
	return f.fail
}

func (f *fakeSIP) Transfer(ctx context.Context, mode, uri string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transfers = append(f.transfers, mode+" "+uri)
	return f.fail
}

func TestEngineWithRealSynthesisEnglish(t *testing.T) {
	t.Parallel()
	flite := need(t, func() (*tts.Flite, error) { return tts.NewFlite(tts.FliteConfig{}) })
	bot := &trackedSynth{Synthesizer: flite}
	for _, tc := range []struct {
		name    string
		steps   func() []step
		outcome string
		cut     bool
	}{
		{"answer after the question", func() []step {
			return []step{{waitSilent: 50}, {say: clip(t, flite, "en", "yes please"), text: "yes please"}}
		}, "interested", false},
		{"barge in on the question", func() []step {
			disclosure := len(clip(t, flite, "en", disclosureText)) / speech.FrameSamples
			return []step{{waitBot: int64(disclosure) + 100}, {say: clip(t, flite, "en", "no thanks"), text: "no thanks"}}
		}, "not_interested", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, "testdata/engine_en.yaml", tc.steps()...)
			r.cfg.Synthesizer = bot
			r.leg.idle = bot.idle
			rec := r.run(t)
			if rec.Outcome != tc.outcome {
				t.Fatalf("outcome %q, want %q\n%s", rec.Outcome, tc.outcome, dump(rec))
			}
			q := botEntries(rec, "offer")
			if len(q) != 1 || q[0].Interrupted != tc.cut || q[0].FramesPlayed == 0 {
				t.Fatalf("offer entries %+v, want one, interrupted %v", q, tc.cut)
			}
			clears, _, clips := r.leg.snapshot()
			if tc.cut {
				if len(clears) == 0 || (clears[0]-clips[0].onset)*20 > 100 {
					t.Errorf("clears at %v, caller's speech from frame %d: want a cut within 100 ms", clears, clips[0].onset)
				}
				if q[0].FramesPlayed < 95 || !strings.HasPrefix(q[0].Text, "Hello Alex.") || !strings.HasSuffix(q[0].Text, "…") {
					t.Errorf("question heard for %d frames as %q, want about 100 frames and a cut text", q[0].FramesPlayed, q[0].Text)
				}
				t.Logf("flite question cut after %d frames: %q", q[0].FramesPlayed, q[0].Text)
			}
			if tr := rec.Turns; len(tr) != 1 || tr[0].Latency() <= 0 {
				t.Errorf("turns %+v, want one with its latency", tr)
			} else {
				t.Logf("VAD end → first frame to the leg: %v (flite synthesis included)", tr[0].Latency())
			}
		})
	}
}

func TestEngineWithRealSynthesisChinese(t *testing.T) {
	t.Parallel()
	espeak := need(t, func() (*tts.Espeak, error) { return tts.NewEspeak(tts.EspeakConfig{}) })
	for _, tc := range []struct {
		name   string
		before []string // what the caller says before agreeing
		answer string   // the knowledge answer that must be heard
	}{
		{"agrees at once", nil, ""},
		{"asks the rate, hears the answer, then agrees", []string{"利率是多少"}, "年利率固定为百分之四点九，"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var steps []step
			for _, say := range append(tc.before, "是的") {
				steps = append(steps, step{waitSilent: 50}, step{say: clip(t, espeak, "zh-CN", say), text: say})
			}
			chineseCall(t, espeak, steps, tc.answer)
		})
	}
}

func chineseCall(t *testing.T, espeak *tts.Espeak, steps []step, answer string) {
	bot := &trackedSynth{Synthesizer: espeak}
	sip := &fakeSIP{}
	r := newRig(t, "testdata/loan_zh.yaml", steps...)
	r.cfg.Synthesizer = bot
	r.cfg.Prompts = nil
	r.leg.idle = bot.idle
	e, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*1e9)
	defer cancel()
	rec, err := e.Run(ctx, Call{
		ID: "zh-1", Leg: r.leg, DTMF: r.leg.dtmf, Variables: map[string]string{"name": "王先生"},
		Transfer: sip, Messages: sip,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, dump(rec))
	}
	if rec.Outcome != "transferred" || rec.TransferredTo != "sip:loans@agents.example.com" {
		t.Fatalf("outcome %q to %q, want transferred to the agent\n%s", rec.Outcome, rec.TransferredTo, dump(rec))
	}
	want := "greet disclosure offer tag_interested send_link to_agent"
	if got := strings.Join(rec.Path, " "); got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	if !slices.Equal(rec.Tags, []string{"意向客户"}) || rec.Variables["interest"] != "yes" {
		t.Errorf("tags %v variables %v", rec.Tags, rec.Variables)
	}
	if len(sip.messages) != 1 || !strings.HasPrefix(sip.messages[0], "王先生您好，北风银行的贷款详情") {
		t.Errorf("messages %q, want the link with the contact's name and the company", sip.messages)
	}
	if !slices.Equal(sip.transfers, []string{"refer sip:loans@agents.example.com"}) {
		t.Errorf("transfers %q", sip.transfers)
	}
	var heard *Entry
	for i := range rec.Transcript {
		if rec.Transcript[i].Side == SideCaller {
			heard = &rec.Transcript[i]
		}
	}
	if heard == nil || heard.Text != "是的" || heard.Intent != "affirm" {
		t.Errorf("caller entry %+v, want 是的 understood as affirm", heard)
	}
	if answer != "" {
		said := strings.Join(bot.texts, "|")
		i, j := strings.Index(said, answer), strings.LastIndex(said, "您已获得五万元的预批贷款额度，")
		if i < 0 || j < i {
			t.Errorf("espeak said %q, want the answer %q and then the question again", said, answer)
		}
	}
	if !strings.HasPrefix(strings.Join(bot.texts, ""), "王先生您好，我是北风银行的小美。") {
		t.Errorf("espeak was asked for %q, want the greeting with variables first", bot.texts)
	}
}

// sphinxRecognizer loads pocketsphinx's en-us model once for all tests.
var sphinxRecognizer = sync.OnceValues(func() (*sphinx.Recognizer, error) { return sphinx.New(sphinx.Config{}) })

func TestEngineWithRealRecognitionAndSynthesis(t *testing.T) {
	t.Parallel()
	asr := need(t, sphinxRecognizer)
	flite := need(t, func() (*tts.Flite, error) { return tts.NewFlite(tts.FliteConfig{}) })
	disclosure := int64(len(clip(t, flite, "en", disclosureText)) / speech.FrameSamples)
	for _, tc := range []struct {
		name, say, outcome string
		wait               step
	}{
		{"yes please after the question", "yes please", "interested", step{waitSilent: 50}},
		{"no thanks after the question", "no thanks", "not_interested", step{waitSilent: 50}},
		{"no thanks over the question", "no thanks", "not_interested", step{waitBot: disclosure + 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bot := &trackedSynth{Synthesizer: flite}
			r := newRig(t, "testdata/engine_en.yaml", tc.wait, step{say: clip(t, flite, "en", tc.say), text: tc.say})
			r.cfg.Synthesizer, r.cfg.Recognizer = bot, asr
			r.leg.idle = bot.idle
			rec := r.run(t)
			if rec.Outcome != tc.outcome {
				t.Fatalf("outcome %q, want %q\n%s", rec.Outcome, tc.outcome, dump(rec))
			}
			if q := botEntries(rec, "offer"); len(q) != 1 || q[0].Interrupted != (tc.wait.waitBot > 0) {
				t.Errorf("offer entries %+v, want one, interrupted only when the caller spoke over it", q)
			}
			for _, e := range rec.Transcript {
				if e.Side == SideCaller {
					t.Logf("sphinx heard %q (confidence %.2f), understood %s (%.2f)", e.Text, e.ASRConfidence, e.Intent, e.Confidence)
				}
			}
			if tr := rec.Turns; len(tr) == 1 {
				t.Logf("stages after VAD end: final %v, understood %v, first frame synthesised %v, written %v",
					tr[0].Final.Sub(tr[0].VADEnd), tr[0].Understood.Sub(tr[0].VADEnd), tr[0].FirstSynth.Sub(tr[0].VADEnd), tr[0].Latency())
			}
		})
	}
}
