package campaign

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/waihu/waihu/store"
)

// Dialer places one call and reports how it ended. It is all the campaign knows of
// SIP, media and the conversation; cmd/waihu implements it with sip.UA and rtp.
// Dial returns when the call is over (or never connected); it must honour ctx.
type Dialer interface {
	Dial(ctx context.Context, req DialRequest) Result
}

// DialRequest is one attempt to call one contact.
type DialRequest struct {
	CampaignID int64
	Contact    store.Contact
	// Attempt counts from 1.
	Attempt int
	Trunk   string
	// CallerID is the number to present, chosen from the campaign's
	// caller-ID pool; empty means the trunk's own.
	CallerID string
	// Variant is the script variant the dialler assigned the contact (the
	// campaign's variants); empty when the campaign has none. The Dialer runs
	// the script in this variant.
	Variant     string
	RingTimeout time.Duration
	// Ringing, when the Dialer calls it, marks the first 18x (it may be nil-checked).
	Ringing func()
}

// Result is how a call ended. The Runner fills the times it can when the Dialer
// leaves them zero.
type Result struct {
	Disposition Disposition
	// SIPCode is the final SIP status (200 when answered, 0 when none came).
	SIPCode   int
	SIPCallID string
	CallerID  string
	Variant   string

	RingingAt  time.Time
	AnsweredAt time.Time
	// GreetedAt is when the bot's first audio reached the answered call (zero:
	// never); the abandon cap measures it from AnsweredAt.
	GreetedAt time.Time
	EndedAt   time.Time

	// AnsweredBy is human, machine_start, machine_end_beep,
	// machine_end_silence, machine_end_other, fax or unknown (AnsweredByValues).
	AnsweredBy string
	// CallProgress is what the early media said before an answer, or
	// instead of one (store.CallRecord.CallProgress): busy, sit, an
	// announcement's out_of_service, …; empty for ringback or none.
	CallProgress string
	// Outcome is the conversation's outcome (dialog.Record.Outcome);
	// OutcomeDoNotCall puts the number on the do-not-call list. It is empty
	// when no conversation took place.
	Outcome string
	// TransferredAt, TransferTarget, TransferMode and TransferResult are the
	// script's last transfer (store.CallRecord's fields of the same names);
	// empty when it tried none.
	TransferredAt  time.Time
	TransferTarget string
	TransferMode   string
	TransferResult string
	// IntentGrade is the call's grade A–F; empty: the Runner grades it by
	// the campaign's rules from Outcome, Intents, Tags and Turns.
	IntentGrade string
	// Intents are the caller's understood intents (nil: read from the
	// Transcript), Tags the script's tags on the contact, Turns the caller's
	// understood answers.
	Intents []string
	Tags    []string
	Turns   int
	// CallbackAt, when set on an answered call, schedules the contact again then.
	CallbackAt time.Time
	// Transcript is the call's dialog record as JSON (store.CallRecord's
	// Transcript): the whole dialog.Record, or its transcript entries.
	Transcript json.RawMessage
	// Err is what went wrong, for the log; Disposition still says what to do.
	Err error
}

// Fill copies into rec what the call record keeps of res beyond its
// disposition, grade and times (store.CallRecord, schema version 6): the
// greeting's time, the call-progress result, the transfer, and the verdicts
// converted (by conv) and opted out. Both the Runner and calls placed
// outside it call it once res is final (disposition and grade decided).
func (res Result) Fill(rec *store.CallRecord, conv Conversion) {
	rec.GreetedAt, rec.CallProgress = res.GreetedAt, res.CallProgress
	rec.TransferredAt, rec.TransferTarget = res.TransferredAt, res.TransferTarget
	rec.TransferMode, rec.TransferResult = res.TransferMode, res.TransferResult
	rec.Converted = store.Bool(conv.Converts(res.Outcome, res.IntentGrade))
	rec.OptedOut = store.Bool(OptsOut(res.Outcome, string(res.Disposition)))
}

// Conversion is a campaign's rule for a converted call: its outcome is one
// of Outcomes or its intent grade one of Grades. server/kpi's conversion
// rate applies the same rule, so the record's verdict and the rate agree. A
// nil list takes the default: outcome interested, grade A.
type Conversion struct {
	Outcomes []string `json:"outcomes,omitempty"`
	Grades   []string `json:"grades,omitempty"`
}

// The default conversion rule.
var (
	DefaultConversionOutcomes = []string{"interested"}
	DefaultConversionGrades   = []string{"A"}
)

// Converts reports whether a call with this outcome and intent grade is a
// conversion under c. An empty grade never matches.
func (c Conversion) Converts(outcome, grade string) bool {
	outcomes, grades := c.Outcomes, c.Grades
	if outcomes == nil {
		outcomes = DefaultConversionOutcomes
	}
	if grades == nil {
		grades = DefaultConversionGrades
	}
	return slices.Contains(outcomes, outcome) || (grade != "" && slices.Contains(grades, grade))
}

// OptsOut reports whether a call with this dialog outcome and disposition
// asked not to be called again: the dialler sets CallRecord.OptedOut by it,
// and server/kpi applies it to records from before that field.
func OptsOut(outcome, disposition string) bool {
	return outcome == OutcomeDoNotCall || disposition == string(DoNotCall)
}

// AnsweredByValues are the answered_by values a call record may carry: who or
// what took an answered call, as answering-machine detection tells it.
var AnsweredByValues = []string{"human", "machine_start", "machine_end_beep", "machine_end_silence",
	"machine_end_other", "fax", "unknown"}

// NormalizeAnsweredBy maps what a Dialer reports onto AnsweredByValues: a known
// value is kept, a bare "machine" (a machine whose kind is not known, such as a
// script's voicemail outcome) is machine_end_other, a person is human, and
// anything else, or nothing, on an answered call is unknown.
func NormalizeAnsweredBy(v string, answered bool) string {
	for _, k := range AnsweredByValues {
		if v == k {
			return v
		}
	}
	switch v {
	case "machine", "voicemail", "answering_machine":
		return "machine_end_other"
	case "person":
		return "human"
	}
	if !answered {
		return ""
	}
	return "unknown"
}
