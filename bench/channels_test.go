package bench

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestChannelsSmoke holds 20 waihu calls for 3 s on loopback and checks that
// media flowed both ways on every call and was measured. The quality verdict
// is logged, not asserted: CI machines are shared and their timing is not
// ours to promise.
func TestChannelsSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	before := runtime.NumGoroutine()
	res, err := RunChannels(ctx, ChannelsConfig{Calls: 20, Duration: 3 * time.Second, Warmup: time.Second, PortMin: 31000})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Line())
	if res.Established != 20 {
		t.Fatalf("%d of 20 calls up", res.Established)
	}
	// 40 legs × 50 packets/s × 3 s = 6000 packets each way.
	for name, n := range map[string]int64{"sent": res.PacketsSent, "received": res.PacketsReceived} {
		if n < 5000 || n > 6600 {
			t.Errorf("%s %d packets in the window, want ≈ 6000", name, n)
		}
	}
	if res.SendDev.N < 5000 || res.RecvDev.N < 5000 {
		t.Errorf("measured %d send and %d arrival intervals, want ≈ 6000 each", res.SendDev.N, res.RecvDev.N)
	}
	if res.CPUPct <= 0 || res.RSSBytes <= 0 {
		t.Errorf("cpu %.1f%% rss %d: process sampling failed", res.CPUPct, res.RSSBytes)
	}
	if res.SendDev.P50Ms > 20 || res.RecvDev.P50Ms > 20 {
		t.Errorf("median deviation send %.2f ms arrival %.2f ms: timing or measurement broken", res.SendDev.P50Ms, res.RecvDev.P50Ms)
	}
	// Every call, leg, UA and engine of the step is gone when it returns
	// (a few runtime goroutines may still be winding down).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after the step, %d before", n, before)
	}
}

func TestParseFramePathAcceptsOnlyTheTwoPaths(t *testing.T) {
	for _, s := range []string{"readframe", "onframe"} {
		if p, err := ParseFramePath(s); err != nil || string(p) != s {
			t.Errorf("ParseFramePath(%q) = %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "callback", "ReadFrame"} {
		if _, err := ParseFramePath(s); err == nil {
			t.Errorf("ParseFramePath(%q) accepted", s)
		}
	}
}
