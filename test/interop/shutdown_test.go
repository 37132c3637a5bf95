//go:build interop

package interop

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// TestShutdownHangsUpLiveCalls sends SIGTERM to waihu during three calls
// from sipp callers that wait for the far end to hang up: each must get a
// BYE (sipp counts the call successful only then), waihu must exit 0, and
// every recording must be a complete WAV file holding what was said.
func TestShutdownHangsUpLiveCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	speech := testpeer.Speech(t, "en-us", "One two three.")
	pcap := filepath.Join(t.TempDir(), "caller.pcap")
	if _, err := testpeer.WritePCMUPcap(pcap, speech, testpeer.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(ctx, t, serverOptions{})
	const calls = 3
	callers := testpeer.StartSipp(ctx, t, testpeer.SippConfig{
		Scenario: testpeer.ScenarioUAC, Remote: srv.addr, Pcap: pcap,
		Calls: calls, Rate: 10, AwaitBye: true, Timeout: 30 * time.Second,
	})
	if _, err := srv.waitLogs(ctx, msgIs("call answered"), distinctCalls(calls)); err != nil {
		t.Fatalf("calls not answered: %v\n%s\n%s", err, srv.Output(), callers.Diagnostics())
	}
	// Let the callers' audio reach the recordings before the shutdown.
	time.Sleep(testpeer.Duration(speech) + 500*time.Millisecond)
	srv.stop(t)
	res := callers.Wait(ctx)
	if res.ExitCode != 0 || res.Successful != calls {
		t.Fatalf("callers: exit %d, %d of %d got a BYE\n%s\n%s", res.ExitCode, res.Successful, calls, callers.Diagnostics(), srv.Output())
	}
	ids := callIDs(callers)
	if len(ids) != calls {
		t.Fatalf("sipp logged call ids %v, want %d", ids, calls)
	}
	for _, id := range ids {
		c := matchRecording(t, srv.recording(id), speech, 2*time.Second)
		t.Logf("call %s: %d/%d frames found", id, c.Found, c.Frames)
	}
}
