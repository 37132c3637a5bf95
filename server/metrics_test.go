package server

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waihu/waihu/dialog"
)

// counterValue sums the samples of one metric family.
func counterValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			switch {
			case s.Counter != nil:
				sum += s.Counter.GetValue()
			case s.Gauge != nil:
				sum += s.Gauge.GetValue()
			case s.Histogram != nil:
				sum += float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func TestMetricsScrapeShowsCallsSIPRTPASRQueuesAndHTTP(t *testing.T) {
	f := newFixture(t)
	m := f.srv.Metrics()
	hub := f.srv.Hub()
	hub.Emit(dialog.Event{Kind: dialog.EventDialing, CallID: "1"})
	hub.Emit(dialog.Event{Kind: dialog.EventDialing, CallID: "2"})
	hub.Emit(dialog.Event{Kind: dialog.EventRinging, CallID: "2"})
	hub.Emit(dialog.Event{Kind: dialog.EventAnswered, CallID: "2"})
	hub.Emit(dialog.Event{Kind: dialog.EventDialing, CallID: "3"})
	hub.Emit(dialog.Event{Kind: dialog.EventEnded, CallID: "3", Code: 486})
	m.SIPResponse(486)
	m.SIPResponse(200)
	m.SIPResponse(200)
	m.RTPStats(2, 100, 15*time.Millisecond)
	m.ASRLatency(320 * time.Millisecond)
	m.QueueDepth(f.alpha, 12)
	f.get("/api/v1/trunks", tokAdmin).must(t, 200)

	f.get("/metrics", "").must(t, 401)
	f.get("/metrics", tokAgent).must(t, 200)
	body := string(f.get("/metrics", tokViewer).must(t, 200).body)
	for _, want := range []string{
		`waihu_calls{state="dialing"} 1`,
		`waihu_calls{state="answered"} 1`,
		`waihu_calls{state="ringing"} 0`,
		`waihu_calls_ended_total{answered_by="none"} 1`,
		`waihu_call_events_total{kind="dialing"} 3`,
		`waihu_sip_responses_total{class="4xx",code="486"} 1`,
		`waihu_sip_responses_total{class="2xx",code="200"} 2`,
		`waihu_rtp_packets_lost_total 2`,
		`waihu_rtp_packets_expected_total 100`,
		`waihu_rtp_loss_ratio_bucket{le="0.02"} 1`,
		`waihu_rtp_jitter_seconds_bucket{le="0.02"} 1`,
		`waihu_asr_latency_seconds_bucket{le="0.5"} 1`,
		`waihu_dialer_queue_depth{campaign="` + itoa(f.alpha) + `"} 12`,
		`waihu_http_requests_total{code="200",route="GET /api/v1/trunks"} 1`,
		`waihu_http_requests_total{code="401",route="GET /metrics"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

func TestOpenMetricsNeedsNoToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.OpenMetrics = true })
	f.get("/healthz", "").must(t, 200)
	if body := string(f.get("/metrics", "").must(t, 200).body); !strings.Contains(body, "waihu_http_requests_total") {
		t.Fatalf("scrape: %.200s", body)
	}
}

func TestQueueDepthsFollowTheRunningCampaigns(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SnapshotInterval = 20 * time.Millisecond })
	f.do("POST", "/api/v1/campaigns/"+itoa(f.alpha)+"/start", tokAdmin, "", "").must(t, 200)
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, f.srv.Metrics(), "waihu_dialer_queue_depth") != 7 {
		if time.Now().After(deadline) {
			t.Fatal("queue depth of the started campaign never reached the gauge")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.do("POST", "/api/v1/campaigns/"+itoa(f.alpha)+"/stop", tokAdmin, "", "").must(t, 200)
	for counterValue(t, f.srv.Metrics(), "waihu_dialer_queue_depth") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stopped campaign's gauge stayed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsMethodsAreSafeOnNil(t *testing.T) {
	var m *Metrics
	m.CallState("x", "dialing")
	m.SIPResponse(200)
	m.RTPStats(1, 10, time.Millisecond)
	m.ASRLatency(time.Second)
	m.QueueDepth(1, 2)
}

// scrapeCounter is a collector whose value is read at scrape time, as
// cmd/waihu's SIP edge collector reads the UA.
type scrapeCounter struct {
	desc *prometheus.Desc
	read func() float64
}

func (c scrapeCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c scrapeCounter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, c.read())
}

func TestMetricsRegisterAddsCollectorsReadOnScrapeAndRefusesClashes(t *testing.T) {
	m := NewMetrics()
	n := 0.0
	c := scrapeCounter{desc: prometheus.NewDesc("waihu_test_scraped_total", "Read at scrape.", nil, nil),
		read: func() float64 { n++; return n }}
	if err := m.Register(c); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, m, "waihu_test_scraped_total"); got != 1 {
		t.Errorf("first scrape = %v, want 1", got)
	}
	if got := counterValue(t, m, "waihu_test_scraped_total"); got != 2 {
		t.Errorf("second scrape = %v, want 2 (read again, not cached)", got)
	}
	if err := m.Register(c); err == nil {
		t.Error("registering the same collector twice: no error")
	}
	clash := scrapeCounter{desc: prometheus.NewDesc("waihu_calls", "Clashes with the calls gauge.", nil, nil),
		read: func() float64 { return 0 }}
	if err := m.Register(clash); err == nil {
		t.Error("a collector clashing with waihu_calls: no error")
	}
	var none *Metrics
	if err := none.Register(c); err != nil {
		t.Errorf("nil Metrics: %v", err)
	}
}
