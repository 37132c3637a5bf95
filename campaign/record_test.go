package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

// TestRunnerRecordsTheCampaignsConversionAndTheCallsProgress runs one call
// per contact through the Runner and reads the stored records: converted
// follows the campaign's own conversion rule (not the default's
// interested), opted-out follows a do_not_call outcome, and the greeting,
// call progress and transfer are kept as the Dialer reported them.
func TestRunnerRecordsTheCampaignsConversionAndTheCallsProgress(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	settings := Settings{Windows: always, CPS: 100, Concurrency: 1, Trunks: []TrunkLimit{{Name: "t", CPS: 100}},
		Retry: Retry{MaxAttempts: 1}, Conversion: Conversion{Outcomes: []string{"sale"}, Grades: []string{}}}
	type want struct {
		converted, optedOut bool
		progress, transfer  string
		greeted             bool
	}
	tests := []struct {
		phone string
		res   func(now time.Time) Result
		want  want
	}{
		{"13800000001", func(now time.Time) Result {
			return Result{Disposition: Answered, SIPCode: 200, AnsweredAt: now, GreetedAt: now.Add(300 * time.Millisecond),
				AnsweredBy: "human", Outcome: "sale", TransferredAt: now.Add(5 * time.Second),
				TransferTarget: "sip:agent@example", TransferMode: store.TransferBridge, TransferResult: store.TransferSucceeded}
		}, want{converted: true, transfer: store.TransferSucceeded, greeted: true}},
		{"13800000002", func(now time.Time) Result {
			// interested converts by default, not by this campaign's rule.
			return Result{Disposition: Answered, SIPCode: 200, AnsweredAt: now, GreetedAt: now, AnsweredBy: "human",
				Outcome: "interested"}
		}, want{greeted: true}},
		{"13800000003", func(now time.Time) Result {
			return Result{Disposition: Answered, SIPCode: 200, AnsweredAt: now, GreetedAt: now, AnsweredBy: "human",
				Outcome: OutcomeDoNotCall}
		}, want{optedOut: true, greeted: true}},
		{"13800000004", func(time.Time) Result {
			return Result{Disposition: Invalid, SIPCode: 487, CallProgress: "out_of_service"}
		}, want{progress: "out_of_service"}},
	}
	var contacts []store.Contact
	byPhone := map[string]int{}
	for i, tc := range tests {
		contacts = append(contacts, store.Contact{Phone: tc.phone, Priority: 99 - i})
		byPhone[tc.phone] = i
	}
	c := setup(t, st, settings, contacts)
	d := &fakeDialer{behave: func(phone string, _ int) Result { return tests[byPhone[phone]].res(time.Now()) }}
	run(t, Config{Store: st, Dialer: d, CampaignID: c.ID}, 20*time.Second)
	recs, err := st.CallRecords(ctx, c.ID, 0)
	if err != nil || len(recs) != len(tests) {
		t.Fatalf("records %v %v", recs, err)
	}
	for _, r := range recs {
		tc := tests[byPhone[r.Phone]]
		if r.Converted == nil || r.OptedOut == nil {
			t.Fatalf("%s: converted %v, opted out %v; want both decided", r.Phone, r.Converted, r.OptedOut)
		}
		got := want{converted: *r.Converted, optedOut: *r.OptedOut, progress: r.CallProgress, transfer: r.TransferResult,
			greeted: !r.GreetedAt.IsZero()}
		if got != tc.want {
			t.Errorf("%s: record %+v, want %+v", r.Phone, got, tc.want)
		}
		if r.Outcome == "out_of_service" {
			t.Errorf("%s: call progress in the outcome", r.Phone)
		}
	}
}
