package sip

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestManyShortCallsLeakNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("200 calls: skipped in -short")
	}
	for _, tt := range []struct {
		network string
		calls   int
	}{{"udp", 200}, {"tcp", 50}} {
		t.Run(tt.network, func(t *testing.T) { shortCalls(t, tt.network, tt.calls) })
	}
}

func shortCalls(t *testing.T, network string, n int) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		calls := make(chan *Call, 8)
		listen := []Listener{{Network: network, Addr: "127.0.0.1:0"}}
		callee := startUAWith(t, Config{Listen: listen}, func(ctx context.Context, in *Incoming) {
			c, err := in.Answer(ctx, newFakeLeg(40000))
			if err != nil {
				return
			}
			calls <- c
			<-c.Done()
		})
		caller := startUA(t, Config{Listen: listen, Trunks: []Trunk{{Name: "callee", Address: callee.Addr(network).String(), Transport: network, Username: "waihu"}}})
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		start := time.Now()
		for i := range n {
			c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newFakeLeg(30000)})
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			remote := <-calls
			// Alternate who hangs up.
			if i%2 == 0 {
				err = c.Hangup(ctx)
			} else {
				err = remote.Hangup(ctx)
			}
			if err != nil {
				t.Fatalf("call %d hangup: %v", i, err)
			}
			waitDone(t, c, 10*time.Second)
			waitDone(t, remote, 10*time.Second)
		}
		t.Logf("%d %s calls set up and torn down in %s", n, network, time.Since(start).Round(time.Millisecond))
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancelClose()
		if err := caller.Close(closeCtx); err != nil {
			t.Errorf("close caller: %v", err)
		}
		if err := callee.Close(closeCtx); err != nil {
			t.Errorf("close callee: %v", err)
		}
	}()
}
