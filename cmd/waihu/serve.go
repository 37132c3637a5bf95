package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/rtp"
	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/sip"
)

//go:embed assets/greeting.wav
var greetingWAV []byte

func init() { register(serveCommand) }

// flagOverrides are the flags that win over the config file.
type flagOverrides struct {
	config, listen, data, rtpPorts, logFormat, logLevel, prompt string
	http, dsn                                                   string
}

func serveCommand() *cobra.Command {
	var f flagOverrides
	var ph phoneFlags // --ws, --tls-cert: browser softphones, see phone.go
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SIP/RTP server: register trunks, answer calls",
		Long: `Run waihu's SIP user agent and media engine. With no config file it listens on
0.0.0.0:5060 (UDP and TCP), answers every call with a greeting and records the
caller to DATA/recordings/CALL-ID.wav.

The control plane listens on --http (default 127.0.0.1:8080): the dashboard at /,
the softphone at /phone/ (with --ws), the REST API under /api/v1, live events at
/ws/events, /metrics and /openapi.json. Campaigns set running are dialled from here.
The first start creates an admin user and writes its API token to
DATA/admin-token (mode 0600); see docs/configuration.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, ph)
		},
	}
	f.bind(cmd)
	ph.bind(cmd)
	cmd.Flags().StringVar(&f.listen, "listen", "", "SIP address host:port (default 0.0.0.0:5060)")
	cmd.Flags().StringVar(&f.prompt, "prompt", "", "WAV file played to every inbound caller (default: embedded greeting)")
	cmd.Flags().StringVar(&f.http, "http", "", `control plane address host:port: dashboard, API, events, metrics, softphone page (default 127.0.0.1:8080; "off" for none)`)
	cmd.Flags().StringVar(&f.dsn, "dsn", "", "PostgreSQL DSN of a store shared by several nodes (default: SQLite in the data directory)")
	return cmd
}

func (f *flagOverrides) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.config, "config", "", "YAML config file (see docs/configuration.md)")
	cmd.Flags().StringVar(&f.data, "data", "", "directory for recordings and state (default ./waihu-data)")
	cmd.Flags().StringVar(&f.rtpPorts, "rtp-ports", "", "RTP port range MIN-MAX (default 10000-20000)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "", "log format: text or json")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error")
}

// load reads the config file and applies the flags over it.
func (f *flagOverrides) load() (Config, error) {
	cfg, err := loadConfig(f.config)
	if err != nil {
		return cfg, err
	}
	if f.listen != "" {
		cfg.SIP.Listen = f.listen
	}
	if f.data != "" {
		cfg.Data = f.data
	}
	if f.prompt != "" {
		cfg.Inbound.Prompt = f.prompt
	}
	if f.http != "" {
		cfg.HTTP.Listen = f.http
	}
	if f.dsn != "" {
		cfg.Store.DSN = f.dsn
	}
	if f.logFormat != "" {
		cfg.Log.Format = f.logFormat
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	if f.rtpPorts != "" {
		lo, hi, ok := strings.Cut(f.rtpPorts, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil {
			return cfg, fmt.Errorf("--rtp-ports %q: want MIN-MAX", f.rtpPorts)
		}
		cfg.RTP.PortMin, cfg.RTP.PortMax = a, b
	}
	return cfg, cfg.validate()
}

// loadPrompt reads the configured prompt, or the embedded greeting.
func loadPrompt(path string) ([]int16, error) {
	if path == "" {
		pcm, _, err := audiofile.Read(bytes.NewReader(greetingWAV))
		return pcm, err
	}
	pcm, _, err := audiofile.ReadFile(path)
	return pcm, err
}

func serve(ctx context.Context, cfg Config, ph phoneFlags) error {
	log := newLogger(os.Stderr, cfg.Log)
	n, err := startNode(ctx, cfg, ph, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return n.close()
}

// node is a whole `waihu serve`: SIP and media (server) and, unless
// http.listen is off, the control plane.
type node struct {
	srv     *server
	control *controlPlane // nil when http.listen is off
}

// startNode starts SIP, media and the control plane; tests start several
// in one process.
func startNode(ctx context.Context, cfg Config, ph phoneFlags, log *slog.Logger) (*node, error) {
	srv, err := newServer(cfg, log)
	if err != nil {
		return nil, err
	}
	n := &node{srv: srv}
	if err := ph.attach(srv); err != nil { // the softphone's SIP WebSocket, phone.go
		srv.engine.Close()
		return nil, err
	}
	if cfg.HTTP.Listen != httpOff {
		if n.control, err = newControlPlane(ctx, srv, &ph); err != nil {
			srv.engine.Close()
			return nil, err
		}
	}
	// --- SIP edge hook (edge.go): sip.tls beside --tls-cert, edge metrics ---
	if err := attachSIPEdge(srv, n.control, &ph); err != nil {
		srv.engine.Close()
		n.control.close()
		return nil, err
	}
	// --- end SIP edge hook ---
	if err := srv.start(ctx); err != nil {
		srv.engine.Close()
		n.control.close()
		return nil, err
	}
	if n.control != nil {
		if err := n.control.listen(ctx, &ph); err != nil {
			n.control.mgr.close()
			srv.close()
			n.control.close()
			return nil, err
		}
	} else if ph.ws != "" {
		log.Warn("--ws without the control plane: the softphone page is served on --http only")
	}
	return n, nil
}

// close stops the campaigns, hangs up every call, then stops HTTP and the
// store.
func (n *node) close() error {
	if n.control != nil {
		n.control.mgr.close()
	}
	err := n.srv.close()
	if cerr := n.control.close(); err == nil {
		err = cerr
	}
	return err
}

// server is `waihu serve` as a value, so tests can run several in one process.
type server struct {
	cfg    Config
	log    *slog.Logger
	prompt []int16
	recDir string          // empty: no recordings
	vault  *recordingVault // nil: recordings stay plain WAV (no key configured)
	engine *rtp.Engine
	ua     *sip.UA
	bot    *bot // nil: play the prompt and record

	// events and metrics receive every call's live events and figures once
	// the control plane runs; nil before (and without) it.
	events  dialog.EventSink
	metrics *metricsFeed
	// live lists calls in progress, inbound and outbound, for the API.
	live *liveCalls

	// Calls run under their own context so that shutdown can hang them up (BYE)
	// through the UA before their media stops.
	callCtx   context.Context
	stopCalls context.CancelFunc
	calls     sync.WaitGroup
}

func newServer(cfg Config, log *slog.Logger) (*server, error) {
	s := &server{cfg: cfg, log: log, live: newLiveCalls()}
	var err error
	if s.prompt, err = loadPrompt(cfg.Inbound.Prompt); err != nil {
		return nil, fmt.Errorf("inbound prompt: %w", err)
	}
	if cfg.Inbound.Record == nil || *cfg.Inbound.Record {
		s.recDir = filepath.Join(cfg.Data, "recordings")
		if err := os.MkdirAll(s.recDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	if s.recDir != "" {
		// Keys from the environment or DATA/recording.keys (security.go);
		// none leaves recordings unencrypted, with a warning.
		if s.vault, err = newRecordingVault(cfg, "", log); err != nil {
			return nil, fmt.Errorf("recording keys: %w", err)
		}
	}
	if s.bot, err = botFor(cfg, log); err != nil {
		return nil, err
	}
	rc := cfg.rtpConfig()
	rc.Logger = log
	if s.engine, err = rtp.NewEngine(rc); err != nil {
		return nil, fmt.Errorf("start media engine: %w", err)
	}
	sc := cfg.sipConfig()
	sc.Logger = log
	if s.ua, err = sip.NewUA(sc); err != nil {
		s.engine.Close()
		return nil, fmt.Errorf("start SIP: %w", err)
	}
	s.callCtx, s.stopCalls = context.WithCancel(context.Background())
	s.ua.OnCall(func(_ context.Context, in *sip.Incoming) {
		s.calls.Add(1)
		defer s.calls.Done()
		s.answerInbound(in)
	})
	return s, nil
}

func (s *server) start(ctx context.Context) error {
	if err := s.ua.Start(ctx); err != nil {
		return fmt.Errorf("start SIP: %w", err)
	}
	s.log.Info("waihu serving", servingAttrs(s.ua, s.cfg)...)
	return nil
}

// servingAttrs are the "waihu serving" line's attributes: the SIP listeners
// (sip_tls only when a TLS listener is bound, so operators see the address
// trunks and phones must use for SIP over TLS), RTP ports and data directory.
func servingAttrs(ua *sip.UA, cfg Config) []any {
	attrs := []any{"sip_udp", ua.Addr("udp").String(), "sip_tcp", ua.Addr("tcp").String()}
	if tlsAddr := ua.Addr("tls"); tlsAddr.IsValid() {
		attrs = append(attrs, "sip_tls", tlsAddr.String())
	}
	return append(attrs, "rtp_ports", fmt.Sprintf("%d-%d", cfg.RTP.PortMin, cfg.RTP.PortMax), "data", cfg.Data)
}

// close hangs up live calls with BYE, un-registers trunks, waits for every call's
// recording to be flushed and stops the media engine.
func (s *server) close() error {
	s.log.Info("shutting down", "live_calls", s.ua.Calls())
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.ua.Close(closeCtx)
	s.stopCalls()
	s.calls.Wait()
	if cerr := s.engine.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// answerInbound runs one inbound call from INVITE to hang-up.
func (s *server) answerInbound(in *sip.Incoming) {
	ctx := s.callCtx
	// A browser softphone offers WebRTC media: a pion leg, see phone.go.
	if offer, ok := in.WebRTCOffer(); ok {
		s.answerWebRTC(ctx, in, offer)
		return
	}
	id := in.CallID()
	log := s.log.With("call_id", id)
	leg, err := s.engine.NewLeg(id)
	if err != nil {
		log.Error("no media port: rejecting call", "err", err)
		in.Reject(503, "Service Unavailable")
		return
	}
	defer leg.Close()
	in.Ring()
	call, err := in.Answer(ctx, leg)
	if err != nil {
		log.Warn("answer failed", "err", err)
		return
	}
	start := time.Now()
	rec := s.openRecording(id, log)
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.Inbound.MaxDuration)
	defer cancel()
	ev := s.inboundAnswered(id, in.From().User, cancel)
	defer s.live.remove(id)
	go func() {
		select {
		case <-call.Done():
		case <-callCtx.Done():
			hangupCall(call, log)
		}
		cancel()
	}()
	outcome := "completed"
	if s.bot != nil {
		r := s.bot.run(callCtx, log, id, in.From().User, leg, rtpDigits(callCtx, leg), rec, s.transferFor(call, log), ev)
		outcome = r.Outcome
		s.metrics.turns(r.Turns)
		// The script said goodbye and hung up, or the caller left: either way
		// the SIP side must end too.
		hangupCall(call, log)
	} else {
		playRecord(callCtx, log, leg, s.prompt, rec, nil)
	}
	<-call.Done()
	s.closeRecording(rec, id, log)
	st := leg.Stats()
	s.metrics.leg(st)
	s.inboundEnded(ev, outcome, call)
	log.Info("call finished", "reason", call.Reason().String(), "duration", time.Since(start).Round(time.Millisecond).String(),
		"recorded", rec != nil, "rtp_received", st.PacketsReceived, "rtp_lost", st.PacketsLost)
}

// inboundAnswered lists an answered inbound call (hangup ends it) and
// reports it answered; the returned sink carries its events.
func (s *server) inboundAnswered(id, caller string, hangup context.CancelFunc) callEvents {
	info := httpapi.CallInfo{ID: id, Phone: caller, Direction: "inbound"}
	if s.bot != nil {
		info.Script = s.bot.script.Name
	}
	s.live.add(info, hangup)
	s.live.setState(id, "answered")
	ev := callEvents{sink: s.events, callID: id, phone: caller}
	ev.emit(dialog.EventAnswered, nil)
	return ev
}

// inboundEnded reports the end of an inbound call.
func (s *server) inboundEnded(ev callEvents, outcome string, call *sip.Call) {
	ev.emit(dialog.EventEnded, func(e *dialog.Event) { e.Outcome, e.Reason = outcome, call.Reason().String() })
}

// safeFileName keeps a Call-ID (chosen by the remote side) from escaping the
// recordings directory or making an unusable name.
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte("call"), b...)
	}
	return string(b)
}
