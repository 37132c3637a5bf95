//go:build interop

package interop

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/sip"
)

// The SIP edge against SIPVicious (docs/sip-edge.md): svmap, svwar and
// svcrack run against a waihu UA with a registrar on loopback. They may
// find the server, but no extension and no password, and the cracker's
// address ends up banned, while a call from another loopback address keeps
// its audio. A control run shows svcrack does crack the password when it
// is in the word list and bans are off, so the scanner is able to.

const (
	edgeExt      = "1001"
	edgePassword = "Blue-Heron-7431"
	edgeRealm    = "waihu.test"
)

// wrongPasswords is a cracker's word list without the real password.
func wrongPasswords() []string {
	words := []string{"1001", "1234", "12345", "123456", "password", "admin", "secret", "voip", "sip", "welcome"}
	for i := range 40 {
		words = append(words, fmt.Sprintf("pass%04d", i))
	}
	return words
}

// edgeServer starts a UA with one extension on 127.0.0.1 whose calls are
// answered with a steady tone.
func edgeServer(t *testing.T, engine *rtp.Engine, edge sip.EdgeConfig, log *slog.Logger, legs chan<- *rtp.Leg) *sip.UA {
	t.Helper()
	// svcrack reads only the first challenge and computes MD5: offer it
	// first so the cracker really tries every password it can.
	edge.DigestAlgorithms = []string{"MD5", "SHA-256"}
	ua, err := sip.NewUA(sip.Config{
		Listen:      []sip.Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		InboundAuth: &sip.DigestCredentials{Realm: edgeRealm, Username: edgeExt, Password: edgePassword},
		Registrar:   &sip.RegistrarConfig{Realm: edgeRealm, Extensions: []sip.Extension{{User: edgeExt, Password: edgePassword}}},
		Edge:        edge,
		Logger:      log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ua.OnCall(func(ctx context.Context, in *sip.Incoming) {
		leg, err := engine.NewLeg(in.CallID())
		if err != nil {
			_ = in.Reject(503, "No Media")
			return
		}
		defer leg.Close()
		call, err := in.Answer(ctx, leg)
		if err != nil {
			return
		}
		if legs != nil {
			legs <- leg
		}
		pumpAudio(call.Done(), leg)
	})
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ua.Close(ctx)
	})
	return ua
}

// pumpAudio sends a 400 Hz tone on leg and drains what it receives until
// done.
func pumpAudio(done <-chan struct{}, leg *rtp.Leg) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-done
		cancel()
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		in := make([]int16, rtp.FrameSamples)
		for leg.ReadFrame(ctx, in) == nil {
		}
	})
	out := make([]int16, rtp.FrameSamples)
	for i := range out {
		out[i] = int16(8000 * sin400(i))
	}
	for leg.WriteFrame(ctx, out) == nil {
	}
	wg.Wait()
}

// sin400 is a 400 Hz sine at 8 kHz: 20 samples per period, so a frame holds
// whole periods and frames join without a click.
func sin400(i int) float64 {
	table := [20]float64{0, .309, .588, .809, .951, 1, .951, .809, .588, .309, 0, -.309, -.588, -.809, -.951, -1, -.951, -.809, -.588, -.309}
	return table[i%20]
}

// mediaEngine is an RTP engine on ip with a few free ports.
func mediaEngine(t *testing.T, ip string, log *slog.Logger) (*rtp.Engine, error) {
	first := testpeer.FreeUDPRange(t, 8)
	return rtp.NewEngine(rtp.Config{BindIP: netip.MustParseAddr(ip), PortMin: first, PortMax: first + 7, Logger: log})
}

func edgeLogger(t *testing.T) *slog.Logger {
	if os.Getenv("EDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testWriter sends log lines to t.Log, so bans show in -v output.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestSipviciousFindsNoExtensionNoPasswordAndGetsBanned(t *testing.T) {
	for _, tool := range []string{"svmap", "svwar", "svcrack"} {
		testpeer.Need(t, tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Second)
	defer cancel()
	log := edgeLogger(t)
	serverMedia, err := mediaEngine(t, "127.0.0.1", log)
	if err != nil {
		t.Fatal(err)
	}
	defer serverMedia.Close()

	// A UA with the default edge drops the scanners' User-Agent
	// (friendly-scanner) unread: svmap does not even find it.
	t.Run("default edge hides from svmap", func(t *testing.T) {
		ua := edgeServer(t, serverMedia, sip.EdgeConfig{LimitLoopback: true}, log, nil)
		res := testpeer.Svmap(ctx, t, ua.Addr("udp"), "-t", "0.2")
		if len(res.Rows) != 0 {
			t.Fatalf("svmap found %v\n%s", res.Rows, res.Output)
		}
		if st := ua.EdgeStats(); st.DroppedScanner == 0 {
			t.Errorf("svmap's request was not dropped as a scanner's: %+v", st)
		}
	})

	// The rest faces a scanner that lies about its User-Agent: the
	// blocklist is off, so only uniform answers, the rate limit and bans
	// stand in the way.
	legs := make(chan *rtp.Leg, 1)
	ua := edgeServer(t, serverMedia, sip.EdgeConfig{AllowScanners: true, LimitLoopback: true, RatePerSecond: 50, Burst: 100}, log, legs)
	target := ua.Addr("udp")

	// A good call from 127.0.0.2 runs through all the scans.
	call := startGoodCall(ctx, t, target, log)
	call.server = <-legs

	t.Run("svmap finds the server and nothing else", func(t *testing.T) {
		res := testpeer.Svmap(ctx, t, target, "-t", "0.2")
		if len(res.Rows) != 1 || !strings.HasPrefix(res.Rows[0][0], target.String()) {
			t.Fatalf("svmap: %v, want the server %s\n%s", res.Rows, target, res.Output)
		}
		t.Logf("svmap: %v", res)
	})
	for _, method := range []string{"REGISTER", "INVITE", "OPTIONS"} {
		t.Run("svwar "+method+" finds no extension", func(t *testing.T) {
			before := ua.EdgeStats().Admitted
			res := testpeer.Svwar(ctx, t, target, method, edgeExt+"-1010", "--force", "-v", "--maximumtime", "2")
			if len(res.Rows) != 0 {
				t.Fatalf("svwar -m %s found %v\n%s", method, res.Rows, res.Output)
			}
			// It did talk to the server: it learnt the answer to a random
			// extension, then asked for the real one first and got that same
			// answer. Where that answer is a 401, svwar gives up there ("We
			// got an unknown response"): it cannot tell the two apart.
			admitted := ua.EdgeStats().Admitted - before
			if !strings.Contains(res.Output, "Ok SIP device found") || admitted < 2 {
				t.Fatalf("svwar -m %s did not scan (%d requests admitted)\n%s", method, admitted, res.Output)
			}
			t.Logf("svwar -m %s: %v, %d requests answered", method, res, admitted)
		})
	}
	if ua.EdgeStats().Bans != 0 {
		t.Fatalf("banned before the cracking began: %+v", ua.EdgeStats())
	}
	t.Run("svcrack finds no password and is banned", func(t *testing.T) {
		before := ua.EdgeStats()
		res := testpeer.Svcrack(ctx, t, target, edgeExt, wrongPasswords(), "--maximumtime", "3")
		if len(res.Rows) != 0 {
			t.Fatalf("svcrack cracked %v\n%s", res.Rows, res.Output)
		}
		st := ua.EdgeStats()
		tried := st.AuthFailures - before.AuthFailures
		if st.Bans != 1 || tried != uint64(sip.DefaultBanAfter) || st.DroppedBanned == 0 {
			t.Fatalf("after svcrack: %+v; %d passwords tried, want %d then a ban", st, tried, sip.DefaultBanAfter)
		}
		bans := ua.Bans()
		if len(bans) != 1 || bans[0].Addr != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("bans %+v, want 127.0.0.1", bans)
		}
		t.Logf("svcrack: %v; %d of %d passwords tried before the ban; edge %+v", res, tried, len(wrongPasswords()), st)
	})
	t.Run("a UDP flood from another address is cut to the rate limit", func(t *testing.T) {
		flood(ctx, t, target, 3000)
	})
	t.Run("banned scanner sees nothing, not even the server", func(t *testing.T) {
		res := testpeer.Svmap(ctx, t, target, "-t", "0.2")
		if len(res.Rows) != 0 {
			t.Fatalf("banned svmap found %v", res.Rows)
		}
	})
	call.check(t)
}

// flood sends n OPTIONS from 127.0.0.3 as fast as the socket takes them
// and checks that only about a second's worth of the bucket (burst plus the
// rate for the time the flood lasted) was answered; the rest is dropped
// unread.
func flood(ctx context.Context, t *testing.T, target netip.AddrPort, n int) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answers := make(chan int, 1)
	go func() {
		got := 0
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := conn.Read(buf); err != nil {
				answers <- got
				return
			}
			got++
		}
	}()
	start := time.Now()
	to := net.UDPAddrFromAddrPort(target)
	for i := range n {
		req := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKflood%d\r\nFrom: <sip:f@127.0.0.3>;tag=%d\r\nTo: <sip:%s>\r\nCall-ID: flood-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			target, conn.LocalAddr(), i, i, target, i)
		if _, err := conn.WriteToUDP([]byte(req), to); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	got := <-answers
	limit := 100 + int(50*elapsed.Seconds()) + 1 // Burst + RatePerSecond × time
	t.Logf("flood: %d OPTIONS in %s, %d answered (limit %d)", n, elapsed.Round(time.Millisecond), got, limit)
	if got == 0 || got > limit {
		t.Fatalf("flood of %d: %d answered, want 1..%d", n, got, limit)
	}
}

// goodCall is a call from 127.0.0.2 that counts the RTP it receives.
type goodCall struct {
	start  time.Time
	leg    *rtp.Leg
	server *rtp.Leg // the server's side of the call
	call   *sip.Call
	ua     *sip.UA
}

func startGoodCall(ctx context.Context, t *testing.T, server netip.AddrPort, log *slog.Logger) *goodCall {
	t.Helper()
	media, err := mediaEngine(t, "127.0.0.2", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { media.Close() })
	ua, err := sip.NewUA(sip.Config{
		Listen: []sip.Listener{{Network: "udp", Addr: "127.0.0.2:0"}},
		Trunks: []sip.Trunk{{Name: "edge", Address: server.String(), Username: edgeExt, Password: edgePassword}},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(ctx); err != nil {
		t.Fatal(err)
	}
	leg, err := media.NewLeg("good")
	if err != nil {
		t.Fatal(err)
	}
	call, err := ua.Dial(ctx, sip.DialRequest{Trunk: "edge", To: "2000", Media: leg})
	if err != nil {
		t.Fatalf("good call: %v", err)
	}
	g := &goodCall{start: time.Now(), leg: leg, call: call, ua: ua}
	go pumpAudio(call.Done(), leg)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = call.Hangup(cctx)
		_ = ua.Close(cctx)
		leg.Close()
	})
	return g
}

// check hangs the call up and asserts its audio kept flowing: at least
// 95 % of the RTP packets the server sent arrived, and the server sent
// through the whole call (at least half the 20 ms frames it lasted: a
// loaded machine paces late, a dropped call sends nothing).
func (g *goodCall) check(t *testing.T) {
	t.Helper()
	select {
	case <-g.call.Done():
		t.Fatalf("good call ended during the scans: %v", g.call.Reason())
	default:
	}
	elapsed := time.Since(g.start)
	got, sent := g.leg.Stats(), g.server.Stats()
	frames := int64(elapsed / rtp.FrameDuration)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.call.Hangup(ctx); err != nil {
		t.Errorf("hang up the good call: %v", err)
	}
	t.Logf("good call from 127.0.0.2 over %s (%d frames): server sent %d RTP packets, %d received, %d lost",
		elapsed.Round(time.Millisecond), frames, sent.PacketsSent, got.PacketsReceived, got.PacketsLost)
	if float64(got.PacketsReceived) < 0.95*float64(sent.PacketsSent) || 2*sent.PacketsSent < frames {
		t.Errorf("good call lost its audio: %d of %d packets sent received; %d sent in %d frames' time", got.PacketsReceived, sent.PacketsSent, sent.PacketsSent, frames)
	}
}

// TestSvcrackCracksAWeakEdgeAsControl proves the cracker works against
// waihu's digest implementation: with bans and the rate limit off and the
// password in the word list, it finds it.
func TestSvcrackCracksAWeakEdgeAsControl(t *testing.T) {
	testpeer.Need(t, "svcrack")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := edgeLogger(t)
	media, err := mediaEngine(t, "127.0.0.1", log)
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	ua := edgeServer(t, media, sip.EdgeConfig{AllowScanners: true, BanAfter: -1, RatePerSecond: -1}, log, nil)
	words := wrongPasswords()
	words = slices.Insert(words, 30, edgePassword)
	res := testpeer.Svcrack(ctx, t, ua.Addr("udp"), edgeExt, words, "--maximumtime", "3")
	if len(res.Rows) != 1 || res.Rows[0][0] != edgeExt || res.Rows[0][1] != edgePassword {
		t.Fatalf("svcrack without bans: %v, want %s cracked\n%s", res.Rows, edgeExt, res.Output)
	}
	if bs := ua.Lookup(edgeExt); len(bs) != 1 {
		t.Errorf("svcrack's successful REGISTER left bindings %+v, want one", bs)
	}
	t.Logf("control: %v; edge %+v", res, ua.EdgeStats())
}
