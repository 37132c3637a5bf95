//go:build interop

package sip

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/rtp"
)

// These tests run baresip 1.0.0 as the trunk on the far end of SIP over
// TLS with SRTP keyed by SDES (its srtp module, mediaenc=srtp-mand), in
// both directions, and check that audio crosses intact both ways: waihu
// compares what its leg plays out with baresip's source file, and
// baresip's sndfile recording of what it decoded with waihu's audio.
//
//	go test -tags interop -run TestInteropBaresipTLSSRTP ./sip

// sweep is a repeating 300→3000 Hz chirp at amp: unlike a pure tone it
// correlates with itself only at the right lag, so a match proves the
// audio, not just its presence.
func sweep(seconds float64, period int, amp float64) []int16 {
	out := make([]int16, int(seconds*testpeer.SampleRate))
	for i := range out {
		t := float64(i%period) / testpeer.SampleRate
		dur := float64(period) / testpeer.SampleRate
		out[i] = int16(amp * math.Sin(2*math.Pi*(300*t+2700*t*t/(2*dur))))
	}
	return out
}

// tlsInterop is waihu's side: an RTP engine and a UA listening on TLS with
// a certificate from pki, trunk "baresip" pointing at b's TLS port.
type tlsInterop struct {
	ua   *UA
	eng  *rtp.Engine
	pki  *testPKI
	logs *syncBuffer
}

func startTLSInterop(t *testing.T, pki *testPKI, b *testpeer.Baresip, mode SRTPMode) *tlsInterop {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := rtp.NewEngine(rtp.Config{BindIP: netip.MustParseAddr("127.0.0.1"), PortMin: 36000, PortMax: 36999, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	ua, err := NewUA(Config{
		Listen: tlsListen, TLS: pki.serverTLS(), TLSRootCAs: pki.Roots, SRTP: mode, Logger: log,
		Trunks: []Trunk{{Name: "baresip", Address: fmt.Sprintf("127.0.0.1:%d", b.TLSPort()), Transport: "tls", SRTP: mode, Username: "waihu"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ua.Close(ctx)
		if t.Failed() {
			t.Logf("waihu log:\n%s", logs.String())
		}
	})
	return &tlsInterop{ua: ua, eng: eng, pki: pki, logs: logs}
}

// baresipFiles writes baresip's certificate file (certificate then key, as
// sip_certificate wants) and the CA file it trusts.
func baresipFiles(t *testing.T, pki *testPKI) (cert, ca string) {
	t.Helper()
	dir := t.TempDir()
	cert, ca = filepath.Join(dir, "baresip.pem"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(cert, append(append([]byte{}, pki.CertPEM...), pki.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, pki.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, ca
}

// exchange writes send into leg while reading for the same time, and
// returns what the leg played out.
func exchange(ctx context.Context, t *testing.T, leg *rtp.Leg, send []int16) []int16 {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i+rtp.FrameSamples <= len(send); i += rtp.FrameSamples {
			if err := leg.WriteFrame(ctx, send[i:i+rtp.FrameSamples]); err != nil {
				t.Errorf("WriteFrame: %v", err)
				return
			}
		}
	})
	got := make([]int16, 0, len(send)+testpeer.SampleRate)
	frame := make([]int16, rtp.FrameSamples)
	for len(got) < len(send)+testpeer.SampleRate/2 {
		if err := leg.ReadFrame(ctx, frame); err != nil {
			t.Errorf("ReadFrame: %v", err)
			break
		}
		got = append(got, frame...)
	}
	wg.Wait()
	return got
}

func rms(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	if len(pcm) == 0 {
		return 0
	}
	return math.Sqrt(s / float64(len(pcm)))
}

// checkLeg asserts SRTP was on with no authentication failure, and that
// the received audio is baresip's source.
func checkLeg(t *testing.T, leg *rtp.Leg, got, baresipSrc []int16) {
	t.Helper()
	st, sst := leg.Stats(), leg.SRTPStats()
	t.Logf("waihu leg: %d packets received, %d sent, invalid %d, srtp %+v", st.PacketsReceived, st.PacketsSent, st.Invalid, sst)
	// SRTCP failures are not checked: baresip 1.0 sends its final RTCP BYE
	// in clear after tearing SRTP down, which waihu rightly drops.
	if sst.Profile == rtp.ProfileNone || sst.AuthFailures != 0 || sst.Replayed != 0 {
		t.Errorf("SRTP on waihu's leg: %+v, want a profile and no SRTP failures", sst)
	}
	if st.PacketsReceived < 100 {
		t.Errorf("waihu received %d SRTP packets from baresip, want ≥ 100", st.PacketsReceived)
	}
	ref := baresipSrc[:testpeer.SampleRate] // one period of the sweep
	m := testpeer.Correlate(ref, got, len(got))
	t.Logf("waihu heard baresip: rms %.0f, match %.3f at %v", rms(got), m.Score, m.Delay())
	if m.Score < 0.9 {
		t.Errorf("audio waihu received matches baresip's source with %.3f, want ≥ 0.9", m.Score)
	}
}

// checkBaresipHeard asserts baresip's recording of what it decoded holds
// waihu's audio.
func checkBaresipHeard(t *testing.T, b *testpeer.Baresip, sent []int16) {
	t.Helper()
	var rec []int16
	testpeer.Eventually(context.Background(), 5*time.Second, func() bool {
		_, received := b.Recordings()
		if len(received) == 0 {
			return false
		}
		pcm, _, err := testpeer.ReadWAV(received[len(received)-1])
		rec = pcm
		return err == nil && len(pcm) > testpeer.SampleRate
	})
	ref := sent[:testpeer.SampleRate]
	m := testpeer.Correlate(ref, rec, len(rec))
	t.Logf("baresip heard waihu: %d samples, rms %.0f, match %.3f at %v", len(rec), rms(rec), m.Score, m.Delay())
	if m.Score < 0.9 {
		t.Errorf("audio baresip decoded matches what waihu sent with %.3f, want ≥ 0.9\n%s", m.Score, b.Output())
	}
}

func TestInteropBaresipTLSSRTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pki := newTestPKI(t)
	cert, ca := baresipFiles(t, pki)
	baresipSrc := sweep(3, testpeer.SampleRate, 9000)
	waihuSrc := sweep(3, testpeer.SampleRate/2, 7000)

	for _, mc := range []struct {
		name     string
		mediaEnc string   // baresip's account mediaenc
		mode     SRTPMode // waihu's trunk and inbound policy
	}{
		{"mandatory (RTP/SAVP)", "srtp-mand", SRTPMandatory},
		{"best effort (RTP/AVP with a=crypto)", "srtp", SRTPOptional},
	} {
		t.Run(mc.name, func(t *testing.T) {
			t.Run("waihu calls baresip", func(t *testing.T) {
				b := testpeer.StartBaresip(ctx, t, testpeer.BaresipConfig{Source: baresipSrc, SourceLength: 30 * time.Second,
					TLSCertificate: cert, TLSCAFile: ca, MediaEnc: mc.mediaEnc, Record: true})
				w := startTLSInterop(t, pki, b, mc.mode)
				if err := w.ua.Start(ctx); err != nil {
					t.Fatal(err)
				}
				leg, err := w.eng.NewLeg("to-baresip")
				if err != nil {
					t.Fatal(err)
				}
				defer leg.Close()
				accepted := make(chan error, 1)
				go func() { accepted <- b.Accept(ctx) }()
				c, err := w.ua.Dial(ctx, DialRequest{Trunk: "baresip", To: "baresip", Media: leg, RingTimeout: 10 * time.Second})
				if err != nil {
					t.Fatalf("Dial baresip over TLS with SRTP: %v\n%s", err, b.Output())
				}
				if err := <-accepted; err != nil {
					t.Fatalf("baresip: %v\n%s", err, b.Output())
				}
				got := exchange(ctx, t, leg, waihuSrc)
				if err := c.Hangup(ctx); err != nil {
					t.Errorf("Hangup: %v", err)
				}
				checkLeg(t, leg, got, baresipSrc)
				checkBaresipHeard(t, b, waihuSrc)
				assertSRTPInBaresipLog(t, b)
			})

			t.Run("baresip calls waihu", func(t *testing.T) {
				b := testpeer.StartBaresip(ctx, t, testpeer.BaresipConfig{Source: baresipSrc, SourceLength: 30 * time.Second,
					TLSCertificate: cert, TLSCAFile: ca, MediaEnc: mc.mediaEnc, Record: true})
				w := startTLSInterop(t, pki, b, mc.mode)
				type result struct {
					leg *rtp.Leg
					got []int16
					via string
				}
				done := make(chan result, 1)
				w.ua.OnCall(func(ctx context.Context, in *Incoming) {
					leg, err := w.eng.NewLeg(in.CallID())
					if err != nil {
						t.Error(err)
						return
					}
					defer leg.Close()
					c, err := in.Answer(ctx, leg)
					if err != nil {
						t.Errorf("Answer: %v", err)
						return
					}
					got := exchange(ctx, t, leg, waihuSrc)
					_ = c.Hangup(ctx)
					done <- result{leg, got, in.Header("Via")}
				})
				if err := w.ua.Start(ctx); err != nil {
					t.Fatal(err)
				}
				uri := fmt.Sprintf("sip:waihu@%s;transport=tls", w.ua.Addr("tls"))
				if err := b.Dial(ctx, uri); err != nil {
					t.Fatalf("baresip dial %s: %v\n%s", uri, err, b.Output())
				}
				var r result
				select {
				case r = <-done:
				case <-ctx.Done():
					t.Fatalf("call did not finish\n%s", b.Output())
				}
				if !strings.Contains(r.via, "SIP/2.0/TLS") {
					t.Errorf("baresip's INVITE came with Via %q, want TLS", r.via)
				}
				checkLeg(t, r.leg, r.got, baresipSrc)
				checkBaresipHeard(t, b, waihuSrc)
				assertSRTPInBaresipLog(t, b)
			})
		})
	}

	t.Run("plain RTP offer to a mandatory trunk is refused", func(t *testing.T) {
		b := testpeer.StartBaresip(ctx, t, testpeer.BaresipConfig{SourceLength: 10 * time.Second,
			TLSCertificate: cert, TLSCAFile: ca})
		w := startTLSInterop(t, pki, b, SRTPMandatory)
		w.ua.OnCall(func(ctx context.Context, in *Incoming) {
			t.Errorf("a plain-RTP call reached the application")
			_ = in.Reject(500, "test failed")
		})
		if err := w.ua.Start(ctx); err != nil {
			t.Fatal(err)
		}
		uri := fmt.Sprintf("sip:waihu@%s;transport=tls", w.ua.Addr("tls"))
		if _, err := b.Command(ctx, "dial", uri); err != nil {
			t.Fatal(err)
		}
		ev, err := b.WaitEvent(ctx, "CALL_ESTABLISHED")
		if err == nil {
			t.Fatalf("plain call was established: %+v", ev)
		}
		if !strings.Contains(ev.Param, "488") {
			t.Errorf("baresip's call closed with %q, want 488\n%s", ev.Param, b.Output())
		}
		if !strings.Contains(w.logs.String(), "srtp required") {
			t.Errorf("waihu did not log why it refused the call")
		}
	})
}

// assertSRTPInBaresipLog checks baresip's own account of the call: its
// srtp module reports the suite it enabled.
func assertSRTPInBaresipLog(t *testing.T, b *testpeer.Baresip) {
	t.Helper()
	out := b.Output()
	if !strings.Contains(out, "SRTP is Enabled") {
		t.Errorf("baresip did not enable SRTP:\n%s", out)
	}
	if strings.Contains(out, "failed to decrypt") {
		t.Errorf("baresip failed to decrypt our packets:\n%s", out)
	}
}
