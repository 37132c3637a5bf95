package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

func TestInboundChecks(t *testing.T) {
	auth := &DigestCredentials{Username: "waihu", Password: "pw"}
	tests := []struct {
		name     string
		callee   Config
		password string
		wantErr  FailureKind // FailureUnknown: call must connect
		wantCode int
	}{
		{"digest auth accepted", Config{InboundAuth: auth}, "pw", FailureUnknown, 0},
		{"digest auth wrong password", Config{InboundAuth: auth}, "bad", FailureAuth, 401},
		{"source in allow-list", Config{AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, "", FailureUnknown, 0},
		{"source not in allow-list", Config{AllowFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "", FailureRejected, 403},
		{"no inbound calls allowed", Config{MaxInbound: -1}, "", FailureBusy, 486},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := make(chan *Call, 1)
			callee := startUAWith(t, tt.callee, answerer(calls))
			caller := startUA(t, Config{Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "waihu", Password: tt.password}}})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
			if tt.wantErr == FailureUnknown {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				_ = c.Hangup(ctx)
				return
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Kind != tt.wantErr || ce.Code != tt.wantCode {
				t.Fatalf("Dial: %v, want %v (%d)", err, tt.wantErr, tt.wantCode)
			}
		})
	}
}

func TestInboundWithoutCommonCodecGets488(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, _ := pair(t, Config{Codecs: []string{"PCMA"}}, Config{}, answerer(calls))
	caller.trunks["callee"].Codecs = []string{"PCMU"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != FailureNotAcceptable || ce.Code != 488 {
		t.Fatalf("Dial: %v, want 488", err)
	}
}

func TestInboundAnswerPicksOurPreferredCodec(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, _ := pair(t, Config{Codecs: []string{"PCMA", "PCMU"}}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leg := newFakeLeg(30000)
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: leg})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	remote := <-calls
	if _, pt, _, _, _ := leg.snapshot(); pt != 8 || c.Codec() != CodecPCMA || remote.Codec() != CodecPCMA {
		t.Errorf("caller pt %d codecs %v/%v, want PCMA (callee's preference)", pt, c.Codec(), remote.Codec())
	}
}

// rawSIP sends one UDP datagram to addr and returns the first reply, if any.
func rawSIP(t *testing.T, addr netip.AddrPort, msg string) string {
	t.Helper()
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func rawInvite(local string, body string) string {
	return fmt.Sprintf("INVITE sip:1001@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK%d\r\n"+
		"From: <sip:9999@127.0.0.1>;tag=abc\r\nTo: <sip:1001@127.0.0.1>\r\n"+
		"Call-ID: raw-%d\r\nCSeq: 1 INVITE\r\nContact: <sip:9999@%s>\r\nMax-Forwards: 70\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", local, time.Now().UnixNano(), time.Now().UnixNano(), local, len(body), body)
}

func TestMalformedInputDoesNotDisturbLiveCall(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, callee := pair(t, Config{}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	addr := callee.Addr("udp")

	garbage := []string{
		"\x00\x01\x02garbage",
		"INVITE\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nabc",
		strings.Repeat("A", 3000),
	}
	for _, g := range garbage {
		_ = rawSIP(t, addr, g)
	}
	badSDP := []struct{ name, body, want string }{
		{"not sdp", "hello", "SIP/2.0 400"},
		{"truncated", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio", "SIP/2.0 400"},
		{"bad port", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 99999999 RTP/AVP 0\r\n", "SIP/2.0 400"},
		{"video only", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", "SIP/2.0 400"},
		{"g729 only", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\n", "SIP/2.0 488"},
	}
	for _, b := range badSDP {
		// Reply to the raw socket's address: bind one and send from it.
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		local := pc.LocalAddr().String()
		_, _ = pc.WriteTo([]byte(rawInvite(local, b.body)), net.UDPAddrFromAddrPort(addr))
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		got := ""
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			got = string(buf[:n])
			if !strings.HasPrefix(got, "SIP/2.0 100") {
				break
			}
		}
		pc.Close()
		if !strings.HasPrefix(got, b.want) {
			t.Errorf("%s: reply %q, want %s", b.name, firstLine(got), b.want)
		}
		if !strings.Contains(got, "Warning: 3") {
			t.Errorf("%s: reply has no Warning telling why:\n%s", b.name, got)
		}
	}
	select {
	case <-remote.Done():
		t.Fatalf("live call ended: %v", remote.Reason())
	case <-c.Done():
		t.Fatalf("live call ended: %v", c.Reason())
	default:
	}
	if res := reinvite(t, c, offerSDP(2, "127.0.0.1", 30000, "sendrecv")); res.StatusCode != 200 {
		t.Errorf("live call re-INVITE after garbage: %d", res.StatusCode)
	}
	_ = c.Hangup(ctx)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

func TestInboundCallIsLabelledWithTrunkBySourceAddress(t *testing.T) {
	calls := make(chan *Call, 1)
	trunk := []Trunk{{Name: "carrier", Address: "127.0.0.1:9", Username: "u"}}
	caller, _ := pair(t, Config{Trunks: trunk}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	if remote := <-calls; remote.Trunk() != "carrier" {
		t.Errorf("inbound call trunk %q, want carrier (same IP)", remote.Trunk())
	}
}

func TestDelayedOfferIsAnsweredInAck(t *testing.T) {
	tests := []struct {
		name    string
		ackBody string
		wantOK  bool
	}{
		{"answer in ACK", offerSDP(1, "127.0.0.1", 42000, "sendrecv"), true},
		{"ACK without answer", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				c        *Call
				err      error
				hadOffer bool
			}
			results := make(chan result, 1)
			leg := newFakeLeg(40000)
			callee := startUAWith(t, Config{}, func(ctx context.Context, in *Incoming) {
				_, ok := in.Offer()
				c, err := in.Answer(ctx, leg)
				results <- result{c, err, ok}
			})
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			local := pc.LocalAddr().String()
			dst := net.UDPAddrFromAddrPort(callee.Addr("udp"))
			_, _ = pc.WriteTo([]byte(rawInvite(local, "")), dst)
			var ok200 *sipgosip.Response
			_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 8192)
			for ok200 == nil {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					t.Fatalf("no 200: %v", err)
				}
				msg, err := sipgosip.ParseMessage(buf[:n])
				if res, isRes := msg.(*sipgosip.Response); err == nil && isRes && res.StatusCode == 200 {
					ok200 = res
				}
			}
			if m, err := ParseSDP(ok200.Body()); err != nil || !equalPTs(m.PayloadTypes, []uint8{0, 8, 101}) {
				t.Fatalf("200 to an offerless INVITE must carry our full offer: %v\n%s", err, ok200.Body())
			}
			ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKack%d\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"+
				"CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
				ok200.Contact().Address.String(), local, time.Now().UnixNano(), ok200.From().Value(), ok200.To().Value(),
				ok200.CallID().Value(), len(tt.ackBody), tt.ackBody)
			_, _ = pc.WriteTo([]byte(ack), dst)
			// Answer BYEs like a real peer would.
			_ = pc.SetReadDeadline(time.Time{})
			go func() {
				buf := make([]byte, 8192)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					if msg, err := sipgosip.ParseMessage(buf[:n]); err == nil {
						if req, ok := msg.(*sipgosip.Request); ok && req.Method == sipgosip.BYE {
							_, _ = pc.WriteTo([]byte(sipgosip.NewResponseFromRequest(req, 200, "OK", nil).String()), from)
						}
					}
				}
			}()
			var r result
			select {
			case r = <-results:
			case <-time.After(15 * time.Second):
				t.Fatal("Answer did not return")
			}
			if r.hadOffer {
				t.Error("Offer() reported an offer for an INVITE without SDP")
			}
			if (r.err == nil) != tt.wantOK {
				t.Fatalf("Answer: %v, want ok=%v", r.err, tt.wantOK)
			}
			if !tt.wantOK {
				return
			}
			if addr, pt, dtmf, _, _ := leg.snapshot(); addr.Port() != 42000 || pt != 0 || dtmf != 101 {
				t.Errorf("leg got %v pt %d dtmf %d from the ACK answer", addr, pt, dtmf)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.c.Hangup(ctx); err != nil {
				t.Errorf("Hangup: %v", err)
			}
		})
	}
}
