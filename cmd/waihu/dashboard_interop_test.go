//go:build interop

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/server/webhook"
	"github.com/waihu/waihu/store"
)

// controlRig is `waihu serve` with its control plane on loopback and the
// admin token its first start wrote, for tests that drive it over HTTP and
// from Chromium.
type controlRig struct {
	n        *node
	token    string
	base     string // http://127.0.0.1:PORT
	log      *lockedBuffer
	node     string // the node program
	chromium string
	webDir   string
}

// startControlRig starts a node with trunks, the prompt (or bc's bot) on
// answered calls, and the softphone's WebSocket when ph.ws is set; edit
// changes the rest of the config.
func startControlRig(t *testing.T, trunks []TrunkConfig, bc BotConfig, ph phoneFlags, edit ...func(*Config)) *controlRig {
	t.Helper()
	r := &controlRig{}
	r.chromium = peer(t, "chromium", "chromium-browser")
	r.node = peer(t, "node")
	r.webDir = playwright(t)
	cfg := defaultConfig()
	cfg.Bot = bc
	cfg.Data = t.TempDir()
	cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
	base := testpeer.FreeUDPRange(t, 40)
	cfg.RTP.BindIP, cfg.RTP.PortMin, cfg.RTP.PortMax = "127.0.0.1", base, base+39
	cfg.Trunks = trunks
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Inbound.MaxDuration = 45 * time.Second // bounds every call, placed or answered
	for _, e := range edit {
		e(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	r.log = &lockedBuffer{}
	var w io.Writer = r.log
	if os.Getenv("WAIHU_TEST_LOG") != "" {
		w = io.MultiWriter(r.log, os.Stderr)
	}
	n, err := startNode(context.Background(), cfg, ph, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.n = n
	t.Cleanup(func() {
		if err := n.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	tok, err := os.ReadFile(filepath.Join(cfg.Data, "admin-token"))
	if err != nil {
		t.Fatalf("the first start wrote no admin token: %v", err)
	}
	r.token = strings.TrimSpace(string(tok))
	if strings.Contains(r.log.String(), r.token) {
		t.Error("the admin token is in the log")
	}
	r.base = strings.TrimSuffix(n.control.url("/"), "/")
	return r
}

// api calls the REST API as the admin and decodes the JSON answer into out.
func (r *controlRig) api(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// runDriver runs a web/test driver with args and decodes its JSON line.
func (r *controlRig) runDriver(t *testing.T, timeout time.Duration, out any, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.node, append([]string{filepath.Join(r.webDir, "test", script), "--chromium", r.chromium}, args...)...)
	cmd.Dir = r.webDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, runErr := cmd.Output()
	if err := json.Unmarshal(bytes.TrimSpace(stdout), out); err != nil {
		t.Fatalf("%s output %q (%v): %v\nstderr: %s", script, stdout, runErr, err, stderr.String())
	}
}

type dashFigures struct {
	State    string `json:"state"`
	Placed   int    `json:"placed"`
	Finished int    `json:"finished"`
	InFlight int    `json:"inFlight"`
	ASR      *struct {
		Text  string   `json:"text"`
		Value *float64 `json:"value"`
	} `json:"asr"`
	Ticker       map[string]int `json:"ticker"`
	TickerText   []string       `json:"tickerText"`
	LiveCallRows int            `json:"liveCallRows"`
	KPIUpdates   int            `json:"kpiUpdates"`
}

type dashResult struct {
	Error           string       `json:"error"`
	Console         []string     `json:"console"`
	BadTokenError   string       `json:"badTokenError"`
	TokenStored     bool         `json:"tokenStored"`
	Before          dashFigures  `json:"before"`
	During          *dashFigures `json:"during"`
	After           dashFigures  `json:"after"`
	MaxPlaced       int          `json:"maxPlaced"`
	MaxLiveCallRows int          `json:"maxLiveCallRows"`
	ChartPoints     int          `json:"chartPoints"`
	Segments        int          `json:"segments"`
	// WatchedMs is how long after Start the page showed every figure;
	// FirstMs when each first did.
	WatchedMs int            `json:"watchedMs"`
	FirstMs   map[string]int `json:"firstMs"`
	HungUp    *struct {
		ID           string `json:"id"`
		EndedAfterMs int    `json:"endedAfterMs"`
		RowGone      bool   `json:"rowGone"`
	} `json:"hungUp"`
	SegmentsText string `json:"segmentsText"`
	ZH           struct {
		Lang           string `json:"lang"`
		ASRLabel       string `json:"asrLabel"`
		CampaignsTitle string `json:"campaignsTitle"`
	} `json:"zh"`
}

// TestDashboardStartsACampaignAndShowsItsFiguresLive is the browser proof of
// the control plane: a campaign is created and filled through the REST API,
// Chromium opens the dashboard, logs in with the admin token the first
// start wrote, clicks Start, and the page's figures change as sipp (the
// carrier, answering and echoing RTP) takes the calls: calls placed, live
// call rows, "ended" rows in the ticker, an answer-seizure ratio above zero
// and a point on the hourly chart; a live call hung up from its row ends at
// once.
func TestDashboardStartsACampaignAndShowsItsFiguresLive(t *testing.T) {
	testpeer.Need(t, "sipp")
	const contacts = 3
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioUAS, RTPEcho: true,
		Calls: contacts, Limit: contacts, Timeout: 150 * time.Second})
	crm := newCRM(t)
	off := false
	r := startControlRig(t, []TrunkConfig{{Name: "carrier", Address: sipp.Addr(), Transport: "udp"}}, BotConfig{Enabled: &off}, phoneFlags{},
		func(c *Config) {
			c.Webhooks.Endpoints = []webhook.EndpointSettings{{URL: crm.srv.URL, Secret: crmSecret}}
		})

	var c struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	r.api(t, "POST", "/api/v1/campaigns", map[string]any{"name": "dashboard", "settings": map[string]any{
		"windows": []map[string]string{{"from": "00:00", "to": "24:00"}}, "cps": 5, "concurrency": contacts,
		"trunks": []map[string]any{{"name": "carrier", "cps": 5}}}}, &c)
	var imp struct{ Added int }
	r.api(t, "POST", fmt.Sprintf("/api/v1/campaigns/%d/contacts", c.ID), map[string]any{"contacts": []map[string]any{
		{"phone": "13800000001", "name": "Li", "custom": map[string]any{"age": 31}},
		{"phone": "13800000002", "name": "Wang", "custom": map[string]any{"age": 45}},
		{"phone": "13800000003", "name": "Zhang", "custom": map[string]any{"age": 58}},
	}}, &imp)
	if c.State != "draft" || imp.Added != contacts {
		t.Fatalf("campaign %+v, %d contacts added: want a draft with %d", c, imp.Added, contacts)
	}

	shot := filepath.Join(artifactDir(t), "dashboard.png")
	driverFrom := time.Now()
	defer func() { t.Logf("driver ran %v", time.Since(driverFrom)) }()
	var got dashResult
	r.runDriver(t, 2*time.Minute, &got, "dashboard.mjs", "--url", r.base+"/", "--token", r.token,
		"--campaign", fmt.Sprint(c.ID), "--want-ended", fmt.Sprint(contacts), "--timeout", "90", "--screenshot", shot, "--hangup", "1")
	t.Logf("page: first figure after start (ms) %v; all there after %d ms", got.FirstMs, got.WatchedMs)
	t.Logf("dashboard: before %+v\nduring %+v\nafter %+v\nticker %q\nscreenshot %s", got.Before, got.During, got.After, got.After.TickerText, shot)
	if got.Error != "" {
		t.Fatalf("driver: %s\nconsole: %v\nserver log:\n%s", got.Error, got.Console, r.log.String())
	}
	if got.BadTokenError == "" || !got.TokenStored {
		t.Errorf("a bad token showed %q; the good one stored in sessionStorage: %v", got.BadTokenError, got.TokenStored)
	}
	if got.Before.State != "draft" || got.Before.Placed != 0 || got.Before.Finished != 0 || (got.Before.ASR != nil && got.Before.ASR.Value != nil) {
		t.Errorf("before start the page showed %+v: want a draft with nothing placed and no answer-seizure ratio", got.Before)
	}
	if got.MaxPlaced < 1 || got.MaxLiveCallRows < 1 || got.During == nil {
		t.Errorf("the page never showed calls placed (max %d) or live calls (max %d rows)", got.MaxPlaced, got.MaxLiveCallRows)
	}
	a := got.After
	if a.Placed != contacts {
		t.Errorf("after the campaign completed the page shows %d calls placed, want %d", a.Placed, contacts)
	}
	if a.Finished != contacts || a.Ticker["ended"] < contacts || a.Ticker["answered"] < contacts || a.Ticker["dialing"] < contacts {
		t.Errorf("after the calls the page showed %d finished and ticker %v: want %d of each", a.Finished, a.Ticker, contacts)
	}
	if a.ASR == nil || a.ASR.Value == nil || *a.ASR.Value <= 0 {
		t.Errorf("answer-seizure ratio card %+v: want a figure above zero", a.ASR)
	}
	if a.KPIUpdates < 2 {
		t.Errorf("the KPIs were updated %d times: want the load and at least one live snapshot", a.KPIUpdates)
	}
	if got.ChartPoints < 1 {
		t.Errorf("the hourly chart has %d points, want this hour's", got.ChartPoints)
	}
	// The greeting lasts about 8 s: a hangup from the page ends the call
	// well before it would have.
	if h := got.HungUp; h == nil || h.ID == "" || h.EndedAfterMs > 4000 || !h.RowGone {
		t.Errorf("hangup from the live call row: %+v, want the call ended within 4 s and its row gone", h)
	} else {
		t.Logf("hung up %s from the page: ended %d ms later", h.ID, h.EndedAfterMs)
	}
	if got.Segments < 1 {
		t.Errorf("segments panel %q: want the contacts' segments", got.SegmentsText)
	}
	if got.ZH.Lang != "zh-CN" || got.ZH.ASRLabel != "接通率" || got.ZH.CampaignsTitle != "外呼任务" {
		t.Errorf("language toggle: %+v, want zh-CN labels", got.ZH)
	}

	// What the page showed is what the store holds and sipp saw.
	recs, err := r.n.control.st.CallRecords(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	answered := 0
	for _, rec := range recs {
		if rec.Disposition == "answered" && rec.SIPCode == 200 {
			answered++
		}
	}
	if len(recs) != contacts || answered != contacts {
		t.Errorf("store: %d records, %d answered, want %d", len(recs), answered, contacts)
	}
	cur, err := r.n.control.st.Campaign(ctx, c.ID)
	if err != nil || cur.State != store.CampaignCompleted {
		t.Errorf("campaign %+v, %v: want completed", cur, err)
	}
	if res := sipp.Wait(ctx); res.Successful != contacts {
		t.Errorf("sipp: %d successful calls, want %d\n%s", res.Successful, contacts, sipp.Diagnostics())
	}
	// The CRM heard of every call and of the campaign's end, signed.
	if !testpeer.Eventually(ctx, 20*time.Second, func() bool {
		n := crm.count()
		return n[webhook.TypeCallCompleted] >= contacts && n[webhook.TypeCampaignFinished] >= 1
	}) {
		t.Errorf("webhooks received %v, want %d %s and one %s", crm.count(), contacts, webhook.TypeCallCompleted, webhook.TypeCampaignFinished)
	}
	if bad := crm.badSignatures(); bad > 0 {
		t.Errorf("%d webhooks failed signature verification", bad)
	}
	// /metrics counted the 200s and the RTP of each leg.
	req, _ := http.NewRequest("GET", r.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{fmt.Sprintf(`waihu_sip_responses_total{class="2xx",code="200"} %d`, contacts), "waihu_rtp_packets_expected_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

const crmSecret = "a-test-secret-of-32-bytes-length!"

// crm is a webhook receiver on loopback that verifies each signature.
type crm struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int
	bad int
}

func newCRM(t *testing.T) *crm {
	c := &crm{got: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &msg)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := webhook.Verify(crmSecret, r.Header, body, time.Now(), 0); err != nil {
			c.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.got[msg.Type]++
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crm) count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.got)
}

func (c *crm) badSignatures() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad
}

// artifactDir is where browser tests leave screenshots for CI to keep:
// $WAIHU_ARTIFACTS, else waihu-artifacts in the system's temporary directory
// (/tmp/waihu-artifacts), the path the README names.
func artifactDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("WAIHU_ARTIFACTS")
	if d == "" {
		d = filepath.Join(os.TempDir(), "waihu-artifacts")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

type transcriptLine struct {
	Kind    string `json:"kind"`
	Text    string `json:"text"`
	Intent  string `json:"intent"`
	Outcome string `json:"outcome"`
}

type phoneTranscriptResult struct {
	Error                  string           `json:"error"`
	Console                []string         `json:"console"`
	Events                 []string         `json:"events"`
	CallID                 string           `json:"callId"`
	TranscriptLive         []transcriptLine `json:"transcriptLive"`
	StatusDuringTranscript string           `json:"statusDuringTranscript"`
	TranscriptText         string           `json:"transcriptText"`
	Transcript             []transcriptLine `json:"transcript"`
}

// TestSoftphoneShowsTheBotsWordsLive calls the demo bot from the softphone
// page with an API token: the page follows /ws/events for its own call
// (matched by the INVITE's Call-ID) and shows the bot's greeting and the
// caller's words while the call is up, then the call's end with its outcome.
func TestSoftphoneShowsTheBotsWordsLive(t *testing.T) {
	testpeer.Need(t, "flite")
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pocketsphinx-en-us is not installed")
		}
		t.Skip("pocketsphinx-en-us is not installed")
	}
	espeak := peer(t, "espeak-ng")
	dir := t.TempDir()
	src := filepath.Join(dir, "yes.wav")
	if out, err := exec.Command(espeak, "-v", "en-us", "-s", "140", "-w", src, "Yes please.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	raw, rate := readPCM16(t, src)
	// Chromium loops the file: three seconds of silence after the answer
	// leave the bot room to finish its turn.
	raw = append(raw, make([]int16, 3*rate)...)
	capture := filepath.Join(dir, "yes48k.wav")
	if err := os.WriteFile(capture, wav48k(raw, rate), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startControlRig(t, nil, BotConfig{}, phoneFlags{ws: "127.0.0.1:0"})
	if r.n.srv.bot == nil {
		t.Fatalf("the demo bot did not start:\n%s", r.log.String())
	}
	shot := filepath.Join(artifactDir(t), "softphone-transcript.png")
	var got phoneTranscriptResult
	r.runDriver(t, 2*time.Minute, &got, "drive.mjs", "--url", r.base+"/phone/?raw=1&target="+demoTarget,
		"--wav", capture, "--talk", "2", "--token", r.token, "--screenshot", shot)
	t.Logf("softphone: call %s, live transcript %+v (status %q), final %+v, screenshot %s", got.CallID, got.TranscriptLive,
		got.StatusDuringTranscript, got.Transcript, shot)
	if got.Error != "" {
		t.Fatalf("driver: %s\nevents %v\nconsole %v\nserver log:\n%s", got.Error, got.Events, got.Console, r.log.String())
	}
	var botGreeting, callerSaid bool
	for _, l := range got.TranscriptLive {
		botGreeting = botGreeting || l.Kind == "bot_said" && strings.Contains(l.Text, "demo bot")
		callerSaid = callerSaid || l.Kind == "caller_said" && l.Text != ""
	}
	if !botGreeting || !callerSaid || got.StatusDuringTranscript != "in call" {
		t.Errorf("while the call was %q the page showed %+v: want the bot's greeting and the caller's words", got.StatusDuringTranscript, got.TranscriptLive)
	}
	if !strings.Contains(got.TranscriptText, "Bot: Hello, this is the waihu demo bot") {
		t.Errorf("transcript on the page: %q", got.TranscriptText)
	}
	if n := len(got.Transcript); n == 0 || got.Transcript[n-1].Kind != "ended" || got.Transcript[n-1].Outcome == "" {
		t.Errorf("transcript %+v: want it to end with the call's outcome", got.Transcript)
	}
	if got.CallID == "" || !strings.Contains(r.log.String(), "call_id="+got.CallID) {
		t.Errorf("the page's Call-ID %q is not the server's call id", got.CallID)
	}
}
