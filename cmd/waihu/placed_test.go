package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/internal/testpeer"
	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/store"
)

// TestPlacedCallToAContactIsRecordedInItsCampaign: a call placed through the
// API by contact_id leaves a call record in the contact's campaign (so its
// webhook and KPIs follow) without touching the contact's own dialling; a
// call to a bare number is live-only and leaves none.
func TestPlacedCallToAContactIsRecordedInItsCampaign(t *testing.T) {
	carrier := startServer(t, "")
	defer carrier.close()
	n := startTestNode(t, t.TempDir(), []TrunkConfig{{Name: "carrier", Address: carrier.ua.Addr("udp").String(), Transport: "udp"}}, io.Discard)
	defer n.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := n.control.st
	c, err := campaign.Create(ctx, st, "placed", campaign.Settings{Windows: []campaign.Window{{From: "00:00", To: "24:00"}},
		Trunks: []campaign.TrunkLimit{{Name: "carrier"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.Import(ctx, st, c.ID, []store.Contact{{Phone: "13812345678", Name: "Li"}}); err != nil {
		t.Fatal(err)
	}
	ks, err := st.Contacts(ctx, c.ID, store.StatePending)
	if err != nil || len(ks) != 1 {
		t.Fatal(ks, err)
	}
	k := ks[0]
	placer := n.control.placer
	// Place a call and hang it up once answered; the API filled CampaignID
	// from contact_id, as server.placeCall does.
	call := func(req httpapi.PlaceRequest) string {
		t.Helper()
		info, err := placer.Place(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !testpeer.Eventually(ctx, 10*time.Second, func() bool {
			for _, l := range placer.Live() {
				if l.ID == info.ID && l.State == "answered" {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("call %s never answered: %+v", info.ID, placer.Live())
		}
		if err := placer.Hangup(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	bare := call(httpapi.PlaceRequest{To: "13900000000"})
	placed := call(httpapi.PlaceRequest{To: k.Phone, ContactID: k.ID, CampaignID: c.ID})
	var recs []store.CallRecord
	if !testpeer.Eventually(ctx, 10*time.Second, func() bool {
		recs, err = st.CallRecordsBetween(ctx, 0, time.Time{}, time.Time{})
		return err == nil && len(recs) > 0
	}) {
		t.Fatalf("no call record of the placed call: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // a record of the bare call would be in by now too
	if recs, err = st.CallRecordsBetween(ctx, 0, time.Time{}, time.Time{}); err != nil || len(recs) != 1 {
		t.Fatalf("records %+v %v, want the contact's call only", recs, err)
	}
	r := recs[0]
	if r.SIPCallID != placed || r.CampaignID != c.ID || r.ContactID != k.ID || r.Phone != k.Phone ||
		r.Disposition != string(campaign.Answered) || r.SIPCode != 200 || r.AnsweredAt.IsZero() || r.EndedAt.IsZero() {
		t.Errorf("record %+v, want the answered call %s to contact %d", r, placed, k.ID)
	}
	if r.SIPCallID == bare {
		t.Errorf("the bare number's call was recorded")
	}
	after, err := st.Contact(ctx, k.ID)
	if err != nil || after.State != store.StatePending || after.Attempts != 0 {
		t.Errorf("contact after the placed call %+v %v, want it left to its campaign", after, err)
	}
}
