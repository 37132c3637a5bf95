package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the SQLite database's name inside the data directory.
const FileName = "waihu.db"

// Config chooses the backend. The zero value is not usable: set DataDir or DSN.
type Config struct {
	// DSN, when set, selects PostgreSQL (postgres://user@host:port/db?sslmode=disable
	// or key=value form); DataDir is then ignored.
	DSN string
	// DataDir holds the SQLite file FileName; it is created if missing.
	DataDir string
	// BusyTimeout is how long a SQLite statement waits for another writer
	// (another process on the same file). Default 10 s.
	BusyTimeout time.Duration
	// MaxConns bounds the connection pool. Default 8.
	MaxConns int
}

// Open opens (and migrates) the store that cfg names.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if cfg.DSN != "" {
		return OpenPostgres(ctx, cfg)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("store: set a data directory or a PostgreSQL DSN")
	}
	return OpenSQLite(ctx, cfg)
}

// OpenSQLite opens DataDir/waihu.db in WAL mode and migrates it. Every transaction
// is BEGIN IMMEDIATE: it takes the single writer lock up front, so a claim never
// fails half-way on a lock upgrade.
func OpenSQLite(ctx context.Context, cfg Config) (Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	path := filepath.Join(cfg.DataDir, FileName)
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns(cfg))
	s := &sqlStore{db: db, d: sqliteDialect}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres connects to cfg.DSN and migrates the database.
func OpenPostgres(ctx context.Context, cfg Config) (Store, error) {
	db, err := sql.Open("pgx", cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(maxConns(cfg))
	s := &sqlStore{db: db, d: postgresDialect}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store PostgreSQL: %w", err)
	}
	return s, nil
}

func maxConns(cfg Config) int {
	if cfg.MaxConns > 0 {
		return cfg.MaxConns
	}
	return 8
}

// dialect is what differs between the two backends; everything else is one SQL.
type dialect struct {
	name           string
	idColumn       string
	lockMigrations string
	// claim moves due contacts to dialing and returns them.
	claim string
	// claimDueFirst: the claim's placeholders list the due filter (campaign, now,
	// limit) before the claim's SET values (node, claimed_at, updated_at).
	claimDueFirst bool
	numbered      bool // $1 placeholders instead of ?
	isUnique      func(error) bool
}

func (d dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

const claimSet = `SET state = 'dialing', claimed_by = ?, claimed_at = ?, updated_at = ?`

var sqliteDialect = dialect{
	name:     "sqlite",
	idColumn: "INTEGER PRIMARY KEY AUTOINCREMENT",
	// Runs inside BEGIN IMMEDIATE: no other writer exists while it does.
	claim: `UPDATE contacts ` + claimSet + ` WHERE id IN (
		SELECT id FROM contacts WHERE campaign_id = ? AND state = 'pending' AND next_attempt_at <= ?
		ORDER BY priority DESC, next_attempt_at, id LIMIT ?)
		RETURNING ` + contactCols,
	isUnique: func(err error) bool {
		var se *sqlite.Error
		// 2067 SQLITE_CONSTRAINT_UNIQUE, 1555 SQLITE_CONSTRAINT_PRIMARYKEY
		return errors.As(err, &se) && (se.Code() == 2067 || se.Code() == 1555)
	},
}

var postgresDialect = dialect{
	name:           "postgres",
	idColumn:       "BIGSERIAL PRIMARY KEY",
	lockMigrations: `SELECT pg_advisory_xact_lock(7270627)`,
	// SKIP LOCKED: rows another node is claiming right now are passed over, not
	// waited for; the outer state test re-checks a row claimed since the snapshot.
	claim: `WITH due AS (
		SELECT id FROM contacts WHERE campaign_id = ? AND state = 'pending' AND next_attempt_at <= ?
		ORDER BY priority DESC, next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
		UPDATE contacts ` + claimSet + ` FROM due WHERE contacts.id = due.id AND contacts.state = 'pending'
		RETURNING ` + qualifiedContactCols,
	claimDueFirst: true,
	numbered:      true,
	isUnique: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	},
}
