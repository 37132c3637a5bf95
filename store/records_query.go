package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CallRecordQueries reads call records one at a time or one page at a time,
// so that readers of a long history (the API's call list, the CSV export,
// live KPI windows) never load a campaign's whole history to show a little
// of it.
type CallRecordQueries interface {
	// CallRecord returns the call record with this ID, transcript included.
	CallRecord(ctx context.Context, id int64) (CallRecord, error)
	// CallRecordBySIPCallID returns the newest call record of this SIP
	// Call-ID, transcript included.
	CallRecordBySIPCallID(ctx context.Context, callID string) (CallRecord, error)
	// QueryCallRecords returns one page of the records q selects, ordered by
	// ID (newest first unless q.Ascending). The next page is the same query
	// with After set to the last record's ID: pages are found by the index
	// on ID, never by skipping rows, so page 1,000 costs what page 1 does.
	QueryCallRecords(ctx context.Context, q RecordQuery) ([]CallRecord, error)
	// CountCallRecords counts the records q selects, all pages together
	// (q.After, q.Limit and q.Ascending are ignored), on the same indexes
	// as its pages.
	CountCallRecords(ctx context.Context, q RecordQuery) (int, error)
	// CallRecordsEndedSince lists, transcripts included, the records of these
	// campaigns (nil: every campaign) that ended at or after since and were
	// attempted at or after attemptFrom, in end order: what a reader holding
	// the older records (a live KPI window) missed, whichever node wrote it.
	CallRecordsEndedSince(ctx context.Context, campaignIDs []int64, since, attemptFrom time.Time) ([]CallRecord, error)
}

// RecordQuery selects call records. Every set field narrows the selection.
type RecordQuery struct {
	// CampaignIDs limits the records to these campaigns; nil means every
	// campaign and an empty, non-nil slice selects nothing (a reader who sees
	// no campaign).
	CampaignIDs []int64
	// From and To bound AttemptAt to [From, To); a zero bound is open.
	From, To time.Time
	// Finished keeps only records with a disposition (FinishAttempt or
	// Recover has run).
	Finished bool
	// Dispositions and Outcomes keep records whose disposition or outcome is
	// one of these; empty keeps any.
	Dispositions []string
	Outcomes     []string
	// After is the keyset cursor: only records after this ID in the page's
	// order are returned (0: from the start).
	After int64
	// MaxID, when set, keeps records whose ID is at most MaxID: a reader
	// that walks many pages fixes its end when it starts (an export holds
	// exactly the records it counted).
	MaxID int64
	// Ascending orders by ID oldest first; false, newest first.
	Ascending bool
	// Limit is the page size; it must be positive. A page shorter than Limit
	// is the last one.
	Limit int
	// Transcripts reads each record's transcript; false leaves Transcript
	// nil, sparing the largest column to readers that only list.
	Transcripts bool
}

// MaxRecordPage bounds RecordQuery.Limit: one page is held in memory.
const MaxRecordPage = 10000

// ErrBadQuery is wrapped by errors about a malformed RecordQuery.
var ErrBadQuery = errors.New("store: bad record query")

func (s *sqlStore) CallRecord(ctx context.Context, id int64) (CallRecord, error) {
	recs, err := s.records(ctx, fmt.Sprintf("load call record %d", id),
		`SELECT `+recordCols+` FROM call_records WHERE id = ?`, true, id)
	if err != nil {
		return CallRecord{}, err
	}
	if len(recs) == 0 {
		return CallRecord{}, fmt.Errorf("load call record %d: %w", id, ErrNotFound)
	}
	return recs[0], nil
}

func (s *sqlStore) CallRecordBySIPCallID(ctx context.Context, callID string) (CallRecord, error) {
	what := fmt.Sprintf("load call record of SIP Call-ID %q", callID)
	if callID == "" {
		// Records not yet given a Call-ID all share the empty one.
		return CallRecord{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	recs, err := s.records(ctx, what,
		`SELECT `+recordCols+` FROM call_records WHERE sip_call_id = ? ORDER BY id DESC LIMIT 1`, true, callID)
	if err != nil {
		return CallRecord{}, err
	}
	if len(recs) == 0 {
		return CallRecord{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return recs[0], nil
}

func (s *sqlStore) QueryCallRecords(ctx context.Context, q RecordQuery) ([]CallRecord, error) {
	what := "query call records"
	if q.Limit <= 0 || q.Limit > MaxRecordPage {
		return nil, fmt.Errorf("%s: limit %d outside 1..%d: %w", what, q.Limit, MaxRecordPage, ErrBadQuery)
	}
	if q.CampaignIDs != nil && len(q.CampaignIDs) == 0 {
		return nil, nil
	}
	where, args := q.where()
	order := "DESC"
	if q.Ascending {
		order = "ASC"
	}
	if q.After != 0 {
		op := "<"
		if q.Ascending {
			op = ">"
		}
		where, args = append(where, "id "+op+" ?"), append(args, q.After)
	}
	cols := recordCols
	if !q.Transcripts {
		// The placeholder keeps one scan for both shapes.
		cols = strings.Replace(recordCols, "transcript", "'null' AS transcript", 1)
	}
	query := `SELECT ` + cols + ` FROM call_records`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id ` + order + ` LIMIT ?`
	args = append(args, q.Limit)
	return s.records(ctx, what, query, q.Transcripts, args...)
}

func (s *sqlStore) CountCallRecords(ctx context.Context, q RecordQuery) (int, error) {
	if q.CampaignIDs != nil && len(q.CampaignIDs) == 0 {
		return 0, nil
	}
	where, args := q.where()
	query := `SELECT COUNT(*) FROM call_records`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(query), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count call records: %w", err)
	}
	return n, nil
}

// where is q's filter, without its cursor, as SQL conditions and their
// arguments.
func (q *RecordQuery) where() ([]string, []any) {
	var where []string
	var args []any
	in := func(col string, n int) string {
		return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	}
	if q.CampaignIDs != nil {
		where = append(where, in("campaign_id", len(q.CampaignIDs)))
		for _, id := range q.CampaignIDs {
			args = append(args, id)
		}
	}
	if !q.From.IsZero() {
		where, args = append(where, "attempt_at >= ?"), append(args, ms(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "attempt_at < ?"), append(args, ms(q.To))
	}
	if q.Finished {
		where = append(where, "disposition <> ''")
	}
	if len(q.Dispositions) > 0 {
		where = append(where, in("disposition", len(q.Dispositions)))
		for _, d := range q.Dispositions {
			args = append(args, d)
		}
	}
	if len(q.Outcomes) > 0 {
		where = append(where, in("outcome", len(q.Outcomes)))
		for _, o := range q.Outcomes {
			args = append(args, o)
		}
	}
	if q.MaxID != 0 {
		where, args = append(where, "id <= ?"), append(args, q.MaxID)
	}
	return where, args
}

func (s *sqlStore) CallRecordsEndedSince(ctx context.Context, campaignIDs []int64, since, attemptFrom time.Time) ([]CallRecord, error) {
	what := fmt.Sprintf("list call records ended since %s", since.Format(time.RFC3339))
	if campaignIDs != nil && len(campaignIDs) == 0 {
		return nil, nil
	}
	// ended_at leads the WHERE and the ORDER BY so that the call_records_ended
	// index serves both: the span since is short, the table is not.
	query, args := `SELECT `+recordCols+` FROM call_records WHERE ended_at >= ?`, []any{ms(since)}
	if !attemptFrom.IsZero() {
		query, args = query+` AND attempt_at >= ?`, append(args, ms(attemptFrom))
	}
	if campaignIDs != nil {
		query += ` AND campaign_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(campaignIDs)), ", ") + `)`
		for _, id := range campaignIDs {
			args = append(args, id)
		}
	}
	return s.records(ctx, what, query+` ORDER BY ended_at, id`, true, args...)
}

// records runs a SELECT of recordCols and scans every row; without
// transcripts, Transcript is left nil.
func (s *sqlStore) records(ctx context.Context, what, query string, transcripts bool, args ...any) ([]CallRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []CallRecord
	for rows.Next() {
		var r CallRecord
		var attemptAt int64
		var ringing, answered, ended, greeted, transferred sql.NullInt64
		var converted, optedOut sql.NullBool
		var transcript string
		if err := rows.Scan(&r.ID, &r.CampaignID, &r.ContactID, &r.Phone, &r.Attempt, &r.Node, &r.Trunk, &r.CallerID,
			&r.Variant, &r.SIPCallID, &attemptAt, &ringing, &answered, &ended, &r.SIPCode, &r.Disposition,
			&r.AnsweredBy, &r.Outcome, &r.IntentGrade, &transcript, &greeted, &transferred, &r.TransferTarget,
			&r.TransferMode, &r.TransferResult, &r.CallProgress, &converted, &optedOut); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = fromMs(attemptAt), fromNullMs(ringing), fromNullMs(answered), fromNullMs(ended)
		r.GreetedAt, r.TransferredAt = fromNullMs(greeted), fromNullMs(transferred)
		r.Converted, r.OptedOut = fromNullBool(converted), fromNullBool(optedOut)
		if transcripts {
			r.Transcript = json.RawMessage(transcript)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
