package campaign

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

// at is a fixed instant on a whole minute for clock-injected tests.
var at = time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)

func TestCallerIDHealthIsTheAnswerRateSmoothedByThePrior(t *testing.T) {
	p := CallerIDPool{}.withDefaults() // prior 0.3 over 10 attempts
	for _, tc := range []struct {
		name               string
		attempts, answered int
		want               float64
	}{
		{"a new number scores the prior", 0, 0, 0.3},
		{"a few misses barely move it", 2, 0, 3.0 / 12},
		{"many answers pull it up", 90, 45, 48.0 / 100},
		{"many misses pull it down", 90, 3, 6.0 / 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Health(tc.attempts, tc.answered); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("Health(%d, %d) = %g, want %g", tc.attempts, tc.answered, got, tc.want)
			}
		})
	}
}

// usage gives number attempts and answers in at's hour.
func usage(t *testing.T, st store.Store, number string, attempts, answered int) {
	t.Helper()
	ctx := context.Background()
	for range attempts {
		if ok, err := st.ReserveCallerID(ctx, number, at, 0, 0); err != nil || !ok {
			t.Fatalf("reserve %s: %v, %v", number, ok, err)
		}
	}
	for range answered {
		if err := st.CallerIDAnswered(ctx, number, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCallerIDPoolPicksLocalThenLeastLoadPerHealth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pool    CallerIDPool
		numbers []string
		setup   func(t *testing.T, st store.Store)
		phone   string
		want    string
	}{
		{name: "equal numbers: the first in turn", numbers: []string{"075500000001", "075500000002"},
			setup: func(*testing.T, store.Store) {}, phone: "13800000001", want: "075500000001"},
		{name: "the less used this hour", numbers: []string{"075500000001", "075500000002"},
			setup: func(t *testing.T, st store.Store) { usage(t, st, "075500000001", 3, 1) },
			phone: "13800000001", want: "075500000002"},
		{name: "a healthier number carries more load", numbers: []string{"075500000001", "075500000002"},
			setup: func(t *testing.T, st store.Store) {
				usage(t, st, "075500000001", 30, 27) // health 0.75: load 40
				usage(t, st, "075500000002", 20, 0)  // health 0.10: load 200
			}, phone: "13800000001", want: "075500000001"},
		{name: "the local area first", pool: CallerIDPool{LocalPrefix: 3},
			numbers: []string{"075500000001", "021000000001"},
			setup:   func(t *testing.T, st store.Store) { usage(t, st, "021000000001", 5, 0) },
			phone:   "02155550000", want: "021000000001"},
		{name: "a capped local number yields to another", pool: CallerIDPool{LocalPrefix: 3, HourlyCap: 5},
			numbers: []string{"075500000001", "021000000001"},
			setup:   func(t *testing.T, st store.Store) { usage(t, st, "021000000001", 5, 0) },
			phone:   "02155550000", want: "075500000001"},
		{name: "a resting number is passed over", numbers: []string{"075500000001", "075500000002"},
			setup: func(t *testing.T, st store.Store) {
				if err := st.RestCallerID(context.Background(), "075500000001", at.Add(time.Hour), "spam"); err != nil {
					t.Fatal(err)
				}
			}, phone: "13800000001", want: "075500000002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			tc.setup(t, st)
			c := &callerIDs{pool: tc.pool.withDefaults(), numbers: tc.numbers, st: st, buckets: NewTrunks(nil)}
			got, _, err := c.pick(context.Background(), tc.phone, at)
			if err != nil || got != tc.want {
				t.Fatalf("pick = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCallerIDPoolSpentSaysWhenToRetry(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	usage(t, st, "075500000001", 2, 0)
	if err := st.RestCallerID(ctx, "075500000002", at.Add(20*time.Minute), "health"); err != nil {
		t.Fatal(err)
	}
	c := &callerIDs{pool: CallerIDPool{HourlyCap: 2}.withDefaults(), numbers: []string{"075500000001", "075500000002"},
		st: st, buckets: NewTrunks(nil)}
	got, retry, err := c.pick(ctx, "13800000001", at)
	if err != nil || got != "" || !retry.Equal(at.Add(20*time.Minute)) {
		t.Fatalf("pick = %q, retry %v, %v; want none until the rest ends at %v", got, retry, err, at.Add(20*time.Minute))
	}
	if err := st.RestCallerID(ctx, "075500000002", at.Add(2*time.Hour), "health"); err != nil {
		t.Fatal(err)
	}
	if _, retry, _ = c.pick(ctx, "13800000001", at); !retry.Equal(time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("retry %v, want the next clock hour, when the cap frees", retry)
	}
}

func TestCallerIDSettleRestsSpamFlaggedAndUnhealthyNumbers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		attempts   int // before the settled one, none answered
		answered   bool
		code       int
		wantRest   time.Duration // 0: no rest
		wantReason string
	}{
		{"a 607 flags the number as spam", 1, false, 607, 72 * time.Hour, "flagged as spam: SIP 607"},
		{"a 608 flags the number as spam", 1, false, 608, 72 * time.Hour, "flagged as spam: SIP 608"},
		{"few attempts are not judged", 5, false, 480, 0, ""},
		{"enough unanswered attempts rest it", 24, false, 480, 6 * time.Hour, "health 0.086 below 0.100"},
		{"an answer keeps it healthy", 24, true, 200, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			ctx := context.Background()
			usage(t, st, "075500000001", tc.attempts+1, 0)
			if tc.answered { // earlier answers, as a working number has
				usage(t, st, "075500000001", 0, 3)
			}
			c := &callerIDs{pool: CallerIDPool{}.withDefaults(), numbers: []string{"075500000001"}, st: st, buckets: NewTrunks(nil)}
			reason, err := c.settle(ctx, "075500000001", at, at, tc.answered, tc.code)
			if err != nil || !strings.HasPrefix(reason, tc.wantReason) || (tc.wantReason == "") != (reason == "") {
				t.Fatalf("settle = %q, %v; want %q", reason, err, tc.wantReason)
			}
			stats, _ := st.CallerIDStats(ctx, []string{"075500000001"}, at, 24*time.Hour)
			s := stats["075500000001"]
			if tc.wantRest == 0 && !s.RestUntil.IsZero() || tc.wantRest != 0 && !s.RestUntil.Equal(at.Add(tc.wantRest)) {
				t.Fatalf("rest until %v, want %v after", s.RestUntil, tc.wantRest)
			}
		})
	}
}

func TestRunnerKeepsCallerIDCapsAcrossRestarts(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	settings := Settings{Windows: always, CPS: 100, Concurrency: 2, Trunks: []TrunkLimit{{Name: "t", CPS: 100}},
		CallerIDs:    []string{"075500000001", "075500000002"},
		CallerIDPool: CallerIDPool{HourlyCap: 2}}
	c := setup(t, st, settings, phones(6))
	runOnce := func() *fakeDialer {
		d := &fakeDialer{}
		cfg := Config{Store: st, Dialer: d, CampaignID: c.ID, Node: "n1", Now: func() time.Time { return at },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond}
		rctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		r, err := NewRunner(rctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Run(rctx) // ends with rctx: two contacts wait for the next hour
		return d
	}
	first := runOnce()
	per := map[string]int{}
	for _, s := range first.calls() {
		per[s.callerID]++
	}
	if len(first.calls()) != 4 || per["075500000001"] != 2 || per["075500000002"] != 2 {
		t.Fatalf("first run placed %d calls, per caller ID %v; want 2 on each", len(first.calls()), per)
	}
	pending, _ := st.Contacts(ctx, c.ID, store.StatePending)
	if len(pending) != 2 {
		t.Fatalf("%d pending contacts, want the 2 the pool had no number for", len(pending))
	}
	for _, k := range pending {
		if !k.NextAttemptAt.Equal(time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)) || k.Attempts != 0 {
			t.Fatalf("deferred contact %+v, want due at 11:00 with no attempt used", k)
		}
	}
	// A restarted node (same clock, same hour) finds the caps spent in the store.
	if again := runOnce(); len(again.calls()) != 0 {
		t.Fatalf("restart placed %d calls within spent hourly caps", len(again.calls()))
	}
}

func TestRunnerSpacesEachCallerIDByItsCPS(t *testing.T) {
	st := openStore(t)
	const perNumberCPS = 5.0
	settings := Settings{Windows: always, CPS: 100, Concurrency: 10, Trunks: []TrunkLimit{{Name: "t", CPS: 100, Concurrency: 10}},
		CallerIDs: []string{"075500000001"}, CallerIDPool: CallerIDPool{CPS: perNumberCPS}}
	c := setup(t, st, settings, phones(8))
	d := &fakeDialer{hold: 10 * time.Millisecond}
	run(t, Config{Store: st, Dialer: d, CampaignID: c.ID}, 20*time.Second)
	calls := d.calls()
	if len(calls) != 8 {
		t.Fatalf("%d calls, want 8", len(calls))
	}
	minGap := time.Duration(float64(time.Second)/perNumberCPS) - 5*time.Millisecond
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].at.Sub(calls[i-1].at); gap < minGap {
			t.Fatalf("calls %d and %d on one caller ID %v apart, want at least %v (its CPS %g)", i-1, i, gap, minGap, perNumberCPS)
		}
	}
}

func TestCallerIDStatesShowUsageHealthAndRestsMasked(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	usage(t, st, "075500001234", 4, 2)
	if err := st.RestCallerID(ctx, "021000005678", at.Add(time.Hour), "flagged as spam: SIP 607"); err != nil {
		t.Fatal(err)
	}
	got, err := CallerIDStates(ctx, st, Settings{CallerIDs: []string{"0755-0000-1234", "021000005678"}}, at)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, s.String())
	}
	want := []string{
		"075****1234: 4 this hour, 4 today, health 0.36",
		"021****5678: 0 this hour, 0 today, health 0.30, resting until 2026-11-25T11:15:00Z (flagged as spam: SIP 607)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("states:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
