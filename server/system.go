package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/waihu/waihu/server/analytics"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// healthBody is /healthz's answer.
type healthBody struct {
	Status string `json:"status"`
}

// healthz answers 200 while the store answers, 503 when it does not, so a
// load balancer drains a node that lost its database.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.cfg.Store.Campaign(ctx, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("health check: store unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Status: "store unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
	return nil
}

func (s *Server) listTrunks(w http.ResponseWriter, r *http.Request) error {
	out := listBody[TrunkInfo]{Items: []TrunkInfo{}}
	if s.cfg.Trunks != nil {
		out.Items = append(out.Items, s.cfg.Trunks()...)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var kpiParams = []param{
	{"campaign", "integer", "one campaign's figures; absent means every campaign the caller sees"},
	{"from", "string", "start of the range (RFC 3339); default: span before to"},
	{"to", "string", "end of the range, exclusive (RFC 3339); default now"},
	{"span", "string", "length of the range when from is absent (Go duration such as 24h); default 24h"},
	{"group_by", "string", "also split by campaign, variant, trunk, caller_id or hour"},
	{"tz", "string", "IANA time zone of hour groups; default UTC"},
}

// kpiQuery reads the KPI query parameters.
func (s *Server) kpiQuery(r *http.Request) (kpi.Query, error) {
	qs := r.URL.Query()
	var q kpi.Query
	id, err := queryInt(r, "campaign", 0, 0, 1<<62)
	if err != nil {
		return q, err
	}
	q.CampaignID = id
	q.To = s.cfg.Now()
	if v := qs.Get("to"); v != "" {
		if q.To, err = time.Parse(time.RFC3339, v); err != nil {
			return q, badInput("to", "to must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", v)
		}
	}
	span := 24 * time.Hour
	if v := qs.Get("span"); v != "" {
		if span, err = time.ParseDuration(v); err != nil || span <= 0 {
			return q, badInput("span", "span must be a positive Go duration such as 1h or 30m, not %q", v)
		}
	}
	q.From = q.To.Add(-span)
	if v := qs.Get("from"); v != "" {
		if q.From, err = time.Parse(time.RFC3339, v); err != nil {
			return q, badInput("from", "from must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", v)
		}
	}
	if !q.From.Before(q.To) {
		return q, badInput("from", "from must be before to")
	}
	if q.GroupBy, err = kpi.ParseGroupBy(qs.Get("group_by")); err != nil {
		return q, badInput("group_by", "%v", err)
	}
	if v := qs.Get("tz"); v != "" {
		if q.Location, err = time.LoadLocation(v); err != nil {
			return q, badInput("tz", "unknown time zone %q", v)
		}
	}
	q.Rules = s.cfg.KPIRules
	return q, nil
}

// kpiReport computes q's report over the campaigns p sees: a principal
// limited to some campaigns gets figures of those alone.
func (s *Server) kpiReport(ctx context.Context, p *auth.Principal, q kpi.Query) (kpi.Report, error) {
	if p.Campaigns == nil || q.CampaignID != 0 {
		return kpi.FromStore(ctx, s.cfg.Store, q)
	}
	lists, err := kpi.ListsFromStore(ctx, s.cfg.Store, p.Campaigns...)
	if err != nil {
		return kpi.Report{}, err
	}
	var recs []store.CallRecord
	for _, id := range p.Campaigns {
		list, err := s.cfg.Store.CallRecordsBetween(ctx, id, q.From, q.To)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return kpi.Report{}, fmt.Errorf("kpis: call records of campaign %d: %w", id, err)
		}
		recs = append(recs, list...)
	}
	return kpi.Compute(recs, lists, q), nil
}

func (s *Server) getKPIs(w http.ResponseWriter, r *http.Request) error {
	q, err := s.kpiQuery(r)
	if err != nil {
		return err
	}
	if q.CampaignID != 0 {
		if _, err := s.campaignFor(r, q.CampaignID); err != nil {
			return notFound("campaign", "campaign %d not found", q.CampaignID)
		}
	}
	rep, err := s.kpiReport(r.Context(), principal(r), q)
	if err != nil {
		return fmt.Errorf("compute kpis: %w", err)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

var segmentParams = []param{
	{"campaign", "integer", "the campaign whose contacts are segmented (required)"},
	{"k", "integer", "number of segments; absent chooses 2 to 8 by silhouette"},
	{"fields", "string", "comma-separated custom fields to segment by; default every numeric one"},
	{"seed", "integer", "seed of the k-means++ starts, for a reproducible result"},
}

var forecastParams = []param{
	{"campaign", "integer", "one campaign's history; absent means every campaign the caller sees"},
	{"measure", "string", "answer_seizure_ratio (default) or human_contact_rate"},
	{"tz", "string", "IANA time zone of days and hours; default UTC"},
	{"history_days", "integer", "days of history to read (default 56)"},
}

func (s *Server) getSegments(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("campaign") == "" {
		return badInput("campaign", "campaign is required")
	}
	id, err := queryInt(r, "campaign", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	k, err := queryInt(r, "k", 0, 1, 50)
	if err != nil {
		return err
	}
	seed, err := queryInt(r, "seed", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	opt := analytics.SegmentOptions{K: int(k), Seed: uint64(seed), Rules: s.cfg.KPIRules}
	if v := r.URL.Query().Get("fields"); v != "" {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				opt.Fields = append(opt.Fields, f)
			}
		}
	}
	if _, err := s.campaignFor(r, id); err != nil {
		return notFound("campaign", "campaign %d not found", id)
	}
	rep, err := analytics.SegmentsFromStore(r.Context(), s.cfg.Store, id, opt)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("campaign", "campaign %d not found", id)
		}
		// What remains is about the data: too few contacts, a field no
		// contact has.
		return &apiError{Status: http.StatusUnprocessableEntity, Msg: err.Error()}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// defaultHistoryDays is analytics.ForecastOptions.HistoryDays's default.
const defaultHistoryDays = 56

func (s *Server) getForecast(w http.ResponseWriter, r *http.Request) error {
	qs := r.URL.Query()
	id, err := queryInt(r, "campaign", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	days, err := queryInt(r, "history_days", 0, 1, 3660)
	if err != nil {
		return err
	}
	opt := analytics.ForecastOptions{Now: s.cfg.Now(), HistoryDays: int(days), Rules: s.cfg.KPIRules}
	switch m := kpi.Name(qs.Get("measure")); m {
	case "", kpi.AnswerSeizureRatio, kpi.HumanContactRate:
		opt.Measure = m
	default:
		return badInput("measure", "measure must be %s or %s, not %q", kpi.AnswerSeizureRatio, kpi.HumanContactRate, m)
	}
	if v := qs.Get("tz"); v != "" {
		if opt.Location, err = time.LoadLocation(v); err != nil {
			return badInput("tz", "unknown time zone %q", v)
		}
	}
	p := principal(r)
	if id != 0 {
		if _, err := s.campaignFor(r, id); err != nil {
			return notFound("campaign", "campaign %d not found", id)
		}
	}
	var f analytics.Forecast
	if id != 0 || p.Campaigns == nil {
		f, err = analytics.ForecastFromStore(r.Context(), s.cfg.Store, id, opt)
	} else {
		// The history the forecast reads, with two days to spare for the
		// zone's offset: the forecast places each record itself.
		days := int(days)
		if days == 0 {
			days = defaultHistoryDays
		}
		from := opt.Now.AddDate(0, 0, -days-2)
		var recs []store.CallRecord
		for _, cid := range p.Campaigns {
			list, lerr := s.cfg.Store.CallRecordsBetween(r.Context(), cid, from, time.Time{})
			if lerr != nil {
				return fmt.Errorf("forecast: call records of campaign %d: %w", cid, lerr)
			}
			recs = append(recs, list...)
		}
		f, err = analytics.ForecastAnswerRate(recs, opt)
	}
	if errors.Is(err, analytics.ErrNoHistory) {
		return &apiError{Status: http.StatusUnprocessableEntity, Msg: "no call history to forecast from yet", Field: "campaign"}
	}
	if err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}
