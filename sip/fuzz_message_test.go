package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzSIPMessage throws arbitrary bytes at a running UA over UDP and TCP,
// the way a scanner or a broken peer would, and then checks the UA still
// answers an OPTIONS: no input may crash it or wedge its transport.
func FuzzSIPMessage(f *testing.F) {
	seeds := []string{
		"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKs1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: s1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKs2\r\nFrom: <sip:a@127.0.0.1>;tag=2\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: s2\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5099>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 129\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
		"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKs3\r\nFrom: <sip:100@127.0.0.1>;tag=3\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: s3\r\nCSeq: 1 REGISTER\r\nContact: <sip:100@127.0.0.1:5099>\r\nExpires: 60\r\nAuthorization: Digest username=\"100\", realm=\"waihu\", nonce=\"x\", uri=\"sip:127.0.0.1\", response=\"00\"\r\nContent-Length: 0\r\n\r\n",
		"BYE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKs4\r\nFrom: <sip:a@127.0.0.1>;tag=4\r\nTo: <sip:b@127.0.0.1>;tag=5\r\nCall-ID: nope\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		"NOTIFY sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKs5\r\nFrom: <sip:a@127.0.0.1>;tag=4\r\nTo: <sip:b@127.0.0.1>;tag=5\r\nCall-ID: nope\r\nCSeq: 3 NOTIFY\r\nEvent: refer\r\nContent-Type: message/sipfrag\r\nContent-Length: 16\r\n\r\nSIP/2.0 200 OK\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKs6\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: s6\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
		"MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:0;branch=\r\nFrom: <>\r\nTo: <sip:@>\r\nCall-ID:\r\nCSeq: x MESSAGE\r\n\r\n",
		"\r\n\r\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// One UA for the whole run: the point is that it survives every input.
	var offered atomic.Int64
	ua := startUAWith(f, Config{
		Listen:      []Listener{{Network: "udp", Addr: "127.0.0.1:0"}, {Network: "tcp", Addr: "127.0.0.1:0"}},
		Logger:      slog.New(slog.DiscardHandler),
		MaxInbound:  4,
		RingTimeout: time.Second,
		// The fuzz inputs come from 127.0.0.1 and may well get it banned
		// (scanner User-Agents, failed digests): that is the edge working.
		// The liveness probe comes from 127.0.0.2, which the edge trusts.
		Edge: EdgeConfig{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
	}, func(ctx context.Context, in *Incoming) {
		offered.Add(1)
		_ = in.Reject(486, "Busy Here")
	})
	udpAddr := net.UDPAddrFromAddrPort(ua.Addr("udp"))
	tcpAddr := ua.Addr("tcp").String()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { pc.Close() })
	probe, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { probe.Close() })
	var n atomic.Int64
	buf := make([]byte, 65536)

	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 60000 { // one UDP datagram
			msg = msg[:60000]
		}
		if _, err := pc.WriteTo(msg, udpAddr); err != nil {
			t.Fatalf("send fuzz datagram: %v", err)
		}
		if c, err := net.DialTimeout("tcp", tcpAddr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(msg)
			c.Close()
		} else {
			t.Fatalf("UA stopped accepting TCP after fuzz input: %v", err)
		}

		// The UA must still answer a well-formed OPTIONS; responses to the
		// fuzz input itself (400s and the like) are skipped.
		id := fmt.Sprintf("alive-%d", n.Add(1))
		ping := fmt.Sprintf("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n"+
			"From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			probe.LocalAddr(), id, id)
		if _, err := probe.WriteTo([]byte(ping), udpAddr); err != nil {
			t.Fatalf("send OPTIONS: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_ = probe.SetReadDeadline(deadline)
			k, _, err := probe.ReadFrom(buf)
			if err != nil {
				t.Fatalf("UA did not answer OPTIONS after input %q: %v", msg, err)
			}
			got := string(buf[:k])
			if strings.Contains(got, "Call-ID: "+id+"\r\n") {
				if !strings.HasPrefix(got, "SIP/2.0 200") {
					t.Fatalf("OPTIONS after input %q answered:\n%s", msg, got)
				}
				return
			}
		}
	})
}
