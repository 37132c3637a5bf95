package kpi

import (
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/store"
)

// TestClassifyPrefersTheDiallersFieldsOverDerivedOnes checks that a record's
// explicit fields (schema version 6) decide conversion, opt-out, greeting
// and transfer, and that a record without them is judged as before.
func TestClassifyPrefersTheDiallersFieldsOverDerivedOnes(t *testing.T) {
	answered := at(0, 0, 10)
	human := func(f func(r *store.CallRecord)) store.CallRecord {
		r := store.CallRecord{AttemptAt: at(0, 0, 0), AnsweredAt: answered, EndedAt: at(0, 1, 0), SIPCode: 200,
			Disposition: "answered", AnsweredBy: "human",
			Transcript: full(t, nil, "", []dialog.Entry{bot(300), caller(2000)}, nil)}
		f(&r)
		return r
	}
	type got struct {
		Converted, OptOut, TransferTried, TransferOK, Abandoned bool
		Greeting                                                time.Duration
	}
	tests := []struct {
		name string
		rec  store.CallRecord
		want got
	}{
		{"old record: outcome interested converts", human(func(r *store.CallRecord) { r.Outcome = "interested" }),
			got{Converted: true, Greeting: 300 * time.Millisecond}},
		{"explicit not converted wins over an interested outcome", human(func(r *store.CallRecord) {
			r.Outcome, r.Converted = "interested", store.Bool(false)
		}), got{Greeting: 300 * time.Millisecond}},
		{"explicit converted counts with a non-conversion outcome", human(func(r *store.CallRecord) {
			r.Outcome, r.IntentGrade, r.Converted = "completed", "D", store.Bool(true)
		}), got{Converted: true, Greeting: 300 * time.Millisecond}},
		{"old record: do_not_call outcome opts out", human(func(r *store.CallRecord) { r.Outcome = "do_not_call" }),
			got{OptOut: true, Greeting: 300 * time.Millisecond}},
		{"explicit opted out without a do_not_call outcome", human(func(r *store.CallRecord) {
			r.Outcome, r.OptedOut = "completed", store.Bool(true)
		}), got{OptOut: true, Greeting: 300 * time.Millisecond}},
		{"greeted at overrides the transcript's offset", human(func(r *store.CallRecord) {
			r.GreetedAt = answered.Add(2500 * time.Millisecond)
		}), got{Abandoned: true, Greeting: 2500 * time.Millisecond}},
		{"failed bridge is a tried transfer without a transfer node", human(func(r *store.CallRecord) {
			r.Outcome, r.TransferResult, r.TransferMode = "completed", store.TransferFailed, store.TransferBridge
		}), got{TransferTried: true, Greeting: 300 * time.Millisecond}},
		{"successful blind transfer", human(func(r *store.CallRecord) {
			r.Outcome, r.TransferResult, r.TransferMode = "transferred", store.TransferSucceeded, store.TransferBlind
		}), got{TransferTried: true, TransferOK: true, Greeting: 300 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(tc.rec, Rules{})
			g := got{Converted: f.Converted, OptOut: f.OptOut, TransferTried: f.TransferTried, TransferOK: f.TransferOK,
				Abandoned: f.Abandoned, Greeting: f.Greeting}
			if g != tc.want || !f.Human || !f.HasGreeting || !f.AbandonKnown {
				t.Fatalf("facts %+v (human %v, greeting known %v, abandon known %v), want %+v", g, f.Human,
					f.HasGreeting, f.AbandonKnown, tc.want)
			}
		})
	}
}

// TestRulesConvertsByOutcomeOrGrade pins the conversion rule the dialler and
// the KPIs share.
func TestRulesConvertsByOutcomeOrGrade(t *testing.T) {
	tests := []struct {
		name           string
		rules          Rules
		outcome, grade string
		want           bool
	}{
		{"default outcome interested", Rules{}, "interested", "B", true},
		{"default grade A", Rules{}, "completed", "A", true},
		{"default neither", Rules{}, "completed", "B", false},
		{"empty grade never matches", Rules{ConversionGrades: []string{""}}, "completed", "", false},
		{"campaign's own outcomes replace the default", Rules{ConversionOutcomes: []string{"sale"}}, "interested", "B", false},
		{"campaign's own outcome", Rules{ConversionOutcomes: []string{"sale"}}, "sale", "C", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rules.Converts(tc.outcome, tc.grade); got != tc.want {
				t.Fatalf("Converts(%q, %q) = %v, want %v", tc.outcome, tc.grade, got, tc.want)
			}
		})
	}
}
