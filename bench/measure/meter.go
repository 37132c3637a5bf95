package measure

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// histBuckets covers 0 µs to about 16 s: 16 exact microsecond buckets, then
// 8 buckets per octave, so a percentile is off by at most 12.5%.
const histBuckets = 16 + 21*8

// Hist is a fixed log-scale histogram of durations with microsecond
// resolution at the low end. Its zero value is empty; adding allocates
// nothing.
type Hist struct {
	Counts [histBuckets]uint32
	N      uint64
	Max    time.Duration
}

func bucketOf(us uint64) int {
	if us < 16 {
		return int(us)
	}
	l := bits.Len64(us) // ≥ 5
	i := 16 + (l-5)*8 + int((us>>(l-4))&7)
	return min(i, histBuckets-1)
}

// bucketUpper is the exclusive upper bound of bucket i, reported for
// percentiles so that they err on the pessimistic side.
func bucketUpper(i int) time.Duration {
	if i < 16 {
		return time.Duration(i+1) * time.Microsecond
	}
	o, m := (i-16)/8, (i-16)%8
	return time.Duration(uint64(9+m)<<(o+1)) * time.Microsecond
}

// Add counts one duration; negative ones count as zero.
func (h *Hist) Add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.Counts[bucketOf(uint64(d/time.Microsecond))]++
	h.N++
	if d > h.Max {
		h.Max = d
	}
}

// Merge adds o's counts into h.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.N += o.N
	h.Max = max(h.Max, o.Max)
}

// Quantile returns the upper bound of the bucket holding quantile q (0..1),
// capped by the exact maximum; zero when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	rank := uint64(q*float64(h.N-1)) + 1
	var seen uint64
	for i, c := range h.Counts {
		seen += uint64(c)
		if seen >= rank {
			return min(bucketUpper(i), h.Max)
		}
	}
	return h.Max
}

// LateAfter is how far behind its schedule a frame may arrive before it
// counts as late: two frames of playout delay.
const LateAfter = 40 * time.Millisecond

// clockRate is G.711's RTP clock: one timestamp unit is 125 µs.
const tsUnit = time.Second / 8000

// Meter measures one leg's packet timing. It implements rtp.Observer; the
// diago peer calls the same methods from its read and write loops. Packets
// count only while the shared window flag is set, so call set-up and
// tear-down stay out of the numbers, but the arrival schedule is learnt from
// the first packet on.
type Meter struct {
	window *atomic.Bool

	sendMu     sync.Mutex
	haveSent   bool
	lastSent   time.Time
	lastSentTS uint32
	sent       uint64
	sendDev    Hist

	recvMu   sync.Mutex
	haveRecv bool
	lastArr  time.Time
	lastSeq  uint16
	lastTS   uint32
	baseArr  time.Time // arrival the schedule is anchored to
	baseTS   uint32
	maxExt   int64 // highest extended sequence number seen
	winFirst int64 // extended sequence number the window began at, -1 before
	winMax   int64
	received uint64
	late     uint64
	maxLate  time.Duration
	recvDev  Hist
}

// NewMeter returns a meter counting while window is true.
func NewMeter(window *atomic.Bool) *Meter { return &Meter{window: window, winFirst: -1} }

// RTPSent records a packet with timestamp ts sent at at. The deviation is
// the interval since the previous send minus the media time between them.
func (m *Meter) RTPSent(at time.Time, ts uint32) {
	m.sendMu.Lock()
	if m.window.Load() {
		m.sent++
		if m.haveSent {
			want := time.Duration(int32(ts-m.lastSentTS)) * tsUnit
			m.sendDev.Add(absDur(at.Sub(m.lastSent) - want))
		}
	}
	m.haveSent, m.lastSent, m.lastSentTS = true, at, ts
	m.sendMu.Unlock()
}

// RTPReceived records an audio packet that arrived at at. Consecutive
// sequence numbers give an arrival-interval deviation; every packet is
// checked against the schedule anchored at the earliest packet seen, so a
// frame held up anywhere between the sender's clock and the reader counts as
// late.
func (m *Meter) RTPReceived(at time.Time, seq uint16, ts uint32) {
	m.recvMu.Lock()
	ext := int64(seq)
	if !m.haveRecv {
		m.baseArr, m.baseTS = at, ts
	} else {
		ext = m.maxExt + int64(int16(seq-uint16(m.maxExt)))
	}
	m.maxExt = max(m.maxExt, ext)
	sched := m.baseArr.Add(time.Duration(int32(ts-m.baseTS)) * tsUnit)
	behind := at.Sub(sched)
	if behind < 0 {
		// Earlier than the schedule: the first packet was itself late,
		// so anchor on this one.
		m.baseArr, m.baseTS, behind = at, ts, 0
	}
	if m.window.Load() {
		if m.winFirst < 0 {
			m.winFirst, m.winMax = ext, ext
		}
		m.winMax = max(m.winMax, ext)
		m.received++
		if behind > LateAfter {
			m.late++
		}
		m.maxLate = max(m.maxLate, behind)
		if m.haveRecv && seq == m.lastSeq+1 {
			want := time.Duration(int32(ts-m.lastTS)) * tsUnit
			m.recvDev.Add(absDur(at.Sub(m.lastArr) - want))
		}
	}
	m.haveRecv, m.lastArr, m.lastSeq, m.lastTS = true, at, seq, ts
	m.recvMu.Unlock()
}

// Timing is the merged timing of many legs.
type Timing struct {
	SendDev, RecvDev Hist
	Sent, Received   uint64
	// Lost is expected minus received by sequence number within the
	// window: a packet the sender never sent is not lost.
	Lost      int64
	Late      uint64
	MaxBehind time.Duration
}

// AddTo merges the meter's counts into t.
func (m *Meter) AddTo(t *Timing) {
	m.sendMu.Lock()
	t.SendDev.Merge(&m.sendDev)
	t.Sent += m.sent
	m.sendMu.Unlock()
	m.recvMu.Lock()
	t.RecvDev.Merge(&m.recvDev)
	t.Received += m.received
	if m.winFirst >= 0 {
		t.Lost += max(0, m.winMax-m.winFirst+1-int64(m.received))
	}
	t.Late += m.late
	t.MaxBehind = max(t.MaxBehind, m.maxLate)
	m.recvMu.Unlock()
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
