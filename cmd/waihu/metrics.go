package main

import (
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/rtp"
	httpapi "github.com/waihu/waihu/server"
)

// metricsFeed reports what the dialler and the calls measure into the
// server's Prometheus collectors. Call states and event counts come from
// the event stream (the Hub counts them); this covers what events do not
// carry. A nil *metricsFeed counts nothing, as when serve runs without the
// control plane or `waihu campaign start` dials alone.
type metricsFeed struct{ m *httpapi.Metrics }

// dialed counts the final response to one outbound INVITE (200 when
// answered; 0, no response at all, is not a SIP code and is not counted).
func (f *metricsFeed) dialed(_ string, code int) {
	if f == nil {
		return
	}
	f.m.SIPResponse(code)
}

// leg records an RTP leg's loss and jitter over its whole call.
func (f *metricsFeed) leg(st rtp.Stats) {
	if f == nil {
		return
	}
	lost := int(max(st.PacketsLost, 0))
	f.m.RTPStats(lost, int(st.PacketsReceived)+lost, st.Jitter)
}

// turns records the recogniser's latency of each answered turn: from the
// end of the caller's speech to the final result.
func (f *metricsFeed) turns(turns []dialog.Turn) {
	if f == nil {
		return
	}
	for _, t := range turns {
		if !t.VADEnd.IsZero() && !t.Final.IsZero() && t.Final.After(t.VADEnd) {
			f.m.ASRLatency(t.Final.Sub(t.VADEnd))
		}
	}
}
