package dialog

import (
	"strings"
	"time"
)

// Kind is what a script node does.
type Kind string

// The node kinds a script may use.
const (
	// KindSay speaks text or plays a recorded prompt, then goes to Next.
	KindSay Kind = "say"
	// KindListen optionally asks a question, then waits for the caller's
	// answer (speech or DTMF) and branches on it.
	KindListen Kind = "listen"
	// KindSet puts tags and variables on the contact, then goes to Next.
	KindSet Kind = "set"
	// KindTransfer hands the call to a person (REFER or bridge).
	KindTransfer Kind = "transfer"
	// KindMessage sends a SIP MESSAGE text, then goes to Next.
	KindMessage Kind = "message"
	// KindHangup ends the call with an outcome, optionally saying goodbye.
	KindHangup Kind = "hangup"
	// KindVoicemail leaves a message on an answering machine: it waits for
	// the beep that ends the greeting, speaks Text, and hangs up with
	// Outcome (voicemail by default).
	KindVoicemail Kind = "voicemail"
)

var kinds = []Kind{KindSay, KindListen, KindSet, KindTransfer, KindMessage, KindHangup, KindVoicemail}

// Outcomes a hangup node or the fallback may give. "call_back" takes a time
// after a colon ("call_back:${slot.datetime}", "call_back:tomorrow 3pm").
var Outcomes = []string{
	"interested", "not_interested", "call_back", "wrong_person", "voicemail",
	"do_not_call", "no_input", "no_match", "transferred", "completed", "failed",
	"hung_up",
}

// outcomeKnown reports whether o, after expansion at run time, is one of
// Outcomes or call_back:<time>.
func outcomeKnown(o string) bool {
	base, _, _ := strings.Cut(o, ":")
	for _, k := range Outcomes {
		if base == k {
			return base != "call_back" || strings.Contains(o, ":") || o == "call_back"
		}
	}
	return false
}

// Script is a loaded, validated call script. It is read-only once loaded and
// shared by all calls that run it.
type Script struct {
	// File is where the script was read from, for error messages.
	File string
	// Name identifies the script in call records.
	Name string
	// Language is a BCP 47 tag ("en-US", "zh-CN") given to the recogniser
	// and the synthesiser.
	Language string
	// Voice is the synthesiser voice; empty means the engine's default.
	Voice string
	// Variables are defaults for ${name} expansions; a contact's own
	// values win.
	Variables map[string]string
	// Intents are the intents the script's understander is trained on, in
	// the file's order (the format of speech/nlu's ParseIntents).
	Intents []Intent
	// Knowledge answers global questions: when the caller's intent is a
	// key here and the current listen node has no branch for it, the
	// answer is said and the script resumes where it was.
	Knowledge map[string]Answer
	// Fallback is what happens when an engine fails mid-call.
	Fallback Fallback
	// Start is the first node's id (the first node of the file unless
	// start: says otherwise).
	Start string
	// OnMachine is where any listen node goes when the answering-machine
	// detector says a machine answered and the node has no branch that
	// takes the answer (a voicemail node, typically); empty means such
	// answers are handled like any other.
	OnMachine string
	// Variants are weighted variants of the whole script; empty means one.
	Variants []ScriptVariant
	// Nodes are the script's nodes in file order.
	Nodes []*Node

	byID map[string]*Node
}

// Node returns the node with the given id, or nil.
func (s *Script) Node(id string) *Node { return s.byID[id] }

// Intent is one intent with its training examples.
type Intent struct {
	// Name is what branches refer to.
	Name string
	// Examples are utterances meaning the intent, all languages together.
	Examples []string
	// Line is where the intent is defined.
	Line int
}

// Answer is a knowledge-base answer.
type Answer struct {
	// Text is said, with ${variables} expanded.
	Text string
	// Prompt is a recorded prompt id played instead of synthesising Text.
	Prompt string
	// Line is where the answer is defined.
	Line int
}

// Fallback is what the engine does when the recogniser, understander or
// synthesiser fails or times out, so the caller never hears dead air.
type Fallback struct {
	// Transfer is a SIP URI (a queue of people) the call is referred to
	// first; empty means no transfer.
	Transfer string
	// Text is a goodbye said (after a failed transfer, or instead of one).
	Text string
	// Prompt is a recorded goodbye played instead of synthesising Text,
	// which survives a synthesiser failure.
	Prompt string
	// Outcome is recorded; empty means "failed".
	Outcome string
}

// ScriptVariant is one weighted variant of a whole script (A/B testing):
// a different start node and variable overrides.
type ScriptVariant struct {
	// Name is recorded in the call record.
	Name string
	// Weight is the variant's relative chance of being chosen.
	Weight float64
	// Start overrides the script's start node; empty keeps it.
	Start string
	// Variables override the script's defaults (a contact's values still win).
	Variables map[string]string
	// Line is where the variant is defined.
	Line int
}

// NodeVariant is one weighted variant of a say or listen node's wording.
type NodeVariant struct {
	// Name is recorded in the call record.
	Name string
	// Weight is the variant's relative chance of being chosen.
	Weight float64
	// Text and Prompt replace the node's when non-empty.
	Text, Prompt string
	// Next replaces the node's when non-empty.
	Next string
	// Line is where the variant is defined.
	Line int
}

// Node is one step of a script. Which fields matter depends on Kind.
type Node struct {
	// ID names the node; unique in the script.
	ID string
	// Kind is what the node does.
	Kind Kind
	// Line is where the node starts in the file.
	Line int

	// Text is said (say, listen's question, hangup's goodbye) or sent
	// (message), with ${variables} expanded.
	Text string
	// Prompt is a recorded prompt id played instead of synthesising Text.
	Prompt string
	// Interruptible is false for prompts the caller may not cut (legal
	// disclosures); it defaults to true.
	Interruptible bool
	// Next is the node that follows say, set, message and listen-less steps.
	Next string
	// Variants are weighted alternatives to Text, Prompt and Next.
	Variants []NodeVariant

	// Listen holds the settings of a listen node.
	Listen *Listen

	// Tags are added to the contact by a set node.
	Tags []string
	// Set are variables put on the contact by a set node, with
	// ${variables} expanded.
	Set map[string]string

	// TransferMode is "refer" or "bridge".
	TransferMode string
	// To is a transfer's SIP URI, or a message's recipient (empty: the
	// called person).
	To string
	// Brief makes a transfer a warm one when the call's Transferer can
	// brief the agent (WarmTransferer): the agent hears (bridge) or is
	// sent (REFER, by SIP MESSAGE) a summary of the call first. It
	// defaults to true; summary: false turns it off.
	Brief bool
	// Summary is a transfer's own summary template, with ${variables}
	// expanded; empty means the built-in one (Summary).
	Summary string
	// OnFail is where a failed transfer or message goes; empty means the
	// script's fallback for a transfer and Next for a message.
	OnFail string

	// Outcome is a hangup's outcome, with ${variables} expanded; a
	// voicemail's, when not "voicemail".
	Outcome string

	// BeepTimeout is how long a voicemail node waits for the machine's
	// beep, from when the node starts (or its prompt before ends); 0 means
	// 20 s.
	BeepTimeout time.Duration
	// OnNoBeep is where a voicemail node goes when no beep came within
	// BeepTimeout; empty means leaving the message anyway, as many
	// machines record after their greeting without a beep.
	OnNoBeep string
}

// Listen is what a listen node expects.
type Listen struct {
	// Grammar are phrases given to the recogniser as hints or a grammar.
	Grammar []string
	// Timeout is how long silence lasts before a no-input; 0 means 5 s.
	Timeout time.Duration
	// Retries is how many reprompts follow a no-input or a no-match before
	// OnNoInput or OnNoMatch is taken; -1 (unset) means 2.
	Retries int
	// NoInput are reprompts after silence, used in turn; the last repeats.
	// Empty means the question is asked again.
	NoInput []string
	// NoMatch are reprompts after an answer no branch takes.
	NoMatch []string
	// OnNoInput is where silence goes once retries are spent; empty means
	// hanging up with outcome no_input.
	OnNoInput string
	// OnNoMatch is where unmatched answers go once retries are spent;
	// empty means hanging up with outcome no_match.
	OnNoMatch string
	// Branches are tried in order; the first whose conditions all hold wins.
	Branches []Branch
}

// Branch is one way out of a listen node. Every condition set must hold.
type Branch struct {
	// Intent is the understood intent.
	Intent string
	// MinConfidence is the least confidence Intent needs; 0 means any.
	MinConfidence float64
	// DTMF is a digit the caller pressed.
	DTMF string
	// Slot is a condition on a slot of the caller's utterance.
	Slot *SlotCond
	// Emotion is the emotion label of the caller's utterance ("angry").
	Emotion string
	// Voiceprint is "match" or "mismatch" against the enrolled speaker.
	Voiceprint string
	// AMD is the answering-machine detector's verdict ("human", "machine").
	AMD string
	// Goto is the node taken.
	Goto string
	// Line is where the branch is defined.
	Line int
}

// SlotCond tests a slot: present (Op "exists"), equal to a value, or
// compared numerically.
type SlotCond struct {
	// Name is the slot's name or type ("amount", "datetime").
	Name string
	// Op is one of exists, ==, !=, <, <=, >, >=; empty means exists.
	Op string
	// Value is compared with the slot's normalised value.
	Value string
}

var slotOps = []string{"", "exists", "==", "!=", "<", "<=", ">", ">="}
