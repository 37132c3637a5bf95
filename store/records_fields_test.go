package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestStoreCallRecordKeepsGreetingTransferProgressAndVerdicts stores the
// fields of schema version 6 through both ways a record is written (an
// attempt's end and a placed call) and reads each back whole, including a
// verdict left unknown (nil) beside one that is false.
func TestStoreCallRecordKeepsGreetingTransferProgressAndVerdicts(t *testing.T) {
	start := time.Now().Truncate(time.Millisecond).UTC()
	tests := []struct {
		name string
		rec  CallRecord
	}{
		{"converted call bridged to an agent", CallRecord{RingingAt: start.Add(time.Second),
			AnsweredAt: start.Add(3 * time.Second), GreetedAt: start.Add(3400 * time.Millisecond),
			TransferredAt: start.Add(20 * time.Second), TransferTarget: "sip:agent@agents.example",
			TransferMode: TransferBridge, TransferResult: TransferSucceeded, EndedAt: start.Add(90 * time.Second),
			SIPCode: 200, Disposition: "answered", AnsweredBy: "human", Outcome: "transferred", IntentGrade: "A",
			Converted: Bool(true), OptedOut: Bool(false), Transcript: json.RawMessage(`{"outcome":"transferred"}`)}},
		{"failed blind transfer of an opt-out", CallRecord{AnsweredAt: start.Add(2 * time.Second),
			GreetedAt: start.Add(2 * time.Second), TransferredAt: start.Add(9 * time.Second),
			TransferTarget: "sip:desk@example", TransferMode: TransferBlind, TransferResult: TransferFailed,
			EndedAt: start.Add(12 * time.Second), SIPCode: 200, Disposition: "do_not_call", AnsweredBy: "human",
			Outcome: "do_not_call", IntentGrade: "F", Converted: Bool(false), OptedOut: Bool(true),
			Transcript: json.RawMessage(`null`)}},
		{"carrier announcement before any answer", CallRecord{RingingAt: start.Add(time.Second),
			EndedAt: start.Add(6 * time.Second), SIPCode: 487, Disposition: "invalid",
			CallProgress: "out_of_service", IntentGrade: "E", Converted: Bool(false), OptedOut: Bool(false),
			Transcript: json.RawMessage(`null`)}},
		{"verdicts not given", CallRecord{EndedAt: start.Add(30 * time.Second), SIPCode: 486, Disposition: "busy",
			CallProgress: "busy", Transcript: json.RawMessage(`null`)}},
	}
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := newCampaign(t, s, tc.name)
				want := tc.rec
				want.AttemptAt, want.Node, want.Trunk = start, "n", "t1"
				ids := seedRecords(t, s, c, []CallRecord{want})
				got, err := s.CallRecord(ctx, ids[0])
				if err != nil {
					t.Fatal(err)
				}
				want.ID, want.CampaignID, want.ContactID, want.Phone, want.Attempt = got.ID, c.ID, got.ContactID, got.Phone, 1
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("finished attempt:\n got %+v\nwant %+v", got, want)
				}

				placed := want
				placed.Attempt, placed.SIPCallID = 0, "placed-"+tc.name
				id, err := s.RecordCall(ctx, placed)
				if err != nil {
					t.Fatal(err)
				}
				placed.ID = id
				if got, err := s.CallRecord(ctx, id); err != nil || !reflect.DeepEqual(got, placed) {
					t.Fatalf("placed call: %v\n got %+v\nwant %+v", err, got, placed)
				}
			})
		}
	})
}

// TestStoreOldCallRecordReadsAsNotKnown writes a record under schema version
// 5, then opens the same database with every migration: the record reads
// with no greeting, transfer or call progress, and with its verdicts nil
// (not known) rather than false, so readers derive them as before.
func TestStoreOldCallRecordReadsAsNotKnown(t *testing.T) {
	all := migrations
	defer func() { migrations = all }()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var v5 []migration
			for _, m := range all {
				if m.version <= 5 {
					v5 = append(v5, m)
				}
			}
			open := b.open(t)
			migrations = v5
			old := open()
			if v, err := SchemaVersion(testCtx(t), old); err != nil || v != 5 {
				t.Fatalf("old schema version %d (%v), want 5", v, err)
			}
			c := newCampaign(t, old, "c")
			start := time.Now().Truncate(time.Millisecond).UTC()
			// The INSERT of a version 5 node, whose columns are all it knows.
			if _, err := old.AddContacts(testCtx(t), c.ID, []Contact{{Phone: "13812345678"}}); err != nil {
				t.Fatal(err)
			}
			ks, err := old.Contacts(testCtx(t), c.ID, "")
			if err != nil || len(ks) != 1 {
				t.Fatal(ks, err)
			}
			ss := old.(*sqlStore)
			if _, err := ss.db.ExecContext(testCtx(t), ss.q(`INSERT INTO call_records (campaign_id, contact_id, phone,
				attempt, attempt_at, answered_at, ended_at, sip_code, disposition, answered_by, outcome, intent_grade)
				VALUES (?, ?, ?, 1, ?, ?, ?, 200, 'answered', 'human', 'interested', 'B')`),
				c.ID, ks[0].ID, ks[0].Phone, ms(start), ms(start.Add(time.Second)), ms(start.Add(time.Minute))); err != nil {
				t.Fatal(err)
			}

			migrations = all
			s := open()
			if v, err := SchemaVersion(testCtx(t), s); err != nil || v != all[len(all)-1].version {
				t.Fatalf("schema version after upgrade %d (%v), want %d", v, err, all[len(all)-1].version)
			}
			recs, err := s.CallRecords(testCtx(t), c.ID, 0)
			if err != nil || len(recs) != 1 {
				t.Fatal(recs, err)
			}
			want := CallRecord{ID: recs[0].ID, CampaignID: c.ID, ContactID: ks[0].ID, Phone: ks[0].Phone, Attempt: 1,
				AttemptAt: start, AnsweredAt: start.Add(time.Second), EndedAt: start.Add(time.Minute), SIPCode: 200,
				Disposition: "answered", AnsweredBy: "human", Outcome: "interested", IntentGrade: "B",
				Transcript: json.RawMessage("null")}
			if !reflect.DeepEqual(recs[0], want) {
				t.Fatalf("old record:\n got %+v\nwant %+v", recs[0], want)
			}
		})
	}
}
