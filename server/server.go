package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// Calls is what the server needs of the node's calls: cmd/waihu implements
// it over its SIP user agent.
type Calls interface {
	// Place starts one outbound call and returns once it is under way (the
	// INVITE sent), not when it ends.
	Place(ctx context.Context, req PlaceRequest) (CallInfo, error)
	// Live lists the calls in progress on this node.
	Live() []CallInfo
	// Hangup ends the live call id; an unknown id is an error wrapping
	// store.ErrNotFound.
	Hangup(ctx context.Context, id string) error
}

// PlaceRequest asks for one outbound call.
type PlaceRequest struct {
	// To is the number to call, normalised by campaign.NormalizePhone.
	// With ContactID it may be left out: the server fills in the contact's.
	To string `json:"to,omitempty"`
	// ContactID calls a stored contact (CampaignID is then set to its
	// campaign by the server): the way a user limited to some campaigns,
	// who may not see full numbers, calls one of their contacts.
	ContactID  int64 `json:"contact_id,omitempty"`
	CampaignID int64 `json:"campaign_id,omitempty"`
	// Trunk names the trunk to dial through; empty means the first one.
	Trunk string `json:"trunk,omitempty"`
	// CallerID is the number to present; empty means the trunk's own.
	CallerID string `json:"caller_id,omitempty"`
	// Script names a script of Config.ScriptsDir; empty means the node's bot.
	Script string `json:"script,omitempty"`
	// Variables are values for the script's ${name} expansions.
	Variables map[string]string `json:"variables,omitempty"`
}

// CallInfo is one live call as the node running it sees it.
type CallInfo struct {
	// ID is the call's SIP Call-ID, the id of its events and its recording.
	ID string `json:"id"`
	// CampaignID and ContactID are zero for calls outside a campaign.
	CampaignID int64 `json:"campaign_id,omitempty"`
	ContactID  int64 `json:"contact_id,omitempty"`
	// Phone is the far end's number, unmasked; the server masks it per reader.
	Phone string `json:"phone"`
	// Direction is outbound or inbound.
	Direction string `json:"direction,omitempty"`
	Trunk     string `json:"trunk,omitempty"`
	Script    string `json:"script,omitempty"`
	// State is dialing, ringing or answered.
	State      string    `json:"state"`
	StartedAt  time.Time `json:"started_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
}

// Campaigns acts on campaigns dialled by this node. The server has already
// moved the campaign's stored state with campaign.SetState when it calls
// these, so an implementation only starts or winds down its Runner.
type Campaigns interface {
	// Start begins dialling campaign id on this node. An error refuses the
	// start (409) and the campaign's previous state is restored.
	Start(ctx context.Context, id int64) error
	// Pause and Stop are told after the state changed; runners also see the
	// change within their poll interval, so they may return at once.
	Pause(ctx context.Context, id int64) error
	Stop(ctx context.Context, id int64) error
	// Status is campaign id's live load on this node; ok is false when it is
	// not dialling here.
	Status(id int64) (st CampaignStatus, ok bool)
}

// CampaignStatus is one campaign's live load on this node.
type CampaignStatus struct {
	InFlight     int               `json:"in_flight"`
	Dialled      int               `json:"dialled"`
	QueueDepth   int               `json:"queue_depth"`
	WaitingCPS   int               `json:"waiting_cps"`
	WaitingTrunk int               `json:"waiting_trunk"`
	Trunks       []TrunkLoadStatus `json:"trunks,omitempty"`
}

// TrunkLoadStatus is one trunk's load within a CampaignStatus.
type TrunkLoadStatus struct {
	Name       string `json:"name"`
	InFlight   int    `json:"in_flight"`
	Limit      int    `json:"limit"`
	WaitingCPS int    `json:"waiting_cps"`
}

// StatusFromStats converts a Runner's Stats, so that a Campaigns
// implementation reports exactly what the dialer measures.
func StatusFromStats(s campaign.Stats) CampaignStatus {
	st := CampaignStatus{InFlight: s.InFlight, Dialled: s.Dialled, QueueDepth: s.QueueDepth(),
		WaitingCPS: s.WaitingCPS, WaitingTrunk: s.WaitingTrunk}
	for _, t := range s.Trunks {
		st.Trunks = append(st.Trunks, TrunkLoadStatus{Name: t.Name, InFlight: t.InFlight, Limit: t.Limit, WaitingCPS: t.WaitingCPS})
	}
	return st
}

// TrunkInfo is one configured SIP trunk and its registration.
type TrunkInfo struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Transport string `json:"transport,omitempty"`
	// Registration is registered, unregistered, failed or disabled (no
	// registration configured).
	Registration string `json:"registration"`
	// Error is the last registration failure, if any.
	Error string `json:"error,omitempty"`
}

// Recordings opens the recording of one call.
type Recordings interface {
	// Open returns the recording of callID (its SIP Call-ID), decrypted, and
	// its media type (audio/wav). A call without a recording is an error
	// wrapping fs.ErrNotExist or store.ErrNotFound.
	Open(ctx context.Context, callID string) (rc io.ReadCloser, contentType string, err error)
}

// Config builds a Server. Store, Auth and Audit are required; every other
// field has a working zero value.
type Config struct {
	// Store holds campaigns, contacts, call records and the do-not-call list.
	Store store.Store
	// Auth turns bearer tokens into principals. There is no open mode.
	Auth auth.Authenticator
	// Audit receives every change and every read of personal data.
	Audit auth.Auditor
	// Accounts changes users, roles and tokens for the /api/v1/users,
	// /roles and /tokens routes. Nil: Auth when it is an *auth.Accounts,
	// else those changes answer 503.
	Accounts *auth.Accounts
	// Calls places, lists and hangs up live calls. Nil: no live calls are
	// listed and placing or hanging up answers 503.
	Calls Calls
	// Campaigns starts and winds down dialling on this node. Nil: start,
	// pause and stop only change the stored state, which the runners of
	// every node follow.
	Campaigns Campaigns
	// Trunks lists the configured trunks. Nil: an empty list.
	Trunks func() []TrunkInfo
	// ScriptsDir holds call scripts as NAME.yaml. Empty: the script routes
	// answer 503.
	ScriptsDir string
	// Recordings opens call recordings. Nil: the recording route answers 503.
	Recordings Recordings
	// KPIWindow is the span of the live KPI snapshots pushed over the
	// WebSocket (the last KPIWindow of attempts). Default 1 h.
	KPIWindow time.Duration
	// KPIRules are the campaign-specific parts of the KPI definitions
	// (conversion outcomes, transfer nodes); the zero value uses kpi's
	// documented defaults.
	KPIRules kpi.Rules
	// Pages serves the dashboard and softphone pages at /. Nil: / is 404.
	Pages http.Handler
	// Logger receives request failures and audit problems. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock for previews and snapshots. Default time.Now.
	Now func() time.Time
	// OpenMetrics serves /metrics without a token, for a scraper on a
	// trusted network. Default false: /metrics needs auth.PermKPIRead.
	OpenMetrics bool
	// MaxBodyBytes bounds JSON and YAML request bodies (413 above it).
	// Default 1 MiB.
	MaxBodyBytes int64
	// MaxImportBytes bounds CSV contact imports. Default 32 MiB.
	MaxImportBytes int64
	// EventBuffer is how many messages each WebSocket subscriber may have
	// queued before it loses events. Default 256.
	EventBuffer int
	// SnapshotInterval is how often KPI snapshots are pushed to subscribers
	// and dialer queue depths refreshed. Default 5 s.
	SnapshotInterval time.Duration
	// ExportPage is how many call records a CSV export reads and writes at
	// a time. Default 500.
	ExportPage int
	// KPIReconcileInterval is how often the live KPI windows read the
	// records ended since their last read, which brings in the calls of
	// other nodes sharing the store and any this node did not tell
	// RecordFinished. Default 30 s.
	KPIReconcileInterval time.Duration
	// OriginPatterns are the other origins allowed to open /ws/events (host
	// patterns as in coder/websocket). Default: the same origin only.
	OriginPatterns []string
}

// Defaults of Config's zero fields.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxImportBytes   = 32 << 20
	DefaultEventBuffer      = 256
	DefaultSnapshotInterval = 5 * time.Second
	DefaultKPIWindow        = time.Hour
	DefaultKPIReconcile     = 30 * time.Second
	DefaultExportPage       = 500
)

// ErrConfig is wrapped by New's errors about a Config.
var ErrConfig = errors.New("server: invalid configuration")

// Server is the HTTP control plane. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	routes  []*route
	mux     *http.ServeMux
	handler http.Handler
	hub     *Hub
	metrics *Metrics
	// metricsHTTP is promhttp's handler over metrics' registry.
	metricsHTTP http.Handler
	// live holds the KPI windows of the scopes subscribers watch (live.go).
	live liveKPIs
	// accounts is Config.Accounts (admin.go); adminMu serialises the
	// changes the last-admin guard weighs, so two cannot both pass it.
	accounts *auth.Accounts
	adminMu  sync.Mutex

	stop context.CancelFunc
	wg   sync.WaitGroup
	once sync.Once
}

// New checks cfg, builds the route table and the mux, and starts the
// background loop that pushes KPI snapshots and refreshes queue depths.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: Store is required", ErrConfig)
	case cfg.Auth == nil:
		return nil, fmt.Errorf("%w: Auth is required (there is no open mode)", ErrConfig)
	case cfg.Audit == nil:
		return nil, fmt.Errorf("%w: Audit is required", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = DefaultMaxImportBytes
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = DefaultEventBuffer
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = DefaultSnapshotInterval
	}
	if cfg.KPIWindow <= 0 {
		cfg.KPIWindow = DefaultKPIWindow
	}
	if cfg.ExportPage <= 0 || cfg.ExportPage > store.MaxRecordPage {
		cfg.ExportPage = DefaultExportPage
	}
	if cfg.KPIReconcileInterval <= 0 {
		cfg.KPIReconcileInterval = DefaultKPIReconcile
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "http"), live: liveKPIs{scopes: map[string]*liveScope{}}, accounts: cfg.Accounts}
	if s.accounts == nil {
		s.accounts, _ = cfg.Auth.(*auth.Accounts)
	}
	s.metrics = NewMetrics()
	s.metricsHTTP = promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s.log}})
	s.hub = newHub(hubConfig{buffer: cfg.EventBuffer, metrics: s.metrics})
	s.routes = s.routeTable()
	mux, err := s.buildMux()
	if err != nil {
		return nil, err
	}
	s.mux = mux
	s.handler = mux
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.background(ctx)
	}()
	return s, nil
}

// Handler is the server's whole HTTP surface, to mount on an http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// Hub is the event sink to hand to the dialer and the conversation engine.
func (s *Server) Hub() *Hub { return s.hub }

// Metrics is the server's Prometheus collectors, for cmd/waihu to feed.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Close stops the background loop and disconnects every WebSocket
// subscriber. It does not close the Store.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop()
		s.hub.close()
		s.wg.Wait()
	})
	return nil
}

// endedCoalesce is how long after a call ends the KPI snapshot is pushed.
const endedCoalesce = time.Second

// background pushes KPI snapshots every SnapshotInterval, and a second after
// a call ends (coalesced, so a burst of endings costs one computation),
// reconciles the live KPI windows with the store every
// KPIReconcileInterval, and refreshes each running campaign's queue depth
// gauge.
func (s *Server) background(ctx context.Context) {
	t := time.NewTicker(s.cfg.SnapshotInterval)
	defer t.Stop()
	rt := time.NewTicker(s.cfg.KPIReconcileInterval)
	defer rt.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.refreshQueueDepths(ctx)
			s.pushKPIs(ctx)
		case <-rt.C:
			s.reconcileKPIs(ctx)
		case <-s.hub.ended:
			// Calls often end in bursts: waiting lets one snapshot cover a
			// burst and bounds the rate at which a busy node pushes.
			select {
			case <-ctx.Done():
				return
			case <-time.After(endedCoalesce):
			}
			s.pushKPIs(ctx)
		}
	}
}

func (s *Server) refreshQueueDepths(ctx context.Context) {
	if s.cfg.Campaigns == nil {
		return
	}
	list, err := s.cfg.Store.Campaigns(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("refresh queue depths: list campaigns", "err", err)
		}
		return
	}
	for _, c := range list {
		st, ok := s.cfg.Campaigns.Status(c.ID)
		if !ok {
			s.metrics.forgetQueue(c.ID)
			continue
		}
		s.metrics.QueueDepth(c.ID, st.QueueDepth)
	}
}
