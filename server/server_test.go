package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
	"go.uber.org/goleak"
)

// testAudit is the real audit log, which a test can make fail.
type testAudit struct {
	log  *auth.AuditLog
	fail atomic.Bool
}

func (a *testAudit) Record(ctx context.Context, e auth.AuditEntry) error {
	if a.fail.Load() {
		return errors.New("audit disk full")
	}
	return a.log.Record(ctx, e)
}

func (a *testAudit) setFail(v bool) { a.fail.Store(v) }

// find returns the entries of one action, oldest first.
func (a *testAudit) find(action string) []store.AuditRecord {
	recs, err := a.log.Search(context.Background(), store.AuditQuery{Action: action, Limit: 1000})
	if err != nil {
		panic(fmt.Sprintf("search the audit log: %v", err))
	}
	slices.SortFunc(recs, func(x, y store.AuditRecord) int { return int(x.Seq - y.Seq) })
	return recs
}

// fakeCalls stands in for cmd/waihu's user agent.
type fakeCalls struct {
	mu     sync.Mutex
	live   []CallInfo
	placed []PlaceRequest
	hung   []string
	err    error
}

func (c *fakeCalls) Place(_ context.Context, req PlaceRequest) (CallInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return CallInfo{}, c.err
	}
	c.placed = append(c.placed, req)
	info := CallInfo{ID: fmt.Sprintf("placed-%d", len(c.placed)), Phone: req.To, Direction: "outbound",
		Trunk: req.Trunk, Script: req.Script, State: "dialing", StartedAt: time.Now()}
	c.live = append(c.live, info)
	return info, nil
}

func (c *fakeCalls) Live() []CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.live)
}

func (c *fakeCalls) Hangup(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.live, func(ci CallInfo) bool { return ci.ID == id })
	if i < 0 {
		return fmt.Errorf("hang up %s: %w", id, store.ErrNotFound)
	}
	c.live = slices.Delete(c.live, i, i+1)
	c.hung = append(c.hung, id)
	return nil
}

// fakeCampaigns stands in for cmd/waihu's runners.
type fakeCampaigns struct {
	mu       sync.Mutex
	calls    []string
	running  map[int64]CampaignStatus
	startErr error
}

func (f *fakeCampaigns) Start(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("start %d", id))
	if f.startErr != nil {
		return f.startErr
	}
	f.running[id] = CampaignStatus{QueueDepth: 7, InFlight: 2}
	return nil
}

func (f *fakeCampaigns) Pause(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("pause %d", id))
	return nil
}

func (f *fakeCampaigns) Stop(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("stop %d", id))
	delete(f.running, id)
	return nil
}

func (f *fakeCampaigns) Status(id int64) (CampaignStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.running[id]
	return st, ok
}

// memRecordings serves recordings from memory.
type memRecordings map[string][]byte

func (m memRecordings) Open(_ context.Context, callID string) (io.ReadCloser, string, error) {
	b, ok := m[callID]
	if !ok {
		return nil, "", fmt.Errorf("recording of %s: %w", callID, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), "audio/wav", nil
}

// Test users, by the label the tests pass as a token; fixture.do swaps in
// the token issued to that user. The agent is assigned campaign alpha.
const (
	tokAdmin   = "admin"      // built-in admin
	tokSuper   = "supervisor" // built-in supervisor: sees full numbers
	tokAnalyst = "analyst"    // custom: the supervisor's rights without unmask
	tokAgent   = "agent"      // built-in agent, alpha only
	tokDesk    = "desk"       // custom: agent rights plus contacts:write, alpha only
	tokViewer  = "viewer"     // built-in viewer
)

// Phones of the seeded contacts.
const (
	phoneA1 = "13812345678"
	phoneA2 = "13900001111"
	phoneB1 = "13712340000"
)

type fixture struct {
	t        testing.TB
	srv      *Server
	ts       *httptest.Server
	st       store.Store
	audit    *testAudit
	accounts *auth.Accounts
	// tokens maps the labels above to issued tokens.
	tokens  map[string]string
	calls   *fakeCalls
	ctl     *fakeCampaigns
	scripts string
	// alpha and beta are the seeded campaigns; contact ids by phone.
	alpha, beta int64
	contacts    map[string]int64
	// recordID is alpha's answered call record (SIP Call-ID "rec-a1").
	recordID int64
}

type fixtureOpt func(*Config)

func newFixture(t testing.TB, opts ...fixtureOpt) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, audit: &testAudit{log: auth.NewAuditLog(auth.AuditConfig{Store: st})},
		accounts: auth.NewAccounts(auth.AccountsConfig{Store: st, CacheTTL: -1}), tokens: map[string]string{},
		calls: &fakeCalls{}, ctl: &fakeCampaigns{running: map[int64]CampaignStatus{}}, scripts: t.TempDir(), contacts: map[string]int64{}}
	f.seed(ctx)
	var analyst, desk []string
	for _, p := range auth.AllPermissions() {
		if perms, _ := auth.BuiltinRole(auth.RoleSupervisor); slices.Contains(perms, p) && p != auth.PermUnmask {
			analyst = append(analyst, string(p))
		}
		if perms, _ := auth.BuiltinRole(auth.RoleAgent); slices.Contains(perms, p) || p == auth.PermContactsWrite {
			desk = append(desk, string(p))
		}
	}
	f.role(tokAnalyst, analyst)
	f.role(tokDesk, desk)
	for _, u := range []struct {
		name, role string
		campaigns  []int64
	}{
		{tokAdmin, auth.RoleAdmin, nil}, {tokSuper, auth.RoleSupervisor, nil}, {tokAnalyst, tokAnalyst, nil},
		{tokAgent, auth.RoleAgent, []int64{f.alpha}}, {tokDesk, tokDesk, []int64{f.alpha}}, {tokViewer, auth.RoleViewer, nil},
	} {
		f.user(u.name, u.role, u.campaigns)
	}
	cfg := Config{Store: st, Auth: f.accounts, Audit: f.audit, Calls: f.calls, Campaigns: f.ctl,
		Trunks: func() []TrunkInfo {
			return []TrunkInfo{{Name: "carrier", Address: "127.0.0.1:5060", Transport: "udp", Registration: "registered"}}
		},
		ScriptsDir: f.scripts,
		Recordings: memRecordings{"rec-a1": []byte("RIFF-alpha"), "rec-b1": []byte("RIFF-beta"), "inbound-1": []byte("RIFF-in")},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:        func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		f.ts.Close()
		srv.Close()
	})
	return f
}

// role stores a custom role.
func (f *fixture) role(name string, perms []string) {
	f.t.Helper()
	if err := f.accounts.PutRole(context.Background(), name, perms); err != nil {
		f.t.Fatal(err)
	}
}

// user stores a user and issues its token under the label name.
func (f *fixture) user(name, role string, campaigns []int64) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.accounts.AddUser(ctx, name, role, campaigns); err != nil {
		f.t.Fatal(err)
	}
	tok, _, err := f.accounts.IssueToken(ctx, name, "test", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	f.tokens[name] = tok
}

// seed stores two campaigns with contacts, and one finished call in each.
func (f *fixture) seed(ctx context.Context) {
	t := f.t
	a, err := campaign.Create(ctx, f.st, "alpha", campaign.Settings{Trunks: []campaign.TrunkLimit{{Name: "carrier"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := campaign.Create(ctx, f.st, "beta", campaign.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	f.alpha, f.beta = a.ID, b.ID
	if _, err := f.st.AddContacts(ctx, a.ID, []store.Contact{{Phone: phoneA1, Name: "Li"}, {Phone: phoneA2, Name: "Wang"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AddContacts(ctx, b.ID, []store.Contact{{Phone: phoneB1, Name: "Zhao"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		campaign int64
		phone    string
		callID   string
	}{{a.ID, phoneA1, "rec-a1"}, {b.ID, phoneB1, "rec-b1"}} {
		at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
		id := f.call(ctx, c.campaign, c.phone, c.callID, at, "interested")
		if c.callID == "rec-a1" {
			f.recordID = id
		}
	}
}

// call claims phone's contact in campaignID, dials it at at and stores a
// finished record: answered by a human who spoke, with outcome ("" for a
// call that rang out unanswered). It returns the record's id.
func (f *fixture) call(ctx context.Context, campaignID int64, phone, callID string, at time.Time, outcome string) int64 {
	t := f.t
	claimed, err := f.st.ClaimContacts(ctx, store.ClaimRequest{CampaignID: campaignID, Node: "n1", Now: at.Add(time.Hour), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, k := range claimed {
		f.contacts[k.Phone] = k.ID
		if k.Phone != phone {
			if err := f.st.Release(ctx, k.ID, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rec := store.CallRecord{CampaignID: campaignID, ContactID: k.ID, Phone: k.Phone, Node: "n1", Trunk: "carrier",
			SIPCallID: callID, AttemptAt: at}
		if id, err = f.st.BeginAttempt(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.ID = id
		rec.EndedAt = at.Add(65 * time.Second)
		if outcome == "" {
			rec.SIPCode, rec.Disposition, rec.RingingAt = 480, "no_answer", at.Add(time.Second)
		} else {
			rec.AnsweredAt = at.Add(5 * time.Second)
			rec.SIPCode, rec.Disposition, rec.AnsweredBy, rec.Outcome = 200, "answered", "human", outcome
			rec.Transcript = json.RawMessage(`[{"side":"caller","text":"yes please, on ` + phone + `","at":1500000000}]`)
		}
		if err := f.st.FinishAttempt(ctx, rec, store.ContactUpdate{State: store.StateDone, LastDisposition: rec.Disposition}); err != nil {
			t.Fatal(err)
		}
	}
	if id == 0 {
		t.Fatalf("contact %s of campaign %d was not due", phone, campaignID)
	}
	return id
}

// response is one answered request.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error response without a message: %s", r.body)
	}
	return e
}

// do sends one request; contentType defaults to JSON when a body is given.
func (f *fixture) do(method, path, token, contentType, body string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if tok, ok := f.tokens[token]; ok {
		token = tok
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" && contentType == "" {
		contentType = mediaJSON
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// doHeader sends a bodiless request with a raw Authorization header.
func (f *fixture) doHeader(method, path, authorization string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) get(path, token string) response { return f.do("GET", path, token, "", "") }

// must fails the test unless the response has status want.
func (r response) must(t *testing.T, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

func TestNewRefusesConfigWithoutStoreAuthOrAudit(t *testing.T) {
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	full := Config{Store: st, Auth: auth.NewAccounts(auth.AccountsConfig{Store: st}), Audit: auth.NewAuditLog(auth.AuditConfig{Store: st})}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{Auth: full.Auth, Audit: full.Audit}, "Store"},
		{"no auth", Config{Store: st, Audit: full.Audit}, "Auth"},
		{"no audit", Config{Store: st, Auth: full.Auth}, "Audit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want ErrConfig naming %s", err, tc.want)
			}
		})
	}
	s, err := New(full)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := New(Config{Store: st, Auth: auth.NewAccounts(auth.AccountsConfig{Store: st}), Audit: auth.NewAuditLog(auth.AuditConfig{Store: st}),
		SnapshotInterval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Hub().Emit(dialog.Event{Kind: dialog.EventEnded, CallID: "x"})
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
