package testpeer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestSippUACPlaysPcapToSippUAS proves the uac and uas scenarios and the
// pcap writer against sipp itself: the uas's SDP points the caller's media
// at a Go RTP peer, which must receive exactly the audio and digits of the
// pcap, paced in real time.
func TestSippUACPlaysPcapToSippUAS(t *testing.T) {
	speech := chirp(SampleRate*3/2, 300, 3000, 12000)
	tests := []struct {
		name   string
		pt     uint8
		digits string
	}{
		{name: "pcmu", pt: PayloadPCMU},
		{name: "pcma with rfc4733 digits", pt: PayloadPCMA, digits: "1#"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sink := ListenRTP(t, 0)
			pcap := filepath.Join(t.TempDir(), "speech.pcap")
			wrote, err := WritePCMUPcap(pcap, speech, PcapOptions{RTPOptions: RTPOptions{PayloadType: tc.pt, DTMF: tc.digits}})
			if err != nil {
				t.Fatal(err)
			}
			uas := StartSipp(ctx, t, SippConfig{Scenario: ScenarioUAS, SDPPort: sink.Port(), Timeout: 20 * time.Second})
			uac, res := RunSipp(ctx, t, SippConfig{
				Scenario: ScenarioUAC, Remote: uas.Addr(), Pcap: pcap,
				Hold: Duration(speech) + time.Second, Timeout: 20 * time.Second,
			})
			if res.ExitCode != 0 || res.Successful != 1 || res.Err != nil {
				t.Fatalf("uac: exit %d, %d successful, %d failed, err %v\n%s", res.ExitCode, res.Successful, res.Failed, res.Err, uac.Diagnostics())
			}
			if ures := uas.Wait(ctx); ures.ExitCode != 0 || ures.Successful != 1 {
				t.Fatalf("uas: exit %d, %d successful\n%s", ures.ExitCode, ures.Successful, uas.Diagnostics())
			}
			pkts := sink.Packets()
			if len(pkts) != len(wrote) {
				t.Fatalf("rtp peer got %d packets, the pcap holds %d", len(pkts), len(wrote))
			}
			pcm, digits := Depacketize(pkts)
			if digits != tc.digits {
				t.Fatalf("digits %q, want %q", digits, tc.digits)
			}
			if m := Correlate(speech, pcm, SampleRate); m.Score < 0.99 {
				t.Fatalf("received audio matches the pcap's source with %.3f (lag %d), want ≥0.99", m.Score, m.Lag)
			}
			for port, n := range sink.Sources() {
				if want := fmt.Sprintf("127.0.0.1:%d", uac.Config.MediaPort); port != want {
					t.Fatalf("%d packets came from %s, want sipp's -mp %s", n, port, want)
				}
			}
		})
	}
}

// TestSippUASEchoesRTP proves -rtp_echo with the uas scenario: RTP sent to
// the carrier's media port comes back to the sender unchanged.
func TestSippUASEchoesRTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uas := StartSipp(ctx, t, SippConfig{Scenario: ScenarioUAS, RTPEcho: true, Timeout: 20 * time.Second})
	// sipp echoes on -mp only while it runs: hold a call up meanwhile.
	uac := StartSipp(ctx, t, SippConfig{Scenario: ScenarioUAC, Remote: uas.Addr(), Hold: 3 * time.Second, Timeout: 10 * time.Second})
	peer := ListenRTP(t, 0)
	src := chirp(SampleRate, 400, 2000, 9000)
	pkts, err := Packetize(src, RTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(ctx, udpAddr(uas.Config.MediaPort), pkts); err != nil {
		t.Fatal(err)
	}
	if err := peer.WaitFor(ctx, func(p []rtp.Packet) bool { return len(p) >= len(pkts) }); err != nil {
		t.Fatalf("echo: %v\n%s", err, uas.Diagnostics())
	}
	pcm, _ := Depacketize(peer.Packets())
	if m := Correlate(src, pcm, 800); m.Score < 0.99 {
		t.Fatalf("echo matches with %.3f, want ≥0.99", m.Score)
	}
	if res := uac.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Fatalf("uac: exit %d, %d successful\n%s", res.ExitCode, res.Successful, uac.Diagnostics())
	}
}

// TestSippUASRejectsAndRings proves the busy and ring scenarios: a call to
// the busy uas fails with 486, and a call to the ringing uas that the
// caller cancels ends in 487.
func TestSippUASRejectsAndRings(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		caller   string
	}{
		{name: "busy answers 486", scenario: ScenarioBusy, caller: "486"},
		{name: "ringing callee takes cancel", scenario: ScenarioRing, caller: "487"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			uas := StartSipp(ctx, t, SippConfig{Scenario: tc.scenario, Timeout: 15 * time.Second})
			resp, err := InviteOnce(ctx, uas.Addr(), tc.scenario == ScenarioRing)
			if err != nil {
				t.Fatalf("%v\n%s", err, uas.Diagnostics())
			}
			if resp != tc.caller {
				t.Fatalf("final response %s, want %s\n%s", resp, tc.caller, uas.Diagnostics())
			}
			if ures := uas.Wait(ctx); ures.ExitCode != 0 || ures.Successful != 1 {
				t.Fatalf("uas: exit %d, %d successful\n%s", ures.ExitCode, ures.Successful, uas.Diagnostics())
			}
		})
	}
}

// TestSippUACAwaitingByeFailsWithoutOne proves that the uac's AwaitBye mode
// cannot pass vacuously: a callee that never hangs up fails the call at
// sipp's timeout. (test/interop's shutdown test proves the positive case
// against waihu.)
func TestSippUACAwaitingByeFailsWithoutOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	callee := StartSipp(ctx, t, SippConfig{Scenario: ScenarioUAS, Timeout: 10 * time.Second})
	s, res := RunSipp(ctx, t, SippConfig{Scenario: ScenarioUAC, Remote: callee.Addr(), AwaitBye: true, Timeout: 3 * time.Second})
	if res.ExitCode == 0 || res.Successful != 0 {
		t.Fatalf("uac waiting for a BYE that never comes: exit %d, %d successful, want a failure\n%s", res.ExitCode, res.Successful, s.Diagnostics())
	}
}
