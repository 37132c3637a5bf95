package sphinx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Grammar is a finite-state word graph: states joined by arcs that carry a
// word or nothing (null arcs), from one start to one final state. Phrase
// lists and JSGF grammars both compile to it.
type Grammar struct {
	NumStates    int
	Start, Final int
	Arcs         []GrammarArc
	// Keyphrases, when set, make the grammar a keyword list: the search
	// spots each phrase anywhere in the audio instead of matching the
	// whole utterance (see KeywordGrammar).
	Keyphrases []Keyphrase
}

// Keyphrase is one phrase to spot and its detection threshold.
type Keyphrase struct {
	Text string
	// LogThreshold is the natural log of the threshold: the phrase is
	// reported when its path beats the free phone loop over the same audio
	// by more than this many nats (pocketsphinx's "/1e-20/" is ln 1e-20).
	LogThreshold float64
	lastArc      int
}

// GrammarArc goes from state From to state To reading Word ("" for a null
// arc) with log probability LogProb (≤ 0).
type GrammarArc struct {
	From, To int
	Word     string
	LogProb  float64
}

// maxPhraseWords bounds a phrase so a pasted paragraph cannot make a
// network of millions of nodes.
const maxPhraseWords = 64

// PhraseGrammar builds a grammar accepting exactly one of phrases, each a
// line of words; blank lines and lines starting with "#" are skipped, case
// and surrounding punctuation are ignored. Each phrase is its own path, so
// its words keep their exact cross-word contexts.
func PhraseGrammar(phrases []string) (*Grammar, error) {
	g := &Grammar{NumStates: 2, Start: 0, Final: 1}
	n := 0
	for _, p := range phrases {
		words := normaliseWords(p)
		if len(words) == 0 || strings.HasPrefix(strings.TrimSpace(p), "#") {
			continue
		}
		if len(words) > maxPhraseWords {
			return nil, fmt.Errorf("phrase %q has %d words, at most %d: %w", p, len(words), maxPhraseWords, ErrGrammar)
		}
		n++
		from := g.Start
		for i, w := range words {
			to := g.Final
			if i < len(words)-1 {
				to = g.NumStates
				g.NumStates++
			}
			g.Arcs = append(g.Arcs, GrammarArc{From: from, To: to, Word: w})
			from = to
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no phrases: %w", ErrGrammar)
	}
	return g, nil
}

// normaliseWords lower-cases a phrase and splits it into words, dropping
// punctuation around them (but keeping apostrophes inside, as in "don't").
func normaliseWords(p string) []string {
	f := strings.FieldsFunc(strings.ToLower(p), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'' || r == '-' || r == '_' || r >= 0x80)
	})
	out := f[:0]
	for _, w := range f {
		if w = strings.Trim(w, "'-_"); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// KeywordGrammar builds a keyword list from lines in pocketsphinx's -kws
// format, "phrase /threshold/"; a line without a threshold uses
// defaultThreshold (a probability ratio such as 1e-20). Blank lines and
// "#" comments are skipped.
func KeywordGrammar(lines []string, defaultThreshold float64) (*Grammar, error) {
	g := &Grammar{NumStates: 2, Start: 0, Final: 1}
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		th := defaultThreshold
		if j := strings.Index(line, "/"); j >= 0 {
			k := strings.LastIndex(line, "/")
			var v float64
			err := ErrGrammar
			if k > j {
				v, err = strconv.ParseFloat(strings.TrimSpace(line[j+1:k]), 64)
			}
			if err != nil || v <= 0 || strings.TrimSpace(line[k+1:]) != "" {
				return nil, fmt.Errorf("keyword line %d %q: want \"phrase /threshold/\" with a positive threshold: %w", i+1, line, ErrGrammar)
			}
			th, line = v, line[:j]
		}
		words := normaliseWords(line)
		if len(words) == 0 || len(words) > maxPhraseWords {
			return nil, fmt.Errorf("keyword line %d %q: no words or too many: %w", i+1, line, ErrGrammar)
		}
		from := g.Start
		for wi, w := range words {
			to := g.Final
			if wi < len(words)-1 {
				to = g.NumStates
				g.NumStates++
			}
			g.Arcs = append(g.Arcs, GrammarArc{From: from, To: to, Word: w})
			from = to
		}
		g.Keyphrases = append(g.Keyphrases, Keyphrase{Text: strings.Join(words, " "), LogThreshold: math.Log(th), lastArc: len(g.Arcs) - 1})
	}
	if len(g.Keyphrases) == 0 {
		return nil, fmt.Errorf("no keyphrases: %w", ErrGrammar)
	}
	return g, nil
}

// isKeywordList reports whether every non-blank line ends in /number/.
func isKeywordList(lines []string) bool {
	n := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.HasSuffix(l, "/") || strings.Count(l, "/") < 2 {
			return false
		}
		n++
	}
	return n > 0
}
