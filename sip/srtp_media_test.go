package sip

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/waihu/waihu/rtp"
)

// TestSRTPCallCarriesAudioBetweenRealLegs runs a whole call between two UAs
// over TLS with mandatory SRTP on real RTP legs: the audio the caller
// writes reaches the callee intact, through SRTP with no packet refused.
func TestSRTPCallCarriesAudioBetweenRealLegs(t *testing.T) {
	eng, err := rtp.NewEngine(rtp.Config{BindIP: netip.MustParseAddr("127.0.0.1"), PortMin: 37000, PortMax: 37999,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	const frames = 100
	src := make([]int16, frames*rtp.FrameSamples)
	for i := range src {
		tt := float64(i%4000) / 8000
		src[i] = int16(8000 * math.Sin(2*math.Pi*(300*tt+2700*tt*tt)))
	}
	heard := make(chan []int16, 1)
	calleeLegs := make(chan *rtp.Leg, 1)
	pki := newTestPKI(t)
	caller, _ := tlsPair(t, pki, Config{SRTP: SRTPMandatory}, Config{}, func(tr *Trunk) { tr.SRTP = SRTPMandatory },
		func(ctx context.Context, in *Incoming) {
			leg, err := eng.NewLeg(in.CallID())
			if err != nil {
				t.Error(err)
				return
			}
			calleeLegs <- leg
			c, err := in.Answer(ctx, leg)
			if err != nil {
				t.Errorf("Answer: %v", err)
				return
			}
			got := make([]int16, 0, len(src)+8000)
			frame := make([]int16, rtp.FrameSamples)
			for len(got) < cap(got) {
				if err := leg.ReadFrame(ctx, frame); err != nil {
					break
				}
				got = append(got, frame...)
			}
			heard <- got
			<-c.Done()
		})
	leg, err := eng.NewLeg("caller")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: leg, RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	for i := 0; i < len(src); i += rtp.FrameSamples {
		if err := leg.WriteFrame(ctx, src[i:i+rtp.FrameSamples]); err != nil {
			t.Fatal(err)
		}
	}
	got := <-heard
	calleeLeg := <-calleeLegs
	// Best normalised correlation of one period of the sweep in what the
	// callee played out.
	ref := src[:4000]
	best := 0.0
	for lag := 0; lag+len(ref) <= len(got); lag++ {
		var xy, xx, yy float64
		for i, r := range ref {
			x, y := float64(r), float64(got[lag+i])
			xy, xx, yy = xy+x*y, xx+x*x, yy+y*y
		}
		if xx > 0 && yy > 0 {
			best = max(best, xy/math.Sqrt(xx*yy))
		}
	}
	for name, l := range map[string]*rtp.Leg{"caller": leg, "callee": calleeLeg} {
		st := l.SRTPStats()
		if st.Profile == rtp.ProfileNone || st.AuthFailures != 0 || st.Replayed != 0 {
			t.Errorf("%s leg SRTP: %+v, want on with nothing refused", name, st)
		}
	}
	if best < 0.95 {
		t.Errorf("callee heard the caller's audio with correlation %.3f, want ≥ 0.95", best)
	}
	if n := calleeLeg.Stats().PacketsReceived; n < frames/2 {
		t.Errorf("callee received %d packets, want ≥ %d", n, frames/2)
	}
}
