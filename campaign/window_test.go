package campaign

import (
	"testing"
	"time"
)

func TestScheduleOpensInsideWindowsAndOutsideBlackouts(t *testing.T) {
	sc, err := NewSchedule(Settings{
		TimeZone:  "Asia/Shanghai",
		Windows:   []Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "20:00"}, {Days: []string{"Saturday"}, From: "10:00", To: "12:00"}},
		Blackouts: []Window{{From: "12:00", To: "13:30"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	ny, _ := time.LoadLocation("America/New_York")
	// 2026-11-25 is a Wednesday.
	tests := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want bool
	}{
		{"weekday morning", time.Date(2026, 11, 25, 9, 0, 0, 0, sh), sh, true},
		{"before the window", time.Date(2026, 11, 25, 8, 59, 0, 0, sh), sh, false},
		{"lunch blackout", time.Date(2026, 11, 25, 12, 30, 0, 0, sh), sh, false},
		{"after lunch", time.Date(2026, 11, 25, 13, 30, 0, 0, sh), sh, true},
		{"window end is exclusive", time.Date(2026, 11, 25, 20, 0, 0, 0, sh), sh, false},
		{"saturday slot", time.Date(2026, 11, 28, 11, 0, 0, 0, sh), sh, true},
		{"saturday afternoon", time.Date(2026, 11, 28, 15, 0, 0, 0, sh), sh, false},
		{"sunday", time.Date(2026, 11, 29, 11, 0, 0, 0, sh), sh, false},
		// 10:00 in Shanghai is 21:00 the day before in New York: closed there.
		{"contact's own time zone", time.Date(2026, 11, 25, 10, 0, 0, 0, sh), ny, false},
		{"new york morning", time.Date(2026, 11, 25, 10, 0, 0, 0, ny), ny, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sc.Open(tc.at, tc.loc); got != tc.want {
				t.Errorf("Open(%s in %s) = %v, want %v", tc.at, tc.loc, got, tc.want)
			}
		})
	}
}

func TestScheduleNextOpenSkipsBlackoutsAndWeekends(t *testing.T) {
	sc, err := NewSchedule(Settings{
		Windows:   []Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "18:00"}},
		Blackouts: []Window{{From: "12:00", To: "13:30"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	tests := []struct {
		name     string
		from     time.Time
		wantNext time.Time
	}{
		{"open now", time.Date(2026, 11, 25, 10, 15, 0, 0, sh), time.Date(2026, 11, 25, 10, 15, 0, 0, sh)},
		{"lunch", time.Date(2026, 11, 25, 12, 10, 0, 0, sh), time.Date(2026, 11, 25, 13, 30, 0, 0, sh)},
		{"night", time.Date(2026, 11, 25, 22, 0, 0, 0, sh), time.Date(2026, 11, 26, 9, 0, 0, 0, sh)},
		{"friday evening", time.Date(2026, 11, 27, 18, 0, 0, 0, sh), time.Date(2026, 11, 30, 9, 0, 0, 0, sh)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sc.NextOpen(tc.from, sh)
			if !ok || !got.Equal(tc.wantNext) {
				t.Errorf("NextOpen(%s) = %s %v, want %s", tc.from, got, ok, tc.wantNext)
			}
		})
	}
}

func TestSettingsRejectBadWindowsAndFields(t *testing.T) {
	tests := []struct{ name, json string }{
		{"unknown field", `{"cpss": 3}`},
		{"bad clock", `{"windows": [{"from": "9am", "to": "12:00"}]}`},
		{"empty window", `{"windows": [{"from": "12:00", "to": "12:00"}]}`},
		{"bad day", `{"blackouts": [{"days": ["moon"], "from": "12:00", "to": "13:00"}]}`},
		{"bad zone", `{"time_zone": "Mars/Olympus"}`},
		{"bad scope", `{"do_not_call_scope": "planet"}`},
		{"duplicate trunk", `{"trunks": [{"name": "a"}, {"name": "a"}]}`},
		{"bad duration", `{"retry": {"busy": "soon"}}`},
		{"bad caller ID", `{"caller_ids": ["0755", "x"]}`},
		{"not json", `{`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseSettings([]byte(tc.json)); err == nil {
				t.Errorf("ParseSettings(%s) accepted", tc.json)
			}
		})
	}
	s, err := ParseSettings([]byte(`{"retry": {"busy": "5m", "no_answer": 90}, "trunks": [{"name": "a", "cps": 2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Retry.Busy != Duration(5*time.Minute) || s.Retry.NoAnswer != Duration(90*time.Second) || s.Trunks[0].CPS != 2 {
		t.Fatalf("parsed %+v", s)
	}
}
