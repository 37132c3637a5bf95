package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/internal/vault"
	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/store"
)

// startTestNode runs a whole `waihu serve` (SIP, media, control plane) on
// loopback in data, with trunks and the prompt on answered calls.
func startTestNode(t *testing.T, data string, trunks []TrunkConfig, log io.Writer) *node {
	t.Helper()
	cfg := defaultConfig()
	off := false
	cfg.Bot = BotConfig{Enabled: &off}
	cfg.Data = data
	cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.RTP.PortMin, cfg.RTP.PortMax = 40000, 44999
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Trunks = trunks
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	n, err := startNode(context.Background(), cfg, phoneFlags{}, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// get fetches path from n's control plane with token ("" sends none).
func get(t *testing.T, n *node, path, token string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", n.control.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

func TestServeControlPlaneBootstrapsTheAdminOnceAndServesPagesAndAPI(t *testing.T) {
	data := t.TempDir()
	var log lockedBuffer
	n := startTestNode(t, data, nil, &log)
	path := filepath.Join(data, "admin-token")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no admin token file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	token := strings.TrimSpace(string(raw))
	if token == "" || strings.Contains(log.String(), token) || !strings.Contains(log.String(), path) {
		t.Errorf("the log must name %s and never hold the token:\n%s", path, log.String())
	}
	tests := []struct {
		name, path, token string
		wantCode          int
		wantType, want    string
	}{
		{"dashboard", "/", "", 200, "text/html", `<script src="dashboard.js"></script>`},
		{"dashboard script", "/dashboard.js", "", 200, "text/javascript", "window.waihuDashboard"},
		{"softphone without --ws says so", "/phone/", "", 503, "text/html", "--ws"},
		{"API needs a token", "/api/v1/campaigns", "", 401, "application/json", "token"},
		{"API takes the admin token", "/api/v1/campaigns", token, 200, "application/json", `"items"`},
		{"OpenAPI document", "/openapi.json", token, 200, "application/json", `"/api/v1/campaigns"`},
		{"metrics need a token", "/metrics", "", 401, "", ""},
		{"metrics", "/metrics", token, 200, "text/plain", "waihu_"},
		{"live calls", "/api/v1/calls", token, 200, "application/json", `"items"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ct, body := get(t, n, tt.path, tt.token)
			if code != tt.wantCode || !strings.HasPrefix(ct, tt.wantType) || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s: %d %q %.200q; want %d %q containing %q", tt.path, code, ct, body, tt.wantCode, tt.wantType, tt.want)
			}
		})
	}
	if err := n.close(); err != nil {
		t.Fatal(err)
	}

	// A second start finds the admin: it leaves the file and the token alone.
	n = startTestNode(t, data, nil, io.Discard)
	defer n.close()
	again, _ := os.ReadFile(path)
	if !bytes.Equal(raw, again) {
		t.Error("the second start rewrote the admin token file")
	}
	if code, _, _ := get(t, n, "/api/v1/campaigns", token); code != 200 {
		t.Errorf("the first start's token got %d after a restart", code)
	}
	users, err := n.control.st.Users(context.Background())
	if err != nil || len(users) != 1 {
		t.Errorf("users after two starts: %v %v, want the one admin", users, err)
	}
}

func TestServeWithHTTPOffRunsNoControlPlane(t *testing.T) {
	cfg := defaultConfig()
	off := false
	cfg.Bot = BotConfig{Enabled: &off}
	cfg.Data = t.TempDir()
	cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.HTTP.Listen = httpOff
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	n, err := startNode(context.Background(), cfg, phoneFlags{}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if n.control != nil {
		t.Error("http.listen off started the control plane")
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "admin-token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("http.listen off wrote an admin token: %v", err)
	}
}

func TestConfigReadsTheControlPlaneSections(t *testing.T) {
	tests := []struct {
		name, raw, wantErr string
		check              func(Config) bool
	}{
		{"defaults", "", "", func(c Config) bool { return c.HTTP.Listen == "127.0.0.1:8080" && c.Store.DSN == "" }},
		{"address", "http:\n  listen: 0.0.0.0:9000\n  open_metrics: true\n", "", func(c Config) bool {
			return c.HTTP.Listen == "0.0.0.0:9000" && c.HTTP.OpenMetrics
		}},
		{"off", "http:\n  listen: off\n", "", func(c Config) bool { return c.HTTP.Listen == httpOff }},
		{"postgres", "store:\n  dsn: postgres://waihu@db/waihu\n", "", func(c Config) bool { return c.Store.DSN == "postgres://waihu@db/waihu" }},
		{"webhook endpoint", "webhooks:\n  endpoints:\n    - url: https://crm.example/hook\n      secret: 0123456789abcdef0123\n", "", func(c Config) bool {
			return len(c.Webhooks.Endpoints) == 1 && c.Webhooks.Endpoints[0].URL == "https://crm.example/hook"
		}},
		{"bad address", "http:\n  listen: localhost\n", `http.listen "localhost"`, nil},
		{"typo", "http:\n  lisen: 1.2.3.4:80\n", "line 2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			err := parseConfig([]byte(tt.raw), &cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("config %+v %+v", cfg.HTTP, cfg.Store)
			}
		})
	}
}

func TestServeFlagsOverrideTheControlPlaneKeys(t *testing.T) {
	f := flagOverrides{http: "127.0.0.1:9999", dsn: "postgres://x@y/z"}
	cfg, err := f.load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9999" || cfg.Store.DSN != "postgres://x@y/z" {
		t.Errorf("--http/--dsn gave %q %q", cfg.HTTP.Listen, cfg.Store.DSN)
	}
}

func TestLiveCallsFollowACallAndHangItUp(t *testing.T) {
	l := newLiveCalls()
	var hungUp []string
	for _, id := range []string{"b", "a"} {
		l.add(httpapi.CallInfo{ID: id, CampaignID: 7, Phone: "13800000000"}, func() { hungUp = append(hungUp, id) })
		time.Sleep(time.Millisecond) // distinct start times: the list is oldest first
	}
	l.setState("a", "answered")
	got := l.list()
	if len(got) != 2 || got[0].ID != "b" || got[0].State != "dialing" || got[1].State != "answered" || got[1].AnsweredAt.IsZero() ||
		got[0].Direction != "outbound" {
		t.Fatalf("list %+v", got)
	}
	if err := l.hangup("a"); err != nil || !slices.Equal(hungUp, []string{"a"}) {
		t.Errorf("hangup a: %v, hung up %v", err, hungUp)
	}
	l.remove("a")
	if err := l.hangup("a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("hangup of an ended call: %v, want not found", err)
	}
	var none *liveCalls // `waihu campaign start` has no list
	none.add(httpapi.CallInfo{ID: "x"}, func() {})
	if none.list() != nil || !errors.Is(none.hangup("x"), store.ErrNotFound) {
		t.Error("a nil list must list nothing and find nothing")
	}
}

func TestCallEventsStampEachEventWithItsCall(t *testing.T) {
	var got []dialog.Event
	ev := callEvents{sink: dialog.EventFunc(func(e dialog.Event) { got = append(got, e) }), callID: "c1", campaignID: 3, contactID: 9, phone: "13800000000"}
	ev.Emit(dialog.Event{Kind: dialog.EventBotSaid, Text: "hello"}) // as the engine emits it
	ev.emit(dialog.EventEnded, func(e *dialog.Event) { e.Outcome = "completed" })
	callEvents{callID: "c2"}.emit(dialog.EventDialing, nil) // no sink: dropped, no panic
	if len(got) != 2 {
		t.Fatalf("events %+v", got)
	}
	for _, e := range got {
		if e.CallID != "c1" || e.CampaignID != 3 || e.ContactID != 9 || e.Phone != "13800000000" || e.At.IsZero() {
			t.Errorf("event %+v lacks the call's identity", e)
		}
	}
	if got[0].Text != "hello" || got[1].Outcome != "completed" {
		t.Errorf("events lost their own fields: %+v", got)
	}
}

// eventLog is a dialog.EventSink that keeps what it is given.
type eventLog struct {
	mu  sync.Mutex
	evs []dialog.Event
}

func (l *eventLog) Emit(e dialog.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

func (l *eventLog) kinds(id string) []dialog.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []dialog.EventKind
	for _, e := range l.evs {
		if e.CallID == id {
			out = append(out, e.Kind)
		}
	}
	return out
}

// TestPlacedCallIsListedLiveAndHungUpFromTheAPI places a call through the
// control plane's placer to a second waihu (the carrier, answering with its
// prompt): the call is listed while up, reports dialing → answered, and a
// hangup ends it with an ended event, all under the Call-ID waihu chose.
func TestPlacedCallIsListedLiveAndHungUpFromTheAPI(t *testing.T) {
	carrier := startServer(t, "")
	defer carrier.close()
	data := t.TempDir()
	// With a recording key the node seals what it records (security.go).
	if _, err := vault.AppendKey(filepath.Join(data, "recording.keys"), "k1"); err != nil {
		t.Fatal(err)
	}
	n := startTestNode(t, data, []TrunkConfig{{Name: "carrier", Address: carrier.ua.Addr("udp").String(), Transport: "udp"}}, io.Discard)
	defer n.close()
	evs := &eventLog{}
	n.control.dialer.events = sinks{n.control.dialer.events, evs}
	placer := &callPlacer{srv: n.srv, dialer: n.control.dialer}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, bad := range []httpapi.PlaceRequest{{To: "13800000000", Trunk: "nope"}, {To: "not a number"}, {To: "13800000000", Script: "../etc/passwd"}} {
		if _, err := placer.Place(ctx, bad); err == nil {
			t.Errorf("Place(%+v) accepted", bad)
		}
	}
	info, err := placer.Place(ctx, httpapi.PlaceRequest{To: "138 0000 0000"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == "" || info.Phone != "13800000000" || info.Trunk != "carrier" {
		t.Errorf("placed %+v", info)
	}
	answered := testpeer.Eventually(ctx, 10*time.Second, func() bool {
		live := placer.Live()
		return len(live) == 1 && live[0].ID == info.ID && live[0].State == "answered"
	})
	if !answered {
		t.Fatalf("live calls %+v, want the placed call answered", placer.Live())
	}
	if err := placer.Hangup(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if !testpeer.Eventually(ctx, 10*time.Second, func() bool { return len(placer.Live()) == 0 }) {
		t.Fatalf("the call is still listed after its hangup: %+v", placer.Live())
	}
	if !testpeer.Eventually(ctx, 5*time.Second, func() bool { return slices.Contains(evs.kinds(info.ID), dialog.EventEnded) }) ||
		!slices.Equal(evs.kinds(info.ID)[:1], []dialog.EventKind{dialog.EventDialing}) ||
		!slices.Contains(evs.kinds(info.ID), dialog.EventAnswered) {
		t.Errorf("events of %s: %v, want dialing … answered … ended", info.ID, evs.kinds(info.ID))
	}
	if err := placer.Hangup(ctx, info.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second hangup: %v, want not found", err)
	}
	// The node's recording of the answered call bears the same Call-ID, is
	// encrypted at rest, and the API's opener decrypts it.
	plain := filepath.Join(n.srv.recDir, safeFileName(info.ID)+".wav")
	if !testpeer.Eventually(ctx, 5*time.Second, func() bool { _, err := os.Stat(plain + vault.Ext); return err == nil }) {
		t.Fatalf("no sealed recording %s", plain+vault.Ext)
	}
	if _, err := os.Stat(plain); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plain recording is still there: %v", err)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	code, ct, body := get(t, n, "/api/v1/recordings/"+info.ID, strings.TrimSpace(string(tok)))
	if code != 200 || ct != "audio/wav" || len(body) <= 44 || !strings.HasPrefix(body, "RIFF") {
		t.Errorf("GET the recording of %s: %d %s, %d bytes starting %.4q", info.ID, code, ct, len(body), body)
	}
}

// TestCampaignManagerDialsARunningCampaignOnceAndReportsItsEnd: Start is
// idempotent (the API, the adopt loop and a restart may all ask), Status
// shows the Runner's load while it dials, and the end is reported once.
func TestCampaignManagerDialsARunningCampaignOnceAndReportsItsEnd(t *testing.T) {
	carrier := startServer(t, "")
	defer carrier.close()
	n := startTestNode(t, t.TempDir(), []TrunkConfig{{Name: "carrier", Address: carrier.ua.Addr("udp").String(), Transport: "udp"}}, io.Discard)
	defer n.close()
	n.control.dialer.prompt = make([]int16, 8000) // one second of silence per call
	m := n.control.mgr
	var mu sync.Mutex
	var finished []int64
	m.finished = func(_ context.Context, id int64) {
		mu.Lock()
		defer mu.Unlock()
		finished = append(finished, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := n.control.st
	c, err := campaign.Create(ctx, st, "manager", campaign.Settings{Windows: []campaign.Window{{From: "00:00", To: "24:00"}},
		CPS: 10, Trunks: []campaign.TrunkLimit{{Name: "carrier", CPS: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.Import(ctx, st, c.ID, []store.Contact{{Phone: "13800000001"}, {Phone: "13800000002"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Status(c.ID); ok {
		t.Error("a draft campaign has a live status")
	}
	if err := campaign.SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := m.Start(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if st, ok := m.Status(c.ID); !ok || st.InFlight+st.QueueDepth+st.Dialled == 0 && st.Trunks == nil {
		t.Errorf("status while dialling: %+v %v", st, ok)
	}
	done := testpeer.Eventually(ctx, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(finished) > 0
	})
	if !done {
		t.Fatal("the campaign did not finish")
	}
	recs, err := st.CallRecords(ctx, c.ID, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records %+v %v: want one call per contact, however often Start was called", recs, err)
	}
	mu.Lock()
	if !slices.Equal(finished, []int64{c.ID}) {
		t.Errorf("finished reported %v", finished)
	}
	mu.Unlock()
	if _, ok := m.Status(c.ID); ok {
		t.Error("a completed campaign still has a live status")
	}

	// A campaign through a trunk this node lacks is refused, not dialled
	// into failures.
	other, err := campaign.Create(ctx, st, "elsewhere", campaign.Settings{Trunks: []campaign.TrunkLimit{{Name: "other-carrier"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, other.ID); err == nil || !strings.Contains(err.Error(), `trunk "other-carrier"`) {
		t.Errorf("start through an unknown trunk: %v", err)
	}
	if _, ok := m.Status(other.ID); ok {
		t.Error("a refused campaign has a runner")
	}
}

// TestServeControlPlaneLeavesNothingRunningAfterClose: the HTTP server, the
// API's background loop, the campaign adopt loop, audit retention and the
// webhook workers all stop with the node.
func TestServeControlPlaneLeavesNothingRunningAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := startTestNode(t, t.TempDir(), nil, io.Discard)
	if code, _, _ := get(t, n, "/", ""); code != 200 {
		t.Errorf("dashboard: %d", code)
	}
	if err := n.close(); err != nil {
		t.Fatal(err)
	}
}
