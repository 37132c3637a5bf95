package main

import (
	"crypto/tls"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waihu/waihu/sip"
)

// attachSIPEdge runs in startNode between the softphone's attach and the
// UA's start. It gives the SIP TLS listeners both certificates when
// sip.tls.cert and --tls-cert (with --ws) are both set, and puts the SIP
// edge and the registrar on /metrics when the control plane runs.
func attachSIPEdge(srv *server, control *controlPlane, ph *phoneFlags) error {
	if sipTLS := srv.cfg.sipSecrets.tls; sipTLS != nil && ph.tls != nil && ph.ws != "" {
		// phoneFlags.attach replaced the UA's certificate with --tls-cert's
		// for wss; without this the tls listener would serve it to trunks too.
		if err := srv.ua.SetTLS(mergeTLS(sipTLS, ph.tls)); err != nil {
			return fmt.Errorf("sip.tls with --tls-cert: %w", err)
		}
	}
	if control == nil {
		return nil
	}
	if err := control.api.Metrics().Register(newEdgeCollector(srv.ua, srv.cfg.SIP.Registrar)); err != nil {
		return fmt.Errorf("sip edge metrics: %w", err)
	}
	return nil
}

// mergeTLS is sip's configuration serving both certificates: crypto/tls
// picks the one naming the host a client asks for (SNI), and a client that
// names none (a trunk dialling an IP address) gets the first, sip.tls.cert's,
// which is also the client certificate offered to trunks.
func mergeTLS(sipTLS, phone *tls.Config) *tls.Config {
	c := sipTLS.Clone()
	c.Certificates = append(append([]tls.Certificate(nil), sipTLS.Certificates...), phone.Certificates...)
	return c
}

// edgeCollector reports the SIP edge (sip.UA.EdgeStats) and the registrar
// (sip.UA.Lookup of each configured extension) at scrape time, so the
// request path counts nothing twice and a scrape sees the UA as it is.
type edgeCollector struct {
	ua    *sip.UA
	users []string // the registrar's extensions; none without it

	admitted, dropped, authFailures, authStale, bans *prometheus.Desc
	banned, sources, registered, bindings            *prometheus.Desc
}

// newEdgeCollector builds the collector for ua; reg is sip.registrar (nil
// without one).
func newEdgeCollector(ua *sip.UA, reg *RegistrarConfig) prometheus.Collector {
	c := &edgeCollector{
		ua: ua,
		admitted: prometheus.NewDesc("waihu_sip_edge_admitted_total",
			"SIP requests that passed every edge check.", nil, nil),
		dropped: prometheus.NewDesc("waihu_sip_edge_dropped_total",
			"SIP requests dropped (UDP) or refused (TCP, WS) at the edge, by reason: banned, rate, not_allowed, scanner.",
			[]string{"reason"}, nil),
		authFailures: prometheus.NewDesc("waihu_sip_auth_failures_total",
			"Failed digest authentications of REGISTER and INVITE (wrong password, unknown user, forged or replayed nonce).", nil, nil),
		authStale: prometheus.NewDesc("waihu_sip_auth_stale_total",
			"Correct digest answers to an expired nonce (challenged again with stale=true; not failures).", nil, nil),
		bans: prometheus.NewDesc("waihu_sip_bans_total",
			"Source addresses banned after repeated failed authentication.", nil, nil),
		banned: prometheus.NewDesc("waihu_sip_banned",
			"Source addresses banned now.", nil, nil),
		sources: prometheus.NewDesc("waihu_sip_edge_sources",
			"Source addresses whose rate and failure state the edge holds now.", nil, nil),
		registered: prometheus.NewDesc("waihu_sip_registered_extensions",
			"Registrar extensions with at least one live registration.", nil, nil),
		bindings: prometheus.NewDesc("waihu_sip_registrar_bindings",
			"Live registrations (contacts) of all registrar extensions.", nil, nil),
	}
	if reg != nil {
		for _, e := range reg.Extensions {
			c.users = append(c.users, e.User)
		}
	}
	return c
}

// Describe sends every metric's description.
func (c *edgeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.admitted, c.dropped, c.authFailures, c.authStale, c.bans,
		c.banned, c.sources, c.registered, c.bindings} {
		ch <- d
	}
}

// Collect reads the UA once per scrape.
func (c *edgeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.ua.EdgeStats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.admitted, st.Admitted)
	counter(c.dropped, st.DroppedBanned, "banned")
	counter(c.dropped, st.DroppedRate, "rate")
	counter(c.dropped, st.DroppedNotAllowed, "not_allowed")
	counter(c.dropped, st.DroppedScanner, "scanner")
	counter(c.authFailures, st.AuthFailures)
	counter(c.authStale, st.AuthStale)
	counter(c.bans, st.Bans)
	gauge(c.banned, st.Banned)
	gauge(c.sources, st.Sources)
	if len(c.users) == 0 {
		return // no registrar: no registration gauges to mislead with zeros
	}
	registered, bindings := 0, 0
	for _, u := range c.users {
		if n := len(c.ua.Lookup(u)); n > 0 {
			registered++
			bindings += n
		}
	}
	gauge(c.registered, registered)
	gauge(c.bindings, bindings)
}
