package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// countingStore counts the reads of call records, the reads that grow
// with the call history.
type countingStore struct {
	store.Store
	reads atomic.Int64
	// histories counts reads of a campaign's whole history (CallRecords
	// without a contact); maxPage is the largest page asked for.
	histories atomic.Int64
	maxPage   atomic.Int64
}

func (c *countingStore) CallRecords(ctx context.Context, campaignID, contactID int64) ([]store.CallRecord, error) {
	c.reads.Add(1)
	if contactID == 0 {
		c.histories.Add(1)
	}
	return c.Store.CallRecords(ctx, campaignID, contactID)
}

func (c *countingStore) CallRecordsBetween(ctx context.Context, campaignID int64, from, to time.Time) ([]store.CallRecord, error) {
	c.reads.Add(1)
	return c.Store.CallRecordsBetween(ctx, campaignID, from, to)
}

func (c *countingStore) QueryCallRecords(ctx context.Context, q store.RecordQuery) ([]store.CallRecord, error) {
	c.reads.Add(1)
	for {
		m := c.maxPage.Load()
		if int64(q.Limit) <= m || c.maxPage.CompareAndSwap(m, int64(q.Limit)) {
			break
		}
	}
	return c.Store.QueryCallRecords(ctx, q)
}

func (c *countingStore) CallRecordsEndedSince(ctx context.Context, ids []int64, since, from time.Time) ([]store.CallRecord, error) {
	c.reads.Add(1)
	return c.Store.CallRecordsEndedSince(ctx, ids, since, from)
}

func withCountingStore(cs **countingStore) fixtureOpt {
	return func(c *Config) {
		*cs = &countingStore{Store: c.Store}
		c.Store = *cs
	}
}

// fixtureNow is the fixture's clock (newFixture's Config.Now).
var fixtureNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// newCalls adds one contact per outcome to campaignID and stores a finished
// call for each, attempted at at, as another node would: through the store
// alone. It returns the records.
func (f *fixture) newCalls(ctx context.Context, campaignID int64, prefix string, at time.Time, outcomes ...string) []store.CallRecord {
	f.t.Helper()
	var out []store.CallRecord
	for i, o := range outcomes {
		phone := fmt.Sprintf("1360000%04d", len(f.contacts)) // each call adds its contact to f.contacts
		if _, err := f.st.AddContacts(ctx, campaignID, []store.Contact{{Phone: phone}}); err != nil {
			f.t.Fatal(err)
		}
		id := f.call(ctx, campaignID, phone, fmt.Sprintf("%s-%d", prefix, i), at, o)
		rec, err := f.st.CallRecord(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// storeReport is what the store says of the live span: the figures the
// window must agree with.
func (f *fixture) storeReport(t *testing.T, p *auth.Principal, campaignID int64) kpi.Report {
	t.Helper()
	q := kpi.Last(f.srv.cfg.KPIWindow, fixtureNow)
	q.CampaignID = campaignID
	rep, err := f.srv.kpiReport(t.Context(), p, q)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fixture) liveReport(t *testing.T, p *auth.Principal, campaignID int64) kpi.Report {
	t.Helper()
	rep, err := f.srv.liveReport(t.Context(), p, campaignID)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func sameFigures(t *testing.T, what string, got, want kpi.Report) {
	t.Helper()
	g, w := got.Total, want.Total
	if g.Calls != w.Calls || g.KPIs != w.KPIs {
		t.Fatalf("%s: live %d calls %+v\nstore %d calls %+v", what, g.Calls, g.KPIs, w.Calls, w.KPIs)
	}
}

func TestLiveKPIsCountAFinishedRecordWithoutReadingTheStore(t *testing.T) {
	var cs *countingStore
	f := newFixture(t, withCountingStore(&cs))
	ctx := t.Context()
	admin := &auth.Principal{}
	f.liveReport(t, admin, 0) // loads the window
	loaded := cs.reads.Load()
	recs := f.newCalls(ctx, f.alpha, "told", fixtureNow.Add(-2*time.Minute), "interested", "", "declined")
	before := cs.reads.Load()
	for _, rec := range recs {
		f.srv.RecordFinished(rec)
	}
	f.srv.RecordFinished(recs[0]) // told twice, counted once
	for range 10 {
		f.liveReport(t, admin, 0)
	}
	if n := cs.reads.Load() - before; n != 0 {
		t.Fatalf("%d record reads for ten snapshots, want none", n)
	}
	if loaded == 0 {
		t.Fatal("the window was never loaded from the store")
	}
	if got := f.liveReport(t, admin, 0); got.Total.Calls != 5 {
		t.Fatalf("live calls %d, want 2 seeded + 3 told", got.Total.Calls)
	}
	// The reconciliation reads the told records again (they ended within
	// its overlap) and the list sizes, which grew with the new contacts.
	f.srv.reconcileKPIs(ctx)
	got := f.liveReport(t, admin, 0)
	if got.Total.Calls != 5 {
		t.Fatalf("live calls %d after reconciling, want 5: a record counted twice", got.Total.Calls)
	}
	sameFigures(t, "after RecordFinished and a reconciliation", got, f.storeReport(t, admin, 0))
}

func TestLiveKPIsReconcileRecordsOfOtherNodes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	admin, agent := &auth.Principal{}, &auth.Principal{Campaigns: []int64{f.alpha}}
	for _, tc := range []struct {
		name     string
		p        *auth.Principal
		campaign int64
	}{
		{"every campaign", admin, 0},
		{"one campaign", admin, f.beta},
		{"a limited principal's campaigns", agent, 0},
	} {
		f.liveReport(t, tc.p, tc.campaign)
	}
	// Another node sharing the store finishes calls this node is not told
	// of; one ends well inside the overlap, so it is read twice.
	f.newCalls(ctx, f.alpha, "other-a", fixtureNow.Add(-3*time.Minute), "interested", "")
	f.newCalls(ctx, f.beta, "other-b", fixtureNow.Add(-2*time.Minute), "declined")
	// A record attempted before the span does not enter it.
	f.newCalls(ctx, f.beta, "old", fixtureNow.Add(-2*time.Hour), "declined")
	f.srv.reconcileKPIs(ctx)
	f.srv.reconcileKPIs(ctx)
	for _, tc := range []struct {
		name      string
		p         *auth.Principal
		campaign  int64
		wantCalls int
	}{
		{"every campaign", admin, 0, 5},
		{"one campaign", admin, f.beta, 2},
		{"a limited principal's campaigns", agent, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := f.liveReport(t, tc.p, tc.campaign)
			if got.Total.Calls != tc.wantCalls {
				t.Fatalf("live calls %d, want %d", got.Total.Calls, tc.wantCalls)
			}
			sameFigures(t, tc.name, got, f.storeReport(t, tc.p, tc.campaign))
		})
	}
}

func TestLiveKPIWindowsAreLoadedAfreshToCatchLateRecords(t *testing.T) {
	var now atomic.Pointer[time.Time]
	now.Store(&fixtureNow)
	f := newFixture(t, func(c *Config) { c.Now = func() time.Time { return *now.Load() } })
	ctx := t.Context()
	admin := &auth.Principal{}
	before := f.liveReport(t, admin, 0)
	// A record stored now that ended long before the reconciliation's
	// overlap: a node that finished it late.
	f.newCalls(ctx, f.alpha, "late", fixtureNow.Add(-10*time.Minute), "interested")
	f.srv.reconcileKPIs(ctx)
	if got := f.liveReport(t, admin, 0); got.Total.Calls != before.Total.Calls {
		t.Fatalf("live calls %d: the reconciliation was expected to miss the late record", got.Total.Calls)
	}
	later := fixtureNow.Add(liveResync)
	now.Store(&later)
	f.srv.reconcileKPIs(ctx)
	got := f.liveReport(t, admin, 0)
	if got.Total.Calls != before.Total.Calls+1 {
		t.Fatalf("live calls %d after the window was loaded afresh, want %d", got.Total.Calls, before.Total.Calls+1)
	}
	q := kpi.Last(f.srv.cfg.KPIWindow, later)
	want, err := f.srv.kpiReport(ctx, admin, q)
	if err != nil {
		t.Fatal(err)
	}
	sameFigures(t, "after a fresh load", got, want)
}

func TestLiveKPIsOfALimitedScopeIgnoreOtherCampaigns(t *testing.T) {
	f := newFixture(t)
	agent := &auth.Principal{Campaigns: []int64{f.alpha}}
	before := f.liveReport(t, agent, 0)
	for _, rec := range f.newCalls(t.Context(), f.beta, "beta", fixtureNow.Add(-time.Minute), "interested") {
		f.srv.RecordFinished(rec)
	}
	if got := f.liveReport(t, agent, 0); got.Total.Calls != before.Total.Calls || got.CampaignID != 0 {
		t.Fatalf("agent's live calls %d (campaign %d), want %d: beta's call leaked", got.Total.Calls, got.CampaignID, before.Total.Calls)
	}
}

func TestLiveKPIWindowsOfUnwatchedScopesAreDropped(t *testing.T) {
	f := newFixture(t)
	f.liveReport(t, &auth.Principal{}, f.alpha)
	if n := len(f.srv.liveScopes()); n != 1 {
		t.Fatalf("%d windows, want 1", n)
	}
	f.srv.pushKPIs(t.Context()) // no subscriber watches it
	if n := len(f.srv.liveScopes()); n != 0 {
		t.Fatalf("%d windows after their watchers left, want 0", n)
	}
}

func TestLiveKPIsCountEachRecordOnceUnderConcurrentFeeds(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	admin := &auth.Principal{}
	// Records stored before the window exists, told while it loads and
	// read again by reconciliations running alongside.
	recs := f.newCalls(ctx, f.alpha, "race", fixtureNow.Add(-time.Minute), "interested", "", "declined", "interested", "")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range recs {
				f.srv.RecordFinished(recs[(i+g)%len(recs)])
			}
		})
		wg.Go(func() {
			if _, err := f.srv.liveReport(ctx, admin, 0); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() { f.srv.reconcileKPIs(ctx) })
	}
	wg.Wait()
	f.srv.reconcileKPIs(ctx)
	got := f.liveReport(t, admin, 0)
	if got.Total.Calls != 2+len(recs) {
		t.Fatalf("live calls %d, want %d", got.Total.Calls, 2+len(recs))
	}
	sameFigures(t, "after concurrent feeds", got, f.storeReport(t, admin, 0))
}

func TestASubscriberSeesARecordFinishedWithoutAnEvent(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SnapshotInterval = time.Hour })
	c := f.wsDial(t, "?campaign="+itoa(f.alpha), tokViewerWith(f, "events:read", "kpis:read"))
	f.waitSubscribers(t, 1)
	first := readMsg(t, c)
	if first.Type != msgKPIs {
		t.Fatalf("greeting %+v", first)
	}
	for _, rec := range f.newCalls(t.Context(), f.alpha, "told", fixtureNow.Add(-time.Minute), "interested") {
		f.srv.RecordFinished(rec)
	}
	if m := readMsg(t, c); m.Type != msgKPIs || m.KPIs.Total.Calls != first.KPIs.Total.Calls+1 {
		t.Fatalf("got %+v, want a snapshot with one call more than %d", m, first.KPIs.Total.Calls)
	}
}

// BenchmarkRecordFinished is what telling the live KPIs of one finished
// call costs its node with three scopes watched.
func BenchmarkRecordFinished(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	for _, p := range []*auth.Principal{{}, {Campaigns: []int64{f.alpha}}} {
		if _, err := f.srv.liveReport(ctx, p, 0); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.srv.liveReport(ctx, &auth.Principal{}, f.alpha); err != nil {
		b.Fatal(err)
	}
	rec := store.CallRecord{CampaignID: f.alpha, ContactID: 1, AttemptAt: fixtureNow.Add(-time.Minute),
		AnsweredAt: fixtureNow.Add(-55 * time.Second), EndedAt: fixtureNow, SIPCode: 200, Disposition: "answered",
		AnsweredBy: "human", Outcome: "interested",
		Transcript: []byte(`[{"side":"bot","text":"hello","at":1000},{"side":"caller","text":"yes please","at":4000}]`)}
	b.ReportAllocs()
	for b.Loop() {
		rec.ID++
		f.srv.RecordFinished(rec)
	}
}

// BenchmarkLiveKPISnapshot is the cost of one /ws/events KPI snapshot of
// every campaign with 100k finished calls in the last hour: "store" reads
// and classifies them as each snapshot did before the live windows,
// "window" is the snapshot of the loaded window.
func BenchmarkLiveKPISnapshot(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	const n = 100_000
	seedBenchRecords(b, f, n)
	admin := &auth.Principal{}
	b.Run("store", func(b *testing.B) {
		q := kpi.Last(f.srv.cfg.KPIWindow, fixtureNow)
		b.ReportAllocs()
		for b.Loop() {
			rep, err := f.srv.kpiReport(ctx, admin, q)
			if err != nil || rep.Total.Calls < n {
				b.Fatal(rep.Total.Calls, err)
			}
		}
	})
	b.Run("window", func(b *testing.B) {
		if _, err := f.srv.liveReport(ctx, admin, 0); err != nil { // the load, once
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			rep, err := f.srv.liveReport(ctx, admin, 0)
			if err != nil || rep.Total.Calls < n {
				b.Fatal(rep.Total.Calls, err)
			}
		}
	})
}

// seedBenchRecords stores n finished calls in campaign alpha, spread over
// the fixture's last hour, a quarter answered with a short transcript.
func seedBenchRecords(b *testing.B, f *fixture, n int) {
	b.Helper()
	ctx := context.Background()
	const batch = 1000
	for done := 0; done < n; done += batch {
		contacts := make([]store.Contact, batch)
		for i := range contacts {
			contacts[i] = store.Contact{Phone: fmt.Sprintf("135%08d", done+i)}
		}
		if _, err := f.st.AddContacts(ctx, f.alpha, contacts); err != nil {
			b.Fatal(err)
		}
		claimed, err := f.st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: f.alpha, Node: "bench", Now: fixtureNow, Limit: batch})
		if err != nil || len(claimed) != batch {
			b.Fatal(len(claimed), err)
		}
		for i, k := range claimed {
			at := fixtureNow.Add(-time.Hour + time.Duration(done+i)*(time.Hour/time.Duration(n+1)) + time.Millisecond)
			rec := store.CallRecord{CampaignID: f.alpha, ContactID: k.ID, Phone: k.Phone, Node: "bench", Trunk: "carrier", AttemptAt: at}
			if rec.ID, err = f.st.BeginAttempt(ctx, rec); err != nil {
				b.Fatal(err)
			}
			rec.SIPCallID, rec.EndedAt = fmt.Sprintf("bench-%d", rec.ID), at.Add(40*time.Second)
			if (done+i)%4 == 0 {
				rec.AnsweredAt, rec.SIPCode, rec.Disposition, rec.AnsweredBy, rec.Outcome = at.Add(5*time.Second), 200, "answered", "human", "interested"
				rec.Transcript = []byte(`[{"side":"bot","text":"hello","at":1000},{"side":"caller","text":"yes please","at":4000}]`)
			} else {
				rec.SIPCode, rec.Disposition = 480, "no_answer"
			}
			if err := f.st.FinishAttempt(ctx, rec, store.ContactUpdate{State: store.StateDone, LastDisposition: rec.Disposition}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
