package campaign

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as "30m", "2h".
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration %s: want \"30m\" or seconds", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Settings are one campaign's knobs, stored as JSON with the campaign. Every zero
// field means its documented default, so `{}` is a valid campaign.
type Settings struct {
	// TimeZone is used for contacts that have none. Default Asia/Shanghai.
	TimeZone string `json:"time_zone,omitempty"`
	// Windows are when contacts may be called, in each contact's local time.
	// Default: every day 09:00–21:00.
	Windows []Window `json:"windows,omitempty"`
	// Blackouts are slots inside the windows when no one is called (lunch).
	Blackouts []Window `json:"blackouts,omitempty"`
	// Retry is the recycling policy per disposition.
	Retry Retry `json:"retry,omitempty"`
	// CPS is the campaign's call attempts per second. Default 1.
	CPS float64 `json:"cps,omitempty"`
	// Concurrency is the most calls of this campaign at once. Default 10.
	Concurrency int `json:"concurrency,omitempty"`
	// Trunks are the trunks to dial through with their own limits; calls go to
	// the least busy trunk with a free slot. Required to start.
	Trunks []TrunkLimit `json:"trunks,omitempty"`
	// DoNotCallScope is where a do_not_call outcome puts the number: "global"
	// (default: the person asked not to be called at all) or "campaign".
	DoNotCallScope string `json:"do_not_call_scope,omitempty"`
	// RingTimeout is how long a call may ring. Default 30 s.
	RingTimeout Duration `json:"ring_timeout,omitempty"`
	// CallerIDs are the numbers presented to the called person (the caller-ID
	// pool); CallerIDPool says how one is chosen per attempt. Default: the
	// trunk's own caller ID.
	CallerIDs []string `json:"caller_ids,omitempty"`
	// CallerIDPool are the pool's caps, CPS and health rules (callerid.go).
	CallerIDPool CallerIDPool `json:"caller_id_pool,omitempty"`
	// Abandon is the abandon-rate cap that slows the dialler (abandon.go).
	Abandon AbandonCap `json:"abandon,omitempty"`
	// Grades are the intent-grade rules (grade.go). Default: DefaultGradeRules.
	Grades []GradeRule `json:"grades,omitempty"`
	// Conversion says which calls count as converted in their records
	// (CallRecord.Converted). Default: outcome interested or grade A.
	Conversion Conversion `json:"conversion,omitzero"`
	// Variants are the script variants the dialler assigns by weight, the same
	// one to every attempt on a contact (variant.go). Default: none.
	Variants []Variant `json:"variants,omitempty"`
	// VariantSeed makes one campaign's assignment differ from another's.
	// Default: the campaign's ID.
	VariantSeed string `json:"variant_seed,omitempty"`
	// GoldenHours favour high-value contacts (golden.go). Default: none.
	GoldenHours GoldenHours `json:"golden_hours,omitempty"`
}

// TrunkLimit is one trunk with its limits.
type TrunkLimit struct {
	Name string `json:"name"`
	// CPS is the trunk's attempts per second. Default 1.
	CPS float64 `json:"cps,omitempty"`
	// Concurrency is the most calls on this trunk at once. Default 10.
	Concurrency int `json:"concurrency,omitempty"`
}

// Retry says when a contact is tried again. Zero fields take the defaults.
type Retry struct {
	// MaxAttempts is the most calls to one contact. Default 3.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// NoAnswer is the delay after a call that rang out. Default 30 min.
	NoAnswer Duration `json:"no_answer,omitempty"`
	// Busy is the delay after a busy signal. Default 10 min.
	Busy Duration `json:"busy,omitempty"`
	// Failed is the delay after a rejected or unreachable call. Default 1 h.
	Failed Duration `json:"failed,omitempty"`
	// Voicemail is the delay after an answering machine. Default 2 h.
	Voicemail Duration `json:"voicemail,omitempty"`
}

const (
	defaultTimeZone    = "Asia/Shanghai"
	defaultCPS         = 1
	defaultConcurrency = 10
	defaultRingTimeout = 30 * time.Second
	defaultMaxAttempts = 3
)

// withDefaults fills every zero field.
func (s Settings) withDefaults() Settings {
	if s.TimeZone == "" {
		s.TimeZone = defaultTimeZone
	}
	if len(s.Windows) == 0 {
		s.Windows = []Window{{From: "09:00", To: "21:00"}}
	}
	if s.CPS <= 0 {
		s.CPS = defaultCPS
	}
	if s.Concurrency <= 0 {
		s.Concurrency = defaultConcurrency
	}
	if s.RingTimeout <= 0 {
		s.RingTimeout = Duration(defaultRingTimeout)
	}
	if s.DoNotCallScope == "" {
		s.DoNotCallScope = "global"
	}
	for i := range s.Trunks {
		if s.Trunks[i].CPS <= 0 {
			s.Trunks[i].CPS = defaultCPS
		}
		if s.Trunks[i].Concurrency <= 0 {
			s.Trunks[i].Concurrency = defaultConcurrency
		}
	}
	s.CallerIDPool = s.CallerIDPool.withDefaults()
	s.Abandon = s.Abandon.withDefaults()
	if len(s.Grades) == 0 {
		s.Grades = DefaultGradeRules()
	}
	s.GoldenHours = s.GoldenHours.withDefaults()
	r := &s.Retry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = defaultMaxAttempts
	}
	if r.NoAnswer <= 0 {
		r.NoAnswer = Duration(30 * time.Minute)
	}
	if r.Busy <= 0 {
		r.Busy = Duration(10 * time.Minute)
	}
	if r.Failed <= 0 {
		r.Failed = Duration(time.Hour)
	}
	if r.Voicemail <= 0 {
		r.Voicemail = Duration(2 * time.Hour)
	}
	return s
}

// ParseSettings reads a campaign's settings JSON and checks it: unknown fields,
// bad windows, time zones and scopes are errors that name the field.
func ParseSettings(b []byte) (Settings, error) {
	var s Settings
	if len(strings.TrimSpace(string(b))) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("campaign settings: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate checks the settings without filling defaults.
func (s Settings) Validate() error {
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return fmt.Errorf("campaign settings: time_zone %q: %w", s.TimeZone, err)
		}
	}
	for i, w := range s.Windows {
		if _, err := w.compile(); err != nil {
			return fmt.Errorf("campaign settings: windows[%d]: %w", i, err)
		}
	}
	for i, w := range s.Blackouts {
		if _, err := w.compile(); err != nil {
			return fmt.Errorf("campaign settings: blackouts[%d]: %w", i, err)
		}
	}
	seen := map[string]bool{}
	for i, t := range s.Trunks {
		if t.Name == "" {
			return fmt.Errorf("campaign settings: trunks[%d]: no name", i)
		}
		if seen[t.Name] {
			return fmt.Errorf("campaign settings: trunks[%d]: %q listed twice", i, t.Name)
		}
		seen[t.Name] = true
	}
	if s.DoNotCallScope != "" && s.DoNotCallScope != "global" && s.DoNotCallScope != "campaign" {
		return fmt.Errorf("campaign settings: do_not_call_scope %q: want global or campaign", s.DoNotCallScope)
	}
	for i, n := range s.CallerIDs {
		if _, err := NormalizePhone(n); err != nil {
			return fmt.Errorf("campaign settings: caller_ids[%d]: %w", i, err)
		}
	}
	if err := s.CallerIDPool.validate(); err != nil {
		return fmt.Errorf("campaign settings: caller_id_pool: %w", err)
	}
	if err := s.Abandon.validate(); err != nil {
		return fmt.Errorf("campaign settings: abandon: %w", err)
	}
	for i, g := range s.Grades {
		if err := g.validate(); err != nil {
			return fmt.Errorf("campaign settings: grades[%d]: %w", i, err)
		}
	}
	if err := validateVariants(s.Variants); err != nil {
		return fmt.Errorf("campaign settings: %w", err)
	}
	if err := s.GoldenHours.validate(); err != nil {
		return fmt.Errorf("campaign settings: golden_hours: %w", err)
	}
	if s.CPS < 0 || s.Concurrency < 0 || s.Retry.MaxAttempts < 0 {
		return fmt.Errorf("campaign settings: cps, concurrency and retry.max_attempts must not be negative")
	}
	return nil
}
