package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/rtp"
)

// TestServeBotTalksWithTheCaller calls the default demo bot with real engines
// (sphinx, flite, the NLU) and a caller who waits for the question, then speaks
// (espeak-ng), and checks the outcome the script reached.
func TestServeBotTalksWithTheCaller(t *testing.T) {
	for _, p := range []string{"flite", "espeak-ng", "sox"} {
		testpeer.Need(t, p)
	}
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pocketsphinx-en-us is not installed")
		}
		t.Skip("pocketsphinx-en-us is not installed")
	}
	cases := []struct {
		say, outcome string
	}{
		{"yes please", "interested"},
		{"no thank you", "not_interested"},
		{"", "no_input"},
	}
	srv := startServerWith(t, "", BotConfig{})
	t.Cleanup(func() { srv.close() })
	if srv.bot == nil {
		t.Fatal("the demo bot did not start")
	}
	c := newCaller(t, srv)
	for _, tc := range cases {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			var words []int16
			if tc.say != "" {
				words = testpeer.Speech(t, "en-us", tc.say)
			}
			rec := botCall(t, srv, c, words)
			if rec.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q; path %v; transcript %+v", rec.Outcome, tc.outcome, rec.Path, rec.Transcript)
			}
			for _, turn := range rec.Turns {
				t.Logf("turn: %+v", turn)
			}
		})
	}
}

// botCall dials the bot, listens until its question ends (the first silence
// after speech), answers with words (or keeps silent), and waits for the bot to
// hang up. It returns the call record the bot wrote.
func botCall(t *testing.T, srv *server, c *caller, words []int16) dialog.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leg, call := c.dial(ctx, t, "bot-caller")
	var (
		mu           sync.Mutex
		spoke, quiet int // frames of bot speech, then of silence after it
	)
	questionOver := make(chan struct{})
	go func() {
		frame := make([]int16, rtp.FrameSamples)
		done := false
		for ctx.Err() == nil {
			if leg.ReadFrame(ctx, frame) != nil {
				return
			}
			var peak int16
			for _, v := range frame {
				peak = max(peak, v, -v)
			}
			mu.Lock()
			if peak > 1000 {
				spoke++
				quiet = 0
			} else if spoke > 50 {
				quiet++
			}
			// The question is several seconds long; 600 ms of silence ends it.
			if !done && spoke > 100 && quiet > 30 {
				done = true
				close(questionOver)
			}
			mu.Unlock()
		}
	}()
	select {
	case <-questionOver:
	case <-call.Done():
		t.Fatal("bot hung up before asking")
	case <-ctx.Done():
		t.Fatal("never heard the bot's question")
	}
	frame := make([]int16, rtp.FrameSamples)
	for off := 0; off < len(words); off += rtp.FrameSamples {
		n := copy(frame, words[off:])
		clear(frame[n:])
		if err := leg.WriteFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("bot never hung up")
	}
	path := filepath.Join(srv.cfg.Data, "calls", call.ID()+".json")
	var rec dialog.Record
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(raw, &rec) == nil {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call record at %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
