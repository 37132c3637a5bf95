package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/waihu/waihu/store"
	"github.com/waihu/waihu/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// start is the fake clock's first instant, on a whole second.
var start = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// clock is an injectable time that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// reply is what the receiver answers one request with.
type reply struct {
	status     int
	retryAfter string
	// hang holds the request until the client gives up (a timeout).
	hang bool
	// drop closes the connection without an answer (a network error).
	drop bool
	body string
	// location is a redirect's target.
	location string
}

// hit is one request the receiver got.
type hit struct {
	at        time.Time // the receiver's clock
	id        string
	eventType string
	body      []byte
	verifyErr error
}

// receiver is a CRM: it verifies every request's signature against its clock
// and answers the n-th request (from 0) with script(n).
type receiver struct {
	srv    *httptest.Server
	clock  *clock
	secret string
	script func(n int) reply

	mu   sync.Mutex
	hits []hit
}

func newReceiver(t *testing.T, c *clock, secret string, script func(n int) reply) *receiver {
	r := &receiver{clock: c, secret: secret, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		Type string `json:"type"`
	}
	json.Unmarshal(body, &env)
	h := hit{at: r.clock.Now(), id: req.Header.Get(HeaderID), eventType: env.Type, body: body,
		verifyErr: Verify(r.secret, req.Header, body, r.clock.Now(), 5*time.Minute)}
	r.mu.Lock()
	n := len(r.hits)
	r.hits = append(r.hits, h)
	r.mu.Unlock()
	if h.verifyErr != nil {
		http.Error(w, h.verifyErr.Error(), http.StatusUnauthorized)
		return
	}
	rep := reply{status: http.StatusNoContent}
	if r.script != nil {
		rep = r.script(n)
	}
	switch {
	case rep.hang:
		select {
		case <-req.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	case rep.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if rep.location != "" {
		w.Header().Set("Location", rep.location)
	}
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (r *receiver) Hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// openStore opens a store, closed at the end of the test.
func openStore(t *testing.T, cfg store.Config) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// quiet is a logger for tests that expect failures.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newDispatcher(t *testing.T, st store.Store, c *clock, endpoints ...Endpoint) *Dispatcher {
	t.Helper()
	d, err := New(Config{Store: st, Endpoints: endpoints, Now: c.Now, Rand: func() float64 { return 0 },
		Timeout: 200 * time.Millisecond, Logger: quiet(), Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// drain delivers what is due and moves the clock to the next due time until
// nothing is pending, as minutes and hours pass for the dispatcher.
func drain(t *testing.T, d *Dispatcher, st store.Store, c *clock) {
	t.Helper()
	ctx := testCtx(t)
	for range 100 {
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		next, ok, err := st.NextDeliveryAt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if next.After(c.Now()) {
			c.Set(next)
		}
	}
	t.Fatal("deliveries still pending after 100 rounds")
}

// offsets are the hits' times from the first, in minutes.
func offsets(hits []hit) []float64 {
	var out []float64
	for _, h := range hits {
		out = append(out, h.at.Sub(hits[0].at).Minutes())
	}
	return out
}

func event(id string) Event {
	return Event{ID: id, Type: TypeCallCompleted, Data: map[string]any{"call_id": 1}}
}

func onlyDelivery(t *testing.T, st store.Store) store.Delivery {
	t.Helper()
	all, err := st.Deliveries(testCtx(t), store.DeliveryQuery{})
	if err != nil || len(all) != 1 {
		t.Fatalf("deliveries %v, %v; want one", all, err)
	}
	return all[0]
}

func TestDispatcherRetriesOnTheBackoffScheduleUntilDelivered(t *testing.T) {
	failures := map[string]reply{
		"500":                {status: 500, body: "database down"},
		"502":                {status: 502},
		"503":                {status: 503},
		"408":                {status: 408},
		"timeout":            {hang: true},
		"connection dropped": {drop: true},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: start}
			st := openStore(t, store.Config{DataDir: t.TempDir()})
			rcv := newReceiver(t, c, testSecret, func(n int) reply {
				if n < 4 {
					return fail
				}
				return reply{status: 200}
			})
			d := newDispatcher(t, st, c, Endpoint{URL: rcv.srv.URL + "/hooks/waihu", Secret: testSecret})
			if n, err := d.Enqueue(testCtx(t), event("msg_retry")); err != nil || n != 1 {
				t.Fatalf("enqueue: %d, %v", n, err)
			}
			drain(t, d, st, c)

			hits := rcv.Hits()
			if got, want := fmt.Sprint(offsets(hits)), fmt.Sprint([]float64{0, 1, 3, 7, 15}); got != want {
				t.Fatalf("attempts at minutes %s, want %s (back-off 1, 2, 4, 8)", got, want)
			}
			for i, h := range hits {
				if h.verifyErr != nil || h.id != "msg_retry" || !bytes.Equal(h.body, hits[0].body) {
					t.Fatalf("attempt %d: id %s, verify %v, body %s", i+1, h.id, h.verifyErr, h.body)
				}
			}
			del := onlyDelivery(t, st)
			if del.State != store.DeliveryDelivered || del.Attempts != 5 || del.LastStatus != 200 ||
				!del.DeliveredAt.Equal(start.Add(15*time.Minute)) || !del.FirstAttemptAt.Equal(start) {
				t.Fatalf("delivery %+v", del)
			}
		})
	}
}

func TestDispatcherJitterOnlyStretchesTheBackoff(t *testing.T) {
	c := &clock{t: start}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	rcv := newReceiver(t, c, testSecret, func(n int) reply {
		if n < 3 {
			return reply{status: 500}
		}
		return reply{status: 200}
	})
	d, err := New(Config{Store: st, Endpoints: []Endpoint{{URL: rcv.srv.URL, Secret: testSecret}}, Now: c.Now,
		Rand: func() float64 { return 0.5 }, Jitter: 0.2, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enqueue(testCtx(t), event("msg_jitter")); err != nil {
		t.Fatal(err)
	}
	drain(t, d, st, c)
	// Each delay grows by Jitter × Rand = 10 %: 1.1, 2.2, 4.4 minutes.
	if got, want := fmt.Sprint(offsets(rcv.Hits())), fmt.Sprint([]float64{0, 1.1, 3.3, 7.7}); got != want {
		t.Fatalf("attempts at minutes %s, want %s", got, want)
	}
}

func TestDispatcherGivesUpTwentyFourHoursAfterTheFirstAttempt(t *testing.T) {
	c := &clock{t: start}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	rcv := newReceiver(t, c, testSecret, func(int) reply { return reply{status: 503} })
	d := newDispatcher(t, st, c, Endpoint{URL: rcv.srv.URL, Secret: testSecret})
	if _, err := d.Enqueue(testCtx(t), event("msg_doomed")); err != nil {
		t.Fatal(err)
	}
	// Queued an hour before the first attempt: the day counts from the attempt.
	c.Set(start.Add(time.Hour))
	drain(t, d, st, c)

	// Doubling from 1 minute, the 11th delay (1024 min) would pass the day's
	// end: the last attempt lands on it instead, and then the delivery fails.
	want := []float64{0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 1440}
	if got := offsets(rcv.Hits()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("attempts at minutes %v, want %v", got, want)
	}
	del := onlyDelivery(t, st)
	if del.State != store.DeliveryFailed || del.Attempts != len(want) || del.LastStatus != 503 ||
		!del.FailedAt.Equal(start.Add(25*time.Hour)) || !strings.Contains(del.LastError, "503") {
		t.Fatalf("delivery %+v", del)
	}
	for _, h := range rcv.Hits() {
		if h.verifyErr != nil {
			t.Fatalf("attempt at %v: %v (each attempt is signed afresh)", h.at, h.verifyErr)
		}
	}
}

func TestDispatcherFailsAtOnceOnOtherClientErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"400 bad request", 400, "400 Bad Request: unknown lead"},
		{"404 not found", 404, "404 Not Found"},
		{"410 gone", 410, "410 Gone"},
		{"422 unprocessable", 422, "422 Unprocessable Entity"},
		{"redirect is not followed", 308, "redirects are not followed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: start}
			st := openStore(t, store.Config{DataDir: t.TempDir()})
			rcv := newReceiver(t, c, testSecret, func(int) reply {
				if tc.status == 308 {
					return reply{status: 308, location: "/elsewhere?token=hidden"}
				}
				return reply{status: tc.status, body: "unknown lead"}
			})
			d := newDispatcher(t, st, c, Endpoint{URL: rcv.srv.URL, Secret: testSecret})
			if _, err := d.Enqueue(testCtx(t), event("msg_refused")); err != nil {
				t.Fatal(err)
			}
			drain(t, d, st, c)
			if n := len(rcv.Hits()); n != 1 {
				t.Fatalf("%d attempts, want 1", n)
			}
			del := onlyDelivery(t, st)
			if del.State != store.DeliveryFailed || del.Attempts != 1 || del.LastStatus != tc.status ||
				!strings.Contains(del.LastError, tc.want) || strings.Contains(del.LastError, "hidden") {
				t.Fatalf("delivery %+v; want failed with %q and no token", del, tc.want)
			}
		})
	}
}

func TestDispatcherHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter func(now time.Time) string
		wantMin    float64
	}{
		{"429 with seconds", 429, func(time.Time) string { return "600" }, 10},
		{"503 with an HTTP date", 503, func(now time.Time) string {
			return now.Add(30 * time.Minute).UTC().Format(http.TimeFormat)
		}, 30},
		{"shorter than the back-off waits the back-off", 429, func(time.Time) string { return "5" }, 1},
		{"unreadable is ignored", 429, func(time.Time) string { return "soon" }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: start}
			st := openStore(t, store.Config{DataDir: t.TempDir()})
			rcv := newReceiver(t, c, testSecret, func(n int) reply {
				if n == 0 {
					return reply{status: tc.status, retryAfter: tc.retryAfter(c.Now())}
				}
				return reply{status: 200}
			})
			d := newDispatcher(t, st, c, Endpoint{URL: rcv.srv.URL, Secret: testSecret})
			if _, err := d.Enqueue(testCtx(t), event("msg_later")); err != nil {
				t.Fatal(err)
			}
			drain(t, d, st, c)
			if got := offsets(rcv.Hits()); len(got) != 2 || got[1] != tc.wantMin {
				t.Fatalf("attempts at minutes %v, want [0 %v]", got, tc.wantMin)
			}
		})
	}
}

func TestDispatcherDeliveriesSurviveARestart(t *testing.T) {
	backends := map[string]func(t *testing.T) store.Config{
		"sqlite":   func(t *testing.T) store.Config { return store.Config{DataDir: t.TempDir()} },
		"postgres": func(t *testing.T) store.Config { return store.Config{DSN: storetest.DSN(t)} },
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			cfg := backend(t)
			c := &clock{t: start}
			rcv := newReceiver(t, c, testSecret, func(n int) reply {
				if n == 0 {
					return reply{status: 500}
				}
				return reply{status: 200}
			})
			ep := Endpoint{URL: rcv.srv.URL, Secret: testSecret}

			// First life: one event fails once, one is queued and never tried,
			// one is cut off mid-request by shutdown.
			st1 := openStore(t, cfg)
			d1 := newDispatcher(t, st1, c, ep)
			ctx := testCtx(t)
			if _, err := d1.Enqueue(ctx, event("msg_failed_once")); err != nil {
				t.Fatal(err)
			}
			if n, err := d1.DeliverDue(ctx); err != nil || n != 1 {
				t.Fatalf("first attempt: %d, %v", n, err)
			}
			if _, err := d1.Enqueue(ctx, event("msg_never_tried")); err != nil {
				t.Fatal(err)
			}
			st1.Close()

			// Second life: a new process on the same database.
			st2 := openStore(t, cfg)
			d2 := newDispatcher(t, st2, c, ep)
			drain(t, d2, st2, c)
			byID := map[string]int{}
			for _, h := range rcv.Hits() {
				byID[h.id]++
			}
			if byID["msg_failed_once"] != 2 || byID["msg_never_tried"] != 1 {
				t.Fatalf("requests per message %v", byID)
			}
			all, err := st2.Deliveries(ctx, store.DeliveryQuery{State: store.DeliveryDelivered})
			if err != nil || len(all) != 2 {
				t.Fatalf("delivered %v, %v", all, err)
			}
		})
	}
}

func TestDispatcherStoppedMidRequestLeavesTheDeliveryDue(t *testing.T) {
	c := &clock{t: start}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	inFlight := make(chan struct{})
	rcv := newReceiver(t, c, testSecret, func(n int) reply {
		if n == 0 {
			close(inFlight)
			return reply{hang: true}
		}
		return reply{status: 200}
	})
	ep := Endpoint{URL: rcv.srv.URL, Secret: testSecret}
	d1, err := New(Config{Store: st, Endpoints: []Endpoint{ep}, Now: c.Now, Timeout: 10 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d1.Enqueue(testCtx(t), event("msg_interrupted")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- d1.Run(ctx) }()
	<-inFlight
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	del := onlyDelivery(t, st)
	if del.State != store.DeliveryPending || !del.NextAttemptAt.Equal(start) {
		t.Fatalf("after shutdown %+v; want pending and due now, not after the lease", del)
	}
	d2 := newDispatcher(t, st, c, ep)
	if n, err := d2.DeliverDue(testCtx(t)); err != nil || n != 1 {
		t.Fatalf("next start: %d, %v", n, err)
	}
	if del := onlyDelivery(t, st); del.State != store.DeliveryDelivered {
		t.Fatalf("after the next start %+v", del)
	}
}

func TestDispatcherRunDeliversPromptlyAndLeaksNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		c := &clock{t: time.Now()} // the receiver's tolerance check uses real time here
		rcv := newReceiver(t, c, testSecret, nil)
		defer rcv.srv.Close()
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		// A poll far longer than the test: only Enqueue's wake-up can explain
		// a prompt delivery.
		d, err := New(Config{Store: st, Endpoints: []Endpoint{{URL: rcv.srv.URL, Secret: testSecret}},
			PollInterval: time.Hour, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		for i := range 20 {
			if _, err := d.Enqueue(ctx, event("msg_run_"+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(rcv.Hits()) < 20 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		if err := <-done; err != context.Canceled {
			t.Fatalf("Run returned %v", err)
		}
		if n := len(rcv.Hits()); n != 20 {
			t.Fatalf("%d of 20 delivered", n)
		}
		for _, h := range rcv.Hits() {
			if h.verifyErr != nil {
				t.Fatal(h.verifyErr)
			}
		}
		rcv.srv.CloseClientConnections()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	}()
}

// TestTwoNodesDeliverEachEventOnce runs two Dispatchers on two Store values
// sharing one PostgreSQL database, as two nodes do.
func TestTwoNodesDeliverEachEventOnce(t *testing.T) {
	dsn := storetest.DSN(t)
	c := &clock{t: time.Now()}
	rcv := newReceiver(t, c, testSecret, func(n int) reply {
		if n%3 == 0 {
			return reply{status: 503, retryAfter: "0"} // some need a second attempt
		}
		return reply{status: 200}
	})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	ep := Endpoint{URL: rcv.srv.URL, Secret: testSecret}
	var ds []*Dispatcher
	var wg sync.WaitGroup
	defer wg.Wait()
	// The nodes' clock runs ahead, so that a retry's minute of back-off has
	// passed by the next poll while the receiver checks real time.
	var skew sync.Mutex
	offset := time.Duration(0)
	nodeNow := func() time.Time {
		skew.Lock()
		defer skew.Unlock()
		return time.Now().Add(offset)
	}
	for i := range 2 {
		st := openStore(t, store.Config{DSN: dsn})
		d, err := New(Config{Store: st, Endpoints: []Endpoint{ep}, Node: fmt.Sprintf("node%d", i), Now: nodeNow,
			PollInterval: 20 * time.Millisecond, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
		wg.Go(func() { d.Run(ctx) })
	}
	const events = 40
	for i := range events {
		if _, err := ds[i%2].Enqueue(ctx, event(fmt.Sprintf("msg_node_%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		delivered := map[string]int{}
		for i, h := range rcv.Hits() {
			if i%3 != 0 {
				delivered[h.id]++
			}
		}
		if len(delivered) == events {
			for id, n := range delivered {
				if n != 1 {
					t.Fatalf("%s delivered %d times", id, n)
				}
			}
			cancel()
			return
		}
		skew.Lock()
		offset += 5 * time.Second
		skew.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not every event delivered: %d requests", len(rcv.Hits()))
}

func TestEnqueueSendsEachEndpointTheEventsItSubscribesTo(t *testing.T) {
	c := &clock{t: start}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	all := newReceiver(t, c, testSecret, nil)
	campaigns := newReceiver(t, c, testSecret, nil)
	d := newDispatcher(t, st, c,
		Endpoint{URL: all.srv.URL, Secret: testSecret},
		Endpoint{URL: campaigns.srv.URL, Secret: testSecret, Events: []string{TypeCampaignFinished}})
	ctx := testCtx(t)
	steps := []struct {
		ev   Event
		want int
	}{
		{event("msg_a"), 1},
		{Event{ID: "msg_b", Type: TypeCampaignFinished, Data: map[string]int{"calls": 3}}, 2},
		{event("msg_a"), 0}, // queued before: sent once
		{Event{Type: TypeCampaignFinished}, 2},
	}
	for i, s := range steps {
		if n, err := d.Enqueue(ctx, s.ev); err != nil || n != s.want {
			t.Fatalf("step %d: queued %d, %v; want %d", i+1, n, err, s.want)
		}
	}
	if _, err := d.Enqueue(ctx, Event{ID: "msg.with.dots", Type: TypeCallCompleted}); err == nil {
		t.Fatal("an id with dots accepted")
	}
	if _, err := d.Enqueue(ctx, Event{}); err == nil {
		t.Fatal("an event without a type accepted")
	}
	drain(t, d, st, c)
	types := func(r *receiver) string {
		var out []string
		for _, h := range r.Hits() {
			out = append(out, h.eventType)
		}
		return strings.Join(out, " ")
	}
	if got := types(all); strings.Count(got, TypeCallCompleted) != 1 || strings.Count(got, TypeCampaignFinished) != 2 {
		t.Fatalf("unfiltered endpoint got %s", got)
	}
	if got := types(campaigns); got != TypeCampaignFinished+" "+TypeCampaignFinished {
		t.Fatalf("campaign endpoint got %s", got)
	}
}

func TestDispatcherFailsDeliveriesOfARemovedEndpoint(t *testing.T) {
	c := &clock{t: start}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	rcv := newReceiver(t, c, testSecret, nil)
	d1 := newDispatcher(t, st, c, Endpoint{URL: rcv.srv.URL, Secret: testSecret})
	if _, err := d1.Enqueue(testCtx(t), event("msg_orphan")); err != nil {
		t.Fatal(err)
	}
	d2 := newDispatcher(t, st, c) // the endpoint was taken out of the file
	drain(t, d2, st, c)
	if del := onlyDelivery(t, st); del.State != store.DeliveryFailed || !strings.Contains(del.LastError, "no longer configured") {
		t.Fatalf("delivery %+v", del)
	}
	if len(rcv.Hits()) != 0 {
		t.Fatal("a removed endpoint was called")
	}
}

func TestNewRejectsUnusableEndpoints(t *testing.T) {
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	ok := Endpoint{URL: "http://127.0.0.1:9/hook", Secret: testSecret}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{}, "no store"},
		{"not http", Config{Store: st, Endpoints: []Endpoint{{URL: "ftp://127.0.0.1/x", Secret: testSecret}}}, "http(s)"},
		{"no host", Config{Store: st, Endpoints: []Endpoint{{URL: "http:///x", Secret: testSecret}}}, "http(s)"},
		{"short secret", Config{Store: st, Endpoints: []Endpoint{{URL: ok.URL, Secret: "hunter2"}}}, "at least 16"},
		{"unknown event", Config{Store: st, Endpoints: []Endpoint{{URL: ok.URL, Secret: testSecret, Events: []string{"call.complete"}}}},
			`unknown event type "call.complete"`},
		{"listed twice", Config{Store: st, Endpoints: []Endpoint{ok, ok}}, "listed twice"},
		{"bad public URL", Config{Store: st, PublicURL: "waihu.example.com"}, "public URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}
