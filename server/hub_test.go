package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/server/auth"
)

// wsDial opens /ws/events with query (token included there or in header).
func (f *fixture) wsDial(t *testing.T, query, headerToken string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	if headerToken != "" {
		opts.HTTPHeader.Set("Authorization", "Bearer "+f.tokens[headerToken])
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.ts.URL, "http")+"/ws/events"+query, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", query, err)
	}
	c.SetReadLimit(1 << 22)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// waitSubscribers waits until the hub has n subscribers: the upgrade
// returns to the client before the server side has subscribed.
func (f *fixture) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.Hub().Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", f.srv.Hub().Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readMsg(t *testing.T, c *websocket.Conn) wsMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m wsMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// readEvent skips KPI snapshots up to the next event or dropped notice.
func readEvent(t *testing.T, c *websocket.Conn) wsMessage {
	t.Helper()
	for {
		if m := readMsg(t, c); m.Type != msgKPIs {
			return m
		}
	}
}

func TestEventsAreFilteredScopedAndMaskedPerSubscriber(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SnapshotInterval = time.Hour })
	agent := f.wsDial(t, "?access_token="+f.tokens[tokAgent], "")
	admin := f.wsDial(t, "", tokAdmin)
	betaOnly := f.wsDial(t, "?campaign="+itoa(f.beta), tokAnalyst)
	f.waitSubscribers(t, 3)

	// A KPI snapshot greets each subscriber that may read KPIs.
	if m := readMsg(t, agent); m.Type != msgKPIs || m.KPIs == nil || m.KPIs.Total.Calls != 1 {
		t.Fatalf("agent's first message %+v", m)
	}

	hub := f.srv.Hub()
	hub.Emit(dialog.Event{Kind: dialog.EventRinging, CallID: "b1", CampaignID: f.beta, Phone: phoneB1})
	hub.Emit(dialog.Event{Kind: dialog.EventDialing, CallID: "x1", Phone: "13700000000"})
	hub.Emit(dialog.Event{Kind: dialog.EventCallerSaid, CallID: "a1", CampaignID: f.alpha, Phone: phoneA1, Text: "yes please, call 13812345678"})

	// The agent sees alpha's event alone, masked.
	m := readEvent(t, agent)
	if m.Type != msgEvent || m.Event.CallID != "a1" || m.Event.Phone != "138****5678" || m.Event.Text != "yes please, call 138****5678" {
		t.Fatalf("agent got %+v %+v", m, m.Event)
	}
	// The admin sees all three, in order, unmasked.
	for _, want := range []string{"b1", "x1", "a1"} {
		m := readEvent(t, admin)
		if m.Event == nil || m.Event.CallID != want {
			t.Fatalf("admin got %+v, want %s", m, want)
		}
		if want == "a1" && (m.Event.Phone != phoneA1 || m.Event.Text != "yes please, call 13812345678") {
			t.Fatalf("admin got %q", m.Event.Phone)
		}
	}
	// The supervisor's ?campaign= filter keeps beta's event only, masked.
	m = readEvent(t, betaOnly)
	if m.Event.CallID != "b1" || m.Event.Phone != "137****0000" {
		t.Fatalf("beta subscriber got %+v", m.Event)
	}
	hub.Emit(dialog.Event{Kind: dialog.EventEnded, CallID: "b1", CampaignID: f.beta})
	if m := readEvent(t, betaOnly); m.Event.Kind != dialog.EventEnded {
		t.Fatalf("beta subscriber got %+v after a1", m.Event)
	}
	if e := f.audit.find("events.subscribe"); len(e) != 3 {
		t.Fatalf("%d subscriptions audited, want 3", len(e))
	}
}

func TestEventsNeedATokenWithEventsRead(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(f.ts.URL, "http") + "/ws/events"
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 401},
		{"?access_token=wrong", 401},
		{"?access_token=" + f.tokens[tokViewerWith(f, auth.PermKPIRead)], 403},
	} {
		_, resp, err := websocket.Dial(ctx, url+tc.query, nil)
		if err == nil || resp == nil || resp.StatusCode != tc.want {
			t.Errorf("%q: %v, want status %d", tc.query, err, tc.want)
		}
	}
}

func TestASlowSubscriberLosesEventsAndIsToldWithoutSlowingEmit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.EventBuffer = 4; c.SnapshotInterval = time.Hour })
	slow := f.wsDial(t, "", tokSuper)
	f.waitSubscribers(t, 1)
	if m := readMsg(t, slow); m.Type != msgKPIs {
		t.Fatalf("first message %+v", m)
	}
	// Events far larger than the socket buffers: the writer blocks on the
	// unread connection, its queue fills, and the rest must be dropped.
	const emitted = 200
	text := strings.Repeat("x", 64<<10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range emitted {
			f.srv.Hub().Emit(dialog.Event{Kind: dialog.EventBotSaid, CallID: "c" + itoa(int64(i)), Text: text})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit blocked on a subscriber that does not read")
	}
	received, dropped := 0, int64(0)
	var last string
	for received+int(dropped) < emitted {
		m := readEvent(t, slow)
		switch m.Type {
		case msgEvent:
			received++
			last = m.Event.CallID
		case msgDropped:
			dropped += m.Dropped
		}
	}
	if dropped == 0 || received+int(dropped) != emitted {
		t.Fatalf("received %d, dropped %d of %d", received, dropped, emitted)
	}
	// The subscriber recovers: the next event arrives.
	f.srv.Hub().Emit(dialog.Event{Kind: dialog.EventEnded, CallID: "after"})
	if m := readEvent(t, slow); m.Type != msgEvent || m.Event.CallID != "after" {
		t.Fatalf("after catching up got %+v (last before: %s)", m, last)
	}
	if got := counterValue(t, f.srv.Metrics(), "waihu_ws_events_dropped_total"); got != float64(dropped) {
		t.Errorf("dropped metric %v, want %d", got, dropped)
	}
}

func TestKPIsArePushedSoonAfterACallEnds(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SnapshotInterval = time.Hour })
	c := f.wsDial(t, "?campaign="+itoa(f.alpha), tokViewerWith(f, "events:read", "kpis:read"))
	f.waitSubscribers(t, 1)
	if m := readMsg(t, c); m.Type != msgKPIs || m.KPIs.CampaignID != f.alpha {
		t.Fatalf("greeting %+v", m)
	}
	f.srv.Hub().Emit(dialog.Event{Kind: dialog.EventEnded, CallID: "a9", CampaignID: f.alpha})
	if m := readMsg(t, c); m.Type != msgEvent {
		t.Fatalf("got %+v, want the ended event", m)
	}
	if m := readMsg(t, c); m.Type != msgKPIs || m.KPIs.Total.Calls != 1 {
		t.Fatalf("got %+v, want a fresh snapshot", m)
	}
}

func TestCloseDisconnectsSubscribers(t *testing.T) {
	f := newFixture(t)
	c := f.wsDial(t, "", tokAdmin)
	f.waitSubscribers(t, 1)
	readMsg(t, c)
	f.srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway {
		t.Fatalf("read after Close: %v, want going away", err)
	}
	if n := f.srv.Hub().Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after Close", n)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestAClosedClientIsUnsubscribed(t *testing.T) {
	f := newFixture(t)
	c := f.wsDial(t, "", tokAdmin)
	f.waitSubscribers(t, 1)
	c.Close(websocket.StatusNormalClosure, "bye")
	f.waitSubscribers(t, 0)
	// Events after it left go nowhere and block nothing.
	f.srv.Hub().Emit(dialog.Event{Kind: dialog.EventDialing, CallID: "late"})
}

// BenchmarkHubEmit is the cost a call pays per event with ten dashboards
// connected, one of them too slow to read.
func BenchmarkHubEmit(b *testing.B) {
	h := newHub(hubConfig{buffer: 256, metrics: NewMetrics()})
	p := &auth.Principal{Perms: []auth.Permission{auth.PermEventsRead}}
	for range 10 {
		sub, err := h.subscribe(p, 0)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				select {
				case <-sub.ch:
				case <-sub.done:
					return
				}
			}
		}()
	}
	if _, err := h.subscribe(p, 0); err != nil { // never read: always full
		b.Fatal(err)
	}
	defer h.close()
	e := dialog.Event{Kind: dialog.EventCallerSaid, CallID: "bench", CampaignID: 1, Text: "yes please"}
	b.ReportAllocs()
	for b.Loop() {
		h.Emit(e)
	}
}
