package store

import (
	"context"
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
	return s.records(ctx, what, query+` ORDER BY attempt_at, id`, true, args...)
}
