package dialog

import (
	"slices"
	"strings"
)

// validate checks what needs the whole script: node targets exist, every
// node can be reached, referenced intents are defined, each kind has what it
// needs. It runs only when the file loaded without errors, so one typo is
// reported once and not again as a cascade of missing targets.
func (l *loader) validate(s *Script) {
	intents := map[string]bool{"out_of_scope": true}
	for _, in := range s.Intents {
		intents[in.Name] = true
	}
	target := func(line int, from, field, id string) {
		if id != "" && s.byID[id] == nil {
			l.errf(line, "node %q: %s %q is not a node of the script", from, field, id)
		}
	}
	if s.byID[s.Start] == nil {
		l.errf(l.startLine, "start node %q is not a node of the script", s.Start)
	}
	if s.OnMachine != "" && s.byID[s.OnMachine] == nil {
		l.errf(l.machineLine, "on_machine %q is not a node of the script", s.OnMachine)
	}
	names := map[string]bool{}
	for _, v := range s.Variants {
		if v.Name == "" {
			l.errf(v.Line, "script variant has no name:")
		} else if names[v.Name] {
			l.errf(v.Line, "script variant %q defined twice", v.Name)
		}
		names[v.Name] = true
		target(v.Line, "variant "+v.Name, "start", v.Start)
	}
	for name, a := range s.Knowledge {
		if !intents[name] {
			l.errf(a.Line, "knowledge answers intent %q, which intents: does not define", name)
		}
	}
	for _, n := range s.Nodes {
		target(n.Line, n.ID, "next", n.Next)
		target(n.Line, n.ID, "on_fail", n.OnFail)
		vnames := map[string]bool{}
		for _, v := range n.Variants {
			if v.Name == "" || vnames[v.Name] {
				l.errf(v.Line, "node %q: each variant needs a name of its own", n.ID)
			}
			vnames[v.Name] = true
			target(v.Line, n.ID, "variant next", v.Next)
		}
		l.validateKind(s, n, intents, target)
	}
	l.reachable(s)
}

func (l *loader) validateKind(s *Script, n *Node, intents map[string]bool, target func(int, string, string, string)) {
	hasWords := n.Text != "" || n.Prompt != ""
	for _, v := range n.Variants {
		hasWords = hasWords || v.Text != "" || v.Prompt != ""
	}
	needNext := func() {
		if n.Next == "" {
			l.errf(n.Line, "%s node %q has no next:", n.Kind, n.ID)
		}
	}
	switch n.Kind {
	case KindSay:
		if !hasWords {
			l.errf(n.Line, "say node %q has neither text nor prompt", n.ID)
		}
		needNext()
	case KindSet:
		if len(n.Tags) == 0 && len(n.Set) == 0 {
			l.errf(n.Line, "set node %q sets no tags and no variables", n.ID)
		}
		needNext()
	case KindMessage:
		if n.Text == "" {
			l.errf(n.Line, "message node %q has no text", n.ID)
		}
		needNext()
	case KindTransfer:
		if n.To == "" {
			l.errf(n.Line, "transfer node %q has no to: (the agent's SIP URI)", n.ID)
		}
		if n.TransferMode != "" && n.TransferMode != "refer" && n.TransferMode != "bridge" {
			l.errf(n.Line, "transfer node %q: mode %q is not refer or bridge", n.ID, n.TransferMode)
		}
	case KindHangup:
		if n.Outcome == "" {
			l.errf(n.Line, "hangup node %q has no outcome:", n.ID)
		} else if !outcomeKnown(n.Outcome) {
			l.errf(n.Line, "hangup node %q: unknown outcome %q (known: %s)", n.ID, n.Outcome, strings.Join(Outcomes, ", "))
		}
	case KindVoicemail:
		if !hasWords {
			l.errf(n.Line, "voicemail node %q has neither text nor prompt: the message to leave", n.ID)
		}
		if n.Outcome != "" && !outcomeKnown(n.Outcome) {
			l.errf(n.Line, "voicemail node %q: unknown outcome %q (known: %s)", n.ID, n.Outcome, strings.Join(Outcomes, ", "))
		}
		target(n.Line, n.ID, "on_no_beep", n.OnNoBeep)
	case KindListen:
		ls := n.Listen
		target(n.Line, n.ID, "on_no_input", ls.OnNoInput)
		target(n.Line, n.ID, "on_no_match", ls.OnNoMatch)
		for _, b := range ls.Branches {
			if b.Goto == "" {
				l.errf(b.Line, "node %q: branch has no goto:", n.ID)
			}
			target(b.Line, n.ID, "goto", b.Goto)
			if b.Intent == "" && b.DTMF == "" && b.Slot == nil && b.Emotion == "" && b.Voiceprint == "" && b.AMD == "" {
				l.errf(b.Line, "node %q: branch has no condition (intent, dtmf, slot, emotion, voiceprint or amd)", n.ID)
			}
			if b.Intent != "" && !intents[b.Intent] {
				l.errf(b.Line, "node %q: branch on intent %q, which intents: does not define", n.ID, b.Intent)
			}
			if b.DTMF != "" && (len([]rune(b.DTMF)) != 1 || !strings.ContainsRune("0123456789*#ABCD", []rune(b.DTMF)[0])) {
				l.errf(b.Line, "node %q: dtmf %q is not one of 0-9, *, #, A-D", n.ID, b.DTMF)
			}
			if b.Voiceprint != "" && b.Voiceprint != "match" && b.Voiceprint != "mismatch" {
				l.errf(b.Line, "node %q: voiceprint %q is not match or mismatch", n.ID, b.Voiceprint)
			}
			if b.AMD != "" && !slices.Contains([]string{"human", "machine", "unknown"}, b.AMD) {
				l.errf(b.Line, "node %q: amd %q is not human, machine or unknown", n.ID, b.AMD)
			}
			if b.MinConfidence < 0 || b.MinConfidence > 1 {
				l.errf(b.Line, "node %q: min_confidence %g is outside 0..1", n.ID, b.MinConfidence)
			}
		}
	}
}

// reachable reports nodes no path from a start node leads to: they are
// almost always a misspelt goto elsewhere.
func (l *loader) reachable(s *Script) {
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		n := s.byID[id]
		if n == nil || seen[id] {
			return
		}
		seen[id] = true
		walk(n.Next)
		walk(n.OnFail)
		walk(n.OnNoBeep)
		for _, v := range n.Variants {
			walk(v.Next)
		}
		if n.Listen != nil {
			walk(n.Listen.OnNoInput)
			walk(n.Listen.OnNoMatch)
			for _, b := range n.Listen.Branches {
				walk(b.Goto)
			}
		}
	}
	walk(s.Start)
	walk(s.OnMachine)
	for _, v := range s.Variants {
		walk(v.Start)
	}
	for _, n := range s.Nodes {
		if !seen[n.ID] {
			l.errf(n.Line, "node %q is unreachable from the start node %q", n.ID, s.Start)
		}
	}
}
