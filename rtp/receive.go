package rtp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Symmetric RTP (RFC 4961 practice): the leg sends to where the peer's
// packets come from. A new source takes over after relatchPackets
// consecutive packets if it carries the current SSRC, or if the latched
// source has been silent for relatchSilence (the peer moved and restarted).
const (
	relatchPackets = 3
	relatchSilence = time.Second
	// badLogEvery rate-limits debug logs about bad packets.
	badLogEvery = time.Second
)

// payloadCN is the static payload type of comfort noise (RFC 3389).
const payloadCN = 13

// receiver is the receive side of a leg: validation, latching, jitter
// buffer, DTMF detection, RTCP reception and the playout queue.
type receiver struct {
	mu  sync.Mutex
	leg *Leg
	pkt rtp.Packet // reused for parsing

	jb     *jitterBuffer
	dtmfRx dtmfReceiver
	dtmfPT uint8

	latched     bool
	latchAddr   netip.AddrPort
	candAddr    netip.AddrPort
	candCount   int
	lastLatched time.Duration  // arrival of the last packet from latchAddr
	prevAddr    netip.AddrPort // latched source before a re-INVITE moved the peer

	rtcpRemote netip.AddrPort // source of the peer's RTCP, if seen
	muxSeen    atomic.Bool    // peer sends RTCP on the RTP port
	rr         rtcpReceiver

	playout [playoutFrames][FrameSamples]int16
	readyAt [playoutFrames]time.Time // when each queued frame became ready
	pHead   int
	pLen    int
	discard [FrameSamples]int16 // the clock's copy of frames released early

	rx         rxCounters
	sendErrors atomic.Int64 // counted under the leg's sendMu, so not under mu
	lastBadLog time.Time
	badSince   int64
}

// rxCounters are receive statistics.
type rxCounters struct {
	packets, payloadBytes, invalid, unknownPT, foreign, dtmfDigits int64
	dtmfDropped, overruns, relatches                               int64
}

func (r *receiver) init(l *Leg, cfg Config) {
	r.leg = l
	r.jb = newJitterBuffer(cfg.JitterMin, cfg.JitterMax)
	// Room for the most CSRCs and extensions a header can carry, so
	// parsing never grows these slices.
	r.pkt.CSRC = make([]uint32, 0, 15)
	r.pkt.Extensions = make([]rtp.Extension, 0, 16)
}

// readRTPLoop is the leg's one goroutine on the RTP socket, portable
// version: Go's read costs two system calls per packet (the read, then the
// one that finds the socket empty before parking).
func (l *Leg) readRTPLoop() {
	defer l.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, src, err := l.rtpConn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			l.deliverClockFrames() // woken by the playout clock
			continue
		}
		if err != nil {
			if !l.readFailed(err) {
				return
			}
			continue
		}
		l.recv.handlePacket(buf[:n], src, time.Now())
		l.deliverFrames()
	}
}

// readFailed decides whether a reader goes on after a socket error. A
// transient error (an ICMP report surfacing on the socket) is retried after
// a pause so that a persistent one cannot spin the goroutine.
func (l *Leg) readFailed(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	select {
	case <-l.closed:
		return false
	case <-time.After(time.Millisecond):
		return true
	}
}

// handlePacket processes one datagram from the RTP port. Nothing in buf is
// trusted: every malformed packet is dropped and counted.
func (r *receiver) handlePacket(buf []byte, src netip.AddrPort, now time.Time) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if isRTCP(buf) {
		r.handleRTCP(buf, src, now, true)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if buf = r.unprotectRTP(buf, src, now); buf == nil {
		return
	}
	if len(buf) < rtpHeaderLen || buf[0]>>6 != 2 {
		r.bad("rtp packet too short or not version 2", src, now)
		return
	}
	if err := r.pkt.Unmarshal(buf); err != nil {
		r.bad("rtp packet malformed", src, now)
		return
	}
	p := &r.pkt
	pt := p.PayloadType
	isDTMF := r.dtmfPT != 0 && pt == r.dtmfPT
	isCN := pt == payloadCN
	if !isDTMF && !isCN && !IsAudioPayload(pt) {
		r.rx.unknownPT++
		r.bad("rtp payload type not negotiated", src, now)
		return
	}
	arrival := now.Sub(r.leg.epoch)
	if !r.acceptSource(src, p.SSRC, arrival) {
		return
	}
	r.leg.lastRecv.Store(now.UnixNano())
	r.rx.packets++
	r.rx.payloadBytes += int64(len(p.Payload))
	if out := r.dtmfRx.expire(now); out.n > 0 {
		r.emitDTMF(out)
	}
	if isCN {
		// Comfort noise keeps the stream (and the media timeout) alive;
		// playout conceals and then plays silence, which is close enough
		// for speech recognition.
		r.jb.trackSeq(p.SSRC, p.SequenceNumber)
		return
	}
	if !isDTMF {
		r.jb.push(p.SSRC, p.SequenceNumber, p.Timestamp, pt, p.Payload, arrival)
		if b := r.leg.obs.Load(); b != nil {
			b.o.RTPReceived(now, p.SequenceNumber, p.Timestamp)
		}
		// With a frame handler the reader delivers after this batch
		// of packets, on this goroutine: nobody waits on readyCh.
		if r.releaseEarly(now) && r.leg.onFrame.Load() == nil {
			signal(r.leg.readyCh)
		}
		return
	}
	fresh, _, _ := r.jb.trackSeq(p.SSRC, p.SequenceNumber)
	if !fresh {
		return
	}
	ev, err := parseDTMF(p.Payload)
	if err != nil {
		r.bad("telephone-event payload short", src, now)
		return
	}
	r.emitDTMF(r.dtmfRx.receive(p.Timestamp, ev, now))
}

// acceptSource latches the send address to the peer's source address and
// decides whether a packet from src belongs to the call.
func (r *receiver) acceptSource(src netip.AddrPort, ssrc uint32, arrival time.Duration) bool {
	switch {
	case !r.latched && src == r.prevAddr:
		// After a re-INVITE moved the peer, packets still in flight
		// from the old address must not win the latch; the old address
		// keeps it only if it goes on sending.
		if r.countCandidate(src) < relatchPackets {
			r.rx.foreign++
			return false
		}
		r.latch(src, arrival)
		return true
	case !r.latched:
		r.latch(src, arrival)
		return true
	case src == r.latchAddr:
		r.lastLatched = arrival
		r.candCount = 0
		return true
	}
	r.countCandidate(src)
	sameStream := r.jb.st.HaveSource && ssrc == r.jb.st.SSRC
	silent := arrival-r.lastLatched > relatchSilence
	if r.candCount >= relatchPackets && (sameStream || silent) {
		r.rx.relatches++
		r.latch(src, arrival)
		return true
	}
	r.rx.foreign++
	return false
}

// countCandidate counts consecutive packets from a source that is not
// latched and returns the count.
func (r *receiver) countCandidate(src netip.AddrPort) int {
	if src == r.candAddr {
		r.candCount++
	} else {
		r.candAddr, r.candCount = src, 1
	}
	return r.candCount
}

func (r *receiver) latch(src netip.AddrPort, arrival time.Duration) {
	if r.latched && r.latchAddr != src {
		r.leg.log.Info("rtp source moved", "from", r.latchAddr, "to", src)
	}
	r.latched = true
	r.latchAddr = src
	r.prevAddr = netip.AddrPort{}
	r.lastLatched = arrival
	r.candCount = 0
	r.leg.sendMu.Lock()
	r.leg.dest = src
	r.leg.sendMu.Unlock()
}

// unlatch forgets the latched source after the peer announced a new address.
// Called with r.mu and the leg's sendMu held.
func (r *receiver) unlatch() {
	if r.latched {
		r.prevAddr = r.latchAddr
	}
	r.latched = false
	r.candCount = 0
	r.rtcpRemote = netip.AddrPort{}
}

func (r *receiver) emitDTMF(out dtmfOut) {
	for i := 0; i < out.n; i++ {
		select {
		case r.leg.dtmfCh <- out.ev[i]:
			r.rx.dtmfDigits++
		default:
			r.rx.dtmfDropped++
		}
	}
}

// handleRTCP processes one RTCP compound packet from the RTCP port or, with
// mux, from the RTP port.
func (r *receiver) handleRTCP(buf []byte, src netip.AddrPort, now time.Time, mux bool) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	r.leg.sendMu.Lock()
	ours := r.leg.ssrc
	r.leg.sendMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	// Once latched, only RTCP from the peer's host counts, so a stray
	// sender can neither fake a BYE nor steer where our reports go.
	if r.latched && src.Addr() != r.latchAddr.Addr() {
		r.rx.foreign++
		return
	}
	if buf = r.unprotectRTCP(buf, src, now); buf == nil {
		return
	}
	if !r.rr.handle(buf, ours, now) {
		r.bad("rtcp packet malformed", src, now)
		return
	}
	r.rtcpRemote = src
	if mux {
		r.muxSeen.Store(true)
	}
}

// rtcpDest is where reports go: the peer's RTCP source if seen, else the
// RTP destination (rtcp-mux) or its port+1. Called with r.mu held.
func (r *receiver) rtcpDest(rtpDest netip.AddrPort) netip.AddrPort {
	if r.rtcpRemote.IsValid() {
		return r.rtcpRemote
	}
	if !rtpDest.IsValid() {
		return rtpDest
	}
	if r.muxSeen.Load() {
		return rtpDest
	}
	return netip.AddrPortFrom(rtpDest.Addr(), rtpDest.Port()+1)
}

// reportBlock returns the reception report about the peer, nil before any
// packet. Called with r.mu held.
func (r *receiver) reportBlock(now time.Time) *rtcp.ReceptionReport {
	if !r.jb.st.HaveSource {
		return nil
	}
	b := receptionBlock(&r.jb.st, r.jb.lost(), &r.rr, now)
	return &b
}

// tickPlayout runs the playout clock for one frame. A frame the jitter
// buffer released on arrival is not queued again, so in a steady stream
// the tick wakes no reader: readers run when their packets arrive, spread
// over the frame as the packets are, not in the pacer's bursts. The tick
// queues what the clock makes on its own — concealment of a late or lost
// packet, silence before the first one — so a reader still gets a frame
// every 20 ms when packets stop.
func (r *receiver) tickPlayout() {
	r.mu.Lock()
	woke := false
	if r.jb.clockReleased() {
		r.jb.popClock(r.discard[:])
	} else {
		// Only here does the tick read the clock: a steady stream
		// never gets this far.
		now := time.Now()
		r.jb.popClock(r.playoutSlot(now)[:])
		r.pLen++
		woke = true
	}
	// Frames held back behind a hole the clock has now concealed.
	if r.pLen < playoutFrames && r.jb.earlyReady() {
		woke = r.releaseEarly(time.Now()) || woke
	}
	r.mu.Unlock()
	if woke {
		r.leg.wakeReader()
	}
}

// releaseEarly queues every frame the jitter buffer can release before its
// clock, while the playout queue has room, and reports whether there was
// one; at is when they became ready. A burst of packets (after a network
// stall) thus waits in the jitter buffer until the reader takes frames
// (takePlayout refills the queue) instead of overrunning the queue: only
// frames the clock makes on its own overrun a reader that does not keep up.
// Called with r.mu held.
func (r *receiver) releaseEarly(at time.Time) bool {
	n := 0
	for r.pLen < playoutFrames && r.jb.earlyReady() {
		r.jb.popEarly(r.playoutSlot(at)[:])
		r.pLen++
		n++
	}
	return n > 0
}

// playoutSlot returns the playout queue's next free slot, stamped ready at
// at; when the reader has fallen behind, its oldest frame is dropped to make
// room. Called with r.mu held; the caller fills the slot and counts it in
// pLen.
func (r *receiver) playoutSlot(at time.Time) *[FrameSamples]int16 {
	if r.pLen == playoutFrames {
		r.pHead = (r.pHead + 1) % playoutFrames
		r.pLen--
		r.rx.overruns++
	}
	i := (r.pHead + r.pLen) % playoutFrames
	r.readyAt[i] = at
	return &r.playout[i]
}

// takePlayout copies the oldest playout frame into dst if there is one.
func (r *receiver) takePlayout(dst []int16) bool {
	_, ok := r.takeFrame(dst)
	return ok
}

// takeFrame copies the oldest playout frame into dst and returns when it
// became ready, if there is one.
func (r *receiver) takeFrame(dst []int16) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pLen == 0 {
		return time.Time{}, false
	}
	copy(dst, r.playout[r.pHead][:])
	at := r.readyAt[r.pHead]
	r.pHead = (r.pHead + 1) % playoutFrames
	r.pLen--
	// Frames held back while the queue was full become ready now; the
	// check first spares a steady stream the clock read.
	if r.jb.earlyReady() {
		r.releaseEarly(time.Now())
	}
	return at, true
}

// bad counts a dropped packet and logs at debug level, at most once per
// badLogEvery. Called with r.mu held.
func (r *receiver) bad(reason string, src netip.AddrPort, now time.Time) {
	r.rx.invalid++
	r.badSince++
	if now.Sub(r.lastBadLog) < badLogEvery {
		return
	}
	if r.leg.log.Enabled(context.Background(), slog.LevelDebug) {
		r.leg.log.Debug("rtp packets dropped", "reason", reason, "source", src, "count", r.badSince)
	}
	r.lastBadLog = now
	r.badSince = 0
}

// noteSendError counts a failed send; the socket may be closing. It takes
// no lock because callers hold sendMu.
func (r *receiver) noteSendError(err error) {
	if errors.Is(err, net.ErrClosed) {
		return
	}
	r.sendErrors.Add(1)
}
