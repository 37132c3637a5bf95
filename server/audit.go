package server

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/waihu/waihu/store"
)

// auditView is one audit log row.
type auditView struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	UserID int64     `json:"user_id"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	Object string    `json:"object,omitempty"`
	Remote string    `json:"remote,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Hash is the row's link in the chain (hex SHA-256).
	Hash string `json:"hash"`
}

// auditPage is a page of the audit log, newest first.
type auditPage struct {
	Items []auditView `json:"items"`
	// NextBefore, when set, is the before= of the next (older) page.
	NextBefore int64 `json:"next_before,omitempty"`
}

// auditVerify is the verdict on the audit log's hash chain.
type auditVerify struct {
	OK bool `json:"ok"`
	// Rows is how many rows were checked, First and Last their seq range.
	Rows  int   `json:"rows"`
	First int64 `json:"first,omitempty"`
	Last  int64 `json:"last,omitempty"`
	// Head is the newest row's hash (hex): note it elsewhere, and a later
	// head that does not descend from it means history was rewritten.
	Head string `json:"head,omitempty"`
	// BadSeq is the first row that does not follow from its predecessor
	// (edited, deleted or inserted); Problem says how.
	BadSeq  int64  `json:"bad_seq,omitempty"`
	Problem string `json:"problem,omitempty"`
}

func auditVerifyOf(rep store.AuditReport) auditVerify {
	v := auditVerify{OK: rep.OK, Rows: rep.Rows, First: rep.First, Last: rep.Last, BadSeq: rep.BadSeq, Problem: rep.Problem}
	if rep.Head != ([32]byte{}) {
		v.Head = hex.EncodeToString(rep.Head[:])
	}
	return v
}

var auditParams = []param{
	{"from", "string", "oldest time, inclusive (RFC 3339)"},
	{"to", "string", "newest time, exclusive (RFC 3339)"},
	{"user", "string", "only this user's actions"},
	{"action", "string", "an action (contact.read), or a prefix ending in . or * (campaign.)"},
	{"before", "integer", "page backwards: rows with seq below this (next_before of the previous page)"},
	{"limit", "integer", "rows per page (default 100, at most 1000)"},
}

func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request) error {
	qs := r.URL.Query()
	var q store.AuditQuery
	var err error
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := qs.Get(b.name); v != "" {
			if *b.t, err = time.Parse(time.RFC3339, v); err != nil {
				return badInput(b.name, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", b.name, v)
			}
		}
	}
	q.User, q.Action = qs.Get("user"), qs.Get("action")
	if q.Before, err = queryInt(r, "before", 0, 0, 1<<62); err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	q.Limit = int(limit)
	recs, err := s.cfg.Store.SearchAudit(r.Context(), q)
	if err != nil {
		return fmt.Errorf("search the audit log: %w", err)
	}
	out := auditPage{Items: []auditView{}}
	for _, e := range recs {
		out.Items = append(out.Items, auditView{Seq: e.Seq, At: e.At, UserID: e.UserID, User: e.User, Action: e.Action,
			Object: e.Object, Remote: e.Remote, Detail: e.Detail, Hash: hex.EncodeToString(e.Hash[:])})
	}
	if len(recs) == q.Limit {
		out.NextBefore = recs[len(recs)-1].Seq
	}
	// Who looked into the log is itself worth knowing.
	if err := s.auditReq(r, "audit.read", "audit", fmt.Sprintf("%d rows", len(out.Items))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.cfg.Store.VerifyAudit(r.Context())
	if err != nil {
		return fmt.Errorf("verify the audit log: %w", err)
	}
	writeJSON(w, http.StatusOK, auditVerifyOf(rep))
	return nil
}
