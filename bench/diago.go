package bench

import (
	"github.com/waihu/waihu/bench/measure"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// BuildDiagoPeer compiles the diago peer module in srcDir (bench/diagopeer
// of a waihu checkout) into dir and returns the binary's path. It first
// copies waihu's dsp and bench/measure packages from the checkout into
// srcDir/waihu-snapshot, which the peer's go.mod replaces waihu with, then
// runs `go build` in srcDir: diago stays out of waihu's module, and waihu's
// other dependencies stay out of diago's build.
func BuildDiagoPeer(ctx context.Context, srcDir, dir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "diagopeer"))
	if err != nil {
		return "", fmt.Errorf("diago peer path: %w", err)
	}
	if err := writeSnapshot(filepath.Join(srcDir, "..", ".."), filepath.Join(srcDir, "waihu-snapshot")); err != nil {
		return "", fmt.Errorf("build diago peer: %w", err)
	}
	// -mod=mod lets the build record a changed gonum version itself.
	cmd := exec.CommandContext(ctx, "go", "build", "-mod=mod", "-o", abs, ".")
	cmd.Dir = srcDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build diago peer in %s: %w: %s", srcDir, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return abs, nil
}

// snapshotPackages are the waihu packages the diago peer imports; each
// imports only the standard library and gonum.
var snapshotPackages = []string{"dsp", "bench/measure"}

// writeSnapshot copies the non-test Go files of snapshotPackages from the
// checkout at root into dst with a go.mod naming waihu's module and gonum
// at the checkout's version.
func writeSnapshot(root, dst string) error {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return fmt.Errorf("read waihu's go.mod: %w", err)
	}
	m := regexp.MustCompile(`(?m)^\s*gonum\.org/v1/gonum (v\S+)`).FindSubmatch(mod)
	if m == nil {
		return fmt.Errorf("no gonum.org/v1/gonum requirement in %s", filepath.Join(root, "go.mod"))
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("clear snapshot: %w", err)
	}
	for _, pkg := range snapshotPackages {
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pkg), "*.go"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("no Go files in %s: %v", filepath.Join(root, pkg), err)
		}
		to := filepath.Join(dst, filepath.FromSlash(pkg))
		if err := os.MkdirAll(to, 0o755); err != nil {
			return fmt.Errorf("create snapshot: %w", err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", f, err)
			}
			if err := os.WriteFile(filepath.Join(to, filepath.Base(f)), raw, 0o644); err != nil {
				return fmt.Errorf("snapshot %s: %w", f, err)
			}
		}
	}
	gomod := fmt.Sprintf("module github.com/waihu/waihu\n\ngo 1.26\n\nrequire gonum.org/v1/gonum %s\n", m[1])
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), []byte(gomod), 0o644); err != nil {
		return fmt.Errorf("write snapshot go.mod: %w", err)
	}
	return nil
}

// DiagoStep returns a StepRunner that runs each step in a fresh diago peer
// process, so its CPU and memory are measured on their own, as waihu's are
// in this process.
func DiagoStep(bin string, duration, warmup time.Duration, portMin int, noDSP bool) StepRunner {
	return func(ctx context.Context, calls int) (measure.StepResult, error) {
		// Set-up, warm-up, window and tear-down, with room for a slow
		// machine; the peer bounds each phase itself.
		limit := 90*time.Second + duration + warmup + time.Duration(calls)*20*time.Millisecond
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin,
			"--calls", strconv.Itoa(calls),
			"--duration", duration.String(),
			"--warmup", warmup.String(),
			"--port-min", strconv.Itoa(portMin),
			"--no-dsp="+strconv.FormatBool(noDSP))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		runErr := cmd.Run()
		var res measure.StepResult
		if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
			tail := stderr.Bytes()
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return measure.StepResult{Peer: "diago", Calls: calls}, fmt.Errorf("diago peer with %d calls: %v; %w; stderr: %s", calls, runErr, err, tail)
		}
		if res.Err != "" {
			return res, fmt.Errorf("diago peer with %d calls: %s", calls, res.Err)
		}
		return res, nil
	}
}

// WaihuStep returns a StepRunner for waihu calls configured by base.
func WaihuStep(base ChannelsConfig) StepRunner {
	return func(ctx context.Context, calls int) (measure.StepResult, error) {
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
