package campaign

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestBucketQueuesCallersAtTheRateInsteadOfRejecting(t *testing.T) {
	const cps, callers = 50.0, 20
	b := NewBucket(cps, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var times []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Wait(ctx); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		}()
	}
	// Everyone but the first queues.
	deadline := time.Now().Add(time.Second)
	for b.Waiting() < callers-2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if w := b.Waiting(); w < callers/2 {
		t.Errorf("Waiting() = %d while %d callers queue", w, callers)
	}
	wg.Wait()
	if len(times) != callers {
		t.Fatalf("%d of %d callers served", len(times), callers)
	}
	// 20 tokens at 50/s take at least 19 intervals; timers only ever fire late.
	if el := time.Since(start); el < time.Duration(callers-1)*time.Second/cps-5*time.Millisecond {
		t.Errorf("%d tokens in %s: faster than %.0f/s", callers, el, cps)
	}
	if b.Waiting() != 0 {
		t.Errorf("Waiting() = %d after all were served", b.Waiting())
	}
}

func TestBucketWaitEndsWithContext(t *testing.T) {
	b := NewBucket(0.1, 1) // one token per 10 s
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Wait(ctx); err == nil {
		t.Fatal("second token within 50 ms at 0.1 cps")
	}
}

func TestTrunksPickTheLeastBusyAndQueueWhenFull(t *testing.T) {
	tr := NewTrunks([]TrunkLimit{{Name: "a", Concurrency: 2}, {Name: "b", Concurrency: 1}})
	ctx := context.Background()
	names := []string{"a", "b"}
	got := map[string]int{}
	var held []*trunkState
	for range 3 {
		ts, err := tr.acquire(ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		got[ts.name]++
		held = append(held, ts)
	}
	if got["a"] != 2 || got["b"] != 1 {
		t.Fatalf("slots %v, want a:2 b:1", got)
	}
	acquired := make(chan *trunkState)
	go func() {
		ts, _ := tr.acquire(ctx, names)
		acquired <- ts
	}()
	deadline := time.Now().Add(time.Second)
	for {
		if _, waiting := tr.Stats(); waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fourth caller is not queued")
		}
		time.Sleep(time.Millisecond)
	}
	for _, ts := range held {
		if ts.name == "b" {
			tr.release(ts) // b frees
		}
	}
	select {
	case ts := <-acquired:
		if ts.name != "b" {
			t.Fatalf("queued caller got %s, want the freed b", ts.name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("queued caller not served after a release")
	}
	if _, err := tr.acquire(ctx, []string{"nope"}); err == nil {
		t.Fatal("unknown trunk accepted")
	}
}
