package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// CallRecordsBetween lists the call records attempted in [from, to) (a zero
// bound is open) of one campaign, or of every campaign when campaignID is 0,
// in attempt order. It serves windowed reports (server/kpi) without reading a
// campaign's whole history and its transcripts.
func (s *sqlStore) CallRecordsBetween(ctx context.Context, campaignID int64, from, to time.Time) ([]CallRecord, error) {
	what := fmt.Sprintf("list call records of campaign %d attempted from %s to %s", campaignID,
		from.Format(time.RFC3339), to.Format(time.RFC3339))
	query, args := `SELECT `+recordCols+` FROM call_records WHERE 1 = 1`, []any{}
	if campaignID != 0 {
		query += ` AND campaign_id = ?`
		args = append(args, campaignID)
	}
	if !from.IsZero() {
		query += ` AND attempt_at >= ?`
		args = append(args, ms(from))
	}
	if !to.IsZero() {
		query += ` AND attempt_at < ?`
		args = append(args, ms(to))
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY attempt_at, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []CallRecord
	for rows.Next() {
		var r CallRecord
		var attemptAt int64
		var ringing, answered, ended sql.NullInt64
		var transcript string
		if err := rows.Scan(&r.ID, &r.CampaignID, &r.ContactID, &r.Phone, &r.Attempt, &r.Node, &r.Trunk, &r.CallerID,
			&r.Variant, &r.SIPCallID, &attemptAt, &ringing, &answered, &ended, &r.SIPCode, &r.Disposition,
			&r.AnsweredBy, &r.Outcome, &r.IntentGrade, &transcript); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		r.AttemptAt, r.RingingAt, r.AnsweredAt, r.EndedAt = fromMs(attemptAt), fromNullMs(ringing), fromNullMs(answered), fromNullMs(ended)
		r.Transcript = json.RawMessage(transcript)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
