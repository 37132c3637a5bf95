package campaign

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/waihu/waihu/store"
)

// CallerIDPool says how the number presented to the called person is chosen
// from Settings.CallerIDs for each attempt. Usage is counted in the store, per
// number across every campaign and node sharing it, so caps hold across restarts
// and nodes. Every zero field takes the default written beside it.
type CallerIDPool struct {
	// HourlyCap is the most attempts per number in one clock hour. Default 0:
	// no cap.
	HourlyCap int `json:"hourly_cap,omitempty"`
	// DailyCap is the most attempts per number in the 24 clock hours ending
	// with the current one (a rolling day). Default 0: no cap.
	DailyCap int `json:"daily_cap,omitempty"`
	// CPS is each number's attempts per second, a token bucket after the
	// campaign's and the trunk's. Default 0: no limit of its own.
	CPS float64 `json:"cps,omitempty"`
	// LocalPrefix, when above 0, prefers a number whose first LocalPrefix
	// digits equal the contact's (same area code). Default 0: no preference.
	LocalPrefix int `json:"local_prefix,omitempty"`
	// HealthWindow is how far back the health score looks, in clock hours.
	// Default 24 h.
	HealthWindow Duration `json:"health_window,omitempty"`
	// PriorRate and PriorWeight are the health score's prior: a number starts
	// as if it had PriorWeight attempts answered at PriorRate. Defaults 0.3
	// and 10.
	PriorRate   float64 `json:"prior_rate,omitempty"`
	PriorWeight float64 `json:"prior_weight,omitempty"`
	// MinHealth is the score below which a number rests. Default 0.1.
	MinHealth float64 `json:"min_health,omitempty"`
	// MinAttempts is how many attempts in the window a number needs before a
	// low score rests it. Default 20.
	MinAttempts int `json:"min_attempts,omitempty"`
	// Rest is how long an unhealthy number rests. Default 6 h.
	Rest Duration `json:"rest,omitempty"`
	// SpamRest is how long a number flagged as spam rests. Default 72 h.
	SpamRest Duration `json:"spam_rest,omitempty"`
	// SpamCodes are the final SIP codes that flag the number presented as
	// spam. Default 607 (Unwanted, RFC 8197) and 608 (Rejected by an
	// intermediary's call analytics, RFC 8688).
	SpamCodes []int `json:"spam_codes,omitempty"`
}

func (p CallerIDPool) withDefaults() CallerIDPool {
	if p.HealthWindow <= 0 {
		p.HealthWindow = Duration(24 * time.Hour)
	}
	if p.PriorRate <= 0 {
		p.PriorRate = 0.3
	}
	if p.PriorWeight <= 0 {
		p.PriorWeight = 10
	}
	if p.MinHealth <= 0 {
		p.MinHealth = 0.1
	}
	if p.MinAttempts <= 0 {
		p.MinAttempts = 20
	}
	if p.Rest <= 0 {
		p.Rest = Duration(6 * time.Hour)
	}
	if p.SpamRest <= 0 {
		p.SpamRest = Duration(72 * time.Hour)
	}
	if len(p.SpamCodes) == 0 {
		p.SpamCodes = []int{607, 608}
	}
	return p
}

func (p CallerIDPool) validate() error {
	switch {
	case p.HourlyCap < 0 || p.DailyCap < 0 || p.CPS < 0 || p.LocalPrefix < 0 || p.MinAttempts < 0:
		return fmt.Errorf("hourly_cap, daily_cap, cps, local_prefix and min_attempts must not be negative")
	case p.PriorRate < 0 || p.PriorRate > 1 || p.MinHealth < 0 || p.MinHealth > 1:
		return fmt.Errorf("prior_rate and min_health are shares from 0 to 1")
	case p.PriorWeight < 0:
		return fmt.Errorf("prior_weight must not be negative")
	}
	return nil
}

// Health is a number's smoothed answer rate: (answered + w·r) / (attempts + w)
// with the pool's prior rate r and weight w, so a number with few attempts
// scores near the prior and one with many near its own answer rate.
func (p CallerIDPool) Health(attempts, answered int) float64 {
	return (float64(answered) + p.PriorWeight*p.PriorRate) / (float64(attempts) + p.PriorWeight)
}

// callerIDs picks numbers for one campaign's attempts.
type callerIDs struct {
	pool    CallerIDPool
	numbers []string
	st      store.Store
	buckets *Trunks // per-number CPS buckets, shared by the node's campaigns

	mu   sync.Mutex
	turn int // rotation among equals
}

// candidate is one number's standing for one attempt.
type candidate struct {
	number   string
	local    bool
	health   float64
	hourUsed int
	rotation int
}

// pick reserves a number for an attempt on phone at now, in order of
// preference: the local-area match first, then the least load — attempts this
// hour per unit of health, so numbers carry traffic in proportion to their
// health and equals share it evenly — then in turn. It skips numbers that rest
// or are at a cap; the store's reservation settles races with other nodes.
// When none is free, retry is the earliest time one may be: the next clock
// hour or the end of a rest.
func (c *callerIDs) pick(ctx context.Context, phone string, now time.Time) (number string, retry time.Time, err error) {
	stats, err := c.st.CallerIDStats(ctx, c.numbers, now, time.Duration(c.pool.HealthWindow))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("caller-ID pool: %w", err)
	}
	c.mu.Lock()
	turn := c.turn
	c.turn++
	c.mu.Unlock()
	retry = now.Truncate(time.Hour).Add(time.Hour)
	var cands []candidate
	for i, n := range c.numbers {
		s := stats[n]
		if s.RestUntil.After(now) {
			if s.RestUntil.Before(retry) {
				retry = s.RestUntil
			}
			continue
		}
		if (c.pool.HourlyCap > 0 && s.HourAttempts >= c.pool.HourlyCap) || (c.pool.DailyCap > 0 && s.DayAttempts >= c.pool.DailyCap) {
			continue
		}
		cands = append(cands, candidate{number: n, local: c.local(n, phone),
			health: c.pool.Health(s.WindowAttempts, s.WindowAnswered), hourUsed: s.HourAttempts,
			rotation: (i - turn%len(c.numbers) + len(c.numbers)) % len(c.numbers)})
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.local != b.local {
			return a.local
		}
		if la, lb := a.load(), b.load(); la != lb {
			return la < lb
		}
		return a.rotation < b.rotation
	})
	for _, cand := range cands {
		ok, err := c.st.ReserveCallerID(ctx, cand.number, now, c.pool.HourlyCap, c.pool.DailyCap)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("caller-ID pool: %w", err)
		}
		if ok {
			return cand.number, time.Time{}, nil
		}
	}
	return "", retry, nil
}

// load is the candidate's attempts this hour per unit of health.
func (c candidate) load() float64 {
	return float64(c.hourUsed) / math.Max(c.health, 1e-9)
}

// local reports whether number shares the contact's first LocalPrefix digits.
func (c *callerIDs) local(number, phone string) bool {
	n := c.pool.LocalPrefix
	if n <= 0 {
		return false
	}
	a, b := strings.TrimPrefix(number, "+"), strings.TrimPrefix(phone, "+")
	return len(a) >= n && len(b) >= n && a[:n] == b[:n]
}

// bucket is the number's CPS bucket, nil when the pool sets no CPS.
func (c *callerIDs) bucket(number string) *Bucket {
	if c.pool.CPS <= 0 {
		return nil
	}
	return c.buckets.callerBucket(number, c.pool.CPS)
}

// settle records how an attempt with number went: an answer counts toward its
// health; a spam code rests it for SpamRest; a score below MinHealth after
// MinAttempts rests it for Rest. It returns the rest's reason, "" when none.
func (c *callerIDs) settle(ctx context.Context, number string, attemptAt, now time.Time, answered bool, sipCode int) (string, error) {
	if answered {
		if err := c.st.CallerIDAnswered(ctx, number, attemptAt); err != nil {
			return "", fmt.Errorf("caller-ID pool: %w", err)
		}
	}
	for _, code := range c.pool.SpamCodes {
		if sipCode == code {
			reason := fmt.Sprintf("flagged as spam: SIP %d", sipCode)
			if err := c.st.RestCallerID(ctx, number, now.Add(time.Duration(c.pool.SpamRest)), reason); err != nil {
				return "", fmt.Errorf("caller-ID pool: %w", err)
			}
			return reason, nil
		}
	}
	stats, err := c.st.CallerIDStats(ctx, []string{number}, now, time.Duration(c.pool.HealthWindow))
	if err != nil {
		return "", fmt.Errorf("caller-ID pool: %w", err)
	}
	s := stats[number]
	if s.RestUntil.After(now) || s.WindowAttempts < c.pool.MinAttempts {
		return "", nil
	}
	if h := c.pool.Health(s.WindowAttempts, s.WindowAnswered); h < c.pool.MinHealth {
		reason := fmt.Sprintf("health %.3f below %.3f (%d answered of %d)", h, c.pool.MinHealth, s.WindowAnswered, s.WindowAttempts)
		if err := c.st.RestCallerID(ctx, number, now.Add(time.Duration(c.pool.Rest)), reason); err != nil {
			return "", fmt.Errorf("caller-ID pool: %w", err)
		}
		return reason, nil
	}
	return "", nil
}

// FlagCallerID rests number as spam until until, in every campaign and on every
// node sharing st: an operator's action when a carrier or an app labels it.
func FlagCallerID(ctx context.Context, st store.Store, number string, until time.Time, reason string) error {
	n, err := NormalizePhone(number)
	if err != nil {
		return fmt.Errorf("flag caller ID: %w", err)
	}
	if reason == "" {
		reason = "flagged as spam"
	}
	return st.RestCallerID(ctx, n, until, reason)
}

// CallerIDState is one pool number's standing, for status pages and the CLI.
type CallerIDState struct {
	Number       string
	HourAttempts int
	DayAttempts  int
	// Health is the smoothed answer rate over the pool's health window.
	Health float64
	// Resting is true while RestUntil is ahead; RestReason says why.
	Resting    bool
	RestUntil  time.Time
	RestReason string
}

// String is one line with the number masked:
// "075****5678: 12 this hour, 80 today, health 0.31".
func (s CallerIDState) String() string {
	line := fmt.Sprintf("%s: %d this hour, %d today, health %.2f", MaskPhone(s.Number), s.HourAttempts, s.DayAttempts, s.Health)
	if s.Resting {
		line += fmt.Sprintf(", resting until %s (%s)", s.RestUntil.Format(time.RFC3339), s.RestReason)
	}
	return line
}

// CallerIDStates reports the standing of each number of a campaign's pool at now,
// in the settings' order.
func CallerIDStates(ctx context.Context, st store.Store, settings Settings, now time.Time) ([]CallerIDState, error) {
	settings = settings.withDefaults()
	pool := settings.CallerIDPool
	var numbers []string
	for _, n := range settings.CallerIDs {
		if p, err := NormalizePhone(n); err == nil {
			numbers = append(numbers, p)
		}
	}
	stats, err := st.CallerIDStats(ctx, numbers, now, time.Duration(pool.HealthWindow))
	if err != nil {
		return nil, fmt.Errorf("caller-ID pool: %w", err)
	}
	out := make([]CallerIDState, 0, len(numbers))
	for _, n := range numbers {
		s := stats[n]
		out = append(out, CallerIDState{Number: n, HourAttempts: s.HourAttempts, DayAttempts: s.DayAttempts,
			Health: pool.Health(s.WindowAttempts, s.WindowAnswered), Resting: s.RestUntil.After(now),
			RestUntil: s.RestUntil, RestReason: s.RestReason})
	}
	return out, nil
}
