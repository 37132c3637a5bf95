package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/bench"
)

func init() { register(benchCommand) }

func benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure concurrent channels and pipeline latency",
	}
	cmd.AddCommand(benchChannelsCommand())
	return cmd
}

func benchChannelsCommand() *cobra.Command {
	var (
		calls           int
		rampFlag        string
		duration        time.Duration
		warmup          time.Duration
		out             string
		target          string
		portMin         int
		diago           bool
		diagoSrc        string
		diagoBin        string
		dialConcurrency int
		verbose         bool
		cpuProfile      string
	)
	cmd := &cobra.Command{
		Use:   "channels [--calls N | --ramp FROM:TO:STEP] --duration D --out DIR",
		Short: "Hold N full-duplex calls with the dsp chain and measure loss, jitter, CPU and memory",
		Long: `channels places N concurrent G.711 calls between a waihu caller and a waihu
answerer on loopback (or a SIP target given with --target), runs the dsp chain
(VAD, energy, pitch, MFCC) on every received frame, and measures per step:
process CPU, RSS per call, packets sent/received/lost, send-interval deviation
at the sender and from arrivals (p50/p99/max), frames more than 40 ms late,
and the call set-up rate.

With --ramp it repeats steps with more calls until one breaks the quality
limit (< 0.1% loss, p99 deviation < 5 ms, no frame later than 40 ms). With
--diago the same ramp also runs on a diago peer (bench/diagopeer, built with go
build in its own module, one process per step), each call count on waihu then
on diago, so load from other processes falls on both alike; the report gives
the calls each held and the ratio.

It writes DIR/channels.json and DIR/channels.png and prints a line per step.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("bench channels: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("bench channels: cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			ramp := bench.Ramp{From: calls, To: calls, Step: 1}
			if rampFlag != "" {
				if cmd.Flags().Changed("calls") {
					return fmt.Errorf("bench channels: give --calls or --ramp, not both")
				}
				r, err := bench.ParseRamp(rampFlag)
				if err != nil {
					return fmt.Errorf("bench channels: %w", err)
				}
				ramp = r
			}
			if calls <= 0 && rampFlag == "" {
				return fmt.Errorf("bench channels: --calls must be positive")
			}
			if out == "" {
				return fmt.Errorf("bench channels: --out DIR is required")
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			if verbose {
				logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			rep := bench.Report{Started: time.Now().UTC(), Machine: bench.ThisMachine(), Limit: bench.DefaultLimit, Duration: duration.Seconds()}
			progress := func(r bench.StepResult) {
				fmt.Fprintln(cmd.OutOrStdout(), r.Line())
				if r.Err != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "  error:", r.Err)
				}
			}
			var diagoRun bench.StepRunner // nil without --diago
			if diago {
				bin := diagoBin
				if bin == "" {
					src := diagoSrc
					if src == "" {
						var err error
						if src, err = bench.DiagoSource(); err != nil {
							return fmt.Errorf("bench channels: %w", err)
						}
					}
					if err := os.MkdirAll(out, 0o755); err != nil {
						return fmt.Errorf("bench channels: %w", err)
					}
					var err error
					if bin, err = bench.BuildDiagoPeer(ctx, src, out); err != nil {
						return fmt.Errorf("bench channels: %w", err)
					}
				}
				diagoRun = bench.DiagoStep(bin, duration, warmup, portMin)
			}
			waihuRun := bench.WaihuStep(bench.ChannelsConfig{
				Duration: duration, Warmup: warmup, PortMin: portMin, Target: target,
				DialConcurrency: dialConcurrency, Logger: logger,
			})
			peers := []bench.Peer{{Name: "waihu", Run: waihuRun}}
			if diagoRun != nil {
				peers = append(peers, bench.Peer{Name: "diago", Run: diagoRun})
			}
			rep.Steps = bench.RunRamp(ctx, ramp, rep.Limit, peers, progress)
			rep.Summarise()
			if err := rep.Write(out); err != nil {
				return fmt.Errorf("bench channels: %w", err)
			}
			for _, peer := range []string{"waihu", "diago"} {
				if held, ok := rep.Held[peer]; ok {
					fmt.Fprintf(cmd.OutOrStdout(), "%s held %d calls within the limit (%.3f%% CPU per call)\n", peer, held, rep.CPUPerCall[peer])
				}
			}
			if rep.Ratio > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "ratio waihu/diago: %.2f\n", rep.Ratio)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", filepath.Join(out, "channels.json"), filepath.Join(out, "channels.png"))
			return ctx.Err()
		},
	}
	f := cmd.Flags()
	f.IntVar(&calls, "calls", 100, "concurrent calls of a single step")
	f.StringVar(&rampFlag, "ramp", "", "FROM:TO:STEP calls, stopping at the first step that breaks the limit")
	f.DurationVar(&duration, "duration", 10*time.Second, "measured window of each step")
	f.DurationVar(&warmup, "warmup", 2*time.Second, "settling time between the last call up and the window")
	f.StringVar(&out, "out", "", "directory for channels.json and channels.png")
	f.StringVar(&target, "target", "", "SIP host:port that answers the calls instead of an in-process waihu answerer (e.g. sipp -rtp_echo)")
	f.IntVar(&portMin, "port-min", 20000, "first RTP port; a step of N calls uses about 4N+400 ports above it")
	f.BoolVar(&diago, "diago", false, "run the same ramp on the diago peer too")
	f.StringVar(&diagoSrc, "diago-src", "", "directory of the diago peer module (default: bench/diagopeer above the working directory)")
	f.StringVar(&diagoBin, "diago-bin", "", "a prebuilt diago peer binary instead of building it")
	f.IntVar(&dialConcurrency, "dial-concurrency", 50, "INVITEs in flight while setting up a step")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of waihu's steps to this file")
	f.BoolVar(&verbose, "verbose", false, "log SIP and RTP warnings to stderr")
	return cmd
}
