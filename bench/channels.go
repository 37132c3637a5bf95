package bench

import (
	"github.com/waihu/waihu/bench/measure"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/sip"
)

// ChannelsConfig configures one channels step. The zero value runs 10 calls
// for 10 s on loopback.
type ChannelsConfig struct {
	// Calls is how many concurrent calls to hold. Default 10.
	Calls int
	// Duration is the measured window, after every call is up and Warmup
	// has passed. Default 10 s.
	Duration time.Duration
	// Warmup lets jitter buffers and latching settle before measuring.
	// Default 2 s.
	Warmup time.Duration
	// SetupTimeout bounds dialling all calls. Default 30 s + 10 ms a call.
	SetupTimeout time.Duration
	// DialConcurrency caps INVITEs in flight. Default 50.
	DialConcurrency int
	// BindIP is where SIP and RTP listen. Default 127.0.0.1.
	BindIP netip.Addr
	// PortMin is the first RTP port; the caller's legs take 2 ports each
	// from there, the answerer's legs the range above. Default 20000.
	PortMin int
	// Target, when set, is a SIP "host:port" that answers the calls (sipp
	// with -rtp_echo, another node); no answerer runs in this process.
	Target string
	// NoDSP skips the dsp chain, to measure the media path alone.
	NoDSP bool
	// Frames is how each leg takes its received frames. Default
	// FramesOnFrame, which cost less CPU per call than FramesReadFrame in
	// most paired runs (bench/README.md).
	Frames FramePath
	// Limit is the quality limit. Default measure.DefaultLimit.
	Limit measure.Limit
	// Logger receives the SIP and RTP logs. Default: warnings and errors
	// discarded, as thousands of calls would flood a terminal.
	Logger *slog.Logger
}

func (c ChannelsConfig) withDefaults() ChannelsConfig {
	if c.Calls <= 0 {
		c.Calls = 10
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 2 * time.Second
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 30*time.Second + time.Duration(c.Calls)*10*time.Millisecond
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 50
	}
	if !c.BindIP.IsValid() {
		c.BindIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if c.PortMin <= 0 {
		c.PortMin = 20000
	}
	if c.Limit == (measure.Limit{}) {
		c.Limit = measure.DefaultLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Frames == "" {
		c.Frames = FramesOnFrame
	}
	return c
}

// FramePath is how a bench leg takes its received frames.
type FramePath string

const (
	// FramesReadFrame runs each leg's per-frame work on an application
	// goroutine that loops on Leg.ReadFrame: the leg's reader wakes it
	// for every frame.
	FramesReadFrame FramePath = "readframe"
	// FramesOnFrame runs it on the leg's reader goroutine through
	// Leg.OnFrame, as diago's peer runs it on the goroutine that read the
	// packet: no hand-off and no second wake-up per frame.
	FramesOnFrame FramePath = "onframe"
)

// ParseFramePath reads a --frames flag value.
func ParseFramePath(s string) (FramePath, error) {
	switch p := FramePath(s); p {
	case FramesReadFrame, FramesOnFrame:
		return p, nil
	}
	return "", fmt.Errorf("frame path %q: want %q or %q", s, FramesReadFrame, FramesOnFrame)
}

// portsPerEngine is the RTP range one side needs: 2 ports a leg plus slack,
// as a port held by another process is skipped.
func portsPerEngine(calls int) int { return 2*calls + 200 }

// RunChannels holds cfg.Calls waihu calls for the window and measures them.
// A step that cannot be set up returns an error; a step that runs but breaks
// the limit returns a result with OK false.
func RunChannels(ctx context.Context, cfg ChannelsConfig) (measure.StepResult, error) {
	cfg = cfg.withDefaults()
	res := measure.StepResult{Peer: "waihu", Calls: cfg.Calls}
	legs := cfg.Calls
	if cfg.Target == "" {
		legs *= 2
	}
	res.LegsLocal = legs
	if err := measure.CheckFiles(2*legs + 256); err != nil {
		return res, err
	}
	span := portsPerEngine(cfg.Calls)
	if cfg.PortMin+2*span > 65535 {
		return res, fmt.Errorf("%d calls need RTP ports %d..%d, past 65535: lower --port-min", cfg.Calls, cfg.PortMin, cfg.PortMin+2*span)
	}
	runtime.GC()
	debug.FreeOSMemory()
	rssBase, _ := measure.RSS()

	var window atomic.Bool
	sig := measure.Signal()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var media sync.WaitGroup
	var (
		mu     sync.Mutex
		meters []*measure.Meter
	)
	track := func(l *rtp.Leg) {
		m := measure.NewMeter(&window)
		l.Observe(m)
		mu.Lock()
		meters = append(meters, m)
		mu.Unlock()
	}

	callerEng, err := rtp.NewEngine(rtp.Config{BindIP: cfg.BindIP, ExternalIP: cfg.BindIP, PortMin: cfg.PortMin, PortMax: cfg.PortMin + span - 1, Logger: cfg.Logger})
	if err != nil {
		return res, fmt.Errorf("caller RTP engine: %w", err)
	}
	defer callerEng.Close()

	target := cfg.Target
	if target == "" {
		ansEng, err := rtp.NewEngine(rtp.Config{BindIP: cfg.BindIP, ExternalIP: cfg.BindIP, PortMin: cfg.PortMin + span, PortMax: cfg.PortMin + 2*span - 1, Logger: cfg.Logger})
		if err != nil {
			return res, fmt.Errorf("answerer RTP engine: %w", err)
		}
		defer ansEng.Close()
		ans, err := sip.NewUA(sip.Config{
			Listen:     []sip.Listener{{Network: "udp", Addr: netip.AddrPortFrom(cfg.BindIP, 0).String()}},
			MaxInbound: cfg.Calls + 16,
			Logger:     cfg.Logger,
		})
		if err != nil {
			return res, fmt.Errorf("answerer UA: %w", err)
		}
		var n atomic.Int64
		ans.OnCall(func(cctx context.Context, in *sip.Incoming) {
			leg, err := ansEng.NewLeg(in.CallID())
			if err != nil {
				in.Reject(503, "no RTP ports")
				return
			}
			defer leg.Close()
			if _, err := in.Answer(cctx, leg); err != nil {
				return
			}
			track(leg)
			runMedia(cctx, leg, sig, int(n.Add(1)), !cfg.NoDSP, cfg.Frames)
		})
		if err := ans.Start(ctx); err != nil {
			return res, fmt.Errorf("start answerer UA: %w", err)
		}
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer ccancel()
			ans.Close(cctx)
		}()
		target = ans.Addr("udp").String()
	}

	caller, err := sip.NewUA(sip.Config{
		Listen: []sip.Listener{{Network: "udp", Addr: netip.AddrPortFrom(cfg.BindIP, 0).String()}},
		Trunks: []sip.Trunk{{Name: "target", Address: target}},
		Logger: cfg.Logger,
	})
	if err != nil {
		return res, fmt.Errorf("caller UA: %w", err)
	}
	if err := caller.Start(ctx); err != nil {
		return res, fmt.Errorf("start caller UA: %w", err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		caller.Close(cctx)
	}()

	// Dial every call with a bounded number of INVITEs in flight.
	setupCtx, setupCancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer setupCancel()
	var (
		calls   []*sip.Call
		dialErr error
		dialWG  sync.WaitGroup
	)
	gate := make(chan struct{}, cfg.DialConcurrency)
	start := time.Now()
	for i := range cfg.Calls {
		select {
		case gate <- struct{}{}:
		case <-setupCtx.Done():
		}
		if setupCtx.Err() != nil {
			break
		}
		dialWG.Add(1)
		go func() {
			defer dialWG.Done()
			defer func() { <-gate }()
			leg, err := callerEng.NewLeg(fmt.Sprintf("bench-%d", i))
			if err != nil {
				mu.Lock()
				dialErr = errors.Join(dialErr, err)
				mu.Unlock()
				return
			}
			call, err := caller.Dial(setupCtx, sip.DialRequest{Trunk: "target", To: "bench", Media: leg})
			if err != nil {
				leg.Close()
				mu.Lock()
				dialErr = errors.Join(dialErr, fmt.Errorf("call %d: %w", i, err))
				mu.Unlock()
				return
			}
			track(leg)
			mu.Lock()
			calls = append(calls, call)
			mu.Unlock()
			media.Add(1)
			go func() {
				defer media.Done()
				defer leg.Close()
				runMedia(ctx, leg, sig, i, !cfg.NoDSP, cfg.Frames)
			}()
		}()
	}
	dialWG.Wait()
	setup := time.Since(start)
	res.Established = len(calls)
	if setup > 0 {
		res.SetupPerSec = float64(len(calls)) / setup.Seconds()
	}
	defer func() {
		cancel()
		hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer hcancel()
		var wg sync.WaitGroup
		hang := make(chan struct{}, cfg.DialConcurrency)
		for _, c := range calls {
			wg.Add(1)
			hang <- struct{}{}
			go func() {
				defer wg.Done()
				c.Hangup(hctx)
				<-hang
			}()
		}
		wg.Wait()
		media.Wait()
	}()
	if dialErr != nil && len(calls) == 0 {
		return res, fmt.Errorf("no call was set up: %w", dialErr)
	}
	if dialErr != nil {
		cfg.Logger.Warn("some calls failed", "failed", cfg.Calls-len(calls), "err", dialErr)
	}

	select {
	case <-time.After(cfg.Warmup):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	// Open the window: snapshot counters, CPU and wall clock together.
	mu.Lock()
	metersNow := append([]*measure.Meter(nil), meters...)
	mu.Unlock()
	cpu0, err := measure.CPUTime()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	window.Store(true)
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	window.Store(false)
	wall := time.Since(t0)
	cpu1, err := measure.CPUTime()
	if err != nil {
		return res, err
	}
	res.WindowSec = wall.Seconds()
	res.CPUPct = 100 * float64(cpu1-cpu0) / float64(wall)
	if res.Established > 0 {
		res.CPUPctPerCall = res.CPUPct / float64(res.Established)
	}
	res.Goroutines = runtime.NumGoroutine()
	if rss, err := measure.RSS(); err == nil {
		res.RSSBytes = rss
		if res.Established > 0 {
			res.RSSPerCall = (rss - rssBase) / int64(res.Established)
		}
	}
	var t measure.Timing
	for _, m := range metersNow {
		m.AddTo(&t)
	}
	res.Fill(&t)
	res.Judge(cfg.Limit)
	return res, nil
}

// runMedia is one leg's application: each playout frame goes through the
// dsp chain and is answered with the next frame of speech-like signal, so
// both directions carry audio all call long. A frame is ready when its
// packet arrives (or the playout clock conceals a missing one), so the
// work runs at the frame rate without a timer, and the legs' dsp work is
// spread over the frame as their packets are. With FramesReadFrame the work
// runs in a ReadFrame loop here; with FramesOnFrame on the leg's reader
// goroutine, and this goroutine only waits for the call to end.
func runMedia(ctx context.Context, leg *rtp.Leg, sig []int16, phase int, analyse bool, path FramePath) {
	chain, err := dsp.NewChain(dsp.ChainConfig{})
	if err != nil {
		return
	}
	var out dsp.ChainResult
	frames := len(sig) / rtp.FrameSamples
	i := phase % frames
	work := func(frame []int16) error {
		if analyse {
			chain.Process(frame, &out)
		}
		// The write queue holds ten frames and drains one a tick as
		// frames arrive one a tick, so this does not block the reader.
		if err := leg.WriteFrame(ctx, sig[i*rtp.FrameSamples:(i+1)*rtp.FrameSamples]); err != nil {
			return err
		}
		i = (i + 1) % frames
		return nil
	}
	if path == FramesOnFrame {
		if err := leg.OnFrame(func(frame []int16, _ time.Time) { work(frame) }); err != nil {
			return
		}
		<-ctx.Done()
		return
	}
	frame := make([]int16, rtp.FrameSamples)
	for {
		if err := leg.ReadFrame(ctx, frame); err != nil {
			return
		}
		if err := work(frame); err != nil {
			return
		}
	}
}
