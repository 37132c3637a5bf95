package kpi

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/store"
)

// Dispositions and outcomes the definitions read. They are the strings that
// campaign/ and dialog/ write into call records (docs/campaigns.md,
// docs/scripts.md); they are spelled here so this package does not pull the
// dialer into every build of the API.
const (
	dispCancelled   = "cancelled"
	dispNoAnswer    = "no_answer"
	dispDoNotCall   = "do_not_call"
	outTransferred  = "transferred"
	outWrongPerson  = "wrong_person"
	outVoicemail    = "voicemail"
	outDoNotCall    = "do_not_call"
	answeredByHuman = "human"
)

// Facts is what one finished call record counts towards, by the definitions
// of docs/kpis.md.
type Facts struct {
	// Seizure: the attempt reached the network (every finished record but
	// those waihu ended itself before any response came).
	Seizure bool
	// Answered: a 2xx final response or an answer time.
	Answered bool
	// UserFailure: busy, declined, or rang unanswered (ITU-T E.425).
	UserFailure bool
	// Human: answered and known to be a person.
	Human bool
	// Engaged: the caller said something or pressed a key.
	Engaged bool
	// RightParty: a human who engaged and was not the wrong person.
	RightParty bool
	// Converted: a right-party contact with a conversion outcome or grade.
	Converted bool
	// OptOut: a human who asked not to be called again.
	OptOut bool
	// AbandonKnown: a human with a transcript, so abandonment can be judged.
	AbandonKnown bool
	// Abandoned: AbandonKnown and no bot audio within Rules.AbandonAfter.
	Abandoned bool
	// TransferTried and TransferOK: a human the script tried to transfer,
	// and whether it was handed over.
	TransferTried, TransferOK bool
	// Talk (answer → end) and Handle (attempt → end, plus wrap-up) are set
	// when Timed: answered with answer and end times.
	Timed        bool
	Talk, Handle time.Duration
	// Greeting is answer → first bot audio, when HasGreeting.
	HasGreeting bool
	Greeting    time.Duration
}

// transcriptDoc is the part of a dialog.Record the figures read. Decoding
// into it instead of dialog.Record skips the text of every entry.
type transcriptDoc struct {
	TransferredTo string      `json:"transferred_to"`
	Path          []string    `json:"path"`
	Transcript    []entryLite `json:"transcript"`
	Turns         []turnLite  `json:"turns"`
}

type entryLite struct {
	Side    string        `json:"side"`
	Node    string        `json:"node"`
	At      time.Duration `json:"at"`
	Message bool          `json:"message"`
}

type turnLite struct {
	VADEnd     time.Time `json:"vad_end"`
	FirstWrite time.Time `json:"first_write"`
}

// Classifier turns records into Facts, reusing its decoding buffers across
// records so a report allocates little per record. It is not safe for
// concurrent use; each goroutine makes its own.
type Classifier struct {
	rules Rules
	doc   transcriptDoc
	// latencies of the last record's turns, valid until the next Classify.
	latencies []time.Duration
}

// NewClassifier returns a Classifier applying rules (zero fields: defaults).
func NewClassifier(r Rules) *Classifier { return &Classifier{rules: r.withDefaults()} }

// Classify applies the definitions of docs/kpis.md to one finished record.
// An unparseable transcript counts as no transcript. For many records, a
// Classifier allocates less.
func Classify(rec store.CallRecord, rules Rules) Facts {
	return NewClassifier(rules).Classify(&rec)
}

// Latencies are the first-response latencies of the last record classified,
// valid until the next Classify.
func (c *Classifier) Latencies() []time.Duration { return c.latencies }

// Classify applies the definitions to one finished record.
func (c *Classifier) Classify(rec *store.CallRecord) Facts {
	var f Facts
	c.latencies = c.latencies[:0]
	answered := rec.SIPCode/100 == 2 || !rec.AnsweredAt.IsZero()
	responded := rec.SIPCode != 0 || !rec.RingingAt.IsZero() || answered
	f.Seizure = responded || (rec.Disposition != dispCancelled && rec.Disposition != store.DispositionInterrupted)
	if !f.Seizure {
		return f
	}
	f.Answered = answered
	switch rec.SIPCode {
	case 486, 600, 603, 480: // busy here/everywhere, decline, temporarily unavailable (RFC 3261 §21)
		f.UserFailure = !answered
	}
	if rec.Disposition == dispNoAnswer && !rec.RingingAt.IsZero() && !answered {
		f.UserFailure = true
	}
	if !answered {
		return f
	}
	// A record missing either time would count as a zero-length call and
	// drag the means down; it is left out of them instead.
	if !rec.AnsweredAt.IsZero() && !rec.EndedAt.IsZero() && !rec.EndedAt.Before(rec.AnsweredAt) {
		f.Timed = true
		f.Talk = rec.EndedAt.Sub(rec.AnsweredAt)
		f.Handle = rec.EndedAt.Sub(rec.AttemptAt) + c.rules.WrapUp
	}

	hasTranscript := c.decode(rec.Transcript)
	firstBot := time.Duration(-1)
	for i := range c.doc.Transcript {
		e := &c.doc.Transcript[i]
		switch e.Side {
		case "caller":
			f.Engaged = true
		case "bot":
			if !e.Message && firstBot < 0 {
				firstBot = e.At
			}
		}
	}
	// The dialler's GreetedAt (schema version 6) is when the first audio
	// reached the leg; older records only have the transcript's offset.
	if !rec.GreetedAt.IsZero() && !rec.AnsweredAt.IsZero() && !rec.GreetedAt.Before(rec.AnsweredAt) {
		firstBot = rec.GreetedAt.Sub(rec.AnsweredAt)
	}
	if firstBot >= 0 {
		f.HasGreeting, f.Greeting = true, firstBot
	}
	for _, t := range c.doc.Turns {
		if t.VADEnd.IsZero() || t.FirstWrite.IsZero() || t.FirstWrite.Before(t.VADEnd) {
			continue
		}
		c.latencies = append(c.latencies, t.FirstWrite.Sub(t.VADEnd))
	}

	machine := strings.HasPrefix(rec.AnsweredBy, "machine") || rec.AnsweredBy == "fax" || rec.Outcome == outVoicemail
	f.Human = rec.AnsweredBy == answeredByHuman || (!machine && f.Engaged)
	if !f.Human {
		return f
	}
	f.RightParty = f.Engaged && rec.Outcome != outWrongPerson
	// The dialler's verdicts win when the record has them; records from
	// before them are judged by the same rules the dialler applies.
	if rec.Converted != nil {
		f.Converted = f.RightParty && *rec.Converted
	} else {
		f.Converted = f.RightParty && c.rules.Converts(rec.Outcome, rec.IntentGrade)
	}
	if rec.OptedOut != nil {
		f.OptOut = *rec.OptedOut
	} else {
		f.OptOut = OptsOut(rec.Outcome, rec.Disposition)
	}
	if hasTranscript || !rec.GreetedAt.IsZero() {
		f.AbandonKnown = true
		f.Abandoned = firstBot < 0 || firstBot > c.rules.AbandonAfter
	}
	if rec.TransferResult != "" {
		f.TransferTried, f.TransferOK = true, rec.TransferResult == store.TransferSucceeded
		return f
	}
	f.TransferOK = rec.Outcome == outTransferred
	f.TransferTried = f.TransferOK || c.doc.TransferredTo != "" || c.visitedTransferNode()
	return f
}

// Converts reports whether a call with this dialog outcome and intent grade
// is a conversion by r (zero fields: the defaults, outcome interested or
// grade A). It is the one rule: the dialler applies it to set
// CallRecord.Converted, and Classify to records from before that field.
func (r Rules) Converts(outcome, grade string) bool {
	return campaign.Conversion{Outcomes: r.ConversionOutcomes, Grades: r.ConversionGrades}.Converts(outcome, grade)
}

// OptsOut is campaign.OptsOut: the dialler's verdict, applied here to
// records from before CallRecord.OptedOut.
func OptsOut(outcome, disposition string) bool { return campaign.OptsOut(outcome, disposition) }

// decode reads a transcript: the whole dialog.Record (an object) or only its
// entries (an array). It reports whether there was a transcript at all. The
// store writes "null" for a call that ran no script (a prompt only), and an
// entries-only transcript of a script in which nobody spoke is "null" too, so
// "null", like an empty or unparseable field, is no transcript; an object
// (even with no entries) or an array (even empty) is one.
func (c *Classifier) decode(raw json.RawMessage) bool {
	d := &c.doc
	d.reset()
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	var err error
	switch raw[0] {
	case '{':
		err = json.Unmarshal(raw, d)
	case '[':
		err = json.Unmarshal(raw, &d.Transcript)
	default:
		return false
	}
	if err != nil {
		d.reset()
		return false
	}
	return true
}

// reset empties the document but keeps its buffers. The elements up to
// capacity are zeroed too: decoding into a reused slice fills only the fields
// present in the JSON, and omitempty fields are often absent.
func (d *transcriptDoc) reset() {
	d.TransferredTo = ""
	clear(d.Path[:cap(d.Path)])
	clear(d.Transcript[:cap(d.Transcript)])
	clear(d.Turns[:cap(d.Turns)])
	d.Path, d.Transcript, d.Turns = d.Path[:0], d.Transcript[:0], d.Turns[:0]
}

func (c *Classifier) visitedTransferNode() bool {
	if len(c.rules.TransferNodes) == 0 {
		return false
	}
	for _, n := range c.doc.Path {
		if slices.Contains(c.rules.TransferNodes, n) {
			return true
		}
	}
	for i := range c.doc.Transcript {
		if slices.Contains(c.rules.TransferNodes, c.doc.Transcript[i].Node) {
			return true
		}
	}
	return false
}
