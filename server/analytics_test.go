package server

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/server/analytics"
	"github.com/waihu/waihu/store"
)

func TestSegmentsRouteFindsTheGroupThatConverts(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, err := campaign.Create(ctx, f.st, "ages", campaign.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	var list []store.Contact
	for i := range 12 {
		age := 25 + i%3
		if i >= 6 {
			age = 60 + i%3
		}
		list = append(list, store.Contact{Phone: fmt.Sprintf("1380000%04d", i), Custom: map[string]any{"age": age}})
	}
	if _, err := f.st.AddContacts(ctx, c.ID, list); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, k := range list {
		outcome := "interested"
		if i >= 6 {
			outcome = "not_interested"
		}
		f.call(ctx, c.ID, k.Phone, fmt.Sprintf("seg-%d", i), at, outcome)
	}
	var rep analytics.SegmentReport
	f.get(fmt.Sprintf("/api/v1/analytics/segments?campaign=%d&k=2&seed=1&fields=age", c.ID), tokViewer).must(t, 200).json(t, &rep)
	if rep.K != 2 || len(rep.Segments) != 2 || rep.Contacts != 12 {
		t.Fatalf("report %+v", rep)
	}
	best := rep.Segments[0]
	if best.Size != 6 || best.ConversionRate != 1 || math.Abs(best.Centroid[0]-26) > 0.01 || rep.Segments[1].ConversionRate != 0 {
		t.Fatalf("segments %+v: want the young six, all converted, first", rep.Segments)
	}
	runBadInput(t, f, []badInputCase{
		{"segments without campaign", "GET", "/api/v1/analytics/segments", "", "", "", 400, "campaign"},
		{"segments with bad k", "GET", fmt.Sprintf("/api/v1/analytics/segments?campaign=%d&k=x", c.ID), "", "", "", 400, "k"},
		{"segments of an unknown campaign", "GET", "/api/v1/analytics/segments?campaign=999", "", "", "", 404, "campaign"},
		{"segments of another agent's campaign", "GET", fmt.Sprintf("/api/v1/analytics/segments?campaign=%d", c.ID), tokAgent, "", "", 404, "campaign"},
		{"forecast with a bad measure", "GET", "/api/v1/analytics/forecast?measure=mood", "", "", "", 400, "measure"},
		{"forecast with a bad zone", "GET", "/api/v1/analytics/forecast?tz=Mars", "", "", "", 400, "tz"},
	})
}

func TestForecastRouteProjectsTheHourlyAnswerRate(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, err := campaign.Create(ctx, f.st, "history", campaign.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	// Three weeks of 10:00 calls, two of every three answered.
	const days = 21
	var list []store.Contact
	for i := range days * 3 {
		list = append(list, store.Contact{Phone: fmt.Sprintf("1390000%04d", i)})
	}
	if _, err := f.st.AddContacts(ctx, c.ID, list); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i, k := range list {
		at := now.AddDate(0, 0, -1-i/3).Add(time.Duration(i%3) * time.Minute)
		outcome := "interested"
		if i%3 == 2 {
			outcome = ""
		}
		f.call(ctx, c.ID, k.Phone, fmt.Sprintf("h-%d", i), at, outcome)
	}
	var fc analytics.Forecast
	f.get(fmt.Sprintf("/api/v1/analytics/forecast?campaign=%d", c.ID), tokViewer).must(t, 200).json(t, &fc)
	if len(fc.Hours) != 1 || fc.Hours[0].Hour != 10 || len(fc.Hours[0].Points) != 7 {
		t.Fatalf("forecast %+v", fc)
	}
	for _, p := range fc.Hours[0].Points {
		if math.Abs(p.Rate-2.0/3) > 0.05 {
			t.Fatalf("point %+v: want about 2/3", p)
		}
	}
	// Beta's one call is today's: no history before today, nothing to project.
	var none analytics.Forecast
	f.get(fmt.Sprintf("/api/v1/analytics/forecast?campaign=%d", f.beta), tokViewer).must(t, 200).json(t, &none)
	if len(none.Hours) != 0 {
		t.Fatalf("forecast without history %+v", none)
	}
	// The agent's forecast reads alpha alone, which has no history either.
	f.get("/api/v1/analytics/forecast", tokAgent).must(t, 200).json(t, &none)
	if len(none.Hours) != 0 {
		t.Fatalf("agent's forecast %+v", none)
	}
}
