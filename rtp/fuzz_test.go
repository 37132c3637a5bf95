package rtp

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// detachedLeg builds a leg with no sockets, pacer or goroutines, to drive
// its receive path directly.
func detachedLeg(tb testing.TB) *Leg {
	tb.Helper()
	cfg, err := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	e := &Engine{cfg: cfg, defaultIP: loopback}
	l := newLeg(e, "fuzz", 10000, nil, nil)
	l.recv.dtmfPT = 101
	l.dtmfPT = 101
	l.sendPT, l.havePT = PayloadPCMU, true
	return l
}

// FuzzLegReceive feeds arbitrary datagrams to a leg's receive path: a
// length-prefixed sequence of packets from two sources, interleaved with
// playout ticks. Nothing may panic and the playout queue stays bounded.
//
//	go test -run '^$' -fuzz FuzzLegReceive -fuzzminimizetime 5s ./rtp
//
// (The default minimise time of 60 s per new input shows up as long pauses
// with "0/sec" in the fuzzer's progress lines; it is not a hang.)
func FuzzLegReceive(f *testing.F) {
	seeds := [][]byte{
		{},
		{0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7},
		{0x80, 101, 0, 2, 0, 0, 1, 0, 0, 0, 0, 7, 5, 0x8a, 3, 0x20},
		{0x81, 200, 0, 6, 0, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3},
		{0x9f, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0},
		{0xa0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 2},
	}
	for _, s := range seeds {
		f.Add(append([]byte{byte(len(s))}, s...))
	}
	srcs := [2]netip.AddrPort{
		netip.AddrPortFrom(loopback, 4000),
		netip.AddrPortFrom(loopback, 5000),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := detachedLeg(t)
		now := time.Unix(1_700_000_000, 0)
		dst := make([]int16, FrameSamples)
		// A few dozen packets reach every state; longer inputs only
		// slow the fuzzer (and its minimiser) down.
		for i := 0; len(data) > 0 && i < 48; i++ {
			n := min(int(data[0]), len(data)-1)
			pkt := data[1 : 1+n]
			data = data[1+n:]
			now = now.Add(7 * time.Millisecond)
			l.recv.handlePacket(pkt, srcs[i%3/2], now)
			l.recv.tickPlayout()
			if l.recv.pLen > playoutFrames {
				t.Fatalf("playout queue %d frames", l.recv.pLen)
			}
			l.recv.takePlayout(dst)
		}
		l.Stats()
	})
}

// FuzzRTCP feeds arbitrary compound packets to the RTCP parser.
func FuzzRTCP(f *testing.F) {
	sr, err := buildReport(senderInfo{ssrc: 1, sentSince: true, packetCount: 3}, nil, "c", true, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sr)
	f.Add([]byte{0x81, 201, 0, 7, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r rtcpReceiver
		r.handle(data, 1, time.Now())
	})
}

func netipLoopbackPort(port uint16) netip.AddrPort { return netip.AddrPortFrom(loopback, port) }
