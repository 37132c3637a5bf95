package sphinx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxGrammarStates bounds a compiled grammar, so a grammar with deep rule
// nesting cannot exhaust memory.
const maxGrammarStates = 100000

// ParseJSGF compiles a JSGF grammar (the subset pocketsphinx users write:
// rules, alternatives with optional /weights/, groups, [optional] parts,
// <rule> references, * and + repeats; {tags} and comments are ignored) into
// a word graph accepting any of its public rules.
func ParseJSGF(src string) (*Grammar, error) {
	toks, err := jsgfTokens(src)
	if err != nil {
		return nil, err
	}
	rules := map[string][]string{}
	var public []string
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case t == "#JSGF" || t == "grammar" || t == "import":
			for i < len(toks) && toks[i] != ";" {
				i++
			}
			i++
			continue
		}
		pub := false
		if t == "public" {
			pub = true
			i++
		}
		if i+1 >= len(toks) || !strings.HasPrefix(toks[i], "<") || toks[i+1] != "=" {
			return nil, fmt.Errorf("jsgf: expected \"<rule> =\" at %q: %w", strings.Join(toks[i:min(i+4, len(toks))], " "), ErrGrammar)
		}
		name := toks[i]
		j := i + 2
		for j < len(toks) && toks[j] != ";" {
			j++
		}
		if j == len(toks) {
			return nil, fmt.Errorf("jsgf: rule %s has no ending \";\": %w", name, ErrGrammar)
		}
		rules[name] = toks[i+2 : j]
		if pub {
			public = append(public, name)
		}
		i = j + 1
	}
	if len(public) == 0 {
		return nil, fmt.Errorf("jsgf: no public rule: %w", ErrGrammar)
	}
	c := &jsgfCompiler{rules: rules, g: &Grammar{NumStates: 2, Start: 0, Final: 1}}
	for _, r := range public {
		end, err := c.ref(r, c.g.Start, 0)
		if err != nil {
			return nil, err
		}
		c.null(end, c.g.Final, 0)
	}
	return c.g, nil
}

func jsgfTokens(src string) ([]string, error) {
	var toks []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("jsgf: unterminated comment: %w", ErrGrammar)
			}
			i += end + 4
		case c == '{':
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("jsgf: unterminated tag: %w", ErrGrammar)
			}
			i += end + 1
		case c == '<':
			end := strings.IndexByte(src[i:], '>')
			if end < 0 {
				return nil, fmt.Errorf("jsgf: unterminated rule name: %w", ErrGrammar)
			}
			toks = append(toks, src[i:i+end+1])
			i += end + 1
		case c == '/':
			end := strings.IndexByte(src[i+1:], '/')
			if end < 0 {
				return nil, fmt.Errorf("jsgf: unterminated weight: %w", ErrGrammar)
			}
			toks = append(toks, src[i:i+end+2])
			i += end + 2
		case strings.ContainsRune("=;|()[]*+", rune(c)):
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n=;|()[]*+<>{}/", rune(src[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("jsgf: unexpected %q at byte %d: %w", src[i], i, ErrGrammar)
			}
			toks = append(toks, src[i:j])
			i = j
		}
	}
	return toks, nil
}

type jsgfCompiler struct {
	rules map[string][]string
	g     *Grammar
}

func (c *jsgfCompiler) state() (int, error) {
	if c.g.NumStates >= maxGrammarStates {
		return 0, fmt.Errorf("jsgf: grammar exceeds %d states: %w", maxGrammarStates, ErrGrammar)
	}
	c.g.NumStates++
	return c.g.NumStates - 1, nil
}

func (c *jsgfCompiler) null(from, to int, lp float64) {
	c.g.Arcs = append(c.g.Arcs, GrammarArc{From: from, To: to, LogProb: lp})
}

func (c *jsgfCompiler) ref(name string, from, depth int) (int, error) {
	body, ok := c.rules[name]
	if !ok {
		return 0, fmt.Errorf("jsgf: rule %s is not defined: %w", name, ErrGrammar)
	}
	if depth > 32 {
		return 0, fmt.Errorf("jsgf: rule %s nests deeper than 32 (recursion is not supported): %w", name, ErrGrammar)
	}
	return c.alternatives(body, from, depth+1)
}

// alternatives compiles "a | b | c" (each with an optional /weight/) from
// state from and returns the state where it ends.
func (c *jsgfCompiler) alternatives(toks []string, from, depth int) (int, error) {
	var alts [][]string
	level, start := 0, 0
	for i, t := range toks {
		switch t {
		case "(", "[":
			level++
		case ")", "]":
			level--
		case "|":
			if level == 0 {
				alts = append(alts, toks[start:i])
				start = i + 1
			}
		}
		if level < 0 {
			return 0, fmt.Errorf("jsgf: unbalanced %q: %w", t, ErrGrammar)
		}
	}
	if level != 0 {
		return 0, fmt.Errorf("jsgf: unbalanced brackets in %q: %w", strings.Join(toks, " "), ErrGrammar)
	}
	alts = append(alts, toks[start:])
	if len(alts) == 1 {
		return c.sequence(alts[0], from, depth)
	}
	weights := make([]float64, len(alts))
	total := 0.0
	for i, a := range alts {
		weights[i] = 1
		if len(a) > 0 && strings.HasPrefix(a[0], "/") {
			w, err := strconv.ParseFloat(strings.Trim(a[0], "/"), 64)
			if err != nil || w < 0 {
				return 0, fmt.Errorf("jsgf: bad weight %s: %w", a[0], ErrGrammar)
			}
			weights[i] = w
			alts[i] = a[1:]
		}
		total += weights[i]
	}
	end, err := c.state()
	if err != nil {
		return 0, err
	}
	for i, a := range alts {
		if weights[i] == 0 {
			continue
		}
		s, err := c.state()
		if err != nil {
			return 0, err
		}
		c.null(from, s, math.Log(weights[i]/total))
		e, err := c.sequence(a, s, depth)
		if err != nil {
			return 0, err
		}
		c.null(e, end, 0)
	}
	return end, nil
}

// sequence compiles items one after another.
func (c *jsgfCompiler) sequence(toks []string, from, depth int) (int, error) {
	cur := from
	for i := 0; i < len(toks); {
		t := toks[i]
		itemStart := cur
		var err error
		switch {
		case t == "(" || t == "[":
			closer := ")"
			if t == "[" {
				closer = "]"
			}
			level, j := 0, i
			for ; j < len(toks); j++ {
				if toks[j] == "(" || toks[j] == "[" {
					level++
				} else if toks[j] == ")" || toks[j] == "]" {
					level--
					if level == 0 {
						break
					}
				}
			}
			if j == len(toks) || toks[j] != closer {
				return 0, fmt.Errorf("jsgf: unbalanced %s: %w", t, ErrGrammar)
			}
			if cur, err = c.alternatives(toks[i+1:j], cur, depth); err != nil {
				return 0, err
			}
			if t == "[" {
				c.null(itemStart, cur, 0)
			}
			i = j + 1
		case strings.HasPrefix(t, "<"):
			if t == "<NULL>" {
				i++
				continue
			}
			if t == "<VOID>" {
				return 0, fmt.Errorf("jsgf: <VOID> is not supported: %w", ErrGrammar)
			}
			if cur, err = c.ref(t, cur, depth); err != nil {
				return 0, err
			}
			i++
		case t == "|" || t == ")" || t == "]" || t == "*" || t == "+" || t == "=" || t == ";":
			return 0, fmt.Errorf("jsgf: unexpected %q: %w", t, ErrGrammar)
		case strings.HasPrefix(t, "/"):
			return 0, fmt.Errorf("jsgf: weight %s outside an alternative: %w", t, ErrGrammar)
		default:
			next, err := c.state()
			if err != nil {
				return 0, err
			}
			c.g.Arcs = append(c.g.Arcs, GrammarArc{From: cur, To: next, Word: strings.ToLower(t)})
			cur = next
			i++
		}
		if i < len(toks) && (toks[i] == "*" || toks[i] == "+") {
			// Loop back from the item's end to its start; * also skips it.
			c.null(cur, itemStart, 0)
			if toks[i] == "*" {
				c.null(itemStart, cur, 0)
			}
			i++
		}
	}
	return cur, nil
}

// DefaultKeywordThreshold is the threshold of keyphrases given without
// one: the phrase path may trail the free phone loop by a likelihood ratio
// of 1e-10 (23 nats). Thresholds are on this recogniser's scale, not
// pocketsphinx's: a spoken keyphrase beats the loop by up to tens of nats
// (goforward: "forward" +94, "ten meters" +66) and an absent one trails it
// ("seven" −29). On the docs/asr-report.md sentences 1e10/1e3/1 found 5 of
// 12 keyphrases, 1e-10 found 9 with no false alarm, 1e-20 9 with one.
const DefaultKeywordThreshold = 1e-10

// ParseGrammar reads grammar text: JSGF when it starts with "#JSGF", a
// keyword list when every line ends in "/threshold/" (pocketsphinx's -kws
// format), otherwise one phrase per line.
func ParseGrammar(text string) (*Grammar, error) {
	if strings.HasPrefix(strings.TrimSpace(text), "#JSGF") {
		return ParseJSGF(text)
	}
	lines := strings.Split(text, "\n")
	if isKeywordList(lines) {
		return KeywordGrammar(lines, DefaultKeywordThreshold)
	}
	return PhraseGrammar(lines)
}
