package campaign

import (
	"fmt"
	"time"
)

// GoldenHours are the slots, in each contact's local time, when people answer
// best; they favour high-value contacts, those with a priority of at least
// MinPriority. Contacts are always claimed highest priority first; golden hours
// add two choices:
//
//   - Hold: a high-value contact that comes due outside golden hours is put
//     back, due at the next minute that is both golden and inside a calling
//     window (if there is none within eight days, it is dialled as usual).
//   - Exclusive: during golden hours only high-value contacts are dialled; a
//     lower one is put back, due at the first open minute after the golden
//     slot.
//
// Neither uses an attempt. With no windows, golden hours do nothing.
type GoldenHours struct {
	// Windows are the golden slots (days, from, to), as calling windows are.
	Windows []Window `json:"windows,omitempty"`
	// MinPriority is the least priority of a high-value contact. Default 50.
	MinPriority *int `json:"min_priority,omitempty"`
	// Hold keeps high-value contacts for golden hours.
	Hold bool `json:"hold,omitempty"`
	// Exclusive keeps golden hours for high-value contacts.
	Exclusive bool `json:"exclusive,omitempty"`
}

const defaultGoldenPriority = 50

func (g GoldenHours) withDefaults() GoldenHours {
	if g.MinPriority == nil {
		p := defaultGoldenPriority
		g.MinPriority = &p
	}
	return g
}

func (g GoldenHours) validate() error {
	for i, w := range g.Windows {
		if _, err := w.compile(); err != nil {
			return fmt.Errorf("windows[%d]: %w", i, err)
		}
	}
	if g.MinPriority != nil && (*g.MinPriority < -99 || *g.MinPriority > 99) {
		return fmt.Errorf("min_priority %d outside -99…99", *g.MinPriority)
	}
	return nil
}

// golden is compiled GoldenHours beside a campaign's Schedule.
type golden struct {
	slots       []slot
	minPriority int
	hold        bool
	exclusive   bool
}

func newGolden(g GoldenHours) (*golden, error) {
	g = g.withDefaults()
	out := &golden{minPriority: *g.MinPriority, hold: g.Hold, exclusive: g.Exclusive}
	for i, w := range g.Windows {
		s, err := w.compile()
		if err != nil {
			return nil, fmt.Errorf("golden_hours: windows[%d]: %w", i, err)
		}
		out.slots = append(out.slots, s)
	}
	return out, nil
}

// in reports whether t is golden in loc.
func (g *golden) in(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	wd, minute := lt.Weekday(), lt.Hour()*60+lt.Minute()
	for _, s := range g.slots {
		if s.contains(wd, minute) {
			return true
		}
	}
	return false
}

// deferral reports when a contact of this priority, open to calls at now in loc,
// should be dialled instead of now (ok false: dial it now).
func (g *golden) deferral(sc *Schedule, priority int, now time.Time, loc *time.Location) (at time.Time, ok bool) {
	if len(g.slots) == 0 {
		return time.Time{}, false
	}
	high, inGolden := priority >= g.minPriority, g.in(now, loc)
	switch {
	case high && !inGolden && g.hold:
		return g.search(now, func(t time.Time) bool { return g.in(t, loc) && sc.Open(t, loc) })
	case !high && inGolden && g.exclusive:
		return g.search(now, func(t time.Time) bool { return !g.in(t, loc) && sc.Open(t, loc) })
	}
	return time.Time{}, false
}

// search is the first whole minute after now when want holds, up to eight days
// ahead, stepping by minutes as Schedule.NextOpen does.
func (g *golden) search(now time.Time, want func(time.Time) bool) (time.Time, bool) {
	c := now.Truncate(time.Minute).Add(time.Minute)
	for i := 0; i < 8*24*60; i++ {
		if want(c) {
			return c, true
		}
		c = c.Add(time.Minute)
	}
	return time.Time{}, false
}
