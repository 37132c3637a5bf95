package rtp

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"
)

// tracePacket is one packet of a simulated stream: frame k of the sender,
// arriving delayMs after its nominal send time k×20 ms.
type tracePacket struct {
	k       int
	delayMs int
	ssrc    uint32
}

type traceConfig struct {
	seq0  uint16
	ts0   uint32
	ssrc  uint32
	min   time.Duration
	max   time.Duration
	ticks int
}

// frameByte is the µ-law byte filling frame k, so the output identifies it.
func frameByte(k int) byte { return byte(1 + k%120) }

// frameOf identifies which frame a popped buffer came from, -1 if none.
func frameOf(dst []int16, frames int) int {
	for k := range frames {
		if dst[0] == decodeSample(PayloadPCMU, frameByte(k)) && dst[FrameSamples-1] == dst[0] {
			return k
		}
	}
	return -1
}

// runTrace pushes the packets at their arrival times and pops one frame
// every 20 ms (at a 10 ms phase offset), returning the frames played.
func runTrace(t *testing.T, cfg traceConfig, pkts []tracePacket) ([]int, jitterStats) {
	t.Helper()
	played, _, st := runTraceTimed(t, cfg, pkts)
	return played, st
}

// runTraceTimed is runTrace that also returns when (in trace ms) each
// frame was played.
func runTraceTimed(t *testing.T, cfg traceConfig, pkts []tracePacket) ([]int, []int, jitterStats) {
	t.Helper()
	jb := newJitterBuffer(cfg.min, cfg.max)
	sort.SliceStable(pkts, func(i, j int) bool {
		return pkts[i].k*20+pkts[i].delayMs < pkts[j].k*20+pkts[j].delayMs
	})
	payload := make([]byte, FrameSamples)
	dst := make([]int16, FrameSamples)
	var played, at []int
	next := 0
	for n := range cfg.ticks {
		now := n*20 + 10
		for next < len(pkts) && pkts[next].k*20+pkts[next].delayMs <= now {
			p := pkts[next]
			next++
			for i := range payload {
				payload[i] = frameByte(p.k)
			}
			ssrc, seq, ts := cfg.ssrc, cfg.seq0+uint16(p.k), cfg.ts0+uint32(p.k*FrameSamples)
			if p.ssrc != 0 {
				// A new source starts its own random sequence and clock.
				ssrc, seq, ts = p.ssrc, seq+30000, ts+123456789
			}
			arrival := time.Duration(p.k*20+p.delayMs) * time.Millisecond
			jb.push(ssrc, seq, ts, PayloadPCMU, payload, arrival)
		}
		if jb.pop(dst) {
			if k := frameOf(dst, 120); k >= 0 {
				played = append(played, k)
				at = append(at, now)
			}
		}
	}
	return played, at, jb.st
}

func steady(from, to int) []tracePacket {
	var out []tracePacket
	for k := from; k < to; k++ {
		out = append(out, tracePacket{k: k, delayMs: 5})
	}
	return out
}

func without(pkts []tracePacket, ks ...int) []tracePacket {
	return slices.DeleteFunc(pkts, func(p tracePacket) bool { return slices.Contains(ks, p.k) })
}

func withDelay(pkts []tracePacket, k, delayMs int) []tracePacket {
	for i := range pkts {
		if pkts[i].k == k {
			pkts[i].delayMs = delayMs
		}
	}
	return pkts
}

func seqRange(from, to int, skip ...int) []int {
	var out []int
	for k := from; k < to; k++ {
		if !slices.Contains(skip, k) {
			out = append(out, k)
		}
	}
	return out
}

func TestJitterBufferTraces(t *testing.T) {
	base := traceConfig{seq0: 1000, ts0: 5000, ssrc: 7, min: 40 * time.Millisecond, max: 200 * time.Millisecond, ticks: 60}
	wrapSeq := base
	wrapSeq.seq0 = 65530
	wrapTs := base
	wrapTs.ts0 = 0xffffffff - 3*FrameSamples
	for _, tc := range []struct {
		name                          string
		cfg                           traceConfig
		pkts                          []tracePacket
		want                          []int
		dups, late, reordered, lost   int64
		concealedAtLeast, resetsExact int64
	}{
		{name: "in order plays every frame", cfg: base, pkts: steady(0, 50), want: seqRange(0, 50)},
		{name: "reordered packets play in order", cfg: base,
			pkts: withDelay(steady(0, 50), 10, 35), want: seqRange(0, 50), reordered: 1},
		{name: "duplicates are dropped", cfg: base,
			pkts: append(steady(0, 50), tracePacket{k: 20, delayMs: 15}, tracePacket{k: 21, delayMs: 8}),
			want: seqRange(0, 50), dups: 2},
		{name: "lost packet is concealed", cfg: base,
			pkts: without(steady(0, 50), 25), want: seqRange(0, 50, 25), lost: 1, concealedAtLeast: 1},
		{name: "burst loss is concealed", cfg: base,
			pkts: without(steady(0, 50), 20, 21, 22, 23), want: seqRange(0, 50, 20, 21, 22, 23), lost: 4, concealedAtLeast: 4},
		{name: "very late packet is dropped", cfg: base,
			pkts: withDelay(steady(0, 50), 30, 400), want: seqRange(0, 50, 30), late: 1, reordered: 1},
		{name: "sequence number wraps", cfg: wrapSeq, pkts: steady(0, 50), want: seqRange(0, 50)},
		{name: "timestamp wraps", cfg: wrapTs, pkts: steady(0, 50), want: seqRange(0, 50)},
		// The old source's buffered frames (40 ms here) go with the reset.
		{name: "SSRC change resets and plays the new stream", cfg: base,
			pkts: func() []tracePacket {
				p := steady(0, 50)
				for i := range p {
					if p[i].k >= 25 {
						p[i].ssrc = 99
					}
				}
				return p
			}(), want: seqRange(0, 50, 23, 24), resetsExact: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			played, st := runTrace(t, tc.cfg, tc.pkts)
			if !slices.Equal(played, tc.want) {
				t.Errorf("played %v\nwant   %v", played, tc.want)
			}
			if st.Duplicates != tc.dups || st.Late != tc.late || st.Reordered != tc.reordered {
				t.Errorf("dups/late/reordered = %d/%d/%d, want %d/%d/%d",
					st.Duplicates, st.Late, st.Reordered, tc.dups, tc.late, tc.reordered)
			}
			jb := jitterBuffer{st: st, seqStarted: true}
			if got := jb.lost(); got != tc.lost {
				t.Errorf("lost = %d, want %d", got, tc.lost)
			}
			if st.Concealed < tc.concealedAtLeast {
				t.Errorf("concealed = %d, want ≥ %d", st.Concealed, tc.concealedAtLeast)
			}
			if st.Resets != tc.resetsExact {
				t.Errorf("resets = %d, want %d", st.Resets, tc.resetsExact)
			}
		})
	}
}

func TestJitterBufferAdaptsDepthToJitter(t *testing.T) {
	cfg := traceConfig{seq0: 1, ts0: 1, ssrc: 1, min: 20 * time.Millisecond, max: 200 * time.Millisecond, ticks: 500}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name               string
		jitterMs           int
		minDepth, maxDepth time.Duration
		maxLateFraction    float64
	}{
		{"no jitter keeps the minimum depth", 0, 20 * time.Millisecond, 40 * time.Millisecond, 0},
		{"60 ms jitter deepens the buffer", 60, 60 * time.Millisecond, 200 * time.Millisecond, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pkts []tracePacket
			for k := range 480 {
				d := 5
				if tc.jitterMs > 0 {
					d += rng.IntN(tc.jitterMs)
				}
				pkts = append(pkts, tracePacket{k: k, delayMs: d})
			}
			played, st := runTrace(t, cfg, pkts)
			depth := samplesToDuration(st.TargetDepth)
			t.Logf("depth %v, jitter %v, late %d, played %d", depth, samplesToDuration(st.JitterQ4>>4), st.Late, len(played))
			if depth < tc.minDepth || depth > tc.maxDepth {
				t.Errorf("target depth %v, want %v..%v (jitter %v)", depth, tc.minDepth, tc.maxDepth,
					samplesToDuration(st.JitterQ4>>4))
			}
			if frac := float64(st.Late) / 480; frac > tc.maxLateFraction {
				t.Errorf("late fraction %.3f, want ≤ %.3f", frac, tc.maxLateFraction)
			}
			if len(played) < 400 {
				t.Errorf("played %d frames, want ≥ 400", len(played))
			}
		})
	}
}

func TestJitterBufferConcealmentFadesToSilence(t *testing.T) {
	jb := newJitterBuffer(20*time.Millisecond, 100*time.Millisecond)
	payload := make([]byte, FrameSamples)
	for i := range payload {
		payload[i] = frameByte(50)
	}
	dst := make([]int16, FrameSamples)
	jb.push(1, 1, 0, PayloadPCMU, payload, 0)
	for range 5 {
		if jb.pop(dst) {
			break
		}
	}
	if frameOf(dst, 120) != 50 {
		t.Fatalf("frame not played; got %v", dst[:4])
	}
	prev := abs16(dst[0])
	for i := range concealSteps + 2 {
		jb.pop(dst)
		a := abs16(dst[FrameSamples-1])
		if a > prev {
			t.Errorf("concealed frame %d louder (%d) than before (%d)", i, a, prev)
		}
		prev = a
	}
	if prev != 0 {
		t.Errorf("after %d concealed frames amplitude %d, want silence", concealSteps+2, prev)
	}
}

func TestJitterBufferRejectsBadPayloads(t *testing.T) {
	jb := newJitterBuffer(20*time.Millisecond, 100*time.Millisecond)
	for _, tc := range []struct {
		name    string
		pt      uint8
		payload []byte
	}{
		{"empty", PayloadPCMU, nil},
		{"huge", PayloadPCMU, make([]byte, maxPayload+1)},
		{"not G.711", 18, make([]byte, 20)},
	} {
		if got := jb.push(1, 1, 0, tc.pt, tc.payload, 0); got != pushInvalid {
			t.Errorf("%s: push = %v, want pushInvalid", tc.name, got)
		}
	}
}

func TestJitterBufferResyncsAfterTimestampJump(t *testing.T) {
	jb := newJitterBuffer(20*time.Millisecond, 100*time.Millisecond)
	payload := make([]byte, FrameSamples)
	dst := make([]int16, FrameSamples)
	for k := range 10 {
		for i := range payload {
			payload[i] = frameByte(k)
		}
		ts := uint32(k * FrameSamples)
		if k >= 5 {
			ts += 10 * SampleRate // the sender's clock jumped 10 s ahead
		}
		jb.push(1, uint16(k), ts, PayloadPCMU, payload, time.Duration(k)*FrameDuration)
		jb.pop(dst)
	}
	var played []int
	for range 5 {
		if jb.pop(dst) {
			played = append(played, frameOf(dst, 120))
		}
	}
	if len(played) == 0 || played[len(played)-1] != 9 {
		t.Errorf("after the jump played %v, want to reach frame 9", played)
	}
}

func abs16(v int16) int16 {
	if v < 0 {
		return -v
	}
	return v
}

func TestJitterBufferPlaysPacketsOfOtherSizes(t *testing.T) {
	for _, ptimeMs := range []int{10, 30, 40} {
		t.Run(fmt.Sprintf("%d ms packets", ptimeMs), func(t *testing.T) {
			jb := newJitterBuffer(20*time.Millisecond, 200*time.Millisecond)
			n := ptimeMs * samplesPerMs
			ref := chirp(100*FrameSamples, 100*FrameSamples)
			enc := make([]byte, len(ref))
			encodeG711(PayloadPCMU, enc, ref)
			var got []int16
			dst := make([]int16, FrameSamples)
			sent := 0
			for ms := 0; ms < 2400; ms += 5 {
				// A packet leaves once its last sample is captured.
				for sent+n <= len(enc) && (sent+n)/samplesPerMs+3 <= ms {
					jb.push(9, uint16(sent/n), uint32(sent), PayloadPCMU, enc[sent:sent+n], time.Duration(ms)*time.Millisecond)
					sent += n
				}
				if ms%20 == 10 && jb.pop(dst) {
					got = append(got, dst...)
				}
			}
			if c, _ := bestCorrelation(ref[:50*FrameSamples], got, len(got)-50*FrameSamples); c < 0.99 {
				t.Errorf("correlation %.3f, want > 0.99 (concealed %d, late %d)", c, jb.st.Concealed, jb.st.Late)
			}
			if jb.st.Late != 0 {
				t.Errorf("late %d, want 0", jb.st.Late)
			}
		})
	}
}

func TestJitterBufferShrinksAfterBurstPreferringPauses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     byte // µ-law byte filling every frame
		minTicks int  // speech is cut into only after waiting for a pause
		maxTicks int  // by when the excess must be gone
	}{
		{"in a pause it shrinks by a frame a second", 0xff, 0, 7 * 50},
		{"through continuous speech it shrinks, more slowly", 0x20, 12 * 50, 19 * 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jb := newJitterBuffer(20*time.Millisecond, 200*time.Millisecond)
			payload := make([]byte, FrameSamples)
			for i := range payload {
				payload[i] = tc.code
			}
			dst := make([]int16, FrameSamples)
			// A stall releases 8 frames at once, then the stream is steady.
			for k := range 8 {
				jb.push(1, uint16(k), uint32(k*FrameSamples), PayloadPCMU, payload, 160*time.Millisecond)
			}
			shrunk := -1
			for n := 0; n < tc.maxTicks+50; n++ {
				k := 8 + n
				jb.push(1, uint16(k), uint32(k*FrameSamples), PayloadPCMU, payload, time.Duration(k)*FrameDuration)
				jb.pop(dst)
				if shrunk < 0 && jb.st.BufferDepth <= jb.target+2*FrameSamples {
					shrunk = n
				}
			}
			t.Logf("shrunk after %d ticks, %d drops", shrunk, jb.st.AdaptDrops)
			if shrunk < tc.minTicks || shrunk > tc.maxTicks || jb.st.AdaptDrops == 0 {
				t.Errorf("depth %v after %d ticks (drops %d); want ≤ target+40ms after %d..%d ticks",
					samplesToDuration(jb.st.BufferDepth), shrunk, jb.st.AdaptDrops, tc.minTicks, tc.maxTicks)
			}
		})
	}
}

// delivery is a frame handed to the reader and when, in trace milliseconds.
type delivery struct{ k, atMs int }

// runTraceEarly is runTrace with early release, as the leg runs it: after
// each push every frame that popEarly hands out is delivered at the
// packet's arrival, and each tick runs popClock, delivering its frame only
// when it was not released early. It returns the real frames delivered,
// the number of all frames delivered, and the statistics.
func runTraceEarly(t *testing.T, cfg traceConfig, pkts []tracePacket) ([]delivery, int, jitterStats) {
	t.Helper()
	jb := newJitterBuffer(cfg.min, cfg.max)
	sort.SliceStable(pkts, func(i, j int) bool {
		return pkts[i].k*20+pkts[i].delayMs < pkts[j].k*20+pkts[j].delayMs
	})
	payload := make([]byte, FrameSamples)
	dst := make([]int16, FrameSamples)
	var got []delivery
	total := 0
	next := 0
	for n := range cfg.ticks {
		now := n*20 + 10
		for next < len(pkts) && pkts[next].k*20+pkts[next].delayMs <= now {
			p := pkts[next]
			next++
			for i := range payload {
				payload[i] = frameByte(p.k)
			}
			ssrc, seq, ts := cfg.ssrc, cfg.seq0+uint16(p.k), cfg.ts0+uint32(p.k*FrameSamples)
			if p.ssrc != 0 {
				ssrc, seq, ts = p.ssrc, seq+30000, ts+123456789
			}
			at := p.k*20 + p.delayMs
			jb.push(ssrc, seq, ts, PayloadPCMU, payload, time.Duration(at)*time.Millisecond)
			for jb.popEarly(dst) {
				total++
				if k := frameOf(dst, 120); k >= 0 {
					got = append(got, delivery{k, at})
				}
			}
		}
		released := jb.clockReleased()
		jb.popClock(dst)
		if !released {
			total++
			if k := frameOf(dst, 120); k >= 0 {
				got = append(got, delivery{k, now})
			}
		}
		for jb.popEarly(dst) {
			total++
			if k := frameOf(dst, 120); k >= 0 {
				got = append(got, delivery{k, now})
			}
		}
	}
	return got, total, jb.st
}

// TestJitterBufferEarlyReleaseKeepsTheClocksFrames holds early release to
// the playout clock it shortcuts: over reordering, duplicates, loss, late
// packets and wraps, the reader gets the clock's frames in the clock's
// order, each no later than the clock would have played it and most of
// them on arrival, a frame for every tick but the clock's lead, and the
// buffer keeps the same statistics. Across an SSRC change it keeps the old
// source's last frames, which the clock dropped with the reset.
func TestJitterBufferEarlyReleaseKeepsTheClocksFrames(t *testing.T) {
	base := traceConfig{seq0: 1000, ts0: 5000, ssrc: 7, min: 40 * time.Millisecond, max: 200 * time.Millisecond, ticks: 60}
	wrapTs := base
	wrapTs.ts0 = 0xffffffff - 3*FrameSamples
	jittery := func() []tracePacket {
		rng := rand.New(rand.NewPCG(9, 10))
		p := steady(0, 50)
		for i := range p {
			p[i].delayMs = 2 + rng.IntN(30)
		}
		return p
	}
	newSource := steady(0, 50)
	for i := range newSource {
		if newSource[i].k >= 25 {
			newSource[i].ssrc = 99
		}
	}
	for _, tc := range []struct {
		name  string
		cfg   traceConfig
		pkts  []tracePacket
		extra []int // frames delivered early that the clock never played
	}{
		{name: "in order", cfg: base, pkts: steady(0, 50)},
		{name: "reordered", cfg: base, pkts: withDelay(steady(0, 50), 10, 35)},
		{name: "duplicates", cfg: base, pkts: append(steady(0, 50), tracePacket{k: 20, delayMs: 15}, tracePacket{k: 21, delayMs: 8})},
		{name: "lost packet", cfg: base, pkts: without(steady(0, 50), 25)},
		{name: "burst loss", cfg: base, pkts: without(steady(0, 50), 20, 21, 22, 23)},
		{name: "very late packet", cfg: base, pkts: withDelay(steady(0, 50), 30, 400)},
		{name: "jitter up to 30 ms", cfg: base, pkts: jittery()},
		{name: "timestamp wraps", cfg: wrapTs, pkts: steady(0, 50)},
		{name: "SSRC change", cfg: base, pkts: newSource, extra: []int{23, 24}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock, clockAt, clockSt := runTraceTimed(t, tc.cfg, slices.Clone(tc.pkts))
			early, total, st := runTraceEarly(t, tc.cfg, slices.Clone(tc.pkts))
			var ks []int
			onArrival := 0
			for _, d := range early {
				ks = append(ks, d.k)
				if (d.atMs-10)%20 != 0 {
					onArrival++
				}
			}
			want := slices.Clone(clock)
			want = append(want, tc.extra...)
			slices.Sort(want)
			if !slices.Equal(ks, want) {
				t.Fatalf("delivered %v\nclock     %v", ks, clock)
			}
			for _, d := range early {
				if i := slices.Index(clock, d.k); i >= 0 && d.atMs > clockAt[i] {
					t.Fatalf("frame %d delivered at %d ms, the clock played it at %d ms", d.k, d.atMs, clockAt[i])
				}
			}
			if onArrival < len(early)*3/4 {
				t.Errorf("%d of %d frames delivered on arrival, want most", onArrival, len(early))
			}
			// All but the clock's lead (its delay, 2 frames here) before
			// the stream and before a talkspurt that resumes after a gap.
			if total < tc.cfg.ticks-4 {
				t.Errorf("%d frames delivered over %d ticks", total, tc.cfg.ticks)
			}
			if st.Late != clockSt.Late || st.Duplicates != clockSt.Duplicates || st.Concealed != clockSt.Concealed ||
				st.Reordered != clockSt.Reordered || st.AdaptDrops != clockSt.AdaptDrops {
				t.Errorf("stats %+v\nclock %+v", st, clockSt)
			}
		})
	}
}

// TestLegBurstWaitsForTheReaderInsteadOfOverrunning sends a burst of
// packets at once, as after a network stall: early release must hold
// frames in the jitter buffer while the playout queue is full, so the
// reader gets every frame in order, none dropped as an overrun.
func TestLegBurstWaitsForTheReaderInsteadOfOverrunning(t *testing.T) {
	l := detachedLeg(t)
	const frames = 3 * playoutFrames
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	pkt[0], pkt[1] = 0x80, PayloadPCMU
	binary.BigEndian.PutUint32(pkt[8:], 0x1234)
	src := netip.AddrPortFrom(loopback, 4000)
	now := time.Unix(1_700_000_000, 0)
	for k := range frames {
		binary.BigEndian.PutUint16(pkt[2:], uint16(100+k))
		binary.BigEndian.PutUint32(pkt[4:], uint32(8000+k*FrameSamples))
		for i := rtpHeaderLen; i < len(pkt); i++ {
			pkt[i] = frameByte(k)
		}
		l.recv.handlePacket(pkt, src, now)
	}
	dst := make([]int16, FrameSamples)
	var got []int
	// The reader takes what is queued, then the clock ticks (which lets
	// early release run up to the jitter buffer's maximum delay ahead).
	for range frames {
		for l.recv.takePlayout(dst) {
			if k := frameOf(dst, 120); k >= 0 {
				got = append(got, k)
			}
		}
		l.recv.tickPlayout()
	}
	if want := seqRange(0, frames); !slices.Equal(got, want) {
		t.Errorf("read %v\nwant %v", got, want)
	}
	if l.recv.rx.overruns != 0 {
		t.Errorf("%d overruns", l.recv.rx.overruns)
	}
}
