package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/waihu/waihu/store"
)

// Create stores a new campaign in the draft state after checking its settings.
func Create(ctx context.Context, st store.Store, name string, settings Settings) (store.Campaign, error) {
	if err := settings.Validate(); err != nil {
		return store.Campaign{}, err
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return store.Campaign{}, fmt.Errorf("campaign %q: encode settings: %w", name, err)
	}
	return st.CreateCampaign(ctx, store.Campaign{Name: name, State: store.CampaignDraft, Settings: b})
}

// transitions lists the states each command may leave from. A stopped or
// completed campaign is final: its records stay as they are.
var transitions = map[store.CampaignState][]store.CampaignState{
	// Starting a running campaign is how a node resumes after a crash.
	store.CampaignRunning: {store.CampaignDraft, store.CampaignPaused, store.CampaignRunning},
	store.CampaignPaused:  {store.CampaignRunning, store.CampaignPaused},
	store.CampaignStopped: {store.CampaignDraft, store.CampaignRunning, store.CampaignPaused, store.CampaignStopped},
}

// SetState moves a campaign to running (start, resume), paused or stopped, and
// refuses moves out of a final state. Runners see the change within their poll
// interval: pause and stop let calls in progress finish and dial no one new.
func SetState(ctx context.Context, st store.Store, id int64, to store.CampaignState) error {
	c, err := st.Campaign(ctx, id)
	if err != nil {
		return err
	}
	from, ok := transitions[to]
	if !ok {
		return fmt.Errorf("campaign %q: cannot be set to %s", c.Name, to)
	}
	for _, s := range from {
		if s == c.State {
			return st.SetCampaignState(ctx, id, to)
		}
	}
	return fmt.Errorf("campaign %q is %s: cannot become %s", c.Name, c.State, to)
}

// Requeue puts a campaign's contacts in state from (interrupted, exhausted)
// back to pending, due now; an operator's deliberate choice. It returns how many.
func Requeue(ctx context.Context, st store.Store, id int64, from store.ContactState) (int, error) {
	if from == store.StateDialing {
		return 0, fmt.Errorf("requeue: contacts being dialled are recovered by their node, not requeued")
	}
	list, err := st.Contacts(ctx, id, from)
	if err != nil {
		return 0, err
	}
	for _, k := range list {
		if err := st.UpdateContact(ctx, k.ID, store.ContactUpdate{State: store.StatePending, NextAttemptAt: time.Now(),
			LastDisposition: k.LastDisposition}); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}

// Import reads a CSV file's contacts into a campaign; see ImportCSV for the format.
// It returns how many were added and how many were already in the campaign.
func Import(ctx context.Context, st store.Store, id int64, contacts []store.Contact) (added, duplicate int, err error) {
	added, err = st.AddContacts(ctx, id, contacts)
	if err != nil {
		return 0, 0, err
	}
	return added, len(contacts) - added, nil
}

// Preview is what a campaign would do if started now.
type Preview struct {
	Total int
	// Dial is how many will be called (now or at their next window or retry time).
	Dial int
	// Skipped counts the contacts that will not be called, by reason.
	Skipped map[string]int
	// OutsideWindow counts the contacts to be dialled whose window is closed now.
	OutsideWindow int
}

// SkippedTotal is the number of contacts that will not be called.
func (p Preview) SkippedTotal() int {
	n := 0
	for _, v := range p.Skipped {
		n += v
	}
	return n
}

// String says "N of M contacts will be skipped" and why, most common reason first.
func (p Preview) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d contacts will be skipped", p.SkippedTotal(), p.Total)
	reasons := make([]string, 0, len(p.Skipped))
	for r := range p.Skipped {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if p.Skipped[reasons[i]] != p.Skipped[reasons[j]] {
			return p.Skipped[reasons[i]] > p.Skipped[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	for i, r := range reasons {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%d %s", sep, p.Skipped[r], r)
	}
	fmt.Fprintf(&b, "; %d to dial", p.Dial)
	if p.OutsideWindow > 0 {
		fmt.Fprintf(&b, " (%d outside their calling window now)", p.OutsideWindow)
	}
	return b.String()
}

// PreviewCampaign checks every contact as the Runner would, without dialling.
func PreviewCampaign(ctx context.Context, st store.Store, id int64, now time.Time) (Preview, error) {
	c, err := st.Campaign(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	settings, err := ParseSettings(c.Settings)
	if err != nil {
		return Preview{}, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	settings = settings.withDefaults()
	sched, err := NewSchedule(settings)
	if err != nil {
		return Preview{}, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	list, err := st.Contacts(ctx, id, "")
	if err != nil {
		return Preview{}, err
	}
	p := Preview{Total: len(list), Skipped: map[string]int{}}
	for _, k := range list {
		switch k.State {
		case store.StatePending, store.StateDialing:
		case store.StateSkipped:
			p.Skipped["already skipped ("+k.SkipReason+")"]++
			continue
		default:
			p.Skipped["already "+string(k.State)]++
			continue
		}
		e, ok, err := st.DNC(ctx, k.Phone, id)
		if err != nil {
			return Preview{}, err
		}
		if ok {
			if e.CampaignID == 0 {
				p.Skipped["on the do-not-call list"]++
			} else {
				p.Skipped["suppressed for this campaign"]++
			}
			continue
		}
		loc, err := sched.Location(k.TimeZone)
		if err != nil {
			p.Skipped["with an unknown time zone"]++
			continue
		}
		if _, ok := sched.NextOpen(now, loc); !ok {
			p.Skipped["with no calling window in a week"]++
			continue
		}
		p.Dial++
		if !sched.Open(now, loc) {
			p.OutsideWindow++
		}
	}
	return p, nil
}
