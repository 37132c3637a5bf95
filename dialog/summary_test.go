package dialog

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

func TestSummaryTellsTheAgentWhoWhatAndTheLastWords(t *testing.T) {
	rec := Record{
		Variables: map[string]string{"name": "Alex Chen", "phone": "13800138000"},
		Tags:      []string{"vip"},
		Transcript: []Entry{
			{Side: SideBot, Text: "Hello, would you like a loan?"},
			{Side: SideCaller, Text: "how much is it", Intent: "ask_rate"},
			{Side: SideCaller, Text: "mm-hm", Backchannel: true, Emotion: "calm"},
			{Side: SideCaller, Text: "I want five thousand", Intent: "want_loan",
				Slots: []speech.Slot{{Name: "amount", Value: "4000"}}},
			{Side: SideCaller, Text: "make it five thousand by friday", Emotion: "agitated",
				Slots: []speech.Slot{{Name: "amount", Value: "5000"}, {Type: "datetime", Value: "friday"}}},
			{Side: SideCaller, DTMF: "1"},
		},
	}
	for _, tc := range []struct {
		name     string
		rec      Record
		language string
		want     string
	}{
		{"english: latest intent and slot values, emotion, last words", rec, "en-US",
			`Transferred call from Alex Chen, 13800138000. Intent: want loan. Details: amount 5000, datetime friday. Tags: vip. The caller sounds agitated. Last words: "make it five thousand by friday".`},
		{"chinese", rec, "zh-CN",
			"转接来电：Alex Chen，电话13800138000。意图：want loan。信息：amount 5000，datetime friday。标签：vip。客户情绪激动。客户最后说：“make it five thousand by friday”。"},
		{"an inbound caller known only by number, who said nothing", Record{Variables: map[string]string{"caller": "1001"}}, "en",
			"Transferred call from 1001."},
		{"nobody known, neutral", Record{Transcript: []Entry{{Side: SideCaller, Text: "agent please", Intent: "human", Emotion: "neutral"}}}, "zh",
			"转接来电。意图：human。客户最后说：“agent please”。"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summary(tc.rec, tc.language); got != tc.want {
				t.Errorf("Summary =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// warmSIP is a transferer that can brief the agent, recording what it got.
type warmSIP struct {
	mu     sync.Mutex
	warm   []Briefing
	cold   int
	target string
}

func (w *warmSIP) Transfer(ctx context.Context, mode, uri string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cold++
	w.target = mode + " " + uri
	return nil
}

func (w *warmSIP) TransferWarm(ctx context.Context, mode, uri string, b Briefing) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warm = append(w.warm, b)
	w.target = mode + " " + uri
	return nil
}

func TestWarmTransferBriefsTheAgent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		summary string // the transfer node's summary: line, if any
		want    string // the briefing's text; "" means a cold transfer
	}{
		{"built-in summary", "", `Transferred call from Sam. Intent: affirm. Details: answer yes. Last words: "yes please".`},
		{"the node's own template", `summary: "Sam (${name}) said ${slot.none}yes; offer ${offer}."`, "Sam (Sam) said yes; offer A7."},
		{"summary off is a cold transfer", "summary: false", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script := strings.Replace(transferScript, `    to: "sip:advisor@example.com"`,
				"    to: \"sip:advisor@example.com\"\n    "+tc.summary, 1)
			script = strings.Replace(script, "language: en-US", "language: en-US\nvariables: {name: Sam, offer: A7}", 1)
			r := newRigScript(t, script, step{waitSilent: 50}, step{say: fliteClip(t, "yes please"), text: "yes please"})
			e, err := New(r.cfg)
			if err != nil {
				t.Fatal(err)
			}
			sip := &warmSIP{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rec, err := e.Run(ctx, Call{ID: "warm", Leg: r.leg, DTMF: r.leg.dtmf, Transfer: sip})
			if err != nil || rec.Outcome != "transferred" || sip.target != "refer sip:advisor@example.com" {
				t.Fatalf("outcome %q to %q (err %v), want transferred by refer to the advisor\n%s", rec.Outcome, sip.target, err, dump(rec))
			}
			if tc.want == "" {
				if sip.cold != 1 || len(sip.warm) != 0 || rec.TransferSummary != "" {
					t.Fatalf("%d cold and %d warm transfers, summary %q: want one cold", sip.cold, len(sip.warm), rec.TransferSummary)
				}
				return
			}
			if sip.cold != 0 || len(sip.warm) != 1 {
				t.Fatalf("%d cold and %d warm transfers, want one warm", sip.cold, len(sip.warm))
			}
			b := sip.warm[0]
			if b.Text != tc.want || rec.TransferSummary != tc.want {
				t.Errorf("briefing %q, record %q; want %q", b.Text, rec.TransferSummary, tc.want)
			}
			// The script's synthesiser spoke exactly that text, whole.
			if wantLen := estimateFrames(tc.want) * speech.FrameSamples; len(b.Audio) != wantLen {
				t.Errorf("briefing audio %d samples, want the %d of the whole summary", len(b.Audio), wantLen)
			}
		})
	}
}

func TestWarmTransferGoesAheadWhenTheSummaryCannotBeSpoken(t *testing.T) {
	t.Parallel()
	r := newRigScript(t, transferScript, step{waitSilent: 50}, step{say: fliteClip(t, "yes please"), text: "yes please"})
	r.synth.failOn = "Transferred call"
	e, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	sip := &warmSIP{}
	rec, err := e.Run(context.Background(), Call{ID: "warm-mute", Leg: r.leg, DTMF: r.leg.dtmf, Transfer: sip})
	if err != nil || rec.Outcome != "transferred" || len(sip.warm) != 1 {
		t.Fatalf("outcome %q, %d warm transfers (err %v): want the transfer to go ahead", rec.Outcome, len(sip.warm), err)
	}
	if b := sip.warm[0]; b.Audio != nil || !strings.HasPrefix(b.Text, "Transferred call") {
		t.Errorf("briefing %+v, want the text without audio", b)
	}
}
