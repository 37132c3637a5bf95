package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/bench"
	"github.com/waihu/waihu/bench/measure"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/tts"
)

func init() { register(benchCommand) }

func benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure concurrent channels and pipeline latency",
	}
	cmd.AddCommand(benchChannelsCommand(), benchPipelineCommand())
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
		noDSP           bool
		repeats         int
		framesFlag      string
		compareFrames   bool
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
the calls each held and the ratio. --frames picks how waihu's legs take their
frames (readframe: an application goroutine per leg on ReadFrame; onframe: the
leg's reader goroutine runs the work, as diago's reader does); --compare-frames
runs the other path too, interleaved, as the peer waihu/PATH.

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
			frames, err := bench.ParseFramePath(framesFlag)
			if err != nil {
				return fmt.Errorf("bench channels: --frames: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			if verbose {
				logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			rep := bench.Report{Started: time.Now().UTC(), Machine: bench.ThisMachine(), Limit: measure.DefaultLimit, Duration: duration.Seconds(), DSP: !noDSP, Frames: frames}
			progress := func(r measure.StepResult) {
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
				diagoRun = bench.DiagoStep(bin, duration, warmup, portMin, noDSP)
			}
			waihuCfg := bench.ChannelsConfig{
				Duration: duration, Warmup: warmup, PortMin: portMin, Target: target,
				DialConcurrency: dialConcurrency, Logger: logger, NoDSP: noDSP, Frames: frames,
			}
			peers := []bench.Peer{{Name: "waihu", Run: bench.WaihuStep(waihuCfg)}}
			if compareFrames {
				// The other frame path as a peer of its own, interleaved
				// with the first, so the two are measured in pairs.
				other := bench.FramesOnFrame
				if frames == bench.FramesOnFrame {
					other = bench.FramesReadFrame
				}
				waihuCfg.Frames = other
				peers = append(peers, bench.Peer{Name: "waihu/" + string(other), Run: bench.WaihuStep(waihuCfg)})
			}
			if diagoRun != nil {
				peers = append(peers, bench.Peer{Name: "diago", Run: diagoRun})
			}
			rep.Steps = bench.RunRamp(ctx, ramp, repeats, rep.Limit, peers, progress)
			rep.Summarise()
			if err := rep.Write(out); err != nil {
				return fmt.Errorf("bench channels: %w", err)
			}
			for _, p := range peers {
				peer := p.Name
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
	f.IntVar(&repeats, "repeat", 1, "runs of each call count per peer; a count is held when most of its runs are within the limit")
	f.BoolVar(&noDSP, "no-dsp", false, "skip the dsp chain on both stacks, to measure the media path alone")
	f.BoolVar(&compareFrames, "compare-frames", false, "also run waihu on the other frame path, as a peer named waihu/PATH interleaved with the others")
	f.StringVar(&framesFlag, "frames", string(bench.FramesOnFrame), "how waihu's legs take frames: readframe (an application goroutine per leg loops on ReadFrame) or onframe (the per-frame work runs on the leg's reader goroutine, as diago's peer does)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of waihu's steps to this file")
	f.BoolVar(&verbose, "verbose", false, "log SIP and RTP warnings to stderr")
	return cmd
}

func benchPipelineCommand() *cobra.Command {
	var (
		calls   int
		say     string
		voice   string
		timeout time.Duration
		out     string
	)
	cmd := &cobra.Command{
		Use:   "pipeline [--calls M] [--say TEXT] --out DIR",
		Short: "Measure the bot's voice-to-voice latency over M concurrent calls",
		Long: `pipeline starts the demo bot in this process (as serve runs it: sphinx, the
NLU, flite, the dialog engine) and places M concurrent calls to it. Each caller
waits for the bot's question to end, says TEXT (synthesised once with espeak-ng)
and timestamps, on the wire, the last packet of its speech and the first
voiced packet of the bot's answer: the difference is the voice-to-voice
latency. The bot's call records break it into stages: VAD end-pointing, ASR
final, NLU, first synthesised frame, first write to the leg, and the rest
(pacing, network, until the caller saw it).

It writes DIR/pipeline.json and prints percentiles of each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if calls <= 0 {
				return fmt.Errorf("bench pipeline: --calls must be positive")
			}
			if out == "" {
				return fmt.Errorf("bench pipeline: --out DIR is required")
			}
			rep, err := runPipeline(cmd.Context(), calls, say, voice, timeout, out)
			if err != nil {
				return fmt.Errorf("bench pipeline: %w", err)
			}
			for _, s := range rep.Stages {
				fmt.Fprintf(cmd.OutOrStdout(), "%-16s n=%-4d p50=%7.0f ms  p90=%7.0f ms  p99=%7.0f ms  max=%7.0f ms\n", s.Name, s.N, s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d calls answered; wrote %s\n", rep.Answered, rep.Calls, filepath.Join(out, "pipeline.json"))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&calls, "calls", 4, "concurrent calls to the bot")
	f.StringVar(&say, "say", "yes please", "what each caller answers")
	f.StringVar(&voice, "voice", "en-us", "espeak-ng voice of the callers")
	f.DurationVar(&timeout, "timeout", 90*time.Second, "bound on the whole run")
	f.StringVar(&out, "out", "", "directory for pipeline.json")
	return cmd
}

// pipelineStage is the distribution of one stage's latency.
type pipelineStage struct {
	Name  string  `json:"name"`
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// pipelineReport is what bench pipeline writes.
type pipelineReport struct {
	Started  time.Time       `json:"started"`
	Machine  bench.Machine   `json:"machine"`
	Calls    int             `json:"calls"`
	Answered int             `json:"answered"`
	Say      string          `json:"say"`
	Stages   []pipelineStage `json:"stages"`
	Errors   []string        `json:"errors,omitempty"`
}

// pipelineSample is one call's timeline.
type pipelineSample struct {
	spoke, answer time.Time // on the caller's wire
	turn          *dialog.Turn
}

func runPipeline(ctx context.Context, calls int, say, voice string, timeout time.Duration, out string) (pipelineReport, error) {
	rep := pipelineReport{Started: time.Now().UTC(), Machine: bench.ThisMachine(), Calls: calls, Say: say}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reg := speech.NewRegistry()
	tts.Register(reg)
	syn, err := reg.Synthesizer("espeak", speech.Options{"voice": voice})
	if err != nil {
		return rep, fmt.Errorf("caller's voice: %w", err)
	}
	words, err := synthesize(ctx, syn, say, voice)
	if err != nil {
		return rep, err
	}
	data, err := os.MkdirTemp("", "waihu-bench-pipeline-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(data)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := defaultConfig()
	cfg.Data = data
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.Transports = []string{"udp"}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.RTP.PortMin, cfg.RTP.PortMax = 36000, 36000+4*calls+200
	if err := cfg.validate(); err != nil {
		return rep, err
	}
	srv, err := newServer(cfg, quiet)
	if err != nil {
		return rep, err
	}
	defer srv.close()
	if srv.bot == nil {
		return rep, fmt.Errorf("the demo bot did not start: are pocketsphinx-en-us and flite installed?")
	}
	if err := srv.start(ctx); err != nil {
		return rep, err
	}
	ua, err := sip.NewUA(sip.Config{
		Listen: []sip.Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		Logger: quiet,
		Trunks: []sip.Trunk{{Name: "bot", Address: srv.ua.Addr("udp").String(), Username: "bench"}},
	})
	if err != nil {
		return rep, err
	}
	if err := ua.Start(ctx); err != nil {
		return rep, err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		ua.Close(cctx)
	}()

	samples := make([]pipelineSample, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples[i], errs[i] = pipelineCall(ctx, ua, filepath.Join(data, "calls"), words)
		}()
	}
	wg.Wait()
	var v2v, vad, asrFinal, nluS, synth, write, wire []time.Duration
	for i, s := range samples {
		if errs[i] != nil {
			rep.Errors = append(rep.Errors, errs[i].Error())
			continue
		}
		rep.Answered++
		v2v = append(v2v, s.answer.Sub(s.spoke))
		if t := s.turn; t != nil && !t.FirstWrite.IsZero() {
			vad = append(vad, t.VADEnd.Sub(s.spoke))
			asrFinal = append(asrFinal, t.Final.Sub(t.VADEnd))
			nluS = append(nluS, t.Understood.Sub(t.Final))
			synth = append(synth, t.FirstSynth.Sub(t.Understood))
			write = append(write, t.FirstWrite.Sub(t.FirstSynth))
			wire = append(wire, s.answer.Sub(t.FirstWrite))
		}
	}
	rep.Stages = []pipelineStage{
		stageOf("voice-to-voice", v2v),
		stageOf("vad end-point", vad),
		stageOf("asr final", asrFinal),
		stageOf("nlu", nluS),
		stageOf("tts first frame", synth),
		stageOf("write to leg", write),
		// From the first frame written, silent or not, to the first
		// voiced packet: the synthesiser's leading silence, the leg's
		// queue and pacing, and the network.
		stageOf("leg to voice", wire),
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return rep, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return rep, err
	}
	if err := os.WriteFile(filepath.Join(out, "pipeline.json"), append(raw, '\n'), 0o644); err != nil {
		return rep, err
	}
	if rep.Answered == 0 {
		return rep, fmt.Errorf("no call was answered: %v", rep.Errors)
	}
	return rep, nil
}

// pipelineCall talks to the bot once and reads its call record.
func pipelineCall(ctx context.Context, ua *sip.UA, records string, words []int16) (pipelineSample, error) {
	var s pipelineSample
	probe, err := bench.NewProbe(netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	if err != nil {
		return s, err
	}
	defer probe.Close()
	call, err := ua.Dial(ctx, sip.DialRequest{Trunk: "bot", To: "bot", Media: probe})
	if err != nil {
		return s, fmt.Errorf("dial the bot: %w", err)
	}
	defer call.Hangup(context.Background())
	if err := probe.WaitTalkEnd(ctx); err != nil {
		return s, err
	}
	if s.spoke, err = probe.Say(ctx, words); err != nil {
		return s, err
	}
	if s.answer, err = probe.WaitAnswer(ctx); err != nil {
		return s, err
	}
	// The record is written when the bot's script ends the call.
	select {
	case <-call.Done():
	case <-ctx.Done():
		return s, nil
	}
	path := filepath.Join(records, call.ID()+".json")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		raw, err := os.ReadFile(path)
		var rec dialog.Record
		if err == nil && json.Unmarshal(raw, &rec) == nil {
			if len(rec.Turns) > 0 {
				s.turn = &rec.Turns[0]
			}
			break
		}
	}
	return s, nil
}

// synthesize renders text into 8 kHz samples ending at the last voiced one.
func synthesize(ctx context.Context, syn speech.Synthesizer, text, voice string) ([]int16, error) {
	stream, err := syn.Synthesize(ctx, text, speech.SynthOptions{Voice: voice, Language: "en-US", CallID: "bench"})
	if err != nil {
		return nil, fmt.Errorf("synthesise the caller's words: %w", err)
	}
	defer stream.Close()
	var pcm []int16
	frame := make([]int16, speech.FrameSamples)
	for {
		err := stream.Read(frame)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("synthesise the caller's words: %w", err)
		}
		pcm = append(pcm, frame...)
	}
	// The end of speech is the last voiced sample, not the synthesiser's
	// trailing silence, which the bot's VAD would rightly not wait for.
	end := len(pcm)
	for end > 0 && max(pcm[end-1], -pcm[end-1]) < 1000 {
		end--
	}
	return pcm[:end], nil
}

func stageOf(name string, d []time.Duration) pipelineStage {
	s := pipelineStage{Name: name, N: len(d)}
	if len(d) == 0 {
		return s
	}
	slices.Sort(d)
	q := func(p float64) float64 {
		return float64(d[int(p*float64(len(d)-1)+0.5)]) / float64(time.Millisecond)
	}
	s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs = q(0.5), q(0.9), q(0.99), q(1)
	return s
}
