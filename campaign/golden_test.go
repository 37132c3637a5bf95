package campaign

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

func TestGoldenHoursDeferral(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	day := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, sh) } // 25th is a Wednesday
	sched, err := NewSchedule(Settings{TimeZone: "Asia/Shanghai", Windows: []Window{{From: "09:00", To: "21:00"}},
		Blackouts: []Window{{From: "12:00", To: "13:00"}}})
	if err != nil {
		t.Fatal(err)
	}
	gw := []Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "18:00", To: "20:00"},
		{Days: []string{"sat"}, From: "10:00", To: "12:30"}}
	for _, tc := range []struct {
		name     string
		golden   GoldenHours
		priority int
		now      time.Time
		want     time.Time // zero: dial now
	}{
		{"no golden windows: nothing deferred", GoldenHours{Hold: true, Exclusive: true}, 90, day(25, 10, 0), time.Time{}},
		{"high value outside golden hours is dialled without hold", GoldenHours{Windows: gw}, 90, day(25, 10, 0), time.Time{}},
		{"high value outside golden hours waits for them with hold", GoldenHours{Windows: gw, Hold: true}, 90, day(25, 10, 0), day(25, 18, 0)},
		{"high value in golden hours is dialled", GoldenHours{Windows: gw, Hold: true}, 90, day(25, 18, 30), time.Time{}},
		{"the threshold itself is high value", GoldenHours{Windows: gw, Hold: true}, 50, day(25, 10, 0), day(25, 18, 0)},
		{"a custom threshold", GoldenHours{Windows: gw, Hold: true, MinPriority: ptr(95)}, 90, day(25, 10, 0), time.Time{}},
		{"after Friday's golden hours, the next are Saturday's", GoldenHours{Windows: gw, Hold: true}, 90, day(27, 20, 30), day(28, 10, 0)},
		{"high value in Saturday's golden slot is dialled", GoldenHours{Windows: gw, Hold: true}, 90, day(28, 12, 10), time.Time{}},
		{"low value in golden hours is dialled unless exclusive", GoldenHours{Windows: gw}, 0, day(25, 18, 30), time.Time{}},
		{"low value in exclusive golden hours waits for their end", GoldenHours{Windows: gw, Exclusive: true}, 0, day(25, 18, 30), day(25, 20, 0)},
		{"low value outside golden hours is dialled", GoldenHours{Windows: gw, Exclusive: true, Hold: true}, 0, day(25, 10, 0), time.Time{}},
		{"exclusive golden slot ending in a blackout waits for the window", GoldenHours{Windows: gw, Exclusive: true}, 0, day(28, 11, 0), day(28, 13, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := newGolden(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := g.deferral(sched, tc.priority, tc.now, sh)
			if ok != !tc.want.IsZero() || ok && !got.Equal(tc.want) {
				t.Fatalf("deferral = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRunnerDefersByGoldenHoursWithoutUsingAttempts(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 25, 18, 30, 0, 0, sh) // in Wednesday's golden hours
	settings := Settings{TimeZone: "Asia/Shanghai", Windows: []Window{{From: "09:00", To: "21:00"}},
		Trunks: []TrunkLimit{{Name: "t", CPS: 100}}, CPS: 100,
		GoldenHours: GoldenHours{Windows: []Window{{From: "18:00", To: "20:00"}}, MinPriority: ptr(60), Exclusive: true}}
	c := setup(t, st, settings, []store.Contact{{Phone: "13800000001", Priority: 10}, {Phone: "13800000002", Priority: 80},
		{Phone: "13800000003", Priority: 60}})
	d := &fakeDialer{}
	cfg := Config{Store: st, Dialer: d, CampaignID: c.ID, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond}
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	r, err := NewRunner(rctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Run(rctx) // ends with rctx: the low-value contact waits till 20:00
	calls := d.calls()
	if len(calls) != 2 || calls[0].phone != "13800000002" || calls[1].phone != "13800000003" {
		t.Fatalf("dialled %v, want the two high-value contacts, highest first", calls)
	}
	k, _ := st.Contacts(ctx, c.ID, store.StatePending)
	if len(k) != 1 || k[0].Phone != "13800000001" || k[0].Attempts != 0 ||
		!k[0].NextAttemptAt.Equal(time.Date(2026, 11, 25, 20, 0, 0, 0, sh)) {
		t.Fatalf("pending %+v, want the low-value contact due at 20:00 with no attempt used", k)
	}
}
