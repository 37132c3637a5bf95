package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// backend opens stores on one fresh database; every call of open is a new Store
// value on the same database, as a second node would be.
type backend struct {
	name string
	open func(t *testing.T) func() Store
}

var backends = []backend{
	{"sqlite", func(t *testing.T) func() Store {
		dir := t.TempDir()
		return func() Store { return mustOpen(t, Config{DataDir: dir}) }
	}},
	{"postgres", func(t *testing.T) func() Store {
		dsn := storetest.DSN(t)
		return func() Store { return mustOpen(t, Config{DSN: dsn}) }
	}},
}

func mustOpen(t *testing.T, cfg Config) Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs the same test against SQLite and PostgreSQL.
func forEachBackend(t *testing.T, f func(t *testing.T, open func() Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newCampaign(t *testing.T, s Store, name string) Campaign {
	t.Helper()
	c, err := s.CreateCampaign(testCtx(t), Campaign{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStoreMigrationsAreVersionedAndRunOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		a, b := open(), open() // the second open finds the schema current
		for _, s := range []Store{a, b} {
			v, err := SchemaVersion(testCtx(t), s)
			if err != nil {
				t.Fatal(err)
			}
			if v != migrations[len(migrations)-1].version {
				t.Fatalf("schema version %d, want %d", v, migrations[len(migrations)-1].version)
			}
		}
	})
}

func TestStoreCampaignLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "spring")
		if c.State != CampaignDraft || c.ID == 0 {
			t.Fatalf("new campaign %+v", c)
		}
		if _, err := s.CreateCampaign(ctx, Campaign{Name: "spring"}); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate name: %v, want ErrExists", err)
		}
		if err := s.SetCampaignState(ctx, c.ID, CampaignRunning); err != nil {
			t.Fatal(err)
		}
		if err := s.SetCampaignSettings(ctx, c.ID, json.RawMessage(`{"max_attempts":3}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetCampaignSettings(ctx, c.ID, json.RawMessage(`{bad`)); err == nil {
			t.Fatal("invalid settings JSON accepted")
		}
		got, err := s.CampaignByName(ctx, "spring")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != CampaignRunning || string(got.Settings) != `{"max_attempts":3}` || got.ID != c.ID {
			t.Fatalf("campaign %+v", got)
		}
		if _, err := s.Campaign(ctx, 999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing campaign: %v", err)
		}
		if err := s.SetCampaignState(ctx, 999, CampaignPaused); !errors.Is(err, ErrNotFound) {
			t.Fatalf("state of missing campaign: %v", err)
		}
		newCampaign(t, s, "autumn")
		all, err := s.Campaigns(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "spring" || all[1].Name != "autumn" {
			t.Fatalf("campaigns %v %v", all, err)
		}
	})
}

func TestStoreContactsKeepEveryField(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		next := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		in := Contact{Phone: "13812345678", Name: "张三", TimeZone: "Asia/Shanghai", Priority: -99,
			Tags: []string{"vip", "renewal"}, Custom: map[string]any{"policy": "P-1", "amount": 1200.5},
			Consent: "web form 2026-10-01", NextAttemptAt: next}
		n, err := s.AddContacts(ctx, c.ID, []Contact{in, {Phone: "13812345678"}, {Phone: "13900000000", Priority: 99}})
		if err != nil || n != 2 {
			t.Fatalf("added %d, %v; want 2 (duplicate phone skipped)", n, err)
		}
		list, err := s.Contacts(ctx, c.ID, "")
		if err != nil || len(list) != 2 {
			t.Fatalf("contacts %v %v", list, err)
		}
		got := list[0]
		if got.Phone != in.Phone || got.Name != in.Name || got.TimeZone != in.TimeZone || got.Priority != -99 ||
			!reflect.DeepEqual(got.Tags, in.Tags) || !reflect.DeepEqual(got.Custom, in.Custom) ||
			got.Consent != in.Consent || got.State != StatePending || !got.NextAttemptAt.Equal(next) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
		}
		if list[1].Tags == nil || list[1].Custom == nil {
			t.Fatalf("empty tags/custom should read back empty, not nil: %+v", list[1])
		}
		for _, bad := range []Contact{{Phone: ""}, {Phone: "1", Priority: 100}, {Phone: "2", Priority: -100}} {
			if _, err := s.AddContacts(ctx, c.ID, []Contact{bad}); err == nil {
				t.Errorf("contact %+v accepted", bad)
			}
		}
		counts, err := s.CountContacts(ctx, c.ID)
		if err != nil || counts[StatePending] != 2 {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
}

func TestStoreClaimTakesDueContactsByPriority(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		now := time.Now()
		contacts := []Contact{
			{Phone: "1", Priority: 0},
			{Phone: "2", Priority: 50},
			{Phone: "3", Priority: 50, NextAttemptAt: now.Add(time.Hour)}, // not due
			{Phone: "4", Priority: -5},
			{Phone: "5", Priority: 99, NextAttemptAt: now.Add(-time.Minute)},
		}
		if _, err := s.AddContacts(ctx, c.ID, contacts); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "n1", Now: now, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		var phones []string
		for _, k := range got {
			phones = append(phones, k.Phone)
			if k.State != StateDialing || k.ClaimedBy != "n1" {
				t.Errorf("claimed contact %+v", k)
			}
		}
		if want := []string{"5", "2", "1"}; !reflect.DeepEqual(phones, want) {
			t.Fatalf("claimed %v, want %v", phones, want)
		}
		rest, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "n1", Now: now, Limit: 10})
		if err != nil || len(rest) != 1 || rest[0].Phone != "4" {
			t.Fatalf("second claim %v %v, want only 4 (3 is not due)", rest, err)
		}
		if err := s.Release(ctx, rest[0].ID, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		later, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "n1", Now: now.Add(90 * time.Minute), Limit: 10})
		if err != nil || len(later) != 1 || later[0].Phone != "3" {
			t.Fatalf("claim after 90 min: %v %v, want 3 (4 was released to +2h)", later, err)
		}
	})
}

func TestStoreConcurrentClaimersNeverShareAContact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		const contacts, nodes, workersPerNode = 400, 2, 6
		stores := make([]Store, nodes)
		for i := range stores {
			stores[i] = open() // two Store values: two nodes on one database
		}
		ctx := testCtx(t)
		c := newCampaign(t, stores[0], "race")
		var list []Contact
		for i := range contacts {
			list = append(list, Contact{Phone: fmt.Sprintf("1380000%04d", i), Priority: i % 7})
		}
		if _, err := stores[0].AddContacts(ctx, c.ID, list); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		claimedBy := map[int64]string{}
		var dupes []string
		var wg sync.WaitGroup
		errs := make(chan error, nodes*workersPerNode)
		for n := range nodes {
			for w := range workersPerNode {
				wg.Add(1)
				go func() {
					defer wg.Done()
					me := fmt.Sprintf("node%d/w%d", n, w)
					for {
						got, err := stores[n].ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: fmt.Sprintf("node%d", n), Limit: 3})
						if err != nil {
							errs <- err
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, k := range got {
							if prev, ok := claimedBy[k.ID]; ok {
								dupes = append(dupes, fmt.Sprintf("contact %d by %s and %s", k.ID, prev, me))
							}
							claimedBy[k.ID] = me
						}
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(dupes) > 0 {
			t.Fatalf("claimed twice: %v", dupes)
		}
		if len(claimedBy) != contacts {
			t.Fatalf("%d contacts claimed, want %d", len(claimedBy), contacts)
		}
		counts, err := stores[1].CountContacts(ctx, c.ID)
		if err != nil || counts[StateDialing] != contacts {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
}

func TestStoreAttemptsAreRecordedAndCounted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		if _, err := s.AddContacts(ctx, c.ID, []Contact{{Phone: "13812345678"}}); err != nil {
			t.Fatal(err)
		}
		k, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "n", Limit: 1})
		if err != nil || len(k) != 1 {
			t.Fatal(k, err)
		}
		start := time.Now().Truncate(time.Millisecond)
		id, err := s.BeginAttempt(ctx, CallRecord{CampaignID: c.ID, ContactID: k[0].ID, Phone: k[0].Phone, Node: "n",
			Trunk: "t1", AttemptAt: start})
		if err != nil {
			t.Fatal(err)
		}
		rec := CallRecord{ID: id, CampaignID: c.ID, ContactID: k[0].ID, Trunk: "t1", CallerID: "075512345678",
			Variant: "B", SIPCallID: "abc@x", RingingAt: start.Add(time.Second), AnsweredAt: start.Add(3 * time.Second),
			EndedAt: start.Add(30 * time.Second), SIPCode: 200, Disposition: "answered", AnsweredBy: "human",
			Outcome: "interested", IntentGrade: "A", Transcript: json.RawMessage(`[{"who":"bot","text":"你好"}]`)}
		next := ContactUpdate{State: StateDone, LastDisposition: "answered"}
		if err := s.FinishAttempt(ctx, rec, next); err != nil {
			t.Fatal(err)
		}
		recs, err := s.CallRecords(ctx, c.ID, k[0].ID)
		if err != nil || len(recs) != 1 {
			t.Fatal(recs, err)
		}
		got := recs[0]
		rec.Phone, rec.Attempt, rec.Node, rec.AttemptAt = k[0].Phone, 1, "n", start.UTC()
		rec.RingingAt, rec.AnsweredAt, rec.EndedAt = rec.RingingAt.UTC(), rec.AnsweredAt.UTC(), rec.EndedAt.UTC()
		if !reflect.DeepEqual(got, rec) {
			t.Fatalf("record:\n got %+v\nwant %+v", got, rec)
		}
		after, err := s.Contact(ctx, k[0].ID)
		if err != nil || after.Attempts != 1 || after.State != StateDone || after.LastDisposition != "answered" || after.ClaimedBy != "" {
			t.Fatalf("contact after attempt %+v %v", after, err)
		}
		if _, err := s.BeginAttempt(ctx, CallRecord{CampaignID: c.ID, ContactID: k[0].ID}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("attempt on an unclaimed contact: %v, want ErrNotFound", err)
		}
		if err := s.FinishAttempt(ctx, CallRecord{ID: id, ContactID: k[0].ID, Transcript: json.RawMessage("{x")}, next); err == nil {
			t.Fatal("invalid transcript JSON accepted")
		}
	})
}

func TestStoreRecoverRequeuesUndialledAndInterruptsDialled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		if _, err := s.AddContacts(ctx, c.ID, []Contact{{Phone: "1"}, {Phone: "2"}, {Phone: "3"}, {Phone: "4"}}); err != nil {
			t.Fatal(err)
		}
		mine, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "dead", Limit: 3})
		if err != nil || len(mine) != 3 {
			t.Fatal(mine, err)
		}
		other, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "alive", Limit: 1})
		if err != nil || len(other) != 1 {
			t.Fatal(other, err)
		}
		// mine[0] was being dialled when the node died; mine[1] had finished; mine[2] was never dialled.
		if _, err := s.BeginAttempt(ctx, CallRecord{CampaignID: c.ID, ContactID: mine[0].ID, Node: "dead"}); err != nil {
			t.Fatal(err)
		}
		id, err := s.BeginAttempt(ctx, CallRecord{CampaignID: c.ID, ContactID: mine[1].ID, Node: "dead"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAttempt(ctx, CallRecord{ID: id, ContactID: mine[1].ID, Disposition: "busy", SIPCode: 486},
			ContactUpdate{State: StatePending, NextAttemptAt: time.Now().Add(time.Hour), LastDisposition: "busy"}); err != nil {
			t.Fatal(err)
		}
		requeued, interrupted, err := s.Recover(ctx, c.ID, "dead")
		if err != nil || requeued != 1 || interrupted != 1 {
			t.Fatalf("recover: requeued %d interrupted %d %v; want 1 and 1", requeued, interrupted, err)
		}
		want := map[string]ContactState{"1": StateInterrupted, "2": StatePending, "3": StatePending, "4": StateDialing}
		all, _ := s.Contacts(ctx, c.ID, "")
		for _, k := range all {
			if k.State != want[k.Phone] {
				t.Errorf("contact %s: %s, want %s", k.Phone, k.State, want[k.Phone])
			}
		}
		recs, _ := s.CallRecords(ctx, c.ID, mine[0].ID)
		if len(recs) != 1 || recs[0].Disposition != DispositionInterrupted || recs[0].EndedAt.IsZero() {
			t.Fatalf("interrupted record %+v", recs)
		}
		if r, i, err := s.Recover(ctx, c.ID, "dead"); r != 0 || i != 0 || err != nil {
			t.Fatalf("second recover: %d %d %v, want nothing to do", r, i, err)
		}
	})
}

func TestStoreDoNotCallIsGlobalOrPerCampaign(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		a, b := newCampaign(t, s, "a"), newCampaign(t, s, "b")
		if err := s.AddDNC(ctx, DNCEntry{Phone: "111", Reason: "complaint"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDNC(ctx, DNCEntry{Phone: "222", CampaignID: a.ID, Reason: "do_not_call outcome"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDNC(ctx, DNCEntry{Phone: "222", CampaignID: a.ID}); err != nil {
			t.Fatalf("adding twice: %v", err)
		}
		tests := []struct {
			phone    string
			campaign int64
			want     bool
			reason   string
		}{
			{"111", a.ID, true, "complaint"},
			{"111", b.ID, true, "complaint"},
			{"222", a.ID, true, "do_not_call outcome"},
			{"222", b.ID, false, ""},
			{"333", a.ID, false, ""},
		}
		for _, tc := range tests {
			e, ok, err := s.DNC(ctx, tc.phone, tc.campaign)
			if err != nil || ok != tc.want || e.Reason != tc.reason {
				t.Errorf("DNC(%s, %d) = %+v %v %v, want %v %q", tc.phone, tc.campaign, e, ok, err, tc.want, tc.reason)
			}
		}
		if l, err := s.DNCList(ctx, a.ID); err != nil || len(l) != 1 || l[0].Phone != "222" {
			t.Fatalf("list %v %v", l, err)
		}
		if err := s.RemoveDNC(ctx, "111", 0); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.DNC(ctx, "111", a.ID); ok {
			t.Fatal("removed entry still suppresses")
		}
	})
}

func TestStoreRecordCallKeepsAPlacedCallWithoutTouchingTheContact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		other := newCampaign(t, s, "other")
		if _, err := s.AddContacts(ctx, c.ID, []Contact{{Phone: "13812345678"}}); err != nil {
			t.Fatal(err)
		}
		ks, err := s.Contacts(ctx, c.ID, StatePending)
		if err != nil || len(ks) != 1 {
			t.Fatal(ks, err)
		}
		k := ks[0]
		start := time.Now().Truncate(time.Millisecond).UTC()
		rec := CallRecord{CampaignID: c.ID, ContactID: k.ID, Phone: k.Phone, Node: "n", Trunk: "t1", SIPCallID: "placed@x",
			AttemptAt: start, AnsweredAt: start.Add(2 * time.Second), EndedAt: start.Add(20 * time.Second), SIPCode: 200,
			Disposition: "answered", AnsweredBy: "human", Outcome: "interested", IntentGrade: "B",
			Transcript: json.RawMessage(`{"outcome":"interested","transcript":[]}`)}
		id, err := s.RecordCall(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.CallRecords(ctx, c.ID, k.ID)
		if err != nil || len(recs) != 1 {
			t.Fatal(recs, err)
		}
		rec.ID = id
		if !reflect.DeepEqual(recs[0], rec) {
			t.Fatalf("record:\n got %+v\nwant %+v", recs[0], rec)
		}
		after, err := s.Contact(ctx, k.ID)
		if err != nil || after.State != StatePending || after.Attempts != 0 {
			t.Fatalf("contact after a placed call %+v %v, want it pending with no attempt", after, err)
		}
		rec.CampaignID = other.ID
		if _, err := s.RecordCall(ctx, rec); !errors.Is(err, ErrNotFound) {
			t.Fatalf("record under another campaign: %v, want ErrNotFound", err)
		}
	})
}
