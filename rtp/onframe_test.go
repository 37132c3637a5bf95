package rtp

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// frameLog records what a frame handler got, for tests.
type frameLog struct {
	mu     sync.Mutex
	frames []int // frameOf of each frame: -1 for concealment or silence
	at     []time.Time
	calls  atomic.Int64
}

func (f *frameLog) handle(frame []int16, at time.Time) {
	f.mu.Lock()
	f.frames = append(f.frames, frameOf(frame, 120))
	f.at = append(f.at, at)
	f.mu.Unlock()
	f.calls.Add(1)
}

func (f *frameLog) snapshot() ([]int, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.frames), slices.Clone(f.at)
}

// sendFrames sends frame k of a µ-law stream filled with frameByte(k) from
// peer to the leg, one every 20 ms, in the order given.
func sendFrames(t *testing.T, peer interface {
	WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
}, to netip.AddrPort, order []int) {
	t.Helper()
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	pkt[0], pkt[1] = 0x80, PayloadPCMU
	binary.BigEndian.PutUint32(pkt[8:], 0x5151)
	for _, k := range order {
		binary.BigEndian.PutUint16(pkt[2:], uint16(1000+k))
		binary.BigEndian.PutUint32(pkt[4:], uint32(16000+k*FrameSamples))
		for i := rtpHeaderLen; i < len(pkt); i++ {
			pkt[i] = frameByte(k)
		}
		if _, err := peer.WriteToUDPAddrPort(pkt, to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(FrameDuration)
	}
}

// TestOnFrameDeliversTheClocksFramesInOrder sends a stream with a lost
// pair of packets and a swapped pair, then stops: the handler must get
// every received frame once, in order, concealment where the lost ones
// were, and frames every 20 ms after the stream stops.
func TestOnFrameDeliversTheClocksFramesInOrder(t *testing.T) {
	e := newTestEngine(t, Config{JitterMin: 40 * time.Millisecond})
	l, err := e.NewLeg("onframe")
	if err != nil {
		t.Fatal(err)
	}
	peer := udpPeer(t)
	if err := l.SetRemote(peer.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort(), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	var log frameLog
	if err := l.OnFrame(log.handle); err != nil {
		t.Fatal(err)
	}
	// 5 and 6 lost, 11 before 10.
	order := []int{0, 1, 2, 3, 4, 7, 8, 9, 11, 10, 12, 13, 14, 15, 16, 17, 18, 19}
	start := time.Now()
	sendFrames(t, peer, l.LocalAddr(), order)
	stopped := time.Now()
	time.Sleep(300 * time.Millisecond)
	frames, at := log.snapshot()

	var real []int
	for _, k := range frames {
		if k >= 0 {
			real = append(real, k)
		}
	}
	want := []int{0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	if !slices.Equal(real, want) {
		t.Errorf("real frames %v\nwant %v", real, want)
	}
	// The lost packets' place is taken by frames the clock made.
	i4, i7 := slices.Index(frames, 4), slices.Index(frames, 7)
	if i4 < 0 || i7 < 0 || i7-i4 < 2 {
		t.Errorf("frames %v: want concealment between 4 and 7", frames)
	}
	// After the stream stops the clock's frames keep coming, one per
	// tick: 300 ms is 15 ticks; allow for a loaded machine.
	after := 0
	for i, a := range at {
		if a.After(stopped) && frames[i] < 0 {
			after++
		}
	}
	if after < 8 {
		t.Errorf("%d frames in the 300 ms after the stream stopped, want about 15", after)
	}
	for i := 1; i < len(at); i++ {
		if at[i].Before(at[i-1]) || at[i].Before(start) {
			t.Errorf("frame %d ready at %v, before the previous one (%v) or the start", i, at[i], at[i-1])
			break
		}
	}
	if st := l.Stats(); st.PacketsReceived != int64(len(order)) {
		t.Errorf("received %d packets, want %d", st.PacketsReceived, len(order))
	}
}

// TestOnFrameExcludesReadFrame checks that the two ways of taking frames
// exclude each other, whichever comes first.
func TestOnFrameExcludesReadFrame(t *testing.T) {
	e := newTestEngine(t, Config{})
	nop := func([]int16, time.Time) {}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frame := make([]int16, FrameSamples)

	a, err := e.NewLeg("handler-first")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.OnFrame(nil); err == nil {
		t.Error("OnFrame(nil) succeeded")
	}
	if err := a.OnFrame(nop); err != nil {
		t.Fatal(err)
	}
	if err := a.OnFrame(nop); !errors.Is(err, ErrFrameConsumer) {
		t.Errorf("second OnFrame: %v, want ErrFrameConsumer", err)
	}
	if err := a.ReadFrame(ctx, frame); !errors.Is(err, ErrFrameConsumer) {
		t.Errorf("ReadFrame after OnFrame: %v, want ErrFrameConsumer", err)
	}

	b, err := e.NewLeg("reader-first")
	if err != nil {
		t.Fatal(err)
	}
	// Before any packet the clock plays silence, so this returns.
	if err := b.ReadFrame(ctx, frame); err != nil {
		t.Fatal(err)
	}
	if err := b.OnFrame(nop); !errors.Is(err, ErrFrameConsumer) {
		t.Errorf("OnFrame after ReadFrame: %v, want ErrFrameConsumer", err)
	}
	b.Close()
	c, err := e.NewLeg("closed")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := c.OnFrame(nop); !errors.Is(err, ErrClosed) {
		t.Errorf("OnFrame after Close: %v, want ErrClosed", err)
	}
}

// TestOnFrameNeverCalledAfterClose closes legs while their handlers run
// (one of them slow): Close waits for a call in progress and no call
// starts afterwards.
func TestOnFrameNeverCalledAfterClose(t *testing.T) {
	e := newTestEngine(t, Config{})
	for _, slow := range []time.Duration{0, 30 * time.Millisecond} {
		a, b := newPair(t, e, PayloadPCMA, 0)
		var calls atomic.Int64
		var closed atomic.Bool
		if err := b.OnFrame(func([]int16, time.Time) {
			if closed.Load() {
				t.Error("frame handler called after Close returned")
			}
			calls.Add(1)
			time.Sleep(slow)
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			src := chirp(FrameSamples, FrameSamples)
			for a.WriteFrame(ctx, src) == nil {
			}
		}()
		time.Sleep(200 * time.Millisecond)
		b.Close()
		closed.Store(true)
		n := calls.Load()
		time.Sleep(100 * time.Millisecond)
		cancel()
		a.Close()
		if n == 0 {
			t.Errorf("slow %v: handler never called", slow)
		}
		if got := calls.Load(); got != n {
			t.Errorf("slow %v: %d calls after Close returned", slow, got-n)
		}
	}
}

// sendCounter counts a leg's sent audio packets and the longest gap
// between two of them.
type sendCounter struct {
	mu     sync.Mutex
	n      int
	last   time.Time
	maxGap time.Duration
}

func (s *sendCounter) RTPSent(at time.Time, _ uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.IsZero() {
		s.maxGap = max(s.maxGap, at.Sub(s.last))
	}
	s.last = at
	s.n++
}

func (s *sendCounter) RTPReceived(time.Time, uint16, uint32) {}

// TestOnFrameSlowHandlerDoesNotDelaySending runs a handler that takes three
// frames' time on every frame: the leg's reading falls behind, but its
// sends stay on the pacer's 20 ms schedule.
func TestOnFrameSlowHandlerDoesNotDelaySending(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, b := newPair(t, e, PayloadPCMU, 0)
	var sent sendCounter
	b.Observe(&sent)
	var calls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := chirp(FrameSamples, FrameSamples)
	if err := b.OnFrame(func([]int16, time.Time) {
		calls.Add(1)
		// The answer is written from the handler, as a bot would.
		b.WriteFrame(ctx, src)
		time.Sleep(3 * FrameDuration)
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for a.WriteFrame(ctx, src) == nil {
		}
	}()
	const window = time.Second
	time.Sleep(window)
	sent.mu.Lock()
	n, gap := sent.n, sent.maxGap
	sent.mu.Unlock()
	if calls.Load() > int64(window/(3*FrameDuration))+2 {
		t.Errorf("%d handler calls in %v, more than a 60 ms handler can make", calls.Load(), window)
	}
	// Sends tied to the handler would be ~17 in a second, 60 ms apart.
	if n < 40 || gap >= 3*FrameDuration {
		t.Errorf("%d packets sent in %v, longest gap %v: want about 50, 20 ms apart", n, window, gap)
	}
}

// TestOnFramePathDoesNotAllocate guards the hot path of a leg with a frame
// handler: WriteFrame, a pacer tick (encode, send, playout), the reader's
// receive and the handler's call.
func TestOnFramePathDoesNotAllocate(t *testing.T) {
	e := newTestEngine(t, Config{RTCPInterval: time.Hour})
	a, b := newPair(t, e, PayloadPCMA, 101)
	for _, l := range []*Leg{a, b} {
		l.shard.remove(l) // ticked by hand below
	}
	var got atomic.Int64
	if err := b.OnFrame(func(frame []int16, _ time.Time) {
		if frame[0] != 0 { // a real frame, not the clock's silence
			got.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	frame := make([]int16, FrameSamples)
	for i := range frame {
		frame[i] = 1000
	}
	now := time.Now()
	allocs := testing.AllocsPerRun(200, func() {
		if err := a.WriteFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
		want := got.Load() + 1
		a.tick(now)
		b.tick(now)
		for deadline := time.Now().Add(5 * time.Second); got.Load() < want; {
			if time.Now().After(deadline) {
				t.Fatal("no frame delivered")
			}
			runtime.Gosched()
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per frame, want 0", allocs)
	}
}

// BenchmarkReceivePathOnFrame is BenchmarkReceivePath with a frame
// handler: validation, parse, latching, jitter buffer push and decode,
// early release, the reader's delivery to the handler and the playout
// tick. The syscall is excluded.
func BenchmarkReceivePathOnFrame(b *testing.B) {
	l := detachedLeg(b)
	var frames int
	if err := l.OnFrame(func([]int16, time.Time) { frames++ }); err != nil {
		b.Fatal(err)
	}
	pkt := make([]byte, rtpHeaderLen+FrameSamples)
	pkt[0], pkt[1] = 0x80, PayloadPCMU
	binary.BigEndian.PutUint32(pkt[8:], 0x1234)
	for i := rtpHeaderLen; i < len(pkt); i++ {
		pkt[i] = byte(i)
	}
	src := netip.AddrPortFrom(loopback, 4000)
	now := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*FrameSamples))
		now = now.Add(FrameDuration)
		l.recv.handlePacket(pkt, src, now)
		l.deliverFrames()
		l.recv.tickPlayout()
	}
	if frames == 0 {
		b.Fatal("no frame delivered")
	}
}
