package sphinx

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrGrammar reports a grammar that cannot be compiled: empty, malformed,
// too large, or using words without a pronunciation.
var ErrGrammar = errors.New("sphinx: bad grammar")

// netNode is one phone HMM in the search network.
type netNode struct {
	sen  []uint16  // senone per emitting state
	tmat []float32 // log transitions, NumState rows of NumState+1
	next int32     // next phone of the word, or -1 at the word's end
	arc  int32     // word arc this phone belongs to; -1 in the phone loop
	tail bool      // trailing-silence node of an arc into the final state
}

type netArc struct {
	word    int32 // index into Network.words
	from    int32
	to      int32
	logProb float32
	first   int32 // first phone node
	tail    int32 // trailing silence node when the arc can end the utterance, else -1
	final   bool  // to reaches the final state through null arcs
	filler  bool
	keyword int32 // keyphrase this arc ends, or -1
	last    uint8 // the word's last phone: the left context it gives the next word
	// firstLC, when set, holds a copy of the first phone per left context
	// (indexed by CI phone, -1 where that context cannot occur), for words
	// that several different words can precede.
	firstLC []int32
}

// Network is a grammar compiled against a model: the phone HMMs of every
// word arc with their triphone contexts, silence loops at every state, a
// trailing silence per arc that can end the utterance (so N-best
// alternatives survive to the last frame), and a free CI phone loop that
// competes with the grammar to reject out-of-grammar speech. It is
// read-only once built and can be shared by many streams.
type Network struct {
	m       *Model
	words   []string
	nodes   []netNode
	arcs    []netArc
	out     [][]int32   // word arcs leaving each state (after null closure, see closure)
	closure [][]stateLP // states reachable from each state by null arcs, with log prob
	start   int32
	loop    []int32  // phone loop nodes
	senones []uint16 // every senone the network uses, for scoring ahead
	// keyphrases is set for a keyword list; kwFirst holds the first node
	// of every arc leaving the start state, re-entered at every frame.
	keyphrases []Keyphrase
	kwFirst    []int32
	nCI        int
}

type stateLP struct {
	state int32
	lp    float32
}

// Compile builds the search network of g for model m. Words missing from
// the dictionary are an error naming them.
func (m *Model) Compile(g *Grammar, cfg DecoderConfig) (*Network, error) {
	cfg = cfg.withDefaults()
	if g == nil || g.NumStates <= 0 || g.Start < 0 || g.Start >= g.NumStates || g.Final < 0 || g.Final >= g.NumStates {
		return nil, fmt.Errorf("compile grammar: bad start/final state: %w", ErrGrammar)
	}
	n := &Network{m: m, start: int32(g.Start), nCI: len(m.Mdef.CIPhones)}
	wordID := map[string]int32{}
	var missing []string
	type pron struct {
		word    int32
		phs     []uint8
		arc     GrammarArc
		first   uint8
		last    uint8
		keyword int32
	}
	kwOfArc := map[int]int32{}
	for i, k := range g.Keyphrases {
		kwOfArc[k.lastArc] = int32(i)
	}
	spotting := len(g.Keyphrases) > 0
	n.keyphrases = g.Keyphrases
	var prons []pron
	for ai, a := range g.Arcs {
		if a.From < 0 || a.From >= g.NumStates || a.To < 0 || a.To >= g.NumStates || a.LogProb > 0 || math.IsNaN(a.LogProb) {
			return nil, fmt.Errorf("compile grammar: arc %+v out of range: %w", a, ErrGrammar)
		}
		if a.Word == "" {
			continue
		}
		alts := m.Dict.Alternates(a.Word)
		if len(alts) == 0 {
			missing = append(missing, a.Word)
			continue
		}
		id, ok := wordID[a.Word]
		if !ok {
			id = int32(len(n.words))
			wordID[a.Word] = id
			n.words = append(n.words, a.Word)
		}
		kw, ok := kwOfArc[ai]
		if !ok {
			kw = -1
		}
		for _, p := range alts {
			prons = append(prons, pron{word: id, phs: p, arc: a, first: p[0], last: p[len(p)-1], keyword: kw})
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("compile grammar: %d words not in the dictionary (add them to it): %q: %w", len(missing), missing, ErrGrammar)
	}
	if len(prons) == 0 {
		return nil, fmt.Errorf("compile grammar: no words: %w", ErrGrammar)
	}
	// Null closure: which states each state reaches for free.
	nullOut := make([][]GrammarArc, g.NumStates)
	for _, a := range g.Arcs {
		if a.Word == "" {
			nullOut[a.From] = append(nullOut[a.From], a)
		}
	}
	n.closure = make([][]stateLP, g.NumStates)
	for s := range g.NumStates {
		best := map[int32]float32{int32(s): 0}
		queue := []int32{int32(s)}
		for len(queue) > 0 {
			q := queue[0]
			queue = queue[1:]
			for _, a := range nullOut[q] {
				lp := best[q] + float32(a.LogProb)
				if old, ok := best[int32(a.To)]; !ok || lp > old {
					best[int32(a.To)] = lp
					queue = append(queue, int32(a.To))
				}
			}
			if len(best) > g.NumStates {
				break
			}
		}
		for st, lp := range best {
			n.closure[s] = append(n.closure[s], stateLP{st, lp})
		}
		// Map order is random; a fixed order keeps ties, and so results,
		// reproducible from run to run.
		slices.SortFunc(n.closure[s], func(a, b stateLP) int { return int(a.state - b.state) })
	}
	reachesFinal := make([]bool, g.NumStates)
	for s := range g.NumStates {
		for _, c := range n.closure[s] {
			if int(c.state) == g.Final {
				reachesFinal[s] = true
			}
		}
	}
	// Cross-word contexts: the phone before a word is the last phone of the
	// words that can precede it when they all agree, otherwise silence;
	// likewise after it. Phrase lists, whose phrases are separate paths,
	// always agree.
	sil := m.Mdef.Sil
	lastInto := make([]int, g.NumStates) // -2 unset, -1 ambiguous
	firstFrom := make([]int, g.NumStates)
	for i := range lastInto {
		lastInto[i], firstFrom[i] = -2, -2
	}
	merge := func(cur *int, ph int) {
		switch {
		case *cur == -2:
			*cur = ph
		case *cur != ph:
			*cur = -1
		}
	}
	// lastSet is every phone that can end the word before a state; silence
	// can always come first (the start, or the silence loop).
	lastSet := make([]uint64, g.NumStates)
	for _, p := range prons {
		for _, c := range n.closure[p.arc.To] {
			merge(&lastInto[c.state], int(p.last))
			lastSet[c.state] |= 1 << p.last
		}
	}
	pronsFrom := make([][]int, g.NumStates)
	for i, p := range prons {
		pronsFrom[p.arc.From] = append(pronsFrom[p.arc.From], i)
	}
	for s := range g.NumStates {
		for _, c := range n.closure[s] {
			for _, i := range pronsFrom[c.state] {
				merge(&firstFrom[s], int(prons[i].first))
			}
		}
	}
	// An ambiguous context (-1) makes Phone pick the CI phone, which fits
	// every neighbour moderately, rather than a silence-context triphone
	// that fits none in connected speech.
	ctx := func(v int) int {
		if v == -2 {
			return sil
		}
		return v
	}
	used := map[uint16]bool{}
	addNode := func(phone int32, arc int32, tail bool) int32 {
		nd := netNode{sen: m.Mdef.senones(phone), tmat: m.tmatLog[m.Mdef.phoneTmat[phone]], next: -1, arc: arc, tail: tail}
		for _, s := range nd.sen {
			used[s] = true
		}
		n.nodes = append(n.nodes, nd)
		return int32(len(n.nodes) - 1)
	}
	n.out = make([][]int32, g.NumStates)
	addArc := func(word int32, from, to int, lp float32, phs []uint8, filler bool, keyword int32) {
		ai := int32(len(n.arcs))
		a := netArc{word: word, from: int32(from), to: int32(to), logProb: lp, tail: -1, final: reachesFinal[to] && !spotting, filler: filler, keyword: keyword}
		left := sil
		if from != g.Start {
			left = ctx(lastInto[from])
		}
		right := sil
		if !reachesFinal[to] || firstFrom[to] >= 0 {
			right = ctx(firstFrom[to])
		}
		a.last = phs[len(phs)-1]
		prev := int32(-1)
		for i, ph := range phs {
			pos := PosInternal
			l, r := -1, -1
			switch {
			case len(phs) == 1:
				pos, l, r = PosSingle, left, right
			case i == 0:
				pos, l, r = PosBegin, left, int(phs[1])
			case i == len(phs)-1:
				pos, l, r = PosEnd, int(phs[i-1]), right
			default:
				l, r = int(phs[i-1]), int(phs[i+1])
			}
			id := addNode(m.Mdef.Phone(int(ph), l, r, pos), ai, false)
			if prev < 0 {
				a.first = id
			} else {
				n.nodes[prev].next = id
			}
			prev = id
		}
		// Where different words meet, give the first phone one copy per
		// left context instead of the CI phone, as pocketsphinx's lexicon
		// tree does; the copies share the rest of the word.
		if set := lastSet[from] | 1<<uint(sil); !spotting && !filler && from != g.Start && lastInto[from] == -1 && len(m.Mdef.CIPhones) <= 64 {
			a.firstLC = make([]int32, len(m.Mdef.CIPhones))
			for lc := range a.firstLC {
				a.firstLC[lc] = -1
				if set&(1<<uint(lc)) == 0 {
					continue
				}
				pos, r := PosBegin, 0
				if len(phs) == 1 {
					pos, r = PosSingle, right
				} else {
					r = int(phs[1])
				}
				id := addNode(m.Mdef.Phone(int(phs[0]), lc, r, pos), ai, false)
				n.nodes[id].next = n.nodes[a.first].next
				a.firstLC[lc] = id
			}
		}
		if a.final {
			a.tail = addNode(int32(sil), ai, true)
		}
		n.arcs = append(n.arcs, a)
		n.out[from] = append(n.out[from], ai)
	}
	for _, p := range prons {
		addArc(p.word, p.arc.From, p.arc.To, float32(p.arc.LogProb), p.phs, false, p.keyword)
		if spotting && p.arc.From == g.Start {
			n.kwFirst = append(n.kwFirst, n.arcs[len(n.arcs)-1].first)
		}
	}
	// Optional silence at every state but the final one (tails cover it).
	silWord := int32(len(n.words))
	n.words = append(n.words, "<sil>")
	for s := range g.NumStates {
		if s != g.Final && len(n.out[s]) > 0 && !spotting {
			addArc(silWord, s, s, float32(cfg.SilenceLogProb), []uint8{uint8(sil)}, true, -1)
		}
	}
	// The free phone loop, over every CI phone.
	for ph := range m.Mdef.CIPhones {
		n.loop = append(n.loop, addNode(int32(ph), -1, false))
	}
	for s := range used {
		n.senones = append(n.senones, s)
	}
	return n, nil
}

// Words returns the grammar's vocabulary (plus "<sil>").
func (n *Network) Words() []string { return n.words }
