package bench

import (
	"github.com/waihu/waihu/bench/measure"

	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Ramp is a sequence of call counts: From, From+Step, … up to To.
type Ramp struct{ From, To, Step int }

// ParseRamp reads "FROM:TO:STEP".
func ParseRamp(s string) (Ramp, error) {
	var r Ramp
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &r.From, &r.To, &r.Step); err != nil {
		return r, fmt.Errorf("ramp %q: want FROM:TO:STEP: %w", s, err)
	}
	if r.From <= 0 || r.To < r.From || r.Step <= 0 {
		return r, fmt.Errorf("ramp %q: want 0 < FROM ≤ TO and STEP > 0", s)
	}
	return r, nil
}

// Steps lists the call counts of the ramp.
func (r Ramp) Steps() []int {
	var out []int
	for n := r.From; n <= r.To; n += r.Step {
		out = append(out, n)
	}
	return out
}

// Machine describes where a report was measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
}

// ThisMachine describes the running machine.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		var model string
		for _, line := range strings.Split(string(raw), "\n") {
			if len(line) > 10 && line[:10] == "model name" {
				if i := strings.IndexByte(line, ':'); i >= 0 {
					model = strings.TrimSpace(line[i+1:])
				}
				break
			}
		}
		m.CPUModel = model
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	return m
}

// Report is the outcome of a channels run: every step of every peer, and
// the largest call count each held within the limit.
type Report struct {
	Started  time.Time     `json:"started"`
	Machine  Machine       `json:"machine"`
	Limit    measure.Limit `json:"limit"`
	Duration float64       `json:"duration_sec"`
	// DSP reports whether every received frame went through the dsp chain.
	DSP bool `json:"dsp"`
	// Frames is how waihu's legs took their frames.
	Frames FramePath            `json:"frames,omitempty"`
	Steps  []measure.StepResult `json:"steps"`
	// Held is, per peer, the largest step within the limit (0 if none).
	Held map[string]int `json:"held"`
	// CPUPerCall is, per peer, the CPU % per call at its held step.
	CPUPerCall map[string]float64 `json:"cpu_pct_per_call_at_held"`
	// Ratio is waihu's held calls over diago's, when both ran.
	Ratio float64 `json:"ratio_waihu_over_diago,omitempty"`
}

// Summarise fills Held, CPUPerCall and Ratio from the steps: a peer held a
// call count when more than half of its runs at that count were within the
// limit; CPUPerCall is the mean over those runs.
func (r *Report) Summarise() {
	type key struct {
		peer  string
		calls int
	}
	type tally struct {
		runs, ok int
		cpu      float64
	}
	counts := map[key]*tally{}
	var order []key
	for _, s := range r.Steps {
		k := key{s.Peer, s.Calls}
		t := counts[k]
		if t == nil {
			t = &tally{}
			counts[k] = t
			order = append(order, k)
		}
		t.runs++
		if s.OK {
			t.ok++
			t.cpu += s.CPUPctPerCall
		}
	}
	r.Held = map[string]int{}
	r.CPUPerCall = map[string]float64{}
	for _, k := range order {
		t := counts[k]
		if _, ok := r.Held[k.peer]; !ok {
			r.Held[k.peer] = 0
		}
		if 2*t.ok > t.runs && k.calls > r.Held[k.peer] {
			r.Held[k.peer] = k.calls
			r.CPUPerCall[k.peer] = t.cpu / float64(t.ok)
		}
	}
	if d := r.Held["diago"]; d > 0 {
		r.Ratio = float64(r.Held["waihu"]) / float64(d)
	}
}

// Write saves the report as DIR/channels.json and DIR/channels.png.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "channels.json"), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return PlotChannels(r, filepath.Join(dir, "channels.png"))
}

// StepRunner runs one step of a peer.
type StepRunner func(ctx context.Context, calls int) (measure.StepResult, error)

// Peer is a stack under test and how to run one of its steps.
type Peer struct {
	Name string
	Run  StepRunner
}

// RunRamp runs the steps of ramp for every peer, interleaved — each call
// count runs on every peer before the next count, and each of its repeats
// on every peer before the next repeat — so that load from other processes
// on a shared machine falls on all peers alike. Every run is kept. A peer
// stops after a call count that most of its runs broke (that count is kept,
// so the edge shows); the ramp ends when every peer stopped or ctx ends.
// progress, when set, gets each run's result as it finishes.
func RunRamp(ctx context.Context, ramp Ramp, repeats int, lim measure.Limit, peers []Peer, progress func(measure.StepResult)) []measure.StepResult {
	repeats = max(repeats, 1)
	var out []measure.StepResult
	stopped := make([]bool, len(peers))
	for _, n := range ramp.Steps() {
		running := false
		broken := make([]int, len(peers))
		for r := range repeats {
			for i, p := range peers {
				if stopped[i] || ctx.Err() != nil {
					continue
				}
				running = true
				res, err := p.Run(ctx, n)
				res.Peer, res.Calls, res.Run = p.Name, n, r+1
				if err != nil {
					res.Err = err.Error()
				}
				res.Judge(lim)
				out = append(out, res)
				if progress != nil {
					progress(res)
				}
				if !res.OK {
					broken[i]++
				}
				// Let the sockets of the last run close and the machine settle.
				select {
				case <-time.After(2 * time.Second):
				case <-ctx.Done():
				}
			}
		}
		for i := range peers {
			if 2*broken[i] >= repeats && broken[i] > 0 {
				stopped[i] = true
			}
		}
		if !running {
			break
		}
	}
	return out
}
