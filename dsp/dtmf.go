package dsp

import (
	"math"
	"time"
)

// DTMF keypad frequencies (ITU-T Q.23): a digit is one row tone plus one
// column tone.
var (
	dtmfRowHz = [4]float64{697, 770, 852, 941}
	dtmfColHz = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys  = [4][4]byte{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

const (
	dtmfWindow    = FrameSamples              // 20 ms analysis window: 50 Hz bins separate adjacent keys
	dtmfHop       = FrameSamples / 2          // 10 ms hop: duration and pause resolution
	dtmfPhaseLen  = 120                       // sub-block length for the phase-difference frequency estimate
	dtmfPhaseLag  = dtmfWindow - dtmfPhaseLen // 5 ms: unambiguous for offsets below 100 Hz
	dtmfHopPeriod = 10 * time.Millisecond
)

// DTMFConfig tunes a DTMFDetector. The zero value gives the defaults named on
// each field, chosen to meet ITU-T Q.24.
type DTMFConfig struct {
	// MinLevelDBFS is the weakest tone accepted, each of the pair, in dBFS
	// as EnergyDBFS reads it (a full-scale sine is −3 dBFS). Zero means
	// −39 dBFS, about −36 dBm0 in G.711.
	MinLevelDBFS float64
	// MaxFreqDeviation is the largest accepted relative frequency error of
	// each tone. Q.24 requires acceptance within ±1.5% and rejection beyond
	// ±3.5%; zero means 0.025, midway.
	MaxFreqDeviation float64
	// MaxNormalTwistDB is how much louder the row (low) tone may be than the
	// column (high) tone, the usual case since lines lose highs. Zero means 8 dB.
	MaxNormalTwistDB float64
	// MaxReverseTwistDB is how much louder the column tone may be than the
	// row tone. Zero means 4 dB.
	MaxReverseTwistDB float64
	// MinToneFraction is the share of the window's power that the two tones
	// must hold. Speech, with its many harmonics and formants, rarely puts
	// more than half its power in two keypad frequencies: this is the
	// talk-off guard. Zero means 0.6 (a tone pair at 3 dB SNR still passes).
	MinToneFraction float64
	// MinDuration is the shortest digit reported. Zero means 40 ms; tones of
	// 20 ms or less are never reported (Q.24 leaves 23–40 ms to the
	// administration; here they go either way depending on frame alignment).
	MinDuration time.Duration
	// MinPause is the shortest gap that separates two digits; shorter
	// drop-outs (a lost packet) are bridged. Zero means 20 ms.
	MinPause time.Duration
}

func (c DTMFConfig) withDefaults() DTMFConfig {
	if c.MinLevelDBFS == 0 {
		c.MinLevelDBFS = -39
	}
	if c.MaxFreqDeviation == 0 {
		c.MaxFreqDeviation = 0.025
	}
	if c.MaxNormalTwistDB == 0 {
		c.MaxNormalTwistDB = 8
	}
	if c.MaxReverseTwistDB == 0 {
		c.MaxReverseTwistDB = 4
	}
	if c.MinToneFraction == 0 {
		c.MinToneFraction = 0.6
	}
	if c.MinDuration == 0 {
		c.MinDuration = 40 * time.Millisecond
	}
	if c.MinPause == 0 {
		c.MinPause = 20 * time.Millisecond
	}
	return c
}

// DTMFEvent is one detected key press.
type DTMFEvent struct {
	// Digit is one of 0-9, *, #, A-D.
	Digit byte
	// At is when the tone began, measured from the first sample fed.
	At time.Duration
}

// DTMFDetector finds in-band DTMF digits in a stream of 8 kHz samples. It
// analyses 20 ms windows every 10 ms with Goertzel filters, checks each
// window for exactly one row and one column tone at the right frequencies
// (measured by phase, so the ±3.5% rejection holds even though a 20 ms bin is
// 50 Hz wide), within twist and holding most of the power, and reports a
// digit once enough consecutive windows agree. Not safe for concurrent use.
type DTMFDetector struct {
	cfg        DTMFConfig
	row, col   [4]Goertzel
	minPower   float64
	normTwist  float64 // power ratios from the dB limits
	revTwist   float64
	onWindows  int
	offWindows int

	win     [dtmfWindow]int16 // last dtmfWindow samples, oldest first
	filled  int               // valid samples in win (until first full window)
	sinceAn int               // samples since the last analysis
	total   int64             // samples fed so far

	cand      byte // digit seen in the current run of windows
	candRun   int
	candStart int64 // sample index where the run's first window began
	active    byte  // digit reported and not yet ended (0 when none)
	missRun   int
	events    []DTMFEvent
}

// NewDTMFDetector returns a detector configured by cfg (see DTMFConfig for
// the defaults of zero fields).
func NewDTMFDetector(cfg DTMFConfig) *DTMFDetector {
	cfg = cfg.withDefaults()
	d := &DTMFDetector{cfg: cfg, events: make([]DTMFEvent, 0, 4)}
	for i := range 4 {
		d.row[i] = NewGoertzel(dtmfRowHz[i], SampleRate)
		d.col[i] = NewGoertzel(dtmfColHz[i], SampleRate)
	}
	d.minPower = dbfsToPower(cfg.MinLevelDBFS)
	d.normTwist = math.Pow(10, cfg.MaxNormalTwistDB/10)
	d.revTwist = math.Pow(10, cfg.MaxReverseTwistDB/10)
	// A tone of length L fully covers (L-window)/hop+1 windows.
	d.onWindows = max(1, int((cfg.MinDuration-dtmfWindow*time.Second/SampleRate)/dtmfHopPeriod)+1)
	d.offWindows = max(1, int(cfg.MinPause/dtmfHopPeriod)+1)
	return d
}

// Reset forgets all state, as if the detector were new.
func (d *DTMFDetector) Reset() {
	*d = DTMFDetector{cfg: d.cfg, row: d.row, col: d.col, minPower: d.minPower,
		normTwist: d.normTwist, revTwist: d.revTwist, onWindows: d.onWindows,
		offWindows: d.offWindows, events: d.events[:0]}
}

// Process feeds the next samples (normally one 20 ms frame; any length
// works) and returns the digits that began being recognised in them. The
// returned slice is reused by the next call.
func (d *DTMFDetector) Process(frame []int16) []DTMFEvent {
	d.events = d.events[:0]
	for len(frame) > 0 {
		// Slide the window by up to what is missing before the next analysis.
		need := dtmfHop - d.sinceAn
		if d.filled < dtmfWindow {
			need = dtmfWindow - d.filled
		}
		n := min(need, len(frame))
		copy(d.win[:], d.win[n:])
		copy(d.win[dtmfWindow-n:], frame[:n])
		frame = frame[n:]
		d.total += int64(n)
		d.filled = min(dtmfWindow, d.filled+n)
		d.sinceAn += n
		if d.filled == dtmfWindow && d.sinceAn >= dtmfHop {
			d.sinceAn = 0
			d.step(d.classify(d.win[:]))
		}
	}
	return d.events
}

// step advances the on/off state machine by one analysed window.
func (d *DTMFDetector) step(digit byte) {
	windowStart := d.total - dtmfWindow
	if digit != 0 && digit == d.cand {
		d.candRun++
	} else if digit != 0 {
		d.cand, d.candRun, d.candStart = digit, 1, windowStart
	} else {
		d.cand, d.candRun = 0, 0
	}
	if d.active != 0 {
		if digit == d.active {
			d.missRun = 0
			return
		}
		d.missRun++
		if d.missRun < d.offWindows {
			return
		}
		d.active = 0
	}
	if d.cand != 0 && d.candRun >= d.onWindows {
		d.active, d.missRun = d.cand, 0
		at := time.Duration(d.candStart) * time.Second / SampleRate
		d.events = append(d.events, DTMFEvent{Digit: d.cand, At: at})
	}
}

// classify returns the digit present in the window, or 0.
func (d *DTMFDetector) classify(w []int16) byte {
	total := meanSquare(w)
	if total < d.minPower {
		return 0
	}
	ri, rp, rOther := strongest(&d.row, w)
	ci, cp, cOther := strongest(&d.col, w)
	if rp < d.minPower || cp < d.minPower {
		return 0
	}
	if rp > cp*d.normTwist || cp > rp*d.revTwist {
		return 0
	}
	// Another key's tone within 6 dB means two keys or a broadband sound.
	if rOther*4 > rp || cOther*4 > cp {
		return 0
	}
	if rp+cp < d.cfg.MinToneFraction*total {
		return 0
	}
	if !d.onFrequency(d.row[ri], w) || !d.onFrequency(d.col[ci], w) {
		return 0
	}
	return dtmfKeys[ri][ci]
}

// onFrequency reports whether the tone near g's frequency is within the
// accepted deviation.
func (d *DTMFDetector) onFrequency(g Goertzel, w []int16) bool {
	f, ok := phaseFrequency(g, w, dtmfPhaseLen, dtmfPhaseLag)
	if !ok {
		return false
	}
	return math.Abs(f-g.freqHz) <= d.cfg.MaxFreqDeviation*g.freqHz
}

// phaseFrequency estimates the frequency of the dominant component of w near
// g's frequency from the phase advance between two blocks of blockLen
// samples, the second starting lag samples later. A 20 ms bin is 50 Hz wide,
// too coarse for Q.24's ±3.5%, but the phase measures frequency to about a
// hertz; it is unambiguous for offsets below sampleRate/(2·lag).
func phaseFrequency(g Goertzel, w []int16, blockLen, lag int) (float64, bool) {
	if lag <= 0 || blockLen <= 0 || lag+blockLen > len(w) {
		return 0, false
	}
	ar, ai := g.DFT(w[:blockLen])
	br, bi := g.DFT(w[lag : lag+blockLen])
	// The angle of b·conj(a) is ω_tone·lag: Goertzel's own phase factor
	// depends only on the block length and cancels.
	re := br*ar + bi*ai
	im := bi*ar - br*ai
	if re == 0 && im == 0 {
		return 0, false
	}
	w0 := 2 * math.Pi * g.freqHz / SampleRate
	delta := math.Remainder(math.Atan2(im, re)-w0*float64(lag), 2*math.Pi)
	return g.freqHz + delta/float64(lag)*SampleRate/(2*math.Pi), true
}

// strongest returns the index and power of the strongest of the four
// filters on w, and the power of the runner-up.
func strongest(gs *[4]Goertzel, w []int16) (best int, bestP, secondP float64) {
	for i := range gs {
		p := gs[i].Power(w)
		switch {
		case p > bestP:
			secondP, bestP, best = bestP, p, i
		case p > secondP:
			secondP = p
		}
	}
	return best, bestP, secondP
}
