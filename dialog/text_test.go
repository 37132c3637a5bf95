package dialog

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestClausesSplitSentencesButNotNumbers(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"Hello Alex. The rate is 4.9 percent! Okay?", []string{"Hello Alex. ", "The rate is 4.9 percent! ", "Okay?"}},
		{"It costs $5,000 dollars", []string{"It costs $5,000 dollars"}},
		{"您好，我是小美。请问您想了解吗？", []string{"您好，", "我是小美。", "请问您想了解吗？"}},
		{"   ", nil},
	} {
		got := clauses(tc.text)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("clauses(%q) = %q, want %q", tc.text, got, tc.want)
		}
		if tc.want != nil && strings.Join(got, "") != strings.TrimSpace(tc.text) {
			t.Errorf("clauses(%q) do not join back to the text", tc.text)
		}
	}
}

func TestPrefixWordsCutsAtAWordBoundary(t *testing.T) {
	for _, tc := range []struct {
		text     string
		fraction float64
		want     string
	}{
		{"We have a long offer for you", 0.5, "We have a long"},
		{"We have a long offer for you", 0.02, ""},
		{"We have a long offer for you", 1, "We have a long offer for you"},
		{"您已获得预批贷款额度", 0.5, "您已获得预"},
	} {
		if got := prefixWords(tc.text, tc.fraction); got != tc.want {
			t.Errorf("prefixWords(%q, %v) = %q, want %q", tc.text, tc.fraction, got, tc.want)
		}
	}
}

func TestExpandReplacesOnlyBracedNames(t *testing.T) {
	vars := map[string]string{"name": "Alex", "slot.amount": "3500"}
	var missing []string
	got := expand("Hi ${name}, $5 off ${ slot.amount } ${nope} ${unclosed", func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}, func(k string) { missing = append(missing, k) })
	if want := "Hi Alex, $5 off 3500  ${unclosed"; got != want {
		t.Errorf("expand = %q, want %q", got, want)
	}
	if strings.Join(missing, ",") != "nope" {
		t.Errorf("missing = %v, want [nope]", missing)
	}
}

func TestBackchannelsAreNodsNotAnswers(t *testing.T) {
	c := &conv{cfg: &Config{Backchannels: DefaultBackchannels}}
	for text, want := range map[string]bool{
		"uh-huh": true, "Mm-hm.": true, "嗯": true, "嗯嗯。": true,
		"yes": false, "okay": false, "对": false, "no thanks": false,
	} {
		if got := c.backchannel(text); got != want {
			t.Errorf("backchannel(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestNewRefusesPromptOnlyScriptsWithoutAPromptPlayer(t *testing.T) {
	s, err := Parse("p.yaml", []byte(strings.Replace(base, "    text: ok?\n", "    prompt: ask_en\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Script: s, Recognizer: &fixedRecognizer{}, Understander: nopUnderstander{}, Synthesizer: &toneSynth{}})
	if err == nil || !strings.Contains(err.Error(), `"ask_en" (node "ask", p.yaml:7)`) {
		t.Errorf("New = %v, want an error naming the prompt and its line", err)
	}
}

func TestDigitsFromConvertsALegsEventsUntilItCloses(t *testing.T) {
	type legEvent struct {
		key rune
		at  time.Time
	}
	in := make(chan legEvent, 3)
	at := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	in <- legEvent{'1', at}
	in <- legEvent{'#', at.Add(time.Second)}
	close(in)
	var got []string
	for d := range DigitsFrom(context.Background(), in, func(e legEvent) (rune, time.Time) { return e.key, e.at }) {
		got = append(got, string(d.Digit)+d.At.Format("05"))
	}
	if strings.Join(got, " ") != "100 #01" {
		t.Errorf("digits %v, want 1 at :00 then # at :01", got)
	}
}
