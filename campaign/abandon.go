package campaign

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// AbandonCap keeps the share of abandoned calls under a cap. A call is
// abandoned when a person answered (answered_by human or unknown: not a machine
// or fax) and the bot's first audio did not reach them within GreetWithin of the
// answer, or never did. Over the cap, the dialler slows: its CPS and concurrency
// are multiplied by a factor that is cut at once and recovers step by step.
// Every zero field takes the default written beside it.
type AbandonCap struct {
	// Disabled turns the cap off.
	Disabled bool `json:"disabled,omitempty"`
	// Cap is the largest share of abandoned calls allowed. Default 0.03 (3 %).
	Cap float64 `json:"cap,omitempty"`
	// GreetWithin is how soon after the answer the greeting must start.
	// Default 2 s.
	GreetWithin Duration `json:"greet_within,omitempty"`
	// Window is the sliding window the share is measured over. Default 15 min.
	Window Duration `json:"window,omitempty"`
	// MinCalls is how many person-answered calls the window needs before the
	// share is trusted. Default 20.
	MinCalls int `json:"min_calls,omitempty"`
	// Decrease multiplies the factor on each cut. Default 0.5.
	Decrease float64 `json:"decrease,omitempty"`
	// MinFactor is the factor's floor. Default 0.1.
	MinFactor float64 `json:"min_factor,omitempty"`
	// Cooldown is the least time between two cuts, so that a cut shows its
	// effect before the next. Default 1 min.
	Cooldown Duration `json:"cooldown,omitempty"`
	// RecoverStep is added to the factor every RecoverEvery while the share is
	// at or under the cap. Defaults 0.1 and 1 min.
	RecoverStep  float64  `json:"recover_step,omitempty"`
	RecoverEvery Duration `json:"recover_every,omitempty"`
}

func (a AbandonCap) withDefaults() AbandonCap {
	if a.Cap <= 0 {
		a.Cap = 0.03
	}
	if a.GreetWithin <= 0 {
		a.GreetWithin = Duration(2 * time.Second)
	}
	if a.Window <= 0 {
		a.Window = Duration(15 * time.Minute)
	}
	if a.MinCalls <= 0 {
		a.MinCalls = 20
	}
	if a.Decrease <= 0 {
		a.Decrease = 0.5
	}
	if a.MinFactor <= 0 {
		a.MinFactor = 0.1
	}
	if a.Cooldown <= 0 {
		a.Cooldown = Duration(time.Minute)
	}
	if a.RecoverStep <= 0 {
		a.RecoverStep = 0.1
	}
	if a.RecoverEvery <= 0 {
		a.RecoverEvery = Duration(time.Minute)
	}
	return a
}

func (a AbandonCap) validate() error {
	if a.Cap < 0 || a.Cap > 1 || a.Decrease < 0 || a.Decrease >= 1 || a.MinFactor < 0 || a.MinFactor > 1 ||
		a.RecoverStep < 0 || a.RecoverStep > 1 {
		return fmt.Errorf("cap, min_factor and recover_step are shares from 0 to 1, decrease below 1")
	}
	if a.MinCalls < 0 {
		return fmt.Errorf("min_calls must not be negative")
	}
	return nil
}

// Abandoned reports whether a finished call counts for the abandon rate
// (counted) and whether it was abandoned. Only calls with a known answer time
// that a person (or an unclassified party) answered count.
func (a AbandonCap) Abandoned(res Result) (counted, abandoned bool) {
	if res.AnsweredAt.IsZero() || strings.HasPrefix(res.AnsweredBy, "machine") || res.AnsweredBy == "fax" {
		return false, false
	}
	if res.GreetedAt.IsZero() {
		return true, true
	}
	return true, res.GreetedAt.Sub(res.AnsweredAt) > time.Duration(a.GreetWithin)
}

// Throttle is the abandon cap's control loop: it keeps the window's calls and
// the factor the dialler's CPS and concurrency are multiplied by. The factor is
// cut by Decrease when the window holds at least MinCalls, its share is over
// the cap, a call was abandoned since the last cut and Cooldown has passed; it
// rises by RecoverStep per RecoverEvery spent at or under the cap, up to 1.
// Time comes from the callers (an injected clock).
type Throttle struct {
	cfg AbandonCap

	mu        sync.Mutex
	calls     []abandonSample
	factor    float64
	cutAt     time.Time // the last cut
	calmSince time.Time // the last recovery step, or the last time over the cap
	fresh     bool      // an abandon since the last cut
}

type abandonSample struct {
	at        time.Time
	abandoned bool
}

// NewThrottle starts at full speed (factor 1).
func NewThrottle(cfg AbandonCap) *Throttle {
	return &Throttle{cfg: cfg.withDefaults(), factor: 1}
}

// Observe adds one finished call at now.
func (t *Throttle) Observe(now time.Time, res Result) {
	if t.cfg.Disabled {
		return
	}
	counted, abandoned := t.cfg.Abandoned(res)
	if !counted {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, abandonSample{at: now, abandoned: abandoned})
	t.fresh = t.fresh || abandoned
	t.update(now)
}

// Factor is the multiplier of CPS and concurrency at now, in [MinFactor, 1].
func (t *Throttle) Factor(now time.Time) float64 {
	if t.cfg.Disabled {
		return 1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.update(now)
	return t.factor
}

// Rate is the window's abandon share at now and the calls it counts.
func (t *Throttle) Rate(now time.Time) (share float64, calls int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	return t.rate()
}

// prune drops the calls that left the window. When that takes the share from
// over the cap to under it, the calm began when the last of them left, not at
// the last look: recovery must not count the minutes nobody looked.
func (t *Throttle) prune(now time.Time) {
	w := time.Duration(t.cfg.Window)
	from := now.Add(-w)
	i := 0
	for i < len(t.calls) && !t.calls[i].at.After(from) {
		i++
	}
	if i == 0 {
		return
	}
	before, _ := t.rate()
	left := t.calls[i-1].at.Add(w)
	t.calls = append(t.calls[:0], t.calls[i:]...)
	if after, _ := t.rate(); before > t.cfg.Cap && after <= t.cfg.Cap && left.After(t.calmSince) {
		t.calmSince = left
	}
}

func (t *Throttle) rate() (float64, int) {
	if len(t.calls) == 0 {
		return 0, 0
	}
	n := 0
	for _, c := range t.calls {
		if c.abandoned {
			n++
		}
	}
	return float64(n) / float64(len(t.calls)), len(t.calls)
}

func (t *Throttle) update(now time.Time) {
	t.prune(now)
	share, calls := t.rate()
	switch {
	case share > t.cfg.Cap:
		// Recovery counts from the last moment over the cap, so it is gradual
		// however long the window took to forget the abandons.
		t.calmSince = now
		if calls >= t.cfg.MinCalls && t.fresh && (t.cutAt.IsZero() || now.Sub(t.cutAt) >= time.Duration(t.cfg.Cooldown)) {
			t.factor = math.Max(t.cfg.MinFactor, t.factor*t.cfg.Decrease)
			t.cutAt, t.fresh = now, false
		}
	case t.factor < 1:
		every := time.Duration(t.cfg.RecoverEvery)
		if steps := int(now.Sub(t.calmSince) / every); steps > 0 {
			t.factor = math.Min(1, t.factor+float64(steps)*t.cfg.RecoverStep)
			t.calmSince = t.calmSince.Add(time.Duration(steps) * every)
		}
	}
}
