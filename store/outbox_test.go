package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// t0 is a fixed instant on a whole millisecond, as the store keeps times.
var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func enqueue(t *testing.T, s Store, ds ...Delivery) {
	t.Helper()
	if _, err := s.EnqueueDeliveries(testCtx(t), ds); err != nil {
		t.Fatal(err)
	}
}

func delivery(endpoint, msg string, due time.Time) Delivery {
	return Delivery{Endpoint: endpoint, EventType: "call.completed", MessageID: msg,
		Payload: []byte(`{"type":"call.completed","id":"` + msg + `"}`), CreatedAt: due, NextAttemptAt: due}
}

func TestOutboxEnqueueSkipsAMessageAlreadyQueuedForTheEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		n, err := s.EnqueueDeliveries(ctx, []Delivery{
			delivery("http://a.test/hook", "msg_1", t0),
			delivery("http://b.test/hook", "msg_1", t0), // same message, other endpoint: queued
		})
		if err != nil || n != 2 {
			t.Fatalf("first enqueue: %d, %v; want 2", n, err)
		}
		n, err = s.EnqueueDeliveries(ctx, []Delivery{delivery("http://a.test/hook", "msg_1", t0.Add(time.Hour))})
		if err != nil || n != 0 {
			t.Fatalf("second enqueue of msg_1 to a: %d, %v; want 0", n, err)
		}
		if _, err := s.EnqueueDeliveries(ctx, []Delivery{{Endpoint: "http://a.test/hook", EventType: "x"}}); err == nil {
			t.Fatal("delivery without a message id accepted")
		}
		all, err := s.Deliveries(ctx, DeliveryQuery{})
		if err != nil || len(all) != 2 {
			t.Fatalf("deliveries %v, %v", all, err)
		}
		d := all[1] // newest first
		if d.Endpoint != "http://a.test/hook" || d.State != DeliveryPending || d.Attempts != 0 ||
			!d.NextAttemptAt.Equal(t0) || !d.CreatedAt.Equal(t0) || string(d.Payload) != `{"type":"call.completed","id":"msg_1"}` ||
			!d.FirstAttemptAt.IsZero() {
			t.Fatalf("stored delivery %+v", d)
		}
		only, err := s.Deliveries(ctx, DeliveryQuery{Endpoint: "http://b.test/hook", State: DeliveryPending})
		if err != nil || len(only) != 1 || only[0].Endpoint != "http://b.test/hook" {
			t.Fatalf("filtered deliveries %v, %v", only, err)
		}
	})
}

func TestOutboxClaimLeasesDueDeliveriesOldestFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		enqueue(t, s,
			delivery("http://a.test/", "late", t0.Add(2*time.Minute)),
			delivery("http://a.test/", "second", t0.Add(-time.Minute)),
			delivery("http://a.test/", "first", t0.Add(-2*time.Minute)),
		)
		lease := DeliveryClaim{Node: "n1", Now: t0, Lease: 2 * time.Minute, Limit: 1}
		got, err := s.ClaimDeliveries(ctx, lease)
		if err != nil || len(got) != 1 || got[0].MessageID != "first" {
			t.Fatalf("claim of one: %v, %v; want the earliest due", got, err)
		}
		lease.Limit = 10
		more, err := s.ClaimDeliveries(ctx, lease)
		if err != nil || len(more) != 1 || more[0].MessageID != "second" {
			t.Fatalf("claim of ten: %v, %v; want only the other due one", more, err)
		}
		for _, d := range append(got, more...) {
			if d.Attempts != 1 || d.ClaimedBy != "n1" || !d.NextAttemptAt.Equal(t0.Add(2*time.Minute)) ||
				!d.FirstAttemptAt.Equal(t0) || !d.LastAttemptAt.Equal(t0) {
				t.Fatalf("claimed delivery %+v", d)
			}
		}
		// Under the lease no one else gets them.
		again, err := s.ClaimDeliveries(ctx, DeliveryClaim{Node: "n2", Now: t0.Add(2 * time.Minute).Add(-time.Millisecond), Limit: 10})
		if err != nil || len(again) != 0 {
			t.Fatalf("claim under lease: %v, %v", again, err)
		}
		// The lease ran out (n1 died): n2 takes them as attempt 2, with the late
		// one now due, and the first attempt's time stays.
		at := t0.Add(2 * time.Minute)
		again, err = s.ClaimDeliveries(ctx, DeliveryClaim{Node: "n2", Now: at, Limit: 10})
		if err != nil || len(again) != 3 {
			t.Fatalf("claim after lease: %v, %v", again, err)
		}
		for _, d := range again {
			switch d.MessageID {
			case "late":
				if d.Attempts != 1 || !d.FirstAttemptAt.Equal(at) {
					t.Fatalf("late delivery %+v", d)
				}
			default:
				if d.Attempts != 2 || !d.FirstAttemptAt.Equal(t0) || !d.LastAttemptAt.Equal(at) ||
					d.ClaimedBy != "n2" || !d.NextAttemptAt.Equal(at.Add(5*time.Minute)) {
					t.Fatalf("reclaimed delivery %+v (default lease 5 min)", d)
				}
			}
		}
		if none, err := s.ClaimDeliveries(ctx, DeliveryClaim{Now: at, Limit: 0}); err != nil || len(none) != 0 {
			t.Fatalf("limit 0 claimed %v, %v", none, err)
		}
	})
}

func TestOutboxResultsEndOrRescheduleOnlyTheCurrentClaim(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		enqueue(t, s, delivery("http://a.test/", "ok", t0), delivery("http://a.test/", "retry", t0), delivery("http://a.test/", "bad", t0))
		claimed, err := s.ClaimDeliveries(ctx, DeliveryClaim{Node: "n1", Now: t0, Limit: 3})
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		byMsg := map[string]Delivery{}
		for _, d := range claimed {
			byMsg[d.MessageID] = d
		}
		end := t0.Add(time.Second)
		if err := s.MarkDelivered(ctx, byMsg["ok"], DeliveryResult{At: end, Status: 204}); err != nil {
			t.Fatal(err)
		}
		next := t0.Add(time.Minute)
		if err := s.RescheduleDelivery(ctx, byMsg["retry"], next, DeliveryResult{At: end, Status: 503, Error: "503 Service Unavailable"}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDeliveryFailed(ctx, byMsg["bad"], DeliveryResult{At: end, Status: 400, Error: "400 Bad Request"}); err != nil {
			t.Fatal(err)
		}

		check := func(msg string, want func(d Delivery) bool) {
			t.Helper()
			d, err := s.Delivery(ctx, byMsg[msg].ID)
			if err != nil || !want(d) {
				t.Fatalf("%s: %+v, %v", msg, d, err)
			}
		}
		check("ok", func(d Delivery) bool {
			return d.State == DeliveryDelivered && d.DeliveredAt.Equal(end) && d.LastStatus == 204 && d.FailedAt.IsZero()
		})
		check("retry", func(d Delivery) bool {
			return d.State == DeliveryPending && d.NextAttemptAt.Equal(next) && d.LastStatus == 503 &&
				d.LastError == "503 Service Unavailable" && d.ClaimedBy == "" && d.Attempts == 1
		})
		check("bad", func(d Delivery) bool {
			return d.State == DeliveryFailed && d.FailedAt.Equal(end) && d.LastStatus == 400 && d.LastError == "400 Bad Request"
		})

		tests := []struct {
			name string
			op   func() error
		}{
			{"delivered twice", func() error { return s.MarkDelivered(ctx, byMsg["ok"], DeliveryResult{Status: 200}) }},
			{"failed after failed", func() error { return s.MarkDeliveryFailed(ctx, byMsg["bad"], DeliveryResult{}) }},
			{"reschedule a delivered one", func() error { return s.RescheduleDelivery(ctx, byMsg["ok"], next, DeliveryResult{}) }},
		}
		for _, tc := range tests {
			if err := tc.op(); !errors.Is(err, ErrClaimLost) {
				t.Errorf("%s: %v, want ErrClaimLost", tc.name, err)
			}
		}

		// A claimant whose lease ran out (attempt 1) cannot reschedule or fail the
		// delivery another node now holds (attempt 2), but its success still counts.
		stale := byMsg["retry"]
		fresh, err := s.ClaimDeliveries(ctx, DeliveryClaim{Node: "n2", Now: next, Limit: 1})
		if err != nil || len(fresh) != 1 || fresh[0].Attempts != 2 {
			t.Fatalf("reclaim: %v, %v", fresh, err)
		}
		if err := s.RescheduleDelivery(ctx, stale, next.Add(time.Hour), DeliveryResult{Status: 500}); !errors.Is(err, ErrClaimLost) {
			t.Fatalf("stale reschedule: %v, want ErrClaimLost", err)
		}
		if err := s.MarkDeliveryFailed(ctx, stale, DeliveryResult{Status: 400}); !errors.Is(err, ErrClaimLost) {
			t.Fatalf("stale fail: %v, want ErrClaimLost", err)
		}
		if err := s.MarkDelivered(ctx, stale, DeliveryResult{At: next, Status: 200}); err != nil {
			t.Fatalf("stale success: %v", err)
		}
		if _, err := s.Delivery(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing delivery: %v", err)
		}
	})
}

func TestOutboxNextDeliveryAtIsTheEarliestPending(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		if _, ok, err := s.NextDeliveryAt(ctx); err != nil || ok {
			t.Fatalf("empty outbox: ok %v, %v", ok, err)
		}
		enqueue(t, s, delivery("http://a.test/", "a", t0.Add(3*time.Minute)), delivery("http://a.test/", "b", t0.Add(time.Minute)))
		next, ok, err := s.NextDeliveryAt(ctx)
		if err != nil || !ok || !next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("next %v %v %v, want %v", next, ok, err, t0.Add(time.Minute))
		}
		got, err := s.ClaimDeliveries(ctx, DeliveryClaim{Now: t0.Add(time.Minute), Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %v, %v", got, err)
		}
		if err := s.MarkDelivered(ctx, got[0], DeliveryResult{At: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if next, _, _ := s.NextDeliveryAt(ctx); !next.Equal(t0.Add(3 * time.Minute)) {
			t.Fatalf("next after delivery %v, want %v", next, t0.Add(3*time.Minute))
		}
	})
}

func TestOutboxPruneDeletesOnlyEndedDeliveriesBeforeTheCutoff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		enqueue(t, s, delivery("http://a.test/", "old-ok", t0), delivery("http://a.test/", "old-bad", t0),
			delivery("http://a.test/", "new-ok", t0), delivery("http://a.test/", "pending", t0))
		claimed, err := s.ClaimDeliveries(ctx, DeliveryClaim{Now: t0, Limit: 3})
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		if err := s.MarkDelivered(ctx, claimed[0], DeliveryResult{At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDeliveryFailed(ctx, claimed[1], DeliveryResult{At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDelivered(ctx, claimed[2], DeliveryResult{At: t0.Add(48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneDeliveries(ctx, t0.Add(24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d, %v; want 2", n, err)
		}
		left, err := s.Deliveries(ctx, DeliveryQuery{})
		if err != nil || len(left) != 2 || left[0].MessageID != "pending" || left[1].MessageID != "new-ok" {
			t.Fatalf("left %v, %v", left, err)
		}
	})
}

// TestOutboxTwoNodesNeverClaimTheSameDeliveryAtOnce races claims from two Store
// values on one database (two nodes) and checks every delivery went to exactly one.
func TestOutboxTwoNodesNeverClaimTheSameDeliveryAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		nodes := []Store{open(), open()}
		const total = 200
		ds := make([]Delivery, total)
		for i := range ds {
			ds[i] = delivery("http://a.test/", fmt.Sprintf("msg_%d", i), t0)
		}
		enqueue(t, nodes[0], ds...)
		var mu sync.Mutex
		owner := map[int64]string{}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				node := fmt.Sprintf("node%d-w%d", w%2, w)
				for {
					got, err := nodes[w%2].ClaimDeliveries(testCtx(t), DeliveryClaim{Node: node, Now: t0, Limit: 7})
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						if prev, dup := owner[d.ID]; dup {
							mu.Unlock()
							errs <- fmt.Errorf("delivery %d claimed by %s and %s", d.ID, prev, node)
							return
						}
						owner[d.ID] = node
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(owner) != total {
			t.Fatalf("%d of %d deliveries claimed", len(owner), total)
		}
	})
}

// TestOutboxMigrationUpgradesAVersion1Database opens a database at version 1,
// as a release before the outbox left it, and checks that opening it with the
// current code applies the newer versions and the outbox works.
func TestOutboxMigrationUpgradesAVersion1Database(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		all := migrations
		migrations = all[:1] // no test in this package runs in parallel
		old := open()
		migrations = all
		ctx := testCtx(t)
		if v, err := SchemaVersion(ctx, old); err != nil || v != 1 {
			t.Fatalf("old release's database at %d, %v", v, err)
		}
		if _, err := old.EnqueueDeliveries(ctx, []Delivery{delivery("http://a.test/", "before", t0)}); err == nil {
			t.Fatal("version 1 database has an outbox")
		}
		s := open()
		if v, err := SchemaVersion(ctx, s); err != nil || v != all[len(all)-1].version {
			t.Fatalf("upgraded database at %d, %v", v, err)
		}
		enqueue(t, s, delivery("http://a.test/", "after", t0))
		if got, err := s.Deliveries(ctx, DeliveryQuery{}); err != nil || len(got) != 1 || got[0].MessageID != "after" {
			t.Fatalf("deliveries after upgrade %v, %v", got, err)
		}
	})
}
