package dsp

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// This file builds labelled VAD test material: utterances separated by
// known silences, labels computed on the clean signal, and noise mixed at a
// chosen SNR. The CI test and the eval report share it.

const sphinxData = "/usr/share/pocketsphinx/test/data"

// vadLabelDB: a frame is labelled speech when its clean energy is within
// this many dB of the loudest frame of its utterance (and clear of the
// recording's background, see assemble).
const vadLabelDB = 30.0

// vadBridgeFrames: labelled runs closer than this (200 ms) form one speech
// segment: stop closures and short pauses inside a phrase are part of the
// utterance for an endpointer, which must not cut a turn there.
const vadBridgeFrames = 10

// vadUtterance is one clean utterance at 8 kHz, normalised in level.
type vadUtterance struct {
	name    string
	samples []int16
}

type espeakUtt struct{ voice, text string }

var vadEspeakCI = []espeakUtt{
	{"en-us", "hello, this is a call about your account, do you have a minute?"},
	{"en-gb", "would you like to hear about our new offer today?"},
	{"en+f3", "please say yes or no after the tone."},
	{"en+m3", "we could not reach you yesterday, so we are trying again."},
	{"cmn", "你好，请问您现在方便接听电话吗？"},
}

// babble sources are never in the speech corpus they are mixed with.
var vadBabbleSources = []espeakUtt{
	{"en-us", "the quick brown fox jumps over the lazy dog near the river bank"},
	{"en-gb", "she sells sea shells by the sea shore every summer morning"},
	{"en+f2", "a large number of people gathered in the square to watch the parade"},
	{"en+m2", "the committee will meet again next week to discuss the budget"},
	{"de", "guten tag, wie geht es ihnen heute, das wetter ist schön"},
	{"fr", "bonjour, je voudrais réserver une table pour deux personnes ce soir"},
	{"es", "el tren de la mañana sale a las ocho y media desde la estación"},
}

var vadSphinxCI = []string{"goforward.raw", "numbers.raw", "cards/001.wav", "cards/005.wav"}

func espeakUtterances(t testing.TB, list []espeakUtt) []vadUtterance {
	testaudio.Need(t, "espeak-ng")
	testaudio.Need(t, "sox")
	var out []vadUtterance
	for _, u := range list {
		out = append(out, vadUtterance{name: "espeak " + u.voice,
			samples: normaliseActive(testaudio.Espeak(t, u.voice, []string{"-s", "160"}, u.text))})
	}
	return out
}

// sphinxUtterances reads pocketsphinx-testdata recordings (16 kHz) and
// downsamples them to 8 kHz with this package's Resampler.
func sphinxUtterances(t testing.TB, files []string) []vadUtterance {
	if _, err := os.Stat(sphinxData); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pocketsphinx-testdata not installed at %s", sphinxData)
		}
		t.Skipf("pocketsphinx-testdata not installed at %s", sphinxData)
	}
	var out []vadUtterance
	for _, f := range files {
		path := filepath.Join(sphinxData, f)
		var x16 []int16
		if strings.HasSuffix(f, ".raw") {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			x16 = make([]int16, len(b)/2)
			for i := range x16 {
				x16[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
		} else {
			x, rate, err := testaudio.ReadWAV(path)
			if err != nil {
				t.Fatal(err)
			}
			if rate != 16000 {
				t.Fatalf("%s: %d Hz, want 16000", f, rate)
			}
			x16 = x
		}
		r, err := NewResampler(ResamplerConfig{InRate: 16000, OutRate: 8000})
		if err != nil {
			t.Fatal(err)
		}
		x8 := make([]int16, r.MaxOut(len(x16)))
		x8 = x8[:r.Process(x8, x16)]
		out = append(out, vadUtterance{name: "sphinx " + f, samples: normaliseActive(x8)})
	}
	return out
}

// normaliseActive scales x so its active level is −26 dBFS (ITU-T P.56's
// nominal level) and the corpus mixes utterances on an equal footing.
func normaliseActive(x []int16) []int16 {
	p := testaudio.ActivePower(x)
	if p <= 0 {
		return x
	}
	target := 32768 * 32768 * math.Pow(10, -26.0/10)
	return testaudio.Scale(x, 10*math.Log10(target/p))
}

// vadMix is one test signal with per-frame labels.
type vadMix struct {
	clean, noisy []int16
	label        []bool // per 20 ms frame: clean energy within labelDB of the utterance peak
	bridged      []bool // label with pauses shorter than vadBridgeFrames filled
	segs         [][2]int
}

// frameDB returns the per-20 ms-frame energies of x in dB.
func frameDB(x []int16) []float64 {
	var e []float64
	for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
		e = append(e, EnergyDBFS(x[i:i+FrameSamples]))
	}
	return e
}

// assemble lays the utterances out with silences of 0.6–1.5 s (1 s before
// the first) and labels frames by clean energy relative to each utterance's
// peak.
func assemble(utts []vadUtterance, labelDB float64, rng *rand.Rand) vadMix {
	var m vadMix
	pad := func(n int) {
		n -= n % FrameSamples
		m.clean = append(m.clean, make([]int16, n)...)
		m.label = append(m.label, make([]bool, n/FrameSamples)...)
	}
	pad(8000)
	for _, u := range utts {
		x := u.samples
		if r := len(x) % FrameSamples; r != 0 {
			x = append(slices.Clone(x), make([]int16, FrameSamples-r)...)
		}
		e := frameDB(x)
		sorted := slices.Clone(e)
		slices.Sort(sorted)
		// A recording's own background (room tone, codec noise) is not
		// speech however close to the peak it is: frames must also stand
		// 6 dB over its 5th-percentile frame. Synthetic speech has digital
		// silence there, so only recordings are affected.
		thr := max(sorted[len(sorted)-1]-labelDB, sorted[len(sorted)/20]+6)
		for _, v := range e {
			m.label = append(m.label, v >= thr)
		}
		m.clean = append(m.clean, x...)
		pad(4800 + rng.IntN(7200))
	}
	m.segs = labelSegments(m.label, vadBridgeFrames)
	m.bridged = make([]bool, len(m.label))
	for _, sg := range m.segs {
		for f := sg[0]; f < sg[1]; f++ {
			m.bridged[f] = true
		}
	}
	return m
}

// labelSegments returns [start, end) frame runs of speech, joining runs
// separated by fewer than gap frames (pauses inside an utterance).
func labelSegments(label []bool, gap int) [][2]int {
	var segs [][2]int
	for i := 0; i < len(label); i++ {
		if !label[i] {
			continue
		}
		j := i
		for j < len(label) && label[j] {
			j++
		}
		if n := len(segs); n > 0 && i-segs[n-1][1] < gap {
			segs[n-1][1] = j
		} else {
			segs = append(segs, [2]int{i, j})
		}
		i = j
	}
	return segs
}

// speechPower is the mean power of the labelled speech frames of m.clean.
func (m *vadMix) speechPower() float64 {
	var s float64
	n := 0
	for f, l := range m.label {
		if !l {
			continue
		}
		for _, v := range m.clean[f*FrameSamples : (f+1)*FrameSamples] {
			s += float64(v) * float64(v)
		}
		n += FrameSamples
	}
	return s / float64(max(n, 1))
}

// babbleNoise sums the babble sources, trimmed of leading and trailing
// silence so each talker talks continuously, with random offsets, looping
// each to length n, and returns unit-power noise.
func babbleNoise(srcs []vadUtterance, n int, rng *rand.Rand) []float64 {
	out := make([]float64, n)
	for _, s := range srcs {
		x := trimSilence(s.samples)
		off := rng.IntN(len(x))
		for i := range out {
			out[i] += float64(x[(off+i)%len(x)])
		}
	}
	var p float64
	for _, v := range out {
		p += v * v
	}
	p = math.Sqrt(p / float64(n))
	for i := range out {
		out[i] /= p
	}
	return out
}

// trimSilence drops the frames before the first and after the last frame
// within 40 dB of the loudest.
func trimSilence(x []int16) []int16 {
	e := frameDB(x)
	if len(e) == 0 {
		return x
	}
	peak := slices.Max(e)
	first, last := 0, len(e)-1
	for first < last && e[first] < peak-40 {
		first++
	}
	for last > first && e[last] < peak-40 {
		last--
	}
	return x[first*FrameSamples : (last+1)*FrameSamples]
}

// addNoise mixes unit-power noise into m.clean at snrDB relative to the
// labelled speech power.
func (m *vadMix) addNoise(noise []float64, snrDB float64) {
	g := math.Sqrt(m.speechPower() / math.Pow(10, snrDB/10))
	m.noisy = make([]int16, len(m.clean))
	for i, v := range m.clean {
		m.noisy[i] = clip16(float64(v) + g*noise[i])
	}
}

func makeNoise(t testing.TB, kind string, n int, babble []vadUtterance, rng *rand.Rand) []float64 {
	if kind == "babble" {
		return babbleNoise(babble, n, rng)
	}
	x, err := testaudio.Noise(kind, n, rng.Int64())
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// vadCounts are frame counts of one decision stream against one labelling.
type vadCounts struct{ tp, fp, fn int }

func (c *vadCounts) count(decided, label []bool) {
	for f, l := range label {
		switch d := decided[f]; {
		case d && l:
			c.tp++
		case d && !l:
			c.fp++
		case !d && l:
			c.fn++
		}
	}
}

func (c *vadCounts) add(o vadCounts) { c.tp += o.tp; c.fp += o.fp; c.fn += o.fn }

func (c vadCounts) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c vadCounts) recall() float64    { return ratio(c.tp, c.tp+c.fn) }

// vadScore is the outcome of VAD runs over labelled mixes.
type vadScore struct {
	// raw per-frame decisions against the per-frame energy labels.
	raw vadCounts
	// active: the smoothed state, frame by frame, against the bridged labels.
	active vadCounts
	// seg: frames between each SpeechStart and SpeechEnd position (what an
	// endpointer hands on), against the bridged labels.
	seg vadCounts
	// backfilled: Active plus the frames from each SpeechStart's
	// EventSample to the frame that reported it (a consumer that buffers
	// MinSpeech of audio has them), against the bridged labels.
	backfilled           vadCounts
	startErrMs, endErrMs []float64
	segments, missed     int
}

func (s *vadScore) add(o vadScore) {
	s.raw.add(o.raw)
	s.active.add(o.active)
	s.seg.add(o.seg)
	s.backfilled.add(o.backfilled)
	s.startErrMs = append(s.startErrMs, o.startErrMs...)
	s.endErrMs = append(s.endErrMs, o.endErrMs...)
	s.segments += o.segments
	s.missed += o.missed
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// runVAD runs a fresh VAD over m.noisy and scores it against the labels.
func runVAD(t testing.TB, m *vadMix, cfg VADConfig) vadScore {
	v, err := NewVAD(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return runVADOn(m, v)
}

// runVADOn runs v over m.noisy and scores it against the labels.
func runVADOn(m *vadMix, v *VAD) vadScore {
	n := len(m.label)
	raw, active, seg, back := make([]bool, n), make([]bool, n), make([]bool, n), make([]bool, n)
	var starts, ends []int64
	for f := range n {
		r := v.Process(m.noisy[f*FrameSamples : (f+1)*FrameSamples])
		switch r.Event {
		case SpeechStart:
			starts = append(starts, r.EventSample)
			for g := r.EventSample / FrameSamples; g < int64(f); g++ {
				back[g] = true
			}
		case SpeechEnd:
			ends = append(ends, r.EventSample)
		}
		raw[f], active[f] = r.Speech, r.Active
		back[f] = back[f] || r.Active
	}
	if len(ends) < len(starts) {
		ends = append(ends, int64(n*FrameSamples))
	}
	for i, st := range starts {
		for f := st / FrameSamples; f < (ends[i]+FrameSamples-1)/FrameSamples && f < int64(n); f++ {
			seg[f] = true
		}
	}
	var s vadScore
	s.raw.count(raw, m.label)
	s.active.count(active, m.bridged)
	s.seg.count(seg, m.bridged)
	s.backfilled.count(back, m.bridged)
	// Timing: for segments with at least 500 ms of unlabelled audio before
	// (after) them, the nearest SpeechStart (SpeechEnd) within 500 ms.
	nearest := func(ev []int64, at int) (float64, bool) {
		best := math.Inf(1)
		for _, e := range ev {
			d := float64(e-int64(at*FrameSamples)) / 8
			if math.Abs(d) < math.Abs(best) {
				best = d
			}
		}
		return best, math.Abs(best) <= 500
	}
	const isolated = 25 // frames
	for i, sg := range m.segs {
		if i == 0 || sg[0]-m.segs[i-1][1] >= isolated {
			s.segments++
			if d, ok := nearest(starts, sg[0]); ok {
				s.startErrMs = append(s.startErrMs, d)
			} else {
				s.missed++
			}
		}
		if i == len(m.segs)-1 || m.segs[i+1][0]-sg[1] >= isolated {
			if d, ok := nearest(ends, sg[1]); ok {
				s.endErrMs = append(s.endErrMs, d)
			}
		}
	}
	return s
}

func absQuantile(v []float64, q float64) float64 {
	a := make([]float64, len(v))
	for i, x := range v {
		a[i] = math.Abs(x)
	}
	return quantile(a, q)
}

func (s *vadScore) String() string {
	return fmt.Sprintf("raw P %.3f R %.3f | active P %.3f R %.3f | backfilled P %.3f R %.3f | segments P %.3f R %.3f | start |err| med %.0f p90 %.0f ms, end |err| med %.0f p90 %.0f ms, %d/%d found",
		s.raw.precision(), s.raw.recall(), s.active.precision(), s.active.recall(),
		s.backfilled.precision(), s.backfilled.recall(), s.seg.precision(), s.seg.recall(),
		absQuantile(s.startErrMs, 0.5), absQuantile(s.startErrMs, 0.9),
		absQuantile(s.endErrMs, 0.5), absQuantile(s.endErrMs, 0.9), s.segments-s.missed, s.segments)
}
