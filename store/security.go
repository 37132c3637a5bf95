package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Security is the persistence of users, roles, API tokens and the audit log.
// server/auth builds its Authenticator and Auditor on it; Store embeds it.
type Security interface {
	// PutRole creates or replaces a custom role.
	PutRole(ctx context.Context, r Role) error
	// DeleteRole removes a custom role; users still holding it fail to
	// authenticate until given another.
	DeleteRole(ctx context.Context, name string) error
	// Roles lists the custom roles by name.
	Roles(ctx context.Context) ([]Role, error)

	// CreateUser stores a new user and returns it with its ID set; a taken
	// name is ErrExists.
	CreateUser(ctx context.Context, u User) (User, error)
	// User returns the user with this ID, with its campaign assignments.
	User(ctx context.Context, id int64) (User, error)
	// UserByName returns the user with this name, with its campaign assignments.
	UserByName(ctx context.Context, name string) (User, error)
	// Users lists every user by ID.
	Users(ctx context.Context) ([]User, error)
	// UpdateUser changes a user's role and disabled flag.
	UpdateUser(ctx context.Context, u User) error
	// SetUserCampaigns replaces the campaigns assigned to a user.
	SetUserCampaigns(ctx context.Context, userID int64, campaignIDs []int64) error

	// CreateToken stores a token (its hash, never the token) and returns it
	// with its ID set.
	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenByHash returns the token whose SHA-256 hash is hash.
	TokenByHash(ctx context.Context, hash [32]byte) (Token, error)
	// Tokens lists a user's tokens (0: everyone's) by ID.
	Tokens(ctx context.Context, userID int64) ([]Token, error)
	// RevokeToken marks a token revoked at at; revoking twice keeps the first time.
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	// TouchToken records that a token was used at at.
	TouchToken(ctx context.Context, id int64, at time.Time) error

	// AppendAudit adds an entry at the head of the hash chain and returns it
	// with Seq, PrevHash and Hash set. Appends from several nodes are
	// serialised, so the chain stays one line.
	AppendAudit(ctx context.Context, e AuditRecord) (AuditRecord, error)
	// SearchAudit returns entries matching q, newest first.
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// VerifyAudit walks the whole chain and reports the first row that does not
	// follow from its predecessor. Tampering is a Report with OK false, not an
	// error; errors are failures to read.
	VerifyAudit(ctx context.Context) (AuditReport, error)
	// PruneAudit deletes the oldest entries older than before, keeping the chain
	// verifiable: the hash of the last deleted row becomes the anchor, and the
	// pruning itself is appended to the chain (action "audit.prune"). It
	// returns how many rows were deleted.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// Role is a custom role: a name and its permissions (server/auth's names).
type Role struct {
	Name  string
	Perms []string
}

// User is a person or program that holds API tokens.
type User struct {
	ID   int64
	Name string
	// Role names a built-in role (server/auth) or a custom Role.
	Role     string
	Disabled bool
	// Campaigns are the campaigns assigned to the user (agents see only these).
	Campaigns []int64
	CreatedAt time.Time
}

// Token is an API token as stored: only the SHA-256 of the secret.
type Token struct {
	ID     int64
	UserID int64
	// Name says what the token is for ("crm sync", "alice laptop").
	Name       string
	Hash       [32]byte
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: valid
}

// AuditRecord is one row of the audit log.
type AuditRecord struct {
	// Seq numbers the rows 1, 2, 3… with no gaps; the chain runs in Seq order.
	Seq    int64
	At     time.Time
	UserID int64
	User   string
	Action string
	Object string
	Remote string
	Detail string
	// PrevHash is the previous row's Hash (the anchor for the first kept row);
	// Hash is SHA-256 over PrevHash and this row's canonical content.
	PrevHash [32]byte
	Hash     [32]byte
}

// AuditQuery selects audit rows. Zero fields do not filter.
type AuditQuery struct {
	From, To time.Time // From inclusive, To exclusive
	User     string
	// Action matches exactly, or as a prefix when it ends in "." or "*"
	// ("campaign." and "campaign.*" both match "campaign.create").
	Action string
	// Before pages backwards: only rows with Seq below it (0: from the newest).
	Before int64
	// Limit caps the rows returned; default 100, at most 1000.
	Limit int
}

// AuditReport is what VerifyAudit found.
type AuditReport struct {
	OK bool
	// Rows is how many rows were checked; First and Last their Seq range.
	Rows        int
	First, Last int64
	// Anchor is the hash the first kept row must follow (zero: nothing pruned)
	// and AnchorSeq the Seq of the last pruned row.
	Anchor    [32]byte
	AnchorSeq int64
	// Head is the hash of the newest row, to be noted outside the database:
	// a later Head that does not descend from it means rewritten history.
	Head [32]byte
	// BadSeq is the first row that fails (0 when OK, or when the damage is
	// after the last row); Problem says what is wrong.
	BadSeq  int64
	Problem string
}

// auditDomain separates this chain's hashes from any other SHA-256 use.
const auditDomain = "waihu audit v1\x00"

// AuditHash is the chain's hash of one row: SHA-256 over a domain tag, the
// previous hash and the row's fields, each length-prefixed so that no two
// different rows encode alike. Times count at millisecond precision, as stored.
func AuditHash(prev [32]byte, r AuditRecord) [32]byte {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(auditDomain))
	h.Write(prev[:])
	for _, v := range []int64{r.Seq, r.At.UnixMilli(), r.UserID} {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	for _, s := range []string{r.User, r.Action, r.Object, r.Remote, r.Detail} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

const (
	userCols  = `id, name, role, disabled, created_at`
	tokenCols = `id, user_id, name, hash, created_at, expires_at, last_used_at, revoked_at`
	auditCols = `seq, at, user_id, user_name, action, object, remote, detail, prev_hash, hash`
)

func (s *sqlStore) PutRole(ctx context.Context, r Role) error {
	if r.Name == "" {
		return errors.New("put role: empty name")
	}
	perms := r.Perms
	if perms == nil {
		perms = []string{}
	}
	b, err := json.Marshal(perms)
	if err != nil {
		return fmt.Errorf("put role %q: %w", r.Name, err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO roles (name, perms, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET perms = excluded.perms, updated_at = excluded.updated_at`),
		r.Name, string(b), ms(time.Now())); err != nil {
		return fmt.Errorf("put role %q: %w", r.Name, err)
	}
	return nil
}

func (s *sqlStore) DeleteRole(ctx context.Context, name string) error {
	return s.exec1(ctx, fmt.Sprintf("delete role %q", name), `DELETE FROM roles WHERE name = ?`, name)
}

func (s *sqlStore) Roles(ctx context.Context) ([]Role, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, perms FROM roles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		var r Role
		var perms string
		if err := rows.Scan(&r.Name, &perms); err != nil {
			return nil, fmt.Errorf("list roles: %w", err)
		}
		if err := json.Unmarshal([]byte(perms), &r.Perms); err != nil {
			return nil, fmt.Errorf("role %q permissions: %w", r.Name, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) CreateUser(ctx context.Context, u User) (User, error) {
	if u.Name == "" || u.Role == "" {
		return User{}, errors.New("create user: name and role are required")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	defer tx.Rollback()
	now := fromMs(ms(time.Now()))
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO users (name, role, disabled, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
		u.Name, u.Role, u.Disabled, ms(now)).Scan(&u.ID)
	if err != nil {
		if s.d.isUnique(err) {
			return User{}, fmt.Errorf("create user %q: %w", u.Name, ErrExists)
		}
		return User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	if err := s.setUserCampaigns(ctx, tx, u.ID, u.Campaigns); err != nil {
		return User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("create user %q: commit: %w", u.Name, err)
	}
	u.CreatedAt = now
	return u, nil
}

func (s *sqlStore) setUserCampaigns(ctx context.Context, tx *sql.Tx, userID int64, ids []int64) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM user_campaigns WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("clear campaigns: %w", err)
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO user_campaigns (user_id, campaign_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`), userID, id); err != nil {
			return fmt.Errorf("assign campaign %d: %w", id, err)
		}
	}
	return nil
}

func (s *sqlStore) SetUserCampaigns(ctx context.Context, userID int64, campaignIDs []int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set campaigns of user %d: %w", userID, err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM users WHERE id = ?`), userID).Scan(&one); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("set campaigns of user %d: %w", userID, ErrNotFound)
		}
		return fmt.Errorf("set campaigns of user %d: %w", userID, err)
	}
	if err := s.setUserCampaigns(ctx, tx, userID, campaignIDs); err != nil {
		return fmt.Errorf("set campaigns of user %d: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set campaigns of user %d: commit: %w", userID, err)
	}
	return nil
}

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &u.Disabled, &created); err != nil {
		return User{}, err
	}
	u.CreatedAt = fromMs(created)
	return u, nil
}

func (s *sqlStore) userCampaigns(ctx context.Context, u *User) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT campaign_id FROM user_campaigns WHERE user_id = ? ORDER BY campaign_id`), u.ID)
	if err != nil {
		return fmt.Errorf("campaigns of user %q: %w", u.Name, err)
	}
	defer rows.Close()
	u.Campaigns = nil
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("campaigns of user %q: %w", u.Name, err)
		}
		u.Campaigns = append(u.Campaigns, id)
	}
	return rows.Err()
}

func (s *sqlStore) userWhere(ctx context.Context, what, where string, arg any) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE `+where), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %s: %w", what, err)
	}
	return u, s.userCampaigns(ctx, &u)
}

func (s *sqlStore) User(ctx context.Context, id int64) (User, error) {
	return s.userWhere(ctx, fmt.Sprint(id), `id = ?`, id)
}

func (s *sqlStore) UserByName(ctx context.Context, name string) (User, error) {
	return s.userWhere(ctx, fmt.Sprintf("%q", name), `name = ?`, name)
}

func (s *sqlStore) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for i := range out {
		if err := s.userCampaigns(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *sqlStore) UpdateUser(ctx context.Context, u User) error {
	if u.Role == "" {
		return fmt.Errorf("update user %d: empty role", u.ID)
	}
	return s.exec1(ctx, fmt.Sprintf("update user %d", u.ID),
		`UPDATE users SET role = ?, disabled = ? WHERE id = ?`, u.Role, u.Disabled, u.ID)
}

func (s *sqlStore) CreateToken(ctx context.Context, t Token) (Token, error) {
	if t.Hash == ([32]byte{}) {
		return Token{}, fmt.Errorf("create token for user %d: no hash", t.UserID)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.CreatedAt = fromMs(ms(t.CreatedAt))
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO api_tokens (user_id, name, hash, created_at, expires_at, last_used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), t.UserID, t.Name, hex.EncodeToString(t.Hash[:]),
		ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.LastUsedAt), ms(t.RevokedAt)).Scan(&t.ID)
	if err != nil {
		return Token{}, fmt.Errorf("create token for user %d: %w", t.UserID, err)
	}
	return t, nil
}

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var hash string
	var created, expires, used, revoked int64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &hash, &created, &expires, &used, &revoked); err != nil {
		return Token{}, err
	}
	if err := decodeHash(hash, &t.Hash); err != nil {
		return Token{}, fmt.Errorf("token %d: %w", t.ID, err)
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMs(created), fromMs(expires), fromMs(used), fromMs(revoked)
	return t, nil
}

func decodeHash(s string, dst *[32]byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("stored hash %q is not 64 hex digits", s)
	}
	copy(dst[:], b)
	return nil
}

func (s *sqlStore) TokenByHash(ctx context.Context, hash [32]byte) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`), hex.EncodeToString(hash[:])))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("read token: %w", err)
	}
	// The index lookup already matched; comparing again in constant time keeps
	// the decision itself free of data-dependent timing.
	if subtle.ConstantTimeCompare(t.Hash[:], hash[:]) != 1 {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	return t, nil
}

func (s *sqlStore) Tokens(ctx context.Context, userID int64) ([]Token, error) {
	query, args := `SELECT `+tokenCols+` FROM api_tokens`, []any{}
	if userID != 0 {
		query += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqlStore) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	what := fmt.Sprintf("revoke token %d", id)
	if err := s.exec1(ctx, what, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, ms(at), id); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		// Either missing or already revoked: only the first is an error.
		var one int
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM api_tokens WHERE id = ?`), id).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%s: %w", what, ErrNotFound)
			}
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

func (s *sqlStore) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return s.exec1(ctx, fmt.Sprintf("touch token %d", id), `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, ms(at), id)
}

// lockAuditHead takes the audit chain's lock for the rest of tx: an UPDATE of
// the single audit_head row holds its row lock on PostgreSQL (other nodes wait
// for the commit) and, inside BEGIN IMMEDIATE, SQLite's writer lock is already
// held. It returns the head's seq and hash.
func (s *sqlStore) lockAuditHead(ctx context.Context, tx *sql.Tx) (int64, [32]byte, error) {
	var head [32]byte
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = seq WHERE id = 1`); err != nil {
		return 0, head, fmt.Errorf("lock audit head: %w", err)
	}
	var seq int64
	var hash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, head, fmt.Errorf("read audit head: %w", err)
	}
	if err := decodeHash(hash, &head); err != nil {
		return 0, head, fmt.Errorf("audit head: %w", err)
	}
	return seq, head, nil
}

func (s *sqlStore) appendAudit(ctx context.Context, tx *sql.Tx, seq int64, prev [32]byte, e AuditRecord) (AuditRecord, error) {
	e.Seq, e.PrevHash = seq+1, prev
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = time.UnixMilli(e.At.UnixMilli()).UTC()
	e.Hash = AuditHash(prev, e)
	h, p := hex.EncodeToString(e.Hash[:]), hex.EncodeToString(e.PrevHash[:])
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.Seq, e.At.UnixMilli(), e.UserID, e.User, e.Action, e.Object, e.Remote, e.Detail, p, h); err != nil {
		return AuditRecord{}, fmt.Errorf("insert audit row %d: %w", e.Seq, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), e.Seq, h); err != nil {
		return AuditRecord{}, fmt.Errorf("advance audit head to %d: %w", e.Seq, err)
	}
	return e, nil
}

func (s *sqlStore) AppendAudit(ctx context.Context, e AuditRecord) (AuditRecord, error) {
	if e.Action == "" {
		return AuditRecord{}, errors.New("append audit entry: empty action")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	defer tx.Rollback()
	seq, head, err := s.lockAuditHead(ctx, tx)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	out, err := s.appendAudit(ctx, tx, seq, head, e)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	if err := tx.Commit(); err != nil {
		return AuditRecord{}, fmt.Errorf("append audit entry %s: commit: %w", e.Action, err)
	}
	return out, nil
}

func scanAudit(row interface{ Scan(...any) error }) (AuditRecord, error) {
	var r AuditRecord
	var at int64
	var prev, hash string
	if err := row.Scan(&r.Seq, &at, &r.UserID, &r.User, &r.Action, &r.Object, &r.Remote, &r.Detail, &prev, &hash); err != nil {
		return AuditRecord{}, err
	}
	r.At = time.UnixMilli(at).UTC()
	if err := decodeHash(prev, &r.PrevHash); err != nil {
		return r, fmt.Errorf("audit row %d previous hash: %w", r.Seq, err)
	}
	if err := decodeHash(hash, &r.Hash); err != nil {
		return r, fmt.Errorf("audit row %d hash: %w", r.Seq, err)
	}
	return r, nil
}

func (s *sqlStore) SearchAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	var where []string
	var args []any
	if !q.From.IsZero() {
		where, args = append(where, `at >= ?`), append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where, args = append(where, `at < ?`), append(args, q.To.UnixMilli())
	}
	if q.User != "" {
		where, args = append(where, `user_name = ?`), append(args, q.User)
	}
	if a := q.Action; a != "" {
		if p, ok := strings.CutSuffix(a, "*"); ok || strings.HasSuffix(a, ".") {
			if ok {
				a = p
			}
			// substr instead of LIKE: no wildcard escaping, same in both dialects.
			where, args = append(where, `substr(action, 1, ?) = ?`), append(args, len(a), a)
		} else {
			where, args = append(where, `action = ?`), append(args, a)
		}
	}
	if q.Before > 0 {
		where, args = append(where, `seq < ?`), append(args, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	query := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("search audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("search audit log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search audit log: %w", err)
	}
	return out, nil
}

func (s *sqlStore) VerifyAudit(ctx context.Context) (AuditReport, error) {
	// One read-only transaction: a consistent snapshot of head, anchor and
	// rows while other nodes keep appending, without blocking them (SQLite's
	// deferred reader sees a WAL snapshot; PostgreSQL's repeatable read pins one).
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: s.verifyIsolation()})
	if err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback()
	var rep AuditReport
	var headSeq int64
	var head, anchor string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1`).
		Scan(&headSeq, &head, &rep.AnchorSeq, &anchor); err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: read head: %w", err)
	}
	var headHash [32]byte
	if err := decodeHash(head, &headHash); err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: head: %w", err)
	}
	if err := decodeHash(anchor, &rep.Anchor); err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: anchor: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer rows.Close()
	want, prev := rep.AnchorSeq+1, rep.Anchor
	var lastPrune AuditRecord
	fail := func(seq int64, format string, a ...any) (AuditReport, error) {
		rep.BadSeq, rep.Problem = seq, fmt.Sprintf(format, a...)
		return rep, nil
	}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
		}
		switch {
		case r.Seq < want:
			return fail(r.Seq, "row %d precedes the anchor or repeats a number (expected %d)", r.Seq, want)
		case r.Seq > want:
			return fail(r.Seq, "rows %d…%d are missing before row %d", want, r.Seq-1, r.Seq)
		case r.PrevHash != prev:
			return fail(r.Seq, "row %d does not link to row %d (previous row deleted, replaced or reordered)", r.Seq, r.Seq-1)
		case AuditHash(prev, r) != r.Hash:
			return fail(r.Seq, "row %d content does not match its hash (edited)", r.Seq)
		}
		if r.Action == pruneAction {
			lastPrune = r
		}
		if rep.Rows == 0 {
			rep.First = r.Seq
		}
		rep.Rows++
		rep.Last, rep.Head = r.Seq, r.Hash
		prev, want = r.Hash, r.Seq+1
	}
	if err := rows.Err(); err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	if rep.Rows == 0 {
		rep.Head = rep.Anchor
	}
	if headSeq != want-1 || headHash != prev {
		return fail(0, "the head names row %d but the chain ends at row %d (newest rows deleted or head edited)", headSeq, want-1)
	}
	// Moving the anchor is only legitimate through PruneAudit, which chains a
	// prune row naming it; without one, the oldest rows were deleted by hand.
	if rep.AnchorSeq > 0 && !prunedTo(lastPrune, rep.AnchorSeq, rep.Anchor) {
		return fail(0, "rows up to %d are gone but no audit.prune entry records that anchor (oldest rows deleted outside retention)", rep.AnchorSeq)
	}
	rep.OK = true
	return rep, nil
}

// pruneAction is the action of the rows PruneAudit chains.
const pruneAction = "audit.prune"

// pruneObject and pruneDetail are what a prune row says about its cut; the
// anchor's hash is in the (hashed) detail, so it cannot be changed either.
func pruneObject(from, to int64) string { return fmt.Sprintf("audit:%d-%d", from, to) }

func pruneDetail(n int64, before time.Time, anchor string) string {
	return fmt.Sprintf("deleted %d rows older than %s; anchor %s", n, before.UTC().Format(time.RFC3339), anchor)
}

// prunedTo reports whether r is a prune row that cut up to anchorSeq and
// recorded anchor as the last deleted row's hash.
func prunedTo(r AuditRecord, anchorSeq int64, anchor [32]byte) bool {
	var from, to int64
	if r.Action != pruneAction {
		return false
	}
	if _, err := fmt.Sscanf(r.Object, "audit:%d-%d", &from, &to); err != nil || to != anchorSeq {
		return false
	}
	return strings.HasSuffix(r.Detail, "; anchor "+hex.EncodeToString(anchor[:]))
}

func (s *sqlStore) verifyIsolation() sql.IsolationLevel {
	if s.d.name == "postgres" {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}

func (s *sqlStore) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	defer tx.Rollback()
	seq, head, err := s.lockAuditHead(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	// Cut before the first row that is young enough, so the kept rows stay one
	// unbroken run even if node clocks disagreed about older rows' times.
	var firstYoung sql.NullInt64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT MIN(seq) FROM audit_log WHERE at >= ?`), before.UnixMilli()).Scan(&firstYoung); err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	cut := seq
	if firstYoung.Valid {
		cut = firstYoung.Int64 - 1
	}
	var anchorSeq int64
	if err := tx.QueryRowContext(ctx, `SELECT anchor_seq FROM audit_head WHERE id = 1`).Scan(&anchorSeq); err != nil {
		return 0, fmt.Errorf("prune audit log: read anchor: %w", err)
	}
	if cut <= anchorSeq {
		return 0, nil
	}
	var anchor string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT hash FROM audit_log WHERE seq = ?`), cut).Scan(&anchor); err != nil {
		return 0, fmt.Errorf("prune audit log: read row %d: %w", cut, err)
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM audit_log WHERE seq <= ?`), cut)
	if err != nil {
		return 0, fmt.Errorf("prune audit log up to row %d: %w", cut, err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE audit_head SET anchor_seq = ?, anchor_hash = ? WHERE id = 1`), cut, anchor); err != nil {
		return 0, fmt.Errorf("prune audit log: move anchor to row %d: %w", cut, err)
	}
	// The pruning is itself a chained entry, so a moved anchor is on the record.
	if _, err := s.appendAudit(ctx, tx, seq, head, AuditRecord{User: "system", Action: pruneAction,
		Object: pruneObject(anchorSeq+1, cut), Detail: pruneDetail(n, before, anchor)}); err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune audit log: commit: %w", err)
	}
	return int(n), nil
}
