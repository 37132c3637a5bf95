package sip

import (
	"net"
	"net/netip"
	"testing"

	sipgosip "github.com/emiago/sipgo/sip"
)

// FuzzEdgeReadFilter feeds arbitrary datagrams to the edge's read filter,
// which sees every UDP packet before sipgo parses it: it must never panic
// and never fail the read (that would stop the listener), and what it lets
// through is the input unchanged.
func FuzzEdgeReadFilter(f *testing.F) {
	for _, s := range []string{
		"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nUser-Agent: friendly-scanner\r\n\r\n",
		"REGISTER sip:127.0.0.1 SIP/2.0\r\nuser-agent:Zoiper\r\n\r\n",
		"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\"\r\n\r\n",
		"INVITE\r\n\r\n",
		"\n\n\n",
		"User-Agent: sipcli\r\n",
		"",
	} {
		f.Add([]byte(s), byte(1))
	}
	clock := newFakeClock()
	cfg, err := EdgeConfig{RatePerSecond: 1, Burst: 2, BanAfter: 3, MaxSources: 64, Now: clock.Now}.withDefaults()
	if err != nil {
		f.Fatal(err)
	}
	e := newEdge(cfg, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, testLogger(f))
	f.Fuzz(func(t *testing.T, data []byte, host byte) {
		props := sipgosip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{IP: net.IPv4(203, 0, 113, host), Port: 5060}}
		out, err := e.readFilter(props, data)
		if err != nil {
			t.Fatalf("read filter failed a UDP read: %v", err)
		}
		if out != nil && string(out) != string(data) {
			t.Fatalf("read filter changed the datagram")
		}
		clock.Advance(100_000_000) // 100 ms: buckets refill, bans run out
	})
}

// FuzzDigestVerify gives the digest verifier arbitrary Authorization
// values: it must never panic and never accept one, since no input can
// carry a nonce signed with the UA's key and the right password.
func FuzzDigestVerify(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001", realm="waihu", nonce="18eb690256f8e18e.1ce8d1ca28ae35693a403a8e", uri="sip:127.0.0.1", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"`,
		`Digest username="1001", realm="waihu", nonce="1.2", uri="sip:x", response="", algorithm=SHA-256, qop=auth, nc=ffffffff, cnonce=""`,
		`Digest username="", nonce=".", qop=auth-int`,
		`Basic Zm9vOmJhcg==`,
		`Digest`,
		``,
	} {
		f.Add(s)
	}
	ua, err := NewUA(Config{
		Registrar: &RegistrarConfig{Realm: "waihu", Extensions: []Extension{{User: "1001", Password: "s3cret"}}},
		Logger:    testLogger(f),
	})
	if err != nil {
		f.Fatal(err)
	}
	ua.nonceKey = []byte("fuzz-key")
	f.Fuzz(func(t *testing.T, auth string) {
		req := sipgosip.NewRequest(sipgosip.REGISTER, sipgosip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		req.AppendHeader(sipgosip.NewHeader("Authorization", auth))
		if user, err := ua.verifyAuth(req); err == nil {
			t.Fatalf("accepted %q as %q", auth, user)
		}
	})
}
