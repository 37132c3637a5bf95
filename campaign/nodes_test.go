package campaign

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
	"github.com/waihu/waihu/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestRunnersOnTwoNodesNeverDialAContactTwice runs two Runners, each with its own
// Store value (two nodes), on one campaign: on one SQLite file and on one
// PostgreSQL database.
func TestRunnersOnTwoNodesNeverDialAContactTwice(t *testing.T) {
	backends := []struct {
		name string
		cfg  func(t *testing.T) store.Config
	}{
		{"sqlite", func(t *testing.T) store.Config { return store.Config{DataDir: t.TempDir()} }},
		{"postgres", func(t *testing.T) store.Config { return store.Config{DSN: storetest.DSN(t)} }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			const n = 150
			cfg := b.cfg(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var nodes [2]store.Store
			for i := range nodes {
				st, err := store.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				nodes[i] = st
			}
			settings := Settings{Windows: always, CPS: 500, Concurrency: 8, Trunks: []TrunkLimit{{Name: "t", CPS: 500, Concurrency: 8}}}
			c := setup(t, nodes[0], settings, phones(n))
			var mu sync.Mutex
			dialled := map[string][]string{}
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for i, st := range nodes {
				node := fmt.Sprintf("node-%d", i)
				d := &fakeDialer{hold: 3 * time.Millisecond, behave: func(phone string, _ int) Result {
					mu.Lock()
					dialled[phone] = append(dialled[phone], node)
					mu.Unlock()
					return Result{Disposition: Answered, SIPCode: 200}
				}}
				r, err := NewRunner(ctx, Config{Store: st, Dialer: d, CampaignID: c.ID, Node: node,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- r.Run(ctx)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			perNode := map[string]int{}
			for phone, by := range dialled {
				if len(by) != 1 {
					t.Errorf("%s dialled %d times, by %v", phone, len(by), by)
				}
				perNode[by[0]]++
			}
			if len(dialled) != n {
				t.Errorf("%d contacts dialled, want %d", len(dialled), n)
			}
			if perNode["node-0"] == 0 || perNode["node-1"] == 0 {
				t.Errorf("one node did all the work: %v", perNode)
			}
			t.Logf("calls per node: %v", perNode)
		})
	}
}

// TestTrunkCPSHoldsAcrossCampaignsSharingIt runs two campaigns on one node with a
// shared Trunks: each campaign may go at 100 cps, the trunk only at 10.
func TestTrunkCPSHoldsAcrossCampaignsSharingIt(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const trunkCPS = 10
	trunks := NewTrunks([]TrunkLimit{{Name: "shared", CPS: trunkCPS, Concurrency: 20}})
	d := &fakeDialer{hold: 5 * time.Millisecond}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range 2 {
		settings := Settings{Windows: always, CPS: 100, Concurrency: 10, Trunks: []TrunkLimit{{Name: "shared", CPS: 100}}}
		c, err := Create(ctx, st, fmt.Sprintf("c%d", i), settings)
		if err != nil {
			t.Fatal(err)
		}
		var list []store.Contact
		for j := range 15 {
			list = append(list, store.Contact{Phone: fmt.Sprintf("13%d0000%04d", i, j)})
		}
		if _, _, err := Import(ctx, st, c.ID, list); err != nil {
			t.Fatal(err)
		}
		if err := SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
			t.Fatal(err)
		}
		r, err := NewRunner(ctx, Config{Store: st, Dialer: d, CampaignID: c.ID, Trunks: trunks,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- r.Run(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	starts := d.calls()
	if len(starts) != 30 {
		t.Fatalf("%d calls, want 30", len(starts))
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].at.Before(starts[j].at) })
	for i := 1; i < len(starts); i++ {
		// pace spaces dispatches by the trunk's interval; the fake dialer
		// stamps them a few microseconds later, with scheduling jitter.
		if gap := starts[i].at.Sub(starts[i-1].at); gap < time.Second/trunkCPS-10*time.Millisecond {
			t.Errorf("calls %d and %d %s apart on a %d cps trunk", i-1, i, gap, trunkCPS)
		}
	}
}
