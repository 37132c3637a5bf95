package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSecurityUsersRolesAndCampaignAssignments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		c1, c2 := newCampaign(t, s, "a"), newCampaign(t, s, "b")
		if err := s.PutRole(ctx, Role{Name: "qa", Perms: []string{"calls:read", "recordings:read"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRole(ctx, Role{Name: "qa", Perms: []string{"calls:read"}}); err != nil {
			t.Fatal(err)
		}
		roles, err := s.Roles(ctx)
		if err != nil || !reflect.DeepEqual(roles, []Role{{Name: "qa", Perms: []string{"calls:read"}}}) {
			t.Fatalf("roles %v %v, want qa replaced", roles, err)
		}
		alice, err := s.CreateUser(ctx, User{Name: "alice", Role: "agent", Campaigns: []int64{c2.ID, c1.ID}})
		if err != nil || alice.ID == 0 {
			t.Fatalf("create alice: %+v %v", alice, err)
		}
		if _, err := s.CreateUser(ctx, User{Name: "alice", Role: "viewer"}); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate user: %v, want ErrExists", err)
		}
		got, err := s.UserByName(ctx, "alice")
		if err != nil || !reflect.DeepEqual(got.Campaigns, []int64{c1.ID, c2.ID}) || got.Role != "agent" {
			t.Fatalf("alice %+v %v", got, err)
		}
		if err := s.SetUserCampaigns(ctx, alice.ID, []int64{c2.ID}); err != nil {
			t.Fatal(err)
		}
		got.Role, got.Disabled = "qa", true
		if err := s.UpdateUser(ctx, got); err != nil {
			t.Fatal(err)
		}
		got, err = s.User(ctx, alice.ID)
		if err != nil || !reflect.DeepEqual(got.Campaigns, []int64{c2.ID}) || got.Role != "qa" || !got.Disabled {
			t.Fatalf("alice after update %+v %v", got, err)
		}
		if err := s.SetUserCampaigns(ctx, 999, nil); !errors.Is(err, ErrNotFound) {
			t.Fatalf("campaigns of missing user: %v", err)
		}
		if _, err := s.User(ctx, 999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		if err := s.DeleteRole(ctx, "qa"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRole(ctx, "qa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete missing role: %v", err)
		}
	})
}

func TestSecurityTokensAreFoundByHashAndRevokedOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		u, err := s.CreateUser(ctx, User{Name: "bot", Role: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte("secret"))
		exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		tok, err := s.CreateToken(ctx, Token{UserID: u.ID, Name: "crm", Hash: h, ExpiresAt: exp})
		if err != nil || tok.ID == 0 {
			t.Fatalf("create token %+v %v", tok, err)
		}
		if _, err := s.CreateToken(ctx, Token{UserID: u.ID}); err == nil {
			t.Fatal("token without a hash accepted")
		}
		got, err := s.TokenByHash(ctx, h)
		if err != nil || got.ID != tok.ID || got.Hash != h || !got.ExpiresAt.Equal(exp) || !got.RevokedAt.IsZero() {
			t.Fatalf("token by hash %+v %v", got, err)
		}
		if _, err := s.TokenByHash(ctx, sha256.Sum256([]byte("other"))); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown hash: %v", err)
		}
		used := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		if err := s.TouchToken(ctx, tok.ID, used); err != nil {
			t.Fatal(err)
		}
		first := used.Add(time.Hour)
		if err := s.RevokeToken(ctx, tok.ID, first); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, tok.ID, first.Add(time.Hour)); err != nil {
			t.Fatalf("second revoke: %v", err)
		}
		if err := s.RevokeToken(ctx, 999, first); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke missing token: %v", err)
		}
		list, err := s.Tokens(ctx, u.ID)
		if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(used) || !list[0].RevokedAt.Equal(first) {
			t.Fatalf("tokens %+v %v", list, err)
		}
	})
}

// appendN appends n entries, cycling users and actions.
func appendN(t *testing.T, s Store, n int, at time.Time) {
	t.Helper()
	for i := range n {
		_, err := s.AppendAudit(testCtx(t), AuditRecord{At: at.Add(time.Duration(i) * time.Minute),
			UserID: int64(i%2 + 1), User: []string{"alice", "bob"}[i%2],
			Action: []string{"campaign.create", "contact.read", "recording.download"}[i%3],
			Object: fmt.Sprintf("campaign:%d", i), Remote: "192.0.2.7", Detail: "138****5678"})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func rawExec(t *testing.T, s Store, query string, args ...any) {
	t.Helper()
	ss := s.(*sqlStore)
	if _, err := ss.db.ExecContext(testCtx(t), ss.q(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestAuditVerifyNamesTheFirstTamperedRow(t *testing.T) {
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		tamper  func(t *testing.T, s Store)
		badSeq  int64
		problem string
	}{
		{"untouched", func(*testing.T, Store) {}, 0, ""},
		{"edited detail", func(t *testing.T, s Store) {
			rawExec(t, s, `UPDATE audit_log SET detail = '13812345678' WHERE seq = 4`)
		}, 4, "edited"},
		{"edited time", func(t *testing.T, s Store) {
			rawExec(t, s, `UPDATE audit_log SET at = at + 1 WHERE seq = 2`)
		}, 2, "edited"},
		{"edited row rehashed without its successor", func(t *testing.T, s Store) {
			// A forger who recomputes row 3's hash still breaks row 4's link.
			var r AuditRecord
			rows, err := s.SearchAudit(testCtx(t), AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range rows {
				if x.Seq == 3 {
					r = x
				}
			}
			r.User = "mallory"
			h := AuditHash(r.PrevHash, r)
			rawExec(t, s, `UPDATE audit_log SET user_name = 'mallory', hash = ? WHERE seq = 3`, fmt.Sprintf("%x", h))
		}, 4, "does not link"},
		{"deleted middle row", func(t *testing.T, s Store) {
			rawExec(t, s, `DELETE FROM audit_log WHERE seq = 3`)
		}, 4, "missing"},
		{"deleted first row", func(t *testing.T, s Store) {
			rawExec(t, s, `DELETE FROM audit_log WHERE seq = 1`)
		}, 2, "missing"},
		{"deleted newest row", func(t *testing.T, s Store) {
			rawExec(t, s, `DELETE FROM audit_log WHERE seq = 6`)
		}, 0, "newest rows deleted"},
		{"reordered rows", func(t *testing.T, s Store) {
			rawExec(t, s, `UPDATE audit_log SET seq = -1 WHERE seq = 2`)
			rawExec(t, s, `UPDATE audit_log SET seq = 2 WHERE seq = 3`)
			rawExec(t, s, `UPDATE audit_log SET seq = 3 WHERE seq = -1`)
		}, 2, "does not link"},
		{"renumbered to hide a deletion", func(t *testing.T, s Store) {
			rawExec(t, s, `DELETE FROM audit_log WHERE seq = 5`)
			rawExec(t, s, `UPDATE audit_log SET seq = 5 WHERE seq = 6`)
			rawExec(t, s, `UPDATE audit_head SET seq = 5`)
		}, 5, "does not link"},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := b.open(t)()
					appendN(t, s, 6, at)
					tc.tamper(t, s)
					rep, err := s.VerifyAudit(testCtx(t))
					if err != nil {
						t.Fatal(err)
					}
					if tc.problem == "" {
						if !rep.OK || rep.Rows != 6 || rep.First != 1 || rep.Last != 6 {
							t.Fatalf("untouched chain: %+v", rep)
						}
						return
					}
					if rep.OK || rep.BadSeq != tc.badSeq || !strings.Contains(rep.Problem, tc.problem) {
						t.Fatalf("report %+v, want bad row %d (%s)", rep, tc.badSeq, tc.problem)
					}
				})
			}
		})
	}
}

func TestAuditConcurrentAppendsFromTwoNodesStayOneChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		nodes := []Store{open(), open()}
		const perWorker, workers = 15, 4
		var wg sync.WaitGroup
		errs := make(chan error, workers*len(nodes))
		for n, s := range nodes {
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						if _, err := s.AppendAudit(testCtx(t), AuditRecord{User: fmt.Sprintf("node%d", n),
							Action: "call.read", Object: fmt.Sprintf("call:%d-%d", w, i)}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep, err := nodes[1].VerifyAudit(testCtx(t))
		want := len(nodes) * workers * perWorker
		if err != nil || !rep.OK || rep.Rows != want || rep.Last != int64(want) {
			t.Fatalf("verify after %d concurrent appends: %+v %v", want, rep, err)
		}
	})
}

func TestAuditVerifyWhileAnotherNodeAppendsSeesAConsistentChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		writer, reader := open(), open()
		done := make(chan error, 1)
		go func() {
			for i := range 100 {
				if _, err := writer.AppendAudit(testCtx(t), AuditRecord{User: "w", Action: "contact.read", Object: fmt.Sprint(i)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for finished := false; !finished; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				finished = true
			default:
			}
			rep, err := reader.VerifyAudit(testCtx(t))
			if err != nil || !rep.OK {
				t.Fatalf("verify during appends: %+v %v", rep, err)
			}
		}
	})
}

func TestAuditRetentionKeepsTheChainVerifiable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		appendN(t, s, 10, at) // minutes 0…9
		n, err := s.PruneAudit(ctx, at.Add(4*time.Minute))
		if err != nil || n != 4 {
			t.Fatalf("pruned %d, %v; want 4", n, err)
		}
		rep, err := s.VerifyAudit(ctx)
		if err != nil || !rep.OK || rep.First != 5 || rep.Last != 11 || rep.AnchorSeq != 4 {
			t.Fatalf("after pruning: %+v %v", rep, err)
		}
		last, err := s.SearchAudit(ctx, AuditQuery{Limit: 1})
		if err != nil || len(last) != 1 || last[0].Action != "audit.prune" || !strings.Contains(last[0].Detail, "deleted 4 rows") {
			t.Fatalf("prune entry %+v %v", last, err)
		}
		if n, err := s.PruneAudit(ctx, at.Add(4*time.Minute)); err != nil || n != 0 {
			t.Fatalf("second prune %d %v, want nothing", n, err)
		}
		appendN(t, s, 2, at.Add(time.Hour))
		if rep, err := s.VerifyAudit(ctx); err != nil || !rep.OK {
			t.Fatalf("appends after pruning: %+v %v", rep, err)
		}
		rawExec(t, s, `DELETE FROM audit_log WHERE seq = 5`)
		rep, err = s.VerifyAudit(ctx)
		if err != nil || rep.OK || rep.BadSeq != 6 {
			t.Fatalf("deleting the first kept row must show: %+v %v", rep, err)
		}
	})
}

func TestAuditVerifyCatchesOldestRowsDeletedByHand(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		appendN(t, s, 4, at)
		if _, err := s.PruneAudit(ctx, at.Add(time.Minute)); err != nil { // row 1 goes, row 5 records it
			t.Fatal(err)
		}
		appendN(t, s, 3, at.Add(time.Hour)) // rows 6…8
		// Deleting rows 2 and 3 and moving the anchor as pruning would: the
		// chain from row 4 links, but no prune row names anchor 3.
		rows, err := s.SearchAudit(ctx, AuditQuery{Before: 4, Limit: 1})
		if err != nil || rows[0].Seq != 3 {
			t.Fatalf("row 3: %v %v", rows, err)
		}
		rawExec(t, s, `DELETE FROM audit_log WHERE seq <= 3`)
		rawExec(t, s, `UPDATE audit_head SET anchor_seq = 3, anchor_hash = ?`, fmt.Sprintf("%x", rows[0].Hash))
		rep, err := s.VerifyAudit(ctx)
		if err != nil || rep.OK || !strings.Contains(rep.Problem, "no audit.prune entry records that anchor") {
			t.Fatalf("hand-deleted oldest rows: %+v %v", rep, err)
		}
	})
}

func TestAuditRetentionCutsAtTheFirstYoungRowDespiteSkewedClocks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		old, young := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		for _, at := range []time.Time{old, young, old, young} { // row 3 from a node with a slow clock
			if _, err := s.AppendAudit(ctx, AuditRecord{At: at, User: "x", Action: "a"}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PruneAudit(ctx, young)
		if err != nil || n != 1 {
			t.Fatalf("pruned %d %v, want only row 1", n, err)
		}
		if rep, err := s.VerifyAudit(ctx); err != nil || !rep.OK || rep.First != 2 {
			t.Fatalf("after pruning %+v %v", rep, err)
		}
	})
}

func TestAuditSearchFiltersAndPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s, ctx := open(), testCtx(t)
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		appendN(t, s, 12, at)
		seqs := func(q AuditQuery) []int64 {
			t.Helper()
			rows, err := s.SearchAudit(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []int64
			for _, r := range rows {
				out = append(out, r.Seq)
			}
			return out
		}
		cases := []struct {
			name string
			q    AuditQuery
			want []int64
		}{
			{"newest first", AuditQuery{Limit: 3}, []int64{12, 11, 10}},
			{"next page", AuditQuery{Limit: 3, Before: 10}, []int64{9, 8, 7}},
			{"by user", AuditQuery{User: "bob", Limit: 3}, []int64{12, 10, 8}},
			{"exact action", AuditQuery{Action: "contact.read"}, []int64{11, 8, 5, 2}},
			{"action prefix", AuditQuery{Action: "recording.*"}, []int64{12, 9, 6, 3}},
			{"action prefix with dot", AuditQuery{Action: "campaign."}, []int64{10, 7, 4, 1}},
			{"time range", AuditQuery{From: at.Add(2 * time.Minute), To: at.Add(5 * time.Minute)}, []int64{5, 4, 3}},
			{"all filters", AuditQuery{From: at, To: at.Add(time.Hour), User: "alice", Action: "contact.read"}, []int64{11, 5}},
			{"nothing matches", AuditQuery{User: "carol"}, nil},
		}
		for _, tc := range cases {
			if got := seqs(tc.q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		rows, err := s.SearchAudit(ctx, AuditQuery{Limit: 1})
		if err != nil || rows[0].Detail != "138****5678" || rows[0].Remote != "192.0.2.7" || rows[0].Hash != AuditHash(rows[0].PrevHash, rows[0]) {
			t.Fatalf("row fields %+v %v", rows, err)
		}
	})
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := AuditRecord{Seq: 1, At: time.UnixMilli(1000), UserID: 1, User: "u", Action: "a", Object: "o", Remote: "r", Detail: "d"}
	h := AuditHash([32]byte{}, base)
	variants := map[string]func(r *AuditRecord){
		"seq": func(r *AuditRecord) { r.Seq = 2 }, "at": func(r *AuditRecord) { r.At = r.At.Add(time.Millisecond) },
		"user id": func(r *AuditRecord) { r.UserID = 2 }, "user": func(r *AuditRecord) { r.User = "v" },
		"action": func(r *AuditRecord) { r.Action = "b" }, "object": func(r *AuditRecord) { r.Object = "p" },
		"remote": func(r *AuditRecord) { r.Remote = "s" }, "detail": func(r *AuditRecord) { r.Detail = "e" },
		"field boundary": func(r *AuditRecord) { r.User, r.Action = "ua", "" },
	}
	for name, f := range variants {
		r := base
		f(&r)
		if AuditHash([32]byte{}, r) == h {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
	if AuditHash([32]byte{1}, base) == h {
		t.Error("the previous hash is not covered")
	}
}

func BenchmarkAuditAppend(b *testing.B) {
	s, err := Open(context.Background(), Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AppendAudit(context.Background(), AuditRecord{User: "u", Action: "contact.read", Object: "contact:1"}); err != nil {
			b.Fatal(err)
		}
	}
}
