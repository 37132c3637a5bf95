package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned when a campaign, contact or call record does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrExists is returned when a campaign name is already taken.
var ErrExists = errors.New("store: already exists")

// Store is the persistence that campaign/, server/ and cmd/ share. Every method is
// safe for concurrent use, and several Store values (several nodes) may share one
// PostgreSQL database.
type Store interface {
	// CreateCampaign stores a new campaign and returns it with its ID set.
	CreateCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// Campaign returns the campaign with this ID.
	Campaign(ctx context.Context, id int64) (Campaign, error)
	// CampaignByName returns the campaign with this name.
	CampaignByName(ctx context.Context, name string) (Campaign, error)
	// Campaigns lists every campaign, oldest first.
	Campaigns(ctx context.Context) ([]Campaign, error)
	// SetCampaignState changes a campaign's state.
	SetCampaignState(ctx context.Context, id int64, state CampaignState) error
	// SetCampaignSettings replaces a campaign's settings document.
	SetCampaignSettings(ctx context.Context, id int64, settings json.RawMessage) error

	// AddContacts inserts contacts into a campaign; a phone already in the campaign
	// is skipped. It returns how many were inserted.
	AddContacts(ctx context.Context, campaignID int64, contacts []Contact) (int, error)
	// Contact returns the contact with this ID.
	Contact(ctx context.Context, id int64) (Contact, error)
	// Contacts lists a campaign's contacts by ID; an empty state lists all.
	Contacts(ctx context.Context, campaignID int64, state ContactState) ([]Contact, error)
	// CountContacts counts a campaign's contacts per state.
	CountContacts(ctx context.Context, campaignID int64) (map[ContactState]int, error)
	// ClaimContacts atomically moves up to Limit due pending contacts (NextAttemptAt
	// not after Now) to StateDialing for Node, highest priority first: no two
	// callers, in this process or on another node, ever get the same contact.
	ClaimContacts(ctx context.Context, req ClaimRequest) ([]Contact, error)
	// Release ends a claim without an attempt: the contact goes back to pending,
	// due at next (a contact outside its calling window, a paused campaign).
	Release(ctx context.Context, contactID int64, next time.Time) error
	// BeginAttempt records that a claimed contact is about to be dialled: it
	// counts the attempt on the contact and inserts rec (AttemptAt set) in one
	// transaction, and returns the record's ID. Only after it returns may the
	// number be dialled.
	BeginAttempt(ctx context.Context, rec CallRecord) (int64, error)
	// FinishAttempt stores the end of an attempt (rec.ID from BeginAttempt) and
	// the contact's next state in one transaction.
	FinishAttempt(ctx context.Context, rec CallRecord, next ContactUpdate) error
	// RecordCall stores the finished record of a call to a contact that its
	// campaign's dialler did not place (one placed through the API by
	// contact_id) and returns its ID. The contact must belong to
	// rec.CampaignID (else ErrNotFound); its state, attempts and next
	// attempt are left to the campaign.
	RecordCall(ctx context.Context, rec CallRecord) (int64, error)
	// UpdateContact sets a contact's state outside an attempt (skipped for DNC,
	// requeued by an operator).
	UpdateContact(ctx context.Context, contactID int64, next ContactUpdate) error
	// Recover cleans up after a node that stopped without finishing its claims
	// (a crash, kill -9): claims of Node in the campaign with no open attempt go
	// back to pending; claims whose attempt never ended become StateInterrupted
	// and their record gets DispositionInterrupted. It returns both counts.
	Recover(ctx context.Context, campaignID int64, node string) (requeued, interrupted int, err error)

	// CallRecords lists a campaign's call records in attempt order; contactID 0
	// lists every contact's.
	CallRecords(ctx context.Context, campaignID, contactID int64) ([]CallRecord, error)
	// CallRecordsBetween lists the records attempted in [from, to) (zero: open) of a campaign (0: all), in attempt order.
	CallRecordsBetween(ctx context.Context, campaignID int64, from, to time.Time) ([]CallRecord, error)

	// AddDNC puts a number on the do-not-call list: globally when CampaignID is 0,
	// else as one campaign's suppression. Adding it again is not an error.
	AddDNC(ctx context.Context, e DNCEntry) error
	// RemoveDNC takes a number off the list (global when campaignID is 0).
	RemoveDNC(ctx context.Context, phone string, campaignID int64) error
	// DNC reports the entry that suppresses phone for the campaign: the global
	// entry first, else the campaign's. ok is false when none does.
	DNC(ctx context.Context, phone string, campaignID int64) (e DNCEntry, ok bool, err error)
	// DNCList lists the entries of one scope (0: global).
	DNCList(ctx context.Context, campaignID int64) ([]DNCEntry, error)

	// Outbox is the durable queue of webhook deliveries (outbox.go).
	Outbox

	// Security holds users, roles, API tokens and the audit log (security.go).
	Security

	// CallerIDs is the caller-ID pool's durable usage (dialer.go).
	CallerIDs

	// CallRecordQueries reads call records by ID and by page (records_query.go).
	CallRecordQueries

	// Close releases the database.
	Close() error
}

// CampaignState is where a campaign is in its life.
type CampaignState string

// Campaign states.
const (
	CampaignDraft     CampaignState = "draft"
	CampaignRunning   CampaignState = "running"
	CampaignPaused    CampaignState = "paused"
	CampaignStopped   CampaignState = "stopped"
	CampaignCompleted CampaignState = "completed"
)

// Campaign is a list of contacts dialled with one script under one set of limits.
// Settings is the campaign package's document, kept opaque here.
type Campaign struct {
	ID        int64
	Name      string
	State     CampaignState
	Settings  json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ContactState is where a contact is in the dialling cycle.
type ContactState string

// Contact states.
const (
	// StatePending waits for NextAttemptAt.
	StatePending ContactState = "pending"
	// StateDialing is claimed by a node (Contact.ClaimedBy).
	StateDialing ContactState = "dialing"
	// StateDone has a final disposition; it will not be dialled again.
	StateDone ContactState = "done"
	// StateExhausted reached the campaign's maximum attempts.
	StateExhausted ContactState = "exhausted"
	// StateSkipped is suppressed (do-not-call, invalid number): see SkipReason.
	StateSkipped ContactState = "skipped"
	// StateInterrupted was being dialled when its node died: the customer may have
	// been called, so it is not dialled again unless an operator requeues it.
	StateInterrupted ContactState = "interrupted"
)

// Contact is one person to call in one campaign.
type Contact struct {
	ID         int64
	CampaignID int64
	Phone      string
	Name       string
	// TimeZone is an IANA name (Asia/Shanghai); empty means the campaign's.
	TimeZone string
	// Priority runs from -99 to 99; higher is dialled first.
	Priority int
	Tags     []string
	// Custom holds the import's other columns, open-ended.
	Custom map[string]any
	// Consent is the evidence that the person agreed to be called (source, time).
	Consent string

	State           ContactState
	Attempts        int
	NextAttemptAt   time.Time
	LastDisposition string
	SkipReason      string
	ClaimedBy       string
	ClaimedAt       time.Time
	UpdatedAt       time.Time
}

// ContactUpdate is a contact's next state after an attempt or an operator action.
type ContactUpdate struct {
	State           ContactState
	NextAttemptAt   time.Time
	LastDisposition string
	SkipReason      string
}

// ClaimRequest asks for due contacts of one campaign.
type ClaimRequest struct {
	CampaignID int64
	Node       string
	Now        time.Time
	Limit      int
}

// CallRecord is one attempt to call one contact.
type CallRecord struct {
	ID         int64
	CampaignID int64
	ContactID  int64
	Phone      string
	Attempt    int
	Node       string
	Trunk      string
	CallerID   string
	Variant    string
	SIPCallID  string

	AttemptAt  time.Time
	RingingAt  time.Time
	AnsweredAt time.Time
	// GreetedAt is when the bot's first audio reached the answered call;
	// zero when it never did (and in records from before schema version 6).
	GreetedAt time.Time
	EndedAt   time.Time

	// SIPCode is the final response code (200 when answered, 0 when none came).
	SIPCode     int
	Disposition string
	// AnsweredBy is human, machine_start, machine_end_beep,
	// machine_end_silence, machine_end_other, fax or unknown.
	AnsweredBy string
	// CallProgress is what the early media before an answer said (issue 7):
	// a tone (busy, congestion, sit), a carrier announcement read as
	// vacant, out_of_service, switched_off, … (dialog's Progress values),
	// "announcement" when its words were not understood; empty for
	// ringback, silence or no early media. Records from before schema
	// version 6 kept it in Outcome.
	CallProgress string
	// Outcome is the script's outcome (its hang-up node's); empty when no
	// conversation took place.
	Outcome     string
	IntentGrade string

	// TransferredAt is when the script began handing the call to
	// TransferTarget (a SIP URI) in TransferMode (TransferBlind or
	// TransferBridge); TransferResult is TransferSucceeded or
	// TransferFailed. All are empty when no transfer was tried.
	TransferredAt  time.Time
	TransferTarget string
	TransferMode   string
	TransferResult string

	// Converted and OptedOut are the dialler's verdicts: the call met the
	// campaign's conversion rule, and the person asked not to be called
	// again. Nil in records from before schema version 6, whose readers
	// derive them from Outcome, IntentGrade and Disposition instead.
	Converted *bool
	OptedOut  *bool
	// Transcript is the call's dialog record as JSON: the whole
	// dialog.Record (turns, path, outcome, transcript) as waihu's dialler
	// stores it, or, in records stored before it did, the transcript's
	// entries alone (an array); "null" when no script ran.
	Transcript json.RawMessage
}

// Transfer modes and results of CallRecord.
const (
	// TransferBlind hands the call over with a SIP REFER and leaves it.
	TransferBlind = "blind"
	// TransferBridge calls the agent and relays the two legs.
	TransferBridge = "bridge"
	// TransferSucceeded: the agent took the call.
	TransferSucceeded = "success"
	// TransferFailed: the REFER was refused or the agent did not answer.
	TransferFailed = "failure"
)

// Bool returns a pointer to v, for CallRecord.Converted and OptedOut.
func Bool(v bool) *bool { return &v }

// DispositionInterrupted marks a record whose attempt never ended (its node died).
const DispositionInterrupted = "interrupted"

// DNCEntry is one do-not-call entry.
type DNCEntry struct {
	Phone string
	// CampaignID 0 is the global list.
	CampaignID int64
	Reason     string
	AddedAt    time.Time
}
