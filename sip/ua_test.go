package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

func TestOptionsAnswered200WithAllow(t *testing.T) {
	ua := startUA(t, Config{})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	local := pc.LocalAddr().String()
	msg := fmt.Sprintf("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKopt1\r\n"+
		"From: <sip:ping@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", local)
	_, _ = pc.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(ua.Addr("udp")))
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no reply to OPTIONS: %v", err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "SIP/2.0 200") || !strings.Contains(got, "Allow: INVITE") || !strings.Contains(got, "Accept: application/sdp") {
		t.Errorf("reply:\n%s", got)
	}
}

func TestCloseHangsUpLiveCalls(t *testing.T) {
	calls := make(chan *Call, 1)
	callee := startUAWith(t, Config{}, answerer(calls))
	caller, err := NewUA(Config{Listen: []Listener{{Network: "udp", Addr: "127.0.0.1:0"}}, Logger: testLogger(t),
		Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "waihu"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := caller.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	if err := caller.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitDone(t, remote, 10*time.Second)
	if c.Reason() != HangupShutdown || remote.Reason() != HangupRemote {
		t.Errorf("reasons: caller %v callee %v", c.Reason(), remote.Reason())
	}
	if _, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Dial after Close: %v, want ErrClosed", err)
	}
}

func TestInDialogRequestsLeaveFromListeningPort(t *testing.T) {
	uas, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uas.Close()
	target, err := net.ListenPacket("udp", "127.0.0.1:0") // the Contact of the 200
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "raw", Address: uas.LocalAddr().String(), Username: "u"}}})

	go func() {
		buf := make([]byte, 8192)
		n, from, err := uas.ReadFrom(buf)
		if err != nil {
			return
		}
		req, err := sipgosip.ParseMessage(buf[:n])
		if err != nil {
			return
		}
		inv := req.(*sipgosip.Request)
		res := sipgosip.NewResponseFromRequest(inv, 200, "OK", []byte(offerSDP(1, "127.0.0.1", 41000, "sendrecv")))
		res.To().Params.Add("tag", "rawtag")
		res.AppendHeader(sipgosip.NewHeader("Contact", "<sip:raw@"+target.LocalAddr().String()+">"))
		res.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
		_, _ = uas.WriteTo([]byte(res.String()), from)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ua.Dial(ctx, DialRequest{Trunk: "raw", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	hung := make(chan struct{})
	go func() {
		hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer hcancel()
		_ = c.Hangup(hctx) // nobody answers the BYE: it times out
		close(hung)
	}()
	want := ua.Addr("udp").Port()
	seen := map[string]bool{}
	_ = target.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 8192)
	for !seen["ACK"] || !seen["BYE"] {
		n, from, err := target.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for ACK and BYE (seen %v): %v", seen, err)
		}
		method, _, _ := strings.Cut(string(buf[:n]), " ")
		seen[method] = true
		if p := from.(*net.UDPAddr).Port; p != int(want) {
			t.Errorf("%s came from port %d, want the listening port %d", method, p, want)
		}
	}
	<-hung
}

func TestCloseRejectsOfferedCall(t *testing.T) {
	offered := make(chan struct{}, 1)
	callee := startUAWith(t, Config{}, func(ctx context.Context, in *Incoming) {
		_ = in.Ring()
		offered <- struct{}{}
		<-ctx.Done()
	})
	caller := startUA(t, Config{Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "u"}}})
	go func() {
		<-offered
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = callee.Close(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != 503 {
		t.Fatalf("Dial to a closing UA: %v, want 503", err)
	}
}

func TestCloseCancelsRingingDial(t *testing.T) {
	offered := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	callee := startUAWith(t, Config{}, func(ctx context.Context, in *Incoming) {
		_ = in.Ring()
		offered <- struct{}{}
		<-ctx.Done()
		cancelled <- struct{}{}
	})
	caller, err := NewUA(Config{Listen: []Listener{{Network: "udp", Addr: "127.0.0.1:0"}}, Logger: testLogger(t),
		Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "u"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := caller.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-offered
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = caller.Close(ctx)
	}()
	_, err = caller.Dial(context.Background(), DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != FailureCancelled || !errors.Is(err, ErrClosed) {
		t.Fatalf("Dial during Close: %v, want cancelled by ErrClosed", err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("callee never saw the CANCEL")
	}
}
