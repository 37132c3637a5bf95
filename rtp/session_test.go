package rtp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rawRTP marshals an RTP packet with a PCMU payload.
func rawRTPPacket(t testing.TB, pt uint8, seq uint16, ts, ssrc uint32, payloadLen int) []byte {
	t.Helper()
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc},
		Payload: make([]byte, payloadLen),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readRTP reads one RTP packet from c within timeout.
func readRTP(t *testing.T, c *net.UDPConn, timeout time.Duration) (rtp.Packet, bool) {
	t.Helper()
	buf := make([]byte, maxPacket)
	deadline := time.Now().Add(timeout)
	for {
		c.SetReadDeadline(deadline)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return rtp.Packet{}, false
		}
		if isRTCP(buf[:n]) {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err == nil {
			return p, true
		}
	}
}

// drain discards whatever c receives for d and returns the packet count.
func drain(c *net.UDPConn, d time.Duration) int {
	buf := make([]byte, maxPacket)
	c.SetReadDeadline(time.Now().Add(d))
	n := 0
	for {
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			return n
		}
		n++
	}
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func openLeg(t *testing.T, e *Engine) *Leg {
	t.Helper()
	l, err := e.NewLeg(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLegSendsWithMarkerAndContinuousClock(t *testing.T) {
	e := newTestEngine(t, Config{})
	l := openLeg(t, e)
	peer := udpPeer(t)
	if err := l.SetRemote(addrOf(peer), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	first, ok := readRTP(t, peer, 5*time.Second)
	if !ok {
		t.Fatal("no RTP from leg")
	}
	if !first.Marker || first.PayloadType != PayloadPCMU || len(first.Payload) != FrameSamples {
		t.Errorf("first packet: marker %v pt %d len %d, want marker, PT 0, 160 bytes",
			first.Marker, first.PayloadType, len(first.Payload))
	}
	prev := first
	for range 10 {
		p, ok := readRTP(t, peer, 5*time.Second)
		if !ok {
			t.Fatal("stream stopped")
		}
		if p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+FrameSamples ||
			p.Marker || p.SSRC != first.SSRC {
			t.Errorf("packet after seq %d ts %d: seq %d ts %d marker %v ssrc %x",
				prev.SequenceNumber, prev.Timestamp, p.SequenceNumber, p.Timestamp, p.Marker, p.SSRC)
		}
		prev = p
	}
}

func TestLegHoldStopsSendingAndKeepsContinuity(t *testing.T) {
	e := newTestEngine(t, Config{})
	l := openLeg(t, e)
	peer := udpPeer(t)
	if err := l.SetRemote(addrOf(peer), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := readRTP(t, peer, 5*time.Second); !ok {
		t.Fatal("no RTP from leg")
	}
	l.SetHold(true)
	drain(peer, 100*time.Millisecond) // packets in flight when hold began
	if n := drain(peer, 400*time.Millisecond); n > 1 {
		t.Errorf("%d packets sent during hold, want none", n)
	}
	if lr := l.LastReceived(); time.Since(lr) > time.Second {
		t.Errorf("LastReceived on hold = %v, want about now so the media timeout pauses", lr)
	}
	l.SetHold(false)
	before := l.Stats().PacketsSent
	p, ok := readRTP(t, peer, 5*time.Second)
	if !ok {
		t.Fatal("no RTP after resume")
	}
	if !p.Marker {
		t.Error("first packet after hold has no marker bit")
	}
	if got := l.Stats().PacketsSent; got < before {
		t.Errorf("packet count went back from %d to %d", before, got)
	}
}

// TestLegReinviteMovesStreamWithoutResettingClock: a re-INVITE gives a new
// address and codec; sequence numbers and timestamps continue.
func TestLegReinviteMovesStreamWithoutResettingClock(t *testing.T) {
	e := newTestEngine(t, Config{})
	l := openLeg(t, e)
	old, moved := udpPeer(t), udpPeer(t)
	if err := l.SetRemote(addrOf(old), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	// The old peer talks, so the leg latches to it.
	if _, err := old.WriteToUDPAddrPort(rawRTPPacket(t, 0, 1, 1, 42, FrameSamples), l.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	last, ok := readRTP(t, old, 5*time.Second)
	if !ok {
		t.Fatal("no RTP to the old address")
	}
	if err := l.SetRemote(addrOf(moved), PayloadPCMA, 101); err != nil {
		t.Fatal(err)
	}
	p, ok := readRTP(t, moved, 5*time.Second)
	if !ok {
		t.Fatal("no RTP to the new address after re-INVITE")
	}
	gap := p.SequenceNumber - last.SequenceNumber
	if p.SSRC != last.SSRC || gap == 0 || gap > 50 || p.Timestamp-last.Timestamp != uint32(gap)*FrameSamples {
		t.Errorf("after re-INVITE seq %d→%d ts %d→%d ssrc %x→%x: want same SSRC and a continuous clock",
			last.SequenceNumber, p.SequenceNumber, last.Timestamp, p.Timestamp, last.SSRC, p.SSRC)
	}
	if p.PayloadType != PayloadPCMA {
		t.Errorf("payload type %d after re-INVITE, want 8", p.PayloadType)
	}
	drain(old, 50*time.Millisecond)
	if n := drain(old, 200*time.Millisecond); n > 0 {
		t.Errorf("old address still gets %d packets", n)
	}
}

func TestLegRelatchesOnlyOnPersistentNewSource(t *testing.T) {
	e := newTestEngine(t, Config{})
	l := openLeg(t, e)
	first, stray, moved := udpPeer(t), udpPeer(t), udpPeer(t)
	if err := l.SetRemote(netip.AddrPortFrom(loopback, 9), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	send := func(c *net.UDPConn, seq uint16, ssrc uint32) {
		if _, err := c.WriteToUDPAddrPort(rawRTPPacket(t, 0, seq, uint32(seq)*FrameSamples, ssrc, FrameSamples), l.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func(Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(l.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, l.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	send(first, 1, 42)
	waitFor("latch to first", func(s Stats) bool { return s.Latched && s.RemoteAddr == addrOf(first) })
	send(stray, 2, 99)
	send(stray, 3, 99)
	send(first, 4, 42)
	waitFor("stray packets counted", func(s Stats) bool { return s.Foreign == 2 && s.PacketsReceived == 2 })
	if got := l.Stats().RemoteAddr; got != addrOf(first) {
		t.Fatalf("stray packets moved the latch to %v", got)
	}
	for seq := uint16(5); seq < 5+relatchPackets; seq++ {
		send(moved, seq, 42)
	}
	waitFor("relatch to moved", func(s Stats) bool { return s.RemoteAddr == addrOf(moved) && s.Relatches == 1 })
	if _, ok := readRTP(t, moved, 5*time.Second); !ok {
		t.Error("no RTP sent to the relatched address")
	}
}

func TestLegDropsMalformedPacketsAndKeepsWorking(t *testing.T) {
	e := newTestEngine(t, Config{})
	l := openLeg(t, e)
	peer := udpPeer(t)
	if err := l.SetRemote(addrOf(peer), PayloadPCMU, 101); err != nil {
		t.Fatal(err)
	}
	good := rawRTPPacket(t, 0, 10, 1600, 7, FrameSamples)
	bad := [][]byte{
		{},
		{0x80},
		good[:11],
		append([]byte{0x40}, good[1:]...),    // version 1
		rawRTPPacket(t, 18, 11, 1760, 7, 10), // G.729, not negotiated
		append([]byte{0x8f}, good[1:20]...),  // 15 CSRCs promised, not present
		append([]byte{0x90}, good[1:14]...),  // extension promised, not present
		append([]byte{0xa0}, append(good[1:20], 0)...), // padding 0
		rawRTPPacket(t, 101, 12, 1920, 7, 2),           // short telephone-event
		{0x80, 200, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3},   // RTCP-looking garbage (mux)
	}
	for _, b := range bad {
		if _, err := peer.WriteToUDPAddrPort(b, l.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	rtcpAddr := netip.AddrPortFrom(loopback, l.LocalAddr().Port()+1)
	for _, b := range [][]byte{{1, 2, 3}, {0x81, 201, 0, 100, 1, 2, 3, 4}} {
		if _, err := peer.WriteToUDPAddrPort(b, rtcpAddr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := peer.WriteToUDPAddrPort(good, l.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := l.Stats()
		// The short telephone-event packet is a valid RTP packet with a
		// bad payload: it is received and also counted invalid.
		if st.Invalid >= int64(len(bad)+2) && st.PacketsReceived >= 2 {
			t.Logf("stats after garbage: invalid %d unknown %d received %d rtcp %d", st.Invalid, st.UnknownPayload, st.PacketsReceived, st.RTCPReceived)
			if st.UnknownPayload != 1 {
				t.Errorf("UnknownPayload %d, want 1", st.UnknownPayload)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: want %d invalid and the good packet received", st, len(bad)+2)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLegExchangesRTCPReports(t *testing.T) {
	e := newTestEngine(t, Config{RTCPInterval: 100 * time.Millisecond})
	a, b := newPair(t, e, PayloadPCMU, 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		sa, sb := a.Stats(), b.Stats()
		a.recv.mu.Lock()
		sawSR := a.recv.rr.lastSR != 0
		a.recv.mu.Unlock()
		if sa.RTCPReceived >= 3 && sb.RTCPReceived >= 3 && sawSR {
			if sa.RTT < 0 || sa.RTT > time.Second {
				t.Errorf("RTT %v on loopback", sa.RTT)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RTCP not exchanged: a %+v b %+v", sa, sb)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Close()
	deadline = time.Now().Add(5 * time.Second)
	for !b.Stats().RemoteBye {
		if time.Now().After(deadline) {
			t.Fatal("no RTCP BYE seen after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLegAcceptsMultiplexedRTCP(t *testing.T) {
	e := newTestEngine(t, Config{RTCPInterval: 50 * time.Millisecond})
	l := openLeg(t, e)
	peer := udpPeer(t)
	if err := l.SetRemote(addrOf(peer), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	sr, err := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 5, NTPTime: toNTP(time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteToUDPAddrPort(sr, l.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	// Our reports now come back on the RTP port (rtcp-mux).
	buf := make([]byte, maxPacket)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no multiplexed RTCP back: %v (stats %+v)", err, l.Stats())
		}
		if isRTCP(buf[:n]) {
			break
		}
	}
	if st := l.Stats(); st.RTCPReceived != 1 {
		t.Errorf("RTCPReceived %d, want 1", st.RTCPReceived)
	}
}

// mediaLeg is the interface sip/ drives; *Leg must satisfy it exactly.
type mediaLeg interface {
	LocalAddr() netip.AddrPort
	SetRemote(addr netip.AddrPort, payloadType uint8, dtmfPayloadType uint8) error
	SetHold(onHold bool)
	LastReceived() time.Time
}

var _ mediaLeg = (*Leg)(nil)

func TestLegClearOutputDropsQueuedAudio(t *testing.T) {
	e := newTestEngine(t, Config{OutputFrames: 50})
	l := openLeg(t, e)
	peer := udpPeer(t)
	if err := l.SetRemote(addrOf(peer), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	loud := make([]int16, FrameSamples)
	for i := range loud {
		loud[i] = 12000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 50 { // one second of audio
		if err := l.WriteFrame(ctx, loud); err != nil {
			t.Fatal(err)
		}
	}
	sawLoud := false
	for !sawLoud {
		p, ok := readRTP(t, peer, 5*time.Second)
		if !ok {
			t.Fatal("no RTP")
		}
		sawLoud = p.Payload[0] != 0xff
	}
	l.ClearOutput()
	drain(peer, 60*time.Millisecond) // packets sent before the clear
	for i := range 10 {
		p, ok := readRTP(t, peer, 5*time.Second)
		if !ok {
			t.Fatal("stream stopped after ClearOutput")
		}
		if p.Payload[0] != 0xff {
			t.Fatalf("packet %d after ClearOutput still carries queued audio", i)
		}
	}
}

// TestLegReinviteToAnotherLegMidStream: b's peer moves from a to c in the
// middle of a stream; c hears b and b hears c.
func TestLegReinviteToAnotherLegMidStream(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, b := newPair(t, e, PayloadPCMU, 0)
	c := openLeg(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := chirp(250*FrameSamples, 25*FrameSamples)
	done := make(chan struct{})
	wctx, stopWriting := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for i := 0; i+FrameSamples <= len(src); i += FrameSamples {
			if err := b.WriteFrame(wctx, src[i:i+FrameSamples]); err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("WriteFrame: %v", err)
				}
				return
			}
		}
	}()
	frame := make([]int16, FrameSamples)
	for range 20 {
		if err := a.ReadFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
	}
	// The re-INVITE: b now talks to c, and c to b.
	if err := c.SetRemote(b.LocalAddr(), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRemote(c.LocalAddr(), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	a.Close() // the old peer goes away
	// Read well past the switch: on a loaded machine the best clean
	// half-second may come late.
	var atC []int16
	for range 150 {
		if err := c.ReadFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
		atC = append(atC, frame...)
	}
	stopWriting()
	<-done
	ref := src[:25*FrameSamples]
	if corr, _ := bestCorrelation(ref, atC, len(atC)-len(ref)); corr < 0.9 {
		t.Errorf("c hears b with correlation %.3f, want > 0.9", corr)
	}
	if st := b.Stats(); st.RemoteAddr != c.LocalAddr() {
		t.Errorf("b sends to %v, want c at %v", st.RemoteAddr, c.LocalAddr())
	}
}
