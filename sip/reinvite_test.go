package sip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// reinvite sends a re-INVITE with body from c's side of the dialog and
// ACKs a 2xx.
func reinvite(t *testing.T, c *Call, body string) *sipgosip.Response {
	t.Helper()
	return inDialog(t, c, sipgosip.INVITE, body)
}

// inDialog sends an INVITE or UPDATE with an SDP body in c's dialog.
func inDialog(t *testing.T, c *Call, method sipgosip.RequestMethod, body string) *sipgosip.Response {
	t.Helper()
	req := sipgosip.NewRequest(method, *c.target.Clone())
	req.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(body))
	res, err := c.request(req)
	if err != nil {
		t.Fatalf("re-INVITE: %v", err)
	}
	if res.IsSuccess() && method == sipgosip.INVITE {
		ack := sipgosip.NewRequest(sipgosip.ACK, *c.target.Clone())
		ack.AppendHeader(&sipgosip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sipgosip.ACK})
		if err := c.sess.WriteRequest(ack); err != nil {
			t.Fatalf("ACK: %v", err)
		}
	}
	return res
}

func offerSDP(version int, ip string, port int, dir string) string {
	return fmt.Sprintf("v=0\r\no=- 1 %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n", version, ip, ip, port, dir)
}

func TestReinviteHoldUnholdAndNewAddress(t *testing.T) {
	calls := make(chan *Call, 1)
	legs := make(chan *fakeLeg, 1)
	caller, _ := pair(t, Config{}, Config{}, func(ctx context.Context, in *Incoming) {
		leg := newFakeLeg(40000)
		c, err := in.Answer(ctx, leg)
		if err != nil {
			return
		}
		legs <- leg
		calls <- c
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	remote, leg := <-calls, <-legs

	var lastVersion uint64
	steps := []struct {
		name       string
		offer      string
		wantHold   bool
		wantAnswer string
		wantRemote string
	}{
		{"hold with sendonly", offerSDP(2, "127.0.0.1", 30000, "sendonly"), true, "a=recvonly", "127.0.0.1:30000"},
		{"unhold", offerSDP(3, "127.0.0.1", 30000, "sendrecv"), false, "a=sendrecv", "127.0.0.1:30000"},
		{"hold with inactive", offerSDP(4, "127.0.0.1", 30000, "inactive"), true, "a=inactive", "127.0.0.1:30000"},
		{"unhold to a new address", offerSDP(5, "127.0.0.2", 31000, "sendrecv"), false, "a=sendrecv", "127.0.0.2:31000"},
		{"hold with c=0.0.0.0", offerSDP(6, "0.0.0.0", 31000, "sendrecv"), true, "a=recvonly", "127.0.0.2:31000"},
		{"unhold again", offerSDP(7, "127.0.0.2", 31000, "sendrecv"), false, "a=sendrecv", "127.0.0.2:31000"},
	}
	for _, st := range steps {
		res := reinvite(t, c, st.offer)
		if res.StatusCode != 200 {
			t.Fatalf("%s: got %d %s", st.name, res.StatusCode, res.Reason)
		}
		m, err := ParseSDP(res.Body())
		if err != nil {
			t.Fatalf("%s: answer SDP: %v", st.name, err)
		}
		if m.SessionVersion <= lastVersion {
			t.Errorf("%s: answer version %d not above %d (cached SDP?)", st.name, m.SessionVersion, lastVersion)
		}
		lastVersion = m.SessionVersion
		if !strings.Contains(string(res.Body()), st.wantAnswer) {
			t.Errorf("%s: answer lacks %s:\n%s", st.name, st.wantAnswer, res.Body())
		}
		addr, _, _, hold, _ := leg.snapshot()
		if hold != st.wantHold || remote.OnHold() != st.wantHold {
			t.Errorf("%s: leg hold %v call hold %v, want %v", st.name, hold, remote.OnHold(), st.wantHold)
		}
		if addr != netip.MustParseAddrPort(st.wantRemote) {
			t.Errorf("%s: leg remote %v, want %s", st.name, addr, st.wantRemote)
		}
	}
}

func TestReinviteWithBadSDPGets400AndCallContinues(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, _ := pair(t, Config{}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	tests := []struct {
		name string
		body string
		code int
	}{
		{"garbage", "this is not sdp", 400},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n", 400},
		{"no common codec", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n", 488},
	}
	for _, tt := range tests {
		if res := reinvite(t, c, tt.body); res.StatusCode != tt.code {
			t.Errorf("%s: got %d, want %d", tt.name, res.StatusCode, tt.code)
		}
	}
	select {
	case <-remote.Done():
		t.Fatalf("call ended: %v", remote.Reason())
	default:
	}
	if res := reinvite(t, c, offerSDP(9, "127.0.0.1", 30000, "sendrecv")); res.StatusCode != 200 {
		t.Errorf("good re-INVITE after bad ones: %d", res.StatusCode)
	}
	_ = c.Hangup(ctx)
}

func TestUpdateHoldsAndMediaTimeoutPausesOnHold(t *testing.T) {
	calls := make(chan *Call, 1)
	legs := make(chan *fakeLeg, 1)
	fast := Config{MediaTimeout: 500 * time.Millisecond, MediaCheckInterval: 50 * time.Millisecond}
	caller, _ := pair(t, fast, Config{}, func(ctx context.Context, in *Incoming) {
		leg := newFakeLeg(40000)
		c, err := in.Answer(ctx, leg)
		if err != nil {
			return
		}
		legs <- leg
		calls <- c
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	remote, leg := <-calls, <-legs
	res := inDialog(t, c, sipgosip.UPDATE, offerSDP(2, "127.0.0.1", 30000, "sendonly"))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("UPDATE hold: %d\n%s", res.StatusCode, res.Body())
	}
	if _, _, _, hold, _ := leg.snapshot(); !hold {
		t.Fatal("leg not on hold after UPDATE sendonly")
	}
	leg.silence() // no RTP while held is normal
	time.Sleep(1500 * time.Millisecond)
	select {
	case <-remote.Done():
		t.Fatalf("held call ended: %v", remote.Reason())
	default:
	}
	// recvonly: the peer sends nothing but does not hold us; still no timeout.
	if res := inDialog(t, c, sipgosip.UPDATE, offerSDP(3, "127.0.0.1", 30000, "recvonly")); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendonly") {
		t.Fatalf("UPDATE recvonly: %d\n%s", res.StatusCode, res.Body())
	}
	if _, _, _, hold, _ := leg.snapshot(); hold {
		t.Error("leg on hold after recvonly offer: we must keep sending")
	}
	time.Sleep(1500 * time.Millisecond)
	select {
	case <-remote.Done():
		t.Fatalf("call ended while the peer was recvonly: %v", remote.Reason())
	default:
	}
	if res := inDialog(t, c, sipgosip.UPDATE, offerSDP(4, "127.0.0.1", 30000, "sendrecv")); res.StatusCode != 200 {
		t.Fatalf("UPDATE unhold: %d", res.StatusCode)
	}
	// Unheld and still silent: the timeout runs again from the unhold.
	waitDone(t, remote, 10*time.Second)
	if remote.Reason() != HangupMediaTimeout {
		t.Errorf("callee reason %v, want media timeout", remote.Reason())
	}
}

func TestInDialogInfoIsAccepted(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, _ := pair(t, Config{}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	<-calls
	req := sipgosip.NewRequest(sipgosip.INFO, *c.target.Clone())
	req.AppendHeader(sipgosip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte("Signal=5\r\nDuration=160\r\n"))
	res, err := c.request(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INFO: %v %v", res, err)
	}
}
