package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

func TestDefaultGradesFromOutcomeIntentsTagsAndTurns(t *testing.T) {
	human := func(outcome string) Result {
		return Result{Disposition: Answered, SIPCode: 200, AnsweredBy: "human", Outcome: outcome}
	}
	with := func(r Result, f func(*Result)) Result { f(&r); return r }
	for _, tc := range []struct {
		name string
		res  Result
		want string
	}{
		{"converted", human("converted"), "A"},
		{"tagged hot", with(human("completed"), func(r *Result) { r.Tags = []string{"vip", "hot"} }), "A"},
		{"interested outcome", human("interested"), "B"},
		{"affirmed over two turns", with(human("completed"), func(r *Result) { r.Intents, r.Turns = []string{"affirm"}, 2 }), "B"},
		{"affirmed once is not enough for B", with(human("completed"), func(r *Result) { r.Intents, r.Turns = []string{"affirm"}, 1 }), "D"},
		{"intents read from the transcript", with(human("completed"), func(r *Result) {
			r.Turns = 3
			r.Transcript = json.RawMessage(`[{"side":"bot","text":"hi"},{"side":"caller","text":"yes","intent":"affirm"}]`)
		}), "B"},
		{"intents read from a whole dialog record", with(human("completed"), func(r *Result) {
			r.Turns = 3
			r.Transcript = json.RawMessage(`{"outcome":"completed","transcript":[{"side":"bot","text":"hi"},{"side":"caller","text":"yes","intent":"affirm"}],"turns":[]}`)
		}), "B"},
		{"asked for a call back", human("call_back:2026-11-26T15:00"), "C"},
		{"transferred to an agent", human("transferred"), "C"},
		{"not interested", human("not_interested"), "D"},
		{"hung up at once", human("hung_up"), "D"},
		{"voicemail", Result{Disposition: Voicemail, SIPCode: 200, AnsweredBy: "machine_end_beep", Outcome: "voicemail"}, "E"},
		{"answered by a machine", with(human("completed"), func(r *Result) { r.AnsweredBy = "machine_start" }), "E"},
		{"no answer", Result{Disposition: NoAnswer, SIPCode: 487}, "E"},
		{"busy", Result{Disposition: Busy, SIPCode: 486}, "E"},
		{"opted out", with(human(OutcomeDoNotCall), func(r *Result) { r.Disposition = DoNotCall }), "F"},
		{"abusive, even if converted", with(human("converted"), func(r *Result) { r.Tags = []string{"abusive"} }), "F"},
		{"said stop", with(human("completed"), func(r *Result) { r.Intents = []string{"stop"} }), "F"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Grade(DefaultGradeRules(), tc.res); got != tc.want {
				t.Fatalf("grade %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCampaignGradeRulesReplaceTheDefaults(t *testing.T) {
	b := []byte(`{"grades": [
		{"grade": "A", "intents": ["buy"], "min_turns": 3},
		{"grade": "B", "tags": ["loan_*"]},
		{"grade": "F", "outcomes": ["*"]}
	]}`)
	s, err := ParseSettings(b)
	if err != nil {
		t.Fatal(err)
	}
	rules := s.withDefaults().Grades
	for _, tc := range []struct {
		res  Result
		want string
	}{
		{Result{Outcome: "done", Intents: []string{"ask", "buy"}, Turns: 3}, "A"},
		{Result{Outcome: "done", Intents: []string{"buy"}, Turns: 2}, "F"},
		{Result{Outcome: "done", Tags: []string{"loan_car"}}, "B"},
		{Result{Outcome: "converted"}, "F"},
	} {
		if got := Grade(rules, tc.res); got != tc.want {
			t.Errorf("%+v: grade %q, want %q", tc.res, got, tc.want)
		}
	}
	if _, err := ParseSettings([]byte(`{"grades": [{"grade": "G"}]}`)); err == nil {
		t.Error("grade G accepted")
	}
}

func TestRunnerRecordsGradeVariantAndAnsweredBy(t *testing.T) {
	st := openStore(t)
	ms := Duration(20 * time.Millisecond)
	settings := Settings{Windows: always, CPS: 200, Concurrency: 4, Trunks: []TrunkLimit{{Name: "t", CPS: 200}},
		Retry:    Retry{MaxAttempts: 3, Busy: ms, NoAnswer: ms, Failed: ms, Voicemail: ms},
		Variants: []Variant{{Name: "warm", Weight: 1}, {Name: "direct", Weight: 1}}, VariantSeed: "spring"}
	c := setup(t, st, settings, phones(12))
	d := &fakeDialer{behave: func(phone string, attempt int) Result {
		switch {
		case attempt == 1:
			return Result{Disposition: Busy, SIPCode: 486}
		case phone[len(phone)-1]%2 == 0:
			return Result{Disposition: Answered, SIPCode: 200, AnsweredBy: "machine", Outcome: "hung_up"}
		}
		now := time.Now()
		return Result{Disposition: Answered, SIPCode: 200, AnsweredBy: "human", AnsweredAt: now, GreetedAt: now,
			Outcome: "interested"}
	}}
	var reqs = map[int64][]string{}
	rec := &recordingDialer{Dialer: d, variants: reqs}
	run(t, Config{Store: st, Dialer: rec, CampaignID: c.ID}, 20*time.Second)
	ctx := context.Background()
	all, _ := st.Contacts(ctx, c.ID, "")
	seen := map[string]int{}
	for _, k := range all {
		recs, _ := st.CallRecords(ctx, c.ID, k.ID)
		want := AssignVariant(settings.Variants, "spring", k.ID)
		seen[want]++
		for i, r := range recs {
			if r.Variant != want || reqs[k.ID][i] != want {
				t.Errorf("%s attempt %d: recorded variant %q, asked %q; want %q on every attempt", k.Phone, i+1, r.Variant, reqs[k.ID][i], want)
			}
		}
		if len(recs) != 2 {
			t.Fatalf("%s: %d records, want 2", k.Phone, len(recs))
		}
		wantBy, wantGrade := "human", "B"
		if k.Phone[len(k.Phone)-1]%2 == 0 {
			wantBy, wantGrade = "machine_end_other", "E"
		}
		if recs[0].IntentGrade != "E" || recs[0].AnsweredBy != "" {
			t.Errorf("%s busy attempt: grade %q, answered_by %q", k.Phone, recs[0].IntentGrade, recs[0].AnsweredBy)
		}
		if recs[1].IntentGrade != wantGrade || recs[1].AnsweredBy != wantBy {
			t.Errorf("%s: grade %q answered_by %q, want %q %q", k.Phone, recs[1].IntentGrade, recs[1].AnsweredBy, wantGrade, wantBy)
		}
	}
	if len(seen) != 2 {
		t.Errorf("variants assigned %v, want both", seen)
	}
}

// recordingDialer keeps the variant of every request per contact.
type recordingDialer struct {
	Dialer
	mu       sync.Mutex
	variants map[int64][]string
}

func (r *recordingDialer) Dial(ctx context.Context, req DialRequest) Result {
	r.mu.Lock()
	r.variants[req.Contact.ID] = append(r.variants[req.Contact.ID], req.Variant)
	r.mu.Unlock()
	return r.Dialer.Dial(ctx, req)
}

func TestAssignVariantIsStablePerContactAndFollowsTheWeights(t *testing.T) {
	vs := []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 3}}
	const n = 20000
	count := map[string]int{}
	moved := 0
	for id := int64(1); id <= n; id++ {
		v := AssignVariant(vs, "seed-1", id)
		if again := AssignVariant(vs, "seed-1", id); again != v {
			t.Fatalf("contact %d: %q then %q", id, v, again)
		}
		if AssignVariant(vs, "seed-2", id) != v {
			moved++
		}
		count[v]++
	}
	if share := float64(count["b"]) / n; math.Abs(share-0.75) > 0.015 {
		t.Errorf("variant b got %.3f of contacts, want 0.75 ± 0.015 (%v)", share, count)
	}
	// Two independent draws at 1:3 differ with probability 2·0.25·0.75.
	if share := float64(moved) / n; math.Abs(share-0.375) > 0.02 {
		t.Errorf("another seed moved %.3f of contacts, want about 0.375", share)
	}
	if AssignVariant(nil, "x", 1) != "" {
		t.Error("no variants: want none assigned")
	}
	if got := AssignVariant([]Variant{{Name: "only"}}, "x", 7); got != "only" {
		t.Errorf("one variant with default weight: %q", got)
	}
	for _, bad := range []string{`{"variants":[{"name":""}]}`, `{"variants":[{"name":"a"},{"name":"a"}]}`,
		`{"variants":[{"name":"a","weight":-1}]}`} {
		if _, err := ParseSettings([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNormalizeAnsweredByMapsToTheIssueValues(t *testing.T) {
	for _, tc := range []struct {
		in       string
		answered bool
		want     string
	}{
		{"human", true, "human"},
		{"machine_start", true, "machine_start"},
		{"machine_end_beep", true, "machine_end_beep"},
		{"machine_end_silence", true, "machine_end_silence"},
		{"machine_end_other", true, "machine_end_other"},
		{"fax", true, "fax"},
		{"unknown", true, "unknown"},
		{"machine", true, "machine_end_other"},
		{"", true, "unknown"},
		{"robot", true, "unknown"},
		{"", false, ""},
	} {
		t.Run(fmt.Sprintf("%q answered %v", tc.in, tc.answered), func(t *testing.T) {
			if got := NormalizeAnsweredBy(tc.in, tc.answered); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
