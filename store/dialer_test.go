package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallerIDReserveStopsAtTheHourlyAndDailyCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		at := t0.Add(10 * time.Minute)
		for i := 0; i < 3; i++ {
			ok, err := s.ReserveCallerID(ctx, "075500000001", at, 3, 5)
			if err != nil || !ok {
				t.Fatalf("reservation %d in the hour: %v, %v", i+1, ok, err)
			}
		}
		if ok, err := s.ReserveCallerID(ctx, "075500000001", at, 3, 5); err != nil || ok {
			t.Fatalf("4th reservation in an hour capped at 3: %v, %v", ok, err)
		}
		// Another number has its own caps.
		if ok, err := s.ReserveCallerID(ctx, "075500000002", at, 3, 5); err != nil || !ok {
			t.Fatalf("other number: %v, %v", ok, err)
		}
		// The next hour: 2 more reach the daily cap of 5.
		next := at.Add(time.Hour)
		for i := 0; i < 2; i++ {
			if ok, err := s.ReserveCallerID(ctx, "075500000001", next, 3, 5); err != nil || !ok {
				t.Fatalf("next hour reservation %d: %v, %v", i+1, ok, err)
			}
		}
		if ok, err := s.ReserveCallerID(ctx, "075500000001", next, 3, 5); err != nil || ok {
			t.Fatalf("6th reservation in a day capped at 5: %v, %v", ok, err)
		}
		// 24 hours after the first hour, its 3 attempts have left the day.
		later := at.Add(24 * time.Hour)
		if ok, err := s.ReserveCallerID(ctx, "075500000001", later, 3, 5); err != nil || !ok {
			t.Fatalf("reservation a day later: %v, %v", ok, err)
		}
		st, err := s.CallerIDStats(ctx, []string{"075500000001", "075500000009"}, later, 48*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got := st["075500000001"]
		if got.HourAttempts != 1 || got.DayAttempts != 3 || got.WindowAttempts != 6 {
			t.Fatalf("stats %+v, want hour 1, day 3, window 6", got)
		}
		if unused := st["075500000009"]; unused.WindowAttempts != 0 || !unused.RestUntil.IsZero() {
			t.Fatalf("unused number stats %+v", unused)
		}
	})
}

func TestCallerIDCapHoldsAcrossNodesReservingAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		nodes := []Store{open(), open(), open()}
		ctx := testCtx(t)
		var won atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 60)
		for i := 0; i < 60; i++ {
			wg.Add(1)
			go func(s Store) {
				defer wg.Done()
				ok, err := s.ReserveCallerID(ctx, "075500000001", t0, 7, 0)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					won.Add(1)
				}
			}(nodes[i%len(nodes)])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if won.Load() != 7 {
			t.Fatalf("%d reservations granted under an hourly cap of 7", won.Load())
		}
	})
}

func TestCallerIDRestRefusesReservationsAndRestartsHealth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		for i := 0; i < 4; i++ {
			if ok, err := s.ReserveCallerID(ctx, "075500000001", t0, 0, 0); err != nil || !ok {
				t.Fatalf("reserve: %v, %v", ok, err)
			}
		}
		if err := s.CallerIDAnswered(ctx, "075500000001", t0.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		st, err := s.CallerIDStats(ctx, []string{"075500000001"}, t0.Add(time.Hour), 24*time.Hour)
		if err != nil || st["075500000001"].WindowAttempts != 4 || st["075500000001"].WindowAnswered != 1 {
			t.Fatalf("before rest %+v, %v", st, err)
		}
		until := t0.Add(3 * time.Hour)
		if err := s.RestCallerID(ctx, "075500000001", until, "spam"); err != nil {
			t.Fatal(err)
		}
		if ok, err := open().ReserveCallerID(ctx, "075500000001", t0.Add(2*time.Hour), 0, 0); err != nil || ok {
			t.Fatalf("reservation while resting, from another node: %v, %v", ok, err)
		}
		if ok, err := s.ReserveCallerID(ctx, "075500000001", until, 0, 0); err != nil || !ok {
			t.Fatalf("reservation when the rest ends: %v, %v", ok, err)
		}
		st, err = s.CallerIDStats(ctx, []string{"075500000001"}, until, 24*time.Hour)
		got := st["075500000001"]
		if err != nil || got.WindowAttempts != 1 || got.WindowAnswered != 0 || !got.RestUntil.Equal(until) || got.RestReason != "spam" {
			t.Fatalf("after rest %+v, %v; want the window to start at the rest's end", got, err)
		}
		if got.DayAttempts != 5 {
			t.Fatalf("day attempts %d after rest, want 5: a rest does not forgive the cap", got.DayAttempts)
		}
	})
}
