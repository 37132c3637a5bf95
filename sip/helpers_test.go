package sip

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeLeg records what the SIP layer told it; RTP arrival is simulated by
// touching LastReceived.
type fakeLeg struct {
	local netip.AddrPort

	mu       sync.Mutex
	remote   netip.AddrPort
	pt, dtmf uint8
	sets     int
	hold     bool
	last     time.Time
	fresh    bool // keep LastReceived at now
}

func newFakeLeg(port uint16) *fakeLeg {
	return &fakeLeg{local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), fresh: true}
}

func (l *fakeLeg) LocalAddr() netip.AddrPort { return l.local }

func (l *fakeLeg) SetRemote(a netip.AddrPort, pt, dtmf uint8) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remote, l.pt, l.dtmf = a, pt, dtmf
	l.sets++
	return nil
}

func (l *fakeLeg) SetHold(h bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hold = h
}

func (l *fakeLeg) LastReceived() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fresh {
		return time.Now()
	}
	return l.last
}

func (l *fakeLeg) silence() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fresh = false
}

func (l *fakeLeg) snapshot() (netip.AddrPort, uint8, uint8, bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote, l.pt, l.dtmf, l.hold, l.sets
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startUA starts a UA on loopback UDP with a free port.
func startUA(t testing.TB, cfg Config) *UA {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []Listener{{Network: "udp", Addr: "127.0.0.1:0"}}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ua, err := NewUA(cfg)
	if err != nil {
		t.Fatalf("NewUA: %v", err)
	}
	if err := ua.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = ua.Close(ctx)
	})
	return ua
}

// pair starts a callee UA with handler h and a caller UA with a trunk
// "callee" pointing at it.
func pair(t testing.TB, calleeCfg, callerCfg Config, h func(context.Context, *Incoming)) (caller, callee *UA) {
	t.Helper()
	if calleeCfg.Logger == nil {
		calleeCfg.Logger = testLogger(t).With("ua", "callee")
	}
	callee = startUAWith(t, calleeCfg, h)
	if callerCfg.Logger == nil {
		callerCfg.Logger = testLogger(t).With("ua", "caller")
	}
	callerCfg.Trunks = append(callerCfg.Trunks, Trunk{Name: "callee", Address: callee.Addr("udp").String(), Username: "waihu"})
	caller = startUA(t, callerCfg)
	return caller, callee
}

func startUAWith(t testing.TB, cfg Config, h func(context.Context, *Incoming)) *UA {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []Listener{{Network: "udp", Addr: "127.0.0.1:0"}}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ua, err := NewUA(cfg)
	if err != nil {
		t.Fatalf("NewUA: %v", err)
	}
	ua.OnCall(h)
	if err := ua.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = ua.Close(ctx)
	})
	return ua
}

func waitDone(t testing.TB, c *Call, d time.Duration) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(d):
		t.Fatalf("call %s still up after %s", c.ID(), d)
	}
}

func eventually(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
