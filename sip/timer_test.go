package sip

import (
	"context"
	"testing"
	"time"
)

func TestSessionTimerRefreshKeepsCallUp(t *testing.T) {
	calls := make(chan *Call, 1)
	// 3 s: refresh at 1.5 s, the callee gives up at 2 s; wide enough for a
	// loaded machine.
	short := Config{SessionExpires: 3 * time.Second, MinSE: time.Second, MediaCheckInterval: 100 * time.Millisecond}
	caller, _ := pair(t, Config{MinSE: time.Second, MediaCheckInterval: 100 * time.Millisecond}, short, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	c.mu.Lock()
	interval, weRefresh := c.interval, c.weRefresh
	c.mu.Unlock()
	if interval != 3*time.Second || !weRefresh {
		t.Fatalf("caller interval %s refresher %v, want 3s and caller refreshes", interval, weRefresh)
	}
	remote.mu.Lock()
	first := remote.lastRefresh
	remote.mu.Unlock()
	time.Sleep(5 * time.Second) // three refreshes
	select {
	case <-remote.Done():
		t.Fatalf("callee ended the call: %v", remote.Reason())
	case <-c.Done():
		t.Fatalf("caller ended the call: %v", c.Reason())
	default:
	}
	remote.mu.Lock()
	last := remote.lastRefresh
	remote.mu.Unlock()
	if !last.After(first.Add(2500 * time.Millisecond)) {
		t.Errorf("callee saw no second refresh re-INVITE in 5 s (first %s, last %s)", first, last)
	}
	_ = c.Hangup(ctx)
}

func TestSessionExpiresWithoutRefreshSendsBye(t *testing.T) {
	calls := make(chan *Call, 1)
	// The caller has timers off but asks for a 2 s session it will never refresh.
	caller, _ := pair(t, Config{MinSE: time.Second, MediaCheckInterval: 100 * time.Millisecond}, Config{SessionExpires: -1}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000),
		Headers: []Header{{"Session-Expires", "2;refresher=uac"}, {"Supported", "timer"}}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	waitDone(t, remote, 10*time.Second)
	waitDone(t, c, 10*time.Second)
	if remote.Reason() != HangupSessionExpired || c.Reason() != HangupRemote {
		t.Errorf("reasons: callee %v caller %v", remote.Reason(), c.Reason())
	}
	if el := time.Since(c.started); el < time.Second {
		t.Errorf("session expired after %s, before 2s - 2s/3", el)
	}
}

func TestSessionIntervalTooSmallIsRetriedWithMinSE(t *testing.T) {
	calls := make(chan *Call, 1)
	caller, _ := pair(t, Config{MinSE: 3 * time.Second}, Config{SessionExpires: time.Second, MinSE: time.Second}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	remote := <-calls
	c.mu.Lock()
	got := c.interval
	c.mu.Unlock()
	remote.mu.Lock()
	gotRemote := remote.interval
	remote.mu.Unlock()
	if got != 3*time.Second || gotRemote != 3*time.Second {
		t.Errorf("intervals caller %s callee %s, want 3s after 422", got, gotRemote)
	}
}

func TestInboundCallIsRefreshedByUsWhenCallerHasNoTimers(t *testing.T) {
	calls := make(chan *Call, 1)
	short := Config{SessionExpires: 3 * time.Second, MinSE: time.Second, MediaCheckInterval: 100 * time.Millisecond}
	caller, _ := pair(t, short, Config{SessionExpires: -1}, answerer(calls))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	remote := <-calls
	remote.mu.Lock()
	first, weRefresh := remote.lastRefresh, remote.weRefresh
	remote.mu.Unlock()
	if !weRefresh {
		t.Fatal("callee is not the refresher for a caller without timers")
	}
	time.Sleep(3 * time.Second)
	remote.mu.Lock()
	last := remote.lastRefresh
	remote.mu.Unlock()
	if !last.After(first.Add(time.Second)) {
		t.Errorf("callee sent no accepted refresh in 3 s")
	}
	select {
	case <-remote.Done():
		t.Fatalf("call ended: %v", remote.Reason())
	default:
	}
}
