package campaign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// GradeRule gives a call the grade A (best) to F when all of its non-empty
// conditions hold; within one condition any listed value will do. A value
// ending in "*" matches by prefix ("call_back*", "machine*"). A rule with no
// condition matches every call. A call takes the grade of the first rule that
// matches it, so rules are listed from the most decisive down.
type GradeRule struct {
	// Grade is A, B, C, D, E or F.
	Grade string `json:"grade"`
	// Outcomes are dialog outcomes (docs/scripts.md).
	Outcomes []string `json:"outcomes,omitempty"`
	// Intents are intents understood in anything the caller said.
	Intents []string `json:"intents,omitempty"`
	// Tags are tags the script put on the contact during the call.
	Tags []string `json:"tags,omitempty"`
	// Dispositions are the attempt's dispositions (answered, busy, …).
	Dispositions []string `json:"dispositions,omitempty"`
	// AnsweredBy are answered_by values (human, machine_start, …, fax, unknown).
	AnsweredBy []string `json:"answered_by,omitempty"`
	// MinTurns is the least number of the caller's understood answers.
	MinTurns int `json:"min_turns,omitempty"`
}

// DefaultGradeRules are the grades of a campaign that lists none:
//
//	F  opted out or abusive: outcome do_not_call, an intent opt_out, stop,
//	   do_not_call or abuse, or a tag abusive or complaint
//	E  no person reached: disposition no_answer, busy, failed, invalid,
//	   voicemail or cancelled, or answered by a machine or fax
//	A  converted: outcome converted, sale, appointment or success, or a tag
//	   converted or hot
//	B  strong interest: outcome interested, or an intent affirm or interested
//	   in a call of at least 2 turns
//	C  open: outcome call_back:… or transferred, or an intent call_later or human
//	D  reached, no interest shown: every other call
func DefaultGradeRules() []GradeRule {
	return []GradeRule{
		{Grade: "F", Outcomes: []string{OutcomeDoNotCall}},
		{Grade: "F", Intents: []string{"opt_out", "stop", "do_not_call", "abuse"}},
		{Grade: "F", Tags: []string{"abusive", "complaint"}},
		{Grade: "E", Dispositions: []string{string(NoAnswer), string(Busy), string(Failed), string(Invalid), string(Voicemail), string(Cancelled)}},
		{Grade: "E", AnsweredBy: []string{"machine*", "fax"}},
		{Grade: "A", Outcomes: []string{"converted", "sale", "appointment", "success"}},
		{Grade: "A", Tags: []string{"converted", "hot"}},
		{Grade: "B", Outcomes: []string{"interested"}},
		{Grade: "B", Intents: []string{"affirm", "interested"}, MinTurns: 2},
		{Grade: "C", Outcomes: []string{"call_back*", "transferred"}},
		{Grade: "C", Intents: []string{"call_later", "human"}},
		{Grade: "D"},
	}
}

func (g GradeRule) validate() error {
	if len(g.Grade) != 1 || g.Grade[0] < 'A' || g.Grade[0] > 'F' {
		return fmt.Errorf("grade %q: want one of A, B, C, D, E, F", g.Grade)
	}
	if g.MinTurns < 0 {
		return fmt.Errorf("min_turns must not be negative")
	}
	return nil
}

// gradeInput is what a grade is decided from.
type gradeInput struct {
	outcome, disposition, answeredBy string
	intents, tags                    []string
	turns                            int
}

func (g GradeRule) matches(in gradeInput) bool {
	anyOf := func(want []string, have ...string) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			for _, h := range have {
				if p, ok := strings.CutSuffix(w, "*"); ok && strings.HasPrefix(h, p) || w == h {
					return true
				}
			}
		}
		return false
	}
	return anyOf(g.Outcomes, in.outcome) && anyOf(g.Intents, in.intents...) && anyOf(g.Tags, in.tags...) &&
		anyOf(g.Dispositions, in.disposition) && anyOf(g.AnsweredBy, in.answeredBy) && in.turns >= g.MinTurns
}

// Grade is the grade of the first rule res matches ("" when none does). The
// caller's intents are res.Intents or, when the Dialer gave none, those of the
// transcript's caller entries (dialog's transcript format).
func Grade(rules []GradeRule, res Result) string {
	in := gradeInput{outcome: res.Outcome, disposition: string(res.Disposition), answeredBy: res.AnsweredBy,
		intents: res.Intents, tags: res.Tags, turns: res.Turns}
	if in.intents == nil {
		in.intents = transcriptIntents(res.Transcript)
	}
	for _, r := range rules {
		if r.matches(in) {
			return r.Grade
		}
	}
	return ""
}

// transcriptIntents reads the intents of the caller's lines of a dialog
// transcript: the entries alone (dialog.Record.Transcript) or inside a whole
// dialog.Record, as waihu's dialler stores it. Any other shape gives none.
func transcriptIntents(b json.RawMessage) []string {
	type entry struct {
		Side   string `json:"side"`
		Intent string `json:"intent"`
	}
	var entries []entry
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return nil
	case b[0] == '{':
		var rec struct {
			Transcript []entry `json:"transcript"`
		}
		if json.Unmarshal(b, &rec) != nil {
			return nil
		}
		entries = rec.Transcript
	case json.Unmarshal(b, &entries) != nil:
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.Side == "caller" && e.Intent != "" && !slices.Contains(out, e.Intent) {
			out = append(out, e.Intent)
		}
	}
	return out
}
