package rtp

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkJitterBuffer measures one 20 ms frame through the jitter buffer
// alone: push (with decode) and pop.
func BenchmarkJitterBuffer(b *testing.B) {
	jb := newJitterBuffer(40*time.Millisecond, 200*time.Millisecond)
	payload := make([]byte, FrameSamples)
	for i := range payload {
		payload[i] = byte(i)
	}
	dst := make([]int16, FrameSamples)
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for i := 0; b.Loop(); i++ {
		jb.push(1, uint16(i), uint32(i*FrameSamples), PayloadPCMU, payload, time.Duration(i)*FrameDuration)
		jb.pop(dst)
	}
}

// BenchmarkReceivePath measures one packet from the socket buffer to the
// reader: validation, header parse, latching, jitter buffer push and
// decode, playout tick and ReadFrame's copy. The syscall is excluded.
func BenchmarkReceivePath(b *testing.B) {
	l := detachedLeg(b)
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	pkt[0], pkt[1] = 0x80, PayloadPCMU
	binary.BigEndian.PutUint32(pkt[8:], 0x1234)
	for i := rtpHeaderLen; i < len(pkt); i++ {
		pkt[i] = byte(i)
	}
	src := netip.AddrPortFrom(loopback, 4000)
	dst := make([]int16, FrameSamples)
	now := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*FrameSamples))
		now = now.Add(FrameDuration)
		l.recv.handlePacket(pkt, src, now)
		l.recv.tickPlayout()
		l.recv.takePlayout(dst)
	}
}

// BenchmarkSendPath measures building one outgoing packet: encoding a
// frame and marshalling the header into the leg's reused buffer, without
// the syscall.
func BenchmarkSendPath(b *testing.B) {
	l := detachedLeg(b)
	frame := chirp(FrameSamples, FrameSamples)
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for i := 0; b.Loop(); i++ {
		l.sendMu.Lock()
		encodeG711(l.sendPT, l.pkt[rtpHeaderLen:rtpHeaderLen+FrameSamples], frame)
		l.marshalHeader(l.sendPT, uint32(i*FrameSamples), false)
		l.seq++
		l.sendMu.Unlock()
	}
}

// BenchmarkSendTick measures one pacer tick of a real leg on loopback:
// dequeue, encode, marshal and the sendto syscall, plus the playout tick.
func BenchmarkSendTick(b *testing.B) {
	e, err := NewEngine(Config{BindIP: loopback, PortMin: 42000, PortMax: 42999, RTCPInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	l, err := e.NewLeg("bench")
	if err != nil {
		b.Fatal(err)
	}
	// Keep the shared pacer out of the measurement.
	l.shard.remove(l)
	sink, err := e.NewLeg("sink")
	if err != nil {
		b.Fatal(err)
	}
	sink.shard.remove(sink)
	if err := l.SetRemote(sink.LocalAddr(), PayloadPCMA, 101); err != nil {
		b.Fatal(err)
	}
	frame := chirp(FrameSamples, FrameSamples)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.sendMu.Lock()
		copy(l.queue[(l.qHead+l.qLen)%len(l.queue)][:], frame)
		l.qLen = min(l.qLen+1, len(l.queue))
		l.sendMu.Unlock()
		l.tick(now)
		l.recv.takePlayout(frame)
	}
}

// BenchmarkG711 measures encoding and decoding one frame.
func BenchmarkG711(b *testing.B) {
	frame := chirp(FrameSamples, FrameSamples)
	enc := make([]byte, FrameSamples)
	for _, pt := range []uint8{PayloadPCMU, PayloadPCMA} {
		b.Run(CodecName(pt), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodeG711(pt, enc, frame)
				decodeG711(pt, frame, enc)
			}
		})
	}
}

// BenchmarkPacerTick measures one pacer tick over 200 legs talking in pairs
// on loopback (send syscall, playout and the peers' receive work running
// concurrently), reported per leg.
func BenchmarkPacerTick(b *testing.B) {
	const legs = 200
	e, err := NewEngine(Config{BindIP: loopback, PortMin: 43000, PortMax: 44999, RTCPInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var shard pacerShard
	all := make([]*Leg, 0, legs)
	for range legs {
		l, err := e.NewLeg("bench")
		if err != nil {
			b.Fatal(err)
		}
		l.shard.remove(l) // tick them here, not on the engine's pacer
		shard.add(l)
		all = append(all, l)
	}
	for i := 0; i < legs; i += 2 {
		all[i].SetRemote(all[i+1].LocalAddr(), PayloadPCMU, 101)
		all[i+1].SetRemote(all[i].LocalAddr(), PayloadPCMU, 101)
	}
	frame := make([]int16, FrameSamples)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		shard.tick(now)
		for _, l := range all {
			l.recv.takePlayout(frame)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/legs, "ns/leg")
}

// TestLegFrameCallsDoNotAllocate guards the hot path of a live leg:
// WriteFrame, a pacer tick (encode, send, playout) and ReadFrame.
func TestLegFrameCallsDoNotAllocate(t *testing.T) {
	e := newTestEngine(t, Config{RTCPInterval: time.Hour})
	a, b := newPair(t, e, PayloadPCMA, 101)
	for _, l := range []*Leg{a, b} {
		l.shard.remove(l) // ticked by hand below
	}
	ctx := context.Background()
	frame := chirp(FrameSamples, FrameSamples)
	now := time.Now()
	allocs := testing.AllocsPerRun(200, func() {
		if err := a.WriteFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
		a.tick(now)
		b.tick(now)
		if err := b.ReadFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per frame, want 0", allocs)
	}
}
