package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/waihu/waihu/store"
)

// fakeDialer records every Dial and answers from behave.
type fakeDialer struct {
	hold   time.Duration
	behave func(phone string, attempt int) Result

	mu        sync.Mutex
	starts    []dialStart
	active    int
	maxActive int
	perTrunk  map[string]int
	maxTrunk  map[string]int
}

type dialStart struct {
	phone, trunk, callerID string
	attempt                int
	at                     time.Time
}

func (f *fakeDialer) Dial(ctx context.Context, req DialRequest) Result {
	f.mu.Lock()
	f.starts = append(f.starts, dialStart{req.Contact.Phone, req.Trunk, req.CallerID, req.Attempt, time.Now()})
	f.active++
	f.maxActive = max(f.maxActive, f.active)
	if f.perTrunk == nil {
		f.perTrunk, f.maxTrunk = map[string]int{}, map[string]int{}
	}
	f.perTrunk[req.Trunk]++
	f.maxTrunk[req.Trunk] = max(f.maxTrunk[req.Trunk], f.perTrunk[req.Trunk])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.perTrunk[req.Trunk]--
		f.mu.Unlock()
	}()
	if req.Ringing != nil {
		req.Ringing()
	}
	select {
	case <-time.After(f.hold):
	case <-ctx.Done():
		return Result{Disposition: Cancelled, Err: ctx.Err()}
	}
	if f.behave == nil {
		now := time.Now()
		return Result{Disposition: Answered, SIPCode: 200, AnsweredAt: now, GreetedAt: now}
	}
	return f.behave(req.Contact.Phone, req.Attempt)
}

func (f *fakeDialer) calls() []dialStart {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dialStart(nil), f.starts...)
}

// always is a calling window that is open at any hour of any day.
var always = []Window{{From: "00:00", To: "24:00"}}

func openStore(t *testing.T) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func setup(t *testing.T, st store.Store, settings Settings, contacts []store.Contact) store.Campaign {
	t.Helper()
	ctx := context.Background()
	c, err := Create(ctx, st, t.Name(), settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Import(ctx, st, c.ID, contacts); err != nil {
		t.Fatal(err)
	}
	if err := SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
		t.Fatal(err)
	}
	return c
}

func phones(n int) []store.Contact {
	var out []store.Contact
	for i := range n {
		out = append(out, store.Contact{Phone: fmt.Sprintf("1380000%04d", i)})
	}
	return out
}

func run(t *testing.T, cfg Config, timeout time.Duration) *Runner {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	before := goleak.IgnoreCurrent()
	r, err := NewRunner(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run waits for every call it started: nothing of it outlives it.
	goleak.VerifyNone(t, before)
	return r
}

func TestRunnerRecyclesPerDispositionUntilMaxAttempts(t *testing.T) {
	st := openStore(t)
	ms := Duration(30 * time.Millisecond)
	settings := Settings{Windows: always, CPS: 200, Concurrency: 8, Trunks: []TrunkLimit{{Name: "t", CPS: 200}},
		Retry: Retry{MaxAttempts: 3, NoAnswer: ms, Busy: ms, Failed: ms, Voicemail: ms}}
	contacts := []store.Contact{
		{Phone: "13800000001"}, // answers
		{Phone: "13800000002"}, // busy, then answers
		{Phone: "13800000003"}, // never answers: exhausted after 3
		{Phone: "13800000004"}, // invalid number: not retried
		{Phone: "13800000005"}, // voicemail twice, then answers
		{Phone: "13800000006"}, // asks not to be called
	}
	c := setup(t, st, settings, contacts)
	d := &fakeDialer{behave: func(phone string, attempt int) Result {
		switch {
		case phone == "13800000002" && attempt == 1:
			return Result{Disposition: Busy, SIPCode: 486}
		case phone == "13800000003":
			return Result{Disposition: NoAnswer, SIPCode: 487}
		case phone == "13800000004":
			return Result{Disposition: Invalid, SIPCode: 404}
		case phone == "13800000005" && attempt < 3:
			return Result{Disposition: Voicemail, SIPCode: 200, AnsweredBy: "machine"}
		case phone == "13800000006":
			return Result{Disposition: Answered, SIPCode: 200, Outcome: OutcomeDoNotCall,
				Transcript: json.RawMessage(`[{"text":"别再打了"}]`)}
		}
		return Result{Disposition: Answered, SIPCode: 200, AnsweredBy: "human", Outcome: "interested"}
	}}
	run(t, Config{Store: st, Dialer: d, CampaignID: c.ID, Node: "n1"}, 20*time.Second)

	ctx := context.Background()
	want := map[string]struct {
		state    store.ContactState
		attempts int
		last     string
	}{
		"13800000001": {store.StateDone, 1, "answered"},
		"13800000002": {store.StateDone, 2, "answered"},
		"13800000003": {store.StateExhausted, 3, "no_answer"},
		"13800000004": {store.StateDone, 1, "invalid"},
		"13800000005": {store.StateDone, 3, "answered"},
		"13800000006": {store.StateSkipped, 1, "do_not_call"},
	}
	all, err := st.Contacts(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		w := want[k.Phone]
		if k.State != w.state || k.Attempts != w.attempts || k.LastDisposition != w.last {
			t.Errorf("%s: %s after %d attempts (last %s), want %s after %d (last %s)", k.Phone, k.State, k.Attempts, k.LastDisposition, w.state, w.attempts, w.last)
		}
		recs, _ := st.CallRecords(ctx, c.ID, k.ID)
		if len(recs) != k.Attempts {
			t.Errorf("%s: %d call records for %d attempts", k.Phone, len(recs), k.Attempts)
		}
	}
	if n := len(d.calls()); n != 11 {
		t.Errorf("%d calls, want 11", n)
	}
	if _, ok, _ := st.DNC(ctx, "13800000006", 0); !ok {
		t.Error("do_not_call outcome did not put the number on the global list")
	}
	if got, _ := st.Campaign(ctx, c.ID); got.State != store.CampaignCompleted {
		t.Errorf("campaign %s, want completed", got.State)
	}
}

func TestRunnerDialsByPriorityAndSkipsDoNotCall(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	settings := Settings{Windows: always, CPS: 100, Concurrency: 1, Trunks: []TrunkLimit{{Name: "t", CPS: 100}},
		CallerIDs: []string{"075500000001", "075500000002"}}
	contacts := []store.Contact{{Phone: "13800000001", Priority: 1}, {Phone: "13800000002", Priority: 50},
		{Phone: "13800000003", Priority: -10}, {Phone: "13800000004", Priority: 99}, {Phone: "13800000005", Priority: 2}}
	c := setup(t, st, settings, contacts)
	if err := st.AddDNC(ctx, store.DNCEntry{Phone: "13800000004", Reason: "complaint"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDNC(ctx, store.DNCEntry{Phone: "13800000005", CampaignID: c.ID}); err != nil {
		t.Fatal(err)
	}
	p, err := PreviewCampaign(ctx, st, c.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "2 of 5 contacts will be skipped: 1 on the do-not-call list, 1 suppressed for this campaign; 3 to dial" {
		t.Errorf("preview %q", p)
	}
	d := &fakeDialer{}
	run(t, Config{Store: st, Dialer: d, CampaignID: c.ID}, 20*time.Second)
	var order, callerIDs []string
	for _, s := range d.calls() {
		order = append(order, s.phone)
		callerIDs = append(callerIDs, s.callerID)
	}
	if fmt.Sprint(callerIDs) != "[075500000001 075500000002 075500000001]" {
		t.Errorf("caller IDs %v, want the pool in turn", callerIDs)
	}
	recs, _ := st.CallRecords(ctx, c.ID, 0)
	for i, r := range recs {
		if r.CallerID != callerIDs[i] {
			t.Errorf("record %d caller ID %q, want %q", i, r.CallerID, callerIDs[i])
		}
	}
	if fmt.Sprint(order) != "[13800000002 13800000001 13800000003]" {
		t.Errorf("dialled %v, want by priority without the do-not-call numbers", order)
	}
	skipped, _ := st.Contacts(ctx, c.ID, store.StateSkipped)
	if len(skipped) != 2 {
		t.Errorf("%d skipped contacts, want 2", len(skipped))
	}
}

func TestRunnerKeepsCPSAndConcurrencyPerCampaignAndTrunk(t *testing.T) {
	st := openStore(t)
	const cps = 20.0
	settings := Settings{Windows: always, CPS: cps, Concurrency: 6,
		Trunks: []TrunkLimit{{Name: "a", CPS: 50, Concurrency: 2}, {Name: "b", CPS: 50, Concurrency: 3}}}
	c := setup(t, st, settings, phones(40))
	d := &fakeDialer{hold: 150 * time.Millisecond}
	cfg := Config{Store: st, Dialer: d, CampaignID: c.ID}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.Logger, cfg.PollInterval = slog.New(slog.NewTextHandler(io.Discard, nil)), 20*time.Millisecond
	r, err := NewRunner(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	maxDepth := 0
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		case <-time.After(5 * time.Millisecond):
			maxDepth = max(maxDepth, r.Stats().QueueDepth())
		}
	}
	starts := d.calls()
	if len(starts) != 40 {
		t.Fatalf("%d calls, want 40", len(starts))
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].at.Before(starts[j].at) })
	// Any 1 s window holds at most cps starts (+1 for a token at each edge).
	for i := range starts {
		n := 0
		for j := i; j < len(starts) && starts[j].at.Sub(starts[i].at) < time.Second; j++ {
			n++
		}
		if n > int(cps)+1 {
			for _, s := range starts {
				t.Log(s.at.Format("05.000"), s.trunk)
			}
			t.Fatalf("%d call starts within 1 s from %s, limit %.0f cps", n, starts[i].at.Format("15:04:05.000"), cps)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Trunks allow 5 at once, fewer than the campaign's 6.
	if d.maxActive > 5 || d.maxTrunk["a"] > 2 || d.maxTrunk["b"] > 3 {
		t.Errorf("concurrency: %d at once (a %d, b %d); limits 5 (a 2, b 3)", d.maxActive, d.maxTrunk["a"], d.maxTrunk["b"])
	}
	if d.maxTrunk["a"] == 0 || d.maxTrunk["b"] == 0 {
		t.Errorf("a trunk was never used: %v", d.maxTrunk)
	}
	if maxDepth == 0 {
		t.Error("queue depth never rose above 0 with 6 callers for 5 slots at 20 cps")
	}
}

func TestRunnerDefersContactsOutsideTheirWindow(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, sh) // 03:00 in Shanghai, 14:00 the day before in New York
	settings := Settings{TimeZone: "Asia/Shanghai", Windows: []Window{{From: "09:00", To: "18:00"}},
		Trunks: []TrunkLimit{{Name: "t", CPS: 100}}, CPS: 100}
	c := setup(t, st, settings, []store.Contact{{Phone: "13800000001"}, {Phone: "12125550100", TimeZone: "America/New_York"}})
	d := &fakeDialer{}
	cfg := Config{Store: st, Dialer: d, CampaignID: c.ID, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond}
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	r, err := NewRunner(rctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Run(rctx) // ends with rctx: the Shanghai contact stays pending till 09:00
	calls := d.calls()
	if len(calls) != 1 || calls[0].phone != "12125550100" {
		t.Fatalf("dialled %v, want only the New York contact", calls)
	}
	k, _ := st.Contacts(ctx, c.ID, store.StatePending)
	if len(k) != 1 || !k[0].NextAttemptAt.Equal(time.Date(2026, 11, 25, 9, 0, 0, 0, sh)) {
		t.Fatalf("pending %+v, want the Shanghai contact due at 09:00 local", k)
	}
}

func TestRunnerPausesAndStops(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	settings := Settings{Windows: always, CPS: 100, Concurrency: 1, Trunks: []TrunkLimit{{Name: "t", CPS: 100}}}
	c := setup(t, st, settings, phones(20))
	paused := make(chan struct{})
	var once sync.Once
	d := &fakeDialer{hold: 10 * time.Millisecond}
	d.behave = func(phone string, attempt int) Result {
		if phone == "13800000004" {
			once.Do(func() {
				if err := SetState(ctx, st, c.ID, store.CampaignPaused); err != nil {
					t.Error(err)
				}
				close(paused)
			})
		}
		return Result{Disposition: Answered, SIPCode: 200}
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r, err := NewRunner(rctx, Config{Store: st, Dialer: d, CampaignID: c.ID, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	<-paused
	time.Sleep(200 * time.Millisecond)
	atPause := len(d.calls())
	if atPause != 5 {
		t.Errorf("%d calls by a pause during the 5th, want 5", atPause)
	}
	if err := SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(d.calls()) < 8; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("resume: %d calls after 10 s", len(d.calls()))
		}
	}
	if err := SetState(ctx, st, c.ID, store.CampaignStopped); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n := len(d.calls())
	if n >= 20 {
		t.Errorf("stop did not stop: %d calls", n)
	}
	if err := SetState(ctx, st, c.ID, store.CampaignRunning); err == nil {
		t.Error("a stopped campaign restarted")
	}
	counts, _ := st.CountContacts(ctx, c.ID)
	if counts[store.StateDialing] != 0 || counts[store.StateDone] != n || counts[store.StatePending] != 20-n {
		t.Errorf("after stop: %v with %d calls", counts, n)
	}
}

func TestRunnerRecoversClaimsOfACrashedRunWithoutDiallingTwice(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	settings := Settings{Windows: always, CPS: 100, Trunks: []TrunkLimit{{Name: "t", CPS: 100}}}
	c := setup(t, st, settings, phones(3))
	// The "crashed" run claimed two contacts and had begun dialling one.
	claimed, err := st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: c.ID, Node: "n1", Limit: 2})
	if err != nil || len(claimed) != 2 {
		t.Fatal(claimed, err)
	}
	if _, err := st.BeginAttempt(ctx, store.CallRecord{CampaignID: c.ID, ContactID: claimed[0].ID, Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	d := &fakeDialer{}
	run(t, Config{Store: st, Dialer: d, CampaignID: c.ID, Node: "n1"}, 20*time.Second)
	for _, s := range d.calls() {
		if s.phone == claimed[0].Phone {
			t.Fatalf("%s was dialled again after an interrupted attempt", s.phone)
		}
	}
	if n := len(d.calls()); n != 2 {
		t.Fatalf("%d calls, want 2 (the requeued claim and the untouched contact)", n)
	}
	k, _ := st.Contact(ctx, claimed[0].ID)
	if k.State != store.StateInterrupted {
		t.Fatalf("crashed attempt's contact %s, want interrupted", k.State)
	}
	if n, err := Requeue(ctx, st, c.ID, store.StateInterrupted); err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
}
