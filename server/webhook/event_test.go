package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the payloads built now")

// answeredCall is a call record as the dialler stores it, with the dialog
// engine's transcript.
func answeredCall(t *testing.T) store.CallRecord {
	t.Helper()
	transcript, err := json.Marshal([]dialog.Entry{
		{Side: dialog.SideBot, Node: "greet", At: 200 * time.Millisecond, End: 3100 * time.Millisecond,
			Text: "Hello, this is Acme Savings. Do you have a minute to hear about our savings plan?", FramesPlayed: 145},
		{Side: dialog.SideCaller, Node: "greet", At: 3600 * time.Millisecond, End: 4400 * time.Millisecond,
			Text: "yes sure", Intent: "yes", Confidence: 0.92, ASRConfidence: 0.88, Emotion: "neutral"},
		{Side: dialog.SideBot, Node: "offer", At: 4900 * time.Millisecond, End: 6000 * time.Millisecond,
			Text: "Great. The plan pays", Intended: "Great. The plan pays 3 percent a year.", Interrupted: true},
		{Side: dialog.SideCaller, Node: "offer", At: 6100 * time.Millisecond, DTMF: "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	return store.CallRecord{
		ID: 1042, CampaignID: 7, ContactID: 311, Phone: "+8613812345678", Attempt: 2, Node: "node-a",
		Trunk: "carrier-1", CallerID: "+862150001234", Variant: "B", SIPCallID: "a84b4c76e66710@waihu",
		AttemptAt: at, RingingAt: at.Add(1500 * time.Millisecond), AnsweredAt: at.Add(6 * time.Second),
		EndedAt: at.Add(48 * time.Second), SIPCode: 200, Disposition: "answered", AnsweredBy: "human",
		Outcome: "interested", IntentGrade: "A", Transcript: transcript,
		GreetedAt: at.Add(6200 * time.Millisecond), Converted: store.Bool(true), OptedOut: store.Bool(false),
		// The agent did not answer; the script's on_fail path went on.
		TransferredAt: at.Add(13 * time.Second), TransferTarget: "sip:sales@agents.example",
		TransferMode: store.TransferBridge, TransferResult: store.TransferFailed,
	}
}

// body is the request body Enqueue would send for ev.
func body(t *testing.T, ev Event) []byte {
	t.Helper()
	b, err := json.MarshalIndent(envelope{Type: ev.Type, Timestamp: ev.Time, Data: ev.Data}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// golden compares got with testdata/name (docs/webhooks.md shows the same
// examples); -update rewrites the file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the payload built now:\n%s\n(go test -update rewrites it)", path, got)
	}
}

func TestCallCompletedCarriesTheResultTranscriptAndRecordingLink(t *testing.T) {
	ev, err := CallCompleted(answeredCall(t), "https://waihu.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "msg_call_1042" || ev.Type != TypeCallCompleted || !ev.Time.Equal(answeredCall(t).EndedAt) {
		t.Fatalf("event %s %s at %v", ev.ID, ev.Type, ev.Time)
	}
	b := body(t, ev)
	golden(t, "call.completed.json", b)

	var got struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"phone":         "+8613812345678", // in full: the CRM is the system of record
		"recording_url": "https://waihu.example.com/api/v1/recordings/1042",
		"duration_ms":   48000.0,
		"talk_ms":       42000.0,
		"answered_by":   "human",
		"intent_grade":  "A",
		"variant":       "B",
		"greeted_at":    "2026-11-25T09:30:06.2Z",
		"converted":     true,
		"opted_out":     false,
	}
	for k, v := range want {
		if got.Data[k] != v {
			t.Errorf("%s = %v, want %v", k, got.Data[k], v)
		}
	}
	lines := ev.Data.(Call).Transcript
	if len(lines) != 4 || lines[1].Intent != "yes" || lines[1].AtMs != 3600 || !lines[2].Interrupted || lines[3].DTMF != "1" {
		t.Fatalf("transcript %+v", lines)
	}
}

func TestCallCompletedOfAnUnansweredCallLeavesOutWhatDidNotHappen(t *testing.T) {
	rec := answeredCall(t)
	rec.AnsweredAt, rec.RingingAt, rec.SIPCode, rec.Disposition = time.Time{}, time.Time{}, 486, "busy"
	rec.Outcome, rec.AnsweredBy, rec.IntentGrade, rec.Transcript = "", "", "", json.RawMessage("null")
	rec.GreetedAt, rec.CallProgress, rec.Converted = time.Time{}, "busy", store.Bool(false)
	rec.TransferredAt, rec.TransferTarget, rec.TransferMode, rec.TransferResult = time.Time{}, "", "", ""
	ev, err := CallCompleted(rec, "https://waihu.example.com")
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, ev)
	golden(t, "call.completed-busy.json", b)
	for _, absent := range []string{"answered_at", "ringing_at", "greeted_at", "recording_url", "outcome", "answered_by", "transfer"} {
		if bytes.Contains(b, []byte(`"`+absent+`"`)) {
			t.Errorf("unanswered call has %s:\n%s", absent, b)
		}
	}
	if !bytes.Contains(b, []byte(`"transcript": []`)) || !bytes.Contains(b, []byte(`"talk_ms": 0`)) {
		t.Errorf("unanswered call: want an empty transcript and no talk time:\n%s", b)
	}
}

// TestCallCompletedOfAnOldRecordLeavesOutVerdictsItNeverHad: a record
// stored before converted and opted_out were decided sends neither, rather
// than a false that would read as a decision.
func TestCallCompletedOfAnOldRecordLeavesOutVerdictsItNeverHad(t *testing.T) {
	rec := answeredCall(t)
	rec.Converted, rec.OptedOut, rec.GreetedAt = nil, nil, time.Time{}
	rec.TransferredAt, rec.TransferTarget, rec.TransferMode, rec.TransferResult = time.Time{}, "", "", ""
	ev, err := CallCompleted(rec, "")
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, ev)
	for _, absent := range []string{"converted", "opted_out", "greeted_at", "transfer", "call_progress"} {
		if bytes.Contains(b, []byte(`"`+absent+`"`)) {
			t.Errorf("old record has %s:\n%s", absent, b)
		}
	}
}

func TestCallCompletedReadsTheTranscriptInEveryStoredShape(t *testing.T) {
	whole, err := json.Marshal(dialog.Record{CallID: "x", Transcript: []dialog.Entry{{Side: dialog.SideCaller, Text: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		raw       string
		wantLines int
		wantErr   bool
	}{
		{"entries", `[{"side":"bot","text":"hello","at":1000000}]`, 1, false},
		{"a whole dialog record", string(whole), 1, false},
		{"null", `null`, 0, false},
		{"nothing", ``, 0, false},
		{"not JSON", `[{"side":`, 0, true},
		{"wrong shape", `"a string"`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := answeredCall(t)
			rec.Transcript = json.RawMessage(tc.raw)
			ev, err := CallCompleted(rec, "")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			c := ev.Data.(Call)
			if len(c.Transcript) != tc.wantLines || c.Transcript == nil || c.RecordingURL != "" {
				t.Fatalf("transcript %+v, recording %q", c.Transcript, c.RecordingURL)
			}
			if ev.ID != "msg_call_1042" || c.Phone != rec.Phone {
				t.Fatal("an unreadable transcript lost the rest of the event")
			}
		})
	}
}

func TestCampaignFinishedTotalsContactsAndCalls(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	call := func(disp, outcome, by string, talk time.Duration) store.CallRecord {
		r := store.CallRecord{AttemptAt: at, EndedAt: at.Add(talk + 10*time.Second), Disposition: disp, Outcome: outcome, AnsweredBy: by}
		if by != "" {
			r.AnsweredAt = at.Add(10 * time.Second)
		}
		return r
	}
	c := store.Campaign{ID: 7, Name: "spring-savings", State: store.CampaignCompleted, CreatedAt: at.Add(-24 * time.Hour),
		UpdatedAt: at.Add(2 * time.Hour)}
	counts := map[store.ContactState]int{store.StateDone: 3, store.StateExhausted: 1, store.StateSkipped: 1}
	records := []store.CallRecord{
		call("answered", "interested", "human", 40*time.Second),
		call("answered", "not_interested", "human", 20*time.Second),
		call("voicemail", "voicemail", "machine", 5*time.Second),
		call("no_answer", "", "", 0),
		call("busy", "", "", 0),
		call("no_answer", "", "", 0),
		call("answered", "interested", "human", 60*time.Second),
	}
	ev := CampaignFinished(c, counts, records)
	if ev.ID != "msg_campaign_7_finished_"+strings.TrimSpace(jsonNumber(at.Add(2*time.Hour).UnixMilli())) {
		t.Fatalf("id %s", ev.ID)
	}
	got := ev.Data.(CampaignTotals)
	// By hand: 5 contacts; 7 calls, 4 answered (3 human, 1 machine) talking
	// 40 + 20 + 5 + 60 = 125 s.
	if got.Contacts != 5 || got.Calls != 7 || got.Answered != 4 || got.TalkMs != 125000 {
		t.Fatalf("totals %+v", got)
	}
	wantMaps := map[string][2]map[string]int{
		"by_disposition": {got.ByDisposition, {"answered": 3, "voicemail": 1, "no_answer": 2, "busy": 1}},
		"by_outcome":     {got.ByOutcome, {"interested": 2, "not_interested": 1, "voicemail": 1}},
		"by_answered_by": {got.ByAnsweredBy, {"human": 3, "machine": 1}},
		"contacts":       {got.ContactsByState, {"done": 3, "exhausted": 1, "skipped": 1}},
	}
	for name, m := range wantMaps {
		if g, w := jsonOf(t, m[0]), jsonOf(t, m[1]); g != w {
			t.Errorf("%s %s, want %s", name, g, w)
		}
	}
	golden(t, "campaign.finished.json", body(t, ev))
}

func jsonNumber(v int64) string { b, _ := json.Marshal(v); return string(b) }

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v) // sorted keys: comparable
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEnqueueCallAndCampaignFinishedReadTheStore runs the one-call
// constructors over a campaign dialled through the store as the dialler does.
func TestEnqueueCallAndCampaignFinishedReadTheStore(t *testing.T) {
	c := &clock{t: start}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	rcv := newReceiver(t, c, testSecret, nil)
	d, err := New(Config{Store: st, Endpoints: []Endpoint{{URL: rcv.srv.URL, Secret: testSecret}}, Now: c.Now,
		PublicURL: "https://waihu.example.com", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	camp, err := st.CreateCampaign(ctx, store.Campaign{Name: "webhooks"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddContacts(ctx, camp.ID, []store.Contact{{Phone: "+8613800000001"}, {Phone: "+8613800000002"}}); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: camp.ID, Node: "n", Now: time.Now(), Limit: 2})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim %v, %v", claimed, err)
	}
	rec := answeredCall(t)
	for i, ct := range claimed {
		r := rec
		r.ID, r.CampaignID, r.ContactID, r.Phone = 0, camp.ID, ct.ID, ct.Phone
		if r.ID, err = st.BeginAttempt(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			r.AnsweredAt, r.Disposition, r.Outcome, r.AnsweredBy = time.Time{}, "no_answer", "", ""
		}
		if err := st.FinishAttempt(ctx, r, store.ContactUpdate{State: store.StateDone, LastDisposition: r.Disposition}); err != nil {
			t.Fatal(err)
		}
		records, err := st.CallRecords(ctx, camp.ID, ct.ID)
		if err != nil || len(records) != 1 {
			t.Fatalf("records %v, %v", records, err)
		}
		if n, err := d.EnqueueCall(ctx, records[0]); err != nil || n != 1 {
			t.Fatalf("enqueue call: %d, %v", n, err)
		}
	}
	if err := st.SetCampaignState(ctx, camp.ID, store.CampaignCompleted); err != nil {
		t.Fatal(err)
	}
	if n, err := d.EnqueueCampaignFinished(ctx, camp.ID); err != nil || n != 1 {
		t.Fatalf("enqueue campaign: %d, %v", n, err)
	}
	if n, err := d.EnqueueCampaignFinished(ctx, camp.ID); err != nil || n != 0 {
		t.Fatalf("second enqueue of the same finish: %d, %v; want 0", n, err)
	}
	if _, err := d.EnqueueCampaignFinished(ctx, 999); err == nil {
		t.Fatal("unknown campaign accepted")
	}
	drain(t, d, st, c)
	hits := rcv.Hits()
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3", len(hits))
	}
	// Deliveries go out in parallel: find each by its id.
	byID := map[string][]byte{}
	for _, h := range hits {
		byID[h.id] = h.body
	}
	var totals struct {
		Data CampaignTotals `json:"data"`
	}
	if err := json.Unmarshal(byID[CampaignFinished(mustCampaign(t, st, camp.ID), nil, nil).ID], &totals); err != nil {
		t.Fatal(err)
	}
	tt := totals.Data
	if tt.Calls != 2 || tt.Answered != 1 || tt.Contacts != 2 ||
		tt.ByDisposition["no_answer"] != 1 || tt.ByOutcome["interested"] != 1 || tt.State != "completed" {
		t.Fatalf("campaign.finished %+v", tt)
	}
	var call struct {
		Data Call `json:"data"`
	}
	if err := json.Unmarshal(byID["msg_call_"+jsonNumber(firstRecordID(t, st, camp.ID))], &call); err != nil {
		t.Fatal(err)
	}
	if call.Data.Phone != "+8613800000001" || call.Data.RecordingURL == "" || len(call.Data.Transcript) != 4 ||
		call.Data.CampaignID != camp.ID {
		t.Fatalf("call.completed %+v", call.Data)
	}
}

func mustCampaign(t *testing.T, st store.Store, id int64) store.Campaign {
	t.Helper()
	c, err := st.Campaign(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func firstRecordID(t *testing.T, st store.Store, campaignID int64) int64 {
	t.Helper()
	recs, err := st.CallRecords(testCtx(t), campaignID, 0)
	if err != nil || len(recs) == 0 {
		t.Fatalf("records %v, %v", recs, err)
	}
	return recs[0].ID
}
