package sip

import (
	"context"
	"errors"
	"testing"
	"time"
)

// answerer answers every call with a fresh fake leg and sends the calls on ch.
func answerer(ch chan<- *Call) func(context.Context, *Incoming) {
	return func(ctx context.Context, in *Incoming) {
		_ = in.Ring()
		// sipgo handles each response in its own goroutine: give the 180 a
		// head start so the caller sees it before the 200.
		time.Sleep(50 * time.Millisecond)
		c, err := in.Answer(ctx, newFakeLeg(40000))
		if err != nil {
			return
		}
		ch <- c
	}
}

func TestDialAnsweredCallNegotiatesMediaAndEndsOnLocalBye(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, callee := pair(t, Config{}, Config{}, answerer(calls))
	leg := newFakeLeg(30000)
	var progress []Progress
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "13812345678", Media: leg,
		OnProgress: func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	addr, pt, dtmf, hold, _ := leg.snapshot()
	if addr.Port() != 40000 || pt != 0 || dtmf != 101 || hold {
		t.Errorf("caller leg got %v pt=%d dtmf=%d hold=%v, want :40000 pt=0 dtmf=101", addr, pt, dtmf, hold)
	}
	if len(progress) == 0 || progress[0].Code != 180 {
		t.Errorf("progress = %+v, want a 180", progress)
	}
	if remote.ID() != c.ID() || remote.Direction() != Inbound || c.Direction() != Outbound {
		t.Errorf("ids %s/%s directions %v/%v", c.ID(), remote.ID(), c.Direction(), remote.Direction())
	}
	if c.Trunk() != "callee" || remote.Trunk() != "" {
		t.Errorf("trunks: caller %q callee %q", c.Trunk(), remote.Trunk())
	}
	if remote.Remote().User != "waihu" || c.Remote().User != "13812345678" {
		t.Errorf("parties: callee sees %+v, caller sees %+v", remote.Remote(), c.Remote())
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	waitDone(t, remote, 10*time.Second)
	if c.Reason() != HangupLocal || remote.Reason() != HangupRemote {
		t.Errorf("reasons: caller %v callee %v", c.Reason(), remote.Reason())
	}
	eventually(t, 5*time.Second, "calls released", func() bool { return caller.Calls() == 0 && callee.Calls() == 0 })
}

func TestDialMapsFailuresToCallErrors(t *testing.T) {
	tests := []struct {
		name     string
		reject   int
		kind     FailureKind
		wantCode int
	}{
		{"busy", 486, FailureBusy, 486},
		{"forbidden", 403, FailureRejected, 403},
		{"not found", 404, FailureNotFound, 404},
		{"not acceptable", 488, FailureNotAcceptable, 488},
		{"unavailable", 503, FailureUnreachable, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, _ := pair(t, Config{}, Config{}, func(ctx context.Context, in *Incoming) {
				_ = in.Reject(tt.reject, "Test Reject")
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("Dial error %v, want *CallError", err)
			}
			if ce.Kind != tt.kind || ce.Code != tt.wantCode || ce.Trunk != "callee" || ce.CallID == "" {
				t.Errorf("got %+v, want kind %v code %d", ce, tt.kind, tt.wantCode)
			}
			t.Log(ce.Error())
		})
	}
}

func TestDialRingTimeoutCancelsAndReportsNoAnswer(t *testing.T) {
	cancelled := make(chan error, 1)
	caller, _ := pair(t, Config{}, Config{}, func(ctx context.Context, in *Incoming) {
		_ = in.Ring()
		<-ctx.Done() // the CANCEL must reach the application
		cancelled <- ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000), RingTimeout: 300 * time.Millisecond})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != FailureNoAnswer {
		t.Fatalf("Dial error %v, want no answer", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("no answer took %s", el)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("callee handler context not cancelled by CANCEL")
	}
}

func TestDialContextCancelSendsCancel(t *testing.T) {
	offered := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	caller, callee := pair(t, Config{}, Config{}, func(ctx context.Context, in *Incoming) {
		offered <- struct{}{}
		<-ctx.Done()
		if _, err := in.Answer(context.Background(), newFakeLeg(1)); !errors.Is(err, ErrAlreadyDecided) {
			t.Errorf("Answer after CANCEL: %v, want ErrAlreadyDecided", err)
		}
		cancelled <- struct{}{}
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-offered
		cancel()
	}()
	_, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != FailureCancelled {
		t.Fatalf("Dial error %v, want cancelled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("callee not told about CANCEL")
	}
	eventually(t, 5*time.Second, "inbound slot released", func() bool {
		callee.mu.Lock()
		defer callee.mu.Unlock()
		return callee.inbound == 0
	})
}

func TestRemoteByeEndsCall(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, _ := pair(t, Config{}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	if err := remote.Hangup(ctx); err != nil {
		t.Fatalf("callee Hangup: %v", err)
	}
	waitDone(t, c, 10*time.Second)
	if c.Reason() != HangupRemote || remote.Reason() != HangupLocal {
		t.Errorf("reasons: caller %v callee %v", c.Reason(), remote.Reason())
	}
	if err := c.Hangup(ctx); err != nil {
		t.Errorf("Hangup of ended call: %v", err)
	}
}

func TestMaxInboundAnswersBusy(t *testing.T) {
	calls := make(chan *Call, 2)
	caller, _ := pair(t, Config{MaxInbound: 1}, Config{}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("first Dial: %v", err)
	}
	_, err = caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1002", Media: newFakeLeg(30002)})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != FailureBusy || ce.Code != 486 {
		t.Fatalf("second Dial: %v, want 486 busy", err)
	}
	_ = first.Hangup(ctx)
	<-calls
	// The slot is free again once the first call ended.
	eventually(t, 5*time.Second, "slot free", func() bool {
		c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1003", Media: newFakeLeg(30004)})
		if err != nil {
			return false
		}
		_ = c.Hangup(ctx)
		return true
	})
}

func TestMediaTimeoutHangsUpSilentCall(t *testing.T) {
	calls := make(chan *Call, 1)
	fast := Config{MediaTimeout: 400 * time.Millisecond, MediaCheckInterval: 50 * time.Millisecond}
	caller, _ := pair(t, Config{}, fast, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leg := newFakeLeg(30000)
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: leg})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	time.Sleep(800 * time.Millisecond) // RTP flowing: the call must stay up
	select {
	case <-c.Done():
		t.Fatalf("call ended while RTP flowed: %v", c.Reason())
	default:
	}
	leg.silence()
	waitDone(t, c, 10*time.Second)
	waitDone(t, remote, 10*time.Second)
	if c.Reason() != HangupMediaTimeout || remote.Reason() != HangupRemote {
		t.Errorf("reasons: caller %v callee %v", c.Reason(), remote.Reason())
	}
}
