package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/bench"
	"github.com/waihu/waihu/internal/testpeer"
)

// TestBenchChannelsWritesReport runs `waihu bench channels` for 20 calls and
// checks the progress line, the JSON report and the plot.
func TestBenchChannelsWritesReport(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	root := rootCommand()
	root.SetOut(&stdout)
	root.SetErr(&stdout)
	root.SetArgs([]string{"bench", "channels", "--calls", "20", "--duration", "3s", "--warmup", "1s", "--port-min", "33000", "--out", out})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench channels: %v\n%s", err, stdout.String())
	}
	if !strings.HasPrefix(stdout.String(), "waihu ") || !strings.Contains(stdout.String(), " calls=20 ") {
		t.Errorf("no progress line:\n%s", stdout.String())
	}
	raw, err := os.ReadFile(filepath.Join(out, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 1 || rep.Steps[0].Established != 20 || rep.Steps[0].PacketsReceived == 0 {
		t.Fatalf("report steps %+v", rep.Steps)
	}
	if fi, err := os.Stat(filepath.Join(out, "channels.png")); err != nil || fi.Size() < 1000 {
		t.Errorf("plot: %v", err)
	}
}

func TestBenchChannelsRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "channels", "--calls", "5"},
		{"bench", "channels", "--ramp", "10:5:1", "--out", t.TempDir()},
		{"bench", "channels", "--calls", "5", "--ramp", "1:2:1", "--out", t.TempDir()},
	} {
		root := rootCommand()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(args)
		if err := root.Execute(); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestBenchPipelineTimesTheBot runs `waihu bench pipeline` with two callers
// against the demo bot and checks every stage was timed.
func TestBenchPipelineTimesTheBot(t *testing.T) {
	for _, p := range []string{"flite", "espeak-ng", "sox"} {
		testpeer.Need(t, p)
	}
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pocketsphinx-en-us is not installed")
		}
		t.Skip("pocketsphinx-en-us is not installed")
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	root := rootCommand()
	root.SetOut(&stdout)
	root.SetErr(&stdout)
	root.SetArgs([]string{"bench", "pipeline", "--calls", "2", "--timeout", "50s", "--out", out})
	if err := root.Execute(); err != nil {
		t.Fatalf("bench pipeline: %v\n%s", err, stdout.String())
	}
	t.Log(stdout.String())
	raw, err := os.ReadFile(filepath.Join(out, "pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep pipelineReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Answered != 2 || len(rep.Stages) != 7 {
		t.Fatalf("answered %d, stages %+v, errors %v", rep.Answered, rep.Stages, rep.Errors)
	}
	for _, s := range rep.Stages {
		if s.N != 2 {
			t.Errorf("stage %s timed %d calls, want 2", s.Name, s.N)
		}
	}
	// The bot must wait for the caller to stop and answer within seconds.
	if v := rep.Stages[0]; v.P50Ms <= 0 || v.MaxMs > 5000 {
		t.Errorf("voice-to-voice %+v", v)
	}
}
