package server

import (
	"encoding/csv"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/store"
)

// walkCalls follows next cursors from path (which has its own query) and
// returns every page's items, failing if the pages never end.
func (f *fixture) walkCalls(t *testing.T, path, token string) (pages [][]callView) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var after int64
	for range 100 {
		url := path
		if after != 0 {
			url += sep + "after=" + strconv.FormatInt(after, 10)
		}
		var page callPage
		f.get(url, token).must(t, 200).json(t, &page)
		pages = append(pages, page.Items)
		if page.Next == 0 {
			return pages
		}
		after = page.Next
	}
	t.Fatal("the pages never end")
	return nil
}

func recordIDsOf(items []callView) []int64 {
	var out []int64
	for _, c := range items {
		if !c.Live {
			out = append(out, c.RecordID)
		}
	}
	return out
}

func TestCallListPagesWalkEveryRecordOnceNewestFirst(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var alpha, beta []int64
	for i, o := range []string{"interested", "", "declined", "", "interested"} {
		alpha = append(alpha, f.newCalls(ctx, f.alpha, fmt.Sprintf("pa%d", i), base.Add(time.Duration(i)*time.Minute), o)[0].ID)
	}
	for i, o := range []string{"", "declined"} {
		beta = append(beta, f.newCalls(ctx, f.beta, fmt.Sprintf("pb%d", i), base.Add(time.Duration(i)*time.Minute), o)[0].ID)
	}
	alpha = append(alpha, f.recordID)
	f.calls.live = []CallInfo{{ID: "live-a", CampaignID: f.alpha, Phone: phoneA2, State: "answered"}}
	newestFirst := func(ids ...[]int64) []int64 {
		out := slices.Concat(ids...)
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	all, _ := f.st.CallRecords(ctx, f.beta, 0)
	for _, r := range all {
		if !slices.Contains(beta, r.ID) {
			beta = append(beta, r.ID) // the seeded rec-b1
		}
	}
	for _, tc := range []struct {
		name, path, token string
		want              []int64
		pageSizes         []int
	}{
		{"every campaign", "/api/v1/calls?limit=3", tokAdmin, newestFirst(alpha, beta), []int{1 + 3, 3, 3}},
		{"one campaign", fmt.Sprintf("/api/v1/calls?campaign=%d&limit=4", f.beta), tokAdmin, newestFirst(beta), []int{3}},
		{"an agent sees its campaign alone", "/api/v1/calls?limit=4", tokAgent, newestFirst(alpha), []int{1 + 4, 2}},
		{"a page holds all", "/api/v1/calls?limit=1000", tokAdmin, newestFirst(alpha, beta), []int{1 + 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages := f.walkCalls(t, tc.path, tc.token)
			var got []int64
			var sizes []int
			for i, p := range pages {
				sizes = append(sizes, len(p))
				got = append(got, recordIDsOf(p)...)
				if live := slices.ContainsFunc(p, func(c callView) bool { return c.Live }); live != (i == 0 && tc.name != "one campaign") {
					t.Errorf("page %d has live calls: %v", i, live)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("records %v\nwant %v", got, tc.want)
			}
			if !slices.Equal(sizes, tc.pageSizes) {
				t.Fatalf("page sizes %v, want %v", sizes, tc.pageSizes)
			}
		})
	}
}

func TestCallListFiltersByDispositionOutcomeAndTime(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	recs := f.newCalls(ctx, f.alpha, "flt", base, "interested", "", "declined")
	late := f.newCalls(ctx, f.alpha, "late", base.Add(time.Hour), "")[0]
	f.calls.live = []CallInfo{{ID: "live-a", CampaignID: f.alpha, Phone: phoneA2, State: "answered"}}
	for _, tc := range []struct {
		name, query string
		want        []int64
	}{
		{"disposition", "disposition=no_answer", []int64{late.ID, recs[1].ID}},
		{"outcomes", "outcome=interested,declined&campaign=" + itoa(f.alpha), []int64{recs[2].ID, recs[0].ID, f.recordID}},
		{"attempted in a range", "from=2026-03-01T08:00:00Z&to=2026-03-01T09:00:00Z", []int64{recs[2].ID, recs[1].ID, recs[0].ID}},
		{"range and disposition", "from=2026-03-01T08:00:00Z&to=2026-03-01T09:00:00Z&disposition=answered", []int64{recs[2].ID, recs[0].ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var page callPage
			f.get("/api/v1/calls?"+tc.query, tokAdmin).must(t, 200).json(t, &page)
			if slices.ContainsFunc(page.Items, func(c callView) bool { return c.Live }) {
				t.Error("a filtered list shows live calls, which have no disposition yet")
			}
			if got := recordIDsOf(page.Items); !slices.Equal(got, tc.want) || page.Next != 0 {
				t.Fatalf("records %v next %d, want %v", got, page.Next, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, query, field string }{
		{"cursor not a number", "after=abc", "after"},
		{"negative cursor", "after=-5", "after"},
		{"from not a time", "from=yesterday", "from"},
		{"to not a time", "to=2026-13-01", "to"},
		{"empty range", "from=2026-03-01T09:00:00Z&to=2026-03-01T08:00:00Z", "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := f.get("/api/v1/calls?"+tc.query, tokAdmin).must(t, 400).errorBody(t); e.Field != tc.field {
				t.Fatalf("error %+v, want field %q", e, tc.field)
			}
		})
	}
}

func TestCallGetFindsTheNewestAttemptOfACallID(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// A Call-ID reused by a later attempt (a trunk that recycles them)
	// names the newest.
	f.newCalls(ctx, f.alpha, "reused", time.Date(2026, 3, 2, 9, 40, 0, 0, time.UTC), "interested")
	second := f.newCalls(ctx, f.alpha, "reused", time.Date(2026, 3, 2, 9, 45, 0, 0, time.UTC), "declined")[0]
	var c callView
	f.get("/api/v1/calls/reused-0", tokAdmin).must(t, 200).json(t, &c)
	if c.RecordID != second.ID || c.Outcome != "declined" {
		t.Fatalf("call %+v, want record %d", c, second.ID)
	}
	// An agent limited to alpha finds neither beta's call by Call-ID nor
	// by record id.
	beta := f.newCalls(ctx, f.beta, "hidden", time.Date(2026, 3, 2, 9, 45, 0, 0, time.UTC), "declined")[0]
	f.get("/api/v1/calls/hidden-0", tokAgent).must(t, 404)
	f.get("/api/v1/calls/"+strconv.FormatInt(beta.ID, 10), tokAgent).must(t, 404)
}

func TestCallExportStreamsEveryRecordInPages(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ExportPage = 2 })
	ctx := t.Context()
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	recs := f.newCalls(ctx, f.alpha, "exp", base, "interested", "", "declined", "", "interested")
	want := []string{strconv.FormatInt(f.recordID, 10)}
	for _, r := range recs {
		want = append(want, strconv.FormatInt(r.ID, 10))
	}
	r := f.get(fmt.Sprintf("/api/v1/campaigns/%d/calls.csv", f.alpha), tokAdmin).must(t, 200)
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[0])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("exported records %v, want %v oldest first, each once", got, want)
	}
	if e := f.audit.find("call.export"); len(e) != 1 || !strings.HasPrefix(e[0].Detail, "6 records") {
		t.Fatalf("audit %+v", e)
	}
	// A campaign without records exports its header alone.
	empty, err := campaign.Create(ctx, f.st, "empty", campaign.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	r = f.get(fmt.Sprintf("/api/v1/campaigns/%d/calls.csv", empty.ID), tokAdmin).must(t, 200)
	if rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll(); err != nil || len(rows) != 1 || !slices.Equal(rows[0], exportColumns) {
		t.Fatalf("empty export %q %v", r.body, err)
	}
}

func TestOpenAPIDocumentsTheCallsCursor(t *testing.T) {
	f := newFixture(t)
	var doc openapiDoc
	f.get("/openapi.json", tokViewer).must(t, 200).json(t, &doc)
	params, _ := doc.Paths["/api/v1/calls"]["get"]["parameters"].([]any)
	var names []string
	for _, p := range params {
		if m, ok := p.(map[string]any); ok {
			names = append(names, fmt.Sprint(m["name"]))
		}
	}
	for _, want := range []string{"campaign", "limit", "after", "disposition", "outcome", "from", "to"} {
		if !slices.Contains(names, want) {
			t.Errorf("GET /api/v1/calls does not document ?%s= (has %v)", want, names)
		}
	}
	props, _ := doc.Components.Schemas["CallPage"]["properties"].(map[string]any)
	if _, ok := props["next"]; !ok {
		t.Errorf("CallPage has no next cursor: %v", props)
	}
}

func TestDocsDescribeEveryQueryParameter(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	f := newFixture(t)
	for _, rt := range f.srv.routes {
		for _, q := range rt.query {
			if !strings.Contains(doc, "?"+q.name+"=") {
				t.Errorf("docs/api.md does not describe ?%s= of %s", q.name, rt.pattern())
			}
		}
	}
}

// TestCallAndKPIRoutesNeverReadAWholeHistory holds the routes that used to
// load every record of the visible campaigns to the store's pages and
// windows.
func TestCallAndKPIRoutesNeverReadAWholeHistory(t *testing.T) {
	var cs *countingStore
	f := newFixture(t, withCountingStore(&cs), func(c *Config) { c.ExportPage = 2 })
	f.newCalls(t.Context(), f.alpha, "h", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), "interested", "", "declined")
	for _, tok := range []string{tokAdmin, tokAgent} {
		f.get("/api/v1/calls?limit=2", tok).must(t, 200)
		f.get("/api/v1/calls/rec-a1", tok).must(t, 200)
		f.get(fmt.Sprintf("/api/v1/calls/%d", f.recordID), tok).must(t, 200)
		f.get(fmt.Sprintf("/api/v1/campaigns/%d/calls.csv", f.alpha), tok).must(t, 200)
		f.get("/api/v1/kpis?span=1h", tok).must(t, 200)
		if r := f.get("/api/v1/analytics/forecast", tok); r.status != 200 && r.status != 422 {
			t.Fatalf("forecast: %d %s", r.status, r.body)
		}
	}
	if n := cs.maxPage.Load(); n > 3 {
		t.Errorf("a page of %d records read, want at most limit+1 or the export's page", n)
	}
	// The live KPI window loads the last hour in pages of its own.
	c := f.wsDial(t, "", tokAgent)
	f.waitSubscribers(t, 1)
	if m := readMsg(t, c); m.Type != msgKPIs {
		t.Fatalf("greeting %+v", m)
	}
	if n := cs.maxPage.Load(); n > livePage {
		t.Errorf("a page of %d records read, want at most %d", n, livePage)
	}
	if n := cs.histories.Load(); n != 0 {
		t.Errorf("%d reads of a campaign's whole history", n)
	}
}

// BenchmarkCallList is one page of GET /api/v1/calls and one GET by Call-ID
// over 100k records: the first page, a page deep in the history (the
// keyset makes it cost the same), and, as the baseline, the whole-history
// read and sort that the list and the lookup did before the store had pages.
func BenchmarkCallList(b *testing.B) {
	f := newFixture(b)
	const n = 100_000
	seedBenchRecords(b, f, n)
	recs, err := f.st.QueryCallRecords(b.Context(), store.RecordQuery{Limit: 1, Ascending: true, After: int64(n / 10)})
	if err != nil || len(recs) != 1 {
		b.Fatal(recs, err)
	}
	deep := recs[0]
	get := func(b *testing.B, path string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[tokAdmin])
		w := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	for _, bc := range []struct{ name, path string }{
		{"first page", "/api/v1/calls?limit=100"},
		{"deep page", fmt.Sprintf("/api/v1/calls?limit=100&after=%d", deep.ID)},
		{"by Call-ID", "/api/v1/calls/" + deep.SIPCallID},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get(b, bc.path)
			}
		})
	}
	b.Run("whole history (before)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var all []store.CallRecord
			for _, id := range []int64{f.alpha, f.beta} {
				list, err := f.st.CallRecords(b.Context(), id, 0)
				if err != nil {
					b.Fatal(err)
				}
				all = append(all, list...)
			}
			slices.SortStableFunc(all, func(x, y store.CallRecord) int { return y.AttemptAt.Compare(x.AttemptAt) })
		}
	})
}

func TestCallRecordsShowTheDiallersVerdictsAndTransferMasked(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	claimed, err := f.st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: f.alpha, Node: "n1", Now: at.Add(time.Hour), Limit: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	k := claimed[0]
	rec := store.CallRecord{CampaignID: f.alpha, ContactID: k.ID, Phone: k.Phone, Node: "n1", SIPCallID: "rec-verdicts", AttemptAt: at}
	if rec.ID, err = f.st.BeginAttempt(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.AnsweredAt, rec.GreetedAt, rec.EndedAt = at.Add(5*time.Second), at.Add(5800*time.Millisecond), at.Add(time.Minute)
	rec.SIPCode, rec.Disposition, rec.AnsweredBy, rec.Outcome = 200, "answered", "human", "transferred"
	rec.Converted, rec.OptedOut = store.Bool(true), store.Bool(false)
	rec.TransferredAt, rec.TransferTarget = at.Add(40*time.Second), "sip:"+phoneA2+"@agents.example"
	rec.TransferMode, rec.TransferResult = store.TransferBridge, store.TransferSucceeded
	if err := f.st.FinishAttempt(ctx, rec, store.ContactUpdate{State: store.StateDone, LastDisposition: rec.Disposition}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		token, target string
	}{
		{tokAdmin, "sip:" + phoneA2 + "@agents.example"},
		{tokAnalyst, "sip:139****1111@agents.example"},
	} {
		var v callView
		f.get("/api/v1/calls/rec-verdicts", tc.token).must(t, 200).json(t, &v)
		if v.Converted == nil || !*v.Converted || v.OptedOut == nil || *v.OptedOut || !v.GreetedAt.Equal(rec.GreetedAt) {
			t.Errorf("%s: verdicts %+v", tc.token, v)
		}
		if v.Transfer == nil || v.Transfer.Target != tc.target || v.Transfer.Mode != store.TransferBridge || v.Transfer.Result != store.TransferSucceeded {
			t.Errorf("%s: transfer %+v, want target %s", tc.token, v.Transfer, tc.target)
		}

		r := f.get(fmt.Sprintf("/api/v1/campaigns/%d/calls.csv", f.alpha), tc.token).must(t, 200)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(rows) < 2 {
			t.Fatalf("%s: export %v (%v)", tc.token, rows, err)
		}
		last := rows[len(rows)-1] // oldest first: ours is the newest
		col := func(name string) string { return last[slices.Index(exportColumns, name)] }
		if col("converted") != "true" || col("opted_out") != "false" || col("transfer_target") != tc.target ||
			col("transfer_result") != store.TransferSucceeded || col("greeted_at") != "2026-03-02T09:30:05.8Z" {
			t.Errorf("%s: export row %v", tc.token, last)
		}
	}
}
