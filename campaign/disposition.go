package campaign

import (
	"strings"
	"time"

	"github.com/waihu/waihu/store"
)

// Disposition is how one call attempt ended, as far as dialling is concerned.
type Disposition string

// Dispositions. The retry policy turns each into the contact's next state.
const (
	// Answered: a person (or an unclassified answer) took the call.
	Answered Disposition = "answered"
	// NoAnswer: it rang until the ring timeout, or the callee's side gave up (408, 480).
	NoAnswer Disposition = "no_answer"
	// Busy: 486 / 600.
	Busy Disposition = "busy"
	// Failed: rejected, unreachable, a trunk or network error.
	Failed Disposition = "failed"
	// Voicemail: an answering machine answered.
	Voicemail Disposition = "voicemail"
	// Callback: the person asked to be called at Result.CallbackAt.
	Callback Disposition = "callback"
	// DoNotCall: the person asked never to be called again.
	DoNotCall Disposition = "do_not_call"
	// Invalid: the number does not exist (404, 484, 604); never retried.
	Invalid Disposition = "invalid"
	// Cancelled: waihu stopped the attempt itself (shutdown); retried as Failed.
	Cancelled Disposition = "cancelled"
)

// OutcomeDoNotCall is the dialog outcome that puts a number on the do-not-call list.
const OutcomeDoNotCall = "do_not_call"

// next is the retry policy: the contact's state after an attempt that ended with
// d, being attempt number attempts.
func (r Retry) next(d Disposition, attempts int, now, callbackAt time.Time) store.ContactUpdate {
	u := store.ContactUpdate{LastDisposition: string(d)}
	retry := func(delay Duration) store.ContactUpdate {
		if attempts >= r.MaxAttempts {
			u.State = store.StateExhausted
			return u
		}
		u.State, u.NextAttemptAt = store.StatePending, now.Add(time.Duration(delay))
		return u
	}
	switch d {
	case Answered, Invalid:
		u.State = store.StateDone
	case DoNotCall:
		u.State, u.SkipReason = store.StateSkipped, "asked not to be called"
	case Callback:
		// A callback the person asked for is honoured even past MaxAttempts:
		// it is an appointment, not a retry.
		if callbackAt.After(now) {
			u.State, u.NextAttemptAt = store.StatePending, callbackAt
			return u
		}
		return retry(r.NoAnswer)
	case NoAnswer:
		return retry(r.NoAnswer)
	case Busy:
		return retry(r.Busy)
	case Voicemail:
		return retry(r.Voicemail)
	default: // Failed, Cancelled, anything unknown
		return retry(r.Failed)
	}
	return u
}

// dispositionOfOutcome reads an answered call's dialog outcome (docs/scripts.md):
// voicemail is retried as such, call_back:<time> schedules a callback at that
// time in the contact's zone (a date alone means 10:00), do_not_call suppresses
// the number. Any other outcome leaves the call answered.
func dispositionOfOutcome(outcome string, loc *time.Location) (Disposition, time.Time) {
	switch {
	case outcome == OutcomeDoNotCall:
		return DoNotCall, time.Time{}
	case outcome == "voicemail":
		return Voicemail, time.Time{}
	case strings.HasPrefix(outcome, "call_back:"):
		v := strings.TrimPrefix(outcome, "call_back:")
		if t, err := time.ParseInLocation("2006-01-02T15:04", v, loc); err == nil {
			return Callback, t
		}
		if t, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
			return Callback, t.Add(10 * time.Hour)
		}
	}
	return Answered, time.Time{}
}
