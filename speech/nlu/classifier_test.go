package nlu

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseIntentsAcceptsListsAndLanguageMaps(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    map[string]int // intent → number of examples
		wantErr string
	}{
		{"language map and plain list", "intents:\n  affirm:\n    zh: [对, 是的]\n    en: [yes]\n  deny: [不是, \"no\"]\n", map[string]int{"affirm": 3, "deny": 2}, ""},
		{"dialog script with other sections", "name: collect\nsteps: [{say: hi}]\nintents:\n  affirm: [yes]\n", map[string]int{"affirm": 1}, ""},
		{"no intents key", "steps: []\n", nil, "no top-level intents"},
		{"intents is a list", "intents: [a, b]\n", nil, "must map intent names"},
		{"example is a mapping", "intents:\n  a:\n    - {x: 1}\n", nil, "must be a string"},
		{"not YAML", "intents: [\n", nil, "parse intents YAML"},
		{"empty document", "", nil, "top level is not a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIntents([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrBadIntents) {
					t.Fatalf("err = %v, want ErrBadIntents containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d intents, want %d", len(got), len(tc.want))
			}
			for _, in := range got {
				if len(in.Examples) != tc.want[in.Name] {
					t.Errorf("intent %s: %d examples, want %d", in.Name, len(in.Examples), tc.want[in.Name])
				}
			}
		})
	}
}

func TestNewRejectsUnusableIntents(t *testing.T) {
	tests := []struct {
		name    string
		intents []Intent
	}{
		{"none", nil},
		{"unnamed", []Intent{{Examples: []string{"x"}}}},
		{"no examples", []Intent{{Name: "affirm", Examples: []string{" "}}}},
		{"only out of scope", []Intent{{Name: OutOfScope, Examples: []string{"weather"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(context.Background(), tc.intents, Config{}); !errors.Is(err, ErrBadIntents) {
				t.Fatalf("New: err = %v, want ErrBadIntents", err)
			}
		})
	}
}

func TestNewStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(ctx, []Intent{{Name: "a", Examples: []string{"yes", "yeah"}}, {Name: "b", Examples: []string{"no", "nope"}}}, Config{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("New with a cancelled context: %v", err)
	}
}

func TestClassifierUnderstandsColloquialUtterances(t *testing.T) {
	c := outboundClassifier(t)
	tests := []struct {
		text, intent, lang string
		slot               string // name=value of one expected slot, or ""
	}{
		{"嗯对，是我", "affirm", "zh", "answer=yes"},
		{"不用了不用了", "deny", "zh", "answer=no"},
		{"你们哪里的啊", "who_is_calling", "zh", ""},
		{"我在忙，晚点再打吧", "call_later", "zh", ""},
		{"我明天下午三点还三千五百块", "promise_to_pay", "zh", "amount=3500"},
		{"I'll pay $1,250.50 next Friday", "promise_to_pay", "en", "amount=1250.5"},
		{"please stop calling me", "do_not_call", "en", ""},
		{"how did you get my number", "how_got_number", "en", ""},
		{"can you recommend a good book", OutOfScope, "en", ""},
		{"帮我查一下明天的天气预报", OutOfScope, "zh", ""},
		{"", OutOfScope, "", ""},
		{"zxqv blorp", OutOfScope, "en", ""},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			u, err := c.UnderstandAt(context.Background(), tc.text, ref)
			if err != nil {
				t.Fatal(err)
			}
			if u.Intent != tc.intent || u.Language != tc.lang {
				t.Errorf("intent %s (%.2f) lang %q, want %s lang %q; alternatives %v", u.Intent, u.Confidence, u.Language, tc.intent, tc.lang, u.Alternatives)
			}
			if u.Confidence < 0 || u.Confidence > 1 {
				t.Errorf("confidence %v out of 0..1", u.Confidence)
			}
			if tc.slot == "" {
				return
			}
			for _, s := range u.Slots {
				if s.Name+"="+s.Value == tc.slot {
					return
				}
			}
			t.Errorf("slots %+v lack %s", u.Slots, tc.slot)
		})
	}
}

func TestClassifierThresholdSendsUnsureAnswersOutOfScope(t *testing.T) {
	intents := []Intent{
		{Name: "affirm", Examples: []string{"yes", "yeah", "sure", "that's right"}},
		{Name: "deny", Examples: []string{"no", "nope", "not at all", "no thanks"}},
	}
	strict, err := New(context.Background(), intents, Config{Threshold: 0.999, Folds: -1})
	if err != nil {
		t.Fatal(err)
	}
	lax, err := New(context.Background(), intents, Config{Threshold: -1, Folds: -1})
	if err != nil {
		t.Fatal(err)
	}
	text := "yeah sure"
	if got := lax.Classify(text)[0].Intent; got != "affirm" {
		t.Fatalf("without threshold %q is %s, want affirm", text, got)
	}
	u, err := strict.Understand(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	if u.Intent != OutOfScope {
		t.Fatalf("with threshold 0.999 %q is %s (%.3f), want out_of_scope", text, u.Intent, u.Confidence)
	}
	if u.Alternatives[0].Intent != "affirm" {
		t.Errorf("rejected intent should lead the alternatives: %v", u.Alternatives)
	}
}

func TestClassifierProbabilitiesSumToOne(t *testing.T) {
	c := outboundClassifier(t)
	for _, text := range []string{"是的", "wrong number", "今天天气不错", "x"} {
		var sum float64
		for _, s := range c.Classify(text) {
			sum += s.Confidence
		}
		if sum < 0.999 || sum > 1.001 {
			t.Errorf("Classify(%q) sums to %v", text, sum)
		}
	}
}

func TestUnderstandHonoursCancelledContext(t *testing.T) {
	c := outboundClassifier(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Understand(ctx, "yes"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func BenchmarkUnderstand(b *testing.B) {
	c := outboundClassifier(b)
	for _, bc := range []struct{ name, text string }{
		{"zh", "我在忙，你明天下午三点再打过来吧"},
		{"en", "i can pay five hundred dollars next friday at 3 pm"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := c.UnderstandAt(ctx, bc.text, ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	c := outboundClassifier(b)
	b.ReportAllocs()
	for b.Loop() {
		c.Classify("我在忙，你明天下午三点再打过来吧")
	}
}

func BenchmarkTrainOutbound(b *testing.B) {
	outboundClassifier(b)
	b.Logf("training the outbound intents took %v", outboundTime.Round(time.Millisecond))
}

func TestClassifierIsSafeForConcurrentUse(t *testing.T) {
	c := outboundClassifier(t)
	want, _ := c.UnderstandAt(context.Background(), "我明天还三千", ref)
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 50; i++ {
				u, err := c.UnderstandAt(context.Background(), "我明天还三千", ref)
				if err != nil || u.Intent != want.Intent || u.Confidence != want.Confidence || len(u.Slots) != len(want.Slots) {
					done <- "different answer under concurrency"
					return
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
}
