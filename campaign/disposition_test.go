package campaign

import (
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

func TestRetryPolicyPerDisposition(t *testing.T) {
	r := Settings{Retry: Retry{MaxAttempts: 3, Busy: Duration(10 * time.Minute)}}.withDefaults().Retry
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	callback := now.Add(26 * time.Hour)
	tests := []struct {
		d        Disposition
		attempts int
		callback time.Time
		state    store.ContactState
		next     time.Time
	}{
		{Answered, 1, time.Time{}, store.StateDone, time.Time{}},
		{Invalid, 1, time.Time{}, store.StateDone, time.Time{}},
		{DoNotCall, 1, time.Time{}, store.StateSkipped, time.Time{}},
		{Busy, 1, time.Time{}, store.StatePending, now.Add(10 * time.Minute)},
		{NoAnswer, 2, time.Time{}, store.StatePending, now.Add(30 * time.Minute)},
		{Failed, 1, time.Time{}, store.StatePending, now.Add(time.Hour)},
		{Voicemail, 1, time.Time{}, store.StatePending, now.Add(2 * time.Hour)},
		{Cancelled, 1, time.Time{}, store.StatePending, now.Add(time.Hour)},
		{Busy, 3, time.Time{}, store.StateExhausted, time.Time{}},
		{NoAnswer, 3, time.Time{}, store.StateExhausted, time.Time{}},
		{Callback, 3, callback, store.StatePending, callback}, // an appointment, past MaxAttempts
		{Callback, 1, now.Add(-time.Hour), store.StatePending, now.Add(30 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(string(tc.d), func(t *testing.T) {
			u := r.next(tc.d, tc.attempts, now, tc.callback)
			if u.State != tc.state || !u.NextAttemptAt.Equal(tc.next) || u.LastDisposition != string(tc.d) {
				t.Errorf("next(%s, attempt %d) = %+v, want %s at %s", tc.d, tc.attempts, u, tc.state, tc.next)
			}
		})
	}
}

func TestDialogOutcomesBecomeDispositions(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	tests := []struct {
		outcome string
		want    Disposition
		at      time.Time
	}{
		{"interested", Answered, time.Time{}},
		{"do_not_call", DoNotCall, time.Time{}},
		{"voicemail", Voicemail, time.Time{}},
		{"call_back:2026-11-26T15:00", Callback, time.Date(2026, 11, 26, 15, 0, 0, 0, sh)},
		{"call_back:2026-11-27", Callback, time.Date(2026, 11, 27, 10, 0, 0, 0, sh)},
		{"call_back", Answered, time.Time{}},
		{"call_back:whenever", Answered, time.Time{}},
	}
	for _, tc := range tests {
		d, at := dispositionOfOutcome(tc.outcome, sh)
		if d != tc.want || !at.Equal(tc.at) {
			t.Errorf("%q: %s at %s, want %s at %s", tc.outcome, d, at, tc.want, tc.at)
		}
	}
}
