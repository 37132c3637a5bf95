package sphinx

import (
	"fmt"
	"strings"
)

// Grammar is a finite-state word graph: states joined by arcs that carry a
// word or nothing (null arcs), from one start to one final state. Phrase
// lists and JSGF grammars both compile to it.
type Grammar struct {
	NumStates    int
	Start, Final int
	Arcs         []GrammarArc
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
