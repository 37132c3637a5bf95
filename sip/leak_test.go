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
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		calls := make(chan *Call, 8)
		callee := startUAWith(t, Config{}, func(ctx context.Context, in *Incoming) {
			c, err := in.Answer(ctx, newFakeLeg(40000))
			if err != nil {
				return
			}
			calls <- c
			<-c.Done()
		})
		caller := startUA(t, Config{Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "waihu"}}})
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		start := time.Now()
		for i := range 200 {
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
		t.Logf("200 calls set up and torn down in %s", time.Since(start).Round(time.Millisecond))
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
