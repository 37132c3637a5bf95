package campaign

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Bucket is a token bucket for call attempts per second that queues callers in
// arrival order instead of rejecting them (GCRA: each Wait reserves the next free
// instant, so waiters are served first come, first served).
type Bucket struct {
	interval time.Duration
	burst    int

	mu      sync.Mutex
	tat     time.Time // theoretical arrival time of the next token
	waiting int

	gate sync.Mutex // held by pace while it spaces one dispatch
	last time.Time  // the previous dispatch
}

// NewBucket allows cps attempts per second with bursts of burst (at least 1).
func NewBucket(cps float64, burst int) *Bucket {
	if burst < 1 {
		burst = 1
	}
	return &Bucket{interval: time.Duration(float64(time.Second) / cps), burst: burst}
}

// Wait blocks until the caller's token is due or ctx ends. A caller that gives up
// keeps its reservation spent: the bucket errs on the slow side, never the fast.
func (b *Bucket) Wait(ctx context.Context) error {
	now := time.Now()
	b.mu.Lock()
	if b.tat.Before(now) {
		b.tat = now
	}
	at := b.tat.Add(-time.Duration(b.burst-1) * b.interval)
	if at.Before(now) {
		at = now
	}
	b.tat = b.tat.Add(b.interval)
	b.waiting++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
	}()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pace spaces the dispatches themselves: it returns once every bucket's interval
// has passed since that bucket's previous dispatch, and marks now as the next.
// Wait queues callers long before the INVITE (while the store records the
// attempt); without pace, a caller delayed between its token and its INVITE lets
// the next one through too close behind it, and the carrier counts more than the
// limit in a second. Buckets are locked in the order given: callers always pass
// the campaign's before the trunk's, so no two wait on each other.
func pace(ctx context.Context, buckets ...*Bucket) error {
	for _, b := range buckets {
		b.gate.Lock()
		defer b.gate.Unlock()
	}
	var at time.Time
	for _, b := range buckets {
		if next := b.last.Add(b.interval); next.After(at) {
			at = next
		}
	}
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	now := time.Now()
	for _, b := range buckets {
		b.last = now
	}
	return nil
}

// ready waits, without taking a token or holding the bucket's gate, until the
// bucket's interval has passed since its previous dispatch: a caller about to
// pace several buckets waits for a slow one first, so it does not hold the
// faster buckets' gates (and every other call behind them) meanwhile.
func (b *Bucket) ready(ctx context.Context) error {
	b.gate.Lock()
	at := b.last.Add(b.interval)
	b.gate.Unlock()
	return sleep(ctx, time.Until(at))
}

// Waiting is the number of callers queued for a token.
func (b *Bucket) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting
}

// Semaphore bounds concurrent calls; Acquire waits (queues) for a free slot.
type Semaphore struct {
	slots   chan struct{}
	mu      sync.Mutex
	waiting int
}

// NewSemaphore allows n holders at once.
func NewSemaphore(n int) *Semaphore { return &Semaphore{slots: make(chan struct{}, n)} }

// Acquire takes a slot, waiting until one is free or ctx ends.
func (s *Semaphore) Acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	s.mu.Lock()
	s.waiting++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
	}()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees a slot taken by Acquire.
func (s *Semaphore) Release() { <-s.slots }

// InUse is the number of slots taken.
func (s *Semaphore) InUse() int { return len(s.slots) }

// Waiting is the number of callers queued for a slot.
func (s *Semaphore) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// Trunks holds each trunk's CPS bucket and concurrency limit. One Trunks value is
// shared by every campaign that dials on a node, so a trunk's limits hold across
// campaigns.
type Trunks struct {
	mu      sync.Mutex
	trunks  map[string]*trunkState
	changed chan struct{} // closed and replaced whenever a slot frees
	waiting int
	// callers are the caller-ID pool's per-number CPS buckets: a number's
	// rate holds across the node's campaigns, as a trunk's does.
	callers map[string]*Bucket
}

type trunkState struct {
	name     string
	limit    int
	inFlight int
	bucket   *Bucket
}

// NewTrunks builds the trunk limits; each limit's zero fields take the defaults.
func NewTrunks(limits []TrunkLimit) *Trunks {
	t := &Trunks{trunks: map[string]*trunkState{}, changed: make(chan struct{})}
	t.Add(limits...)
	return t
}

// Add registers trunks not yet known; a known trunk keeps its current limits.
func (t *Trunks) Add(limits ...TrunkLimit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range (Settings{Trunks: limits}).withDefaults().Trunks {
		if _, ok := t.trunks[l.Name]; !ok {
			t.trunks[l.Name] = &trunkState{name: l.Name, limit: l.Concurrency, bucket: NewBucket(l.CPS, 1)}
		}
	}
}

// callerBucket is number's CPS bucket, made at cps on first use.
func (t *Trunks) callerBucket(number string, cps float64) *Bucket {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.callers == nil {
		t.callers = map[string]*Bucket{}
	}
	b, ok := t.callers[number]
	if !ok {
		b = NewBucket(cps, 1)
		t.callers[number] = b
	}
	return b
}

// acquire takes a call slot on the least busy of names (ties: the first listed),
// waiting for one to free.
func (t *Trunks) acquire(ctx context.Context, names []string) (*trunkState, error) {
	counted := false
	defer func() {
		if counted {
			t.mu.Lock()
			t.waiting--
			t.mu.Unlock()
		}
	}()
	for {
		t.mu.Lock()
		var best *trunkState
		for _, n := range names {
			ts, ok := t.trunks[n]
			if !ok {
				t.mu.Unlock()
				return nil, fmt.Errorf("trunk %q has no limits registered", n)
			}
			if ts.inFlight < ts.limit && (best == nil || ts.inFlight < best.inFlight) {
				best = ts
			}
		}
		if best != nil {
			best.inFlight++
			t.mu.Unlock()
			return best, nil
		}
		if !counted {
			counted = true
			t.waiting++
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (t *Trunks) release(ts *trunkState) {
	t.mu.Lock()
	ts.inFlight--
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// TrunkStats is one trunk's load.
type TrunkStats struct {
	Name     string
	InFlight int
	Limit    int
	// WaitingCPS is how many calls queue for the trunk's next CPS token.
	WaitingCPS int
}

// Stats reports every trunk's load, and how many calls wait for a free slot.
func (t *Trunks) Stats() (trunks []TrunkStats, waitingSlot int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ts := range t.trunks {
		trunks = append(trunks, TrunkStats{Name: ts.name, InFlight: ts.inFlight, Limit: ts.limit, WaitingCPS: ts.bucket.Waiting()})
	}
	return trunks, t.waiting
}
