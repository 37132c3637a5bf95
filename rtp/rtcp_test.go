package rtp

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestRTTFromReport(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	sent := now.Add(-300 * time.Millisecond)
	lsr := compactNTP(toNTP(sent))
	dlsr := uint32(100 * time.Millisecond * (1 << 16) / time.Second)
	rtt, ok := rttFromReport(now, lsr, dlsr)
	if !ok || rtt < 199*time.Millisecond || rtt > 201*time.Millisecond {
		t.Errorf("rtt = %v, %v; want 200ms", rtt, ok)
	}
	if _, ok := rttFromReport(now, 0, 0); ok {
		t.Error("rtt without an SR reported as known")
	}
	if _, ok := rttFromReport(now, lsr, uint32(time.Second*(1<<16)/time.Second)); ok {
		t.Error("negative rtt reported as known")
	}
}

// TestRTCPReportRoundTripGivesRTT: our SR reaches the peer, the peer's RR
// echoes LSR/DLSR, and we compute the round trip from it.
func TestRTCPReportRoundTripGivesRTT(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	sr, err := buildReport(senderInfo{ssrc: 1, sentSince: true, rtpTime: 800, packetCount: 50, octetCount: 8000}, nil, "a", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	var peer rtcpReceiver
	if !peer.handle(sr, 2, t0.Add(40*time.Millisecond)) || peer.lastSR == 0 {
		t.Fatalf("peer did not take our SR: %+v", peer)
	}
	st := jitterStats{SSRC: 1, HaveSource: true, BaseSeq: 100, HighSeq: 199, Received: 90, JitterQ4: 16 * 40}
	block := receptionBlock(&st, 10, &peer, t0.Add(140*time.Millisecond))
	if block.FractionLost != 25 || block.TotalLost != 10 || block.LastSequenceNumber != 199 || block.Jitter != 40 {
		t.Errorf("block %+v: want 10%% lost (25/256), 10 total, seq 199, jitter 40", block)
	}
	rr, err := buildReport(senderInfo{ssrc: 2}, &block, "b", true, t0.Add(140*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(rr)
	if err != nil || len(pkts) != 3 {
		t.Fatalf("RR compound: %v, %d packets, want RR+SDES+BYE", err, len(pkts))
	}
	if _, ok := pkts[0].(*rtcp.ReceiverReport); !ok {
		t.Errorf("first packet %T, want a receiver report when nothing was sent", pkts[0])
	}
	var us rtcpReceiver
	if !us.handle(rr, 1, t0.Add(180*time.Millisecond)) {
		t.Fatal("our side rejected the RR")
	}
	if us.rtt < 79*time.Millisecond || us.rtt > 81*time.Millisecond || !us.remoteBye {
		t.Errorf("rtt %v bye %v, want 80ms and BYE", us.rtt, us.remoteBye)
	}
	// A second interval with nothing new reports no fresh loss.
	if b2 := receptionBlock(&st, 10, &peer, t0); b2.FractionLost != 0 {
		t.Errorf("fraction lost %d in an empty interval", b2.FractionLost)
	}
}

func TestRTCPReceiverRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0x80}, {0x40, 200, 0, 1, 0, 0, 0, 0}, {0x81, 201, 0, 9, 1, 2, 3, 4}} {
		var r rtcpReceiver
		if r.handle(b, 1, time.Now()) || r.invalid != 1 {
			t.Errorf("garbage %x accepted", b)
		}
	}
}

func TestRTCPIntervalIsRandomisedAroundBase(t *testing.T) {
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := rtcpInterval(5 * time.Second)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 2500*time.Millisecond || hi >= 7500*time.Millisecond || hi-lo < 3*time.Second {
		t.Errorf("intervals spread %v..%v, want across 2.5s..7.5s", lo, hi)
	}
}

func TestIsRTCPSeparatesMultiplexedPackets(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{[]byte{0x80, 200, 0, 6, 0, 0, 0, 1}, true},
		{[]byte{0x81, 201, 0, 7, 0, 0, 0, 1}, true},
		{[]byte{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, false},
		{[]byte{0x80, 0x80 | 8, 0, 1, 0, 0, 0, 1}, false}, // PCMA with marker
		{[]byte{0x80, 200}, false},
	} {
		if got := isRTCP(tc.b); got != tc.want {
			t.Errorf("isRTCP(%x) = %v, want %v", tc.b, got, tc.want)
		}
	}
}
