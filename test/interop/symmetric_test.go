//go:build interop

package interop

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// TestSymmetricRTPFollowsTheSource calls waihu from sipp with an SDP offer
// that lies about the media address (c=IN IP4 192.0.2.1, port 9, as behind
// a NAT), while a Go RTP peer sends the caller's audio from another port:
// waihu must record that audio and send its prompt back to where the RTP
// really comes from (symmetric RTP, RFC 4961), which the peer checks by
// correlating what it receives with the prompt.
func TestSymmetricRTPFollowsTheSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	speech := testpeer.Speech(t, "en-us", callerSentence)
	prompt := testpeer.Speech(t, "en-us", promptSentence)
	srv := startServer(ctx, t, serverOptions{prompt: prompt})
	peer := testpeer.ListenRTP(t, 0)
	hold := max(testpeer.Duration(speech), testpeer.Duration(prompt)) + 2*time.Second
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{
		Scenario: testpeer.ScenarioUAC, Remote: srv.addr,
		SDPAddr: "192.0.2.1", SDPPort: 9, Hold: hold, Timeout: 40 * time.Second,
	})
	var (
		callID string
		port   int
		begin  = time.Now()
	)
	for callID == "" {
		select {
		case <-ctx.Done():
			t.Fatalf("sipp logged no answer: %v\n%s", ctx.Err(), sipp.Diagnostics())
		case <-sipp.Done():
			t.Fatalf("sipp ended before the answer\n%s\n%s", sipp.Diagnostics(), srv.Output())
		case <-time.After(20 * time.Millisecond):
			callID, port = remoteRTPPort(sipp)
		}
	}
	pkts, err := testpeer.Packetize(speech, testpeer.RTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waihuRTP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	answeredAfter := time.Since(begin)
	if err := peer.Send(ctx, waihuRTP, pkts); err != nil {
		t.Fatal(err)
	}
	t.Logf("answer seen after %v; %d packets (%v of audio) sent in %v", answeredAfter.Round(time.Millisecond),
		len(pkts), testpeer.Duration(speech), (time.Since(begin) - answeredAfter).Round(time.Millisecond))
	if res := sipp.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Fatalf("sipp: exit %d, %d successful\n%s\n%s", res.ExitCode, res.Successful, sipp.Diagnostics(), srv.Output())
	}
	ended, err := srv.waitLogs(ctx, func(l logLine) bool { return l.str("msg") == "call ended" && l.str("call_id") == callID }, atLeast(1))
	if err != nil {
		t.Fatalf("no \"call ended\" for %s: %v\n%s", callID, err, srv.Output())
	}
	t.Logf("waihu: %v", ended[0])
	c := matchRecording(t, srv.recording(callID), speech, 2*time.Second)
	t.Logf("peer → waihu: %d/%d frames found", c.Found, c.Frames)

	fromWaihu := peer.Packets()
	if len(fromWaihu) == 0 {
		t.Fatalf("waihu sent no RTP to the address its caller's RTP came from (sources %v)\n%s", peer.Sources(), srv.Output())
	}
	for src := range peer.Sources() {
		if src != waihuRTP.String() {
			t.Errorf("RTP from %s, want only from waihu's port %s", src, waihuRTP)
		}
	}
	heard, _ := testpeer.Depacketize(fromWaihu)
	c = matchAudio(t, "audio waihu sent to the RTP source", "", prompt, heard, 2*time.Second)
	t.Logf("waihu → peer: %d/%d frames found", c.Found, c.Frames)
	srv.stop(t)
}
