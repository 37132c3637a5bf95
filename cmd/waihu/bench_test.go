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
	if !strings.Contains(stdout.String(), "waihu calls=20") {
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
