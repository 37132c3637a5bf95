package rtp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// newTestEngine starts an engine on loopback in a high port range, closed
// when the test ends.
func newTestEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	cfg.BindIP = loopback
	if cfg.PortMin == 0 {
		cfg.PortMin, cfg.PortMax = 40000, 49999
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// newPair returns two legs whose remotes point at each other.
func newPair(t *testing.T, e *Engine, pt, dtmfPT uint8) (a, b *Leg) {
	t.Helper()
	a, err := e.NewLeg("call-a")
	if err != nil {
		t.Fatalf("NewLeg a: %v", err)
	}
	b, err = e.NewLeg("call-b")
	if err != nil {
		t.Fatalf("NewLeg b: %v", err)
	}
	if err := a.SetRemote(b.LocalAddr(), pt, dtmfPT); err != nil {
		t.Fatalf("a.SetRemote: %v", err)
	}
	if err := b.SetRemote(a.LocalAddr(), pt, dtmfPT); err != nil {
		t.Fatalf("b.SetRemote: %v", err)
	}
	return a, b
}

// chirp returns n samples of a 300→3000 Hz sweep, repeated every period
// samples: unlike a pure tone it correlates well only at the right lag.
func chirp(n, period int) []int16 {
	out := make([]int16, n)
	for i := range out {
		t := float64(i%period) / SampleRate
		dur := float64(period) / SampleRate
		f0, f1 := 300.0, 3000.0
		phase := 2 * math.Pi * (f0*t + (f1-f0)*t*t/(2*dur))
		out[i] = int16(8000 * math.Sin(phase))
	}
	return out
}

// bestCorrelation is the highest normalised cross-correlation of got against
// ref over all lags up to maxLag.
func bestCorrelation(ref, got []int16, maxLag int) (float64, int) {
	best, bestLag := -1.0, 0
	for lag := 0; lag <= maxLag && lag+len(ref) <= len(got); lag++ {
		var xy, xx, yy float64
		for i, r := range ref {
			x, y := float64(r), float64(got[lag+i])
			xy += x * y
			xx += x * x
			yy += y * y
		}
		if xx == 0 || yy == 0 {
			continue
		}
		if c := xy / math.Sqrt(xx*yy); c > best {
			best, bestLag = c, lag
		}
	}
	return best, bestLag
}

// stream writes src to w frame by frame and reads n frames from r.
func stream(ctx context.Context, t *testing.T, w, r *Leg, src []int16, n int) []int16 {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i+FrameSamples <= len(src); i += FrameSamples {
			if err := w.WriteFrame(ctx, src[i:i+FrameSamples]); err != nil {
				t.Errorf("WriteFrame: %v", err)
				return
			}
		}
	}()
	got := make([]int16, 0, n*FrameSamples)
	frame := make([]int16, FrameSamples)
	for range n {
		if err := r.ReadFrame(ctx, frame); err != nil {
			t.Errorf("ReadFrame: %v", err)
			break
		}
		got = append(got, frame...)
	}
	wg.Wait()
	return got
}

func TestLegCarriesAudioBothWays(t *testing.T) {
	for _, tc := range []struct {
		name string
		pt   uint8
	}{{"PCMU", PayloadPCMU}, {"PCMA", PayloadPCMA}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			a, b := newPair(t, e, tc.pt, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			src := chirp(50*FrameSamples, 25*FrameSamples)
			var gotAB, gotBA []int16
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); gotAB = stream(ctx, t, a, b, src, 80) }()
			go func() { defer wg.Done(); gotBA = stream(ctx, t, b, a, src, 80) }()
			wg.Wait()
			ref := src[:25*FrameSamples]
			for dir, got := range map[string][]int16{"a→b": gotAB, "b→a": gotBA} {
				c, lag := bestCorrelation(ref, got, len(got)-len(ref))
				if c < 0.9 {
					t.Errorf("%s: best correlation %.3f at lag %d, want > 0.9", dir, c, lag)
				}
			}
			st := b.Stats()
			if st.PacketsReceived < 40 || !st.Latched {
				t.Errorf("b stats: %+v, want ≥ 40 packets and a latched source", st)
			}
		})
	}
}

// TestLegLatchesToSourceNotSDP: SDP gave b a dead address, but b must send
// to where a's packets come from.
func TestLegLatchesToSourceNotSDP(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, err := e.NewLeg("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.NewLeg("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRemote(b.LocalAddr(), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRemote(netip.AddrPortFrom(loopback, 9), PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := chirp(50*FrameSamples, 25*FrameSamples)
	var gotBA []int16
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); gotBA = stream(ctx, t, b, a, src, 80) }()
	gotAB := stream(ctx, t, a, b, src, 80)
	wg.Wait()
	ref := src[:25*FrameSamples]
	for dir, got := range map[string][]int16{"a→b": gotAB, "b→a": gotBA} {
		if c, _ := bestCorrelation(ref, got, len(got)-len(ref)); c < 0.9 {
			t.Errorf("%s: correlation %.3f, want > 0.9", dir, c)
		}
	}
	if st := b.Stats(); st.RemoteAddr != a.LocalAddr() || !st.Latched {
		t.Errorf("b sends to %v (latched %v), want %v", st.RemoteAddr, st.Latched, a.LocalAddr())
	}
}

func TestLegRejectsBadRemote(t *testing.T) {
	e := newTestEngine(t, Config{})
	l, err := e.NewLeg("x")
	if err != nil {
		t.Fatal(err)
	}
	ok := netip.AddrPortFrom(loopback, 5004)
	for _, tc := range []struct {
		name    string
		addr    netip.AddrPort
		pt, dtm uint8
	}{
		{"unknown codec", ok, 18, 0},
		{"no port", netip.AddrPortFrom(loopback, 0), 0, 0},
		{"invalid address", netip.AddrPort{}, 0, 0},
		{"IPv6 peer on an IPv4 socket", netip.MustParseAddrPort("[2001:db8::1]:5004"), 0, 0},
		{"dtmf on the PCMA payload type", ok, 0, 8},
		{"dtmf payload type above 127", ok, 0, 128},
		{"dtmf payload type in the RTCP range", ok, 0, 72},
		{"dtmf payload type equal to the codec's", ok, 8, 8},
	} {
		if err := l.SetRemote(tc.addr, tc.pt, tc.dtm); err == nil {
			t.Errorf("%s: SetRemote succeeded, want error", tc.name)
		}
	}
}

func TestLegReadWriteEndAfterClose(t *testing.T) {
	e := newTestEngine(t, Config{OutputFrames: 1})
	l, err := e.NewLeg("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	frame := make([]int16, FrameSamples)
	if err := l.ReadFrame(ctx, frame); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame after Close: %v, want ErrClosed", err)
	}
	if err := l.WriteFrame(ctx, frame); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFrame after Close: %v, want ErrClosed", err)
	}
	if _, ok := <-l.DTMF(); ok {
		t.Error("DTMF channel still open after Close")
	}
}

func TestLegWriteBlocksWhenQueueFullUntilContextEnds(t *testing.T) {
	e := newTestEngine(t, Config{OutputFrames: 2})
	l, err := e.NewLeg("x")
	if err != nil {
		t.Fatal(err)
	}
	// With no remote the queue still drains at one frame per tick, so
	// fill it faster than that with a short deadline.
	l.SetHold(true)
	frame := make([]int16, FrameSamples)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	for i := range 30 {
		if err := l.WriteFrame(ctx, frame); err != nil {
			t.Fatalf("WriteFrame %d: %v", i, err)
		}
	}
	// 30 frames through a 2-frame queue take ≈ 28 ticks of 20 ms.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("30 frames written in %v: the queue did not push back", d)
	}
	short, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	var err2 error
	for range 10 {
		if err2 = l.WriteFrame(short, frame); err2 != nil {
			break
		}
	}
	if !errors.Is(err2, context.DeadlineExceeded) {
		t.Errorf("WriteFrame with expired context: %v, want deadline exceeded", err2)
	}
}

// udpPeer is a raw socket standing in for a remote endpoint.
func udpPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestLegCountsComfortNoiseAsLiveMedia(t *testing.T) {
	l := detachedLeg(t)
	src := netip.AddrPortFrom(loopback, 4000)
	now := time.Unix(1_700_000_000, 0)
	cn := rawRTPPacket(t, payloadCN, 1, 160, 5, 1)
	l.recv.handlePacket(cn, src, now)
	st := l.Stats()
	if st.PacketsReceived != 1 || st.Invalid != 0 || !st.Latched {
		t.Errorf("after a CN packet stats %+v: want it received, valid and latched", st)
	}
	if got := l.LastReceived(); !got.Equal(now) {
		t.Errorf("LastReceived %v, want %v", got, now)
	}
	l.recv.handlePacket(rawRTPPacket(t, 18, 2, 320, 5, 20), src, now)
	if st := l.Stats(); st.UnknownPayload != 1 || st.PacketsReceived != 1 {
		t.Errorf("G.729 packet: stats %+v, want it dropped as unknown", st)
	}
}

// jitterRelay forwards datagrams between two endpoints with random delay
// and loss, standing in for a bad network.
func jitterRelay(t *testing.T, a, b netip.AddrPort, maxDelay time.Duration, lossPct int) netip.AddrPort {
	t.Helper()
	c := udpPeer(t)
	rng := rand.New(rand.NewPCG(7, 9))
	var mu sync.Mutex
	go func() {
		buf := make([]byte, maxPacket)
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			to := a
			if src == a {
				to = b
			}
			mu.Lock()
			drop := rng.IntN(100) < lossPct
			delay := time.Duration(rng.Int64N(int64(maxDelay)))
			mu.Unlock()
			if drop {
				continue
			}
			pkt := append([]byte(nil), buf[:n]...)
			time.AfterFunc(delay, func() { c.WriteToUDPAddrPort(pkt, to) })
		}
	}()
	return addrOf(c)
}

func TestLegRidesOutJitterLossAndReordering(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s of real-time audio")
	}
	e := newTestEngine(t, Config{})
	a, b := openLeg(t, e), openLeg(t, e)
	relay := jitterRelay(t, a.LocalAddr(), b.LocalAddr(), 60*time.Millisecond, 3)
	if err := a.SetRemote(relay, PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRemote(relay, PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := chirp(150*FrameSamples, 25*FrameSamples)
	got := stream(ctx, t, a, b, src, 160)
	st := b.Stats()
	t.Logf("stats: reordered %d late %d lost %d concealed %d jitter %v depth %v",
		st.Reordered, st.Late, st.PacketsLost, st.ConcealedFrames, st.Jitter, st.JitterDepth)
	if st.Reordered == 0 || st.JitterDepth <= 20*time.Millisecond {
		t.Errorf("stats %+v: want reordering seen and a deeper buffer than the minimum", st)
	}
	if st.Late > st.PacketsReceived/10 {
		t.Errorf("%d of %d packets late: the buffer did not adapt", st.Late, st.PacketsReceived)
	}
	// Compare the last second, after the buffer has adapted.
	tail := got[len(got)-75*FrameSamples:]
	ref := src[:25*FrameSamples]
	if corr, _ := bestCorrelation(ref, tail, len(tail)-len(ref)); corr < 0.8 {
		t.Errorf("correlation through a jittery, lossy relay %.3f, want > 0.8", corr)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLegLogsGarbageRateLimitedAndFinalStatsWithCallID(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newTestEngine(t, Config{Logger: logger})
	l, err := e.NewLeg("call-42")
	if err != nil {
		t.Fatal(err)
	}
	peer := udpPeer(t)
	for range 100 {
		if _, err := peer.WriteToUDPAddrPort([]byte{1, 2, 3}, l.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Invalid < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("garbage not counted: %+v", l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Close()
	var dropped, closed int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch rec["msg"] {
		case "rtp packets dropped":
			dropped++
		case "rtp leg closed":
			closed++
			if rec["level"] != "INFO" || rec["call_id"] != "call-42" || rec["invalid"] != float64(100) {
				t.Errorf("final stats record %v: want INFO with call_id and invalid=100", rec)
			}
		}
	}
	if dropped < 1 || dropped > 5 {
		t.Errorf("%d debug lines for 100 bad packets, want a rate-limited few", dropped)
	}
	if closed != 1 {
		t.Errorf("%d final stats records, want 1", closed)
	}
}
