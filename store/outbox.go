package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrClaimLost is returned when a delivery's result is stored by a claimant
// that no longer holds it: its lease ran out and another node claimed the
// delivery again, or the delivery already ended.
var ErrClaimLost = errors.New("store: delivery claim lost")

// Outbox is the durable queue of outgoing webhook deliveries that
// server/webhook drains. A delivery is one message to one endpoint; it is
// pending until it is delivered or failed. Several nodes sharing one
// PostgreSQL database drain the same outbox without sending a delivery twice
// at the same time.
type Outbox interface {
	// EnqueueDeliveries inserts pending deliveries, due at NextAttemptAt (the
	// time of the call when zero). A delivery whose (Endpoint, MessageID) is
	// already queued is skipped, so enqueueing one event twice sends it once.
	// It returns how many were inserted.
	EnqueueDeliveries(ctx context.Context, ds []Delivery) (int, error)
	// ClaimDeliveries takes up to Limit pending deliveries due at Now, oldest
	// due first, counts an attempt on each and leases them to Node until
	// Now+Lease: no other claim gets them before the lease runs out, so a node
	// that dies mid-delivery delays a delivery by at most the lease.
	ClaimDeliveries(ctx context.Context, req DeliveryClaim) ([]Delivery, error)
	// MarkDelivered ends a claimed delivery as delivered. It fails with
	// ErrClaimLost when the delivery already ended.
	MarkDelivered(ctx context.Context, d Delivery, res DeliveryResult) error
	// RescheduleDelivery records a failed attempt of a claimed delivery and
	// makes it due again at next. It fails with ErrClaimLost when d's attempt
	// is no longer the delivery's latest claim.
	RescheduleDelivery(ctx context.Context, d Delivery, next time.Time, res DeliveryResult) error
	// MarkDeliveryFailed ends a claimed delivery as failed: it is never sent
	// again. It fails with ErrClaimLost as RescheduleDelivery does.
	MarkDeliveryFailed(ctx context.Context, d Delivery, res DeliveryResult) error
	// Delivery returns the delivery with this ID.
	Delivery(ctx context.Context, id int64) (Delivery, error)
	// Deliveries lists deliveries, newest first.
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// NextDeliveryAt reports when the earliest pending delivery is due; ok is
	// false when none is pending.
	NextDeliveryAt(ctx context.Context) (next time.Time, ok bool, err error)
	// PruneDeliveries deletes delivered and failed deliveries that ended
	// before cutoff and returns how many it deleted.
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error)
}

// DeliveryState is where a webhook delivery is in its life.
type DeliveryState string

// Delivery states.
const (
	// DeliveryPending waits for NextAttemptAt (or is being sent under a lease).
	DeliveryPending DeliveryState = "pending"
	// DeliveryDelivered got a 2xx answer.
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryFailed was given up: a final error or out of retry time.
	DeliveryFailed DeliveryState = "failed"
)

// Delivery is one webhook message to one endpoint.
type Delivery struct {
	ID int64
	// Endpoint is the URL the message is posted to.
	Endpoint string
	// EventType is the event's type (call.completed); MessageID its
	// webhook-id, the same on every attempt so receivers can deduplicate.
	EventType string
	MessageID string
	// Payload is the request body, fixed at enqueue time.
	Payload []byte

	State DeliveryState
	// Attempts counts the claims so far; during a claim it is the number of
	// the attempt being made.
	Attempts       int
	NextAttemptAt  time.Time
	FirstAttemptAt time.Time
	LastAttemptAt  time.Time
	// LastStatus is the HTTP status of the latest attempt (0: none came).
	LastStatus int
	LastError  string
	ClaimedBy  string

	CreatedAt   time.Time
	DeliveredAt time.Time
	FailedAt    time.Time
}

// DeliveryClaim asks for due deliveries.
type DeliveryClaim struct {
	// Node names the claimant, for operators reading the table.
	Node string
	// Now is the claim's time: deliveries due at or before it are taken.
	Now time.Time
	// Lease is how long the claim holds them; it must outlast the request.
	// Default 5 minutes.
	Lease time.Duration
	// Limit caps how many are taken; 0 takes none.
	Limit int
}

// DeliveryResult is the outcome of one attempt.
type DeliveryResult struct {
	// At is when the attempt ended (now when zero).
	At time.Time
	// Status is the HTTP status (0 when no response came).
	Status int
	// Error says what went wrong, empty on success.
	Error string
}

// DeliveryQuery filters Deliveries; zero fields do not filter.
type DeliveryQuery struct {
	State    DeliveryState
	Endpoint string
	// Limit caps the list. Default 100.
	Limit int
}

const deliveryCols = `id, endpoint, event_type, message_id, payload, state, attempts, next_attempt_at,
	first_attempt_at, last_attempt_at, last_status, last_error, claimed_by, created_at, delivered_at, failed_at`

// claimSetDelivery counts the attempt and takes the lease; its placeholders are
// lease end, node, now, now.
const claimSetDelivery = `SET attempts = attempts + 1, next_attempt_at = ?, claimed_by = ?, last_attempt_at = ?,
	first_attempt_at = COALESCE(first_attempt_at, ?)`

// deliveryClaims holds the claim per dialect, and whether its placeholders
// list the due filter (now, limit) before the SET values.
var deliveryClaims = map[string]struct {
	query    string
	dueFirst bool
}{
	// Runs inside BEGIN IMMEDIATE: no other writer exists while it does.
	"sqlite": {query: `UPDATE webhook_deliveries ` + claimSetDelivery + ` WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING ` + deliveryCols},
	// SKIP LOCKED: rows another node is claiming right now are passed over;
	// the outer test re-checks a row claimed since the snapshot.
	"postgres": {query: `WITH due AS (
		SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries w ` + claimSetDelivery + ` FROM due WHERE w.id = due.id AND w.state = 'pending'
		RETURNING w.id, w.endpoint, w.event_type, w.message_id, w.payload, w.state, w.attempts, w.next_attempt_at,
		w.first_attempt_at, w.last_attempt_at, w.last_status, w.last_error, w.claimed_by, w.created_at,
		w.delivered_at, w.failed_at`, dueFirst: true},
}

func (s *sqlStore) EnqueueDeliveries(ctx context.Context, ds []Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("enqueue webhook deliveries: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO webhook_deliveries (endpoint, event_type, message_id, payload,
		state, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)
		ON CONFLICT (endpoint, message_id) DO NOTHING`))
	if err != nil {
		return 0, fmt.Errorf("enqueue webhook deliveries: %w", err)
	}
	defer stmt.Close()
	now := time.Now()
	added := 0
	for _, d := range ds {
		what := fmt.Sprintf("enqueue webhook %s %s to %s", d.EventType, d.MessageID, d.Endpoint)
		if d.Endpoint == "" || d.EventType == "" || d.MessageID == "" {
			return 0, fmt.Errorf("%s: endpoint, event type and message id are required", what)
		}
		created, next := d.CreatedAt, d.NextAttemptAt
		if created.IsZero() {
			created = now
		}
		if next.IsZero() {
			next = created
		}
		res, err := stmt.ExecContext(ctx, d.Endpoint, d.EventType, d.MessageID, string(d.Payload), ms(next), ms(created))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("enqueue webhook deliveries: commit: %w", err)
	}
	return added, nil
}

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var payload, state string
	var next, created int64
	var first, last, delivered, failed sql.NullInt64
	if err := row.Scan(&d.ID, &d.Endpoint, &d.EventType, &d.MessageID, &payload, &state, &d.Attempts, &next,
		&first, &last, &d.LastStatus, &d.LastError, &d.ClaimedBy, &created, &delivered, &failed); err != nil {
		return Delivery{}, err
	}
	d.Payload, d.State = []byte(payload), DeliveryState(state)
	d.NextAttemptAt, d.CreatedAt = fromMs(next), fromMs(created)
	d.FirstAttemptAt, d.LastAttemptAt = fromNullMs(first), fromNullMs(last)
	d.DeliveredAt, d.FailedAt = fromNullMs(delivered), fromNullMs(failed)
	return d, nil
}

func collectDeliveries(rows *sql.Rows) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *sqlStore) ClaimDeliveries(ctx context.Context, req DeliveryClaim) ([]Delivery, error) {
	if req.Limit <= 0 {
		return nil, nil
	}
	claim, ok := deliveryClaims[s.d.name]
	if !ok {
		return nil, fmt.Errorf("claim webhook deliveries: no claim for dialect %q", s.d.name)
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	if req.Lease <= 0 {
		req.Lease = 5 * time.Minute
	}
	now := ms(req.Now)
	set := []any{ms(req.Now.Add(req.Lease)), req.Node, now, now}
	due := []any{now, req.Limit}
	args := append(set, due...)
	if claim.dueFirst {
		args = append(due, set...)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q(claim.query), args...)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: commit: %w", err)
	}
	// RETURNING gives rows in no promised order; every row now shares the
	// lease's end, so the oldest first is the smallest ID.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// endDelivery stores an attempt's result; guard narrows which rows it may touch.
func (s *sqlStore) endDelivery(ctx context.Context, what, set, guard string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET `+set+` WHERE id = ? AND state = 'pending'`+guard), args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrClaimLost)
	}
	return nil
}

func resultAt(res DeliveryResult) time.Time {
	if res.At.IsZero() {
		return time.Now()
	}
	return res.At
}

func (s *sqlStore) MarkDelivered(ctx context.Context, d Delivery, res DeliveryResult) error {
	// Delivered is final whoever sent it: no attempts guard, so a slow
	// claimant's success still counts after its lease ran out.
	return s.endDelivery(ctx, fmt.Sprintf("mark webhook delivery %d delivered", d.ID),
		`state = 'delivered', delivered_at = ?, last_status = ?, last_error = ''`, ``,
		ms(resultAt(res)), res.Status, d.ID)
}

func (s *sqlStore) RescheduleDelivery(ctx context.Context, d Delivery, next time.Time, res DeliveryResult) error {
	return s.endDelivery(ctx, fmt.Sprintf("reschedule webhook delivery %d (attempt %d)", d.ID, d.Attempts),
		`next_attempt_at = ?, last_status = ?, last_error = ?, claimed_by = ''`, ` AND attempts = ?`,
		ms(next), res.Status, res.Error, d.ID, d.Attempts)
}

func (s *sqlStore) MarkDeliveryFailed(ctx context.Context, d Delivery, res DeliveryResult) error {
	return s.endDelivery(ctx, fmt.Sprintf("mark webhook delivery %d (attempt %d) failed", d.ID, d.Attempts),
		`state = 'failed', failed_at = ?, last_status = ?, last_error = ?, claimed_by = ''`, ` AND attempts = ?`,
		ms(resultAt(res)), res.Status, res.Error, d.ID, d.Attempts)
}

func (s *sqlStore) Delivery(ctx context.Context, id int64) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, s.q(`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("webhook delivery %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("read webhook delivery %d: %w", id, err)
	}
	return d, nil
}

func (s *sqlStore) Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error) {
	query, args := `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE 1 = 1`, []any{}
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, string(q.State))
	}
	if q.Endpoint != "" {
		query += ` AND endpoint = ?`
		args = append(args, q.Endpoint)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return out, nil
}

func (s *sqlStore) NextDeliveryAt(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'`).
		Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("read next webhook delivery time: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

func (s *sqlStore) PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE
		(state = 'delivered' AND delivered_at < ?) OR (state = 'failed' AND failed_at < ?)`), ms(cutoff), ms(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries ended before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
