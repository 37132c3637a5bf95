package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
)

// wsMessage is one message on /ws/events. Type says which other field is
// set: "event" (Event), "kpis" (KPIs) or "dropped" (Dropped: how many
// events this subscriber lost because it read too slowly).
type wsMessage struct {
	Type    string        `json:"type"`
	Event   *dialog.Event `json:"event,omitempty"`
	KPIs    *kpi.Report   `json:"kpis,omitempty"`
	Dropped int64         `json:"dropped,omitempty"`
}

// Message types of /ws/events.
const (
	msgEvent   = "event"
	msgKPIs    = "kpis"
	msgDropped = "dropped"
)

// Hub fans call events out to WebSocket subscribers and counts them into
// the metrics. It implements dialog.EventSink: Emit never blocks, because
// it runs on the calls' own goroutines.
type Hub struct {
	metrics *Metrics
	buffer  int

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	// live is a copy of subs published for Emit, which reads it without
	// taking mu: a call's goroutine never waits for a client to come or go.
	live atomic.Pointer[[]*subscriber]

	// ended is signalled (coalesced: capacity one) when a call ends, so
	// the server pushes fresh KPIs soon after.
	ended chan struct{}
}

type hubConfig struct {
	buffer  int
	metrics *Metrics
}

func newHub(cfg hubConfig) *Hub {
	return &Hub{metrics: cfg.metrics, buffer: cfg.buffer,
		subs: map[*subscriber]struct{}{}, ended: make(chan struct{}, 1)}
}

// hubItem is what a subscriber's queue holds: an event or a KPI snapshot.
type hubItem struct {
	event dialog.Event
	kpis  *kpi.Report
}

// subscriber is one WebSocket client.
type subscriber struct {
	p        *auth.Principal
	campaign int64
	// scope keys the KPI snapshot this subscriber gets; subscribers with
	// the same scope share one computation.
	scope   string
	kpis    bool
	ch      chan hubItem
	dropped atomic.Int64
	done    chan struct{}
}

// wants reports whether the subscriber receives an event of campaignID.
func (sub *subscriber) wants(campaignID int64) bool {
	return (sub.campaign == 0 || sub.campaign == campaignID) && seesCampaign(sub.p, campaignID)
}

// offer queues it without waiting; a full queue loses it.
func (sub *subscriber) offer(it hubItem) bool {
	select {
	case sub.ch <- it:
		return true
	default:
		return false
	}
}

// Emit implements dialog.EventSink.
func (h *Hub) Emit(e dialog.Event) {
	h.metrics.callEvent(e)
	if e.Kind == dialog.EventEnded {
		h.callEnded()
	}
	live := h.live.Load()
	if live == nil {
		return
	}
	for _, sub := range *live {
		if !sub.wants(e.CampaignID) {
			continue
		}
		if !sub.offer(hubItem{event: e}) {
			sub.dropped.Add(1)
			h.metrics.eventDropped()
		}
	}
}

// callEnded asks for a KPI snapshot soon, without waiting.
func (h *Hub) callEnded() {
	select {
	case h.ended <- struct{}{}:
	default:
	}
}

// Subscribers is the number of connected WebSocket clients.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) subscribe(p *auth.Principal, campaignID int64) (*subscriber, error) {
	sub := &subscriber{p: p, campaign: campaignID, scope: scopeKey(p, campaignID), kpis: p.Can(auth.PermKPIRead),
		ch: make(chan hubItem, h.buffer), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("event hub closed")
	}
	h.subs[sub] = struct{}{}
	h.publish()
	return sub, nil
}

func (h *Hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		close(sub.done)
		h.publish()
	}
}

// close disconnects every subscriber and refuses new ones.
func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		delete(h.subs, sub)
		close(sub.done)
	}
	h.publish()
}

// publish copies subs for Emit; mu is held.
func (h *Hub) publish() {
	live := make([]*subscriber, 0, len(h.subs))
	for sub := range h.subs {
		live = append(live, sub)
	}
	h.live.Store(&live)
}

// kpiSubscribers lists the subscribers that get KPI snapshots.
func (h *Hub) kpiSubscribers() []*subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*subscriber
	for sub := range h.subs {
		if sub.kpis {
			out = append(out, sub)
		}
	}
	return out
}

// scopeKey names what a subscriber may see of the KPIs: its campaign
// filter, or the campaigns its principal is limited to.
func scopeKey(p *auth.Principal, campaignID int64) string {
	if campaignID != 0 {
		return "c" + strconv.FormatInt(campaignID, 10)
	}
	if p == nil || p.Campaigns == nil {
		return "all"
	}
	ids := slices.Clone(p.Campaigns)
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "only:" + strings.Join(parts, ",")
}

// pushKPIs takes one snapshot per distinct scope, from the scope's live
// window, and offers it to the subscribers of that scope; windows no one
// watches any more are dropped.
func (s *Server) pushKPIs(ctx context.Context) {
	subs := s.hub.kpiSubscribers()
	reports := map[string]*kpi.Report{}
	watched := map[string]bool{}
	for _, sub := range subs {
		watched[sub.scope] = true
	}
	s.dropUnwatched(watched)
	for _, sub := range subs {
		rep, ok := reports[sub.scope]
		if !ok {
			r, err := s.liveReport(ctx, sub.p, sub.campaign)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("kpi snapshot", "scope", sub.scope, "err", err)
				}
				continue
			}
			rep = &r
			reports[sub.scope] = rep
		}
		sub.offer(hubItem{kpis: rep})
	}
}

// wsWriteTimeout bounds one message's write: a client that stops reading
// is disconnected rather than holding its goroutine forever.
const wsWriteTimeout = 10 * time.Second

// wsPingInterval is how often an idle-looking client is pinged.
const wsPingInterval = 30 * time.Second

// events serves /ws/events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	campaignID, err := queryInt(r, "campaign", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	if campaignID != 0 {
		if _, err := s.campaignFor(r, campaignID); err != nil {
			return notFound("campaign", "campaign %d not found", campaignID)
		}
	}
	object := "events:all"
	if campaignID != 0 {
		object = fmt.Sprintf("campaign:%d", campaignID)
	}
	// Events carry what callers say: subscribing is a read of personal data.
	if err := s.auditReq(r, "events.subscribe", object, ""); err != nil {
		return err
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		// Accept has answered the client already.
		s.log.Info("websocket upgrade refused", "remote", remoteAddr(r), "err", err)
		return nil
	}
	defer c.CloseNow()
	sub, err := s.hub.subscribe(p, campaignID)
	if err != nil {
		c.Close(websocket.StatusGoingAway, "server shutting down")
		return nil
	}
	defer s.hub.unsubscribe(sub)
	// Clients send nothing; reading only notices their close.
	ctx := c.CloseRead(context.WithoutCancel(r.Context()))

	if sub.kpis {
		if rep, err := s.liveReport(ctx, p, campaignID); err == nil {
			if err := writeWS(ctx, c, wsMessage{Type: msgKPIs, KPIs: &rep}); err != nil {
				return nil
			}
		} else {
			s.log.Warn("kpi snapshot", "scope", sub.scope, "err", err)
		}
	}
	ping := time.NewTicker(wsPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping.C:
			// A client gone without a FIN would otherwise hold its
			// subscription until a write fails, which a socket buffer
			// delays; proxies also close connections that look idle.
			pctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return nil
			}
		case <-sub.done:
			c.Close(websocket.StatusGoingAway, "server shutting down")
			return nil
		case it := <-sub.ch:
			msg := wsMessage{Type: msgKPIs, KPIs: it.kpis}
			if it.kpis == nil {
				e := it.event
				e.Phone = maskFor(p, e.Phone)
				e.Text, e.Target, e.Reason = maskText(p, e.Text), maskText(p, e.Target), maskText(p, e.Reason)
				msg = wsMessage{Type: msgEvent, Event: &e}
			}
			if err := writeWS(ctx, c, msg); err != nil {
				return nil
			}
			// Told as soon as this client is reading again, so a dashboard
			// knows its view has gaps and may reload.
			if n := sub.dropped.Swap(0); n > 0 {
				if err := writeWS(ctx, c, wsMessage{Type: msgDropped, Dropped: n}); err != nil {
					return nil
				}
			}
		}
	}
}

func writeWS(ctx context.Context, c *websocket.Conn, msg wsMessage) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", msg.Type, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b)
}
