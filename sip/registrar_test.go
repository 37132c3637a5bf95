package sip

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// rawUDP sends hand-written requests from a chosen loopback address and
// reads the answers, so tests see exactly what a scanner would.
type rawUDP struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
}

func dialRaw(t *testing.T, from string, to netip.AddrPort) *rawUDP {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)})
	if err != nil {
		t.Fatalf("listen on %s: %v", from, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawUDP{t: t, conn: conn, to: net.UDPAddrFromAddrPort(to)}
}

// do sends req and returns its final response, nil when none came within
// wait. Answers of other requests (retransmitted 401s of INVITEs, which
// we do not ACK) are skipped.
func (c *rawUDP) do(req string, wait time.Duration) *sipgosip.Response {
	c.t.Helper()
	_, after, _ := strings.Cut(req, "Call-ID: ")
	callID, _, _ := strings.Cut(after, "\r\n")
	if _, err := c.conn.WriteToUDP([]byte(req), c.to); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(wait)
	for {
		_ = c.conn.SetReadDeadline(deadline)
		n, err := c.conn.Read(buf)
		if err != nil {
			return nil
		}
		msg, err := sipgosip.ParseMessage(buf[:n])
		if err != nil {
			c.t.Fatalf("unparsable answer: %v\n%s", err, buf[:n])
		}
		if res, ok := msg.(*sipgosip.Response); ok && res.StatusCode >= 200 && res.CallID() != nil && res.CallID().Value() == callID {
			return res
		}
	}
}

// register writes a REGISTER for user from this socket.
func (c *rawUDP) register(user, callID string, cseq int, auth string, expires int) string {
	local := c.conn.LocalAddr().String()
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:%s SIP/2.0\r\n", c.to)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%016x;rport\r\n", local, rand.Uint64())
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=%08x\r\n", user, c.to.IP, rand.Uint32())
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", user, c.to.IP)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d REGISTER\r\n", callID, cseq)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\nExpires: %d\r\nMax-Forwards: 70\r\n", user, local, expires)
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// answerChallenge computes the Authorization for the first challenge of
// res, with nonce-count nc.
func answerChallenge(t *testing.T, res *sipgosip.Response, uri, user, password string, nc int) string {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		t.Fatalf("no challenge in %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: user, Password: password, Count: nc, Cnonce: "0a4f113b"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func registrarUA(t *testing.T, clock *fakeClock, edge EdgeConfig) *UA {
	t.Helper()
	edge.Now = clock.Now
	return startUA(t, Config{
		Edge:      edge,
		Registrar: &RegistrarConfig{Realm: "waihu.test", Extensions: []Extension{{User: "1001", Password: "s3cret-1001"}}},
	})
}

func TestRegistrarAuthPaths(t *testing.T) {
	const user, pw = "1001", "s3cret-1001"
	tests := []struct {
		name string
		// first REGISTER is unauthenticated; then each step answers the
		// last challenge (or reuses the last Authorization).
		user, password string
		prepare        func(clock *fakeClock)
		replay         bool
		wantCode       int
		wantStale      bool
		wantBinding    bool
	}{
		{name: "good password registers", user: user, password: pw, wantCode: 200, wantBinding: true},
		{name: "wrong password gets a fresh challenge", user: user, password: "wrong", wantCode: 401},
		{name: "unknown user gets the same challenge", user: "1002", password: pw, wantCode: 401},
		{name: "stale nonce with the right password gets stale=true", user: user, password: pw,
			prepare: func(c *fakeClock) { c.Advance(DefaultNonceLifetime + time.Second) }, wantCode: 401, wantStale: true},
		{name: "replayed nonce-count is refused", user: user, password: pw, replay: true, wantCode: 401, wantBinding: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			ua := registrarUA(t, clock, EdgeConfig{})
			c := dialRaw(t, "127.0.0.1", ua.Addr("udp"))
			uri := "sip:" + c.to.String()
			res := c.do(c.register(tt.user, "reg-1", 1, "", 600), time.Second)
			if res == nil || res.StatusCode != 401 {
				t.Fatalf("unauthenticated REGISTER: %v, want 401", res)
			}
			if tt.prepare != nil {
				tt.prepare(clock)
			}
			auth := answerChallenge(t, res, uri, tt.user, tt.password, 1)
			if tt.replay {
				if res = c.do(c.register(tt.user, "reg-1", 2, auth, 600), time.Second); res == nil || res.StatusCode != 200 {
					t.Fatalf("first use of the credentials: %v, want 200", res)
				}
			}
			res = c.do(c.register(tt.user, "reg-1", 3, auth, 600), time.Second)
			if res == nil || res.StatusCode != tt.wantCode {
				t.Fatalf("authenticated REGISTER: %v, want %d", res, tt.wantCode)
			}
			if tt.wantCode == 401 {
				chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
				if err != nil || chal.Stale != tt.wantStale {
					t.Errorf("challenge %v (%v), want stale=%v", chal, err, tt.wantStale)
				}
			}
			bs := ua.Lookup("sip:1001@waihu.test")
			if got := len(bs) == 1; got != tt.wantBinding {
				t.Fatalf("bindings %+v, want one: %v", bs, tt.wantBinding)
			}
			if tt.wantBinding {
				b := bs[0]
				if b.User != user || b.Contact != "sip:1001@"+c.conn.LocalAddr().String() || b.Source.String() != c.conn.LocalAddr().String() ||
					!b.Expires.Equal(clock.Now().Add(600*time.Second)) {
					t.Errorf("binding %+v", b)
				}
				if exp := res.Contact(); res.StatusCode == 200 && (exp == nil || !strings.Contains(exp.String(), "expires=600")) {
					t.Errorf("200 OK contact %v, want expires=600", exp)
				}
			}
		})
	}
}

func TestRegistrarBindingsExpireAndUnregister(t *testing.T) {
	clock := newFakeClock()
	ua := registrarUA(t, clock, EdgeConfig{})
	c := dialRaw(t, "127.0.0.1", ua.Addr("udp"))
	uri := "sip:" + c.to.String()
	reg := func(cseq, expires int) *sipgosip.Response {
		res := c.do(c.register("1001", "reg-2", cseq, "", expires), time.Second)
		return c.do(c.register("1001", "reg-2", cseq+1, answerChallenge(t, res, uri, "1001", "s3cret-1001", 1), expires), time.Second)
	}
	if res := reg(1, 30); res == nil || res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil {
		t.Fatalf("expires 30: %v, want 423 with Min-Expires", res)
	}
	if res := reg(3, 7200); res == nil || res.StatusCode != 200 {
		t.Fatalf("expires 7200: %v", res)
	}
	if bs := ua.Lookup("1001"); len(bs) != 1 || !bs[0].Expires.Equal(clock.Now().Add(DefaultRegistrarMaxExpires)) {
		t.Fatalf("bindings %+v, want one capped at %s", bs, DefaultRegistrarMaxExpires)
	}
	clock.Advance(DefaultRegistrarMaxExpires)
	if bs := ua.Lookup("1001"); len(bs) != 0 {
		t.Fatalf("binding outlived its expiry: %+v", bs)
	}
	if res := reg(5, 600); res == nil || res.StatusCode != 200 {
		t.Fatalf("re-register: %v", res)
	}
	if res := reg(7, 0); res == nil || res.StatusCode != 200 || len(ua.Lookup("1001")) != 0 {
		t.Fatalf("unregister: %v, bindings %+v", res, ua.Lookup("1001"))
	}
}

// TestUnauthorizedAnswersDoNotRevealExtensions compares the answers to
// every way of failing: an extension that exists and one that does not
// must be told apart by nothing but the nonce.
func TestUnauthorizedAnswersDoNotRevealExtensions(t *testing.T) {
	clock := newFakeClock()
	ua := registrarUA(t, clock, EdgeConfig{BanAfter: -1})
	c := dialRaw(t, "127.0.0.1", ua.Addr("udp"))
	uri := "sip:" + c.to.String()
	shape := func(res *sipgosip.Response) string {
		if res == nil {
			return "no answer"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d %s\n", res.StatusCode, res.Reason)
		var names []string
		for _, h := range res.Headers() {
			names = append(names, strings.ToLower(h.Name()))
		}
		slices.Sort(names)
		fmt.Fprintln(&b, strings.Join(names, ","))
		for _, h := range res.GetHeaders("WWW-Authenticate") {
			chal, err := digest.ParseChallenge(h.Value())
			if err != nil {
				t.Fatal(err)
			}
			chal.Nonce = "N"
			fmt.Fprintln(&b, chal.String())
		}
		return b.String()
	}
	var want string
	for _, user := range []string{"1001", "1002", "100", "admin"} {
		for _, password := range []string{"", "wrong", "s3cret-1001x"} {
			res := c.do(c.register(user, "uniform-"+user, 1, "", 600), time.Second)
			if password != "" {
				res = c.do(c.register(user, "uniform-"+user, 2, answerChallenge(t, res, uri, user, password, 1), 600), time.Second)
			}
			got := shape(res)
			if want == "" {
				want = got
				if !strings.HasPrefix(want, "401 Unauthorized") || !strings.Contains(want, "SHA-256") || !strings.Contains(want, "MD5") {
					t.Fatalf("first answer:\n%s\nwant 401 with SHA-256 and MD5 challenges", want)
				}
			}
			if got != want {
				t.Errorf("user %q password %q answered\n%s\nbut others got\n%s", user, password, got, want)
			}
		}
	}
}

func TestRepeatedAuthFailuresBanTheSourceSilently(t *testing.T) {
	clock := newFakeClock()
	ua := registrarUA(t, clock, EdgeConfig{})
	attacker := dialRaw(t, "127.0.0.1", ua.Addr("udp"))
	good := dialRaw(t, "127.0.0.2", ua.Addr("udp"))
	uri := "sip:" + attacker.to.String()
	res := attacker.do(attacker.register("1001", "crack", 1, "", 600), time.Second)
	for i := range DefaultBanAfter {
		if res == nil || res.StatusCode != 401 {
			t.Fatalf("attempt %d: %v, want 401", i, res)
		}
		res = attacker.do(attacker.register("1001", "crack", i+2, answerChallenge(t, res, uri, "1001", fmt.Sprintf("guess%d", i), 1), 600), 300*time.Millisecond)
	}
	if res != nil {
		t.Fatalf("the attempt that reached the threshold was answered %d; a banned source hears nothing", res.StatusCode)
	}
	if res := attacker.do("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", 300*time.Millisecond); res != nil {
		t.Fatalf("banned source's OPTIONS answered %d", res.StatusCode)
	}
	st := ua.EdgeStats()
	if st.Bans != 1 || st.Banned != 1 || st.AuthFailures != uint64(DefaultBanAfter) || st.DroppedBanned == 0 {
		t.Errorf("stats %+v", st)
	}
	if bans := ua.Bans(); len(bans) != 1 || bans[0].Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("bans %+v", bans)
	}
	// Another source registers with the right password meanwhile.
	res = good.do(good.register("1001", "good", 1, "", 600), time.Second)
	if res = good.do(good.register("1001", "good", 2, answerChallenge(t, res, uri, "1001", "s3cret-1001", 1), 600), time.Second); res == nil || res.StatusCode != 200 {
		t.Fatalf("good source: %v", res)
	}
	if !ua.Unban(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("Unban found no ban")
	}
	if res := attacker.do(attacker.register("1001", "crack", 99, "", 600), time.Second); res == nil || res.StatusCode != 401 {
		t.Fatalf("after Unban: %v, want 401", res)
	}
}

func TestInviteDigestAuthSharesTheVerifierAndBans(t *testing.T) {
	clock := newFakeClock()
	ua := startUA(t, Config{
		InboundAuth: &DigestCredentials{Realm: "waihu.test", Username: "trunk", Password: "pw"},
		Registrar:   &RegistrarConfig{Extensions: []Extension{{User: "1001", Password: "s3cret-1001"}}},
		Edge:        EdgeConfig{Now: clock.Now, BanAfter: 2},
	})
	c := dialRaw(t, "127.0.0.1", ua.Addr("udp"))
	invite := func(auth string) string {
		local := c.conn.LocalAddr().String()
		h := ""
		if auth != "" {
			h = "Authorization: " + auth + "\r\n"
		}
		return fmt.Sprintf("INVITE sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%016x\r\nFrom: <sip:x@%s>;tag=1\r\nTo: <sip:1001@%s>\r\nCall-ID: inv-%d\r\nCSeq: 1 INVITE\r\nContact: <sip:x@%s>\r\n%sContent-Length: 0\r\n\r\n",
			c.to, local, rand.Uint64(), local, c.to, rand.Uint64(), local, h)
	}
	res := c.do(invite(""), time.Second)
	if res == nil || res.StatusCode != 401 || len(res.GetHeaders("WWW-Authenticate")) != 2 {
		t.Fatalf("INVITE without credentials: %v, want 401 with two challenges", res)
	}
	// The registrar's extension is in the same credential store.
	chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	cred, _ := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:1001@" + c.to.String(), Username: "1001", Password: "s3cret-1001", Count: 1, Cnonce: "ab"})
	if res := c.do(invite(cred.String()), time.Second); res == nil || res.StatusCode != 480 {
		t.Fatalf("INVITE with the extension's credentials: %v, want 480 (authenticated, no handler)", res)
	}
	for range 2 {
		res = c.do(invite(""), time.Second)
		chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
		cred, _ := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:1001@" + c.to.String(), Username: "trunk", Password: "nope", Count: 1, Cnonce: "ab"})
		c.do(invite(cred.String()), 300*time.Millisecond)
	}
	if st := ua.EdgeStats(); st.Bans != 1 {
		t.Fatalf("two wrong INVITE passwords with BanAfter 2: stats %+v", st)
	}
	if res := c.do(invite(""), 300*time.Millisecond); res != nil {
		t.Fatalf("banned source's INVITE answered %d", res.StatusCode)
	}
}

func TestRegistrarRefusesAnotherUsersAOR(t *testing.T) {
	clock := newFakeClock()
	ua := startUA(t, Config{
		Edge: EdgeConfig{Now: clock.Now},
		Registrar: &RegistrarConfig{Extensions: []Extension{
			{User: "1001", Password: "s3cret-1001"}, {User: "1002", Password: "s3cret-1002"},
		}},
	})
	c := dialRaw(t, "127.0.0.1", ua.Addr("udp"))
	uri := "sip:" + c.to.String()
	res := c.do(c.register("1001", "hijack", 1, "", 600), time.Second)
	// 1002 authenticates correctly but asks to bind 1001's AOR.
	res = c.do(c.register("1001", "hijack", 2, answerChallenge(t, res, uri, "1002", "s3cret-1002", 1), 600), time.Second)
	if res == nil || res.StatusCode != 403 {
		t.Fatalf("REGISTER of 1001's AOR with 1002's credentials: %v, want 403", res)
	}
	if bs := ua.Lookup("1001"); len(bs) != 0 {
		t.Fatalf("1001 bound by 1002: %+v", bs)
	}
	if st := ua.EdgeStats(); st.AuthFailures != 0 {
		t.Errorf("a correct password counted as a failure: %+v", st)
	}
	if bs := ua.Lookup("sip:1002@anywhere"); len(bs) != 0 {
		t.Errorf("1002 got a binding: %+v", bs)
	}
}
