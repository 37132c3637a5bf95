package kpi

import (
	"sync"
	"time"

	"github.com/waihu/waihu/store"
)

// Window is the live form of Compute: fed with each finished call record, it
// answers the figures of the last Span without reading the store again. A
// record's transcript is decoded once, when it is added; a snapshot only sums
// the kept facts. It is safe for concurrent use.
type Window struct {
	span time.Duration
	q    Query

	mu    sync.Mutex
	c     *Classifier
	lists ListStats
	kept  []windowFact
}

type windowFact struct {
	f                     Facts
	campaignID, contactID int64
	variant, trunk, calID string
	at                    time.Time
	latencies             []time.Duration
}

// NewWindow returns a Window over the span before each snapshot's time
// (5 minutes for the dashboard's live figures). q's campaign, grouping, zone
// and rules apply; its From and To are replaced at each snapshot.
func NewWindow(span time.Duration, q Query) *Window {
	return &Window{span: span, q: q, c: NewClassifier(q.Rules)}
}

// SetLists sets the list sizes behind list penetration.
func (w *Window) SetLists(lists ListStats) {
	w.mu.Lock()
	w.lists = lists
	w.mu.Unlock()
}

// Add takes a finished record. Records of another campaign or still in
// progress are ignored; records attempted before the next snapshot's span
// are dropped by it.
func (w *Window) Add(rec store.CallRecord) {
	if rec.Disposition == "" || (w.q.CampaignID != 0 && rec.CampaignID != w.q.CampaignID) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.c.Classify(&rec)
	var lat []time.Duration
	if len(w.c.latencies) > 0 {
		lat = append([]time.Duration(nil), w.c.latencies...)
	}
	w.kept = append(w.kept, windowFact{f: f, campaignID: rec.CampaignID, contactID: rec.ContactID,
		variant: rec.Variant, trunk: rec.Trunk, calID: rec.CallerID, at: rec.AttemptAt, latencies: lat})
}

// Snapshot reports the records attempted in [now-span, now) and forgets the
// ones that can no longer fall in a later window.
func (w *Window) Snapshot(now time.Time) Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.q
	q.From, q.To = now.Add(-w.span), now
	// Records arrive in end order, not attempt order: compact instead of
	// trimming a prefix.
	kept := w.kept[:0]
	for _, k := range w.kept {
		if !k.at.Before(q.From) {
			kept = append(kept, k)
		}
	}
	clear(w.kept[len(kept):])
	w.kept = kept

	r := newReport(q, w.lists)
	for i := range w.kept {
		k := &w.kept[i]
		if !r.inWindow(k.campaignID, "finished", k.at) {
			continue
		}
		r.add(&k.f, k.campaignID, k.contactID, k.variant, k.trunk, k.calID, k.at, k.latencies)
	}
	return r.finish()
}

// Len is the number of records kept.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.kept)
}
