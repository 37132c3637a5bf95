package kpi

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/waihu/waihu/store"
)

// acc sums one group's facts.
type acc struct {
	calls, seizures, answered, userFailures, humans, rightParty int
	converted, optOuts, abandonKnown, abandoned                 int
	transferTried, transferOK, timed                            int
	talk, handle                                                time.Duration
	// contacts holds the distinct contacts seized, for penetration.
	contacts map[int64]struct{}
	// latencyMs and greetingMs are the samples of the percentiles.
	latencyMs, greetingMs []float64
}

func newAcc() *acc { return &acc{contacts: make(map[int64]struct{})} }

func (a *acc) add(f *Facts, contactID int64, latencies []time.Duration) {
	a.calls++
	if !f.Seizure {
		return
	}
	a.seizures++
	a.contacts[contactID] = struct{}{}
	if f.UserFailure {
		a.userFailures++
	}
	if !f.Answered {
		return
	}
	a.answered++
	if f.Timed {
		a.timed++
		a.talk += f.Talk
		a.handle += f.Handle
	}
	if f.HasGreeting {
		a.greetingMs = append(a.greetingMs, ms(f.Greeting))
	}
	for _, l := range latencies {
		a.latencyMs = append(a.latencyMs, ms(l))
	}
	if !f.Human {
		return
	}
	a.humans++
	a.rightParty += b2i(f.RightParty)
	a.converted += b2i(f.Converted)
	a.optOuts += b2i(f.OptOut)
	a.abandonKnown += b2i(f.AbandonKnown)
	a.abandoned += b2i(f.Abandoned)
	a.transferTried += b2i(f.TransferTried)
	a.transferOK += b2i(f.TransferOK)
}

// kpis turns the sums into figures; listSize is the contacts in the lists
// the group draws from. It sorts the sample slices in place.
func (a *acc) kpis(listSize int) KPIs {
	var k KPIs
	k.AnswerSeizureRatio = ratio(a.answered, a.seizures)
	k.HumanContactRate = ratio(a.humans, a.seizures)
	k.NetworkEffectivenessRatio = ratio(a.answered+a.userFailures, a.seizures)
	k.RightPartyContactRate = ratio(a.rightParty, a.humans)
	k.ConversionRate = ratio(a.converted, a.rightParty)
	k.AverageCallDuration = mean(a.talk, a.timed)
	k.AverageHandleTime = mean(a.handle, a.timed)
	k.AbandonRate = ratio(a.abandoned, a.abandonKnown)
	k.TransferRate = ratio(a.transferTried, a.humans)
	k.TransferSuccessRate = ratio(a.transferOK, a.transferTried)
	k.ListPenetration = ratio(len(a.contacts), listSize)
	k.AttemptsPerLead = ratio(a.seizures, len(a.contacts))
	k.AttemptsPerLead.Unit = UnitPerLead
	k.OptOutRate = ratio(a.optOuts, a.humans)
	slices.Sort(a.latencyMs)
	slices.Sort(a.greetingMs)
	k.FirstResponseLatencyP50 = percentile(a.latencyMs, 50)
	k.FirstResponseLatencyP95 = percentile(a.latencyMs, 95)
	k.TimeToGreetingP50 = percentile(a.greetingMs, 50)
	k.TimeToGreetingP95 = percentile(a.greetingMs, 95)
	return k
}

func ratio(num, den int) Value {
	v := Value{Numerator: float64(num), Denominator: float64(den), Unit: UnitRatio}
	if den > 0 {
		v.Value = float64(num) / float64(den)
	}
	return v
}

func mean(total time.Duration, n int) Value {
	v := Value{Numerator: total.Seconds(), Denominator: float64(n), Unit: UnitSeconds}
	if n > 0 {
		v.Value = total.Seconds() / float64(n)
	}
	return v
}

// percentile is the nearest-rank percentile of sorted samples: the
// ceil(p/100 × n)-th smallest. It is always an observed value, which keeps
// hand-computed checks exact.
func percentile(sorted []float64, p float64) Value {
	v := Value{Denominator: float64(len(sorted)), Unit: UnitMilliseconds}
	if len(sorted) == 0 {
		return v
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	v.Value = sorted[rank-1]
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// grouper maps a record to its group key without allocating per record.
type grouper struct {
	by        GroupBy
	loc       *time.Location
	campaigns map[int64]string
}

var hourKeys = func() (k [24]string) {
	for h := range k {
		k[h] = strconv.Itoa(h/10) + strconv.Itoa(h%10)
	}
	return k
}()

func (g *grouper) key(campaignID int64, variant, trunk, callerID string, at time.Time) string {
	switch g.by {
	case GroupCampaign:
		s, ok := g.campaigns[campaignID]
		if !ok {
			s = strconv.FormatInt(campaignID, 10)
			g.campaigns[campaignID] = s
		}
		return s
	case GroupVariant:
		return variant
	case GroupTrunk:
		return trunk
	case GroupCallerID:
		return callerID
	case GroupHour:
		return hourKeys[at.In(g.loc).Hour()]
	}
	return ""
}

// report gathers the sums of a query into figures.
type report struct {
	q      Query
	lists  ListStats
	g      grouper
	total  *acc
	groups map[string]*acc
	// groupCampaigns records which campaigns each group drew from, for the
	// list size of its penetration.
	groupCampaigns map[string]map[int64]struct{}
}

func newReport(q Query, lists ListStats) *report {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	r := &report{q: q, lists: lists, g: grouper{by: q.GroupBy, loc: loc, campaigns: map[int64]string{}}, total: newAcc()}
	if q.GroupBy != GroupNone {
		r.groups = map[string]*acc{}
		r.groupCampaigns = map[string]map[int64]struct{}{}
	}
	return r
}

func (r *report) inWindow(campaignID int64, disposition string, at time.Time) bool {
	if disposition == "" { // still running: BeginAttempt without FinishAttempt
		return false
	}
	if r.q.CampaignID != 0 && campaignID != r.q.CampaignID {
		return false
	}
	if !r.q.From.IsZero() && at.Before(r.q.From) {
		return false
	}
	return r.q.To.IsZero() || at.Before(r.q.To)
}

func (r *report) add(f *Facts, campaignID, contactID int64, variant, trunk, callerID string, at time.Time, latencies []time.Duration) {
	r.total.add(f, contactID, latencies)
	if r.groups == nil {
		return
	}
	key := r.g.key(campaignID, variant, trunk, callerID, at)
	a := r.groups[key]
	if a == nil {
		a = newAcc()
		r.groups[key] = a
		r.groupCampaigns[key] = map[int64]struct{}{}
	}
	a.add(f, contactID, latencies)
	r.groupCampaigns[key][campaignID] = struct{}{}
}

func (r *report) listSize(campaigns map[int64]struct{}) int {
	n := 0
	for id, size := range r.lists {
		if _, ok := campaigns[id]; ok || campaigns == nil {
			if r.q.CampaignID == 0 || id == r.q.CampaignID {
				n += size
			}
		}
	}
	return n
}

func (r *report) finish() Report {
	out := Report{CampaignID: r.q.CampaignID, From: r.q.From, To: r.q.To, GroupBy: r.q.GroupBy,
		Total: Group{Calls: r.total.calls, KPIs: r.total.kpis(r.listSize(nil))}}
	if r.groups == nil {
		return out
	}
	out.Groups = make([]Group, 0, len(r.groups))
	for key, a := range r.groups {
		out.Groups = append(out.Groups, Group{Key: key, Calls: a.calls, KPIs: a.kpis(r.listSize(r.groupCampaigns[key]))})
	}
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].Key < out.Groups[j].Key })
	return out
}

// Compute applies q to records and reports the figures. Records still in
// progress (no disposition), of another campaign, or attempted outside
// [q.From, q.To) are left out. lists gives each campaign's list size for
// list penetration (nil leaves penetration undefined). Compute does not
// modify records.
func Compute(records []store.CallRecord, lists ListStats, q Query) Report {
	r := newReport(q, lists)
	c := NewClassifier(q.Rules)
	for i := range records {
		rec := &records[i]
		if !r.inWindow(rec.CampaignID, rec.Disposition, rec.AttemptAt) {
			continue
		}
		f := c.Classify(rec)
		r.add(&f, rec.CampaignID, rec.ContactID, rec.Variant, rec.Trunk, rec.CallerID, rec.AttemptAt, c.latencies)
	}
	return r.finish()
}
