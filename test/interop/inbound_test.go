//go:build interop

package interop

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// callerSentence is what sipp's callers say: speech, so that a recorder
// that drops, repeats or reorders frames fails the correlation.
const callerSentence = "Hello, I am calling about my order number four five six. Can you hear me clearly?"

// promptSentence is what waihu plays to callers in these tests; it differs
// from the caller's sentence so neither can pass for the other.
const promptSentence = "Thank you for calling. Please tell us how we can help."

// TestInboundCallsAreAnsweredAndRecorded runs sipp as 20 callers at 5 calls
// per second, each sending a PCMU sentence from a pcap: every call must be
// answered and ended cleanly, and each call's recording must hold the
// sentence sent on that call.
func TestInboundCallsAreAnsweredAndRecorded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	speech := testpeer.Speech(t, "en-us", callerSentence)
	pcap := filepath.Join(t.TempDir(), "caller.pcap")
	if _, err := testpeer.WritePCMUPcap(pcap, speech, testpeer.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(ctx, t, serverOptions{prompt: testpeer.Speech(t, "en-us", promptSentence)})

	const calls = 20
	sipp, res := testpeer.RunSipp(ctx, t, testpeer.SippConfig{
		Scenario: testpeer.ScenarioUAC, Remote: srv.addr, Pcap: pcap,
		Calls: calls, Rate: 5, Limit: calls,
		Hold:    testpeer.Duration(speech) + 1500*time.Millisecond,
		Timeout: 90 * time.Second,
	})
	if res.ExitCode != 0 || res.Successful != calls || res.Failed != 0 {
		t.Fatalf("sipp: exit %d, %d successful, %d failed of %d, err %v\n%s\n%s",
			res.ExitCode, res.Successful, res.Failed, calls, res.Err, sipp.Diagnostics(), srv.Output())
	}
	ids := callIDs(sipp)
	if len(ids) != calls {
		t.Fatalf("sipp logged %d call ids, want %d", len(ids), calls)
	}
	ended, err := srv.waitLogs(ctx, msgIs("call ended"), distinctCalls(calls))
	if err != nil {
		t.Fatalf("%d of %d calls logged \"call ended\": %v\n%s", len(ended), calls, err, srv.Output())
	}
	endedIDs := map[string]logLine{}
	for _, l := range ended {
		if _, seen := endedIDs[l.str("call_id")]; !seen || l["rtp_received"] != nil {
			endedIDs[l.str("call_id")] = l // prefer the media layer's line, with RTP counters
		}
	}
	for _, id := range ids {
		end, ok := endedIDs[id]
		if !ok {
			t.Errorf("call %s: no \"call ended\" log line", id)
		}
		c := matchRecording(t, srv.recording(id), speech, 3*time.Second)
		t.Logf("call %s: %d/%d frames found, whole file %.3f, drift %v; waihu: %v", id, c.Found, c.Frames, c.Whole.Score, c.LagSpread, end)
	}
	srv.stop(t)
}

// TestInboundCallVariants places single sipp calls that differ from the
// load test in one respect each: SIP over TCP (sipp -t t1), a caller that
// offers only PCMA and sends A-law, and RFC 4733 digits after the speech in
// the pcap. Each must be answered and recorded with the audio sent, and
// the digits logged in order.
func TestInboundCallVariants(t *testing.T) {
	speech := testpeer.Speech(t, "en-us", "Calling to check one thing, thank you.")
	tests := []struct {
		name      string
		transport string
		offer     []uint8
		digits    string
	}{
		{name: "sip over tcp", transport: "t1"},
		{name: "pcma only offer", offer: []uint8{testpeer.PayloadPCMA}},
		{name: "rfc4733 digits after speech", digits: "9*07"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			pt := testpeer.PayloadPCMU
			if len(tc.offer) > 0 {
				pt = tc.offer[0]
			}
			pcap := filepath.Join(t.TempDir(), "caller.pcap")
			if _, err := testpeer.WritePCMUPcap(pcap, speech, testpeer.PcapOptions{RTPOptions: testpeer.RTPOptions{PayloadType: pt, DTMF: tc.digits}}); err != nil {
				t.Fatal(err)
			}
			srv := startServer(ctx, t, serverOptions{})
			sipp, res := testpeer.RunSipp(ctx, t, testpeer.SippConfig{
				Scenario: testpeer.ScenarioUAC, Transport: tc.transport, Offer: tc.offer,
				Remote: srv.addr, Pcap: pcap,
				Hold:    testpeer.Duration(speech) + time.Duration(len(tc.digits))*300*time.Millisecond + time.Second,
				Timeout: 30 * time.Second,
			})
			if res.ExitCode != 0 || res.Successful != 1 {
				t.Fatalf("sipp: exit %d, %d successful, err %v\n%s\n%s", res.ExitCode, res.Successful, res.Err, sipp.Diagnostics(), srv.Output())
			}
			ids := callIDs(sipp)
			if len(ids) != 1 {
				t.Fatalf("sipp logged call ids %v, want one", ids)
			}
			isAnswer := func(l logLine) bool { return l.str("msg") == "call answered" && l.str("call_id") == ids[0] }
			answers, err := srv.waitLogs(ctx, isAnswer, atLeast(1))
			if err != nil {
				t.Fatalf("no \"call answered\": %v\n%s", err, srv.Output())
			}
			if want := map[uint8]string{testpeer.PayloadPCMU: "PCMU", testpeer.PayloadPCMA: "PCMA"}[pt]; answers[0].str("codec") != want {
				t.Errorf("answered with codec %q, want %q", answers[0].str("codec"), want)
			}
			c := matchRecording(t, srv.recording(ids[0]), speech, 2*time.Second)
			t.Logf("%d/%d frames found", c.Found, c.Frames)
			var got strings.Builder
			for _, l := range srv.logs() {
				if l.str("msg") == "dtmf" && l.str("call_id") == ids[0] {
					got.WriteString(l.str("digit"))
				}
			}
			if got.String() != tc.digits {
				t.Errorf("digits logged %q, want %q", got.String(), tc.digits)
			}
			srv.stop(t)
		})
	}
}
