package sphinx

import (
	"math"
	"sort"
	"strings"
)

// DecoderConfig tunes the search. Scores are natural-log likelihoods; the
// zero value gives the defaults documented per field, which were tuned on
// pocketsphinx-testdata and espeak-ng/flite telephone phrases (see
// docs/asr-report.md).
type DecoderConfig struct {
	// BeamNats prunes HMMs scoring worse than the frame's best by more than
	// this; zero means 120.
	BeamNats float64
	// LoopBeamNats prunes the phone loop against its own best; it is kept
	// narrow because the loop only measures the best free phone string,
	// and every CI phone it keeps alive costs a codebook; zero means 50.
	LoopBeamNats float64
	// WordBeamNats prunes word exits likewise; zero means 80.
	WordBeamNats float64
	// WordLogProb is added at each word exit (an insertion penalty); zero
	// means −5.
	WordLogProb float64
	// SilenceLogProb is the log probability of taking an optional silence
	// between words; zero means −5.
	SilenceLogProb float64
	// PhoneLoopLogProb is added at each phone of the free phone loop that
	// out-of-grammar speech is measured against; zero means −6.
	PhoneLoopLogProb float64
	// RejectMargin is how far, in nats per frame of speech (frames in
	// words, not silence), the best grammar path may fall behind the free
	// phone loop before the result is rejected (empty text): speech outside
	// the grammar fits the phone loop far better than any phrase. Zero
	// means 2.5: on the docs/asr-report.md set it rejects 22 of 30
	// out-of-grammar phrases and no correctly recognised one (correct
	// answers measured −2.5 to +2.1, out-of-grammar −9.7 to −0.7).
	// Negative disables rejection.
	RejectMargin float64
	// TopN Gaussians per codebook and stream; zero means DefaultTopN.
	TopN int
	// MaxAlternatives bounds the N-best list; zero means 5.
	MaxAlternatives int
}

func (c DecoderConfig) withDefaults() DecoderConfig {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.BeamNats, 120)
	def(&c.WordBeamNats, 80)
	def(&c.LoopBeamNats, 50)
	def(&c.WordLogProb, -5)
	def(&c.SilenceLogProb, -5)
	def(&c.PhoneLoopLogProb, -6)
	def(&c.RejectMargin, 2.5)
	if c.TopN <= 0 {
		c.TopN = DefaultTopN
	}
	if c.MaxAlternatives <= 0 {
		c.MaxAlternatives = 5
	}
	return c
}

var negInf = math.Inf(-1)

type backpointer struct {
	word  int32
	frame int32
	prev  int32
	score float64
}

// Hypothesis is one decoding of an utterance.
type Hypothesis struct {
	Text string
	// Score is the path's log-likelihood; Margin its per-frame advantage
	// over the free phone loop (negative: the phone loop fits better).
	Score, Margin float64
	// Confidence in [0, 1] from Margin.
	Confidence float64
	// Frames is the utterance length in 10 ms frames.
	Frames int
}

// Decoder runs the Viterbi beam search of one utterance at a time over a
// Network. It owns its buffers: one per stream, not safe for concurrent use.
type Decoder struct {
	net *Network
	cfg DecoderConfig
	sc  *Scorer
	ns  int // emitting states per phone

	st      []float64 // node*ns + state
	bp      []int32
	entry   []float64
	entryBP []int32
	active  []bool
	list    []int32
	next    []int32
	exit    []float64
	exitBP  []int32

	// stateCand and stateBP are per grammar state and left context (the
	// last phone of the word that led there): net.nCI entries per state.
	stateCand []float64
	stateBP   []int32
	dirty     []int32   // entries of stateCand set this frame
	finalSc   []float64 // per arc: score of ending the utterance there, at the current frame
	finalBP   []int32
	bps       []backpointer
	loopBest  float64
	frame     int
	words     []string

	// Keyword spotting: detections of this utterance, and per keyphrase
	// the index of its latest detection (-1 for none).
	detections []Detection
	kwLast     []int
}

// Detection is a keyphrase spotted in the audio.
type Detection struct {
	Text string
	// Score is how far, in nats, the keyphrase path beat the free phone
	// loop over the same audio; it exceeded the phrase's LogThreshold.
	Score float64
	// EndFrame is the 10 ms frame where the phrase ended.
	EndFrame int
}

// kwMergeFrames joins detections of one phrase closer than this: the exit
// score stays above threshold for a few frames around the true end.
const kwMergeFrames = 30

// NewDecoder returns a decoder for net; cheap next to loading the model.
func NewDecoder(net *Network, cfg DecoderConfig) *Decoder {
	cfg = cfg.withDefaults()
	ns := net.m.Mdef.NumState
	nn := len(net.nodes)
	d := &Decoder{net: net, cfg: cfg, sc: NewScorer(net.m, cfg.TopN), ns: ns,
		st: make([]float64, nn*ns), bp: make([]int32, nn*ns), entry: make([]float64, nn), entryBP: make([]int32, nn),
		active: make([]bool, nn), list: make([]int32, 0, nn), next: make([]int32, 0, nn), exit: make([]float64, nn), exitBP: make([]int32, nn),
		stateCand: make([]float64, len(net.closure)*net.nCI), stateBP: make([]int32, len(net.closure)*net.nCI),
		finalSc: make([]float64, len(net.arcs)), finalBP: make([]int32, len(net.arcs)), bps: make([]backpointer, 0, 256)}
	d.Reset()
	return d
}

// Reset starts a new utterance.
func (d *Decoder) Reset() {
	for i := range d.st {
		d.st[i] = negInf
	}
	for i := range d.entry {
		d.entry[i] = negInf
		d.active[i] = false
	}
	d.list = d.list[:0]
	d.bps = d.bps[:0]
	d.frame = 0
	for i := range d.finalSc {
		d.finalSc[i] = negInf
	}
	for i := range d.stateCand {
		d.stateCand[i] = negInf
	}
	d.dirty = d.dirty[:0]
	d.enterState(d.net.start, 0, -1, uint8(d.net.m.Mdef.Sil))
	d.flushStates()
	d.detections = d.detections[:0]
	if d.kwLast == nil {
		d.kwLast = make([]int, len(d.net.keyphrases))
	}
	for i := range d.kwLast {
		d.kwLast[i] = -1
	}
	for _, l := range d.net.loop {
		d.activate(l, 0, -1)
	}
	d.loopBest = negInf
}

// Frames returns the number of frames decoded in this utterance.
func (d *Decoder) Frames() int { return d.frame }

func (d *Decoder) activate(node int32, score float64, bp int32) {
	if score > d.entry[node] {
		d.entry[node] = score
		d.entryBP[node] = bp
	}
	if !d.active[node] {
		d.active[node] = true
		d.list = append(d.list, node)
	}
}

// enterState lands a path on grammar state s (and all it reaches by null
// arcs), having just heard phone last.
func (d *Decoder) enterState(s int32, score float64, bp int32, last uint8) {
	for _, c := range d.net.closure[s] {
		i := int(c.state)*d.net.nCI + int(last)
		v := score + float64(c.lp)
		if v <= d.stateCand[i] {
			continue
		}
		if d.stateCand[i] == negInf {
			d.dirty = append(d.dirty, int32(i))
		}
		d.stateCand[i] = v
		d.stateBP[i] = bp
	}
}

// flushStates enters the word arcs leaving every state a path landed on,
// each at the copy of its first phone for the left context it came with.
func (d *Decoder) flushStates() {
	for _, i := range d.dirty {
		v := d.stateCand[i]
		s, lc := int(i)/d.net.nCI, int(i)%d.net.nCI
		for _, ai := range d.net.out[s] {
			a := &d.net.arcs[ai]
			first := a.first
			if a.firstLC != nil && a.firstLC[lc] >= 0 {
				first = a.firstLC[lc]
			}
			d.activate(first, v+float64(a.logProb), d.stateBP[i])
		}
		d.stateCand[i] = negInf
	}
	d.dirty = d.dirty[:0]
}

// Step decodes one feature vector.
func (d *Decoder) Step(feat []float32) {
	d.sc.SetFrame(feat)
	ns := d.ns
	// The phone loop is pruned against its own best: it is a yardstick
	// for the grammar, and in-grammar speech can leave it far behind.
	best, loopBest := negInf, negInf
	for _, n := range d.list {
		nd := &d.net.nodes[n]
		st := d.st[int(n)*ns : int(n)*ns+ns]
		bp := d.bp[int(n)*ns : int(n)*ns+ns]
		t := nd.tmat
		// Update states from last to first so each reads the previous
		// frame's scores of the states before it.
		for j := ns - 1; j >= 0; j-- {
			b, bb := negInf, int32(-1)
			for i := 0; i <= j; i++ {
				if v := st[i] + float64(t[i*(ns+1)+j]); v > b {
					b, bb = v, bp[i]
				}
			}
			if j == 0 && d.entry[n] > b {
				b, bb = d.entry[n], d.entryBP[n]
			}
			if b > negInf {
				b += float64(d.sc.Senone(int(nd.sen[j])))
			}
			st[j], bp[j] = b, bb
			if nd.arc < 0 {
				loopBest = max(loopBest, b)
			} else {
				best = max(best, b)
			}
		}
		d.entry[n] = negInf
	}
	// Prune, then compute exits of the survivors.
	d.next = d.next[:0]
	for _, n := range d.list {
		thresh := best - d.cfg.BeamNats
		if d.net.nodes[n].arc < 0 {
			thresh = loopBest - d.cfg.LoopBeamNats
		}
		st := d.st[int(n)*ns : int(n)*ns+ns]
		alive := false
		ex, exBP := negInf, int32(-1)
		t := d.net.nodes[n].tmat
		for i, v := range st {
			if v < thresh {
				st[i] = negInf
				continue
			}
			alive = true
			if e := v + float64(t[i*(ns+1)+ns]); e > ex {
				ex, exBP = e, d.bp[int(n)*ns+i]
			}
		}
		if alive {
			d.next = append(d.next, n)
		} else {
			d.active[n] = false
		}
		d.exit[n], d.exitBP[n] = ex, exBP
	}
	d.list, d.next = d.next, d.list
	for i := range d.finalSc {
		d.finalSc[i] = negInf
	}
	// Propagate exits; activate appends to d.list, so walk a snapshot.
	wthresh := best - d.cfg.WordBeamNats
	loopEntry := negInf
	d.loopBest = negInf
	n0 := len(d.list)
	for k := 0; k < n0; k++ {
		n := d.list[k]
		ex := d.exit[n]
		if ex == negInf {
			continue
		}
		nd := &d.net.nodes[n]
		switch {
		case nd.arc < 0: // phone loop
			d.loopBest = max(d.loopBest, ex)
			loopEntry = max(loopEntry, ex)
		case nd.tail:
			if ex > d.finalSc[nd.arc] {
				d.finalSc[nd.arc], d.finalBP[nd.arc] = ex, d.exitBP[n]
			}
			d.activate(n, ex, d.exitBP[n])
		case nd.next >= 0:
			d.activate(nd.next, ex, d.exitBP[n])
		default:
			if ex < wthresh {
				continue
			}
			a := &d.net.arcs[nd.arc]
			if a.keyword >= 0 {
				d.spotted(int(a.keyword), ex-loopBest)
			}
			if !a.filler {
				ex += d.cfg.WordLogProb
			}
			d.bps = append(d.bps, backpointer{word: a.word, frame: int32(d.frame), prev: d.exitBP[n], score: ex})
			bpi := int32(len(d.bps) - 1)
			if a.final {
				if ex > d.finalSc[nd.arc] {
					d.finalSc[nd.arc], d.finalBP[nd.arc] = ex, bpi
				}
				d.activate(a.tail, ex, bpi)
			}
			d.enterState(a.to, ex, bpi, a.last)
		}
	}
	if loopEntry > negInf {
		for _, l := range d.net.loop {
			d.activate(l, loopEntry+d.cfg.PhoneLoopLogProb, -1)
		}
		// Keyphrases may start anywhere: wherever the phone loop is.
		for _, f := range d.net.kwFirst {
			d.activate(f, loopEntry+d.cfg.PhoneLoopLogProb, -1)
		}
	}
	d.flushStates()
	d.frame++
}

// words appends the words of the path ending in bp, oldest first, skipping
// fillers.
func (d *Decoder) text(bp int32) string {
	d.words = d.words[:0]
	for bp >= 0 {
		b := d.bps[bp]
		if w := d.net.words[b.word]; !strings.HasPrefix(w, "<") && !strings.HasPrefix(w, "[") {
			d.words = append(d.words, w)
		}
		bp = b.prev
	}
	for i, j := 0, len(d.words)-1; i < j; i, j = i+1, j-1 {
		d.words[i], d.words[j] = d.words[j], d.words[i]
	}
	return strings.Join(d.words, " ")
}

// spotted records keyphrase k ending now with score (nats over the phone
// loop) when it passes the phrase's threshold.
func (d *Decoder) spotted(k int, score float64) {
	kp := d.net.keyphrases[k]
	if score < kp.LogThreshold {
		return
	}
	if i := d.kwLast[k]; i >= 0 && d.frame-d.detections[i].EndFrame < kwMergeFrames {
		if score > d.detections[i].Score {
			d.detections[i].Score, d.detections[i].EndFrame = score, d.frame
		}
		return
	}
	d.kwLast[k] = len(d.detections)
	d.detections = append(d.detections, Detection{Text: kp.Text, Score: score, EndFrame: d.frame})
}

// Detections returns the keyphrases spotted in this utterance so far, in
// the order they were first heard; the slice is reused after Reset.
func (d *Decoder) Detections() []Detection { return d.detections }

// Spotting reports whether the network is a keyword list.
func (d *Decoder) Spotting() bool { return len(d.net.keyphrases) > 0 }

// speechFrames counts the frames the path ending in bp spends in words.
func (d *Decoder) speechFrames(bp int32) int {
	n := 0
	for bp >= 0 {
		b := d.bps[bp]
		start := int32(-1)
		if b.prev >= 0 {
			start = d.bps[b.prev].frame
		}
		if w := d.net.words[b.word]; !strings.HasPrefix(w, "<") && !strings.HasPrefix(w, "[") {
			n += int(b.frame - start)
		}
		bp = b.prev
	}
	return n
}

// Partial returns the words of the best path so far; for a keyword list,
// the latest keyphrase spotted.
func (d *Decoder) Partial() string {
	if d.Spotting() {
		if len(d.detections) == 0 {
			return ""
		}
		return d.detections[len(d.detections)-1].Text
	}
	best, bbp := negInf, int32(-1)
	ns := d.ns
	for _, n := range d.list {
		if d.net.nodes[n].arc < 0 {
			continue
		}
		for i := range ns {
			if v := d.st[int(n)*ns+i]; v > best {
				best, bbp = v, d.bp[int(n)*ns+i]
			}
		}
	}
	if bbp < 0 {
		return ""
	}
	return d.text(bbp)
}

// Final returns the N-best hypotheses that end the utterance at the last
// decoded frame, best first; the first is rejected (empty Text, zero
// confidence) when the phone loop beats it by more than RejectMargin per
// frame. It allocates, once per utterance.
func (d *Decoder) Final() []Hypothesis {
	var hyps []Hypothesis
	if d.Spotting() {
		// A keyword list's answer is what was spotted, best first (a phrase
		// spotted twice counts once, with its first, usually best, score);
		// nothing spotted is an empty result.
		seen := map[string]bool{}
		for _, det := range d.detections {
			if seen[det.Text] {
				continue
			}
			seen[det.Text] = true
			th := d.net.keyphrases[d.kwIndex(det.Text)].LogThreshold
			hyps = append(hyps, Hypothesis{Text: det.Text, Score: det.Score, Frames: d.frame,
				Confidence: 1 / (1 + math.Exp(-(det.Score-th)/10))})
		}
		sort.SliceStable(hyps, func(i, j int) bool { return hyps[i].Score > hyps[j].Score })
		if len(hyps) == 0 {
			hyps = append(hyps, Hypothesis{Frames: d.frame})
		}
		return hyps
	}
	seen := map[string]bool{}
	type cand struct {
		score float64
		bp    int32
	}
	var cands []cand
	for a, s := range d.finalSc {
		if s > negInf {
			cands = append(cands, cand{s, d.finalBP[a]})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	for _, c := range cands {
		// The margin is spread over the frames the path spends in words,
		// not in silence, where grammar and phone loop agree: otherwise the
		// same answer would look better with more silence around it.
		frames := max(d.speechFrames(c.bp), 10)
		txt := d.text(c.bp)
		if seen[txt] {
			continue
		}
		seen[txt] = true
		h := Hypothesis{Text: txt, Score: c.score, Frames: d.frame}
		if d.loopBest > negInf {
			h.Margin = (c.score - d.loopBest) / float64(frames)
		}
		h.Confidence = d.confidence(h.Margin)
		hyps = append(hyps, h)
		if len(hyps) == d.cfg.MaxAlternatives {
			break
		}
	}
	if len(hyps) > 0 && d.cfg.RejectMargin > 0 && hyps[0].Margin < -d.cfg.RejectMargin {
		hyps = append([]Hypothesis{{Frames: d.frame, Margin: hyps[0].Margin, Score: d.loopBest}}, hyps...)
	}
	return hyps
}

func (d *Decoder) kwIndex(text string) int {
	for i, k := range d.net.keyphrases {
		if k.Text == text {
			return i
		}
	}
	return 0
}

// confidence maps the per-frame margin to [0, 1]: 0.5 at the rejection
// threshold, 0.99 when the grammar path fits as well as the phone loop.
func (d *Decoder) confidence(margin float64) float64 {
	centre := d.cfg.RejectMargin
	if centre <= 0 {
		centre = 2.5
	}
	return 1 / (1 + math.Exp(-2*(margin+centre)))
}
