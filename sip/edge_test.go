package sip

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func testEdge(t *testing.T, cfg EdgeConfig, allowFrom ...netip.Prefix) *edge {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newEdge(cfg, allowFrom, nil, testLogger(t))
}

var (
	scanner = netip.MustParseAddr("203.0.113.9")
	other   = netip.MustParseAddr("198.51.100.7")
)

func TestEdgeRateLimitDropsBeyondBurstAndRefills(t *testing.T) {
	clock := newFakeClock()
	e := testEdge(t, EdgeConfig{RatePerSecond: 2, Burst: 3, Now: clock.Now})
	admitted := func(src netip.Addr, n int) int {
		ok := 0
		for range n {
			if e.check(src, "OPTIONS", "") == admit {
				ok++
			}
		}
		return ok
	}
	steps := []struct {
		name    string
		advance time.Duration
		src     netip.Addr
		send    int
		want    int
	}{
		{"burst admitted, the rest dropped", 0, scanner, 10, 3},
		{"other sources keep their own bucket", 0, other, 3, 3},
		{"half a second refills one token at 2/s", 500 * time.Millisecond, scanner, 5, 1},
		{"a long pause refills only up to the burst", time.Hour, scanner, 10, 3},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		if got := admitted(s.src, s.send); got != s.want {
			t.Errorf("%s: %d of %d admitted, want %d", s.name, got, s.send, s.want)
		}
	}
	if st := e.stats(); st.DroppedRate != 7+4+7 || st.Admitted != 3+3+1+3 {
		t.Errorf("stats %+v, want 18 dropped by rate and 10 admitted", st)
	}
}

func TestEdgeRateLimitExemptions(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name string
		cfg  EdgeConfig
		src  netip.Addr
		want int
	}{
		{"internet source limited", EdgeConfig{}, scanner, 1},
		{"trusted prefix not limited", EdgeConfig{Trusted: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}, scanner, 100},
		{"loopback not limited by default", EdgeConfig{}, loop, 100},
		{"loopback limited when asked", EdgeConfig{LimitLoopback: true}, loop, 1},
		{"negative rate disables the limit", EdgeConfig{RatePerSecond: -1}, scanner, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Burst, tt.cfg.Now = 1, newFakeClock().Now
			e := testEdge(t, tt.cfg)
			got := 0
			for range 100 {
				if e.check(tt.src, "REGISTER", "") == admit {
					got++
				}
			}
			if got != tt.want {
				t.Errorf("%d of 100 admitted, want %d", got, tt.want)
			}
		})
	}
}

func TestTrunkAddressIsTrusted(t *testing.T) {
	cfg, _ := EdgeConfig{Burst: 1, Now: newFakeClock().Now}.withDefaults()
	e := newEdge(cfg, nil, []Trunk{{Name: "carrier", Address: "203.0.113.9:5060"}}, testLogger(t))
	for i := range 20 {
		if v := e.check(scanner, "INVITE", ""); v != admit {
			t.Fatalf("request %d from the trunk's address: %s", i, v)
		}
		e.failure(scanner, "digest auth failed")
	}
	if st := e.stats(); st.Bans != 0 {
		t.Errorf("trunk address banned: %+v", st)
	}
}

func TestEdgeBansAfterFailuresWithinWindow(t *testing.T) {
	tests := []struct {
		name       string
		cfg        EdgeConfig
		failures   int
		gap        time.Duration // between failures
		wantBanned bool
	}{
		{"four failures do not ban", EdgeConfig{}, 4, time.Second, false},
		{"five failures in a minute ban", EdgeConfig{}, 5, time.Second, true},
		{"five failures spread over more than the window do not ban", EdgeConfig{}, 5, 16 * time.Second, false},
		{"configured threshold", EdgeConfig{BanAfter: 2}, 2, time.Second, true},
		{"negative BanAfter disables bans", EdgeConfig{BanAfter: -1}, 50, time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tt.cfg.Now = clock.Now
			e := testEdge(t, tt.cfg)
			for range tt.failures {
				e.failure(scanner, "digest auth failed")
				clock.Advance(tt.gap)
			}
			banned := e.check(scanner, "REGISTER", "") == dropBanned
			if banned != tt.wantBanned {
				t.Fatalf("banned = %v, want %v", banned, tt.wantBanned)
			}
			if v := e.check(other, "REGISTER", ""); v != admit {
				t.Errorf("another source: %s, want admitted", v)
			}
		})
	}
}

func TestBanExpiresAndUnbanLiftsIt(t *testing.T) {
	clock := newFakeClock()
	e := testEdge(t, EdgeConfig{Now: clock.Now})
	ban := func() {
		for range DefaultBanAfter {
			e.failure(scanner, "digest auth failed")
		}
	}
	ban()
	if got := e.list(); len(got) != 1 || got[0].Addr != scanner || !got[0].Until.Equal(clock.Now().Add(DefaultBanFor)) {
		t.Fatalf("bans %+v, want %s until now+%s", got, scanner, DefaultBanFor)
	}
	clock.Advance(DefaultBanFor - time.Second)
	if v := e.check(scanner, "OPTIONS", ""); v != dropBanned {
		t.Fatalf("a second before expiry: %s", v)
	}
	clock.Advance(time.Second)
	if v := e.check(scanner, "OPTIONS", ""); v != admit {
		t.Fatalf("at expiry: %s, want admitted", v)
	}
	ban()
	if !e.unban(scanner) {
		t.Fatal("unban reported no ban")
	}
	if v := e.check(scanner, "OPTIONS", ""); v != admit {
		t.Fatalf("after unban: %s", v)
	}
	// Unban forgets the failures: one more does not ban again.
	e.failure(scanner, "digest auth failed")
	if v := e.check(scanner, "OPTIONS", ""); v != admit {
		t.Fatalf("one failure after unban: %s", v)
	}
	if st := e.stats(); st.Bans != 2 || st.Banned != 0 || st.DroppedBanned != 1 {
		t.Errorf("stats %+v, want 2 bans, none in force, 1 drop", st)
	}
}

func TestScannerUserAgentIsDroppedAndCountsTowardsABan(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name string
		cfg  EdgeConfig
		ua   string
		want verdict
	}{
		{"sipvicious default", EdgeConfig{}, "friendly-scanner", dropScanner},
		{"case-insensitive substring", EdgeConfig{}, "SIPVicious 0.3.4", dropScanner},
		{"a softphone", EdgeConfig{}, "Zoiper rv2.10", admit},
		{"blocklist off", EdgeConfig{AllowScanners: true}, "friendly-scanner", admit},
		{"own list", EdgeConfig{BlockUserAgents: []string{"evil"}}, "Evil/1.0", dropScanner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Now = clock.Now
			e := testEdge(t, tt.cfg)
			if v := e.check(scanner, "OPTIONS", tt.ua); v != tt.want {
				t.Fatalf("%q: %s, want %s", tt.ua, v, tt.want)
			}
		})
	}
	e := testEdge(t, EdgeConfig{Now: clock.Now})
	for range DefaultBanAfter {
		e.check(scanner, "OPTIONS", "friendly-scanner")
	}
	if v := e.check(scanner, "OPTIONS", "Zoiper"); v != dropBanned {
		t.Errorf("after %d scanner requests the source changed its User-Agent: %s, want banned", DefaultBanAfter, v)
	}
}

func TestAllowFromAppliesToConfiguredMethods(t *testing.T) {
	lan := netip.MustParsePrefix("10.0.0.0/8")
	inside := netip.MustParseAddr("10.1.2.3")
	tests := []struct {
		name    string
		methods []string
		method  string
		src     netip.Addr
		want    verdict
	}{
		{"INVITE is left to the handler's 403 by default", nil, "INVITE", scanner, admit},
		{"other methods free by default", nil, "REGISTER", scanner, admit},
		{"listed method dropped from outside", []string{"register"}, "REGISTER", scanner, dropNotAllowed},
		{"listed method admitted from inside", []string{"REGISTER"}, "REGISTER", inside, admit},
		{"star covers INVITE too", []string{"*"}, "INVITE", scanner, dropNotAllowed},
		{"star covers OPTIONS", []string{"*"}, "OPTIONS", scanner, dropNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEdge(t, EdgeConfig{AllowFromMethods: tt.methods, Now: newFakeClock().Now}, lan)
			if v := e.check(tt.src, tt.method, ""); v != tt.want {
				t.Errorf("%s from %s: %s, want %s", tt.method, tt.src, v, tt.want)
			}
		})
	}
}

func TestEdgeStateStaysBoundedUnderManySources(t *testing.T) {
	clock := newFakeClock()
	e := testEdge(t, EdgeConfig{MaxSources: 100, BanAfter: 1, Now: clock.Now})
	for i := range 10000 {
		src := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		e.check(src, "REGISTER", "")
		e.failure(src, "digest auth failed")
	}
	e.mu.Lock()
	sources, bans, fifo := e.lru.Len(), len(e.bans), len(e.banFIFO)
	e.mu.Unlock()
	if sources > 100 || bans > 100 || fifo > 200 {
		t.Errorf("state grew past the cap: %d sources, %d bans, %d in ban order; cap 100", sources, bans, fifo)
	}
	// The newest ban survives eviction.
	if v := e.check(netip.AddrFrom4([4]byte{198, 18, 39, 15}), "REGISTER", ""); v != dropBanned {
		t.Errorf("latest banned source: %s", v)
	}
}

func TestPeekRequestFindsMethodAndUserAgent(t *testing.T) {
	tests := []struct {
		name, raw, method, ua string
	}{
		{"full request", "OPTIONS sip:100@1.2.3.4 SIP/2.0\r\nVia: SIP/2.0/UDP x\r\nUser-Agent: friendly-scanner\r\n\r\n", "OPTIONS", "friendly-scanner"},
		{"lower-case header name", "REGISTER sip:x SIP/2.0\r\nuser-agent:  sipcli/v1.8 \r\n\r\n", "REGISTER", "sipcli/v1.8"},
		{"no user agent", "INVITE sip:x SIP/2.0\r\nTo: <sip:x>\r\n\r\nUser-Agent: in the body\r\n", "INVITE", ""},
		{"garbage", "\x00\x01garbage", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ua := peekRequest([]byte(tt.raw))
			if m != tt.method || ua != tt.ua {
				t.Errorf("got %q %q, want %q %q", m, ua, tt.method, tt.ua)
			}
		})
	}
}

func TestEdgeConfigRejectsUnknownAlgorithm(t *testing.T) {
	if _, err := (EdgeConfig{DigestAlgorithms: []string{"SHA-512"}}).withDefaults(); err == nil {
		t.Fatal("SHA-512 accepted")
	}
}

func BenchmarkEdgeCheck(b *testing.B) {
	cfg, _ := EdgeConfig{RatePerSecond: 1e9, Burst: 1 << 30}.withDefaults()
	e := newEdge(cfg, nil, nil, testLogger(b))
	srcs := make([]netip.Addr, 1024)
	for i := range srcs {
		srcs[i] = netip.MustParseAddr(fmt.Sprintf("198.18.%d.%d", i>>8, i&255))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.check(srcs[i&1023], "REGISTER", "Zoiper")
	}
}

// tcpConn sends raw requests over one TCP connection and reads answers.
type tcpConn struct {
	t    *testing.T
	conn net.Conn
	rd   *bufio.Reader
}

func dialTCP(t *testing.T, to netip.AddrPort) *tcpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", to.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &tcpConn{t: t, conn: conn, rd: bufio.NewReader(conn)}
}

// do sends an OPTIONS and returns the status of the answer, 0 when none
// came in wait, -1 when the server closed the connection.
func (c *tcpConn) do(userAgent string, wait time.Duration) int {
	c.t.Helper()
	local := c.conn.LocalAddr().String()
	req := fmt.Sprintf("OPTIONS sip:%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%016x\r\nFrom: <sip:a@%s>;tag=1\r\nTo: <sip:b@%s>\r\nCall-ID: %016x\r\nCSeq: 1 OPTIONS\r\nUser-Agent: %s\r\nContent-Length: 0\r\n\r\n",
		c.conn.RemoteAddr(), local, rand.Uint64(), local, c.conn.RemoteAddr(), rand.Uint64(), userAgent)
	if _, err := c.conn.Write([]byte(req)); err != nil {
		return -1
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	status := 0
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return status
			}
			return -1
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "SIP/2.0 ") {
			fmt.Sscanf(line, "SIP/2.0 %d", &status)
		}
		if line == "" && status != 0 {
			return status // headers done; OPTIONS answers carry no body
		}
		if status == 503 && strings.HasPrefix(line, "Retry-After:") {
			status = 5030 // 503 with Retry-After
		}
	}
}

func TestEdgeOverTCPRefusesWith503AndClosesBannedConnections(t *testing.T) {
	ua := startUA(t, Config{
		Listen: []Listener{{Network: "tcp", Addr: "127.0.0.1:0"}},
		Edge:   EdgeConfig{LimitLoopback: true, RatePerSecond: 0.001, Burst: 2, BanAfter: 3},
	})
	c := dialTCP(t, ua.Addr("tcp"))
	for i, want := range []int{200, 200, 5030, 5030} {
		if got := c.do("Zoiper", time.Second); got != want {
			t.Fatalf("request %d: %d, want %d (5030 = 503 with Retry-After)", i, got, want)
		}
	}
	// Three scanner requests ban the source; its connections are closed.
	for range 3 {
		if got := c.do("friendly-scanner", 200*time.Millisecond); got != 0 && got != -1 {
			t.Fatalf("scanner request answered %d", got)
		}
	}
	if st := ua.EdgeStats(); st.Bans != 1 || st.DroppedRate != 2 || st.DroppedScanner != 3 {
		t.Fatalf("stats %+v", st)
	}
	if got := dialTCP(t, ua.Addr("tcp")).do("Zoiper", time.Second); got != -1 {
		t.Fatalf("banned source's new connection: %d, want closed", got)
	}
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func TestBanLogsOneLineNotOnePerPacket(t *testing.T) {
	clock := newFakeClock()
	h := &countingHandler{msgs: map[string]int{}}
	cfg, _ := EdgeConfig{Now: clock.Now}.withDefaults()
	e := newEdge(cfg, nil, nil, slog.New(h))
	for range 50 {
		e.failure(scanner, "digest auth failed")
		e.check(scanner, "REGISTER", "")
		_, _ = e.readFilter(sipgosip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: scanner.AsSlice(), Port: 5060}}, []byte("REGISTER sip:x SIP/2.0\r\n\r\n"))
	}
	clock.Advance(DefaultBanFor)
	e.check(scanner, "REGISTER", "")
	h.mu.Lock()
	defer h.mu.Unlock()
	want := map[string]int{"sip source banned": 1, "sip source ban expired": 1}
	if len(h.msgs) != len(want) || h.msgs["sip source banned"] != 1 || h.msgs["sip source ban expired"] != 1 {
		t.Errorf("log lines %v, want %v", h.msgs, want)
	}
}
