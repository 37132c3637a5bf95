package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// BuildDiagoPeer compiles the diago peer module in srcDir (bench/diagopeer)
// into dir and returns the binary's path. It runs `go build` in that
// directory, so diago stays out of waihu's module.
func BuildDiagoPeer(ctx context.Context, srcDir, dir string) (string, error) {
	bin := filepath.Join(dir, "diagopeer")
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", fmt.Errorf("diago peer path: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs, ".")
	cmd.Dir = srcDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build diago peer in %s: %w: %s", srcDir, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return abs, nil
}

// DiagoStep returns a StepRunner that runs each step in a fresh diago peer
// process, so its CPU and memory are measured on their own, as waihu's are
// in this process.
func DiagoStep(bin string, duration, warmup time.Duration, portMin int) StepRunner {
	return func(ctx context.Context, calls int) (StepResult, error) {
		// Set-up, warm-up, window and tear-down, with room for a slow
		// machine; the peer bounds each phase itself.
		limit := 90*time.Second + duration + warmup + time.Duration(calls)*20*time.Millisecond
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin,
			"--calls", strconv.Itoa(calls),
			"--duration", duration.String(),
			"--warmup", warmup.String(),
			"--port-min", strconv.Itoa(portMin))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		runErr := cmd.Run()
		var res StepResult
		if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
			tail := stderr.Bytes()
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return StepResult{Peer: "diago", Calls: calls}, fmt.Errorf("diago peer with %d calls: %v; %w; stderr: %s", calls, runErr, err, tail)
		}
		if res.Err != "" {
			return res, fmt.Errorf("diago peer with %d calls: %s", calls, res.Err)
		}
		return res, nil
	}
}

// WaihuStep returns a StepRunner for waihu calls configured by base.
func WaihuStep(base ChannelsConfig) StepRunner {
	return func(ctx context.Context, calls int) (StepResult, error) {
		cfg := base
		cfg.Calls = calls
		return RunChannels(ctx, cfg)
	}
}

// DiagoSource finds bench/diagopeer from the working directory or its
// parents, for runs from anywhere inside the repository.
func DiagoSource() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find bench/diagopeer: %w", err)
	}
	for {
		p := filepath.Join(dir, "bench", "diagopeer")
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("bench/diagopeer not found above the working directory: run from the waihu repository or pass --diago-src")
		}
		dir = parent
	}
}
