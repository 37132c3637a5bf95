//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// callConfig writes a `waihu call` config with one trunk, "carrier", at
// addr, SIP on a free loopback port and a small RTP range.
func callConfig(t *testing.T, dir, addr string) string {
	t.Helper()
	rtpMin := testpeer.FreeUDPRange(t, 10)
	cfg := fmt.Sprintf(`sip:
  listen: "127.0.0.1:%d"
rtp:
  bind_ip: 127.0.0.1
  port_min: %d
  port_max: %d
log:
  format: json
trunks:
  - name: carrier
    address: %q
    transport: udp
    username: waihu
    password: secret
    register: false
`, testpeer.FreeSIPPort(t), rtpMin, rtpMin+9, addr)
	path := filepath.Join(dir, "call.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOutboundCallThroughCarrier runs `waihu call` against sipp acting as
// the carrier: an answered call plays the prompt and records the carrier's
// RTP echo of it; a busy or never-answering callee makes the command fail
// with the SIP code, after a CANCEL in the second case.
func TestOutboundCallThroughCarrier(t *testing.T) {
	prompt := testpeer.Speech(t, "en-us", promptSentence)
	tests := []struct {
		name     string
		scenario string
		args     []string
		wantOK   bool
		wantText string
	}{
		{name: "answered call records the echo of the prompt", scenario: testpeer.ScenarioUAS, wantOK: true},
		{name: "busy callee fails with 486", scenario: testpeer.ScenarioBusy, wantText: "486"},
		{name: "unanswered call is cancelled", scenario: testpeer.ScenarioRing, args: []string{"--ring-timeout", "2s"}, wantText: "no answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			uas := testpeer.StartSipp(ctx, t, testpeer.SippConfig{
				Scenario: tc.scenario, RTPEcho: true, Timeout: 40 * time.Second,
			})
			promptPath := filepath.Join(dir, "prompt.wav")
			if err := testpeer.WriteWAV(promptPath, prompt, testpeer.SampleRate); err != nil {
				t.Fatal(err)
			}
			recPath := filepath.Join(dir, "heard.wav")
			args := []string{"call", "--config", callConfig(t, dir, uas.Addr()), "--trunk", "carrier",
				"--play", promptPath, "--record", recPath, "--timeout", "30s"}
			args = append(append(args, tc.args...), "5551234")
			call := testpeer.Start(ctx, t, dir, waihuBin, args...)
			code, err := call.Wait(ctx)
			if err != nil {
				t.Fatalf("waihu call: %v\n%s", err, call.Output())
			}
			if (code == 0) != tc.wantOK {
				t.Fatalf("waihu call exited %d, want success=%v\n%s\n%s", code, tc.wantOK, call.Output(), uas.Diagnostics())
			}
			if tc.wantText != "" && !strings.Contains(call.Output(), tc.wantText) {
				t.Errorf("waihu call's error does not name the SIP code %s:\n%s", tc.wantText, call.Output())
			}
			if res := uas.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
				t.Fatalf("carrier: exit %d, %d successful, %d failed\n%s\n%s", res.ExitCode, res.Successful, res.Failed, uas.Diagnostics(), call.Output())
			}
			if tc.wantOK {
				c := matchRecording(t, recPath, prompt, 2*time.Second)
				t.Logf("echo: %d/%d frames found, whole %.3f at %v", c.Found, c.Frames, c.Whole.Score, c.Whole.Delay())
			}
		})
	}
}
