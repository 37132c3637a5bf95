package sip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// rawPeer is a hand-driven UAC on a UDP socket, for exchanges our own UA
// would never produce (here: withholding an ACK).
type rawPeer struct {
	t     *testing.T
	pc    net.PacketConn
	local string
	dst   *net.UDPAddr
}

func newRawPeer(t *testing.T, ua *UA) *rawPeer {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &rawPeer{t: t, pc: pc, local: pc.LocalAddr().String(), dst: net.UDPAddrFromAddrPort(ua.Addr("udp"))}
}

func (p *rawPeer) send(msg string) {
	if _, err := p.pc.WriteTo([]byte(msg), p.dst); err != nil {
		p.t.Fatal(err)
	}
}

// responses collects responses with status code for d, or until it has max
// of them (0: no limit).
func (p *rawPeer) responses(code int, d time.Duration, max int) []*sipgosip.Response {
	var out []*sipgosip.Response
	_ = p.pc.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 8192)
	for {
		n, _, err := p.pc.ReadFrom(buf)
		if err != nil {
			return out
		}
		if msg, err := sipgosip.ParseMessage(buf[:n]); err == nil {
			if res, ok := msg.(*sipgosip.Response); ok && res.StatusCode == code {
				out = append(out, res)
				if len(out) == max {
					return out
				}
			}
		}
	}
}

func (p *rawPeer) ack(ok200 *sipgosip.Response, cseq int) {
	p.send(fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKack%d\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"+
		"CSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		ok200.Contact().Address.String(), p.local, time.Now().UnixNano(), ok200.From().Value(), ok200.To().Value(), ok200.CallID().Value(), cseq))
}

func TestReinvite200RetransmittedUntilAck(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for retransmission timers")
	}
	calls := make(chan *Call, 1)
	callee := startUAWith(t, Config{}, answerer(calls))
	p := newRawPeer(t, callee)
	p.send(rawInvite(p.local, offerSDP(1, "127.0.0.1", 42000, "sendrecv")))
	oks := p.responses(200, 5*time.Second, 1)
	if len(oks) == 0 {
		t.Fatal("no 200 to the INVITE")
	}
	ok200 := oks[0]
	p.ack(ok200, 1)
	remote := <-calls
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = remote.Hangup(ctx)
	}()

	body := offerSDP(2, "127.0.0.1", 42000, "sendonly")
	p.send(fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKre%d\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"+
		"CSeq: 2 INVITE\r\nContact: <sip:9999@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		ok200.Contact().Address.String(), p.local, time.Now().UnixNano(), ok200.From().Value(), ok200.To().Value(),
		ok200.CallID().Value(), p.local, len(body), body))
	// Without ACK: 200 at 0, T1 and 3*T1 (0, 0.5, 1.5 s).
	copies := p.responses(200, 1800*time.Millisecond, 0)
	if len(copies) < 3 {
		t.Fatalf("got %d copies of the 200 in 1.8 s without ACK, want 3", len(copies))
	}
	if !strings.Contains(string(copies[0].Body()), "a=recvonly") || copies[0].CSeq().SeqNo != 2 {
		t.Errorf("unexpected 200: %s", copies[0].StartLine())
	}
	p.ack(copies[0], 2)
	if late := p.responses(200, 2*time.Second, 0); len(late) > 1 {
		t.Errorf("%d more copies after ACK", len(late))
	}
	if !remote.OnHold() {
		t.Error("call not on hold after re-INVITE sendonly")
	}
}
