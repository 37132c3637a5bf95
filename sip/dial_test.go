package sip

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
)

func TestDialOverTCP(t *testing.T) {
	calls := make(chan *Call, 1)
	tcp := []Listener{{Network: "tcp", Addr: "127.0.0.1:0"}}
	callee := startUAWith(t, Config{Listen: tcp}, answerer(calls))
	caller := startUA(t, Config{Listen: tcp, Trunks: []Trunk{{Name: "callee", Address: callee.Addr("tcp").String(), Transport: "tcp", Username: "waihu"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial over TCP: %v", err)
	}
	remote := <-calls
	if err := remote.Hangup(ctx); err != nil {
		t.Fatalf("Hangup over TCP: %v", err)
	}
	waitDone(t, c, 10*time.Second)
	if c.Reason() != HangupRemote {
		t.Errorf("caller reason %v", c.Reason())
	}
}

// earlyMediaUAS is a plain sipgo UAS that sends 183 with SDP, then extra
// 180s, then 200.
func earlyMediaUAS(t *testing.T, extraRinging int) string {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("early-media-uas"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	cl, _ := sipgo.NewClient(ua)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	host, port, _ := sipgosip.ParseAddr(addr)
	dialogs := sipgo.NewDialogServerCache(cl, sipgosip.ContactHeader{Address: sipgosip.Uri{Scheme: "sip", Host: host, Port: port}})
	srv.OnInvite(func(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
		d, err := dialogs.ReadInvite(req, tx)
		if err != nil {
			return
		}
		early := []byte(offerSDP(1, "127.0.0.1", 41000, "sendrecv"))
		res := sipgosip.NewResponseFromRequest(d.InviteRequest, 183, "Session Progress", early)
		res.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
		_ = d.WriteResponse(res)
		time.Sleep(300 * time.Millisecond)
		for range extraRinging {
			_ = d.Respond(180, "Ringing", nil)
			time.Sleep(10 * time.Millisecond)
		}
		_ = d.RespondSDP([]byte(offerSDP(2, "127.0.0.1", 41000, "sendrecv")))
		<-d.Context().Done()
	})
	srv.OnAck(func(req *sipgosip.Request, tx sipgosip.ServerTransaction) { _ = dialogs.ReadAck(req, tx) })
	srv.OnBye(func(req *sipgosip.Request, tx sipgosip.ServerTransaction) { _ = dialogs.ReadBye(req, tx) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeUDP(pc)
	}()
	t.Cleanup(func() {
		pc.Close()
		ua.Close()
		<-done
	})
	return addr
}

func TestDialEarlyMediaAppliedBeforeAnswer(t *testing.T) {
	addr := earlyMediaUAS(t, 0)
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "carrier", Address: addr, Username: "waihu"}}})
	leg := newFakeLeg(30000)
	early := make(chan int, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ua.Dial(ctx, DialRequest{Trunk: "carrier", To: "1001", Media: leg, OnProgress: func(p Progress) {
		if p.EarlyMedia {
			_, _, _, _, sets := leg.snapshot()
			early <- sets
		}
	}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	select {
	case sets := <-early:
		if sets != 1 {
			t.Errorf("leg SetRemote calls at 183: %d, want 1", sets)
		}
	default:
		t.Fatal("no early media progress event")
	}
	addrGot, _, _, _, sets := leg.snapshot()
	if addrGot.Port() != 41000 || sets != 1 {
		t.Errorf("leg remote %v after %d SetRemote calls, want :41000 set once (answer SDP unchanged)", addrGot, sets)
	}
}

func TestDialRejectsBadRequests(t *testing.T) {
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "t", Address: "127.0.0.1:9", Username: "u"}}})
	ctx := context.Background()
	tests := []struct {
		name string
		dr   DialRequest
		want error
	}{
		{"unknown trunk", DialRequest{Trunk: "nope", To: "1", Media: newFakeLeg(1)}, ErrUnknownTrunk},
		{"no leg", DialRequest{Trunk: "t", To: "1"}, nil},
		{"bad number", DialRequest{Trunk: "t", To: "12 34\r\n", Media: newFakeLeg(1)}, nil},
		{"empty number", DialRequest{Trunk: "t", To: "", Media: newFakeLeg(1)}, nil},
	}
	for _, tt := range tests {
		_, err := ua.Dial(ctx, tt.dr)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestDialUnreachableTrunkFailsFast(t *testing.T) {
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	dead := pc.LocalAddr().String()
	pc.Close() // nobody listens: ICMP port unreachable on loopback
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "dead", Address: dead, Username: "u"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err := ua.Dial(ctx, DialRequest{Trunk: "dead", To: "1001", Media: newFakeLeg(1), RingTimeout: 2 * time.Second})
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("Dial: %v, want *CallError", err)
	}
	t.Logf("%v after %s", err, time.Since(start).Round(time.Millisecond))
	if ce.Kind != FailureUnreachable && ce.Kind != FailureTimeout {
		t.Errorf("kind %v, want unreachable or timeout", ce.Kind)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %s with a 2 s ring timeout", el)
	}
}

func TestDialPresentsCallerID(t *testing.T) {
	type seen struct {
		from Party
		pai  string
		xhdr string
	}
	got := make(chan seen, 1)
	handler := func(ctx context.Context, in *Incoming) {
		got <- seen{in.From(), in.Header("P-Asserted-Identity"), in.Header("X-Campaign")}
		_ = in.Reject(486, "Busy Here")
	}
	tests := []struct {
		name     string
		trunk    Trunk
		override *CallerID
		want     seen
	}{
		{"trunk presentation", Trunk{FromUser: "075512345678", FromDisplay: "Bank", PAssertedIdentity: "sip:+8675512345678@trunk"}, nil,
			seen{Party{Display: "Bank", User: "075512345678"}, "<sip:+8675512345678@trunk>", "c1"}},
		{"per call override", Trunk{FromUser: "075512345678", FromDisplay: "Bank"}, &CallerID{User: "4008888", PAssertedIdentity: "sip:4008888@trunk"},
			seen{Party{Display: "Bank", User: "4008888"}, "<sip:4008888@trunk>", "c1"}},
		{"username by default", Trunk{}, nil, seen{Party{User: "waihu"}, "", "c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callee := startUAWith(t, Config{}, handler)
			tr := tt.trunk
			tr.Name, tr.Address, tr.Username = "callee", callee.Addr("udp").String(), "waihu"
			caller := startUA(t, Config{Trunks: []Trunk{tr}})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, _ = caller.Dial(ctx, DialRequest{Trunk: "callee", To: "13812345678", Media: newFakeLeg(1), CallerID: tt.override,
				Headers: []Header{{"X-Campaign", "c1"}}})
			s := <-got
			if s.from.User != tt.want.from.User || s.from.Display != tt.want.from.Display || s.pai != tt.want.pai || s.xhdr != tt.want.xhdr {
				t.Errorf("callee saw %+v, want %+v", s, tt.want)
			}
		})
	}
}

func TestDialSurvivesManyProvisionalResponses(t *testing.T) {
	addr := earlyMediaUAS(t, 15)
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "carrier", Address: addr, Username: "waihu"}}})
	var ringing atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ua.Dial(ctx, DialRequest{Trunk: "carrier", To: "1001", Media: newFakeLeg(30000), OnProgress: func(p Progress) {
		if p.Code == 180 {
			ringing.Add(1)
		}
	}})
	if err != nil {
		t.Fatalf("Dial after %d ringing responses: %v", ringing.Load(), err)
	}
	defer c.Hangup(ctx)
	if n := ringing.Load(); n < 11 {
		t.Errorf("saw %d 180s, want more than sipgo's 10-response limit", n)
	}
}
