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
}

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
