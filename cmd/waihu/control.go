package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/webhook"
	"github.com/waihu/waihu/store"
	"github.com/waihu/waihu/web"
)

// controlPlane is what `waihu serve` adds over SIP and media: the store,
// the HTTP API with its live events and metrics (server.Server), the
// campaigns this node dials, and the dashboard and softphone pages, all on
// one HTTP address (http.listen, --http).
type controlPlane struct {
	srv    *server
	st     store.Store
	api    *httpapi.Server
	mgr    *campaignManager
	dialer *sipDialer
	placer *callPlacer
	audit  *auth.AuditLog
	hooks  *webhook.Dispatcher
	log    *slog.Logger

	http   *http.Server
	addr   netip.AddrPort
	scheme string // http or https
	done   chan struct{}
}

// newControlPlane opens the store, makes sure an admin can log in, and
// builds the API over srv. It runs before srv.start, so that the first
// call already reports its events; listen starts serving.
func newControlPlane(ctx context.Context, srv *server, ph *phoneFlags) (*controlPlane, error) {
	cfg := srv.cfg
	st, err := store.Open(ctx, store.Config{DataDir: cfg.Data, DSN: cfg.Store.DSN})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	c := &controlPlane{srv: srv, st: st, log: srv.log, done: make(chan struct{})}
	fail := func(err error) (*controlPlane, error) {
		if c.api != nil {
			c.api.Close()
		}
		st.Close()
		return nil, err
	}
	accounts := auth.NewAccounts(auth.AccountsConfig{Store: st, Log: srv.log})
	if err := bootstrapAdmin(ctx, st, accounts, cfg, srv.log); err != nil {
		return fail(err)
	}
	audit := auth.NewAuditLog(auth.AuditConfig{Store: st, Log: srv.log})
	if err := os.MkdirAll(srv.scriptsDir(), 0o750); err != nil {
		return fail(fmt.Errorf("scripts directory: %w", err))
	}
	c.dialer = &sipDialer{ua: srv.ua, engine: srv.engine, bot: srv.bot, prompt: srv.prompt,
		maxCall: cfg.Inbound.MaxDuration, log: srv.log, live: srv.live, recDir: srv.recDir, vault: srv.vault,
		progress: newCallProgress(cfg, srv.bot, srv.log)}
	// Webhooks: each finished campaign call as its record is stored, each
	// finished campaign as its runner ends (docs/webhooks.md).
	wc, err := cfg.Webhooks.Config(webhook.Config{Store: st, Logger: srv.log})
	if err != nil {
		return fail(fmt.Errorf("webhooks: %w", err))
	}
	if c.hooks, err = webhook.New(wc); err != nil {
		return fail(fmt.Errorf("webhooks: %w", err))
	}
	hooked := &hookedStore{Store: st, hooks: c.hooks, log: srv.log}
	c.mgr = newCampaignManager(hooked, c.dialer, serveNode(), srv.log)
	c.mgr.known = map[string]bool{}
	for _, t := range cfg.Trunks {
		c.mgr.known[t.Name] = true
	}
	c.mgr.finished = func(ctx context.Context, id int64) {
		if _, err := c.hooks.EnqueueCampaignFinished(ctx, id); err != nil {
			srv.log.Error("webhook: campaign finished not queued", "campaign_id", id, "err", err)
		}
	}
	c.placer = &callPlacer{srv: srv, dialer: c.dialer, records: hooked}
	sc := httpapi.Config{
		Store: st, Auth: accounts, Audit: audit,
		Calls:          c.placer,
		Campaigns:      c.mgr,
		Trunks:         srv.trunkInfo,
		ScriptsDir:     srv.scriptsDir(),
		Recordings:     recordingFiles{dir: srv.recDir, vault: srv.vault},
		Pages:          pagesHandler(ph.wsScheme(), ph.phonePort(srv)),
		Logger:         srv.log,
		OpenMetrics:    cfg.HTTP.OpenMetrics,
		OriginPatterns: cfg.HTTP.AllowOrigins,
	}
	c.audit = audit
	if c.api, err = httpapi.New(sc); err != nil {
		return fail(fmt.Errorf("http api: %w", err))
	}
	hooked.live = c.api // before any Runner starts (listen)
	feed := &metricsFeed{m: c.api.Metrics()}
	events := sinks{c.api.Hub()}
	c.dialer.events, c.dialer.metrics = events, feed
	srv.events, srv.metrics = events, feed
	return c, nil
}

// listen serves the control plane on cfg.HTTP.Listen (over TLS with
// --tls-cert) and starts dialling the campaigns left running.
func (c *controlPlane) listen(ctx context.Context, ph *phoneFlags) error {
	tlsCfg := ph.tls
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.srv.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", c.srv.cfg.HTTP.Listen, err)
	}
	c.addr = netip.MustParseAddrPort(ln.Addr().String())
	c.scheme = "http"
	if tlsCfg != nil {
		ln, c.scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	c.http = &http.Server{
		Handler:           c.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(c.done)
		if err := c.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("http server stopped", "err", err)
		}
	}()
	c.mgr.run()
	// Audit retention and webhook deliveries (this node's and those other
	// nodes queued) run beside the campaigns and stop with them.
	c.mgr.wg.Go(func() { _ = c.audit.Run(c.mgr.ctx) })
	c.mgr.wg.Go(func() { _ = c.hooks.Run(c.mgr.ctx) })
	attrs := []any{"dashboard", c.url("/"), "api", c.url("/api/v1")}
	if port := ph.phonePort(c.srv)(); port != 0 {
		attrs = append(attrs, "softphone", c.url("/phone/"), "sip_"+ph.wsScheme(), port)
	}
	c.log.Info("control plane serving", attrs...)
	return nil
}

// url is path on the control plane's address.
func (c *controlPlane) url(path string) string {
	return c.scheme + "://" + c.addr.String() + path
}

// close stops the campaigns (their calls are hung up and recorded), then
// the HTTP server and the API, and closes the store last.
func (c *controlPlane) close() error {
	if c == nil {
		return nil
	}
	c.mgr.close()
	var err error
	if c.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// WebSocket subscribers are hijacked connections Shutdown does not
		// wait for: the API's Close ends them.
		c.api.Close()
		err = c.http.Shutdown(ctx)
		cancel()
		<-c.done
	}
	c.api.Close()
	if cerr := c.st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}

// serveNode names this serve process in contact claims: the host name with
// "-serve", so that a `waihu campaign start` on the same host (named by the
// host alone) never recovers — marks interrupted — the claims of calls this
// server is making, and a restarted server recovers its own.
func serveNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "waihu"
	}
	return h + "-serve"
}

// hookedStore tells the rest of the node of each campaign call record the
// Runner finishes — the record is complete only then, with its disposition,
// grade and transcript: the live KPI windows count it at once, and a
// call.completed webhook is queued in the same store, so it survives a
// restart. A failure to queue is logged and does not undo the record.
type hookedStore struct {
	store.Store
	hooks *webhook.Dispatcher
	live  *httpapi.Server // set once the API is built, before any Runner runs
	log   *slog.Logger
}

// RecordCall implements store.Store: a placed call's record is complete
// when stored, and is told like a campaign call's.
func (h *hookedStore) RecordCall(ctx context.Context, rec store.CallRecord) (int64, error) {
	id, err := h.Store.RecordCall(ctx, rec)
	if err != nil {
		return 0, err
	}
	rec.ID = id
	h.told(ctx, rec)
	return id, nil
}

// FinishAttempt implements store.Store.
func (h *hookedStore) FinishAttempt(ctx context.Context, rec store.CallRecord, next store.ContactUpdate) error {
	if err := h.Store.FinishAttempt(ctx, rec, next); err != nil {
		return err
	}
	h.told(ctx, rec)
	return nil
}

// told counts a finished record in the live KPIs and queues its webhook.
func (h *hookedStore) told(ctx context.Context, rec store.CallRecord) {
	if h.live != nil {
		h.live.RecordFinished(rec)
	}
	if _, err := h.hooks.EnqueueCall(ctx, rec); err != nil {
		h.log.Error("webhook: call not queued", "call_id", rec.SIPCallID, "campaign_id", rec.CampaignID, "err", err)
	}
}

// pagesHandler serves the dashboard at / and the softphone at /phone/.
func pagesHandler(wsScheme string, wsPort func() uint16) http.Handler {
	mux := http.NewServeMux()
	page, _ := fs.ReadFile(web.Dashboard, "dashboard.html")
	script, _ := fs.ReadFile(web.Dashboard, "src/dashboard.js")
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /dashboard.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(script)
	})
	phone := phoneHandler(wsScheme, wsPort)
	mux.Handle("/phone", phone)
	mux.Handle("/phone/", phone)
	return mux
}

// scriptsDir holds the call scripts the API manages, as NAME.yaml.
func (s *server) scriptsDir() string { return filepath.Join(s.cfg.Data, "scripts") }

// trunkInfo reports each configured trunk and its registration.
func (s *server) trunkInfo() []httpapi.TrunkInfo {
	out := make([]httpapi.TrunkInfo, 0, len(s.cfg.Trunks))
	for _, t := range s.cfg.Trunks {
		ti := httpapi.TrunkInfo{Name: t.Name, Address: t.Address, Transport: t.Transport, Registration: "disabled"}
		if ti.Transport == "" {
			ti.Transport = "udp"
		}
		if t.Register {
			rs := s.ua.Registration(t.Name)
			ti.Registration = rs.Status.String() // unregistered, registering, registered, failed
			if rs.Err != nil {
				ti.Error = rs.Err.Error()
			}
		}
		out = append(out, ti)
	}
	return out
}

// recordingFiles is server.Recordings over the recordings directory,
// decrypting recordings sealed at rest.
type recordingFiles struct {
	dir   string
	vault *recordingVault // nil: plain files only
}

// Open implements server.Recordings.
func (r recordingFiles) Open(_ context.Context, callID string) (io.ReadCloser, string, error) {
	if r.dir == "" {
		return nil, "", fmt.Errorf("recording of %q: recording is off: %w", callID, fs.ErrNotExist)
	}
	rc, err := r.vault.open(r.dir, callID)
	if err != nil {
		return nil, "", fmt.Errorf("recording of %q: %w", callID, err)
	}
	return rc, "audio/wav", nil
}
