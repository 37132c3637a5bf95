package kpi

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/store"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// at is t0 + h:m:s.
func at(h, m, s int) time.Time {
	return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

func ms_(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// full is a whole dialog.Record as the store keeps it.
func full(t testing.TB, path []string, transferredTo string, entries []dialog.Entry, turns []dialog.Turn) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(dialog.Record{CallID: "x", Path: path, TransferredTo: transferredTo, Transcript: entries, Turns: turns})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entriesOnly is the transcript alone, as cmd/waihu stores it today.
func entriesOnly(t testing.TB, entries []dialog.Entry) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bot(atMs int) dialog.Entry {
	return dialog.Entry{Side: dialog.SideBot, At: ms_(atMs), Text: "hello"}
}
func caller(atMs int) dialog.Entry {
	return dialog.Entry{Side: dialog.SideCaller, At: ms_(atMs), Text: "yes"}
}
func turn(vadEnd time.Time, latencyMs int) dialog.Turn {
	return dialog.Turn{Node: "ask", VADEnd: vadEnd, FirstWrite: vadEnd.Add(ms_(latencyMs))}
}

// fixture is the fixed set of call records whose figures the tests compute by
// hand. Campaign 1 has 10 contacts, campaign 2 has 5. Times: t0 is 09:00 UTC.
func fixture(t testing.TB) ([]store.CallRecord, ListStats) {
	rec := func(id, campaign, contact int64, trunk, callerID, variant string) store.CallRecord {
		return store.CallRecord{ID: id, CampaignID: campaign, ContactID: contact, Trunk: trunk, CallerID: callerID, Variant: variant}
	}
	var rs []store.CallRecord
	add := func(r store.CallRecord) { rs = append(rs, r) }

	// R1 human, converted by outcome; greeting 500 ms; latencies 400, 800; talk 60 s, handle 65 s.
	r := rec(1, 1, 1, "t1", "c1", "A")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(0, 0, 0), at(0, 0, 2), at(0, 0, 5), at(0, 1, 5)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome, r.IntentGrade = 200, "answered", "human", "interested", "A"
	r.Transcript = full(t, []string{"greet", "ask", "bye"}, "", []dialog.Entry{bot(500), caller(3000), bot(5000)},
		[]dialog.Turn{turn(at(0, 0, 8), 400), turn(at(0, 0, 20), 800)})
	add(r)
	// R2 machine (voicemail): answered, not human; greeting 1000 ms; talk 30 s, handle 34 s.
	r = rec(2, 1, 2, "t1", "c1", "A")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(0, 5, 0), at(0, 5, 1), at(0, 5, 4), at(0, 5, 34)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome = 200, "voicemail", "machine_end_beep", "voicemail"
	r.Transcript = full(t, []string{"greet"}, "", []dialog.Entry{bot(1000)}, nil)
	add(r)
	// R3 busy 486: seizure, user-determined failure.
	r = rec(3, 1, 3, "t2", "c2", "B")
	r.AttemptAt, r.RingingAt, r.EndedAt = at(0, 10, 0), at(0, 10, 2), at(0, 10, 32)
	r.SIPCode, r.Disposition = 486, "busy"
	add(r)
	// R4 rang out (487 after our CANCEL): user-determined failure.
	r = rec(4, 1, 4, "t2", "c2", "B")
	r.AttemptAt, r.RingingAt, r.EndedAt = at(0, 15, 0), at(0, 15, 1), at(0, 15, 31)
	r.SIPCode, r.Disposition = 487, "no_answer"
	add(r)
	// R5 503 from the network: seizure, not a user failure.
	r = rec(5, 1, 5, "t1", "c1", "A")
	r.AttemptAt, r.EndedAt = at(1, 0, 0), at(1, 0, 3)
	r.SIPCode, r.Disposition = 503, "failed"
	add(r)
	// R6 contact 5 again: AMD unknown but the caller spoke, so human; asks
	// not to be called (opt-out); entries-only transcript, greeting 300 ms;
	// talk 20 s, handle 23 s.
	r = rec(6, 1, 5, "t1", "c1", "A")
	r.Attempt = 2
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(1, 30, 0), at(1, 30, 1), at(1, 30, 3), at(1, 30, 23)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome = 200, "do_not_call", "unknown", "do_not_call"
	r.Transcript = entriesOnly(t, []dialog.Entry{bot(300), caller(2000)})
	add(r)
	// R7 human who hung up before the bot said anything: abandoned; talk 4 s, handle 6 s.
	r = rec(7, 1, 6, "t2", "c2", "B")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(1, 40, 0), at(1, 40, 1), at(1, 40, 2), at(1, 40, 6)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome = 200, "answered", "human", "hung_up"
	r.Transcript = full(t, []string{"greet"}, "", nil, nil)
	add(r)
	// R8 human transferred; greeting at 2.5 s is past the 2 s rule, so
	// abandoned; latency 1200; talk 120 s, handle 123 s.
	r = rec(8, 1, 7, "t2", "c2", "B")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(2, 0, 0), at(2, 0, 1), at(2, 0, 3), at(2, 2, 3)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome, r.IntentGrade = 200, "answered", "human", "transferred", "B"
	r.Transcript = full(t, []string{"greet", "ask", "to_agent"}, "sip:agent@example.com",
		[]dialog.Entry{bot(2500), caller(4000), {Side: dialog.SideBot, Node: "to_agent", At: ms_(6000), Text: "putting you through"}},
		[]dialog.Turn{turn(at(2, 0, 8), 1200)})
	add(r)
	// R9 human, wrong person: not a right-party contact; greeting 800; latency 600; talk 60 s, handle 63 s.
	r = rec(9, 1, 8, "t1", "c1", "A")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(2, 20, 0), at(2, 20, 1), at(2, 20, 3), at(2, 21, 3)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome = 200, "answered", "human", "wrong_person"
	r.Transcript = full(t, []string{"greet", "ask", "bye"}, "", []dialog.Entry{bot(800), caller(2000)},
		[]dialog.Turn{turn(at(2, 20, 5), 600)})
	add(r)
	// R10 human converted by grade A although not_interested; reached the
	// transfer node but the transfer failed; greeting 1500; latencies 1000
	// and one turn with no reply (not counted); talk 90 s, handle 92 s.
	r = rec(10, 1, 9, "t2", "c2", "B")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(2, 40, 0), at(2, 40, 1), at(2, 40, 2), at(2, 41, 32)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome, r.IntentGrade = 200, "answered", "human", "not_interested", "A"
	r.Transcript = full(t, []string{"greet", "to_agent", "bye"}, "", []dialog.Entry{bot(1500), caller(3000)},
		[]dialog.Turn{turn(at(2, 40, 6), 1000), {Node: "ask", VADEnd: at(2, 41, 30)}})
	add(r)
	// R11 campaign 2: cancelled by waihu before any response: not a seizure.
	r = rec(11, 2, 101, "t1", "c1", "A")
	r.AttemptAt, r.EndedAt = at(3, 0, 0), at(3, 0, 0)
	r.Disposition = "cancelled"
	add(r)
	// R12 still in progress (no disposition): left out entirely.
	r = rec(12, 1, 10, "t1", "c1", "A")
	r.AttemptAt = at(3, 10, 0)
	add(r)
	// R13 campaign 2: answered, prompt only (no transcript), AMD unknown:
	// answered but no evidence of a human; talk 10 s, handle 12 s.
	r = rec(13, 2, 102, "t1", "c1", "A")
	r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = at(3, 20, 0), at(3, 20, 1), at(3, 20, 2), at(3, 20, 12)
	r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome = 200, "answered", "unknown", "completed"
	add(r)
	// R14 contact 3 again: 603 Decline, a user-determined failure.
	r = rec(14, 1, 3, "t2", "c2", "B")
	r.Attempt = 2
	r.AttemptAt, r.EndedAt = at(3, 30, 0), at(3, 30, 1)
	r.SIPCode, r.Disposition = 603, "failed"
	add(r)
	return rs, ListStats{1: 10, 2: 5}
}

var fixtureRules = Rules{TransferNodes: []string{"to_agent"}}

type want struct {
	num, den float64
	value    float64
}

func checkKPIs(t *testing.T, got KPIs, wants map[Name]want) {
	t.Helper()
	for name, w := range wants {
		v, ok := got.Get(name)
		if !ok {
			t.Fatalf("no figure %s", name)
		}
		if v.Numerator != w.num || v.Denominator != w.den || math.Abs(v.Value-w.value) > 1e-12 {
			t.Errorf("%s = %v (%v / %v), want %v (%v / %v)", name, v.Value, v.Numerator, v.Denominator, w.value, w.num, w.den)
		}
	}
}

func TestComputeMatchesHandComputedFigures(t *testing.T) {
	records, lists := fixture(t)
	rep := Compute(records, lists, Query{Rules: fixtureRules})
	// Finished records: all but R12 → 13 calls.
	if rep.Total.Calls != 13 {
		t.Errorf("calls = %d, want 13", rep.Total.Calls)
	}
	checkKPIs(t, rep.Total.KPIs, map[Name]want{
		// Seizures: 13 finished minus R11 (cancelled, no response) = 12.
		// Answered (200): R1 R2 R6 R7 R8 R9 R10 R13 = 8.
		AnswerSeizureRatio: {8, 12, 8.0 / 12},
		// Humans: R1 R7 R8 R9 R10 (AMD human) + R6 (spoke, AMD unknown) = 6.
		HumanContactRate: {6, 12, 6.0 / 12},
		// User-determined failures: R3 486, R4 rang out, R14 603 = 3 (R5 503 is the network's).
		NetworkEffectivenessRatio: {11, 12, 11.0 / 12},
		// Right party: humans who engaged, not wrong person: R1 R6 R8 R10 = 4 (R7 silent, R9 wrong person).
		RightPartyContactRate: {4, 6, 4.0 / 6},
		// Conversions among them: R1 (interested), R10 (grade A) = 2.
		ConversionRate: {2, 4, 0.5},
		// Talk: 60+30+20+4+120+60+90+10 = 394 s over 8 answered.
		AverageCallDuration: {394, 8, 49.25},
		// Handle (attempt → end): 65+34+23+6+123+63+92+12 = 418 s over 8.
		AverageHandleTime: {418, 8, 52.25},
		// Humans with a transcript: R1 R6 R7 R8 R9 R10 = 6; abandoned: R7 (no bot audio), R8 (2.5 s > 2 s) = 2.
		AbandonRate: {2, 6, 2.0 / 6},
		// Transfers tried: R8 (transferred), R10 (reached to_agent) = 2 of 6 humans; 1 succeeded.
		TransferRate:        {2, 6, 2.0 / 6},
		TransferSuccessRate: {1, 2, 0.5},
		// Distinct contacts seized: 1 2 3 4 5 6 7 8 9 102 = 10 of 10+5 listed.
		ListPenetration: {10, 15, 10.0 / 15},
		// 12 seizures over 10 contacts.
		AttemptsPerLead: {12, 10, 1.2},
		// Opt-outs: R6 = 1 of 6 humans.
		OptOutRate: {1, 6, 1.0 / 6},
		// Latencies sorted: 400 600 800 1000 1200 (n 5); nearest rank p50 = 3rd, p95 = 5th.
		FirstResponseLatencyP50: {0, 5, 800},
		FirstResponseLatencyP95: {0, 5, 1200},
		// Greetings sorted: 300 500 800 1000 1500 2500 (n 6); p50 = 3rd, p95 = 6th.
		TimeToGreetingP50: {0, 6, 800},
		TimeToGreetingP95: {0, 6, 2500},
	})
	if rep.Groups != nil {
		t.Errorf("ungrouped report has groups %v", rep.Groups)
	}
}

func TestComputeGroupsByKey(t *testing.T) {
	records, lists := fixture(t)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skipf("no zone data: %v", err)
	}
	tests := []struct {
		name  string
		q     Query
		keys  []string
		calls []int
		// answered / seizures per group
		asr [][2]float64
	}{
		{"trunk", Query{GroupBy: GroupTrunk}, []string{"t1", "t2"}, []int{7, 6},
			// t1: R1 R2 R5 R6 R9 R11 R13; R11 not a seizure; answered R1 R2 R6 R9 R13.
			// t2: R3 R4 R7 R8 R10 R14; answered R7 R8 R10.
			[][2]float64{{5, 6}, {3, 6}}},
		{"campaign", Query{GroupBy: GroupCampaign}, []string{"1", "2"}, []int{11, 2},
			[][2]float64{{7, 11}, {1, 1}}},
		{"variant", Query{GroupBy: GroupVariant}, []string{"A", "B"}, []int{7, 6},
			[][2]float64{{5, 6}, {3, 6}}},
		{"caller id", Query{GroupBy: GroupCallerID}, []string{"c1", "c2"}, []int{7, 6},
			[][2]float64{{5, 6}, {3, 6}}},
		{"hour UTC", Query{GroupBy: GroupHour}, []string{"09", "10", "11", "12"}, []int{4, 3, 3, 3},
			// 09: R1 R2 answered of R1-R4; 10: R6 R7 of R5-R7; 11: R8 R9 R10; 12: R13 of R13 R14 (R11 no seizure).
			[][2]float64{{2, 4}, {2, 3}, {3, 3}, {1, 2}}},
		{"hour Shanghai", Query{GroupBy: GroupHour, Location: shanghai}, []string{"17", "18", "19", "20"}, []int{4, 3, 3, 3},
			[][2]float64{{2, 4}, {2, 3}, {3, 3}, {1, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Rules = fixtureRules
			rep := Compute(records, lists, tc.q)
			if len(rep.Groups) != len(tc.keys) {
				t.Fatalf("groups %v, want keys %v", rep.Groups, tc.keys)
			}
			sum := 0
			for i, g := range rep.Groups {
				if g.Key != tc.keys[i] || g.Calls != tc.calls[i] {
					t.Errorf("group %d = %q with %d calls, want %q with %d", i, g.Key, g.Calls, tc.keys[i], tc.calls[i])
				}
				checkKPIs(t, g.KPIs, map[Name]want{AnswerSeizureRatio: {tc.asr[i][0], tc.asr[i][1], tc.asr[i][0] / tc.asr[i][1]}})
				sum += g.Calls
			}
			if sum != rep.Total.Calls {
				t.Errorf("groups hold %d calls, total %d", sum, rep.Total.Calls)
			}
		})
	}
}

func TestComputeListPenetrationPerGroupUsesTheGroupsCampaigns(t *testing.T) {
	records, lists := fixture(t)
	rep := Compute(records, lists, Query{GroupBy: GroupTrunk, Rules: fixtureRules})
	// t1 seized contacts 1 2 5 8 (campaign 1) and 102 (campaign 2): 5 of 15.
	// t2 seized 3 4 6 7 9, all campaign 1: 5 of 10.
	checkKPIs(t, rep.Groups[0].KPIs, map[Name]want{ListPenetration: {5, 15, 5.0 / 15}, AttemptsPerLead: {6, 5, 1.2}})
	checkKPIs(t, rep.Groups[1].KPIs, map[Name]want{ListPenetration: {5, 10, 0.5}, AttemptsPerLead: {6, 5, 1.2}})
}

func TestComputeWindowIncludesFromAndExcludesTo(t *testing.T) {
	records, lists := fixture(t)
	tests := []struct {
		name     string
		q        Query
		calls    int
		seizures float64
		answered float64
	}{
		// [10:30, 11:20): R6 at 10:30 in, R7, R8; R9 at 11:20 out.
		{"bounds", Query{From: at(1, 30, 0), To: at(2, 20, 0)}, 3, 3, 3},
		// Just past From drops R6.
		{"from is inclusive", Query{From: at(1, 30, 0).Add(time.Millisecond), To: at(2, 20, 0)}, 2, 2, 2},
		// Open lower bound: R1-R8.
		{"open from", Query{To: at(2, 20, 0)}, 8, 8, 5},
		// Campaign 2 only: R11 (no seizure), R13.
		{"one campaign", Query{CampaignID: 2}, 2, 1, 1},
		{"empty window", Query{From: at(10, 0, 0), To: at(11, 0, 0)}, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Rules = fixtureRules
			rep := Compute(records, lists, tc.q)
			if rep.Total.Calls != tc.calls {
				t.Errorf("calls = %d, want %d", rep.Total.Calls, tc.calls)
			}
			v := rep.Total.KPIs.AnswerSeizureRatio
			if v.Numerator != tc.answered || v.Denominator != tc.seizures {
				t.Errorf("answer_seizure_ratio %v / %v, want %v / %v", v.Numerator, v.Denominator, tc.answered, tc.seizures)
			}
		})
	}
}

func TestWindowSnapshotEqualsComputeOverTheSameSpan(t *testing.T) {
	records, lists := fixture(t)
	q := Query{GroupBy: GroupTrunk, Rules: fixtureRules}
	w := NewWindow(time.Hour, q)
	w.SetLists(lists)
	// Fed in end order, as the dialer finishes them: reverse attempt order here.
	for i := len(records) - 1; i >= 0; i-- {
		w.Add(records[i])
	}
	if w.Len() != 13 {
		t.Errorf("kept %d records, want 13 finished", w.Len())
	}
	for _, now := range []time.Time{at(1, 0, 0), at(2, 0, 0), at(2, 40, 0), at(3, 30, 1), at(5, 0, 0)} {
		got := w.Snapshot(now)
		wq := q
		wq.From, wq.To = now.Add(-time.Hour), now
		want := Compute(records, lists, wq)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("snapshot at %s:\n got %+v\nwant %+v", now.Format(time.TimeOnly), got, want)
		}
	}
	if w.Len() != 0 {
		t.Errorf("after a snapshot past every record, %d are still kept", w.Len())
	}
}

func TestClassifyTreatsBadTranscriptAsNone(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		known      bool
	}{
		{"empty", "", false},
		{"garbage", "{not json", false},
		{"wrong type", `{"transcript": 5}`, false},
		{"null, as the store keeps a call with no script", "null", false},
		{"object without entries", `{"call_id": "x", "transcript": null}`, true},
		{"empty array", "[]", true},
		{"object", `{"transcript": [{"side": "bot", "at": 100000000}]}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := store.CallRecord{AttemptAt: t0, AnsweredAt: t0, EndedAt: t0.Add(time.Second), SIPCode: 200,
				Disposition: "answered", AnsweredBy: "human", Transcript: json.RawMessage(tc.transcript)}
			f := Classify(rec, Rules{})
			if !f.Human || f.AbandonKnown != tc.known {
				t.Errorf("human %v, abandon known %v; want true, %v", f.Human, f.AbandonKnown, tc.known)
			}
		})
	}
}

func TestClassifierDoesNotCarryFieldsBetweenRecords(t *testing.T) {
	c := NewClassifier(Rules{})
	// A message entry first, then a record whose bot entry lacks "message":
	// the reused buffer must not keep Message true.
	first := store.CallRecord{SIPCode: 200, Disposition: "answered", AnsweredBy: "human",
		Transcript: json.RawMessage(`[{"side":"bot","at":0,"message":true},{"side":"bot","at":100000000}]`)}
	second := store.CallRecord{SIPCode: 200, Disposition: "answered", AnsweredBy: "human",
		Transcript: json.RawMessage(`[{"side":"bot","at":50000000}]`)}
	if f := c.Classify(&first); f.Greeting != 100*time.Millisecond {
		t.Fatalf("first greeting %v, want 100ms (the message is not audio)", f.Greeting)
	}
	if f := c.Classify(&second); !f.HasGreeting || f.Greeting != 50*time.Millisecond {
		t.Errorf("second greeting %v (%v), want 50ms", f.Greeting, f.HasGreeting)
	}
}

func TestReportJSONUsesSnakeCaseNamesAndNullForUndefined(t *testing.T) {
	rep := Compute(nil, nil, Query{GroupBy: GroupHour})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Total struct {
			KPIs map[string]struct {
				Value       *float64 `json:"value"`
				Denominator float64  `json:"denominator"`
				Unit        string   `json:"unit"`
			} `json:"kpis"`
		} `json:"total"`
		Groups []any `json:"groups"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if doc.Groups == nil {
		t.Errorf("groups is not an array: %s", b)
	}
	if len(doc.Total.KPIs) != len(Names) {
		t.Errorf("%d figures in JSON, want %d", len(doc.Total.KPIs), len(Names))
	}
	for _, n := range Names {
		v, ok := doc.Total.KPIs[string(n)]
		if !ok {
			t.Errorf("JSON lacks %s", n)
			continue
		}
		if v.Value != nil || v.Unit == "" {
			t.Errorf("%s of no records = %v (%s), want null with a unit", n, *v.Value, v.Unit)
		}
		if strings.Contains(string(n), "asr") {
			t.Errorf("figure %s uses the speech-recognition abbreviation", n)
		}
	}
	records, lists := fixture(t)
	b, _ = json.Marshal(Compute(records, lists, Query{}).Total.KPIs.AnswerSeizureRatio)
	if string(b) != `{"value":0.6666666666666666,"numerator":8,"denominator":12,"unit":"ratio"}` {
		t.Errorf("answer_seizure_ratio JSON %s", b)
	}
}

func TestParseGroupByRejectsUnknownNames(t *testing.T) {
	for _, s := range []string{"", "campaign", "variant", "trunk", "caller_id", "hour"} {
		if _, err := ParseGroupBy(s); err != nil {
			t.Errorf("ParseGroupBy(%q): %v", s, err)
		}
	}
	if _, err := ParseGroupBy("day"); err == nil || !strings.Contains(err.Error(), `"day"`) {
		t.Errorf("ParseGroupBy(day) = %v, want an error naming it", err)
	}
}

// benchRecords makes n answered-or-not records over a day with realistic
// transcripts.
func benchRecords(b *testing.B, n int) []store.CallRecord {
	tr := full(b, []string{"greet", "ask", "bye"}, "", []dialog.Entry{bot(600), caller(3000), bot(5000), caller(9000), bot(11000)},
		[]dialog.Turn{turn(t0, 700), turn(t0.Add(5*time.Second), 900)})
	rs := make([]store.CallRecord, n)
	for i := range rs {
		r := &rs[i]
		r.ID, r.CampaignID, r.ContactID = int64(i+1), 1, int64(i/2+1)
		r.Trunk, r.CallerID, r.Variant = fmt.Sprintf("t%d", i%3), fmt.Sprintf("c%d", i%5), []string{"A", "B"}[i%2]
		r.AttemptAt = t0.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n))
		r.EndedAt = r.AttemptAt.Add(40 * time.Second)
		switch i % 4 {
		case 0, 1:
			r.SIPCode, r.Disposition, r.AnsweredBy, r.Outcome = 200, "answered", "human", "interested"
			r.RingingAt, r.AnsweredAt = r.AttemptAt.Add(2*time.Second), r.AttemptAt.Add(5*time.Second)
			r.Transcript = tr
		case 2:
			r.SIPCode, r.Disposition = 486, "busy"
		default:
			r.SIPCode, r.Disposition = 487, "no_answer"
			r.RingingAt = r.AttemptAt.Add(2 * time.Second)
		}
	}
	return rs
}

func BenchmarkCompute100k(b *testing.B) {
	records := benchRecords(b, 100_000)
	q := Query{GroupBy: GroupHour}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Compute(records, ListStats{1: 60_000}, q)
	}
}

func BenchmarkWindowSnapshot100k(b *testing.B) {
	records := benchRecords(b, 100_000)
	w := NewWindow(24*time.Hour, Query{GroupBy: GroupTrunk})
	for _, r := range records {
		w.Add(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.Snapshot(t0.Add(24 * time.Hour))
	}
}

func TestWindowTakesRecordsWhileSnapshotting(t *testing.T) {
	records, lists := fixture(t)
	w := NewWindow(24*time.Hour, Query{Rules: fixtureRules})
	w.SetLists(lists)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			for _, r := range records {
				w.Add(r)
			}
		}
	}()
	for range 50 {
		w.Snapshot(at(4, 0, 0))
	}
	<-done
	// 50 copies of the 13 finished records: every count is 50 times the fixture's.
	rep := w.Snapshot(at(4, 0, 0))
	if rep.Total.Calls != 50*13 || rep.Total.KPIs.AnswerSeizureRatio.Numerator != 50*8 {
		t.Errorf("calls %d answered %v, want %d and %d", rep.Total.Calls, rep.Total.KPIs.AnswerSeizureRatio.Numerator, 50*13, 50*8)
	}
}
