package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// migration is one versioned schema step. Its SQL is written once for both
// dialects; {{ID}} becomes the dialect's auto-increment primary key.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations are applied in order, each in the same transaction as its row in
// schema_migrations. Never edit a released step: add the next one.
var migrations = []migration{
	{version: 1, name: "campaigns, contacts, call records, do-not-call", stmts: []string{
		`CREATE TABLE campaigns (
			id {{ID}},
			name TEXT NOT NULL UNIQUE,
			state TEXT NOT NULL,
			settings TEXT NOT NULL DEFAULT '{}',
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL)`,
		`CREATE TABLE contacts (
			id {{ID}},
			campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
			phone TEXT NOT NULL,
			name TEXT NOT NULL DEFAULT '',
			time_zone TEXT NOT NULL DEFAULT '',
			priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -99 AND 99),
			tags TEXT NOT NULL DEFAULT '[]',
			custom TEXT NOT NULL DEFAULT '{}',
			consent TEXT NOT NULL DEFAULT '',
			state TEXT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			next_attempt_at BIGINT NOT NULL DEFAULT 0,
			last_disposition TEXT NOT NULL DEFAULT '',
			skip_reason TEXT NOT NULL DEFAULT '',
			claimed_by TEXT NOT NULL DEFAULT '',
			claimed_at BIGINT,
			updated_at BIGINT NOT NULL,
			UNIQUE (campaign_id, phone))`,
		`CREATE INDEX contacts_due ON contacts (campaign_id, state, priority DESC, next_attempt_at, id)`,
		`CREATE TABLE call_records (
			id {{ID}},
			campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
			contact_id BIGINT NOT NULL REFERENCES contacts(id),
			phone TEXT NOT NULL,
			attempt INTEGER NOT NULL,
			node TEXT NOT NULL DEFAULT '',
			trunk TEXT NOT NULL DEFAULT '',
			caller_id TEXT NOT NULL DEFAULT '',
			variant TEXT NOT NULL DEFAULT '',
			sip_call_id TEXT NOT NULL DEFAULT '',
			attempt_at BIGINT NOT NULL,
			ringing_at BIGINT,
			answered_at BIGINT,
			ended_at BIGINT,
			sip_code INTEGER NOT NULL DEFAULT 0,
			disposition TEXT NOT NULL DEFAULT '',
			answered_by TEXT NOT NULL DEFAULT '',
			outcome TEXT NOT NULL DEFAULT '',
			intent_grade TEXT NOT NULL DEFAULT '',
			transcript TEXT NOT NULL DEFAULT 'null')`,
		`CREATE INDEX call_records_contact ON call_records (campaign_id, contact_id, id)`,
		`CREATE TABLE dnc (
			phone TEXT NOT NULL,
			campaign_id BIGINT NOT NULL DEFAULT 0,
			reason TEXT NOT NULL DEFAULT '',
			added_at BIGINT NOT NULL,
			PRIMARY KEY (phone, campaign_id))`,
	}},
	{version: 2, name: "webhook outbox", stmts: []string{
		// One row per (message, endpoint). next_attempt_at doubles as the claim's
		// lease: a claim pushes it past the request's end, so a node that dies
		// mid-delivery leaves the row due again once the lease runs out.
		`CREATE TABLE webhook_deliveries (
			id {{ID}},
			endpoint TEXT NOT NULL,
			event_type TEXT NOT NULL,
			message_id TEXT NOT NULL,
			payload TEXT NOT NULL,
			state TEXT NOT NULL DEFAULT 'pending',
			attempts INTEGER NOT NULL DEFAULT 0,
			next_attempt_at BIGINT NOT NULL,
			first_attempt_at BIGINT,
			last_attempt_at BIGINT,
			last_status INTEGER NOT NULL DEFAULT 0,
			last_error TEXT NOT NULL DEFAULT '',
			claimed_by TEXT NOT NULL DEFAULT '',
			created_at BIGINT NOT NULL,
			delivered_at BIGINT,
			failed_at BIGINT,
			UNIQUE (endpoint, message_id))`,
		`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at, id)`,
	}},
	{version: 3, name: "users, roles, API tokens, hash-chained audit log", stmts: []string{
		`CREATE TABLE roles (
			name TEXT PRIMARY KEY,
			perms TEXT NOT NULL DEFAULT '[]',
			updated_at BIGINT NOT NULL)`,
		`CREATE TABLE users (
			id {{ID}},
			name TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL,
			disabled BOOLEAN NOT NULL DEFAULT FALSE,
			created_at BIGINT NOT NULL)`,
		`CREATE TABLE user_campaigns (
			user_id BIGINT NOT NULL REFERENCES users(id),
			campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
			PRIMARY KEY (user_id, campaign_id))`,
		// hash is the hex SHA-256 of the token: the token itself is never stored.
		`CREATE TABLE api_tokens (
			id {{ID}},
			user_id BIGINT NOT NULL REFERENCES users(id),
			name TEXT NOT NULL DEFAULT '',
			hash TEXT NOT NULL UNIQUE,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL DEFAULT 0,
			last_used_at BIGINT NOT NULL DEFAULT 0,
			revoked_at BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX api_tokens_user ON api_tokens (user_id, id)`,
		// seq is given by the writer from audit_head, not by the database: the
		// chain runs in seq order and a gap is itself evidence.
		`CREATE TABLE audit_log (
			seq BIGINT PRIMARY KEY,
			at BIGINT NOT NULL,
			user_id BIGINT NOT NULL DEFAULT 0,
			user_name TEXT NOT NULL DEFAULT '',
			action TEXT NOT NULL,
			object TEXT NOT NULL DEFAULT '',
			remote TEXT NOT NULL DEFAULT '',
			detail TEXT NOT NULL DEFAULT '',
			prev_hash TEXT NOT NULL,
			hash TEXT NOT NULL)`,
		`CREATE INDEX audit_log_at ON audit_log (at, seq)`,
		`CREATE INDEX audit_log_user ON audit_log (user_name, seq)`,
		`CREATE INDEX audit_log_action ON audit_log (action, seq)`,
		// audit_head is the chain's single lock row: the newest row (seq, hash)
		// and the anchor left by retention (the last pruned row).
		`CREATE TABLE audit_head (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			seq BIGINT NOT NULL,
			hash TEXT NOT NULL,
			anchor_seq BIGINT NOT NULL,
			anchor_hash TEXT NOT NULL)`,
		`INSERT INTO audit_head (id, seq, hash, anchor_seq, anchor_hash) VALUES (1, 0, '` + zeroHash + `', 0, '` + zeroHash + `')`,
	}},
	{version: 4, name: "caller-ID pool: per-number rest and hourly usage", stmts: []string{
		// One row per number presented as the caller, shared by every campaign
		// and node: reserving a number locks its row, so caps hold across nodes.
		`CREATE TABLE caller_ids (
			number TEXT PRIMARY KEY,
			rest_until BIGINT NOT NULL DEFAULT 0,
			rest_reason TEXT NOT NULL DEFAULT '',
			updated_at BIGINT NOT NULL)`,
		// Attempts and answers per number per clock hour (hour = Unix ms of the
		// hour's start): hourly and daily caps and the health score read these.
		`CREATE TABLE caller_id_usage (
			number TEXT NOT NULL,
			hour BIGINT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			answered INTEGER NOT NULL DEFAULT 0,
			PRIMARY KEY (number, hour))`,
	}},
	{version: 5, name: "call record lookups and pages", stmts: []string{
		// Pages of one or several campaigns walk (campaign_id, id); pages of
		// every campaign walk the primary key.
		`CREATE INDEX call_records_campaign ON call_records (campaign_id, id)`,
		// The API finds a call by its SIP Call-ID, as events and recordings name it.
		`CREATE INDEX call_records_sip_call_id ON call_records (sip_call_id)`,
		// Windowed reports (KPIs, forecasts) read a span of attempts, of one
		// campaign or of all.
		`CREATE INDEX call_records_attempt ON call_records (campaign_id, attempt_at, id)`,
		`CREATE INDEX call_records_attempt_all ON call_records (attempt_at, id)`,
		// Live KPI windows ask what finished since their last look.
		`CREATE INDEX call_records_ended ON call_records (ended_at, id)`,
	}},
	{version: 6, name: "call record greeting, transfer, call progress, conversion and opt-out", stmts: []string{
		// Every column is nullable or defaulted, so older rows read as "not
		// known": converted and opted_out stay NULL there (not false), and
		// readers derive them as before.
		`ALTER TABLE call_records ADD COLUMN greeted_at BIGINT`,
		`ALTER TABLE call_records ADD COLUMN transferred_at BIGINT`,
		`ALTER TABLE call_records ADD COLUMN transfer_target TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE call_records ADD COLUMN transfer_mode TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE call_records ADD COLUMN transfer_result TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE call_records ADD COLUMN call_progress TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE call_records ADD COLUMN converted BOOLEAN`,
		`ALTER TABLE call_records ADD COLUMN opted_out BOOLEAN`,
	}},
}

// zeroHash is the audit chain's genesis: the previous hash of row 1.
const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// migrate brings the schema to the newest version. It runs in one transaction that
// holds the writer lock (SQLite) or an advisory lock (PostgreSQL), so two nodes
// starting at once do not both migrate.
func (s *sqlStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var have sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range migrations {
		if int64(m.version) <= have.Int64 {
			continue
		}
		for _, stmt := range m.stmts {
			stmt = strings.ReplaceAll(stmt, "{{ID}}", s.d.idColumn)
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate to version %d: record: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion reports the newest migration applied to the database.
func SchemaVersion(ctx context.Context, s Store) (int, error) {
	ss, ok := s.(*sqlStore)
	if !ok {
		return 0, fmt.Errorf("schema version: not a SQL store")
	}
	var v sql.NullInt64
	if err := ss.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}
