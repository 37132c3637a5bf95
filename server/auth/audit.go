package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/waihu/waihu/store"
)

// DefaultRetention is how long audit entries are kept unless configured:
// 180 days, the six months the compliance requirement asks for.
const DefaultRetention = 180 * 24 * time.Hour

// Report is what a verification of the audit chain found.
type Report = store.AuditReport

// AuditConfig configures AuditLog. Only Store is required.
type AuditConfig struct {
	// Store holds the chained rows.
	Store store.Security
	// Retention is how long entries are kept; Prune deletes older ones.
	// Default DefaultRetention; negative keeps everything.
	Retention time.Duration
	// PruneEvery is how often Run prunes. Default 6 h.
	PruneEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives Run's outcomes; default slog.Default().
	Log *slog.Logger
}

// AuditLog is the store-backed Auditor: an append-only, SHA-256-chained log
// with search, verification and retention.
type AuditLog struct {
	st         store.Security
	retention  time.Duration
	pruneEvery time.Duration
	now        func() time.Time
	log        *slog.Logger
}

var _ Auditor = (*AuditLog)(nil)

// NewAuditLog returns an AuditLog on cfg.Store.
func NewAuditLog(cfg AuditConfig) *AuditLog {
	l := &AuditLog{st: cfg.Store, retention: cfg.Retention, pruneEvery: cfg.PruneEvery, now: cfg.Now, log: cfg.Log}
	if l.retention == 0 {
		l.retention = DefaultRetention
	}
	if l.pruneEvery <= 0 {
		l.pruneEvery = 6 * time.Hour
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// Record appends e. A zero At is now; an empty User is "system". Digit runs
// long enough to be phone numbers are masked in Detail, so a careless caller
// cannot put a full number into a log that is kept for months.
func (l *AuditLog) Record(ctx context.Context, e AuditEntry) error {
	if e.Action == "" {
		return errors.New("audit: entry without an action")
	}
	r := store.AuditRecord{At: e.At, UserID: e.UserID, User: e.User, Action: e.Action, Object: e.Object,
		Detail: MaskDigits(e.Detail)}
	if r.At.IsZero() {
		r.At = l.now()
	}
	if r.User == "" {
		r.User = "system"
	}
	if e.Remote.IsValid() {
		r.Remote = e.Remote.Unmap().String()
	}
	if _, err := l.st.AppendAudit(ctx, r); err != nil {
		return fmt.Errorf("audit %s on %s by %s: %w", e.Action, e.Object, r.User, err)
	}
	return nil
}

// Search returns entries matching q, newest first; page with q.Before set to
// the last Seq of the previous page.
func (l *AuditLog) Search(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	return l.st.SearchAudit(ctx, q)
}

// Verify walks the chain and names the first row that was edited, deleted
// or moved.
func (l *AuditLog) Verify(ctx context.Context) (Report, error) { return l.st.VerifyAudit(ctx) }

// Prune deletes entries older than the retention; the chain stays verifiable
// from the anchor the store keeps. A negative retention prunes nothing.
func (l *AuditLog) Prune(ctx context.Context) (int, error) {
	if l.retention < 0 {
		return 0, nil
	}
	return l.st.PruneAudit(ctx, l.now().Add(-l.retention))
}

// Run prunes at start and every PruneEvery until ctx ends; it returns nil
// then. A failed prune is logged and retried at the next tick.
func (l *AuditLog) Run(ctx context.Context) error {
	t := time.NewTicker(l.pruneEvery)
	defer t.Stop()
	for {
		n, err := l.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			l.log.Error("audit retention", "err", err)
		case n > 0:
			l.log.Info("audit retention pruned entries", "rows", n, "retention", l.retention)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// MaskDigits masks every run of 7 or more digits (an optional leading +
// included) as MaskPhone does, leaving shorter numbers such as IDs alone.
func MaskDigits(s string) string {
	var out []byte
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		run := s[start:end]
		digits := len(run)
		if run[0] == '+' {
			digits--
		}
		if digits >= 7 {
			out = append(out, MaskPhone(run)...)
		} else {
			out = append(out, run...)
		}
		start = -1
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		if isDigit || (c == '+' && start < 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9') {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
		out = append(out, c)
	}
	flush(len(s))
	return string(out)
}
