package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newAccounts(t *testing.T) (*Accounts, store.Store, *clock) {
	st := openStore(t)
	c := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	return NewAccounts(AccountsConfig{Store: st, Now: c.now}), st, c
}

func issue(t *testing.T, a *Accounts, user, role string, campaigns []int64, ttl time.Duration) string {
	t.Helper()
	ctx := context.Background()
	if _, err := a.AddUser(ctx, user, role, campaigns); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.IssueToken(ctx, user, "test", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthenticateGivesEachRoleItsPermissions(t *testing.T) {
	a, _, _ := newAccounts(t)
	ctx := context.Background()
	if err := a.PutRole(ctx, "qa", []string{"calls:read", "recordings:read", "calls:read"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		role      string
		can       []Permission
		cannot    []Permission
		campaigns []int64
	}{
		{RoleAdmin, AllPermissions(), nil, nil},
		{RoleSupervisor, []Permission{PermCampaignsWrite, PermContactsWrite, PermUnmask, PermRecordingsRead},
			[]Permission{PermUsersAdmin, PermAuditRead, PermWebhooksWrite}, nil},
		{RoleAgent, []Permission{PermContactsRead, PermCallsWrite, PermRecordingsRead},
			[]Permission{PermUnmask, PermContactsWrite, PermCampaignsWrite, PermUsersAdmin}, []int64{}},
		{RoleViewer, []Permission{PermKPIRead, PermEventsRead, PermCampaignsRead},
			[]Permission{PermContactsRead, PermRecordingsRead, PermUnmask, PermCallsWrite}, nil},
		{"qa", []Permission{PermCallsRead, PermRecordingsRead}, []Permission{PermContactsRead, PermUnmask}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.role, func(t *testing.T) {
			p, err := a.Authenticate(ctx, issue(t, a, "u-"+tc.role, tc.role, nil, 0))
			if err != nil {
				t.Fatal(err)
			}
			if p.User != "u-"+tc.role || p.Role != tc.role || p.TokenID == 0 || p.UserID == 0 {
				t.Fatalf("principal %+v", p)
			}
			for _, perm := range tc.can {
				if !p.Can(perm) {
					t.Errorf("%s cannot %s", tc.role, perm)
				}
			}
			for _, perm := range tc.cannot {
				if p.Can(perm) {
					t.Errorf("%s can %s", tc.role, perm)
				}
			}
			if (tc.campaigns == nil) != (p.Campaigns == nil) {
				t.Errorf("campaigns %v, want %v", p.Campaigns, tc.campaigns)
			}
		})
	}
}

func TestAuthenticateLimitsAgentsToAssignedCampaigns(t *testing.T) {
	a, st, _ := newAccounts(t)
	ctx := context.Background()
	c1, err := st.CreateCampaign(ctx, store.Campaign{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := st.CreateCampaign(ctx, store.Campaign{Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, role  string
		assigned    []int64
		sees, hides []int64
	}{
		{"agent with assignments", RoleAgent, []int64{c1.ID}, []int64{c1.ID}, []int64{c2.ID}},
		{"agent without assignments sees none", RoleAgent, nil, nil, []int64{c1.ID, c2.ID}},
		{"supervisor sees all", RoleSupervisor, nil, []int64{c1.ID, c2.ID}, nil},
		{"assigned supervisor is limited too", RoleSupervisor, []int64{c2.ID}, []int64{c2.ID}, []int64{c1.ID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(ctx, issue(t, a, tc.name, tc.role, tc.assigned, 0))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tc.sees {
				if !p.SeesCampaign(id) {
					t.Errorf("does not see campaign %d (campaigns %v)", id, p.Campaigns)
				}
			}
			for _, id := range tc.hides {
				if p.SeesCampaign(id) {
					t.Errorf("sees campaign %d (campaigns %v)", id, p.Campaigns)
				}
			}
		})
	}
}

func TestAuthenticateRefusesBadTokens(t *testing.T) {
	a, st, clk := newAccounts(t)
	ctx := context.Background()
	good := issue(t, a, "alice", RoleViewer, nil, 0)
	short := issue(t, a, "bob", RoleViewer, nil, time.Hour)
	revoked := issue(t, a, "carol", RoleViewer, nil, 0)
	disabled := issue(t, a, "dave", RoleViewer, nil, 0)
	if err := a.PutRole(ctx, "temp", []string{"kpis:read"}); err != nil {
		t.Fatal(err)
	}
	orphan := issue(t, a, "erin", "temp", nil, 0)

	toks, err := st.Tokens(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeToken(ctx, toks[2].ID); err != nil {
		t.Fatal(err)
	}
	dave, err := st.UserByName(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	dave.Disabled = true
	if err := a.UpdateUser(ctx, dave); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteRole(ctx, "temp"); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour)
	unknown, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, reason string
	}{
		{"empty", "", "not a waihu API token"},
		{"wrong prefix", "xx_" + good[3:], "not a waihu API token"},
		{"truncated", good[:len(good)-1], "not a waihu API token"},
		{"bad alphabet", good[:len(good)-1] + "=", "not a waihu API token"},
		{"unknown", unknown, "unknown token"},
		{"expired", short, "expired"},
		{"revoked", revoked, "revoked"},
		{"disabled user", disabled, "disabled"},
		{"role deleted", orphan, `role "temp" is not defined`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(ctx, tc.token)
			if !errors.Is(err, ErrUnauthenticated) || p != nil {
				t.Fatalf("got %+v, %v; want ErrUnauthenticated", p, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not say %q", err, tc.reason)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatalf("error %q repeats the token", err)
			}
		})
	}
	if _, err := a.Authenticate(ctx, good); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
}

func TestAuthenticateCacheExpiresRevocationsFromOtherNodes(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	nodeA := NewAccounts(AccountsConfig{Store: st, Now: clk.now, CacheTTL: 10 * time.Second})
	nodeB := NewAccounts(AccountsConfig{Store: st, Now: clk.now, CacheTTL: 10 * time.Second})
	ctx := context.Background()
	tok := issue(t, nodeA, "alice", RoleAdmin, nil, 0)
	for _, n := range []*Accounts{nodeA, nodeB} {
		if _, err := n.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	toks, _ := st.Tokens(ctx, 0)
	if err := nodeA.RevokeToken(ctx, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeA.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoking node still accepts: %v", err)
	}
	if _, err := nodeB.Authenticate(ctx, tok); err != nil {
		t.Fatalf("other node within its cache TTL: %v", err)
	}
	clk.add(10 * time.Second)
	if _, err := nodeB.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("other node after its cache TTL: %v", err)
	}
}

func TestAuthenticateRecordsLastUseAtMostOncePerInterval(t *testing.T) {
	a, st, clk := newAccounts(t)
	ctx := context.Background()
	tok := issue(t, a, "alice", RoleViewer, nil, 0)
	start := clk.now()
	lastUsed := func() time.Time {
		toks, err := st.Tokens(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return toks[0].LastUsedAt
	}
	steps := []struct {
		after time.Duration
		want  time.Duration // last-used, relative to start
	}{{0, 0}, {20 * time.Second, 0}, {30 * time.Second, 0}, {20 * time.Second, 70 * time.Second}}
	for i, s := range steps {
		clk.add(s.after)
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(start.Add(s.want)) {
			t.Fatalf("step %d: last used %v, want %v", i, got, start.Add(s.want))
		}
	}
}

func TestAuthenticatedPrincipalsAreIndependentCopies(t *testing.T) {
	a, _, _ := newAccounts(t)
	tok := issue(t, a, "alice", RoleViewer, nil, 0)
	p1, err := a.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p1.Perms = append(p1.Perms[:0], PermUsersAdmin)
	p2, err := a.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Can(PermUsersAdmin) {
		t.Fatal("editing one request's Principal changed the cached one")
	}
}

func TestRolesRefuseBuiltinNamesAndUnknownPermissions(t *testing.T) {
	a, _, _ := newAccounts(t)
	ctx := context.Background()
	if err := a.PutRole(ctx, RoleAgent, []string{"users:admin"}); err == nil {
		t.Fatal("redefined the agent role")
	}
	if err := a.PutRole(ctx, "qa", []string{"calls:reed"}); err == nil || !strings.Contains(err.Error(), "calls:reed") {
		t.Fatalf("unknown permission: %v", err)
	}
	if _, err := a.AddUser(ctx, "x", "nosuchrole", nil); err == nil {
		t.Fatal("user with an undefined role")
	}
	if _, _, err := a.IssueToken(ctx, "nobody", "t", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token for a missing user: %v", err)
	}
}

func TestNewTokenIsPrefixedRandomAndHashed(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != 46 || !wellFormed(tok) {
			t.Fatalf("token %q", tok)
		}
		if hash != HashToken(tok) || seen[tok] {
			t.Fatalf("token %q repeated or hash mismatch", tok)
		}
		seen[tok] = true
	}
}

func TestPrincipalPhoneMasksWithoutUnmask(t *testing.T) {
	cases := []struct {
		name string
		p    *Principal
		in   string
		want string
	}{
		{"agent", &Principal{Perms: []Permission{PermContactsRead}}, "13812345678", "138****5678"},
		{"supervisor", &Principal{Perms: []Permission{PermUnmask}}, "13812345678", "13812345678"},
		{"nil principal", nil, "13812345678", "138****5678"},
		{"international", &Principal{}, "+8613812345678", "+86****5678"},
		{"empty stays empty", &Principal{}, "", ""},
	}
	for _, tc := range cases {
		if got := tc.p.Phone(tc.in); got != tc.want {
			t.Errorf("%s: Phone(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestMaskDigitsHidesPhoneNumbersInText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"called 13812345678 twice", "called 138****5678 twice"},
		{"to +8613812345678.", "to +86****5678."},
		{"campaign 42 contact 123456", "campaign 42 contact 123456"},
		{"a 1234567 b 7654321", "a 1****7 b 7****1"},
		{"", ""},
		{"+ 12", "+ 12"},
	}
	for _, tc := range cases {
		if got := MaskDigits(tc.in); got != tc.want {
			t.Errorf("MaskDigits(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAuditLogRecordsSearchesAndVerifies(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewAuditLog(AuditConfig{Store: st, Now: clk.now})
	ctx := context.Background()
	remote := netip.MustParseAddr("::ffff:192.0.2.9")
	for i, action := range []string{"contact.read", "campaign.create", "recording.download"} {
		if err := l.Record(ctx, AuditEntry{UserID: 1, User: "alice", Action: action, Object: "contact:7",
			Remote: remote, Detail: "dialled 13812345678"}); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Duration(i+1) * 24 * time.Hour)
	}
	if err := l.Record(ctx, AuditEntry{Action: "audit.verify"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, AuditEntry{User: "x"}); err == nil {
		t.Fatal("entry without an action accepted")
	}
	rows, err := l.Search(ctx, store.AuditQuery{User: "alice", Action: "contact.read"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("search %v %v", rows, err)
	}
	if r := rows[0]; r.Remote != "192.0.2.9" || r.Detail != "dialled 138****5678" || !r.At.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("row %+v", r)
	}
	sys, err := l.Search(ctx, store.AuditQuery{User: "system"})
	if err != nil || len(sys) != 1 || sys[0].Action != "audit.verify" {
		t.Fatalf("system entry %v %v", sys, err)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.Rows != 4 {
		t.Fatalf("verify %+v %v", rep, err)
	}
}

func TestAuditLogPrunesPastRetentionOnly(t *testing.T) {
	cases := []struct {
		name      string
		retention time.Duration
		pruned    int
	}{
		{"default 180 days", 0, 2},
		{"custom 30 days", 30 * 24 * time.Hour, 3},
		{"negative keeps all", -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clk := &clock{t: start}
			l := NewAuditLog(AuditConfig{Store: st, Now: clk.now, Retention: tc.retention})
			ctx := context.Background()
			for _, age := range []int{400, 200, 100, 10} { // days before "now"
				if err := l.Record(ctx, AuditEntry{At: start.AddDate(0, 0, -age), User: "u", Action: "contact.read"}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := l.Prune(ctx)
			if err != nil || n != tc.pruned {
				t.Fatalf("pruned %d %v, want %d", n, err, tc.pruned)
			}
			rep, err := l.Verify(ctx)
			if err != nil || !rep.OK {
				t.Fatalf("verify after prune %+v %v", rep, err)
			}
		})
	}
}

func TestAuditLogRunStopsWithItsContext(t *testing.T) {
	l := NewAuditLog(AuditConfig{Store: openStore(t), PruneEvery: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestAllPermissionsAreInAdmin(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	for _, p := range AllPermissions() {
		if !slices.Contains(admin, p) {
			t.Errorf("admin lacks %s", p)
		}
	}
	for _, r := range BuiltinRoleNames() {
		perms, ok := BuiltinRole(r)
		if !ok || len(perms) == 0 {
			t.Errorf("built-in role %s empty", r)
		}
		if _, err := ParsePermissions(toStrings(perms)); err != nil {
			t.Errorf("role %s: %v", r, err)
		}
	}
}

func toStrings(ps []Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func BenchmarkAuthenticateCached(b *testing.B) {
	st := openStore(b)
	a := NewAccounts(AccountsConfig{Store: st, CacheTTL: time.Hour, TouchEvery: time.Hour})
	ctx := context.Background()
	if _, err := a.AddUser(ctx, "u", RoleAgent, nil); err != nil {
		b.Fatal(err)
	}
	tok, _, err := a.IssueToken(ctx, "u", "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateUncached(b *testing.B) {
	st := openStore(b)
	a := NewAccounts(AccountsConfig{Store: st, CacheTTL: -1, TouchEvery: time.Hour})
	ctx := context.Background()
	if _, err := a.AddUser(ctx, "u", RoleAgent, nil); err != nil {
		b.Fatal(err)
	}
	tok, _, err := a.IssueToken(ctx, "u", "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateRejectsUnknown(b *testing.B) {
	a := NewAccounts(AccountsConfig{Store: openStore(b)})
	tok, _, err := NewToken()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(context.Background(), tok); err == nil {
			b.Fatal("unknown token accepted")
		}
	}
}
