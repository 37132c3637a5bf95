package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// The live KPI snapshots of /ws/events come from one kpi.Window per scope
// that a subscriber watches. A window is loaded from the store once, when
// its first subscriber comes, and is then kept current two ways:
//
//   - RecordFinished, told by this node as each of its calls ends;
//   - a reconciliation every KPIReconcileInterval that reads the records
//     ended since the last one (other nodes' calls on a shared PostgreSQL,
//     interrupted attempts closed by Recover, anything this node missed),
//     and, once the window's load is liveResync old, a fresh load instead.
//
// A snapshot reads no store at all, so its cost follows the window's size,
// not the history's, and not the number of subscribers. Each record is
// added once per window (by ID), whichever way it came.

// reconcileOverlap is how far before the previous reconciliation the next
// one looks back: a record is stamped with its end when its node finished it
// but becomes visible only when its transaction commits, and nodes' clocks
// differ by some seconds.
const reconcileOverlap = 2 * time.Minute

// liveResync is how old a window's load may grow before it is loaded
// afresh from the store. Reconciliations catch what ended lately; a record
// stored long after its end (a node that finished it late, a hand repair)
// is caught by the next load, so a window's drift is bounded.
const liveResync = 10 * time.Minute

// livePage is how many records one read of a window's load holds.
const livePage = 1000

// liveKPIs holds the windows of the scopes being watched.
type liveKPIs struct {
	mu     sync.Mutex
	scopes map[string]*liveScope
}

// liveScope is one scope's window: one campaign, the campaigns a principal
// is limited to, or every campaign.
type liveScope struct {
	key string
	// campaignIDs are the campaigns it covers; nil means every campaign.
	campaignIDs []int64
	w           *kpi.Window
	// ready is closed once the first load ended; err says how.
	ready chan struct{}
	err   error

	mu sync.Mutex
	// seen maps each record added to its attempt time, so a record told by
	// RecordFinished and read again by a reconciliation counts once; entries
	// leave with the window's span.
	seen map[int64]time.Time
	// synced is when the store was last read (the server's clock).
	synced time.Time
	// loaded is when the window was loaded whole.
	loaded time.Time
}

// covers reports whether records of campaignID belong to the scope.
func (sc *liveScope) covers(campaignID int64) bool {
	return sc.campaignIDs == nil || slices.Contains(sc.campaignIDs, campaignID)
}

// add feeds one finished record to the window once; records of another
// scope, still running, or attempted before from are left out.
func (sc *liveScope) add(rec *store.CallRecord, from time.Time) bool {
	if rec.Disposition == "" || !sc.covers(rec.CampaignID) || rec.AttemptAt.Before(from) {
		return false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, ok := sc.seen[rec.ID]; ok {
		return false
	}
	sc.seen[rec.ID] = rec.AttemptAt
	sc.w.Add(*rec)
	return true
}

// forget drops the dedup entries of records attempted before from, which no
// later window can hold.
func (sc *liveScope) forget(from time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for id, at := range sc.seen {
		if at.Before(from) {
			delete(sc.seen, id)
		}
	}
}

// scopeCampaigns is what scope a subscriber of campaignID with principal p
// watches: its campaign, or p's campaigns, or every campaign (nil).
func scopeCampaigns(p *auth.Principal, campaignID int64) []int64 {
	switch {
	case campaignID != 0:
		return []int64{campaignID}
	case p == nil || p.Campaigns == nil:
		return nil
	default:
		ids := slices.Clone(p.Campaigns)
		slices.Sort(ids)
		if ids == nil {
			ids = []int64{}
		}
		return ids
	}
}

// liveReport is the snapshot of the last KPIWindow for p's scope, from the
// scope's window (loaded now if no one watched it yet).
func (s *Server) liveReport(ctx context.Context, p *auth.Principal, campaignID int64) (kpi.Report, error) {
	sc, err := s.liveScope(ctx, scopeKey(p, campaignID), scopeCampaigns(p, campaignID))
	if err != nil {
		return kpi.Report{}, err
	}
	rep := sc.w.Snapshot(s.cfg.Now())
	// The window's own query is one campaign or all; a limited scope's is
	// the set, which the report names no other way.
	rep.CampaignID = campaignID
	return rep, nil
}

// liveScope returns the window of key, loading it on first use. Callers
// waiting for a load share it; a failed load is retried by the next caller.
func (s *Server) liveScope(ctx context.Context, key string, campaignIDs []int64) (*liveScope, error) {
	s.live.mu.Lock()
	sc, ok := s.live.scopes[key]
	if !ok {
		sc = s.newScope(key, campaignIDs)
		// In the map before loading: RecordFinished feeds it meanwhile,
		// and the load skips what it was told.
		s.live.scopes[key] = sc
	}
	s.live.mu.Unlock()
	if ok {
		select {
		case <-sc.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("kpis of scope %s: %w", key, ctx.Err())
		}
		if sc.err != nil {
			return nil, sc.err
		}
		return sc, nil
	}
	sc.err = s.loadScope(ctx, sc)
	if sc.err != nil {
		s.live.mu.Lock()
		if s.live.scopes[key] == sc {
			delete(s.live.scopes, key)
		}
		s.live.mu.Unlock()
	}
	close(sc.ready)
	if sc.err != nil {
		return nil, sc.err
	}
	return sc, nil
}

func (s *Server) newScope(key string, campaignIDs []int64) *liveScope {
	q := kpi.Query{Rules: s.cfg.KPIRules}
	if len(campaignIDs) == 1 {
		q.CampaignID = campaignIDs[0]
	}
	return &liveScope{key: key, campaignIDs: campaignIDs, w: kpi.NewWindow(s.cfg.KPIWindow, q),
		ready: make(chan struct{}), seen: map[int64]time.Time{}}
}

// resyncScope loads a fresh window for old's scope and puts it in old's
// place. Records told while it loads went to old alone, but they were
// stored before being told: the reconciliation that follows the swap reads
// them.
func (s *Server) resyncScope(ctx context.Context, old *liveScope) error {
	sc := s.newScope(old.key, old.campaignIDs)
	if err := s.loadScope(ctx, sc); err != nil {
		return err
	}
	close(sc.ready)
	s.live.mu.Lock()
	current := s.live.scopes[old.key] == old
	if current {
		s.live.scopes[old.key] = sc
	}
	s.live.mu.Unlock()
	if !current {
		return nil // dropped or replaced meanwhile
	}
	return s.reconcileScope(ctx, sc)
}

// loadScope reads the scope's list sizes and the records of its span, a
// page at a time: the window keeps each record's facts, not the record.
func (s *Server) loadScope(ctx context.Context, sc *liveScope) error {
	now := s.cfg.Now()
	from := now.Add(-s.cfg.KPIWindow)
	if err := s.refreshLists(ctx, sc); err != nil {
		return err
	}
	q := store.RecordQuery{CampaignIDs: sc.campaignIDs, From: from, Finished: true, Ascending: true,
		Limit: livePage, Transcripts: true}
	for {
		page, err := s.cfg.Store.QueryCallRecords(ctx, q)
		if err != nil {
			return fmt.Errorf("load kpis of scope %s: %w", sc.key, err)
		}
		for i := range page {
			sc.add(&page[i], from)
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID
	}
	sc.mu.Lock()
	sc.synced, sc.loaded = now, now
	sc.mu.Unlock()
	return nil
}

// refreshLists sets the window's list sizes (list penetration's
// denominator) from the contacts of the scope's campaigns.
func (s *Server) refreshLists(ctx context.Context, sc *liveScope) error {
	ids := sc.campaignIDs
	if ids == nil {
		list, err := s.cfg.Store.Campaigns(ctx)
		if err != nil {
			return fmt.Errorf("kpis of scope %s: list campaigns: %w", sc.key, err)
		}
		for _, c := range list {
			ids = append(ids, c.ID)
		}
	}
	lists, err := kpi.ListsFromStore(ctx, s.cfg.Store, ids...)
	if err != nil {
		return fmt.Errorf("kpis of scope %s: %w", sc.key, err)
	}
	sc.w.SetLists(lists)
	return nil
}

// RecordFinished tells the live KPIs of a call record this node just
// finished (after store.FinishAttempt returned), so the next snapshot counts
// it without reading the store. Records of other nodes arrive by the
// periodic reconciliation; telling one twice counts it once.
func (s *Server) RecordFinished(rec store.CallRecord) {
	if rec.Disposition == "" {
		return
	}
	from := s.cfg.Now().Add(-s.cfg.KPIWindow)
	added := false
	for _, sc := range s.liveScopes() {
		added = sc.add(&rec, from) || added
	}
	if added {
		s.hub.callEnded()
	}
}

// liveScopes lists the windows, loaded or loading.
func (s *Server) liveScopes() []*liveScope {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	out := make([]*liveScope, 0, len(s.live.scopes))
	for _, sc := range s.live.scopes {
		out = append(out, sc)
	}
	return out
}

// reconcileKPIs brings each loaded window up to date with the store: the
// records ended since its last read (less the overlap), and its list sizes;
// a window loaded liveResync ago is loaded afresh instead.
func (s *Server) reconcileKPIs(ctx context.Context) {
	for _, sc := range s.liveScopes() {
		select {
		case <-sc.ready:
		default:
			continue // still loading: the load reads the same records
		}
		if sc.err != nil {
			continue
		}
		reconcile := s.reconcileScope
		sc.mu.Lock()
		if s.cfg.Now().Sub(sc.loaded) >= liveResync {
			reconcile = s.resyncScope
		}
		sc.mu.Unlock()
		if err := reconcile(ctx, sc); err != nil && ctx.Err() == nil {
			s.log.Warn("kpi reconciliation", "scope", sc.key, "err", err)
		}
	}
}

func (s *Server) reconcileScope(ctx context.Context, sc *liveScope) error {
	now := s.cfg.Now()
	from := now.Add(-s.cfg.KPIWindow)
	sc.mu.Lock()
	since := sc.synced.Add(-reconcileOverlap)
	sc.mu.Unlock()
	recs, err := s.cfg.Store.CallRecordsEndedSince(ctx, sc.campaignIDs, since, from)
	if err != nil {
		return fmt.Errorf("reconcile kpis of scope %s: %w", sc.key, err)
	}
	added := 0
	for i := range recs {
		if sc.add(&recs[i], from) {
			added++
		}
	}
	if err := s.refreshLists(ctx, sc); err != nil {
		return err
	}
	sc.forget(from)
	sc.mu.Lock()
	sc.synced = now
	sc.mu.Unlock()
	if added > 0 {
		s.log.Debug("kpi reconciliation found records", "scope", sc.key, "records", added)
	}
	return nil
}

// dropUnwatched forgets the windows of scopes no subscriber watches: a
// window costs memory and reconciliation reads, and is reloaded when
// someone watches its scope again.
func (s *Server) dropUnwatched(watched map[string]bool) {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	for key, sc := range s.live.scopes {
		select {
		case <-sc.ready:
		default:
			continue // a subscriber is on its way
		}
		if !watched[key] {
			delete(s.live.scopes, key)
		}
	}
}
