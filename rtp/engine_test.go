package rtp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestEngineCloseOfManyLegsLeaksNothing(t *testing.T) {
	e := newTestEngine(t, Config{})
	var legs []*Leg
	for range 40 {
		legs = append(legs, openLeg(t, e))
	}
	for i := 0; i+1 < len(legs); i += 2 {
		a, b := legs[i], legs[i+1]
		if err := a.SetRemote(b.LocalAddr(), PayloadPCMU, 101); err != nil {
			t.Fatal(err)
		}
		if err := b.SetRemote(a.LocalAddr(), PayloadPCMU, 101); err != nil {
			t.Fatal(err)
		}
	}
	// Leave readers and writers blocked, as a real call would at hang-up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, len(legs))
	for _, l := range legs[:10] {
		go func() { errs <- l.ReadFrame(ctx, make([]int16, FrameSamples)) }()
	}
	time.Sleep(200 * time.Millisecond)
	for _, l := range legs[:20] {
		l.Close()
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		<-errs
	}
	if _, err := e.NewLeg("late"); err == nil {
		t.Error("NewLeg after engine Close succeeded")
	}
	goleak.VerifyNone(t)
}

func TestEngineReusesPortsAndRejectsBadRanges(t *testing.T) {
	e := newTestEngine(t, Config{PortMin: 41000, PortMax: 41003})
	a, err := e.NewLeg("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.NewLeg("b")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Leg{a, b} {
		if p := l.LocalAddr().Port(); p%2 != 0 || p < 41000 || p > 41002 {
			t.Errorf("RTP port %d not even in range", p)
		}
	}
	if _, err := e.NewLeg("c"); err == nil {
		t.Error("third leg in a two-pair range succeeded")
	}
	a.Close()
	if _, err := e.NewLeg("d"); err != nil {
		t.Errorf("port not reused after Close: %v", err)
	}
	for _, cfg := range []Config{
		{PortMin: 20000, PortMax: 10000},
		{PortMin: 1, PortMax: 70000},
		{JitterMin: time.Second, JitterMax: time.Millisecond},
	} {
		if _, err := NewEngine(cfg); err == nil {
			t.Errorf("NewEngine(%+v) succeeded", cfg)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.BindIP != netip.IPv4Unspecified() || c.PortMin != 10000 || c.PortMax != 20000 ||
		c.JitterMin != 20*time.Millisecond || c.JitterMax != 200*time.Millisecond ||
		c.RTCPInterval != 5*time.Second || c.OutputFrames != 10 || c.Logger == nil {
		t.Errorf("defaults %+v", c)
	}
	if c, _ := (Config{PortMin: 30001, PortMax: 30010}).withDefaults(); c.PortMin != 30002 {
		t.Errorf("odd PortMin 30001 became %d, want 30002", c.PortMin)
	}
}

func TestLegAdvertisesExternalIP(t *testing.T) {
	ext := netip.MustParseAddr("203.0.113.7")
	e := newTestEngine(t, Config{ExternalIP: ext})
	l := openLeg(t, e)
	if got := l.LocalAddr(); got.Addr() != ext || got.Port()%2 != 0 {
		t.Errorf("LocalAddr %v, want %v with an even port", got, ext)
	}
	e2 := newTestEngine(t, Config{})
	if got := openLeg(t, e2).LocalAddr().Addr(); got != loopback {
		t.Errorf("LocalAddr %v when bound to loopback, want 127.0.0.1", got)
	}
}

func TestPacerSkipKeepsMediaClockInStep(t *testing.T) {
	l := detachedLeg(t)
	var s pacerShard
	s.add(l)
	before := l.ts
	l.markNext = false
	s.skip(7)
	if l.ts-before != 7*FrameSamples || !l.markNext {
		t.Errorf("after skipping 7 frames ts advanced %d, marker %v; want %d and a marker", l.ts-before, l.markNext, 7*FrameSamples)
	}
}
