package kpi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

// storeWithFixture writes the fixture through the store's own attempt cycle
// (claim, BeginAttempt, FinishAttempt) and returns the records with the
// store's campaign and contact ids, and the store's list sizes.
func storeWithFixture(t *testing.T) (store.Store, []store.CallRecord, ListStats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.OpenSQLite(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	records, _ := fixture(t)

	campaigns := map[int64]int64{}
	contacts := map[int64]int64{}
	lists := ListStats{}
	for fixtureID, size := range map[int64]int{1: 10, 2: 5} {
		c, err := st.CreateCampaign(ctx, store.Campaign{Name: fmt.Sprintf("c%d", fixtureID), State: store.CampaignRunning})
		if err != nil {
			t.Fatal(err)
		}
		campaigns[fixtureID] = c.ID
		lists[c.ID] = size
		var cs []store.Contact
		for i := range size {
			cs = append(cs, store.Contact{Phone: fmt.Sprintf("+86139%04d%04d", fixtureID, i)})
		}
		if _, err := st.AddContacts(ctx, c.ID, cs); err != nil {
			t.Fatal(err)
		}
		got, err := st.Contacts(ctx, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		// Fixture contacts 1…10 are campaign 1's; 101, 102 campaign 2's.
		for i, k := range got {
			if fixtureID == 1 {
				contacts[int64(i+1)] = k.ID
			} else {
				contacts[int64(101+i)] = k.ID
			}
		}
	}
	var out []store.CallRecord
	for _, r := range records {
		r.CampaignID, r.ContactID = campaigns[r.CampaignID], contacts[r.ContactID]
		if _, err := st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: r.CampaignID, Node: "n1", Now: t0.Add(48 * time.Hour), Limit: 100}); err != nil {
			t.Fatal(err)
		}
		if r.ID, err = st.BeginAttempt(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Disposition != "" {
			if err := st.FinishAttempt(ctx, r, store.ContactUpdate{State: store.StatePending, LastDisposition: r.Disposition}); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, r)
	}
	return st, out, lists
}

func TestFromStoreEqualsComputeOverTheSameRecords(t *testing.T) {
	st, records, lists := storeWithFixture(t)
	ctx := context.Background()
	first := records[0].CampaignID
	for _, q := range []Query{
		{GroupBy: GroupTrunk},
		{CampaignID: first, GroupBy: GroupHour},
		{From: at(1, 30, 0), To: at(2, 20, 0)},
	} {
		q.Rules = fixtureRules
		got, err := FromStore(ctx, st, q)
		if err != nil {
			t.Fatal(err)
		}
		want := Compute(records, lists, q)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("query %+v:\n got %+v\nwant %+v", q, got, want)
		}
		if q.CampaignID == 0 && q.From.IsZero() && got.Total.KPIs.AnswerSeizureRatio.Numerator != 8 {
			t.Errorf("answered %v through the store, want the fixture's 8", got.Total.KPIs.AnswerSeizureRatio.Numerator)
		}
	}
}

func TestFromStoreUnknownCampaignIsNotFound(t *testing.T) {
	st, _, _ := storeWithFixture(t)
	_, err := FromStore(context.Background(), st, Query{CampaignID: 999})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("err = %v, want store.ErrNotFound", err)
	}
}
