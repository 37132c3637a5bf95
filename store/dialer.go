package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CallerIDs is the durable usage of the numbers presented as the caller (the
// caller-ID or DNI pool of campaign/): attempts and answers per number per
// clock hour, and when a number rests. It is global, not per campaign: a number's
// caps count every campaign and every node that shares the store.
type CallerIDs interface {
	// ReserveCallerID counts one attempt on number at now, unless the number
	// rests at now, or has already made hourlyCap attempts in now's clock hour,
	// or dailyCap in the 24 clock hours ending with now's (a cap of 0 is no
	// cap). It returns whether the attempt was counted. Concurrent reservations
	// of one number, from any node, are serialised, so a cap is never overrun.
	ReserveCallerID(ctx context.Context, number string, now time.Time, hourlyCap, dailyCap int) (bool, error)
	// CallerIDAnswered counts one answered call on number in the clock hour of
	// attemptAt (the hour its attempt was counted in).
	CallerIDAnswered(ctx context.Context, number string, attemptAt time.Time) error
	// RestCallerID keeps number from being reserved until until; reason says why
	// (low health, flagged as spam). A zero until ends a rest.
	RestCallerID(ctx context.Context, number string, until time.Time, reason string) error
	// CallerIDStats reports each number's usage at now; health counts the
	// attempts and answers of the clock hours that start within window before
	// now and not before the end of the number's latest rest.
	CallerIDStats(ctx context.Context, numbers []string, now time.Time, window time.Duration) (map[string]CallerIDStat, error)
}

// CallerIDStat is one number's usage and state.
type CallerIDStat struct {
	Number string
	// HourAttempts are the attempts in now's clock hour; DayAttempts in the 24
	// clock hours ending with it (the caps' counts).
	HourAttempts int
	DayAttempts  int
	// WindowAttempts and WindowAnswered are the health window's counts.
	WindowAttempts int
	WindowAnswered int
	// RestUntil is when the latest rest ends (zero: never rested).
	RestUntil  time.Time
	RestReason string
}

// hourStart is the Unix ms of the start of t's clock hour (UTC hours: every zone
// the pool serves agrees on them to within its offset's minutes).
func hourStart(t time.Time) int64 { return t.Truncate(time.Hour).UnixMilli() }

// dayHours is how many clock hours a daily cap spans: now's and the 23 before.
const dayHours = 24

func (s *sqlStore) ReserveCallerID(ctx context.Context, number string, now time.Time, hourlyCap, dailyCap int) (bool, error) {
	what := fmt.Sprintf("reserve caller ID %s", number)
	if number == "" {
		return false, errors.New("reserve caller ID: empty number")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO caller_ids (number, updated_at) VALUES (?, ?)
		ON CONFLICT (number) DO NOTHING`), number, ms(time.Now())); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	// The UPDATE takes the number's row lock (PostgreSQL; SQLite's transactions
	// hold the one writer lock from BEGIN): a second node reserving the same
	// number waits here, then reads the counts this one committed.
	var restUntil int64
	if err := tx.QueryRowContext(ctx, s.q(`UPDATE caller_ids SET updated_at = ? WHERE number = ? RETURNING rest_until`),
		ms(time.Now()), number).Scan(&restUntil); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	if restUntil > now.UnixMilli() {
		return false, nil
	}
	hour := hourStart(now)
	var hourN, dayN sql.NullInt64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT
		SUM(CASE WHEN hour = ? THEN attempts ELSE 0 END), SUM(attempts)
		FROM caller_id_usage WHERE number = ? AND hour > ? AND hour <= ?`),
		hour, number, hour-dayHours*time.Hour.Milliseconds(), hour).Scan(&hourN, &dayN); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	if (hourlyCap > 0 && int(hourN.Int64) >= hourlyCap) || (dailyCap > 0 && int(dayN.Int64) >= dailyCap) {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO caller_id_usage (number, hour, attempts, answered) VALUES (?, ?, 1, 0)
		ON CONFLICT (number, hour) DO UPDATE SET attempts = caller_id_usage.attempts + 1`), number, hour); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("%s: commit: %w", what, err)
	}
	return true, nil
}

func (s *sqlStore) CallerIDAnswered(ctx context.Context, number string, attemptAt time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO caller_id_usage (number, hour, attempts, answered) VALUES (?, ?, 0, 1)
		ON CONFLICT (number, hour) DO UPDATE SET answered = caller_id_usage.answered + 1`), number, hourStart(attemptAt)); err != nil {
		return fmt.Errorf("count an answer on caller ID %s: %w", number, err)
	}
	return nil
}

func (s *sqlStore) RestCallerID(ctx context.Context, number string, until time.Time, reason string) error {
	if number == "" {
		return errors.New("rest caller ID: empty number")
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO caller_ids (number, rest_until, rest_reason, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (number) DO UPDATE SET rest_until = excluded.rest_until, rest_reason = excluded.rest_reason,
		updated_at = excluded.updated_at`), number, ms(until), reason, ms(time.Now())); err != nil {
		return fmt.Errorf("rest caller ID %s: %w", number, err)
	}
	return nil
}

func (s *sqlStore) CallerIDStats(ctx context.Context, numbers []string, now time.Time, window time.Duration) (map[string]CallerIDStat, error) {
	out := make(map[string]CallerIDStat, len(numbers))
	if len(numbers) == 0 {
		return out, nil
	}
	what := fmt.Sprintf("caller-ID stats of %d numbers", len(numbers))
	in := strings.TrimSuffix(strings.Repeat("?, ", len(numbers)), ", ")
	args := make([]any, len(numbers))
	for i, n := range numbers {
		args[i] = n
		out[n] = CallerIDStat{Number: n}
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT number, rest_until, rest_reason FROM caller_ids WHERE number IN (`+in+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	restUntil := map[string]int64{}
	for rows.Next() {
		var n, reason string
		var until int64
		if err := rows.Scan(&n, &until, &reason); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		st := out[n]
		st.RestUntil, st.RestReason = fromMs(until), reason
		out[n], restUntil[n] = st, until
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	hour := hourStart(now)
	dayFrom := hour - dayHours*time.Hour.Milliseconds()
	winFrom := now.Add(-window).UnixMilli()
	// One pass over the hours either count needs: the day's and the window's.
	from := min(dayFrom+1, winFrom)
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT number, hour, attempts, answered FROM caller_id_usage
		WHERE number IN (`+in+`) AND hour >= ? AND hour <= ?`), append(args, from, hour)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		var h int64
		var attempts, answered int
		if err := rows.Scan(&n, &h, &attempts, &answered); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		st := out[n]
		if h == hour {
			st.HourAttempts += attempts
		}
		if h > dayFrom {
			st.DayAttempts += attempts
		}
		// A rested number starts its health over: its window opens no earlier
		// than the hour its rest ended.
		wf := winFrom
		if r := restUntil[n]; r != 0 && hourStart(fromMs(r)) > wf {
			wf = hourStart(fromMs(r))
		}
		if h >= wf {
			st.WindowAttempts += attempts
			st.WindowAnswered += answered
		}
		out[n] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
