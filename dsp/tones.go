package dsp

import (
	"fmt"
	"math"
	"time"
)

// ToneKind names a call-progress signal heard as early media on an outbound
// call.
type ToneKind int

// Call-progress signals.
const (
	// ToneNone: no call-progress signal.
	ToneNone ToneKind = iota
	// ToneRingback: the far end is ringing.
	ToneRingback
	// ToneBusy: the called line is busy.
	ToneBusy
	// ToneCongestion: the network is congested (reorder, fast busy).
	ToneCongestion
	// ToneSIT: the special information tone that precedes an intercept
	// announcement (number not in service, circuits busy…).
	ToneSIT
)

// String returns the kind's name in lower case.
func (k ToneKind) String() string {
	switch k {
	case ToneRingback:
		return "ringback"
	case ToneBusy:
		return "busy"
	case ToneCongestion:
		return "congestion"
	case ToneSIT:
		return "sit"
	}
	return "none"
}

// ToneSpec is one cadenced tone of a plan: FreqsHz played together, switched
// on and off by Cadence.
type ToneSpec struct {
	// Kind is what the tone means.
	Kind ToneKind
	// FreqsHz are the frequencies sounding together (one or two).
	FreqsHz []float64
	// Cadence is one period of alternating on and off durations, starting
	// with on: {2s, 4s} is two seconds on, four off.
	Cadence []time.Duration
	// ConfirmSegments is how many consecutive on/off segments must match
	// the cadence before the tone is reported; the segment in progress
	// counts once it has lasted its minimum or 400 ms, whichever is less.
	// Zero means 3 (on, off, on).
	ConfirmSegments int
}

// TonePlan is a country's set of call-progress tones.
type TonePlan struct {
	// Name identifies the plan in logs.
	Name string
	// Tones are the cadenced tones to look for.
	Tones []ToneSpec
	// SIT enables detection of the special information tone: three rising
	// tones near 950, 1400 and 1800 Hz (Telcordia 913.8/985.2,
	// 1370.6/1428.5, 1776.7 Hz; ITU-T E.180 950/1400/1800 Hz), each 200–450 ms.
	SIT bool
}

// NorthAmericaTones returns the North American precise tone plan
// (Telcordia GR-506): ringback 440+480 Hz 2 s on 4 s off, busy 480+620 Hz
// 0.5/0.5 s, reorder 480+620 Hz 0.25/0.25 s, and SIT.
func NorthAmericaTones() TonePlan {
	return TonePlan{Name: "north-america", SIT: true, Tones: []ToneSpec{
		{Kind: ToneRingback, FreqsHz: []float64{440, 480}, Cadence: []time.Duration{2 * time.Second, 4 * time.Second}, ConfirmSegments: 2},
		{Kind: ToneBusy, FreqsHz: []float64{480, 620}, Cadence: []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{Kind: ToneCongestion, FreqsHz: []float64{480, 620}, Cadence: []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, ConfirmSegments: 4},
	}}
}

// ChinaTones returns the Chinese plan (YD/T 1970 / GF 002-9002): all tones
// at 450 Hz, ringback 1 s on 4 s off, busy 0.35/0.35 s, congestion 0.7/0.7 s,
// and SIT.
func ChinaTones() TonePlan {
	return TonePlan{Name: "china", SIT: true, Tones: []ToneSpec{
		{Kind: ToneRingback, FreqsHz: []float64{450}, Cadence: []time.Duration{time.Second, 4 * time.Second}, ConfirmSegments: 2},
		{Kind: ToneBusy, FreqsHz: []float64{450}, Cadence: []time.Duration{350 * time.Millisecond, 350 * time.Millisecond}, ConfirmSegments: 4},
		{Kind: ToneCongestion, FreqsHz: []float64{450}, Cadence: []time.Duration{700 * time.Millisecond, 700 * time.Millisecond}},
	}}
}

// ToneConfig tunes a ToneDetector. The zero value gives the defaults named
// on each field.
type ToneConfig struct {
	// Plan is the tone plan; a plan with no tones and no SIT means
	// NorthAmericaTones().
	Plan TonePlan
	// MinLevelDBFS is the weakest tone accepted, each frequency, in dBFS
	// as EnergyDBFS reads it (a full-scale sine is −3 dBFS). Zero means
	// −43 dBFS.
	MinLevelDBFS float64
	// MinToneFraction is the share of a frame's power the tone must hold,
	// so speech and music do not count as tone. Zero means 0.6.
	MinToneFraction float64
	// CadenceTolerance is the relative error accepted on each on or off
	// duration, on top of one frame either way. Zero means 0.2.
	CadenceTolerance float64
}

// ToneEvent reports a recognised call-progress signal.
type ToneEvent struct {
	// Kind is the signal.
	Kind ToneKind
	// Start is when the first matching segment began.
	Start time.Duration
	// At is when the cadence was confirmed, from the first sample fed.
	At time.Duration
}

// ToneDetector recognises call-progress tones of a TonePlan by frequency and
// cadence in a stream of 20 ms frames. Each frame is classified per tone with
// Goertzel filters (on: every frequency present, holding most of the power);
// runs of on and off frames are then matched against the cadence. Not safe
// for concurrent use.
type ToneDetector struct {
	cfg      ToneConfig
	filters  []Goertzel // one per distinct frequency of the plan
	powers   []float64  // per filter, this frame
	specs    []specState
	sit      sitState
	minPower float64
	frames   int64
	buf      [FrameSamples]int16
	nbuf     int
	events   []ToneEvent
}

type specState struct {
	spec     ToneSpec
	idx      []int // filter indices of the spec's frequencies
	confirm  int
	on       bool
	seg      int   // frames in the current segment
	first    bool  // the current segment is the first seen (may be cut short)
	matched  int   // consecutive completed segments matching the cadence
	runStart int64 // frame where the matched run began
	partial  bool  // the run began with a first segment shorter than its minimum
	reported bool
}

// sitState follows the three SIT segments.
type sitState struct {
	idx   [3][]int // filter indices of each stage's alternatives
	stage int      // current stage tone present in this run (-1 none)
	seg   int      // frames of the current stage tone
	done  int      // stages completed in order
	start int64
}

// SIT frequencies: each stage's alternatives (Telcordia low/high and ITU-T E.180).
var sitStageHz = [3][]float64{{913.8, 950, 985.2}, {1370.6, 1400, 1428.5}, {1776.7, 1800}}

const (
	sitMinFrames = 10 // 200 ms
	sitMaxFrames = 23 // 460 ms
	sitGapFrames = 2  // up to 40 ms of silence allowed between stages
)

// NewToneDetector returns a detector for cfg, or an error wrapping ErrConfig
// when a tone spec is malformed.
func NewToneDetector(cfg ToneConfig) (*ToneDetector, error) {
	if len(cfg.Plan.Tones) == 0 && !cfg.Plan.SIT {
		cfg.Plan = NorthAmericaTones()
	}
	if cfg.MinLevelDBFS == 0 {
		cfg.MinLevelDBFS = -43
	}
	if cfg.MinToneFraction == 0 {
		cfg.MinToneFraction = 0.6
	}
	if cfg.CadenceTolerance == 0 {
		cfg.CadenceTolerance = 0.2
	}
	d := &ToneDetector{cfg: cfg, minPower: dbfsToPower(cfg.MinLevelDBFS), events: make([]ToneEvent, 0, 4)}
	filter := func(f float64) int {
		for i, g := range d.filters {
			if g.FreqHz() == f {
				return i
			}
		}
		d.filters = append(d.filters, NewGoertzel(f, SampleRate))
		return len(d.filters) - 1
	}
	for _, s := range cfg.Plan.Tones {
		if len(s.FreqsHz) == 0 || len(s.Cadence) < 2 || len(s.Cadence)%2 != 0 {
			return nil, fmt.Errorf("tone plan %q, %v: want frequencies and an even on/off cadence: %w", cfg.Plan.Name, s.Kind, ErrConfig)
		}
		st := specState{spec: s, confirm: s.ConfirmSegments, first: true}
		if st.confirm <= 0 {
			st.confirm = 3
		}
		for _, f := range s.FreqsHz {
			if !(f > 0 && f < SampleRate/2) {
				return nil, fmt.Errorf("tone plan %q, %v: frequency %g Hz: %w", cfg.Plan.Name, s.Kind, f, ErrConfig)
			}
			st.idx = append(st.idx, filter(f))
		}
		d.specs = append(d.specs, st)
	}
	if cfg.Plan.SIT {
		for k, alts := range sitStageHz {
			for _, f := range alts {
				d.sit.idx[k] = append(d.sit.idx[k], filter(f))
			}
		}
	}
	d.sit.stage = -1
	d.powers = make([]float64, len(d.filters))
	return d, nil
}

// Process feeds the next samples (normally one 20 ms frame; other lengths are
// re-cut into 20 ms frames) and returns the signals confirmed in them. The
// returned slice is reused by the next call.
func (d *ToneDetector) Process(frame []int16) []ToneEvent {
	d.events = d.events[:0]
	if d.nbuf == 0 && len(frame) == FrameSamples {
		d.frame(frame)
		return d.events
	}
	for len(frame) > 0 {
		n := copy(d.buf[d.nbuf:], frame)
		d.nbuf += n
		frame = frame[n:]
		if d.nbuf == FrameSamples {
			d.nbuf = 0
			d.frame(d.buf[:])
		}
	}
	return d.events
}

func (d *ToneDetector) frame(x []int16) {
	total := meanSquare(x)
	for i, g := range d.filters {
		d.powers[i] = g.Power(x)
	}
	for i := range d.specs {
		d.cadence(&d.specs[i], d.specOn(&d.specs[i], total))
	}
	if d.cfg.Plan.SIT {
		d.sitStep(total)
	}
	d.frames++
}

// specOn reports whether every frequency of the spec is present and together
// they hold most of the frame's power.
func (d *ToneDetector) specOn(s *specState, total float64) bool {
	if total < d.minPower {
		return false
	}
	var sum, lo, hi float64
	lo = math.Inf(1)
	for _, i := range s.idx {
		p := d.powers[i]
		sum += p
		lo, hi = math.Min(lo, p), math.Max(hi, p)
	}
	// Two close tones (440+480 Hz) leak into each other's 50 Hz bins and
	// beat, so the pair's levels may differ by up to 10 dB within a frame.
	return lo >= d.minPower && hi <= 10*lo && sum >= d.cfg.MinToneFraction*total
}

// cadence advances a spec's on/off segment tracking by one frame.
func (d *ToneDetector) cadence(s *specState, on bool) {
	if on == s.on {
		s.seg++
	} else {
		d.endSegment(s)
		s.on, s.seg = on, 1
	}
	// The segment in progress counts once it has lasted its minimum or
	// 400 ms, whichever is less; once it overstays, the run is broken.
	if s.matched == 0 && !s.on {
		return
	}
	want := s.spec.Cadence[s.matched%len(s.spec.Cadence)]
	lo, hi := d.bounds(want)
	if s.seg > hi {
		s.matched = 0
		s.reported = false
		return
	}
	need := min(lo, 20)
	if s.partial {
		// A cut-short first segment proves little: wait for the whole
		// minimum of the next one (China's 0.7 s congestion must not pass
		// for a 1 s ringback joined late).
		need = lo
	}
	if !s.reported && s.matched+1 >= s.confirm && s.seg >= need {
		s.reported = true
		d.events = append(d.events, ToneEvent{Kind: s.spec.Kind, Start: frameTime(s.runStart), At: frameTime(d.frames + 1)})
	}
}

// endSegment closes the current segment of s and updates its matched run.
func (d *ToneDetector) endSegment(s *specState) {
	if s.seg == 0 {
		return
	}
	first := s.first
	s.first = false
	if s.on || s.matched > 0 {
		want := s.spec.Cadence[s.matched%len(s.spec.Cadence)]
		lo, hi := d.bounds(want)
		if (s.seg >= lo || first) && s.seg <= hi {
			if s.matched == 0 {
				s.runStart = d.frames - int64(s.seg)
				s.partial = s.seg < lo
			}
			s.matched++
			return
		}
	}
	s.matched = 0
	s.reported = false
	// A broken run may end with an on segment that starts a new one.
	if s.on {
		lo, hi := d.bounds(s.spec.Cadence[0])
		if s.seg >= lo && s.seg <= hi {
			s.matched, s.runStart, s.partial = 1, d.frames-int64(s.seg), false
		}
	}
}

// bounds returns the accepted length of a segment in frames.
func (d *ToneDetector) bounds(want time.Duration) (lo, hi int) {
	frames := want.Seconds() * 50
	lo = int(math.Floor(frames*(1-d.cfg.CadenceTolerance))) - 1
	hi = int(math.Ceil(frames*(1+d.cfg.CadenceTolerance))) + 1
	return max(1, lo), hi
}

// sitStep follows the three rising SIT tones: runs of frames holding one
// stage's tone must come in order 0, 1, 2, each 200–460 ms, with gaps of at
// most 40 ms between them.
func (d *ToneDetector) sitStep(total float64) {
	s := &d.sit
	stage := -1
	if total >= d.minPower {
		for k := range 3 {
			for _, i := range s.idx[k] {
				if p := d.powers[i]; p >= d.minPower && p >= d.cfg.MinToneFraction*total {
					stage = k
				}
			}
		}
	}
	if stage == s.stage {
		s.seg++
		return
	}
	d.sitClose()
	s.stage, s.seg = stage, 1
}

// sitClose ends the current run (a stage's tone or a gap) and reports SIT
// after the third stage.
func (d *ToneDetector) sitClose() {
	s := &d.sit
	if s.stage < 0 {
		if s.seg > sitGapFrames {
			s.done = 0
		}
		return
	}
	if s.seg < sitMinFrames || s.seg > sitMaxFrames || s.stage != s.done {
		s.done = 0
		if s.stage == 0 && s.seg >= sitMinFrames && s.seg <= sitMaxFrames {
			s.done, s.start = 1, d.frames-int64(s.seg)
		}
		return
	}
	s.done++
	if s.done == 1 {
		s.start = d.frames - int64(s.seg)
	}
	if s.done == 3 {
		d.events = append(d.events, ToneEvent{Kind: ToneSIT, Start: frameTime(s.start), At: frameTime(d.frames)})
		s.done = 0
	}
}

func frameTime(frames int64) time.Duration { return time.Duration(frames) * 20 * time.Millisecond }
