package rtp

import "time"

// Thresholds from RFC 3550 Appendix A.1: a jump in sequence number beyond
// these is treated as a possible restart of the sender, accepted only when the
// next packet confirms it.
const (
	maxDropout   = 3000
	maxMisorder  = 100
	seqWindow    = 128 // packets remembered for duplicate detection
	maxPayload   = 1280
	concealSteps = 5 // frames of repeat-and-fade before silence
	// shrinkAfterFrames is how long the buffer must stay too deep before a
	// frame is dropped to reduce delay: one second of frames.
	shrinkAfterFrames = 50
	// quietLevel is the mean absolute sample value below which a frame is
	// a pause in speech (about -40 dBFS), where dropping one is inaudible.
	quietLevel = 300
)

// concealGainQ15 fades a repeated frame to silence over concealSteps frames.
var concealGainQ15 = [concealSteps + 1]int32{32767, 26214, 19661, 13107, 6554, 0}

// pushResult says what the jitter buffer did with a packet.
type pushResult uint8

const (
	pushAccepted pushResult = iota
	pushDuplicate
	pushLate
	pushInvalid
)

// jitterStats are the counters the jitter buffer keeps for Stats and RTCP.
type jitterStats struct {
	Received     int64 // unique packets counted for RFC 3550 loss
	Duplicates   int64
	Late         int64
	Reordered    int64
	Concealed    int64
	AdaptDrops   int64
	Resets       int64
	LostCarried  int64 // loss of earlier sequence epochs (before a restart)
	JitterQ4     int64 // RFC 3550 A.8 interarrival jitter ×16, in samples
	HighSeq      int64 // extended highest sequence number
	BaseSeq      int64
	TargetDepth  int64 // samples
	BufferDepth  int64 // samples
	SSRC         uint32
	HaveSource   bool
	PriorExpect  int64 // for the RTCP fraction-lost interval
	PriorReceive int64
}

// jitterBuffer reorders received audio by RTP timestamp and releases one
// frame per pop. It stores decoded samples in a ring indexed by extended
// timestamp, so any packetisation (10, 20, 30 ms) works and loss inside a
// frame only silences the missing samples. It is not safe for concurrent use.
//
// Frames leave it two ways. The playout clock (pop, once per 20 ms tick)
// plays the frame at playTs after the adaptive delay: it conceals what is
// missing, moves past lost packets and drops frames to shrink the delay.
// Early release (popEarly, after each push) hands out the next frame as
// soon as it is complete and in order, without waiting for the clock:
// frames in [playTs, relTs) have been released early and stay stored until
// the clock passes them (popClock), so the clock's concealment, adaptation
// and statistics run exactly as without early release, and a frame is
// handed out once, by whichever comes first. What the reader gets is the
// clock's sequence of frames, each real one as soon as it is there.
type jitterBuffer struct {
	minDepth, maxDepth int64 // samples
	mask               int64
	pcm                []int16
	filled             []bool

	started bool
	playTs  int64 // extended timestamp of the next sample to play
	relTs   int64 // next frame to release early; ≥ playTs once started
	maxEnd  int64 // one past the newest sample stored
	target  int64
	over    int // consecutive pops with too much buffered

	seqStarted  bool
	badSeq      int64 // RFC 3550 A.1 probation for a sequence jump
	seen        [seqWindow / 64]uint64
	transit     int64
	haveTransit bool

	last       [FrameSamples]int16
	haveLast   bool
	concealRun int

	st jitterStats
}

// newJitterBuffer returns a buffer that keeps its playout delay between
// minDepth and maxDepth.
func newJitterBuffer(minDepth, maxDepth time.Duration) *jitterBuffer {
	minS := roundUpFrame(durationToSamples(minDepth))
	maxS := roundUpFrame(durationToSamples(maxDepth))
	minS = max(minS, FrameSamples)
	maxS = max(maxS, minS)
	size := int64(1)
	for size < 2*maxS+8*FrameSamples+maxPayload {
		size <<= 1
	}
	j := &jitterBuffer{
		minDepth: minS,
		maxDepth: maxS,
		mask:     size - 1,
		pcm:      make([]int16, size),
		filled:   make([]bool, size),
		target:   minS,
	}
	j.st.TargetDepth = minS
	return j
}

func durationToSamples(d time.Duration) int64 {
	return int64(d) * SampleRate / int64(time.Second)
}

func samplesToDuration(n int64) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}

func roundUpFrame(n int64) int64 {
	return (n + FrameSamples - 1) / FrameSamples * FrameSamples
}

// reset forgets the current source, as on an SSRC change.
func (j *jitterBuffer) reset() {
	clear(j.filled)
	j.started = false
	j.seqStarted = false
	j.haveTransit = false
	j.over = 0
	j.seen = [seqWindow / 64]uint64{}
	j.st.LostCarried += j.lostThisEpoch()
	j.st.Received = 0
	j.st.PriorExpect, j.st.PriorReceive = 0, 0
	j.st.HaveSource = false
	j.st.Resets++
}

func (j *jitterBuffer) lostThisEpoch() int64 {
	if !j.seqStarted {
		return 0
	}
	return j.st.HighSeq - j.st.BaseSeq + 1 - j.st.Received
}

// lost is the cumulative number of packets lost (RFC 3550 A.3); it can be
// negative when duplicates were counted, as the RFC allows.
func (j *jitterBuffer) lost() int64 { return j.st.LostCarried + j.lostThisEpoch() }

// trackSeq accounts a packet's sequence number and reports whether the
// packet is new (not a duplicate or unacceptably old). A new SSRC resets the
// buffer: the peer switched streams and old timing means nothing.
func (j *jitterBuffer) trackSeq(ssrc uint32, seq uint16) (fresh, newest bool, res pushResult) {
	if j.st.HaveSource && ssrc != j.st.SSRC {
		j.reset()
	}
	if !j.st.HaveSource {
		j.st.HaveSource = true
		j.st.SSRC = ssrc
	}
	if !j.seqStarted {
		j.restartSeq(seq)
		return true, true, pushAccepted
	}
	high := j.st.HighSeq
	ext := high + int64(int16(seq-uint16(high)))
	switch {
	case ext > high+maxDropout || ext < high-maxMisorder:
		// RFC 3550 A.1: a big jump is accepted only when the next packet
		// continues from it; otherwise it is a stray packet.
		if int64(seq) == j.badSeq {
			j.st.LostCarried += j.lostThisEpoch()
			j.st.Received = 0
			j.st.PriorExpect, j.st.PriorReceive = 0, 0
			j.restartSeq(seq)
			return true, true, pushAccepted
		}
		j.badSeq = int64(seq+1) & 0xffff
		j.st.Late++
		return false, false, pushLate
	case ext > high:
		j.shiftSeen(ext - high)
		j.st.HighSeq = ext
		j.markSeen(0)
		j.st.Received++
		return true, true, pushAccepted
	default:
		back := high - ext
		if back >= seqWindow {
			j.st.Late++
			return false, false, pushLate
		}
		if j.isSeen(back) {
			j.st.Duplicates++
			return false, false, pushDuplicate
		}
		j.markSeen(back)
		j.st.Received++
		j.st.Reordered++
		return true, false, pushAccepted
	}
}

func (j *jitterBuffer) restartSeq(seq uint16) {
	j.seqStarted = true
	j.st.BaseSeq = int64(seq)
	j.st.HighSeq = int64(seq)
	j.seen = [seqWindow / 64]uint64{}
	j.markSeen(0)
	j.st.Received = 1
	j.badSeq = -1
}

// The seen bitmap has bit k set when HighSeq-k was received.
func (j *jitterBuffer) shiftSeen(n int64) {
	if n >= seqWindow {
		j.seen = [seqWindow / 64]uint64{}
		return
	}
	for ; n > 0; n-- {
		j.seen[1] = j.seen[1]<<1 | j.seen[0]>>63
		j.seen[0] <<= 1
	}
}

func (j *jitterBuffer) markSeen(back int64) { j.seen[back/64] |= 1 << (back % 64) }

func (j *jitterBuffer) isSeen(back int64) bool { return j.seen[back/64]&(1<<(back%64)) != 0 }

// updateJitter runs the RFC 3550 A.8 interarrival jitter estimator and
// retunes the target depth from it.
func (j *jitterBuffer) updateJitter(ts uint32, arrival time.Duration) {
	arrivalTs := durationToSamples(arrival)
	transit := int64(int32(uint32(arrivalTs) - ts))
	if j.haveTransit {
		d := transit - j.transit
		if d < 0 {
			d = -d
		}
		// A single huge step is a timestamp jump, not jitter; letting it
		// in would inflate the estimate for seconds.
		if d < SampleRate {
			j.st.JitterQ4 += d - (j.st.JitterQ4+8)>>4
		}
	}
	j.transit = transit
	j.haveTransit = true
	t := roundUpFrame(3 * (j.st.JitterQ4 >> 4))
	j.target = min(max(t, j.minDepth), j.maxDepth)
	j.st.TargetDepth = j.target
}

// unwrap extends a 32-bit timestamp to 64 bits near the playout position.
func (j *jitterBuffer) unwrap(ts uint32) int64 {
	return j.playTs + int64(int32(ts-uint32(j.playTs)))
}

// push accounts and stores one audio packet; payload is G.711 of payloadType.
func (j *jitterBuffer) push(ssrc uint32, seq uint16, ts uint32, payloadType uint8, payload []byte, arrival time.Duration) pushResult {
	n := int64(len(payload))
	if n == 0 || n > maxPayload || !IsAudioPayload(payloadType) {
		return pushInvalid
	}
	fresh, newest, res := j.trackSeq(ssrc, seq)
	if !fresh {
		return res
	}
	j.updateJitter(ts, arrival)
	if !j.started {
		j.anchor(ts)
	}
	ext := j.unwrap(ts)
	size := j.mask + 1
	switch {
	case ext+n > j.playTs+size:
		// Far ahead of playout: the sender jumped or we fell far behind.
		j.anchor(ts)
		ext = j.unwrap(ts)
	case ext < j.playTs:
		if newest && j.playTs-ext > j.maxDepth+4*FrameSamples {
			// Timestamp jumped backwards while sequence numbers
			// continued: the sender restarted its clock.
			j.anchor(ts)
			ext = j.unwrap(ts)
			break
		}
		j.st.Late++
		return pushLate
	case j.maxEnd <= j.playTs && ext > j.playTs+j.target:
		// Nothing is pending and audio resumes after a gap
		// (silence suppression): start the talkspurt after the target
		// delay instead of playing the whole gap.
		j.playTs = ext - j.target
		// The delay before the talkspurt is the clock's: released
		// early, the first frame need not wait for it.
		j.relTs = ext
	}
	for i := int64(0); i < n; i++ {
		idx := (ext + i) & j.mask
		j.pcm[idx] = decodeSample(payloadType, payload[i])
		j.filled[idx] = true
	}
	j.maxEnd = max(j.maxEnd, ext+n)
	return pushAccepted
}

// anchor restarts playout so that ts plays after the target delay.
func (j *jitterBuffer) anchor(ts uint32) {
	clear(j.filled)
	j.started = true
	j.playTs = int64(ts) - j.target
	j.relTs = int64(ts) // the lead before ts is never released early
	j.maxEnd = j.playTs
	j.over = 0
}

// pop writes the next frame to dst (len ≥ FrameSamples) and reports whether
// it came from received audio rather than concealment or silence.
func (j *jitterBuffer) pop(dst []int16) bool {
	dst = dst[:FrameSamples]
	if !j.started {
		clear(dst)
		return false
	}
	avail := j.maxEnd - j.playTs
	got := 0
	for i := int64(0); i < FrameSamples; i++ {
		if j.filled[(j.playTs+i)&j.mask] {
			got++
		}
	}
	// A frame whose tail has not arrived yet (packets shorter than a
	// frame) waits like a missing one rather than playing with a hole.
	pending := got < FrameSamples && j.maxEnd < j.playTs+FrameSamples && avail < j.target
	if got == 0 || pending {
		j.conceal(dst)
		if avail > 0 {
			j.st.Concealed++
		}
		// With enough audio queued behind the hole the packet is lost:
		// move on. Otherwise hold position: this waits for a late
		// packet and deepens the buffer by one frame.
		if avail >= j.target {
			j.playTs += FrameSamples
		}
		j.st.BufferDepth = max(j.maxEnd-j.playTs, 0)
		return false
	}
	j.take(dst)
	avail -= FrameSamples
	if avail > j.target+2*FrameSamples {
		j.over++
		// Drop a frame in a pause if one comes; if speech goes on,
		// drop anyway after a few seconds rather than lag forever.
		quiet := j.over >= shrinkAfterFrames && meanAbs(dst) < quietLevel
		if quiet || j.over >= 3*shrinkAfterFrames || avail > j.maxDepth+2*FrameSamples {
			j.skip()
			j.over = 0
		}
	} else {
		j.over = 0
	}
	j.st.BufferDepth = max(j.maxEnd-j.playTs, 0)
	return true
}

// earlyReady reports whether the frame at relTs is complete and may be
// released before the clock reaches it: early release runs at most
// maxDepth ahead of the clock, so a sender faster than our clock falls back
// to the clock and its adaptation.
func (j *jitterBuffer) earlyReady() bool {
	if !j.started || j.relTs-j.playTs >= j.maxDepth {
		return false
	}
	for i := int64(0); i < FrameSamples; i++ {
		if !j.filled[(j.relTs+i)&j.mask] {
			return false
		}
	}
	return true
}

// popEarly copies the frame at relTs into dst (len ≥ FrameSamples) and
// advances relTs if earlyReady; the samples stay stored for the clock.
func (j *jitterBuffer) popEarly(dst []int16) bool {
	if !j.earlyReady() {
		return false
	}
	dst = dst[:FrameSamples]
	for i := range dst {
		dst[i] = j.pcm[(j.relTs+int64(i))&j.mask]
	}
	j.relTs += FrameSamples
	return true
}

// clockReleased reports whether the frame the clock plays next was already
// released early.
func (j *jitterBuffer) clockReleased() bool { return j.started && j.playTs < j.relTs }

// popClock is the playout clock's tick: pop into dst. When clockReleased,
// the reader has that frame already and dst is to be discarded, but the
// clock pops it all the same so that concealment state, adaptation and
// statistics advance as they would have.
func (j *jitterBuffer) popClock(dst []int16) {
	j.pop(dst)
	if j.started {
		// A frame the clock concealed or dropped is never released early.
		j.relTs = max(j.relTs, j.playTs)
	}
}

// take copies the frame at playTs into dst, clears it and advances.
func (j *jitterBuffer) take(dst []int16) {
	for i := int64(0); i < FrameSamples; i++ {
		idx := (j.playTs + i) & j.mask
		if j.filled[idx] {
			dst[i] = j.pcm[idx]
			j.filled[idx] = false
		} else {
			dst[i] = 0
		}
	}
	copy(j.last[:], dst)
	j.haveLast = true
	j.concealRun = 0
	j.playTs += FrameSamples
}

// skip drops the frame at playTs to reduce delay.
func (j *jitterBuffer) skip() {
	for i := int64(0); i < FrameSamples; i++ {
		j.filled[(j.playTs+i)&j.mask] = false
	}
	j.playTs += FrameSamples
	j.st.AdaptDrops++
}

// conceal repeats the last good frame with a fade to silence, ramping the
// gain within each frame so the fade has no steps that click.
func (j *jitterBuffer) conceal(dst []int16) {
	if !j.haveLast || j.concealRun >= concealSteps {
		clear(dst)
		j.concealRun = min(j.concealRun+1, concealSteps)
		return
	}
	g0 := concealGainQ15[j.concealRun]
	g1 := concealGainQ15[j.concealRun+1]
	for i := range dst {
		g := g0 + (g1-g0)*int32(i)/FrameSamples
		dst[i] = int16(int32(j.last[i]) * g >> 15)
	}
	j.concealRun++
}

// meanAbs is the mean absolute sample value of a frame.
func meanAbs(frame []int16) int {
	sum := 0
	for _, v := range frame {
		if v < 0 {
			sum -= int(v)
		} else {
			sum += int(v)
		}
	}
	return sum / max(len(frame), 1)
}
