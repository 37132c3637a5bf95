// Command diagopeer runs bench's channels step on diago
// (github.com/emiago/diago) instead of waihu: N calls between a diago caller
// and a diago answerer on loopback, full-duplex G.711 at 20 ms in diago's own
// idiom (a reader goroutine per leg, a writer goroutine per leg paced by the
// RTP writer's ticker), the same dsp chain on every received frame, and the
// same measure.Meter on every packet. It prints one measure.StepResult as JSON on
// stdout.
//
// It lives in its own module so that waihu's module never depends on diago;
// `waihu bench channels --diago` builds and runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/waihu/waihu/bench/measure"
	"github.com/waihu/waihu/dsp"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.calls, "calls", 10, "concurrent calls")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured window")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "time between the last call up and the window")
	flag.IntVar(&cfg.portMin, "port-min", 40000, "first RTP port")
	flag.BoolVar(&cfg.noDSP, "no-dsp", false, "skip the dsp chain")
	flag.IntVar(&cfg.dialConcurrency, "dial-concurrency", 50, "INVITEs in flight")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	res, err := run(ctx, cfg, log)
	if err != nil {
		res.Err = err.Error()
	}
	res.Judge(measure.DefaultLimit)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "diagopeer:", err)
		os.Exit(1)
	}
}

type config struct {
	calls           int
	duration        time.Duration
	warmup          time.Duration
	portMin         int
	dialConcurrency int
	noDSP           bool
}

// leg is one side of a call with its meter.
type leg struct {
	med   *diago.DialogMedia
	meter *measure.Meter
}

func run(ctx context.Context, cfg config, log *slog.Logger) (measure.StepResult, error) {
	res := measure.StepResult{Peer: "diago", Calls: cfg.calls, LegsLocal: 2 * cfg.calls}
	if err := measure.CheckFiles(4*2*cfg.calls + 256); err != nil {
		return res, err
	}
	// diago keeps its RTP port range in package variables.
	media.RTPPortStart = cfg.portMin
	media.RTPPortEnd = cfg.portMin + 4*cfg.calls + 400
	if media.RTPPortEnd > 65535 {
		return res, fmt.Errorf("%d calls need RTP ports %d..%d, past 65535", cfg.calls, media.RTPPortStart, media.RTPPortEnd)
	}
	runtime.GC()
	debug.FreeOSMemory()
	rssBase, _ := measure.RSS()

	// The SIP servers outlive the media: hanging up needs the answerer to
	// answer BYE after the writers stopped.
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var window atomic.Bool
	sig := encodeSignal(measure.Signal())
	var (
		mu      sync.Mutex
		legs    []*leg
		mediaWG sync.WaitGroup
	)
	startLeg := func(lctx context.Context, med *diago.DialogMedia, phase int) {
		l := &leg{med: med, meter: measure.NewMeter(&window)}
		mu.Lock()
		legs = append(legs, l)
		mu.Unlock()
		mediaWG.Add(2)
		go func() { defer mediaWG.Done(); readLoop(l, !cfg.noDSP) }()
		go func() { defer mediaWG.Done(); writeLoop(lctx, l, sig, phase) }()
	}

	ansPort, err := freeUDPPort()
	if err != nil {
		return res, err
	}
	ansUA, err := sipgo.NewUA(sipgo.WithUserAgent("diago-answerer"))
	if err != nil {
		return res, fmt.Errorf("answerer UA: %w", err)
	}
	defer ansUA.Close()
	ans := diago.NewDiago(ansUA, diago.WithLogger(log), diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: ansPort}))
	var nAns atomic.Int64
	err = ans.ServeBackground(serveCtx, func(in *diago.DialogServerSession) {
		med, err := in.Answer(diago.AnswerOptions{})
		if err != nil {
			return
		}
		startLeg(in.Context(), med, int(nAns.Add(1)))
		<-in.Context().Done()
	})
	if err != nil {
		return res, fmt.Errorf("start answerer: %w", err)
	}

	callUA, err := sipgo.NewUA(sipgo.WithUserAgent("diago-caller"))
	if err != nil {
		return res, fmt.Errorf("caller UA: %w", err)
	}
	defer callUA.Close()
	caller := diago.NewDiago(callUA, diago.WithLogger(log), diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: 0}))
	if err := caller.ServeBackground(serveCtx, func(in *diago.DialogServerSession) {}); err != nil {
		return res, fmt.Errorf("start caller: %w", err)
	}

	setupCtx, setupCancel := context.WithTimeout(ctx, 30*time.Second+time.Duration(cfg.calls)*10*time.Millisecond)
	defer setupCancel()
	var (
		dialogs []*diago.DialogClientSession
		dialErr error
		dialWG  sync.WaitGroup
	)
	gate := make(chan struct{}, cfg.dialConcurrency)
	recipient := sip.Uri{User: "bench", Host: "127.0.0.1", Port: ansPort}
	start := time.Now()
	for i := range cfg.calls {
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
			d, med, err := caller.Invite(setupCtx, recipient, diago.InviteOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErr = errors.Join(dialErr, fmt.Errorf("call %d: %w", i, err))
				return
			}
			dialogs = append(dialogs, d)
			go startLeg(ctx, med, i)
		}()
	}
	dialWG.Wait()
	setup := time.Since(start)
	res.Established = len(dialogs)
	res.SetupPerSec = float64(len(dialogs)) / setup.Seconds()
	defer func() {
		cancel()
		hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer hcancel()
		var wg sync.WaitGroup
		for _, d := range dialogs {
			wg.Add(1)
			gate <- struct{}{}
			go func() {
				defer wg.Done()
				d.Hangup(hctx)
				d.Close()
				<-gate
			}()
		}
		wg.Wait()
		waitTimeout(&mediaWG, 10*time.Second)
	}()
	if len(dialogs) == 0 {
		return res, fmt.Errorf("no call was set up: %w", dialErr)
	}

	select {
	case <-time.After(cfg.warmup):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	mu.Lock()
	legsNow := append([]*leg(nil), legs...)
	mu.Unlock()
	cpu0, err := measure.CPUTime()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	window.Store(true)
	select {
	case <-time.After(cfg.duration):
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
	res.CPUPctPerCall = res.CPUPct / float64(res.Established)
	var t measure.Timing
	for _, l := range legsNow {
		l.meter.AddTo(&t)
	}
	res.Goroutines = runtime.NumGoroutine()
	if rss, err := measure.RSS(); err == nil {
		res.RSSBytes = rss
		res.RSSPerCall = (rss - rssBase) / int64(res.Established)
	}
	res.Fill(&t)
	return res, nil
}

// readLoop reads the leg's RTP packets as diago applications do, decodes
// them and runs the dsp chain; it ends when the session closes.
func readLoop(l *leg, analyse bool) {
	chain, err := dsp.NewChain(dsp.ChainConfig{})
	if err != nil {
		return
	}
	r := l.med.RTPPacketReader
	buf := make([]byte, media.RTPBufSize)
	frame := make([]int16, 160)
	var out dsp.ChainResult
	for {
		n, err := r.Read(buf)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		h := r.PacketHeader
		l.meter.RTPReceived(time.Now(), h.SequenceNumber, h.Timestamp)
		if n > len(frame) {
			n = len(frame)
		}
		for i := range n {
			frame[i] = ulawToLinear[buf[i]]
		}
		clear(frame[n:])
		if analyse {
			chain.Process(frame, &out)
		}
	}
}

// writeLoop sends a frame every 20 ms: diago's RTPPacketWriter.Write sends
// and then waits for its own ticker, so the send time is when Write starts.
func writeLoop(ctx context.Context, l *leg, sig [][]byte, phase int) {
	w := l.med.RTPPacketWriter
	for i := phase; ctx.Err() == nil; i++ {
		at := time.Now()
		if _, err := w.Write(sig[i%len(sig)]); err != nil {
			return
		}
		l.meter.RTPSent(at, w.PacketHeader.Timestamp)
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free SIP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
