package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// sqlStore is Store on database/sql; d holds what differs per backend.
type sqlStore struct {
	db *sql.DB
	d  dialect
}

const contactCols = `id, campaign_id, phone, name, time_zone, priority, tags, custom, consent,
	state, attempts, next_attempt_at, last_disposition, skip_reason, claimed_by, claimed_at, updated_at`

var qualifiedContactCols = "contacts." + strings.Join(strings.Split(strings.ReplaceAll(contactCols, "\n\t", ""), ", "), ", contacts.")

const recordCols = `id, campaign_id, contact_id, phone, attempt, node, trunk, caller_id, variant, sip_call_id,
	attempt_at, ringing_at, answered_at, ended_at, sip_code, disposition, answered_by, outcome, intent_grade, transcript,
	greeted_at, transferred_at, transfer_target, transfer_mode, transfer_result, call_progress, converted, opted_out`

const campaignCols = `id, name, state, settings, created_at, updated_at`

func (s *sqlStore) Close() error { return s.db.Close() }

func (s *sqlStore) q(query string) string { return s.d.rebind(query) }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func nullMs(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nullBool is a nullable column's value: nil is NULL.
func nullBool(v *bool) sql.NullBool {
	if v == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *v, Valid: true}
}

func fromNullBool(v sql.NullBool) *bool {
	if !v.Valid {
		return nil
	}
	return Bool(v.Bool)
}

func fromNullMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMs(v.Int64)
}

func (s *sqlStore) CreateCampaign(ctx context.Context, c Campaign) (Campaign, error) {
	if c.Name == "" {
		return Campaign{}, errors.New("create campaign: empty name")
	}
	if c.State == "" {
		c.State = CampaignDraft
	}
	if len(c.Settings) == 0 {
		c.Settings = json.RawMessage("{}")
	}
	now := time.Now()
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO campaigns (name, state, settings, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), c.Name, string(c.State), string(c.Settings), ms(now), ms(now)).Scan(&c.ID)
	if err != nil {
		if s.d.isUnique(err) {
			return Campaign{}, fmt.Errorf("create campaign %q: %w", c.Name, ErrExists)
		}
		return Campaign{}, fmt.Errorf("create campaign %q: %w", c.Name, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMs(ms(now)), fromMs(ms(now))
	return c, nil
}

func scanCampaign(row interface{ Scan(...any) error }) (Campaign, error) {
	var c Campaign
	var state, settings string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &state, &settings, &created, &updated); err != nil {
		return Campaign{}, err
	}
	c.State, c.Settings = CampaignState(state), json.RawMessage(settings)
	c.CreatedAt, c.UpdatedAt = fromMs(created), fromMs(updated)
	return c, nil
}

func (s *sqlStore) Campaign(ctx context.Context, id int64) (Campaign, error) {
	c, err := scanCampaign(s.db.QueryRowContext(ctx, s.q(`SELECT `+campaignCols+` FROM campaigns WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Campaign{}, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("read campaign %d: %w", id, err)
	}
	return c, nil
}

func (s *sqlStore) CampaignByName(ctx context.Context, name string) (Campaign, error) {
	c, err := scanCampaign(s.db.QueryRowContext(ctx, s.q(`SELECT `+campaignCols+` FROM campaigns WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return Campaign{}, fmt.Errorf("campaign %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("read campaign %q: %w", name, err)
	}
	return c, nil
}

func (s *sqlStore) Campaigns(ctx context.Context) ([]Campaign, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("list campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *sqlStore) exec1(ctx context.Context, what string, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) SetCampaignState(ctx context.Context, id int64, state CampaignState) error {
	return s.exec1(ctx, fmt.Sprintf("set campaign %d state %s", id, state),
		`UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?`, string(state), ms(time.Now()), id)
}

func (s *sqlStore) SetCampaignSettings(ctx context.Context, id int64, settings json.RawMessage) error {
	if !json.Valid(settings) {
		return fmt.Errorf("set campaign %d settings: not valid JSON", id)
	}
	return s.exec1(ctx, fmt.Sprintf("set campaign %d settings", id),
		`UPDATE campaigns SET settings = ?, updated_at = ? WHERE id = ?`, string(settings), ms(time.Now()), id)
}

func (s *sqlStore) AddContacts(ctx context.Context, campaignID int64, contacts []Contact) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("add contacts to campaign %d: %w", campaignID, err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO contacts (campaign_id, phone, name, time_zone, priority, tags, custom,
		consent, state, attempts, next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (campaign_id, phone) DO NOTHING`))
	if err != nil {
		return 0, fmt.Errorf("add contacts to campaign %d: %w", campaignID, err)
	}
	defer stmt.Close()
	now := ms(time.Now())
	added := 0
	for i, c := range contacts {
		if c.Phone == "" {
			return 0, fmt.Errorf("add contacts to campaign %d: contact %d has no phone", campaignID, i+1)
		}
		if c.Priority < -99 || c.Priority > 99 {
			return 0, fmt.Errorf("add contacts to campaign %d: contact %s: priority %d outside -99…99", campaignID, c.Phone, c.Priority)
		}
		tags, custom, err := encodeTagsCustom(c)
		if err != nil {
			return 0, fmt.Errorf("add contacts to campaign %d: contact %d: %w", campaignID, i+1, err)
		}
		state := c.State
		if state == "" {
			state = StatePending
		}
		res, err := stmt.ExecContext(ctx, campaignID, c.Phone, c.Name, c.TimeZone, c.Priority, tags, custom,
			c.Consent, string(state), c.Attempts, ms(c.NextAttemptAt), now)
		if err != nil {
			return 0, fmt.Errorf("add contacts to campaign %d: contact %d: %w", campaignID, i+1, err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("add contacts to campaign %d: commit: %w", campaignID, err)
	}
	return added, nil
}

func encodeTagsCustom(c Contact) (string, string, error) {
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	tb, err := json.Marshal(tags)
	if err != nil {
		return "", "", fmt.Errorf("encode tags: %w", err)
	}
	custom := c.Custom
	if custom == nil {
		custom = map[string]any{}
	}
	cb, err := json.Marshal(custom)
	if err != nil {
		return "", "", fmt.Errorf("encode custom fields: %w", err)
	}
	return string(tb), string(cb), nil
}

func scanContact(row interface{ Scan(...any) error }) (Contact, error) {
	var c Contact
	var tags, custom, state string
	var next, updated int64
	var claimed sql.NullInt64
	if err := row.Scan(&c.ID, &c.CampaignID, &c.Phone, &c.Name, &c.TimeZone, &c.Priority, &tags, &custom, &c.Consent,
		&state, &c.Attempts, &next, &c.LastDisposition, &c.SkipReason, &c.ClaimedBy, &claimed, &updated); err != nil {
		return Contact{}, err
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return Contact{}, fmt.Errorf("contact %d tags: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(custom), &c.Custom); err != nil {
		return Contact{}, fmt.Errorf("contact %d custom fields: %w", c.ID, err)
	}
	c.State = ContactState(state)
	c.NextAttemptAt, c.ClaimedAt, c.UpdatedAt = fromMs(next), fromNullMs(claimed), fromMs(updated)
	return c, nil
}

func (s *sqlStore) Contact(ctx context.Context, id int64) (Contact, error) {
	c, err := scanContact(s.db.QueryRowContext(ctx, s.q(`SELECT `+contactCols+` FROM contacts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, fmt.Errorf("contact %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Contact{}, fmt.Errorf("read contact %d: %w", id, err)
	}
	return c, nil
}

func (s *sqlStore) Contacts(ctx context.Context, campaignID int64, state ContactState) ([]Contact, error) {
	query, args := `SELECT `+contactCols+` FROM contacts WHERE campaign_id = ?`, []any{campaignID}
	if state != "" {
		query += ` AND state = ?`
		args = append(args, string(state))
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list contacts of campaign %d: %w", campaignID, err)
	}
	return collectContacts(rows, campaignID)
}

func collectContacts(rows *sql.Rows, campaignID int64) ([]Contact, error) {
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("contacts of campaign %d: %w", campaignID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contacts of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

func (s *sqlStore) CountContacts(ctx context.Context, campaignID int64) (map[ContactState]int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT state, COUNT(*) FROM contacts WHERE campaign_id = ? GROUP BY state`), campaignID)
	if err != nil {
		return nil, fmt.Errorf("count contacts of campaign %d: %w", campaignID, err)
	}
	defer rows.Close()
	out := map[ContactState]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count contacts of campaign %d: %w", campaignID, err)
		}
		out[ContactState(st)] = n
	}
	return out, rows.Err()
}

func (s *sqlStore) ClaimContacts(ctx context.Context, req ClaimRequest) ([]Contact, error) {
	if req.Limit <= 0 {
		return nil, nil
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	now := ms(time.Now())
	set := []any{req.Node, now, now}
	due := []any{req.CampaignID, ms(req.Now), req.Limit}
	args := append(set, due...)
	if s.d.claimDueFirst {
		args = append(due, set...)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim contacts of campaign %d: %w", req.CampaignID, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q(s.d.claim), args...)
	if err != nil {
		return nil, fmt.Errorf("claim contacts of campaign %d: %w", req.CampaignID, err)
	}
	out, err := collectContacts(rows, req.CampaignID)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim contacts of campaign %d: commit: %w", req.CampaignID, err)
	}
	// RETURNING gives rows in no promised order.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if !a.NextAttemptAt.Equal(b.NextAttemptAt) {
			return a.NextAttemptAt.Before(b.NextAttemptAt)
		}
		return a.ID < b.ID
	})
	return out, nil
}

func (s *sqlStore) Release(ctx context.Context, contactID int64, next time.Time) error {
	return s.exec1(ctx, fmt.Sprintf("release contact %d", contactID),
		`UPDATE contacts SET state = 'pending', claimed_by = '', next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'dialing'`,
		ms(next), ms(time.Now()), contactID)
}

func (s *sqlStore) BeginAttempt(ctx context.Context, rec CallRecord) (int64, error) {
	what := fmt.Sprintf("begin attempt on contact %d", rec.ContactID)
	if rec.AttemptAt.IsZero() {
		rec.AttemptAt = time.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	var attempt int
	err = tx.QueryRowContext(ctx, s.q(`UPDATE contacts SET attempts = attempts + 1, updated_at = ?
		WHERE id = ? AND state = 'dialing' RETURNING attempts`), ms(time.Now()), rec.ContactID).Scan(&attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s: contact is not claimed: %w", what, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	transcript := rec.Transcript
	if len(transcript) == 0 {
		transcript = json.RawMessage("null")
	}
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO call_records (campaign_id, contact_id, phone, attempt, node, trunk,
		caller_id, variant, sip_call_id, attempt_at, transcript) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		rec.CampaignID, rec.ContactID, rec.Phone, attempt, rec.Node, rec.Trunk, rec.CallerID, rec.Variant, rec.SIPCallID,
		ms(rec.AttemptAt), string(transcript)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("%s: insert call record: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", what, err)
	}
	return id, nil
}

func (s *sqlStore) RecordCall(ctx context.Context, rec CallRecord) (int64, error) {
	what := fmt.Sprintf("record call %s to contact %d", rec.SIPCallID, rec.ContactID)
	if rec.AttemptAt.IsZero() {
		rec.AttemptAt = time.Now()
	}
	if rec.EndedAt.IsZero() {
		rec.EndedAt = time.Now()
	}
	transcript := rec.Transcript
	if len(transcript) == 0 {
		transcript = json.RawMessage("null")
	}
	if !json.Valid(transcript) {
		return 0, fmt.Errorf("%s: transcript is not valid JSON", what)
	}
	// The SELECT inserts nothing unless the contact is the campaign's.
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO call_records (campaign_id, contact_id, phone, attempt, node, trunk,
		caller_id, variant, sip_call_id, attempt_at, ringing_at, answered_at, ended_at, sip_code, disposition, answered_by,
		outcome, intent_grade, transcript, greeted_at, transferred_at, transfer_target, transfer_mode, transfer_result,
		call_progress, converted, opted_out)
		SELECT campaign_id, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
		FROM contacts WHERE id = ? AND campaign_id = ?
		RETURNING id`),
		rec.Phone, rec.Attempt, rec.Node, rec.Trunk, rec.CallerID, rec.Variant, rec.SIPCallID, ms(rec.AttemptAt),
		nullMs(rec.RingingAt), nullMs(rec.AnsweredAt), nullMs(rec.EndedAt), rec.SIPCode, rec.Disposition, rec.AnsweredBy,
		rec.Outcome, rec.IntentGrade, string(transcript), nullMs(rec.GreetedAt), nullMs(rec.TransferredAt),
		rec.TransferTarget, rec.TransferMode, rec.TransferResult, rec.CallProgress, nullBool(rec.Converted),
		nullBool(rec.OptedOut), rec.ContactID, rec.CampaignID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s: contact is not in campaign %d: %w", what, rec.CampaignID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return id, nil
}

func (s *sqlStore) FinishAttempt(ctx context.Context, rec CallRecord, next ContactUpdate) error {
	what := fmt.Sprintf("finish attempt %d on contact %d", rec.ID, rec.ContactID)
	if rec.EndedAt.IsZero() {
		rec.EndedAt = time.Now()
	}
	transcript := rec.Transcript
	if len(transcript) == 0 {
		transcript = json.RawMessage("null")
	}
	if !json.Valid(transcript) {
		return fmt.Errorf("%s: transcript is not valid JSON", what)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`UPDATE call_records SET trunk = ?, caller_id = ?, variant = ?, sip_call_id = ?,
		ringing_at = ?, answered_at = ?, ended_at = ?, sip_code = ?, disposition = ?, answered_by = ?, outcome = ?,
		intent_grade = ?, transcript = ?, greeted_at = ?, transferred_at = ?, transfer_target = ?, transfer_mode = ?,
		transfer_result = ?, call_progress = ?, converted = ?, opted_out = ? WHERE id = ? AND contact_id = ?`),
		rec.Trunk, rec.CallerID, rec.Variant, rec.SIPCallID, nullMs(rec.RingingAt), nullMs(rec.AnsweredAt),
		nullMs(rec.EndedAt), rec.SIPCode, rec.Disposition, rec.AnsweredBy, rec.Outcome, rec.IntentGrade,
		string(transcript), nullMs(rec.GreetedAt), nullMs(rec.TransferredAt), rec.TransferTarget, rec.TransferMode,
		rec.TransferResult, rec.CallProgress, nullBool(rec.Converted), nullBool(rec.OptedOut), rec.ID, rec.ContactID)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: call record: %w", what, ErrNotFound)
	}
	if err := updateContact(ctx, tx, s.d, rec.ContactID, next); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

func updateContact(ctx context.Context, tx *sql.Tx, d dialect, id int64, next ContactUpdate) error {
	if next.State == "" || next.State == StateDialing {
		return fmt.Errorf("contact %d: next state %q is not allowed", id, next.State)
	}
	res, err := tx.ExecContext(ctx, d.rebind(`UPDATE contacts SET state = ?, next_attempt_at = ?, last_disposition = ?,
		skip_reason = ?, claimed_by = '', updated_at = ? WHERE id = ?`),
		string(next.State), ms(next.NextAttemptAt), next.LastDisposition, next.SkipReason, ms(time.Now()), id)
	if err != nil {
		return fmt.Errorf("update contact %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update contact %d: %w", id, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) UpdateContact(ctx context.Context, contactID int64, next ContactUpdate) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update contact %d: %w", contactID, err)
	}
	defer tx.Rollback()
	if err := updateContact(ctx, tx, s.d, contactID, next); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) Recover(ctx context.Context, campaignID int64, node string) (requeued, interrupted int, err error) {
	what := fmt.Sprintf("recover claims of node %q in campaign %d", node, campaignID)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	now := ms(time.Now())
	// Order matters: first the claims with an open attempt (possibly dialled),
	// then close those attempts, then whatever is still claimed was never dialled.
	res, err := tx.ExecContext(ctx, s.q(`UPDATE contacts SET state = 'interrupted', last_disposition = 'interrupted',
		claimed_by = '', updated_at = ? WHERE campaign_id = ? AND state = 'dialing' AND claimed_by = ?
		AND EXISTS (SELECT 1 FROM call_records r WHERE r.contact_id = contacts.id AND r.ended_at IS NULL)`), now, campaignID, node)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	n, _ := res.RowsAffected()
	interrupted = int(n)
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE call_records SET ended_at = ?, disposition = 'interrupted'
		WHERE campaign_id = ? AND node = ? AND ended_at IS NULL`), now, campaignID, node); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	res, err = tx.ExecContext(ctx, s.q(`UPDATE contacts SET state = 'pending', claimed_by = '', updated_at = ?
		WHERE campaign_id = ? AND state = 'dialing' AND claimed_by = ?`), now, campaignID, node)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	n, _ = res.RowsAffected()
	requeued = int(n)
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("%s: commit: %w", what, err)
	}
	return requeued, interrupted, nil
}

func (s *sqlStore) CallRecords(ctx context.Context, campaignID, contactID int64) ([]CallRecord, error) {
	query, args := `SELECT `+recordCols+` FROM call_records WHERE campaign_id = ?`, []any{campaignID}
	if contactID != 0 {
		query += ` AND contact_id = ?`
		args = append(args, contactID)
	}
	return s.records(ctx, fmt.Sprintf("list call records of campaign %d", campaignID), query+` ORDER BY id`, true, args...)
}

func (s *sqlStore) AddDNC(ctx context.Context, e DNCEntry) error {
	if e.Phone == "" {
		return errors.New("add do-not-call entry: empty phone")
	}
	if e.AddedAt.IsZero() {
		e.AddedAt = time.Now()
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dnc (phone, campaign_id, reason, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (phone, campaign_id) DO NOTHING`), e.Phone, e.CampaignID, e.Reason, ms(e.AddedAt)); err != nil {
		return fmt.Errorf("add do-not-call entry (campaign %d): %w", e.CampaignID, err)
	}
	return nil
}

func (s *sqlStore) RemoveDNC(ctx context.Context, phone string, campaignID int64) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dnc WHERE phone = ? AND campaign_id = ?`), phone, campaignID); err != nil {
		return fmt.Errorf("remove do-not-call entry (campaign %d): %w", campaignID, err)
	}
	return nil
}

func (s *sqlStore) DNC(ctx context.Context, phone string, campaignID int64) (DNCEntry, bool, error) {
	var e DNCEntry
	var added int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT phone, campaign_id, reason, added_at FROM dnc
		WHERE phone = ? AND (campaign_id = 0 OR campaign_id = ?) ORDER BY campaign_id LIMIT 1`), phone, campaignID).
		Scan(&e.Phone, &e.CampaignID, &e.Reason, &added)
	if errors.Is(err, sql.ErrNoRows) {
		return DNCEntry{}, false, nil
	}
	if err != nil {
		return DNCEntry{}, false, fmt.Errorf("check do-not-call list (campaign %d): %w", campaignID, err)
	}
	e.AddedAt = fromMs(added)
	return e, true, nil
}

func (s *sqlStore) DNCList(ctx context.Context, campaignID int64) ([]DNCEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT phone, campaign_id, reason, added_at FROM dnc WHERE campaign_id = ? ORDER BY phone`), campaignID)
	if err != nil {
		return nil, fmt.Errorf("list do-not-call entries (campaign %d): %w", campaignID, err)
	}
	defer rows.Close()
	var out []DNCEntry
	for rows.Next() {
		var e DNCEntry
		var added int64
		if err := rows.Scan(&e.Phone, &e.CampaignID, &e.Reason, &added); err != nil {
			return nil, fmt.Errorf("list do-not-call entries (campaign %d): %w", campaignID, err)
		}
		e.AddedAt = fromMs(added)
		out = append(out, e)
	}
	return out, rows.Err()
}
