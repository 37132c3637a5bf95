package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/waihu/waihu/store"
)

// Endpoint is one receiver of webhooks.
type Endpoint struct {
	// URL is where deliveries are POSTed (http or https). It also keys the
	// endpoint's queued deliveries: changing it leaves those of the old URL
	// to fail as unconfigured.
	URL string
	// Secret signs the requests, in ParseSecret's form.
	Secret string
	// Events lists the event types sent; empty sends every type.
	Events []string
}

// Config builds a Dispatcher. Zero fields take the documented defaults.
type Config struct {
	// Store holds the outbox (and, for EnqueueCampaignFinished, the
	// campaign's contacts and call records). Required.
	Store store.Store
	// Endpoints receive the events they subscribe to. None is valid: events
	// are then dropped, and queued deliveries fail as unconfigured.
	Endpoints []Endpoint
	// PublicURL is the address CRMs reach waihu's HTTP API at; recording
	// links are built under it. Empty leaves them out.
	PublicURL string
	// Client sends the requests. Default: an http.Client that does not follow
	// redirects (a redirect is answered as the final, non-2xx, response).
	Client *http.Client
	// Timeout bounds one request, connection to the end of the response's
	// headers and the read of its body. Default 10 s.
	Timeout time.Duration
	// Concurrency is how many requests are in flight at most. Default 4.
	Concurrency int
	// GiveUpAfter is how long after its first attempt a delivery is retried.
	// Default 24 h.
	GiveUpAfter time.Duration
	// Jitter stretches each back-off delay by a random fraction up to it, so
	// the deliveries a CRM outage held back do not all return in the same
	// second. Default 0.1 (up to 10 %); negative disables it.
	Jitter float64
	// Retention is how long delivered and failed deliveries stay in the
	// outbox for operators. Default 30 days; negative keeps them forever.
	Retention time.Duration
	// PollInterval bounds how long an idle worker waits before looking for
	// due deliveries (those queued by other nodes, or by other Dispatchers on
	// the same store). Default 5 s.
	PollInterval time.Duration
	// Node names this process in the outbox's claims. Default: the host name.
	Node string
	// Logger receives delivery failures (Warn per retry, Error when one is
	// given up). Default slog.Default(). No phone number is ever logged.
	Logger *slog.Logger
	// Now is the clock: claims, back-off, signatures' timestamps, the 24 h
	// limit. Default time.Now. Tests inject one to run a day of retries at
	// once.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the jitter. Default math/rand/v2.
	Rand func() float64
}

// maxBodyBytes caps how much of a response is read: the body only goes into
// an error message, and a receiver cannot make waihu buffer more.
const maxBodyBytes = 64 << 10

// maxErrorBody is how much of a failed response's body the outbox keeps.
const maxErrorBody = 256

// leaseMargin is added to the request timeout for a claim's lease: the time
// to store the result after the request ended.
const leaseMargin = time.Minute

// Dispatcher sends queued webhook deliveries. Build it with New; Enqueue from
// anywhere; Run once.
type Dispatcher struct {
	cfg       Config
	st        store.Store
	client    *http.Client
	log       *slog.Logger
	endpoints map[string]endpoint
	order     []string // endpoint URLs in configuration order
	// wake has room for one token per worker; Enqueue drops one in per new
	// delivery, so idle workers start at once instead of at the next poll.
	wake chan struct{}
}

type endpoint struct {
	Endpoint
	key Secret
}

// New checks cfg and builds a Dispatcher.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhooks: no store")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 24 * time.Hour
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.Jitter < 0 {
		cfg.Jitter = 0
	}
	if cfg.Retention == 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhooks: public URL %q: want http(s)://host[:port][/path]", cfg.PublicURL)
		}
	}
	d := &Dispatcher{
		cfg: cfg, st: cfg.Store, client: cfg.Client, log: cfg.Logger,
		endpoints: map[string]endpoint{}, wake: make(chan struct{}, cfg.Concurrency),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.client == nil {
		d.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for i, ep := range cfg.Endpoints {
		what := fmt.Sprintf("webhooks: endpoint %d (%s)", i+1, redact(ep.URL))
		u, err := url.Parse(ep.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: want an http(s)://host/path URL", what)
		}
		if _, dup := d.endpoints[ep.URL]; dup {
			return nil, fmt.Errorf("%s: listed twice", what)
		}
		key, err := ParseSecret(ep.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s: secret: %w", what, err)
		}
		if err := checkTypes(ep.Events); err != nil {
			return nil, fmt.Errorf("%s: events: %w", what, err)
		}
		d.endpoints[ep.URL] = endpoint{Endpoint: ep, key: key}
		d.order = append(d.order, ep.URL)
	}
	return d, nil
}

// redact leaves a URL's scheme, host and path, for logs and errors: a query
// or user info may hold a token.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Enqueue queues ev for every endpoint that subscribes to its type and
// returns how many deliveries it queued (0 when none subscribes, or when this
// event's ID was queued before). It returns once the rows are in the store:
// from then on the event survives a restart.
func (d *Dispatcher) Enqueue(ctx context.Context, ev Event) (int, error) {
	if ev.Type == "" {
		return 0, errors.New("enqueue webhook: event has no type")
	}
	if ev.ID == "" {
		ev.ID = newMessageID()
	}
	if !validID(ev.ID) {
		return 0, fmt.Errorf("enqueue webhook %s: id %q: want letters, digits, '_' and '-' only", ev.Type, ev.ID)
	}
	now := d.cfg.Now()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	body, err := json.Marshal(envelope{Type: ev.Type, Timestamp: ev.Time.UTC(), Data: ev.Data})
	if err != nil {
		return 0, fmt.Errorf("enqueue webhook %s %s: encode: %w", ev.Type, ev.ID, err)
	}
	var ds []store.Delivery
	for _, u := range d.order {
		ep := d.endpoints[u]
		if len(ep.Events) > 0 && !slices.Contains(ep.Events, ev.Type) {
			continue
		}
		ds = append(ds, store.Delivery{Endpoint: u, EventType: ev.Type, MessageID: ev.ID, Payload: body,
			CreatedAt: now, NextAttemptAt: now})
	}
	if len(ds) == 0 {
		return 0, nil
	}
	n, err := d.st.EnqueueDeliveries(ctx, ds)
	if err != nil {
		return 0, fmt.Errorf("enqueue webhook %s %s: %w", ev.Type, ev.ID, err)
	}
	for range n {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return n, nil
}

// EnqueueCall queues the call.completed event of a finished call record.
// A transcript that cannot be read is logged and sent empty.
func (d *Dispatcher) EnqueueCall(ctx context.Context, rec store.CallRecord) (int, error) {
	ev, err := CallCompleted(rec, d.cfg.PublicURL)
	if err != nil {
		d.log.Warn("webhook call.completed sent without its transcript", "call", rec.ID, "err", err)
	}
	return d.Enqueue(ctx, ev)
}

// EnqueueCampaignFinished reads a finished campaign's totals from the store
// and queues its campaign.finished event.
func (d *Dispatcher) EnqueueCampaignFinished(ctx context.Context, campaignID int64) (int, error) {
	c, err := d.st.Campaign(ctx, campaignID)
	if err != nil {
		return 0, fmt.Errorf("webhook campaign.finished: %w", err)
	}
	counts, err := d.st.CountContacts(ctx, campaignID)
	if err != nil {
		return 0, fmt.Errorf("webhook campaign.finished: %w", err)
	}
	records, err := d.st.CallRecords(ctx, campaignID, 0)
	if err != nil {
		return 0, fmt.Errorf("webhook campaign.finished: %w", err)
	}
	return d.Enqueue(ctx, CampaignFinished(c, counts, records))
}

// Run sends due deliveries with Concurrency workers until ctx ends, and prunes
// ended deliveries past Retention once an hour. It returns ctx's error once
// every worker has stopped; a request in flight is cancelled and its delivery
// is due again at once, for the next start or another node.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range d.cfg.Concurrency {
		wg.Go(func() { d.work(ctx) })
	}
	d.pruneLoop(ctx)
	wg.Wait()
	return ctx.Err()
}

func (d *Dispatcher) pruneLoop(ctx context.Context) {
	if d.cfg.Retention < 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := d.st.PruneDeliveries(ctx, d.cfg.Now().Add(-d.cfg.Retention)); err != nil && ctx.Err() == nil {
			d.log.Warn("webhook outbox prune", "err", err)
		} else if n > 0 {
			d.log.Debug("webhook outbox pruned", "deliveries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// work is one worker: claim one due delivery, send it, store the result;
// when none is due, wait for the next due time, an Enqueue, or the poll.
func (d *Dispatcher) work(ctx context.Context) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for ctx.Err() == nil {
		n, err := d.deliver(ctx, 1)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Warn("webhook outbox", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		wait := d.cfg.PollInterval
		if err == nil {
			if next, ok, err := d.st.NextDeliveryAt(ctx); err == nil && ok {
				// A floor keeps a row another node is claiming this instant
				// from spinning the loop.
				wait = min(wait, max(next.Sub(d.cfg.Now()), 10*time.Millisecond))
			}
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// DeliverDue sends every delivery due now, Concurrency at a time, and returns
// how many attempts it made: for tools that flush the outbox once, and for
// tests that drive the clock.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := d.deliver(ctx, d.cfg.Concurrency)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// deliver claims up to limit due deliveries and sends them in parallel.
func (d *Dispatcher) deliver(ctx context.Context, limit int) (int, error) {
	claimed, err := d.st.ClaimDeliveries(ctx, store.DeliveryClaim{
		Node: d.cfg.Node, Now: d.cfg.Now(), Lease: d.cfg.Timeout + leaseMargin, Limit: limit,
	})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(claimed))
	for i, del := range claimed {
		wg.Go(func() { errs[i] = d.attempt(ctx, del) })
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// verdict is what one response means for the delivery.
type verdict int

const (
	delivered verdict = iota
	retry
	fail
)

// classify reads an attempt's response: 2xx delivered; 408, 429 and 5xx (and
// no response at all) retried; everything else (other 4xx, 3xx, 1xx) is the
// receiver refusing this message, which sending it again will not change.
func classify(status int) verdict {
	switch {
	case status >= 200 && status < 300:
		return delivered
	case status == 0, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return retry
	default:
		return fail
	}
}

// backoff is the delay after the n-th failed attempt before jitter:
// 1, 2, 4, 8 … minutes.
func backoff(n int) time.Duration {
	n = min(max(n, 1), 21) // 2^20 minutes is two years: far past any limit
	return time.Minute << (n - 1)
}

// attempt sends one claimed delivery and stores what came of it.
func (d *Dispatcher) attempt(ctx context.Context, del store.Delivery) error {
	log := d.log.With("delivery", del.ID, "event", del.EventType, "webhook_id", del.MessageID,
		"endpoint", redact(del.Endpoint), "attempt", del.Attempts)
	ep, ok := d.endpoints[del.Endpoint]
	var status int
	var retryAfter time.Duration
	var sendErr error
	if ok {
		status, retryAfter, sendErr = d.send(ctx, ep, del)
	}
	end := d.cfg.Now()
	// The result is stored even when ctx ended mid-request: the row must not
	// wait out its lease.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	res := store.DeliveryResult{At: end, Status: status}
	if sendErr != nil {
		res.Error = sendErr.Error()
	}
	switch {
	case !ok:
		res.Error = "endpoint no longer configured"
		log.Error("webhook delivery failed", "err", res.Error)
		return ignoreLost(d.st.MarkDeliveryFailed(sctx, del, res))
	case status == 0 && ctx.Err() != nil:
		// Stopped before an answer came, not the receiver's fault: due again
		// at once. An answer that did come counts below.
		res.Error = "dispatcher stopped during the request"
		return ignoreLost(d.st.RescheduleDelivery(sctx, del, end, res))
	}
	switch classify(status) {
	case delivered:
		log.Debug("webhook delivered", "status", status)
		return ignoreLost(d.st.MarkDelivered(sctx, del, res))
	case fail:
		log.Error("webhook delivery refused, not retried", "status", status, "err", res.Error)
		return ignoreLost(d.st.MarkDeliveryFailed(sctx, del, res))
	}
	first := del.FirstAttemptAt
	if first.IsZero() {
		first = del.LastAttemptAt
	}
	deadline := first.Add(d.cfg.GiveUpAfter)
	if !end.Before(deadline) {
		log.Error("webhook delivery given up", "status", status, "err", res.Error,
			"first_attempt", first, "give_up_after", d.cfg.GiveUpAfter)
		return ignoreLost(d.st.MarkDeliveryFailed(sctx, del, res))
	}
	delay := backoff(del.Attempts)
	delay += time.Duration(float64(delay) * d.cfg.Jitter * d.cfg.Rand())
	delay = max(delay, retryAfter)
	// The last try lands on the deadline rather than past it.
	next := end.Add(delay)
	if next.After(deadline) {
		next = deadline
	}
	log.Warn("webhook delivery will be retried", "status", status, "err", res.Error, "next_attempt", next)
	return ignoreLost(d.st.RescheduleDelivery(sctx, del, next, res))
}

// ignoreLost drops ErrClaimLost: another node holds the delivery now, and
// its result is the one that counts.
func ignoreLost(err error) error {
	if errors.Is(err, store.ErrClaimLost) {
		return nil
	}
	return err
}

// send POSTs one delivery, signed for this attempt, and returns the status
// (0 when no response came), the response's Retry-After, and what went wrong.
func (d *Dispatcher) send(ctx context.Context, ep endpoint, del store.Delivery) (int, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, ep.URL, bytes.NewReader(del.Payload))
	if err != nil {
		return 0, 0, fmt.Errorf("build request: %w", err)
	}
	now := d.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "waihu-webhooks/1")
	req.Header[HeaderID] = []string{del.MessageID}
	req.Header[HeaderTimestamp] = []string{strconv.FormatInt(now.Unix(), 10)}
	req.Header[HeaderSignature] = []string{ep.key.Sign(del.MessageID, now, del.Payload)}
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return 0, 0, fmt.Errorf("POST %s: no response within %s", redact(ep.URL), d.cfg.Timeout)
		}
		// url.Error repeats the full URL, which may hold a token: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, 0, fmt.Errorf("POST %s: %w", redact(ep.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil && classify(resp.StatusCode) != delivered {
		return resp.StatusCode, 0, fmt.Errorf("POST %s: %s; reading the body: %w", redact(ep.URL), resp.Status, err)
	}
	if classify(resp.StatusCode) == delivered {
		return resp.StatusCode, 0, nil
	}
	ra := retryAfterDelay(resp.Header.Get("Retry-After"), now)
	if len(body) > maxErrorBody {
		body = append(body[:maxErrorBody], "…"...)
	}
	msg := fmt.Sprintf("POST %s: %s", redact(ep.URL), resp.Status)
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		msg += " to " + redact(loc) + " (redirects are not followed: configure the final URL)"
	}
	if len(bytes.TrimSpace(body)) > 0 {
		msg += ": " + string(bytes.TrimSpace(body))
	}
	return resp.StatusCode, ra, errors.New(msg)
}

// retryAfterDelay reads Retry-After (RFC 9110 §10.2.3): delay-seconds or an
// HTTP date. Unreadable or past values give 0.
func retryAfterDelay(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
