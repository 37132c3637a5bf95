package rtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// playoutFrames is how many decoded frames wait for ReadFrame; beyond it the
// oldest is overwritten, so a reader that pauses gets fresh audio back.
const playoutFrames = 5

// maxPacket is the largest datagram the leg reads or writes.
const maxPacket = 1500

// Leg is the RTP media of one call: it sends queued frames, plays received
// audio out through a jitter buffer, and exchanges DTMF and RTCP with one
// peer. It is safe for one goroutine calling ReadFrame, one calling
// WriteFrame and others calling SetRemote, SetHold, Stats and the rest.
type Leg struct {
	callID string
	eng    *Engine
	shard  *pacerShard
	slot   int // the shard's phase slot, guarded by shard.mu
	log    *slog.Logger
	port   int
	local  netip.AddrPort
	epoch  time.Time // monotonic origin of arrival times

	rtpConn, rtcpConn *net.UDPConn
	closeOnce         sync.Once
	closed            chan struct{}
	wg                sync.WaitGroup
	dtmfCh            chan DTMFEvent
	dtmfSem           chan struct{} // one SendDTMF at a time
	spaceCh           chan struct{} // signalled when the output queue drains
	readyCh           chan struct{} // signalled when a playout frame is ready

	lastRecv atomic.Int64 // unix ns of the last valid RTP packet
	obs      atomic.Pointer[observerBox]
	onHold   atomic.Bool

	// Who takes the playout frames: ReadFrame or a frame handler, chosen
	// once (consumer) and then fixed.
	consumer atomic.Int32
	onFrame  atomic.Pointer[frameHandler]
	handBuf  [FrameSamples]int16 // the handler's frame; reader goroutine only

	// Send side, guarded by sendMu. Lock order: recv.mu before sendMu.
	sendMu    sync.Mutex
	ssrc      uint32
	seq       uint16
	ts        uint32
	sendPT    uint8
	havePT    bool
	dtmfPT    uint8
	sdpRemote netip.AddrPort
	dest      netip.AddrPort // latched or SDP address
	markNext  bool
	queue     [][FrameSamples]int16
	qHead     int
	qLen      int
	pkt       [maxPacket]byte
	hdr       rtp.Header
	dtmfTx    dtmfSender
	tx        txCounters
	nextRTCP  time.Time
	rtcpBase  time.Duration
	cname     string // random per leg (RFC 7022), so it reveals nothing

	recv     receiver   // receive side, guarded by recv.mu
	srtp     srtpLeg    // SRTP contexts, see srtp.go
	rtcpPoll rtcpPoller // used by the pacer only
}

// txCounters are send statistics.
type txCounters struct {
	packets, payloadBytes, dtmfDigits, rtcpSent int64
	packetsAtReport                             int64
}

func newLeg(e *Engine, callID string, port int, rtpConn, rtcpConn *net.UDPConn) *Leg {
	cfg := e.cfg
	l := &Leg{
		callID:   callID,
		eng:      e,
		port:     port,
		log:      cfg.Logger.With("call_id", callID, "rtp_port", port),
		epoch:    time.Now(),
		rtpConn:  rtpConn,
		rtcpConn: rtcpConn,
		closed:   make(chan struct{}),
		dtmfCh:   make(chan DTMFEvent, 16),
		dtmfSem:  make(chan struct{}, 1),
		spaceCh:  make(chan struct{}, 1),
		readyCh:  make(chan struct{}, 1),
		ssrc:     rand.Uint32(),
		seq:      uint16(rand.Uint32()),
		ts:       rand.Uint32(),
		markNext: true,
		queue:    make([][FrameSamples]int16, cfg.OutputFrames),
		rtcpBase: cfg.RTCPInterval,
		cname:    fmt.Sprintf("%016x@waihu", rand.Uint64()),
	}
	l.local = netip.AddrPortFrom(e.advertisedIP(), uint16(port))
	l.nextRTCP = l.epoch.Add(rtcpInterval(cfg.RTCPInterval))
	l.recv.init(l, cfg)
	return l
}

// start launches the RTP reader and prepares RTCP reading.
func (l *Leg) start() error {
	if err := l.startRTCP(); err != nil {
		return fmt.Errorf("read RTCP socket of call %q: %w", l.callID, err)
	}
	l.wg.Add(1)
	go l.readRTP()
	return nil
}

// CallID returns the call ID the leg was created with.
func (l *Leg) CallID() string { return l.callID }

// LocalAddr returns the address and RTP port to write into SDP; RTCP is on
// the next port.
func (l *Leg) LocalAddr() netip.AddrPort { return l.local }

// SetRemote sets the peer's address and codecs from SDP. payloadType is
// PayloadPCMU or PayloadPCMA; dtmfPayloadType is the telephone-event payload
// type, 0 for none. It may be called again mid-call (re-INVITE): sequence
// numbers and timestamps continue, and a new address restarts latching.
func (l *Leg) SetRemote(addr netip.AddrPort, payloadType uint8, dtmfPayloadType uint8) error {
	if !IsAudioPayload(payloadType) {
		return fmt.Errorf("set remote of call %q: payload type %d is not PCMU (0) or PCMA (8)", l.callID, payloadType)
	}
	// Dynamic types (96-127) are the norm, but old devices use others;
	// reject only what cannot work: a G.711 type, more than 7 bits, or
	// 72-76, which look like RTCP on a multiplexed port (RFC 5761 §4).
	if dtmfPayloadType == PayloadPCMA || dtmfPayloadType > 127 || (dtmfPayloadType >= 72 && dtmfPayloadType <= 76) {
		return fmt.Errorf("set remote of call %q: telephone-event payload type %d is unusable", l.callID, dtmfPayloadType)
	}
	if !addr.IsValid() || addr.Port() == 0 {
		return fmt.Errorf("set remote of call %q: address %v has no port", l.callID, addr)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if addr.Addr().Is6() && l.eng.cfg.BindIP.Is4() {
		return fmt.Errorf("set remote of call %q: IPv6 address %v but media is bound to IPv4 %v", l.callID, addr, l.eng.cfg.BindIP)
	}
	l.recv.mu.Lock()
	defer l.recv.mu.Unlock()
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	moved := l.sdpRemote.IsValid() && l.sdpRemote != addr
	if moved {
		l.recv.unlatch()
	}
	l.sdpRemote = addr
	if !l.recv.latched {
		l.dest = addr
	}
	l.sendPT = payloadType
	l.havePT = true
	l.dtmfPT = dtmfPayloadType
	l.recv.dtmfPT = dtmfPayloadType
	l.log.Debug("rtp remote set", "remote", addr, "codec", CodecName(payloadType),
		"dtmf_pt", dtmfPayloadType, "moved", moved)
	return nil
}

// SetHold stops (true) or resumes (false) sending. While on hold the media
// timeout is suspended: LastReceived reports the current time.
func (l *Leg) SetHold(onHold bool) {
	if !onHold {
		// Resume the media timeout from now, not from before the hold.
		l.lastRecv.Store(time.Now().UnixNano())
	}
	l.onHold.Store(onHold)
	l.sendMu.Lock()
	l.markNext = true
	l.sendMu.Unlock()
}

// LastReceived returns when the last valid RTP packet arrived, the zero time
// if none did, and the current time while on hold.
func (l *Leg) LastReceived() time.Time {
	if l.onHold.Load() {
		return time.Now()
	}
	ns := l.lastRecv.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// ReadFrame waits for the next 20 ms playout frame and copies it into dst,
// which must hold FrameSamples samples. A frame is ready as soon as its
// packet has arrived and every frame before it has been played, so the
// caller's per-frame work runs on arrival; missing audio is concealed, then
// silence, on the jitter buffer's playout clock, so frames keep coming in
// real time when packets stop.
//
// ReadFrame and OnFrame are two ways to take the same frames and exclude
// each other: after OnFrame, ReadFrame returns ErrFrameConsumer.
func (l *Leg) ReadFrame(ctx context.Context, dst []int16) error {
	if len(dst) < FrameSamples {
		return fmt.Errorf("read frame of call %q: buffer of %d samples, need %d", l.callID, len(dst), FrameSamples)
	}
	if l.consumer.Load() != consumerRead && !l.consumer.CompareAndSwap(consumerNone, consumerRead) {
		return fmt.Errorf("read frame of call %q: %w", l.callID, ErrFrameConsumer)
	}
	for {
		select {
		case <-l.closed:
			return fmt.Errorf("read frame of call %q: %w", l.callID, ErrClosed)
		default:
		}
		if l.recv.takePlayout(dst) {
			return nil
		}
		select {
		case <-l.readyCh:
		case <-ctx.Done():
			return fmt.Errorf("read frame of call %q: %w", l.callID, ctx.Err())
		case <-l.closed:
			return fmt.Errorf("read frame of call %q: %w", l.callID, ErrClosed)
		}
	}
}

// Who takes a leg's playout frames; see ReadFrame and OnFrame.
const (
	consumerNone int32 = iota
	consumerRead
	consumerHandler
)

// ErrFrameConsumer means a leg's frames already go elsewhere: ReadFrame
// after OnFrame, or OnFrame after ReadFrame or a second OnFrame.
var ErrFrameConsumer = errors.New("rtp: the leg's frames already have a consumer")

// frameHandler lets a func live behind an atomic.Pointer.
type frameHandler struct {
	fn func(frame []int16, at time.Time)
}

// OnFrame makes the leg hand every playout frame to fn on the leg's own
// reader goroutine, instead of queueing it for ReadFrame: the frames
// ReadFrame would return, in the same order — each as soon as its packet
// has arrived, and the playout clock's concealment and silence when
// packets are late or stop, so fn keeps being called every 20 ms. at is
// when the frame became ready: its packet's arrival, or the clock's tick
// for a frame the clock made.
//
// This spares a consumer whose per-frame work is short (analysis, a
// WriteFrame of the answer) its own goroutine, and so a goroutine wake-up
// and a hand-off of the frame per frame; ReadFrame remains the way for work
// that may block.
//
// frame is valid only during the call and must not be kept. Calls are
// sequential, never concurrent. While fn runs the leg reads nothing, so it
// must return well within a frame; it may call WriteFrame, ClearOutput,
// Stats and the like, but not Close, which waits for the reader goroutine
// that is running fn. Sending is not affected: the pacer never waits for
// fn. Frames queued before OnFrame go to fn first. Once Close has begun no
// new call starts, and Close returns after a call in progress ends.
//
// OnFrame may be called once per leg, and not after ReadFrame: otherwise
// it returns ErrFrameConsumer.
func (l *Leg) OnFrame(fn func(frame []int16, at time.Time)) error {
	if fn == nil {
		return fmt.Errorf("set frame handler of call %q: nil func", l.callID)
	}
	select {
	case <-l.closed:
		return fmt.Errorf("set frame handler of call %q: %w", l.callID, ErrClosed)
	default:
	}
	if !l.consumer.CompareAndSwap(consumerNone, consumerHandler) {
		return fmt.Errorf("set frame handler of call %q: %w", l.callID, ErrFrameConsumer)
	}
	l.onFrame.Store(&frameHandler{fn: fn})
	// Frames may already be queued with nobody to wake for them.
	l.wakeReader()
	return nil
}

// wakeReader tells whoever takes the frames that one is queued. A
// ReadFrame caller waits on readyCh; the reader goroutine that runs a
// frame handler is parked in the socket's poller, so an expired read
// deadline is what wakes it (deliverClockFrames). Only frames the playout
// clock makes come this way: early-released ones are delivered by the
// reader that queued them.
func (l *Leg) wakeReader() {
	if l.onFrame.Load() == nil {
		signal(l.readyCh)
		return
	}
	if l.rtpConn != nil {
		l.rtpConn.SetReadDeadline(pastDeadline)
	}
}

// pastDeadline is a read deadline that has always expired.
var pastDeadline = time.Unix(1, 0)

// deliverFrames runs the frame handler, if there is one, on every queued
// playout frame, oldest first, on the reader goroutine. The receive lock is
// not held while the handler runs, so a slow handler never holds up the
// pacer's playout tick or RTCP.
func (l *Leg) deliverFrames() {
	h := l.onFrame.Load()
	if h == nil {
		return
	}
	for {
		select {
		case <-l.closed:
			return
		default:
		}
		at, ok := l.recv.takeFrame(l.handBuf[:])
		if !ok {
			return
		}
		h.fn(l.handBuf[:], at)
	}
}

// deliverClockFrames is the reader's answer to wakeReader's expired
// deadline: clear it first, so a wake-up after this point expires the next
// read instead of being lost, then deliver.
func (l *Leg) deliverClockFrames() {
	l.rtpConn.SetReadDeadline(time.Time{})
	l.deliverFrames()
}

// WriteFrame queues src (FrameSamples samples) for sending. It blocks while
// the queue is full, until a frame is sent, ctx ends or the leg closes.
//
// When the queue runs empty the leg sends encoded silence and its clock
// keeps running, so the peer sees one continuous stream: trunks that drop
// calls on RTP inactivity, NAT bindings and the peer's own latching all
// rely on it.
func (l *Leg) WriteFrame(ctx context.Context, src []int16) error {
	if len(src) != FrameSamples {
		return fmt.Errorf("write frame of call %q: %d samples, need %d", l.callID, len(src), FrameSamples)
	}
	for {
		select {
		case <-l.closed:
			return fmt.Errorf("write frame of call %q: %w", l.callID, ErrClosed)
		default:
		}
		l.sendMu.Lock()
		if l.qLen < len(l.queue) {
			copy(l.queue[(l.qHead+l.qLen)%len(l.queue)][:], src)
			l.qLen++
			l.sendMu.Unlock()
			return nil
		}
		l.sendMu.Unlock()
		select {
		case <-l.spaceCh:
		case <-ctx.Done():
			return fmt.Errorf("write frame of call %q: %w", l.callID, ctx.Err())
		case <-l.closed:
			return fmt.Errorf("write frame of call %q: %w", l.callID, ErrClosed)
		}
	}
}

// ClearOutput drops all queued outbound audio at once, for barge-in.
func (l *Leg) ClearOutput() {
	l.sendMu.Lock()
	l.qHead, l.qLen = 0, 0
	l.sendMu.Unlock()
	signal(l.spaceCh)
}

// DTMF returns the digits received as RFC 4733 events, each once. The
// channel is closed when the leg closes; digits are dropped if nobody reads.
func (l *Leg) DTMF() <-chan DTMFEvent { return l.dtmfCh }

// SendDTMF sends digits as RFC 4733 events, each lasting tone (default
// 100 ms, at most 5 s) followed by gap (default 50 ms). Audio is paused while
// a tone plays. It returns when all digits are sent, or early if ctx ends.
func (l *Leg) SendDTMF(ctx context.Context, digits string, tone, gap time.Duration) error {
	for _, r := range digits {
		if _, ok := dtmfEventCode(r); !ok {
			return fmt.Errorf("send DTMF %q on call %q: %w %q", digits, l.callID, ErrDTMFDigit, r)
		}
	}
	if tone <= 0 {
		tone = 100 * time.Millisecond
	}
	tone = min(max(tone, 2*FrameDuration), 5*time.Second)
	if gap <= 0 {
		gap = 50 * time.Millisecond
	}
	l.sendMu.Lock()
	pt := l.dtmfPT
	l.sendMu.Unlock()
	if pt == 0 {
		return fmt.Errorf("send DTMF on call %q: %w", l.callID, ErrNoDTMF)
	}
	select {
	case l.dtmfSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("send DTMF on call %q: %w", l.callID, ctx.Err())
	}
	defer func() { <-l.dtmfSem }()
	for i, r := range digits {
		code, _ := dtmfEventCode(r)
		done := make(chan struct{})
		l.sendMu.Lock()
		if prev := l.dtmfTx; prev.active {
			// A digit abandoned by a cancelled SendDTMF still plays
			// out with its end packets; start after it.
			l.sendMu.Unlock()
			select {
			case <-prev.done:
			case <-ctx.Done():
				return fmt.Errorf("send DTMF on call %q: %w", l.callID, ctx.Err())
			case <-l.closed:
				return fmt.Errorf("send DTMF on call %q: %w", l.callID, ErrClosed)
			}
			l.sendMu.Lock()
		}
		l.dtmfTx = dtmfSender{
			active: true,
			code:   code,
			total:  uint16(durationToSamples(tone)),
			done:   done,
		}
		l.sendMu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("send DTMF %q on call %q: %w", digits, l.callID, ctx.Err())
		case <-l.closed:
			return fmt.Errorf("send DTMF %q on call %q: %w", digits, l.callID, ErrClosed)
		}
		if i == len(digits)-1 {
			break
		}
		t := time.NewTimer(gap)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("send DTMF %q on call %q: %w", digits, l.callID, ctx.Err())
		case <-l.closed:
			t.Stop()
			return fmt.Errorf("send DTMF %q on call %q: %w", digits, l.callID, ErrClosed)
		}
	}
	return nil
}

// Close stops the leg, sends RTCP BYE, logs final statistics and releases
// its ports. It waits for the leg's goroutines to end.
func (l *Leg) Close() error {
	l.closeOnce.Do(func() {
		l.eng.release(l)
		l.sendRTCP(time.Now(), true)
		close(l.closed)
		l.rtpConn.Close()
		l.rtcpConn.Close()
		l.wg.Wait()
		close(l.dtmfCh)
		st := l.Stats()
		l.log.Info("rtp leg closed",
			"packets_sent", st.PacketsSent, "packets_received", st.PacketsReceived,
			"lost", st.PacketsLost, "late", st.Late, "duplicates", st.Duplicates,
			"concealed_frames", st.ConcealedFrames, "jitter", st.Jitter, "rtt", st.RTT,
			"invalid", st.Invalid, "remote", st.RemoteAddr, "latched", st.Latched, "srtp", l.SRTPStats())
	})
	return nil
}

// tick is called by the pacer every FrameDuration.
func (l *Leg) tick(now time.Time) {
	l.tickSend()
	l.tickRest(now)
}

// tickRest is the part of a tick after the send: playout and RTCP.
func (l *Leg) tickRest(now time.Time) {
	l.recv.tickPlayout()
	l.pollRTCP(now)
	l.sendMu.Lock()
	due := !now.Before(l.nextRTCP)
	if due {
		l.nextRTCP = now.Add(rtcpInterval(l.rtcpBase))
	}
	l.sendMu.Unlock()
	if due {
		l.sendRTCP(now, false)
	}
}

// tickSend sends one packet: a DTMF event packet while a digit plays,
// otherwise the next queued frame or encoded silence. The media clock
// advances by one frame every tick whether or not anything is sent.
func (l *Leg) tickSend() {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	ts := l.ts
	l.ts += FrameSamples
	sending := l.havePT && l.dest.IsValid() && !l.onHold.Load()
	if l.dtmfTx.active {
		p, first := l.dtmfTx.next(ts)
		if !sending {
			return
		}
		n := p.marshalTo(l.pkt[rtpHeaderLen:])
		if l.writeRTP(l.dtmfPT, l.dtmfTx.ts, first, n) && !l.dtmfTx.active {
			l.tx.dtmfDigits++
		}
		return
	}
	var frame *[FrameSamples]int16
	if l.qLen > 0 {
		frame = &l.queue[l.qHead]
		l.qHead = (l.qHead + 1) % len(l.queue)
		l.qLen--
		signal(l.spaceCh)
	}
	if !sending {
		// While on hold the queue still drains in real time, so a
		// writer is not stalled and resumes in step with the clock.
		l.markNext = true
		return
	}
	payload := l.pkt[rtpHeaderLen : rtpHeaderLen+FrameSamples]
	if frame != nil {
		encodeG711(l.sendPT, payload, frame[:])
	} else {
		fillSilence(l.sendPT, payload)
	}
	marker := l.markNext
	if l.writeRTP(l.sendPT, ts, marker, FrameSamples) {
		l.markNext = false
		if b := l.obs.Load(); b != nil {
			b.o.RTPSent(time.Now(), ts)
		}
	}
}

// skipFrames advances the media clock over frames that were never sent
// because the pacer stalled; the next packet starts a new talkspurt.
func (l *Leg) skipFrames(frames int) {
	l.sendMu.Lock()
	l.ts += uint32(frames) * FrameSamples
	l.markNext = true
	l.sendMu.Unlock()
}

// rtpHeaderLen is the size of the fixed RTP header we send (no CSRC, no
// extension).
const rtpHeaderLen = 12

// writeRTP marshals the header in front of the payload already in l.pkt and
// sends it. Called with sendMu held.
func (l *Leg) writeRTP(pt uint8, ts uint32, marker bool, payloadLen int) bool {
	if !l.marshalHeader(pt, ts, marker) {
		return false
	}
	out, ok := l.protectRTP(l.pkt[:rtpHeaderLen+payloadLen])
	if !ok {
		return false
	}
	if _, err := l.rtpConn.WriteToUDPAddrPort(out, l.dest); err != nil {
		l.recv.noteSendError(err)
		return false
	}
	l.seq++
	l.tx.packets++
	l.tx.payloadBytes += int64(payloadLen)
	return true
}

// marshalHeader writes the RTP header for the next packet into l.pkt.
// Called with sendMu held.
func (l *Leg) marshalHeader(pt uint8, ts uint32, marker bool) bool {
	l.hdr = rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: l.seq,
		Timestamp:      ts,
		SSRC:           l.ssrc,
	}
	_, err := l.hdr.MarshalTo(l.pkt[:rtpHeaderLen])
	return err == nil
}

// fillSilence writes the G.711 code of a zero sample.
func fillSilence(pt uint8, dst []byte) {
	b := byte(0xff) // µ-law zero
	if pt == PayloadPCMA {
		b = 0xd5 // A-law zero (even bits inverted)
	}
	for i := range dst {
		dst[i] = b
	}
}

// signal wakes a waiter on a 1-buffered channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sendRTCP sends a report (and BYE when closing) to the peer's RTCP address.
func (l *Leg) sendRTCP(now time.Time, bye bool) {
	l.recv.mu.Lock()
	blockPtr := l.recv.reportBlock(now)
	l.sendMu.Lock()
	dest := l.recv.rtcpDest(l.dest)
	si := senderInfo{
		ssrc:        l.ssrc,
		sentSince:   l.tx.packets > l.tx.packetsAtReport,
		rtpTime:     l.ts,
		packetCount: uint32(l.tx.packets),
		octetCount:  uint32(l.tx.payloadBytes),
	}
	l.tx.packetsAtReport = l.tx.packets
	l.sendMu.Unlock()
	l.recv.mu.Unlock()
	if !dest.IsValid() {
		return
	}
	buf, err := buildReport(si, blockPtr, l.cname, bye, now)
	if err != nil {
		l.log.Debug("rtcp report not built", "err", err)
		return
	}
	if buf = l.protectRTCP(buf); buf == nil {
		return
	}
	conn := l.rtcpConn
	if l.recv.muxSeen.Load() {
		conn = l.rtpConn
	}
	if _, err := conn.WriteToUDPAddrPort(buf, dest); err != nil {
		l.recv.noteSendError(err)
		return
	}
	l.sendMu.Lock()
	l.tx.rtcpSent++
	l.sendMu.Unlock()
}

// advertisedIP is the address LocalAddr reports.
func (e *Engine) advertisedIP() netip.Addr {
	if e.cfg.ExternalIP.IsValid() {
		return e.cfg.ExternalIP
	}
	if !e.cfg.BindIP.IsUnspecified() {
		return e.cfg.BindIP
	}
	return e.defaultIP
}
