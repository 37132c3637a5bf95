package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/store"
)

// Config builds a Runner. Store, Dialer and CampaignID are required.
type Config struct {
	Store      store.Store
	Dialer     Dialer
	CampaignID int64
	// Node names this process in claims; a restarted node must keep its name so
	// that it recovers its own claims. Default: the host name.
	Node string
	// Trunks are the trunk limits shared by every campaign of this node. Default:
	// built from this campaign's settings alone.
	Trunks *Trunks
	// Logger receives the campaign's events. Default slog.Default().
	Logger *slog.Logger
	// PollInterval is how often an idle Runner looks for due contacts and a
	// paused one for a resume. Default 500 ms.
	PollInterval time.Duration
	// Now is the clock for calling windows. Default time.Now.
	Now func() time.Time
}

// Runner dials one campaign until it is completed, stopped or ctx ends.
type Runner struct {
	cfg      Config
	log      *slog.Logger
	settings Settings
	schedule *Schedule
	trunks   *Trunks
	names    []string
	slots    *Semaphore
	cps      *Bucket

	pool     *callerIDs // nil: the trunk's own caller ID
	throttle *Throttle
	golden   *golden
	seed     string // of variant assignment

	inFlight atomic.Int64
	dialled  atomic.Int64

	slowMu       sync.Mutex // held while the abandon throttle spaces a dispatch
	lastDispatch time.Time
}

// NewRunner reads the campaign and its settings and prepares its limits.
func NewRunner(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.Store == nil || cfg.Dialer == nil {
		return nil, errors.New("campaign runner: Store and Dialer are required")
	}
	c, err := cfg.Store.Campaign(ctx, cfg.CampaignID)
	if err != nil {
		return nil, fmt.Errorf("campaign runner: %w", err)
	}
	st, err := ParseSettings(c.Settings)
	if err != nil {
		return nil, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	st = st.withDefaults()
	if len(st.Trunks) == 0 {
		return nil, fmt.Errorf("campaign %q: settings list no trunks to dial through", c.Name)
	}
	sched, err := NewSchedule(st)
	if err != nil {
		return nil, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	if cfg.Node == "" {
		if cfg.Node, err = os.Hostname(); err != nil || cfg.Node == "" {
			cfg.Node = "waihu"
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	gold, err := newGolden(st.GoldenHours)
	if err != nil {
		return nil, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	r := &Runner{cfg: cfg, settings: st, schedule: sched, trunks: cfg.Trunks,
		slots: NewSemaphore(st.Concurrency), cps: NewBucket(st.CPS, 1),
		throttle: NewThrottle(st.Abandon), golden: gold, seed: st.VariantSeed,
		log: cfg.Logger.With("component", "campaign", "campaign_id", c.ID, "campaign", c.Name)}
	if r.seed == "" {
		r.seed = strconv.FormatInt(c.ID, 10)
	}
	if r.trunks == nil {
		r.trunks = NewTrunks(st.Trunks)
	} else {
		r.trunks.Add(st.Trunks...)
	}
	if len(st.CallerIDs) > 0 {
		r.pool = &callerIDs{pool: st.CallerIDPool, st: cfg.Store, buckets: r.trunks}
		for _, n := range st.CallerIDs {
			p, _ := NormalizePhone(n) // checked by ParseSettings
			if !slices.Contains(r.pool.numbers, p) {
				r.pool.numbers = append(r.pool.numbers, p)
			}
		}
	}
	for _, t := range st.Trunks {
		r.names = append(r.names, t.Name)
	}
	return r, nil
}

// Stats is a Runner's live load: what is dialling and what queues.
type Stats struct {
	InFlight int
	Dialled  int
	// WaitingCPS queue for the campaign's CPS token; WaitingTrunk for a free
	// trunk slot. Their sum with each trunk's WaitingCPS is the queue depth.
	WaitingCPS   int
	WaitingTrunk int
	Trunks       []TrunkStats
	// AbandonRate is the share of abandoned calls in the abandon cap's window
	// (of AbandonCalls calls); Throttle the factor on CPS and concurrency.
	AbandonRate  float64
	AbandonCalls int
	Throttle     float64
}

// QueueDepth is how many claimed contacts wait for a trunk slot or a CPS token.
func (s Stats) QueueDepth() int {
	n := s.WaitingCPS + s.WaitingTrunk
	for _, t := range s.Trunks {
		n += t.WaitingCPS
	}
	return n
}

// Stats reports the Runner's load now.
func (r *Runner) Stats() Stats {
	trunks, waiting := r.trunks.Stats()
	now := r.cfg.Now()
	rate, calls := r.throttle.Rate(now)
	return Stats{InFlight: int(r.inFlight.Load()), Dialled: int(r.dialled.Load()),
		WaitingCPS: r.cps.Waiting(), WaitingTrunk: waiting, Trunks: trunks,
		AbandonRate: rate, AbandonCalls: calls, Throttle: r.throttle.Factor(now)}
}

// Run dials until the campaign is completed or stopped (returns nil) or ctx ends
// (returns ctx's error). A paused campaign waits. Calls in progress are allowed to
// finish before Run returns; when ctx ends they are cancelled.
func (r *Runner) Run(ctx context.Context) error {
	st := r.cfg.Store
	requeued, interrupted, err := st.Recover(ctx, r.cfg.CampaignID, r.cfg.Node)
	if err != nil {
		return fmt.Errorf("campaign %d: %w", r.cfg.CampaignID, err)
	}
	if requeued+interrupted > 0 {
		r.log.Warn("recovered claims of a previous run", "node", r.cfg.Node, "requeued", requeued, "interrupted", interrupted)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := st.Campaign(ctx, r.cfg.CampaignID)
		if err != nil {
			return fmt.Errorf("campaign %d: %w", r.cfg.CampaignID, err)
		}
		switch c.State {
		case store.CampaignRunning:
		case store.CampaignPaused:
			if err := sleep(ctx, r.cfg.PollInterval); err != nil {
				return err
			}
			continue
		default:
			r.log.Info("campaign ended", "state", c.State)
			wg.Wait()
			return nil
		}
		if err := r.throttleConcurrency(ctx); err != nil {
			return err
		}
		if err := r.slots.Acquire(ctx); err != nil {
			return err
		}
		claimed, err := st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: r.cfg.CampaignID, Node: r.cfg.Node, Now: r.cfg.Now(), Limit: 1})
		if err != nil {
			r.slots.Release()
			return fmt.Errorf("campaign %d: %w", r.cfg.CampaignID, err)
		}
		if len(claimed) == 0 {
			r.slots.Release()
			done, err := r.finished(ctx)
			if err != nil {
				return err
			}
			if done {
				wg.Wait()
				if done, err = r.finished(ctx); err == nil && done {
					r.log.Info("campaign completed", "dialled", r.dialled.Load())
					return st.SetCampaignState(ctx, r.cfg.CampaignID, store.CampaignCompleted)
				}
			}
			if err := sleep(ctx, r.cfg.PollInterval); err != nil {
				return err
			}
			continue
		}
		k := claimed[0]
		loc, ok := r.admit(ctx, k)
		if !ok {
			r.slots.Release()
			continue
		}
		wg.Add(1)
		r.inFlight.Add(1)
		go func() {
			defer wg.Done()
			defer r.inFlight.Add(-1)
			defer r.slots.Release()
			r.attempt(ctx, k, loc)
		}()
	}
}

// finished reports whether no contact is pending or being dialled (by any node).
func (r *Runner) finished(ctx context.Context) (bool, error) {
	counts, err := r.cfg.Store.CountContacts(ctx, r.cfg.CampaignID)
	if err != nil {
		return false, fmt.Errorf("campaign %d: %w", r.cfg.CampaignID, err)
	}
	return counts[store.StatePending] == 0 && counts[store.StateDialing] == 0 && r.inFlight.Load() == 0, nil
}

// admit checks a claimed contact against the do-not-call list and its calling
// window. A contact it refuses is already skipped or released.
func (r *Runner) admit(ctx context.Context, k store.Contact) (*time.Location, bool) {
	log := r.log.With("contact_id", k.ID, "phone", MaskPhone(k.Phone))
	if reason, err := r.suppressed(ctx, k); err != nil || reason != "" {
		if err != nil {
			log.Error("do-not-call check failed; contact released", "err", err)
			r.release(ctx, k, r.cfg.Now().Add(r.cfg.PollInterval))
			return nil, false
		}
		log.Info("contact skipped", "reason", reason)
		if err := r.cfg.Store.UpdateContact(ctx, k.ID, store.ContactUpdate{State: store.StateSkipped, SkipReason: reason,
			LastDisposition: k.LastDisposition}); err != nil {
			log.Error("skip contact", "err", err)
		}
		return nil, false
	}
	loc, err := r.schedule.Location(k.TimeZone)
	if err != nil {
		log.Warn("contact skipped", "reason", err)
		if err := r.cfg.Store.UpdateContact(ctx, k.ID, store.ContactUpdate{State: store.StateSkipped, SkipReason: err.Error()}); err != nil {
			log.Error("skip contact", "err", err)
		}
		return nil, false
	}
	if !r.deferIfClosed(ctx, k, loc) {
		return nil, false
	}
	if at, ok := r.golden.deferral(r.schedule, k.Priority, r.cfg.Now(), loc); ok {
		log.Debug("deferred by golden hours", "priority", k.Priority, "next", at)
		r.release(ctx, k, at)
		return nil, false
	}
	return loc, true
}

// throttleConcurrency waits while the campaign's calls in flight reach its
// concurrency times the abandon throttle's factor (at least one call).
func (r *Runner) throttleConcurrency(ctx context.Context) error {
	for {
		f := r.throttle.Factor(r.cfg.Now())
		limit := max(1, int(math.Ceil(float64(r.settings.Concurrency)*f)))
		if f >= 1 || r.inFlight.Load() < int64(limit) {
			return nil
		}
		if err := sleep(ctx, min(r.cfg.PollInterval, 100*time.Millisecond)); err != nil {
			return err
		}
	}
}

// dispatch spaces the INVITEs: the campaign's, the trunk's and the caller
// ID's CPS (pace), and, while the abandon throttle's factor f is below 1, at
// least 1/(CPS·f) since the campaign's previous dispatch.
func (r *Runner) dispatch(ctx context.Context, buckets ...*Bucket) error {
	r.slowMu.Lock()
	defer r.slowMu.Unlock()
	if f := r.throttle.Factor(r.cfg.Now()); f < 1 && !r.lastDispatch.IsZero() {
		gap := time.Duration(float64(time.Second) / (r.settings.CPS * f))
		if err := sleep(ctx, time.Until(r.lastDispatch.Add(gap))); err != nil {
			return err
		}
	}
	if err := pace(ctx, buckets...); err != nil {
		return err
	}
	r.lastDispatch = time.Now()
	return nil
}

// deferIfClosed releases the contact to its next calling window when now is outside
// it, and reports whether the contact may be called now.
func (r *Runner) deferIfClosed(ctx context.Context, k store.Contact, loc *time.Location) bool {
	now := r.cfg.Now()
	if r.schedule.Open(now, loc) {
		return true
	}
	next, ok := r.schedule.NextOpen(now, loc)
	if !ok {
		next = now.Add(24 * time.Hour)
	}
	r.log.Debug("outside calling window", "contact_id", k.ID, "next", next)
	r.release(ctx, k, next)
	return false
}

func (r *Runner) release(ctx context.Context, k store.Contact, next time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.cfg.Store.Release(ctx, k.ID, next); err != nil {
		r.log.Error("release contact", "contact_id", k.ID, "err", err)
	}
}

// suppressed returns why the contact must not be called ("" when it may be).
func (r *Runner) suppressed(ctx context.Context, k store.Contact) (string, error) {
	e, ok, err := r.cfg.Store.DNC(ctx, k.Phone, r.cfg.CampaignID)
	if err != nil || !ok {
		return "", err
	}
	if e.CampaignID == 0 {
		return "on the do-not-call list", nil
	}
	return "suppressed for this campaign", nil
}

// attempt waits for a trunk slot and CPS tokens, checks again, and dials.
func (r *Runner) attempt(ctx context.Context, k store.Contact, loc *time.Location) {
	log := r.log.With("contact_id", k.ID, "phone", MaskPhone(k.Phone))
	ts, err := r.trunks.acquire(ctx, r.names)
	if err != nil {
		r.release(ctx, k, k.NextAttemptAt)
		return
	}
	defer r.trunks.release(ts)
	if r.cps.Wait(ctx) != nil || ts.bucket.Wait(ctx) != nil {
		r.release(ctx, k, k.NextAttemptAt)
		return
	}
	// Queued for tokens, the contact may have left its window, the campaign may
	// have been paused, or the number put on the list.
	if !r.deferIfClosed(ctx, k, loc) {
		return
	}
	if c, err := r.cfg.Store.Campaign(ctx, r.cfg.CampaignID); err != nil || c.State != store.CampaignRunning {
		r.release(ctx, k, k.NextAttemptAt)
		return
	}
	if reason, err := r.suppressed(ctx, k); err != nil || reason != "" {
		r.release(ctx, k, r.cfg.Now())
		return
	}
	rec := store.CallRecord{CampaignID: r.cfg.CampaignID, ContactID: k.ID, Phone: k.Phone, Node: r.cfg.Node,
		Trunk: ts.name, Variant: AssignVariant(r.settings.Variants, r.seed, k.ID)}
	buckets := []*Bucket{r.cps, ts.bucket}
	reservedAt := r.cfg.Now()
	if r.pool != nil {
		number, retry, err := r.pool.pick(ctx, k.Phone, reservedAt)
		if err != nil {
			log.Error("caller-ID pool; contact released", "err", err)
			r.release(ctx, k, r.cfg.Now().Add(r.cfg.PollInterval))
			return
		}
		if number == "" {
			log.Info("no caller ID free (caps or rests); contact deferred", "next", retry)
			r.release(ctx, k, retry)
			return
		}
		rec.CallerID = number
		if b := r.pool.bucket(number); b != nil {
			// Queue for the number's token, then let its spacing pass before
			// pacing holds the campaign's and trunk's gates.
			if b.Wait(ctx) != nil || b.ready(ctx) != nil {
				r.release(ctx, k, k.NextAttemptAt)
				return
			}
			buckets = append(buckets, b)
		}
	}
	rec.AttemptAt = time.Now()
	if rec.ID, err = r.cfg.Store.BeginAttempt(ctx, rec); err != nil {
		log.Error("begin attempt; contact released", "err", err)
		r.release(ctx, k, k.NextAttemptAt)
		return
	}
	attempt := k.Attempts + 1
	if err := r.dispatch(ctx, buckets...); err != nil {
		// The attempt is open and will never be dialled: close it as cancelled.
		r.finish(ctx, log, k, loc, rec, attempt, Result{Disposition: Cancelled, Err: err}, 0, reservedAt)
		return
	}
	r.dialled.Add(1)
	var ringing atomic.Int64
	res := r.cfg.Dialer.Dial(ctx, DialRequest{CampaignID: r.cfg.CampaignID, Contact: k, Attempt: attempt, Trunk: ts.name,
		CallerID: rec.CallerID, Variant: rec.Variant, RingTimeout: time.Duration(r.settings.RingTimeout),
		Ringing: func() { ringing.CompareAndSwap(0, time.Now().UnixNano()) }})
	r.finish(ctx, log, k, loc, rec, attempt, res, ringing.Load(), reservedAt)
}

// finish stores how an attempt ended and what it teaches the dialler: the
// contact's next state, the grade, the abandon cap's sample and the caller
// ID's health. reservedAt is when the caller ID was reserved.
func (r *Runner) finish(ctx context.Context, log *slog.Logger, k store.Contact, loc *time.Location, rec store.CallRecord, attempt int, res Result, ringingNs int64, reservedAt time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if res.Disposition == "" {
		res.Disposition = Failed
	}
	if res.Outcome == OutcomeDoNotCall {
		res.Disposition = DoNotCall
	}
	if res.Disposition == Answered {
		if !res.CallbackAt.IsZero() {
			res.Disposition = Callback
		} else if loc != nil {
			res.Disposition, res.CallbackAt = dispositionOfOutcome(res.Outcome, loc)
		}
	}
	if res.EndedAt.IsZero() {
		res.EndedAt = time.Now()
	}
	if res.RingingAt.IsZero() && ringingNs != 0 {
		res.RingingAt = time.Unix(0, ringingNs)
	}
	rec.SIPCallID = res.SIPCallID
	if res.Variant != "" {
		rec.Variant = res.Variant // what the script ran, should it differ
	}
	poolNumber := rec.CallerID
	if res.CallerID != "" {
		rec.CallerID = res.CallerID
	}
	answered := !res.AnsweredAt.IsZero() || res.SIPCode == 200
	res.AnsweredBy = NormalizeAnsweredBy(res.AnsweredBy, answered)
	if res.IntentGrade == "" && res.Disposition != Cancelled {
		res.IntentGrade = Grade(r.settings.Grades, res)
	}
	now := r.cfg.Now()
	r.throttle.Observe(now, res)
	// An attempt cancelled before any answer from the network says nothing
	// of the number's health.
	if r.pool != nil && poolNumber != "" && (res.Disposition != Cancelled || res.SIPCode != 0) {
		if reason, err := r.pool.settle(ctx, poolNumber, reservedAt, now, answered, res.SIPCode); err != nil {
			log.Error("caller-ID usage", "err", err)
		} else if reason != "" {
			log.Warn("caller ID rests", "caller_id", MaskPhone(poolNumber), "reason", reason)
		}
	}
	rec.RingingAt, rec.AnsweredAt, rec.EndedAt = res.RingingAt, res.AnsweredAt, res.EndedAt
	rec.SIPCode, rec.Disposition, rec.AnsweredBy = res.SIPCode, string(res.Disposition), res.AnsweredBy
	rec.Outcome, rec.IntentGrade, rec.Transcript = res.Outcome, res.IntentGrade, res.Transcript
	res.Fill(&rec, r.settings.Conversion)
	next := r.settings.Retry.next(res.Disposition, attempt, r.cfg.Now(), res.CallbackAt)
	if res.Disposition == DoNotCall {
		scope := int64(0)
		if r.settings.DoNotCallScope == "campaign" {
			scope = r.cfg.CampaignID
		}
		if err := r.cfg.Store.AddDNC(ctx, store.DNCEntry{Phone: k.Phone, CampaignID: scope,
			Reason: fmt.Sprintf("do_not_call outcome in campaign %d", r.cfg.CampaignID)}); err != nil {
			log.Error("add to do-not-call list", "err", err)
		}
	}
	if err := r.cfg.Store.FinishAttempt(ctx, rec, next); err != nil {
		// The record stays open: Recover will mark the contact interrupted.
		log.Error("finish attempt", "err", err)
		return
	}
	attrs := []any{"call_id", res.SIPCallID, "trunk", rec.Trunk, "attempt", attempt, "disposition", res.Disposition,
		"sip_code", res.SIPCode, "next_state", next.State}
	if res.Err != nil {
		attrs = append(attrs, "err", res.Err)
	}
	log.Info("call ended", attrs...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
