package campaign

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a daily time slot, "09:00" to "12:00" local time, on the listed days
// (mon … sun; none listed means every day). To "24:00" is midnight at the end of
// the day; a window never crosses midnight — write two.
type Window struct {
	Days []string `json:"days,omitempty"`
	From string   `json:"from"`
	To   string   `json:"to"`
}

// slot is a compiled Window: minutes since local midnight, weekday bit set.
type slot struct {
	days     uint8 // bit per time.Weekday
	from, to int   // minutes, from < to
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func (w Window) compile() (slot, error) {
	var s slot
	if len(w.Days) == 0 {
		s.days = 0x7f
	}
	for _, d := range w.Days {
		name := strings.ToLower(strings.TrimSpace(d))
		if len(name) > 3 { // "monday" works as "mon"
			name = name[:3]
		}
		wd, ok := dayNames[name]
		if !ok {
			return slot{}, fmt.Errorf("day %q: want mon, tue, wed, thu, fri, sat or sun", d)
		}
		s.days |= 1 << wd
	}
	var err error
	if s.from, err = clockMinutes(w.From); err != nil {
		return slot{}, fmt.Errorf("from: %w", err)
	}
	if s.to, err = clockMinutes(w.To); err != nil {
		return slot{}, fmt.Errorf("to: %w", err)
	}
	if s.from >= s.to {
		return slot{}, fmt.Errorf("from %s is not before to %s", w.From, w.To)
	}
	return s, nil
}

func clockMinutes(hhmm string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(hhmm), ":")
	hour, err1 := strconv.Atoi(h)
	minute, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hour < 0 || minute < 0 || minute > 59 || hour > 24 || (hour == 24 && minute != 0) {
		return 0, fmt.Errorf("%q is not a clock time HH:MM", hhmm)
	}
	return hour*60 + minute, nil
}

func (s slot) contains(wd time.Weekday, minute int) bool {
	return s.days&(1<<wd) != 0 && minute >= s.from && minute < s.to
}

// Schedule answers "may this contact be called now, and if not, when next?" for
// one campaign's windows and blackouts.
type Schedule struct {
	windows, blackouts []slot
	defaultLoc         *time.Location
}

// NewSchedule compiles settings' windows (with defaults filled).
func NewSchedule(st Settings) (*Schedule, error) {
	st = st.withDefaults()
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", st.TimeZone, err)
	}
	sc := &Schedule{defaultLoc: loc}
	for i, w := range st.Windows {
		s, err := w.compile()
		if err != nil {
			return nil, fmt.Errorf("windows[%d]: %w", i, err)
		}
		sc.windows = append(sc.windows, s)
	}
	for i, w := range st.Blackouts {
		s, err := w.compile()
		if err != nil {
			return nil, fmt.Errorf("blackouts[%d]: %w", i, err)
		}
		sc.blackouts = append(sc.blackouts, s)
	}
	return sc, nil
}

// Location is the contact's time zone, or the campaign's when it has none. An
// unknown zone is an error (the contact is skipped rather than called at night).
func (sc *Schedule) Location(tz string) (*time.Location, error) {
	if tz == "" {
		return sc.defaultLoc, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	return loc, nil
}

// Open reports whether t falls inside a window and outside every blackout, in loc.
func (sc *Schedule) Open(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	wd, minute := lt.Weekday(), lt.Hour()*60+lt.Minute()
	in := false
	for _, s := range sc.windows {
		if s.contains(wd, minute) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, s := range sc.blackouts {
		if s.contains(wd, minute) {
			return false
		}
	}
	return true
}

// NextOpen is the first minute at or after t when Open is true, searched up to
// eight days ahead; ok is false when the schedule never opens.
func (sc *Schedule) NextOpen(t time.Time, loc *time.Location) (next time.Time, ok bool) {
	if sc.Open(t, loc) {
		return t, true
	}
	// Minute steps are cheap (≤ 11 520) and immune to DST edge cases that
	// arithmetic on slot boundaries would get wrong.
	c := t.In(loc).Truncate(time.Minute).Add(time.Minute)
	for i := 0; i < 8*24*60; i++ {
		if sc.Open(c, loc) {
			return c, true
		}
		c = c.Add(time.Minute)
	}
	return time.Time{}, false
}
