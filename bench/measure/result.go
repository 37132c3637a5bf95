package measure

import (
	"fmt"
	"strings"
	"time"
)

// Limit is the quality a step must hold for its calls to count.
type Limit struct {
	// MaxLossPct is the highest packet loss in percent. Default 0.1.
	MaxLossPct float64
	// MaxP99Dev bounds the 99th percentile of the send-interval
	// deviation, measured both at the sender and from arrivals. Default 5 ms.
	MaxP99Dev time.Duration
	// MaxLateFrames is how many frames may arrive more than LateAfter
	// behind schedule. Default 0.
	MaxLateFrames uint64
}

// DefaultLimit is issue 11's quality limit: < 0.1% loss, p99 send-interval
// deviation < 5 ms, no frame later than 40 ms.
var DefaultLimit = Limit{MaxLossPct: 0.1, MaxP99Dev: 5 * time.Millisecond}

// Percentiles summarises a deviation histogram in milliseconds.
type Percentiles struct {
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	N     uint64  `json:"n"`
}

func percentiles(h *Hist) Percentiles {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Percentiles{P50Ms: ms(h.Quantile(0.5)), P99Ms: ms(h.Quantile(0.99)), MaxMs: ms(h.Max), N: h.N}
}

// StepResult is what one step of N calls measured.
type StepResult struct {
	// Peer is the stack under test: "waihu" or "diago".
	Peer string `json:"peer"`
	// Calls is how many calls the step asked for; Established how many
	// were up for the whole window. Each call is two legs in this process
	// (caller and answerer) unless a SIP target answers.
	Calls int `json:"calls"`
	// Run numbers the repeats of one call count, from 1.
	Run         int `json:"run,omitempty"`
	Established int `json:"established"`
	LegsLocal   int `json:"legs_local"`
	// SetupPerSec is established calls per second of dialling.
	SetupPerSec float64 `json:"setup_per_sec"`
	// WindowSec is the measured window after set-up and warm-up.
	WindowSec float64 `json:"window_sec"`
	// CPUPct is process CPU time over the window in percent of one core;
	// CPUPctPerCall divides it by the established calls.
	CPUPct        float64 `json:"cpu_pct"`
	CPUPctPerCall float64 `json:"cpu_pct_per_call"`
	// RSSBytes is the resident set at the end of the window; RSSPerCall is
	// its growth over the step's start divided by the calls.
	RSSBytes   int64 `json:"rss_bytes"`
	RSSPerCall int64 `json:"rss_per_call_bytes"`
	// PacketsSent, PacketsReceived and PacketsLost are RTP audio packets
	// of all local legs in the window, counted by the Meter the same way
	// for every stack; lost is expected minus received by sequence number.
	PacketsSent     int64   `json:"packets_sent"`
	PacketsReceived int64   `json:"packets_received"`
	PacketsLost     int64   `json:"packets_lost"`
	LossPct         float64 `json:"loss_pct"`
	// SendDev is |interval between a leg's sends − 20 ms| at the sender;
	// RecvDev the same from arrival times at the receiving leg.
	SendDev Percentiles `json:"send_dev"`
	RecvDev Percentiles `json:"recv_dev"`
	// LateFrames arrived more than 40 ms behind schedule; MaxBehindMs is
	// the worst.
	LateFrames  uint64  `json:"late_frames"`
	MaxBehindMs float64 `json:"max_behind_ms"`
	// Goroutines at the end of the window.
	Goroutines int `json:"goroutines"`
	// OK reports the step within the limit; Broken says which parts were not.
	OK     bool     `json:"ok"`
	Broken []string `json:"broken,omitempty"`
	// Err is set when the step could not run at all.
	Err string `json:"error,omitempty"`
}

// Fill derives the timing fields from t.
func (r *StepResult) Fill(t *Timing) {
	r.PacketsSent, r.PacketsReceived, r.PacketsLost = int64(t.Sent), int64(t.Received), t.Lost
	r.SendDev = percentiles(&t.SendDev)
	r.RecvDev = percentiles(&t.RecvDev)
	r.LateFrames = t.Late
	r.MaxBehindMs = float64(t.MaxBehind) / float64(time.Millisecond)
	if exp := r.PacketsReceived + r.PacketsLost; exp > 0 {
		r.LossPct = 100 * float64(r.PacketsLost) / float64(exp)
	}
}

// Judge sets OK and Broken from lim.
func (r *StepResult) Judge(lim Limit) {
	r.Broken = r.Broken[:0]
	p99 := float64(lim.MaxP99Dev) / float64(time.Millisecond)
	if r.Err != "" {
		r.Broken = append(r.Broken, "error")
	}
	if r.Established < r.Calls {
		r.Broken = append(r.Broken, fmt.Sprintf("only %d of %d calls up", r.Established, r.Calls))
	}
	if r.LossPct >= lim.MaxLossPct {
		r.Broken = append(r.Broken, fmt.Sprintf("loss %.3f%% ≥ %.3g%%", r.LossPct, lim.MaxLossPct))
	}
	if r.SendDev.P99Ms >= p99 {
		r.Broken = append(r.Broken, fmt.Sprintf("send p99 %.2f ms ≥ %.3g ms", r.SendDev.P99Ms, p99))
	}
	if r.RecvDev.P99Ms >= p99 {
		r.Broken = append(r.Broken, fmt.Sprintf("arrival p99 %.2f ms ≥ %.3g ms", r.RecvDev.P99Ms, p99))
	}
	if r.LateFrames > lim.MaxLateFrames {
		r.Broken = append(r.Broken, fmt.Sprintf("%d frames > 40 ms late", r.LateFrames))
	}
	if r.PacketsReceived == 0 {
		r.Broken = append(r.Broken, "no packets received")
	}
	r.OK = len(r.Broken) == 0
}

// Line is the one-line progress report of a step.
func (r *StepResult) Line() string {
	verdict := "OK"
	if !r.OK {
		verdict = "BROKEN: " + strings.Join(r.Broken, "; ")
	}
	peer := r.Peer
	if r.Run > 1 {
		peer = fmt.Sprintf("%s#%d", r.Peer, r.Run)
	}
	return fmt.Sprintf("%-7s calls=%-5d up=%-5d setup=%.0f/s cpu=%.0f%% (%.3f%%/call) rss/call=%.0fKiB sent=%d recv=%d lost=%d (%.3f%%) send p50/p99/max=%.2f/%.2f/%.1f ms arrival p50/p99/max=%.2f/%.2f/%.1f ms late=%d  %s",
		peer, r.Calls, r.Established, r.SetupPerSec, r.CPUPct, r.CPUPctPerCall, float64(r.RSSPerCall)/1024,
		r.PacketsSent, r.PacketsReceived, r.PacketsLost, r.LossPct,
		r.SendDev.P50Ms, r.SendDev.P99Ms, r.SendDev.MaxMs, r.RecvDev.P50Ms, r.RecvDev.P99Ms, r.RecvDev.MaxMs,
		r.LateFrames, verdict)
}
