package testpeer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestBaresipSendsAudioAndRFC4733Digits proves the baresip runner against
// a sipp carrier whose SDP answer points baresip's media at a Go RTP peer:
// the peer must receive baresip's source audio and the digits 1234# as
// RFC 4733 events, in order.
func TestBaresipSendsAudioAndRFC4733Digits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	sink := ListenRTP(t, 0)
	uas := StartSipp(ctx, t, SippConfig{Scenario: ScenarioUAS, SDPPort: sink.Port(), Timeout: 30 * time.Second})
	src := chirp(SampleRate*2, 300, 3000, 12000)
	b := StartBaresip(ctx, t, BaresipConfig{Source: src, SourceLength: 20 * time.Second})
	if err := b.Dial(ctx, fmt.Sprintf("sip:waihu@%s", uas.Addr())); err != nil {
		t.Fatalf("%v\n%s\n%s", err, b.Output(), uas.Diagnostics())
	}
	// Let the source play out before the digits, as a caller would.
	wantAudio := func(p []rtp.Packet) bool { return len(p) >= len(src)/FrameSamples+10 }
	if err := sink.WaitFor(ctx, wantAudio); err != nil {
		t.Fatal(err)
	}
	const digits = "1234#"
	if err := b.SendDTMF(ctx, digits); err != nil {
		t.Fatalf("%v\n%s", err, b.Output())
	}
	gotDigits := func(p []rtp.Packet) bool {
		_, d := Depacketize(p)
		return len(d) >= len(digits)
	}
	if err := sink.WaitFor(ctx, gotDigits); err != nil {
		_, d := Depacketize(sink.Packets())
		t.Fatalf("digits so far %q: %v\n%s", d, err, b.Output())
	}
	if err := b.Hangup(ctx); err != nil {
		t.Fatalf("%v\n%s", err, b.Output())
	}
	if res := uas.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Fatalf("uas: exit %d, %d successful\n%s", res.ExitCode, res.Successful, uas.Diagnostics())
	}
	pcm, d := Depacketize(sink.Packets())
	if d != digits {
		t.Fatalf("RFC 4733 digits %q, want %q", d, digits)
	}
	m := Correlate(src, pcm, 2*SampleRate)
	t.Logf("%d packets, digits %q, audio match %.3f at %v", len(sink.Packets()), d, m.Score, m.Delay())
	if m.Score < 0.9 {
		t.Fatalf("baresip's audio matches its source with %.3f, want ≥0.9", m.Score)
	}
}
