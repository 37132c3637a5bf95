package webhook

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/store"
)

// The event types. Endpoint.Events names them; add types, never rename them.
const (
	// TypeCallCompleted is sent once per finished call attempt; data is a Call.
	TypeCallCompleted = "call.completed"
	// TypeCampaignFinished is sent once per campaign that finished (completed
	// or stopped); data is a CampaignTotals.
	TypeCampaignFinished = "campaign.finished"
)

// knownTypes are the types an endpoint may subscribe to.
var knownTypes = []string{TypeCallCompleted, TypeCampaignFinished}

// Event is one thing a CRM hears about.
type Event struct {
	// ID becomes the webhook-id header, the same on every retry and for every
	// endpoint: receivers deduplicate on it. Letters, digits, '_' and '-'
	// only. Default: "msg_" and 26 random characters. The constructors derive
	// it from the call or campaign, so enqueueing one result twice sends it
	// once.
	ID string
	// Type is TypeCallCompleted, TypeCampaignFinished or a type of the
	// caller's own (sent to endpoints that subscribe to all events).
	Type string
	// Time is when it happened. Default: the Dispatcher's clock at Enqueue.
	Time time.Time
	// Data is the payload's data member, marshalled with encoding/json.
	Data any
}

// envelope is the request body, the Standard Webhooks payload shape.
type envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// validID reports whether id is safe as a webhook-id: no '.' (the signed
// content's separator), no spaces, no header-breaking bytes.
func validID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newMessageID returns "msg_" and 26 random base32 characters (128 bits).
func newMessageID() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "msg_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// Call is the data of a call.completed event: one call attempt and its result.
// Times are RFC 3339 in UTC; a time that did not happen (no ringing, no
// answer) is left out.
type Call struct {
	// CallID is the call record's ID, the {call_id} of the REST API.
	CallID int64 `json:"call_id"`
	// SIPCallID is the SIP Call-ID of the INVITE.
	SIPCallID  string `json:"sip_call_id,omitempty"`
	CampaignID int64  `json:"campaign_id"`
	ContactID  int64  `json:"contact_id"`
	// Phone is the dialled number in full: the CRM is the system of record
	// for the contact, and matches the result to its lead by it.
	Phone string `json:"phone"`
	// Attempt counts this contact's attempts, from 1.
	Attempt  int    `json:"attempt"`
	Node     string `json:"node,omitempty"`
	Trunk    string `json:"trunk,omitempty"`
	CallerID string `json:"caller_id,omitempty"`
	// Variant is the A/B script variant the call ran.
	Variant string `json:"variant,omitempty"`

	AttemptAt  time.Time `json:"attempt_at"`
	RingingAt  time.Time `json:"ringing_at,omitzero"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	// GreetedAt is when the bot's first audio reached the answered call.
	GreetedAt time.Time `json:"greeted_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// DurationMs runs from the attempt to the end; TalkMs from the answer to
	// the end (0 when unanswered).
	DurationMs int64 `json:"duration_ms"`
	TalkMs     int64 `json:"talk_ms"`

	// SIPCode is the final SIP response (200 when answered, 0 when none came).
	SIPCode int `json:"sip_code"`
	// Disposition is how the attempt ended for the dialler (answered,
	// no_answer, busy, failed, voicemail, callback, do_not_call, invalid,
	// cancelled, interrupted).
	Disposition string `json:"disposition"`
	// CallProgress is what the early media said before an answer: busy,
	// congestion, sit, a carrier announcement's vacant, out_of_service,
	// switched_off, …, or announcement when its words were not understood;
	// left out for ringback or no early media.
	CallProgress string `json:"call_progress,omitempty"`
	// Outcome is the script's outcome (its hang-up node's), empty when no
	// conversation took place.
	Outcome string `json:"outcome,omitempty"`
	// AnsweredBy is human, machine_start, machine_end_beep,
	// machine_end_silence, machine_end_other, fax or unknown.
	AnsweredBy string `json:"answered_by,omitempty"`
	// IntentGrade is the lead's grade the script assigned (A, B, …).
	IntentGrade string `json:"intent_grade,omitempty"`
	// Converted says the call met the campaign's conversion rule; OptedOut
	// that the person asked not to be called again. Both are left out for
	// records stored before waihu decided them.
	Converted *bool `json:"converted,omitempty"`
	OptedOut  *bool `json:"opted_out,omitempty"`
	// Transfer is the script's last transfer; left out when it tried none.
	Transfer *Transfer `json:"transfer,omitempty"`
	// Transcript is both sides' words in order; empty when none.
	Transcript []Line `json:"transcript"`
	// RecordingURL is where the API serves the call's recording (it needs an
	// API token with recordings:read); left out when the call was not
	// answered or no public URL is configured.
	RecordingURL string `json:"recording_url,omitempty"`
}

// Transfer is a Call's hand-over to a person.
type Transfer struct {
	// At is when the script began the transfer.
	At time.Time `json:"at"`
	// Target is the agent's SIP URI or number.
	Target string `json:"target"`
	// Mode is blind (SIP REFER) or bridge (waihu calls the agent and
	// relays the audio).
	Mode string `json:"mode"`
	// Result is success or failure.
	Result string `json:"result"`
}

// Line is one transcript entry of a Call.
type Line struct {
	// Side is "bot" or "caller".
	Side string `json:"side"`
	// AtMs and EndMs are offsets from the answer, in the call's audio time.
	AtMs  int64 `json:"at_ms"`
	EndMs int64 `json:"end_ms,omitempty"`
	// Text is what the bot played or the recogniser heard.
	Text string `json:"text,omitempty"`
	// Interrupted marks a prompt the caller cut short.
	Interrupted bool `json:"interrupted,omitempty"`
	// DTMF is a key the caller pressed.
	DTMF string `json:"dtmf,omitempty"`
	// Intent and Confidence are the understanding of a caller's words.
	Intent     string  `json:"intent,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
	// Emotion is the emotion cue of a caller's utterance.
	Emotion string `json:"emotion,omitempty"`
	// Node is the script node that was running.
	Node string `json:"node,omitempty"`
}

// RecordingURL builds the API link to a call's recording under publicURL,
// the address CRMs reach waihu's HTTP API at (https://waihu.example.com).
func RecordingURL(publicURL string, callID int64) string {
	return strings.TrimRight(publicURL, "/") + "/api/v1/recordings/" + url.PathEscape(strconv.FormatInt(callID, 10))
}

// transcriptLines decodes a call record's transcript: the JSON of
// dialog.Record.Transcript, or of a whole dialog.Record. Anything else (null,
// an old format) gives no lines rather than failing the event.
func transcriptLines(raw json.RawMessage) ([]Line, error) {
	var entries []dialog.Entry
	trimmed := strings.TrimSpace(string(raw))
	switch {
	case trimmed == "" || trimmed == "null":
		return []Line{}, nil
	case strings.HasPrefix(trimmed, "{"):
		var rec dialog.Record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return []Line{}, fmt.Errorf("transcript: %w", err)
		}
		entries = rec.Transcript
	default:
		if err := json.Unmarshal(raw, &entries); err != nil {
			return []Line{}, fmt.Errorf("transcript: %w", err)
		}
	}
	lines := make([]Line, 0, len(entries))
	for _, e := range entries {
		lines = append(lines, Line{
			Side: string(e.Side), AtMs: e.At.Milliseconds(), EndMs: e.End.Milliseconds(), Text: e.Text,
			Interrupted: e.Interrupted, DTMF: e.DTMF, Intent: e.Intent, Confidence: e.Confidence,
			Emotion: e.Emotion, Node: e.Node,
		})
	}
	return lines, nil
}

func span(from, to time.Time) int64 {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return 0
	}
	return to.Sub(from).Milliseconds()
}

// CallCompleted builds the call.completed event of one finished call record.
// publicURL is the base of the recording link ("" leaves the link out). Its
// ID is "msg_call_" and the record's ID. An unreadable transcript is sent
// empty, and the error says why, for the caller's log; the event is usable
// either way.
func CallCompleted(rec store.CallRecord, publicURL string) (Event, error) {
	lines, err := transcriptLines(rec.Transcript)
	c := Call{
		CallID: rec.ID, SIPCallID: rec.SIPCallID, CampaignID: rec.CampaignID, ContactID: rec.ContactID,
		Phone: rec.Phone, Attempt: rec.Attempt, Node: rec.Node, Trunk: rec.Trunk, CallerID: rec.CallerID,
		Variant: rec.Variant, AttemptAt: rec.AttemptAt.UTC(), RingingAt: utc(rec.RingingAt),
		AnsweredAt: utc(rec.AnsweredAt), EndedAt: utc(rec.EndedAt),
		DurationMs: span(rec.AttemptAt, rec.EndedAt), TalkMs: span(rec.AnsweredAt, rec.EndedAt),
		SIPCode: rec.SIPCode, Disposition: rec.Disposition, Outcome: rec.Outcome, AnsweredBy: rec.AnsweredBy,
		IntentGrade: rec.IntentGrade, Transcript: lines, GreetedAt: utc(rec.GreetedAt), CallProgress: rec.CallProgress,
		Converted: rec.Converted, OptedOut: rec.OptedOut,
	}
	if rec.TransferResult != "" || rec.TransferTarget != "" {
		c.Transfer = &Transfer{At: utc(rec.TransferredAt), Target: rec.TransferTarget, Mode: rec.TransferMode,
			Result: rec.TransferResult}
	}
	if publicURL != "" && !rec.AnsweredAt.IsZero() {
		c.RecordingURL = RecordingURL(publicURL, rec.ID)
	}
	at := rec.EndedAt
	if at.IsZero() {
		at = rec.AttemptAt
	}
	ev := Event{ID: "msg_call_" + strconv.FormatInt(rec.ID, 10), Type: TypeCallCompleted, Time: utc(at), Data: c}
	if err != nil {
		return ev, fmt.Errorf("call %d: %w", rec.ID, err)
	}
	return ev, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// CampaignTotals is the data of a campaign.finished event.
type CampaignTotals struct {
	CampaignID int64  `json:"campaign_id"`
	Name       string `json:"name"`
	// State is the campaign's final state: completed or stopped.
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Contacts counts the campaign's contacts; ContactsByState splits them
	// by their final state (done, exhausted, skipped, interrupted, pending).
	Contacts        int            `json:"contacts"`
	ContactsByState map[string]int `json:"contacts_by_state"`
	// Calls counts call attempts; Answered those with an answer. The maps
	// split the attempts by disposition, by outcome (answered attempts with
	// an outcome only) and by answered_by.
	Calls         int            `json:"calls"`
	Answered      int            `json:"answered"`
	ByDisposition map[string]int `json:"by_disposition"`
	ByOutcome     map[string]int `json:"by_outcome"`
	ByAnsweredBy  map[string]int `json:"by_answered_by"`
	// TalkMs sums the answered attempts' talk time.
	TalkMs int64 `json:"talk_ms"`
}

// CampaignFinished builds the campaign.finished event of a campaign from its
// contacts' counts per state (store.CountContacts) and its call records. Its
// ID names the campaign and the time it finished, so a campaign requeued and
// finished again is reported again.
func CampaignFinished(c store.Campaign, contacts map[store.ContactState]int, records []store.CallRecord) Event {
	t := CampaignTotals{
		CampaignID: c.ID, Name: c.Name, State: string(c.State), CreatedAt: utc(c.CreatedAt), FinishedAt: utc(c.UpdatedAt),
		ContactsByState: map[string]int{}, ByDisposition: map[string]int{}, ByOutcome: map[string]int{},
		ByAnsweredBy: map[string]int{},
	}
	for st, n := range contacts {
		t.ContactsByState[string(st)] += n
		t.Contacts += n
	}
	for _, r := range records {
		t.Calls++
		disp := r.Disposition
		if disp == "" {
			disp = "unknown"
		}
		t.ByDisposition[disp]++
		if r.AnsweredAt.IsZero() {
			continue
		}
		t.Answered++
		t.TalkMs += span(r.AnsweredAt, r.EndedAt)
		if r.Outcome != "" {
			t.ByOutcome[r.Outcome]++
		}
		if r.AnsweredBy != "" {
			t.ByAnsweredBy[r.AnsweredBy]++
		}
	}
	return Event{
		ID:   fmt.Sprintf("msg_campaign_%d_finished_%d", c.ID, c.UpdatedAt.UnixMilli()),
		Type: TypeCampaignFinished, Time: utc(c.UpdatedAt), Data: t,
	}
}

// checkTypes rejects event names no one sends: a typo in a filter would
// otherwise silently subscribe an endpoint to nothing.
func checkTypes(types []string) error {
	var bad []string
	for _, t := range types {
		if !slices.Contains(knownTypes, t) {
			bad = append(bad, strconv.Quote(t))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return errors.New("unknown event type " + strings.Join(bad, ", ") + "; known: " + strings.Join(knownTypes, ", "))
	}
	return nil
}
