package dialog

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrBadScript is wrapped by every error about a script's content.
var ErrBadScript = errors.New("bad script")

// ScriptError is one problem in a script file, at a line.
type ScriptError struct {
	// File is the script's path (or the name given to Parse).
	File string
	// Line is the 1-based line of the problem; 0 when unknown.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error reads "file:line: message".
func (e *ScriptError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Is makes errors.Is(err, ErrBadScript) true.
func (e *ScriptError) Is(target error) bool { return target == ErrBadScript }

// Load reads and validates the script at path.
func Load(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load script: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and validates a script from data; file names it in errors.
// Every problem found is reported, each as a *ScriptError naming its line,
// joined in line order.
func Parse(file string, data []byte) (*Script, error) {
	l := &loader{file: file}
	s := l.script(data)
	if len(l.errs) == 0 {
		l.validate(s)
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// loader turns YAML nodes into a Script, collecting errors with lines.
type loader struct {
	file      string
	errs      []*ScriptError
	startLine int
	// machineLine is where on_machine: is, for errors about its target.
	machineLine int
}

func (l *loader) errf(line int, format string, args ...any) {
	l.errs = append(l.errs, &ScriptError{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// fields returns a mapping's values by key, reporting keys not in allowed
// (typos such as "nxt:" would otherwise be silently ignored) and repeated keys.
func (l *loader) fields(n *yaml.Node, what string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		l.errf(n.Line, "%s must be a mapping", what)
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(allowed, k.Value) {
			l.errf(k.Line, "unknown field %q in %s (allowed: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			l.errf(k.Line, "field %q repeated in %s", k.Value, what)
			continue
		}
		out[k.Value] = v
	}
	return out
}

func (l *loader) str(n *yaml.Node, what string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		l.errf(n.Line, "%s must be a string", what)
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// strs accepts one string or a list of strings.
func (l *loader) strs(n *yaml.Node, what string) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n.Line, "%s must be a string or a list of strings", what)
		return nil
	}
	var out []string
	for _, e := range n.Content {
		out = append(out, l.str(e, what))
	}
	return out
}

func (l *loader) strMap(n *yaml.Node, what string) map[string]string {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errf(n.Line, "%s must map names to values", what)
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = l.str(n.Content[i+1], what+" "+n.Content[i].Value)
	}
	return out
}

func (l *loader) dur(n *yaml.Node, what string) time.Duration {
	s := l.str(n, what)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		l.errf(n.Line, "%s %q is not a positive duration such as 5s or 800ms", what, s)
		return 0
	}
	return d
}

func (l *loader) float(n *yaml.Node, what string) float64 {
	s := l.str(n, what)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		l.errf(n.Line, "%s %q is not a number", what, s)
	}
	return f
}

func (l *loader) integer(n *yaml.Node, what string, def int) int {
	s := l.str(n, what)
	if s == "" {
		return def
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 {
		l.errf(n.Line, "%s %q is not a whole number ≥ 0", what, s)
		return def
	}
	return i
}

func (l *loader) boolean(n *yaml.Node, what string, def bool) bool {
	s := l.str(n, what)
	if s == "" {
		return def
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		l.errf(n.Line, "%s %q is not true or false", what, s)
		return def
	}
	return b
}

func (l *loader) script(data []byte) *Script {
	s := &Script{File: l.file, byID: map[string]*Node{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		// yaml.v3 reports "yaml: line N: …"; keep its line for file:line.
		if _, rest, ok := strings.Cut(err.Error(), "line "); ok {
			line, _ = strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
		}
		l.errf(line, "not valid YAML: %v", err)
		return s
	}
	if len(doc.Content) == 0 {
		l.errf(1, "empty script")
		return s
	}
	top := doc.Content[0]
	f := l.fields(top, "the script", "name", "language", "voice", "variables", "intents",
		"knowledge", "fallback", "start", "on_machine", "variants", "nodes")
	s.Name = l.str(f["name"], "name")
	if s.Name == "" {
		l.errf(top.Line, "the script has no name:")
	}
	s.Language = l.str(f["language"], "language")
	if s.Language == "" {
		s.Language = "en-US"
	}
	s.Voice = l.str(f["voice"], "voice")
	s.Variables = l.strMap(f["variables"], "variables")
	if n := f["intents"]; n != nil {
		s.Intents = l.intents(n)
	}
	if n := f["knowledge"]; n != nil {
		s.Knowledge = l.knowledge(n)
	}
	if n := f["fallback"]; n != nil {
		s.Fallback = l.fallback(n)
	} else {
		l.errf(top.Line, "the script has no fallback: (what to say or where to transfer when an engine fails)")
	}
	if n := f["variants"]; n != nil {
		s.Variants = l.scriptVariants(n)
	}
	nodes := f["nodes"]
	if nodes == nil || nodes.Kind != yaml.SequenceNode || len(nodes.Content) == 0 {
		line := top.Line
		if nodes != nil {
			line = nodes.Line
		}
		l.errf(line, "nodes: must be a non-empty list of nodes")
		return s
	}
	for _, n := range nodes.Content {
		if node := l.node(n); node != nil {
			if prev, dup := s.byID[node.ID]; dup {
				l.errf(node.Line, "duplicate node id %q (first defined at line %d)", node.ID, prev.Line)
				continue
			}
			s.byID[node.ID] = node
			s.Nodes = append(s.Nodes, node)
		}
	}
	s.Start = l.str(f["start"], "start")
	l.startLine = top.Line
	if f["start"] != nil {
		l.startLine = f["start"].Line
	}
	if s.Start == "" && len(s.Nodes) > 0 {
		s.Start = s.Nodes[0].ID
	}
	s.OnMachine = l.str(f["on_machine"], "on_machine")
	if n := f["on_machine"]; n != nil {
		l.machineLine = n.Line
	}
	return s
}

func (l *loader) intents(n *yaml.Node) []Intent {
	if n.Kind != yaml.MappingNode {
		l.errf(n.Line, "intents: must map intent names to examples")
		return nil
	}
	var out []Intent
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		in := Intent{Name: k.Value, Line: k.Line}
		if first, dup := seen[in.Name]; dup {
			l.errf(k.Line, "intent %q defined twice (first at line %d)", in.Name, first)
			continue
		}
		seen[in.Name] = k.Line
		switch v.Kind {
		case yaml.MappingNode: // language → examples, as speech/nlu reads it
			for j := 0; j+1 < len(v.Content); j += 2 {
				in.Examples = append(in.Examples, l.strs(v.Content[j+1], "examples of intent "+in.Name)...)
			}
		default:
			in.Examples = l.strs(v, "examples of intent "+in.Name)
		}
		if len(in.Examples) == 0 {
			l.errf(k.Line, "intent %q has no examples", in.Name)
		}
		out = append(out, in)
	}
	return out
}

func (l *loader) knowledge(n *yaml.Node) map[string]Answer {
	if n.Kind != yaml.MappingNode {
		l.errf(n.Line, "knowledge: must map intent names to answers")
		return nil
	}
	out := map[string]Answer{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		a := Answer{Line: k.Line}
		if v.Kind == yaml.ScalarNode {
			a.Text = l.str(v, "answer")
		} else {
			f := l.fields(v, "knowledge answer "+k.Value, "text", "prompt")
			a.Text = l.str(f["text"], "text")
			a.Prompt = l.str(f["prompt"], "prompt")
		}
		if a.Text == "" && a.Prompt == "" {
			l.errf(k.Line, "knowledge answer %q has neither text nor prompt", k.Value)
		}
		out[k.Value] = a
	}
	return out
}

func (l *loader) fallback(n *yaml.Node) Fallback {
	f := l.fields(n, "fallback", "transfer", "text", "prompt", "outcome")
	fb := Fallback{
		Transfer: l.str(f["transfer"], "transfer"),
		Text:     l.str(f["text"], "text"),
		Prompt:   l.str(f["prompt"], "prompt"),
		Outcome:  l.str(f["outcome"], "outcome"),
	}
	if fb.Text == "" && fb.Prompt == "" && fb.Transfer == "" {
		l.errf(n.Line, "fallback: needs a text, a prompt or a transfer, so a failing call never goes silent")
	}
	if fb.Outcome != "" && !outcomeKnown(fb.Outcome) {
		l.errf(f["outcome"].Line, "unknown outcome %q (known: %s)", fb.Outcome, strings.Join(Outcomes, ", "))
	}
	return fb
}

func (l *loader) scriptVariants(n *yaml.Node) []ScriptVariant {
	if n.Kind != yaml.SequenceNode {
		l.errf(n.Line, "variants: must be a list")
		return nil
	}
	var out []ScriptVariant
	for _, e := range n.Content {
		f := l.fields(e, "script variant", "name", "weight", "start", "variables")
		out = append(out, ScriptVariant{
			Name:      l.str(f["name"], "name"),
			Weight:    l.weight(f["weight"], e.Line),
			Start:     l.str(f["start"], "start"),
			Variables: l.strMap(f["variables"], "variables"),
			Line:      e.Line,
		})
	}
	return out
}

func (l *loader) weight(n *yaml.Node, line int) float64 {
	if n == nil {
		return 1
	}
	w := l.float(n, "weight")
	if w <= 0 {
		l.errf(n.Line, "weight must be a number above 0")
	}
	return w
}

// nodeFields are the fields each kind allows, besides id and kind.
var nodeFields = map[Kind][]string{
	KindSay:       {"text", "prompt", "interruptible", "next", "variants"},
	KindListen:    {"text", "prompt", "interruptible", "variants", "grammar", "timeout", "retries", "no_input", "no_match", "on_no_input", "on_no_match", "branches"},
	KindSet:       {"tags", "variables", "next"},
	KindTransfer:  {"mode", "to", "on_fail", "text", "prompt", "interruptible", "summary"},
	KindMessage:   {"text", "to", "next", "on_fail"},
	KindHangup:    {"outcome", "text", "prompt", "interruptible"},
	KindVoicemail: {"text", "prompt", "outcome", "beep_timeout", "on_no_beep"},
}

func (l *loader) node(n *yaml.Node) *Node {
	if n.Kind != yaml.MappingNode {
		l.errf(n.Line, "a node must be a mapping with id: and kind:")
		return nil
	}
	var id, kind *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "id":
			id = n.Content[i+1]
		case "kind":
			kind = n.Content[i+1]
		}
	}
	if id == nil || l.str(id, "id") == "" {
		l.errf(n.Line, "node has no id:")
		return nil
	}
	node := &Node{ID: id.Value, Line: n.Line, Interruptible: true}
	if kind == nil {
		l.errf(n.Line, "node %q has no kind: (one of %s)", node.ID, kindList())
		return nil
	}
	node.Kind = Kind(l.str(kind, "kind"))
	allowed, ok := nodeFields[node.Kind]
	if !ok {
		l.errf(kind.Line, "node %q has unknown kind %q (one of %s)", node.ID, node.Kind, kindList())
		return nil
	}
	f := l.fields(n, fmt.Sprintf("%s node %q", node.Kind, node.ID), append([]string{"id", "kind"}, allowed...)...)
	node.Text = l.str(f["text"], "text")
	node.Prompt = l.str(f["prompt"], "prompt")
	node.Interruptible = l.boolean(f["interruptible"], "interruptible", true)
	node.Next = l.str(f["next"], "next")
	node.Tags = l.strs(f["tags"], "tags")
	node.Set = l.strMap(f["variables"], "variables")
	node.TransferMode = l.str(f["mode"], "mode")
	node.To = l.str(f["to"], "to")
	node.OnFail = l.str(f["on_fail"], "on_fail")
	node.Brief, node.Summary = l.summary(f["summary"])
	node.Outcome = l.str(f["outcome"], "outcome")
	node.BeepTimeout = l.dur(f["beep_timeout"], "beep_timeout")
	node.OnNoBeep = l.str(f["on_no_beep"], "on_no_beep")
	if v := f["variants"]; v != nil {
		node.Variants = l.nodeVariants(v, node.ID)
	}
	if node.Kind == KindListen {
		node.Listen = l.listen(f, node)
	}
	return node
}

// summary reads a transfer's summary: true (the default) for the built-in
// one, false for none, or a template of its own.
func (l *loader) summary(n *yaml.Node) (brief bool, template string) {
	if n == nil {
		return true, ""
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		return l.boolean(n, "summary", true), ""
	}
	t := l.str(n, "summary")
	if strings.TrimSpace(t) == "" {
		l.errf(n.Line, "summary must be true, false or the text to tell the agent")
	}
	return true, t
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func (l *loader) nodeVariants(n *yaml.Node, id string) []NodeVariant {
	if n.Kind != yaml.SequenceNode {
		l.errf(n.Line, "variants of node %q must be a list", id)
		return nil
	}
	var out []NodeVariant
	for _, e := range n.Content {
		f := l.fields(e, fmt.Sprintf("variant of node %q", id), "name", "weight", "text", "prompt", "next")
		out = append(out, NodeVariant{
			Name:   l.str(f["name"], "name"),
			Weight: l.weight(f["weight"], e.Line),
			Text:   l.str(f["text"], "text"),
			Prompt: l.str(f["prompt"], "prompt"),
			Next:   l.str(f["next"], "next"),
			Line:   e.Line,
		})
	}
	return out
}

func (l *loader) listen(f map[string]*yaml.Node, node *Node) *Listen {
	ls := &Listen{
		Grammar:   l.strs(f["grammar"], "grammar"),
		Timeout:   l.dur(f["timeout"], "timeout"),
		Retries:   l.integer(f["retries"], "retries", -1),
		NoInput:   l.strs(f["no_input"], "no_input"),
		NoMatch:   l.strs(f["no_match"], "no_match"),
		OnNoInput: l.str(f["on_no_input"], "on_no_input"),
		OnNoMatch: l.str(f["on_no_match"], "on_no_match"),
	}
	bs := f["branches"]
	if bs == nil || bs.Kind != yaml.SequenceNode || len(bs.Content) == 0 {
		l.errf(node.Line, "listen node %q needs a non-empty branches: list", node.ID)
		return ls
	}
	for _, e := range bs.Content {
		bf := l.fields(e, fmt.Sprintf("branch of node %q", node.ID),
			"intent", "min_confidence", "dtmf", "slot", "emotion", "voiceprint", "amd", "goto")
		b := Branch{
			Intent:        l.str(bf["intent"], "intent"),
			MinConfidence: l.float(bf["min_confidence"], "min_confidence"),
			DTMF:          l.str(bf["dtmf"], "dtmf"),
			Emotion:       l.str(bf["emotion"], "emotion"),
			Voiceprint:    l.str(bf["voiceprint"], "voiceprint"),
			AMD:           l.str(bf["amd"], "amd"),
			Goto:          l.str(bf["goto"], "goto"),
			Line:          e.Line,
		}
		if s := bf["slot"]; s != nil {
			b.Slot = l.slotCond(s)
		}
		ls.Branches = append(ls.Branches, b)
	}
	return ls
}

func (l *loader) slotCond(n *yaml.Node) *SlotCond {
	if n.Kind == yaml.ScalarNode {
		return &SlotCond{Name: n.Value, Op: "exists"}
	}
	f := l.fields(n, "slot condition", "name", "op", "value")
	c := &SlotCond{Name: l.str(f["name"], "name"), Op: l.str(f["op"], "op"), Value: l.str(f["value"], "value")}
	if c.Op == "" {
		c.Op = "exists"
	}
	if !slices.Contains(slotOps, c.Op) {
		l.errf(n.Line, "slot condition op %q is not one of exists, ==, !=, <, <=, >, >=", c.Op)
	}
	if c.Name == "" {
		l.errf(n.Line, "slot condition has no name:")
	}
	if c.Op != "exists" && c.Value == "" {
		l.errf(n.Line, "slot condition %s %s needs a value:", c.Name, c.Op)
	}
	if strings.ContainsAny(c.Op, "<>") {
		if _, err := strconv.ParseFloat(c.Value, 64); err != nil {
			l.errf(n.Line, "slot condition %s %s %q compares numbers, and %q is not one", c.Name, c.Op, c.Value, c.Value)
		}
	}
	return c
}
