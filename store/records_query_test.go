package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedRecords dials one contact per spec in campaign c and finishes the
// attempt as the spec says (an empty disposition leaves it in progress). It
// returns the records' IDs in spec order.
func seedRecords(t *testing.T, s Store, c Campaign, specs []CallRecord) []int64 {
	t.Helper()
	ctx := testCtx(t)
	contacts := make([]Contact, len(specs))
	for i := range specs {
		contacts[i] = Contact{Phone: fmt.Sprintf("1381000%04d", i), Priority: 99 - i%199}
	}
	if _, err := s.AddContacts(ctx, c.ID, contacts); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(specs))
	for i, spec := range specs {
		k, err := s.ClaimContacts(ctx, ClaimRequest{CampaignID: c.ID, Node: "n", Now: time.Now().Add(time.Hour), Limit: 1})
		if err != nil || len(k) != 1 {
			t.Fatal(k, err)
		}
		id, err := s.BeginAttempt(ctx, CallRecord{CampaignID: c.ID, ContactID: k[0].ID, Phone: k[0].Phone, Node: "n",
			AttemptAt: spec.AttemptAt, SIPCallID: spec.SIPCallID})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		if spec.Disposition == "" {
			continue
		}
		spec.ID, spec.CampaignID, spec.ContactID = id, c.ID, k[0].ID
		if err := s.FinishAttempt(ctx, spec, ContactUpdate{State: StateDone, LastDisposition: spec.Disposition}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func recordIDs(recs []CallRecord) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestStoreCallRecordIsFoundByIDAndBySIPCallID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		transcript := json.RawMessage(`[{"who":"caller","text":"喂"}]`)
		ids := seedRecords(t, s, c, []CallRecord{
			{AttemptAt: at, SIPCallID: "same@x", Disposition: "no_answer", EndedAt: at.Add(time.Minute)},
			{AttemptAt: at.Add(time.Hour), SIPCallID: "same@x", Disposition: "answered", EndedAt: at.Add(61 * time.Minute),
				Outcome: "interested", Transcript: transcript},
			{AttemptAt: at.Add(2 * time.Hour)},
		})
		got, err := s.CallRecord(ctx, ids[1])
		if err != nil || got.ID != ids[1] || got.Outcome != "interested" || string(got.Transcript) != string(transcript) {
			t.Fatalf("record %d: %+v, %v", ids[1], got, err)
		}
		byCallID, err := s.CallRecordBySIPCallID(ctx, "same@x")
		if err != nil || byCallID.ID != ids[1] || string(byCallID.Transcript) != string(transcript) {
			t.Fatalf("by Call-ID: %+v, %v; want the newest, record %d", byCallID, err, ids[1])
		}
		for _, tc := range []struct {
			name string
			err  error
		}{
			{"unknown id", func() error { _, err := s.CallRecord(ctx, ids[2]+100); return err }()},
			{"unknown Call-ID", func() error { _, err := s.CallRecordBySIPCallID(ctx, "nope@x"); return err }()},
			// The record still in progress has no Call-ID: the empty one names no call.
			{"empty Call-ID", func() error { _, err := s.CallRecordBySIPCallID(ctx, ""); return err }()},
		} {
			if !errors.Is(tc.err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", tc.name, tc.err)
			}
		}
	})
}

func TestStoreCallRecordPagesWalkEveryRecordOnceByKeyset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		a, b := newCampaign(t, s, "a"), newCampaign(t, s, "b")
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		spec := func(i int) CallRecord {
			d := []string{"answered", "no_answer", "busy"}[i%3]
			return CallRecord{AttemptAt: at.Add(time.Duration(i) * time.Minute), Disposition: d,
				EndedAt: at.Add(time.Duration(i)*time.Minute + 30*time.Second), Transcript: json.RawMessage(`["t"]`)}
		}
		var specsA, specsB []CallRecord
		for i := range 11 {
			specsA = append(specsA, spec(i))
			specsB = append(specsB, spec(i))
		}
		idsA, idsB := seedRecords(t, s, a, specsA), seedRecords(t, s, b, specsB)
		all := slices.Concat(idsA, idsB)

		walk := func(q RecordQuery) []int64 {
			t.Helper()
			var out []int64
			for pages := 0; ; pages++ {
				if pages > 50 {
					t.Fatal("pages never end")
				}
				page, err := s.QueryCallRecords(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > q.Limit {
					t.Fatalf("page of %d records, limit %d", len(page), q.Limit)
				}
				out = append(out, recordIDs(page)...)
				if len(page) < q.Limit {
					return out
				}
				q.After = page[len(page)-1].ID
			}
		}
		desc := func(ids []int64) []int64 {
			out := slices.Clone(ids)
			slices.Sort(out)
			slices.Reverse(out)
			return out
		}
		asc := func(ids []int64) []int64 { out := slices.Clone(ids); slices.Sort(out); return out }
		pick := func(ids []int64, keep func(i int) bool) []int64 {
			var out []int64
			for i, id := range ids {
				if keep(i) {
					out = append(out, id)
				}
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    RecordQuery
			want []int64
		}{
			{"every campaign newest first", RecordQuery{Limit: 4}, desc(all)},
			{"every campaign oldest first", RecordQuery{Limit: 5, Ascending: true}, asc(all)},
			{"one page holds all", RecordQuery{Limit: 100}, desc(all)},
			{"one campaign", RecordQuery{CampaignIDs: []int64{b.ID}, Limit: 3}, desc(idsB)},
			{"a set of campaigns", RecordQuery{CampaignIDs: []int64{a.ID, b.ID}, Limit: 7, Ascending: true}, asc(all)},
			{"no campaign selects nothing", RecordQuery{CampaignIDs: []int64{}, Limit: 3}, nil},
			{"attempt range is half open", RecordQuery{CampaignIDs: []int64{a.ID}, From: at.Add(2 * time.Minute),
				To: at.Add(5 * time.Minute), Limit: 2}, desc(idsA[2:5])},
			{"disposition", RecordQuery{CampaignIDs: []int64{a.ID}, Dispositions: []string{"busy"}, Limit: 2},
				desc(pick(idsA, func(i int) bool { return i%3 == 2 }))},
			{"dispositions", RecordQuery{CampaignIDs: []int64{a.ID}, Dispositions: []string{"busy", "answered"}, Limit: 2},
				desc(pick(idsA, func(i int) bool { return i%3 != 1 }))},
			{"up to an id", RecordQuery{CampaignIDs: []int64{a.ID}, MaxID: idsA[6], Limit: 3, Ascending: true}, idsA[:7]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := walk(tc.q); !slices.Equal(got, tc.want) {
					t.Fatalf("got %v\nwant %v", got, tc.want)
				}
				// The count ignores the cursor and the page size.
				tc.q.After, tc.q.Limit = idsA[3], 1
				if n, err := s.CountCallRecords(ctx, tc.q); err != nil || n != len(tc.want) {
					t.Fatalf("count %d %v, want %d", n, err, len(tc.want))
				}
			})
		}
	})
}

func TestStoreCallRecordQueryFiltersOutcomeAndProgress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c := newCampaign(t, s, "c")
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		ids := seedRecords(t, s, c, []CallRecord{
			{AttemptAt: at, Disposition: "answered", Outcome: "interested", EndedAt: at.Add(time.Minute),
				Transcript: json.RawMessage(`["hi"]`)},
			{AttemptAt: at, Disposition: "answered", Outcome: "declined", EndedAt: at.Add(time.Minute)},
			{AttemptAt: at},
		})
		for _, tc := range []struct {
			name string
			q    RecordQuery
			want []int64
		}{
			{"outcome", RecordQuery{Outcomes: []string{"interested"}, Limit: 10}, []int64{ids[0]}},
			{"finished only", RecordQuery{Finished: true, Limit: 10}, []int64{ids[1], ids[0]}},
			{"in progress included", RecordQuery{Limit: 10}, []int64{ids[2], ids[1], ids[0]}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.QueryCallRecords(ctx, tc.q)
				if err != nil || !slices.Equal(recordIDs(got), tc.want) {
					t.Fatalf("got %v %v, want %v", recordIDs(got), err, tc.want)
				}
			})
		}
		t.Run("transcripts only when asked", func(t *testing.T) {
			without, err := s.QueryCallRecords(ctx, RecordQuery{Outcomes: []string{"interested"}, Limit: 1})
			if err != nil || len(without) != 1 || without[0].Transcript != nil {
				t.Fatalf("without transcripts: %+v %v", without, err)
			}
			with, err := s.QueryCallRecords(ctx, RecordQuery{Outcomes: []string{"interested"}, Limit: 1, Transcripts: true})
			if err != nil || len(with) != 1 || string(with[0].Transcript) != `["hi"]` {
				t.Fatalf("with transcripts: %+v %v", with, err)
			}
			without[0].Transcript = with[0].Transcript
			if !slicesEqualRecords(without, with) {
				t.Fatalf("the rest of the record differs:\n%+v\n%+v", without[0], with[0])
			}
		})
		t.Run("a limit out of range is refused", func(t *testing.T) {
			for _, limit := range []int{0, -1, MaxRecordPage + 1} {
				if _, err := s.QueryCallRecords(ctx, RecordQuery{Limit: limit}); !errors.Is(err, ErrBadQuery) {
					t.Errorf("limit %d: %v, want ErrBadQuery", limit, err)
				}
			}
		})
	})
}

func slicesEqualRecords(a, b []CallRecord) bool {
	return slices.EqualFunc(a, b, func(x, y CallRecord) bool {
		return fmt.Sprintf("%+v", x) == fmt.Sprintf("%+v", y)
	})
}

// TestStoreCallRecordPagesUseAnIndex reads each backend's plan: a page of
// some campaigns, a lookup by Call-ID, a window of attempts and what ended
// since must search an index, not scan the table, or the API slows down as
// the history grows. PostgreSQL is told to avoid sequential scans, so its
// plan shows whether an index can serve the query at all.
func TestStoreCallRecordPagesUseAnIndex(t *testing.T) {
	queries := []struct{ name, query string }{
		{"campaign page", `SELECT id FROM call_records WHERE campaign_id IN (1, 2) AND id < 100 ORDER BY id DESC LIMIT 10`},
		{"by Call-ID", `SELECT id FROM call_records WHERE sip_call_id = 'x' ORDER BY id DESC LIMIT 1`},
		{"campaign window", `SELECT id FROM call_records WHERE campaign_id = 1 AND attempt_at >= 0 AND attempt_at < 10 ORDER BY attempt_at, id`},
		{"every campaign's window", `SELECT id FROM call_records WHERE attempt_at >= 0 AND attempt_at < 10 ORDER BY attempt_at, id`},
		{"ended since", `SELECT id FROM call_records WHERE ended_at >= 0 AND attempt_at >= 0 AND campaign_id IN (1, 2) ORDER BY ended_at, id`},
	}
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open().(*sqlStore), testCtx(t)
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		explain := "EXPLAIN QUERY PLAN "
		if s.d.idColumn != sqliteDialect.idColumn {
			explain = "EXPLAIN "
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range queries {
			t.Run(tc.name, func(t *testing.T) {
				rows, err := conn.QueryContext(ctx, explain+tc.query)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				cols, err := rows.Columns()
				if err != nil {
					t.Fatal(err)
				}
				var plan []string
				for rows.Next() {
					cells := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range cells {
						ptrs[i] = &cells[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, fmt.Sprint(cells[len(cells)-1]))
				}
				text := strings.Join(plan, "; ")
				if !strings.Contains(text, "INDEX") && !strings.Contains(text, "Index") &&
					!strings.Contains(text, "INTEGER PRIMARY KEY") {
					t.Fatalf("plan %q searches no index", text)
				}
				if strings.Contains(text, "Seq Scan") || (strings.Contains(text, "SCAN call_records") && !strings.Contains(text, "INDEX")) {
					t.Fatalf("plan %q scans the table", text)
				}
			})
		}
	})
}

func TestStoreCallRecordsEndedSinceListsWhatFinishedLate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		a, b := newCampaign(t, s, "a"), newCampaign(t, s, "b")
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		// The first attempt ends last: a reader paging by ID would have
		// passed it while it was still running.
		idsA := seedRecords(t, s, a, []CallRecord{
			{AttemptAt: at, Disposition: "answered", EndedAt: at.Add(10 * time.Minute), Transcript: json.RawMessage(`["late"]`)},
			{AttemptAt: at.Add(time.Minute), Disposition: "busy", EndedAt: at.Add(2 * time.Minute)},
			{AttemptAt: at.Add(2 * time.Minute), Disposition: "no_answer", EndedAt: at.Add(5 * time.Minute)},
			{AttemptAt: at.Add(3 * time.Minute)},
		})
		idsB := seedRecords(t, s, b, []CallRecord{
			{AttemptAt: at.Add(time.Minute), Disposition: "busy", EndedAt: at.Add(6 * time.Minute)},
		})
		for _, tc := range []struct {
			name        string
			campaigns   []int64
			since, from time.Time
			want        []int64
		}{
			{"every campaign in end order", nil, at.Add(5 * time.Minute), time.Time{}, []int64{idsA[2], idsB[0], idsA[0]}},
			{"one campaign", []int64{a.ID}, at.Add(3 * time.Minute), time.Time{}, []int64{idsA[2], idsA[0]}},
			{"attempted since", nil, at.Add(time.Minute), at.Add(time.Minute), []int64{idsA[1], idsA[2], idsB[0]}},
			{"no campaign", []int64{}, at, time.Time{}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.CallRecordsEndedSince(ctx, tc.campaigns, tc.since, tc.from)
				if err != nil || !slices.Equal(recordIDs(got), tc.want) {
					t.Fatalf("got %v %v, want %v", recordIDs(got), err, tc.want)
				}
			})
		}
		got, err := s.CallRecordsEndedSince(ctx, []int64{a.ID}, at.Add(10*time.Minute), time.Time{})
		if err != nil || len(got) != 1 || string(got[0].Transcript) != `["late"]` {
			t.Fatalf("the late record comes with its transcript: %+v %v", got, err)
		}
	})
}
