package server

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/waihu/waihu/dialog"
)

// Metrics is the server's Prometheus collectors on its own registry (no
// global one). cmd/waihu feeds what only the call path knows (SIP
// responses, RTP statistics, recogniser latency, queue depths); the Hub
// feeds what the call events say (calls by state, events by kind). Every
// method is safe on a nil *Metrics, so a caller without a server can pass
// nil.
type Metrics struct {
	reg *prometheus.Registry

	calls        *prometheus.GaugeVec
	events       *prometheus.CounterVec
	ended        *prometheus.CounterVec
	sipResponses *prometheus.CounterVec
	rtpLost      prometheus.Counter
	rtpExpected  prometheus.Counter
	rtpLoss      prometheus.Histogram
	rtpJitter    prometheus.Histogram
	asrLatency   prometheus.Histogram
	queueDepth   *prometheus.GaugeVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	wsDropped    prometheus.Counter

	mu sync.Mutex
	// states is each live call's state, so the calls gauge moves a call
	// from one state to the next rather than counting it twice.
	states map[string]string
}

// NewMetrics registers waihu's collectors, and the Go runtime's and the
// process's, on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), states: map[string]string{}}
	m.calls = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "waihu_calls",
		Help: "Calls in progress by state (dialing, ringing, answered)."}, []string{"state"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waihu_call_events_total",
		Help: "Call events seen by the event hub, by kind."}, []string{"kind"})
	m.ended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waihu_calls_ended_total",
		Help: "Calls ended, by whether they were answered and by whom (human, machine, unknown, none)."}, []string{"answered_by"})
	m.sipResponses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waihu_sip_responses_total",
		Help: "Final SIP responses to outbound INVITEs, by class (2xx…6xx) and code."}, []string{"class", "code"})
	m.rtpLost = prometheus.NewCounter(prometheus.CounterOpts{Name: "waihu_rtp_packets_lost_total",
		Help: "RTP packets lost on received streams."})
	m.rtpExpected = prometheus.NewCounter(prometheus.CounterOpts{Name: "waihu_rtp_packets_expected_total",
		Help: "RTP packets expected on received streams (lost / expected is the loss ratio)."})
	m.rtpLoss = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "waihu_rtp_loss_ratio",
		Help:    "Per-report RTP packet loss fraction of received streams.",
		Buckets: []float64{0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5}})
	m.rtpJitter = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "waihu_rtp_jitter_seconds",
		Help:    "Interarrival jitter of received RTP streams (RFC 3550 §6.4.1).",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32}})
	m.asrLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "waihu_asr_latency_seconds",
		Help:    "Speech recognition latency: end of the caller's speech to the final result.",
		Buckets: []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5}})
	m.queueDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "waihu_dialer_queue_depth",
		Help: "Claimed contacts waiting for a trunk slot or a CPS token, per campaign."}, []string{"campaign"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waihu_http_requests_total",
		Help: "HTTP requests by route pattern and status code."}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "waihu_http_request_duration_seconds",
		Help: "HTTP request handling time by route pattern (WebSockets excluded).", Buckets: prometheus.DefBuckets}, []string{"route"})
	m.wsDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "waihu_ws_events_dropped_total",
		Help: "Events not delivered to a WebSocket subscriber that read too slowly."})
	m.reg.MustRegister(m.calls, m.events, m.ended, m.sipResponses, m.rtpLost, m.rtpExpected, m.rtpLoss, m.rtpJitter,
		m.asrLatency, m.queueDepth, m.httpRequests, m.httpDuration, m.wsDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry the collectors are on, for tests and for
// callers that add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Register adds a collector that reads its figures on scrape (cmd/waihu's
// SIP edge, which asks the UA for its counters rather than being told of
// every dropped packet). It fails when the collector's metrics clash with
// ones already registered; on a nil *Metrics it does nothing.
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("register metrics collector: %w", err)
	}
	return nil
}

// CallState moves call id to state (dialing, ringing, answered); "ended"
// or "" removes it.
func (m *Metrics) CallState(id, state string) {
	if m == nil || id == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, live := m.states[id]
	if live {
		if prev == state {
			return
		}
		m.calls.WithLabelValues(prev).Dec()
	}
	if state == "" || state == string(dialog.EventEnded) {
		delete(m.states, id)
		return
	}
	m.states[id] = state
	m.calls.WithLabelValues(state).Inc()
}

// SIPResponse counts one final response to an outbound INVITE.
func (m *Metrics) SIPResponse(code int) {
	if m == nil || code < 100 || code > 699 {
		return
	}
	m.sipResponses.WithLabelValues(strconv.Itoa(code/100)+"xx", strconv.Itoa(code)).Inc()
}

// RTPStats records one receiver report's figures: packets lost and expected
// since the previous report, and the interarrival jitter.
func (m *Metrics) RTPStats(lost, expected int, jitter time.Duration) {
	if m == nil {
		return
	}
	if expected > 0 {
		lost = max(lost, 0)
		m.rtpLost.Add(float64(lost))
		m.rtpExpected.Add(float64(expected))
		m.rtpLoss.Observe(float64(lost) / float64(expected))
	}
	if jitter >= 0 {
		m.rtpJitter.Observe(jitter.Seconds())
	}
}

// ASRLatency records one recognition's latency.
func (m *Metrics) ASRLatency(d time.Duration) {
	if m == nil {
		return
	}
	m.asrLatency.Observe(d.Seconds())
}

// QueueDepth sets a campaign's dialer queue depth.
func (m *Metrics) QueueDepth(campaignID int64, n int) {
	if m == nil {
		return
	}
	m.queueDepth.WithLabelValues(strconv.FormatInt(campaignID, 10)).Set(float64(n))
}

// forgetQueue drops the gauge of a campaign no longer dialling here.
func (m *Metrics) forgetQueue(campaignID int64) {
	if m == nil {
		return
	}
	m.queueDepth.DeleteLabelValues(strconv.FormatInt(campaignID, 10))
}

// callEvent counts an event and follows the call's state.
func (m *Metrics) callEvent(e dialog.Event) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(string(e.Kind)).Inc()
	switch e.Kind {
	case dialog.EventDialing, dialog.EventRinging, dialog.EventAnswered:
		m.CallState(e.CallID, string(e.Kind))
	case dialog.EventEnded:
		m.CallState(e.CallID, "")
		by := e.AnsweredBy
		if by == "" {
			by = "none"
		}
		m.ended.WithLabelValues(by).Inc()
	}
}

func (m *Metrics) eventDropped() {
	if m != nil {
		m.wsDropped.Inc()
	}
}

func (m *Metrics) httpRequest(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	if code != http.StatusSwitchingProtocols {
		m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
	}
}

// serveMetrics is /metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metricsHTTP.ServeHTTP(w, r)
	return nil
}

// slogPrinter adapts the logger to promhttp's error log.
type slogPrinter struct {
	log interface{ Error(string, ...any) }
}

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics", "err", v) }
