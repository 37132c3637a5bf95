package dialog

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// EventKind names what happened in a call, as seen live by the dashboard,
// the softphone page and webhooks. The names are part of the public API
// (/ws/events): add kinds, never rename them.
type EventKind string

// The call events. The dialer emits the first three and ended; the
// conversation engine emits the rest while a script runs.
const (
	EventDialing     EventKind = "dialing"     // INVITE sent
	EventRinging     EventKind = "ringing"     // 180/183 received
	EventAnswered    EventKind = "answered"    // 200 OK, media up; AnsweredBy may follow in a later event
	EventCallerSaid  EventKind = "caller_said" // recogniser result; Partial marks a hypothesis still changing
	EventBotSaid     EventKind = "bot_said"    // a prompt started playing; Text is what is being said
	EventIntent      EventKind = "intent"      // understanding of the caller's last utterance
	EventEmotion     EventKind = "emotion"     // emotion label of the caller's last utterance
	EventDTMF        EventKind = "dtmf"        // a key the caller pressed
	EventTransferred EventKind = "transferred" // handed to a human (Target)
	EventEnded       EventKind = "ended"       // call over; Outcome and Reason say how
)

// Event is one thing that happened in one call. Fields that do not apply
// to a kind stay zero and are left out of its JSON.
type Event struct {
	Kind   EventKind `json:"kind"`
	CallID string    `json:"call_id"`
	At     time.Time `json:"at"`
	// CampaignID and ContactID are zero for calls outside a campaign.
	CampaignID int64 `json:"campaign_id,omitempty"`
	ContactID  int64 `json:"contact_id,omitempty"`
	// Phone is the far end's number, unmasked: whoever shows it to a
	// user masks it for that user's role.
	Phone string `json:"phone,omitempty"`
	// Node is the script node running when the event happened.
	Node string `json:"node,omitempty"`
	// Text is what the caller said (caller_said) or the bot says (bot_said).
	Text    string `json:"text,omitempty"`
	Partial bool   `json:"partial,omitempty"`
	// Interrupted marks the bot_said that closes a prompt the caller cut
	// short (barge-in or a key): its Text is the part the caller heard.
	Interrupted bool `json:"interrupted,omitempty"`
	// Intent and Confidence are the understanding (intent), or the
	// recogniser's confidence in Text (caller_said).
	Intent     string  `json:"intent,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
	// Emotion is the caller's emotion label (emotion).
	Emotion string `json:"emotion,omitempty"`
	// Digit is the key pressed (dtmf).
	Digit string `json:"digit,omitempty"`
	// Target is where the call was transferred (transferred).
	Target string `json:"target,omitempty"`
	// AnsweredBy is human, machine or unknown once known (answered, ended).
	AnsweredBy string `json:"answered_by,omitempty"`
	// Outcome is the script's outcome or the dialler's disposition (ended).
	Outcome string `json:"outcome,omitempty"`
	// Code and Reason are the SIP status that ended or refused the call.
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// EventSink receives a call's events as they happen. Emit is called on the
// call's own goroutines, so it must not block: a sink that cannot keep up
// drops events rather than slow the call.
type EventSink interface {
	Emit(Event)
}

// EventFunc adapts a function to EventSink.
type EventFunc func(Event)

// Emit implements EventSink.
func (f EventFunc) Emit(e Event) { f(e) }

// emit stamps e with the call's id, the running node (unless e names one)
// and the time, and hands it to the call's sink, if any.
//
// A sink that panics is a bug in the wiring, but it runs on the call's own
// goroutines, where a panic would take the whole server down with it: the
// panic is recovered and logged, and the call goes on without events, so one
// broken dashboard cannot end anyone's calls.
//
// emit allocates nothing itself: callers emit on changes of state (a prompt
// starts, a turn ends), never per frame.
func (c *conv) emit(e Event) {
	sink := c.call.Events
	if sink == nil || c.sinkBroken.Load() {
		return
	}
	e.CallID = c.call.ID
	if e.Node == "" {
		if n := c.node.Load(); n != nil {
			e.Node = *n
		}
	}
	e.At = c.cfg.Now()
	defer func() {
		if v := recover(); v != nil {
			c.sinkBroken.Store(true)
			c.log.Error("event sink panicked; this call emits no more events", "kind", string(e.Kind), "panic", fmt.Sprint(v))
		}
	}()
	sink.Emit(e)
}

// emitDigit emits a key the moment it arrives, whether it answers, cuts a
// prompt or waits behind a disclosure.
func (c *conv) emitDigit(node string, d Digit) {
	if c.call.Events == nil {
		return
	}
	var b [utf8.UTFMax]byte
	c.emit(Event{Kind: EventDTMF, Node: node, Digit: string(b[:utf8.EncodeRune(b[:], d.Digit)])})
}
