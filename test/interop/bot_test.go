//go:build interop

package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/testpeer"
)

// TestBaresipTalksWithTheDemoBot is the first complete bot call with a real
// softphone as the customer: baresip calls `waihu serve` (default demo bot:
// native sphinx recogniser, NLU, flite, dialog engine) and plays espeak-ng
// speech. Each path must reach its outcome with the right transcript, and a
// caller who talks over the question must cut it (barge-in).
func TestBaresipTalksWithTheDemoBot(t *testing.T) {
	for _, p := range []string{"flite", "espeak-ng", "sox"} {
		testpeer.Need(t, p)
	}
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		t.Fatal("pocketsphinx-en-us is not installed (scripts/test installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	t.Cleanup(cancel) // the subtests run in parallel, after this function returns
	srv := startServer(ctx, t, serverOptions{bot: true})
	if _, err := srv.waitLogs(ctx, msgIs("bot ready: inbound calls run the script"), atLeast(1)); err != nil {
		t.Fatalf("bot did not start: %v\n%s", err, srv.Output())
	}

	// The question takes about 7 s with flite; answers start after it, except
	// the barge-in caller who talks 2.5 s in.
	cases := []struct {
		name      string
		at        time.Duration
		say       string
		outcome   string
		heard     string // a word the recogniser must have heard
		interrupt bool
	}{
		{name: "yes", at: 9 * time.Second, say: "yes please", outcome: "interested", heard: "yes"},
		{name: "no", at: 9 * time.Second, say: "no thank you", outcome: "not_interested", heard: "no"},
		{name: "silence", outcome: "no_input"},
		{name: "barge-in", at: 2500 * time.Millisecond, say: "call me later", outcome: "call_back", heard: "later", interrupt: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var src []int16
			if tc.say != "" {
				src = append(testpeer.Silence(tc.at), testpeer.Speech(t, "en-us", tc.say)...)
			}
			phone := testpeer.StartBaresip(ctx, t, testpeer.BaresipConfig{Source: src, SourceLength: 60 * time.Second})
			if err := phone.Dial(ctx, fmt.Sprintf("sip:bot@%s", srv.addr)); err != nil {
				t.Fatalf("%v\n%s", err, phone.Output())
			}
			// The bot hangs up when its script ends.
			if _, err := phone.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
				t.Fatalf("bot never hung up: %v\n%s", err, srv.Output())
			}
			rec := findRecord(ctx, t, srv, tc.outcome)
			if rec.Outcome != tc.outcome {
				t.Fatalf("outcome %q, want %q; path %v\n%s", rec.Outcome, tc.outcome, rec.Path, transcript(rec))
			}
			var caller, cut bool
			for _, e := range rec.Transcript {
				if e.Side == dialog.SideCaller && strings.Contains(e.Text, tc.heard) && tc.heard != "" {
					caller = true
				}
				if e.Side == dialog.SideBot && e.Interrupted {
					cut = true
				}
			}
			if tc.heard != "" && !caller {
				t.Errorf("transcript lacks the caller's %q:\n%s", tc.heard, transcript(rec))
			}
			if cut != tc.interrupt {
				t.Errorf("prompt interrupted = %v, want %v:\n%s", cut, tc.interrupt, transcript(rec))
			}
			for _, turn := range rec.Turns {
				t.Logf("%s: VAD end → first reply frame on the leg %v", tc.name, turn.Latency())
			}
		})
	}
}

// findRecord waits for a call record with the given outcome in the server's
// data directory (calls run in parallel, so the outcome tells them apart).
func findRecord(ctx context.Context, t *testing.T, srv *server, outcome string) dialog.Record {
	t.Helper()
	for ctx.Err() == nil {
		files, _ := filepath.Glob(filepath.Join(srv.data, "calls", "*.json"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			var rec dialog.Record
			if json.Unmarshal(raw, &rec) == nil && rec.Outcome == outcome {
				return rec
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no call record with outcome %q\n%s", outcome, srv.Output())
	return dialog.Record{}
}

func transcript(rec dialog.Record) string {
	var b strings.Builder
	for _, e := range rec.Transcript {
		fmt.Fprintf(&b, "  %6v %-6s %q intent=%s interrupted=%v dtmf=%s\n", e.At, e.Side, e.Text, e.Intent, e.Interrupted, e.DTMF)
	}
	return b.String()
}
