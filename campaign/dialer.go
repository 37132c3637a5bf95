package campaign

import (
	"context"
	"encoding/json"
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
	// CallerID is the number to present, from the campaign's caller_ids;
	// empty means the trunk's own.
	CallerID    string
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
	EndedAt    time.Time

	// AnsweredBy is human, machine or unknown.
	AnsweredBy string
	// Outcome is the conversation's outcome (dialog.Record.Outcome);
	// OutcomeDoNotCall puts the number on the do-not-call list.
	Outcome     string
	IntentGrade string
	// CallbackAt, when set on an answered call, schedules the contact again then.
	CallbackAt time.Time
	Transcript json.RawMessage
	// Err is what went wrong, for the log; Disposition still says what to do.
	Err error
}
