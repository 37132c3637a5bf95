package sip

import (
	"bytes"
	"container/list"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// The SIP edge: the checks every request passes before sipgo parses it
// (UDP) or before its handler runs (TCP, WS). A telephony server on the
// internet is scanned and brute-forced within minutes; the edge keeps the
// cost of that traffic low and teaches the scanner nothing. See
// docs/sip-edge.md.

// Defaults applied to zero-valued EdgeConfig fields.
const (
	DefaultEdgeRate       = 20.0             // requests per second per source
	DefaultEdgeBurst      = 50               // requests
	DefaultBanAfter       = 5                // failed auth attempts ...
	DefaultBanWindow      = 60 * time.Second // ... within this window ...
	DefaultBanFor         = 10 * time.Minute // ... ban the source this long
	DefaultEdgeMaxSources = 10000
	DefaultNonceLifetime  = 5 * time.Minute
)

// DefaultScannerUserAgents are the User-Agent substrings of well-known SIP
// scanners, matched case-insensitively. Scanners can send any User-Agent:
// this list only saves work, the rate limit and bans are the defence.
// Diagnostic tools that operators monitor with (sipsak, sipp) are not in it.
var DefaultScannerUserAgents = []string{
	"friendly-scanner", "sipvicious", "sipcli", "vaxsipuseragent", "sip-scan",
	"iwar", "sundayddr", "pplsip", "sipptk", "voiper",
}

// EdgeConfig shapes the SIP edge. The zero value is a sensible edge for a
// server on the internet; every field documents its default.
type EdgeConfig struct {
	// Trusted sources (a carrier, the Kamailio in front) skip the rate
	// limit, the bans and the User-Agent blocklist. Sources matching the
	// literal IP of a configured trunk are trusted too. Default none.
	Trusted []netip.Prefix
	// AllowFromMethods lists the methods that Config.AllowFrom restricts
	// at the edge, "*" for all. Requests of these methods from other
	// sources are dropped without an answer. INVITE is always restricted
	// by a non-empty AllowFrom: unless listed here it gets a 403 (as before
	// the edge existed, which helps diagnose a misconfigured trunk).
	// Default none (only INVITE, with 403).
	AllowFromMethods []string
	// RatePerSecond and Burst are the token bucket per source address:
	// every request costs one token. A UDP request over the limit is
	// dropped without an answer (answering a flood doubles it, and
	// RFC 3261 clients retransmit); a TCP or WS one gets 503 with
	// Retry-After. Defaults 20/s and 50; negative RatePerSecond disables.
	RatePerSecond float64
	Burst         int
	// LimitLoopback applies the rate limit to loopback sources too.
	// Default false: local processes (tests, bench, a local proxy) are not
	// rate limited; bans and the allow-list still apply to them.
	LimitLoopback bool
	// BanAfter failed authentications (wrong password, unknown user,
	// forged or replayed nonce, scanner User-Agent) within BanWindow ban
	// the source for BanFor: its packets are then dropped unread. Defaults
	// 5, 60 s, 10 min; negative BanAfter disables bans.
	BanAfter  int
	BanWindow time.Duration
	BanFor    time.Duration
	// MaxSources caps the per-source state kept (rate buckets and failure
	// counts, least recently seen evicted first) and, separately, the
	// number of bans (oldest evicted). Default 10000 each.
	MaxSources int
	// BlockUserAgents are User-Agent substrings (case-insensitive) whose
	// requests are dropped and count as a failed authentication. Default
	// DefaultScannerUserAgents; see AllowScanners.
	BlockUserAgents []string
	// AllowScanners turns the User-Agent blocklist off. Default false.
	AllowScanners bool
	// DigestAlgorithms are the digest challenges sent to inbound REGISTER
	// and INVITE, most preferred first (RFC 8760 §2.4: clients take the
	// first they support). Default SHA-256, MD5.
	DigestAlgorithms []string
	// NonceLifetime bounds how long a challenge can be answered; a correct
	// answer to an older one gets a new challenge with stale=true
	// (RFC 7616 §3.3). Default 5 min.
	NonceLifetime time.Duration
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

func (c EdgeConfig) withDefaults() (EdgeConfig, error) {
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultEdgeRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultEdgeBurst
	}
	if c.BanAfter == 0 {
		c.BanAfter = DefaultBanAfter
	}
	if c.BanWindow <= 0 {
		c.BanWindow = DefaultBanWindow
	}
	if c.BanFor <= 0 {
		c.BanFor = DefaultBanFor
	}
	if c.MaxSources <= 0 {
		c.MaxSources = DefaultEdgeMaxSources
	}
	if c.BlockUserAgents == nil {
		c.BlockUserAgents = DefaultScannerUserAgents
	}
	if c.AllowScanners {
		c.BlockUserAgents = nil
	}
	ua := make([]string, 0, len(c.BlockUserAgents))
	for _, s := range c.BlockUserAgents {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			ua = append(ua, s)
		}
	}
	c.BlockUserAgents = ua
	if len(c.DigestAlgorithms) == 0 {
		c.DigestAlgorithms = []string{"SHA-256", "MD5"}
	}
	algs := make([]string, len(c.DigestAlgorithms))
	for i, a := range c.DigestAlgorithms {
		algs[i] = strings.ToUpper(a)
		if algs[i] != "MD5" && algs[i] != "SHA-256" {
			return c, errors.New("edge: digest algorithm " + a + " not supported (SHA-256, MD5)")
		}
	}
	c.DigestAlgorithms = algs
	if c.NonceLifetime <= 0 {
		c.NonceLifetime = DefaultNonceLifetime
	}
	methods := make([]string, len(c.AllowFromMethods))
	for i, m := range c.AllowFromMethods {
		methods[i] = strings.ToUpper(m)
	}
	c.AllowFromMethods = methods
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// EdgeStats counts what the edge did since the UA was built.
type EdgeStats struct {
	// Admitted requests passed every check.
	Admitted uint64
	// DroppedBanned, DroppedRate, DroppedNotAllowed and DroppedScanner
	// count requests dropped (or refused on TCP/WS) by each control.
	DroppedBanned     uint64
	DroppedRate       uint64
	DroppedNotAllowed uint64
	DroppedScanner    uint64
	// AuthFailures counts failed digest authentications (REGISTER and
	// INVITE); AuthStale counts correct answers to an expired nonce.
	AuthFailures uint64
	AuthStale    uint64
	// Bans counts bans imposed; Banned is how many are in force now.
	Bans   uint64
	Banned int
	// Sources is how many source addresses have state now.
	Sources int
}

// Ban is one banned source address.
type Ban struct {
	Addr   netip.Addr
	Until  time.Time
	Reason string
}

// verdict is the edge's decision on one request.
type verdict int

const (
	admit verdict = iota
	dropBanned
	dropRate
	dropNotAllowed
	dropScanner
)

func (v verdict) String() string {
	switch v {
	case admit:
		return "admitted"
	case dropBanned:
		return "banned"
	case dropRate:
		return "rate limit"
	case dropNotAllowed:
		return "source not in allow-list"
	case dropScanner:
		return "scanner user agent"
	}
	return "unknown"
}

// source is the state kept per source address.
type source struct {
	addr     netip.Addr
	tokens   float64
	refilled time.Time
	failures []time.Time // within BanWindow, oldest first, at most BanAfter
}

type ban struct {
	until   time.Time
	reason  string
	dropped uint64
}

// edge holds the per-source state of one UA. It starts no goroutine:
// expired state is dropped when it is next looked at, and both tables are
// capped.
type edge struct {
	cfg       EdgeConfig
	allowFrom []netip.Prefix
	trusted   []netip.Prefix
	log       *slog.Logger

	mu      sync.Mutex
	sources map[netip.Addr]*list.Element // of *source, LRU order
	lru     *list.List
	bans    map[netip.Addr]*ban
	banFIFO []netip.Addr // ban order, for eviction at MaxSources

	// nonces tracks nonce-counts of answered challenges (edge_digest.go);
	// dummy is the password unknown users are checked against.
	nonces nonceTable
	dummy  string

	admitted, droppedBanned, droppedRate, droppedNotAllowed, droppedScanner atomic.Uint64
	authFailures, authStale, bansTotal                                      atomic.Uint64
}

func newEdge(cfg EdgeConfig, allowFrom []netip.Prefix, trunks []Trunk, log *slog.Logger) *edge {
	e := &edge{
		cfg: cfg, allowFrom: allowFrom, log: log,
		trusted: slices.Clone(cfg.Trusted),
		sources: map[netip.Addr]*list.Element{},
		lru:     list.New(),
		bans:    map[netip.Addr]*ban{},
		dummy:   randomPassword(),
	}
	for _, t := range trunks {
		if ip, err := netip.ParseAddr(t.host()); err == nil {
			e.trusted = append(e.trusted, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	return e
}

// restricted reports whether AllowFrom applies to method at the edge.
func (e *edge) restricted(method string) bool {
	if len(e.allowFrom) == 0 {
		return false
	}
	return slices.Contains(e.cfg.AllowFromMethods, "*") || slices.Contains(e.cfg.AllowFromMethods, method)
}

// check decides on one request from src. It is the one place every
// control is applied, for datagrams and stream requests alike.
func (e *edge) check(src netip.Addr, method, userAgent string) verdict {
	v := e.decide(src, method, userAgent)
	switch v {
	case admit:
		e.admitted.Add(1)
	case dropBanned:
		e.droppedBanned.Add(1)
	case dropRate:
		e.droppedRate.Add(1)
	case dropNotAllowed:
		e.droppedNotAllowed.Add(1)
	case dropScanner:
		e.droppedScanner.Add(1)
		e.failure(src, "scanner user agent")
	}
	return v
}

func (e *edge) decide(src netip.Addr, method, userAgent string) verdict {
	if e.restricted(method) && !allowedSource(e.allowFrom, src) {
		return dropNotAllowed
	}
	if allowedSource(e.trusted, src) {
		return admit
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bannedLocked(src, now) {
		return dropBanned
	}
	for _, s := range e.cfg.BlockUserAgents {
		if containsFold(userAgent, s) {
			return dropScanner
		}
	}
	if e.cfg.RatePerSecond < 0 || (src.IsLoopback() && !e.cfg.LimitLoopback) {
		return admit
	}
	s := e.sourceLocked(src, now)
	s.tokens = min(float64(e.cfg.Burst), s.tokens+now.Sub(s.refilled).Seconds()*e.cfg.RatePerSecond)
	s.refilled = now
	if s.tokens < 1 {
		return dropRate
	}
	s.tokens--
	return admit
}

// banned reports whether src is banned now, counting the drop.
func (e *edge) banned(src netip.Addr) bool {
	if allowedSource(e.trusted, src) {
		return false
	}
	e.mu.Lock()
	b := e.bannedLocked(src, e.cfg.Now())
	e.mu.Unlock()
	if b {
		e.droppedBanned.Add(1)
	}
	return b
}

func (e *edge) bannedLocked(src netip.Addr, now time.Time) bool {
	b, ok := e.bans[src]
	if !ok {
		return false
	}
	if now.Before(b.until) {
		b.dropped++
		return true
	}
	delete(e.bans, src)
	e.log.Info("sip source ban expired", "source", src.String(), "reason", b.reason, "dropped", b.dropped)
	return false
}

// sourceLocked returns src's state, creating it (and evicting the least
// recently seen source at the cap) when new.
func (e *edge) sourceLocked(src netip.Addr, now time.Time) *source {
	if el, ok := e.sources[src]; ok {
		e.lru.MoveToFront(el)
		return el.Value.(*source)
	}
	for e.lru.Len() >= e.cfg.MaxSources {
		old := e.lru.Remove(e.lru.Back()).(*source)
		delete(e.sources, old.addr)
	}
	s := &source{addr: src, tokens: float64(e.cfg.Burst), refilled: now}
	e.sources[src] = e.lru.PushFront(s)
	return s
}

// failure records a failed authentication from src and bans it when
// BanAfter failures fell within BanWindow. It logs one line per ban.
func (e *edge) failure(src netip.Addr, reason string) {
	e.authFailures.Add(1)
	if e.cfg.BanAfter < 0 || allowedSource(e.trusted, src) {
		return
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.bans[src]; ok && now.Before(b.until) {
		return
	}
	s := e.sourceLocked(src, now)
	cut := 0
	for cut < len(s.failures) && now.Sub(s.failures[cut]) >= e.cfg.BanWindow {
		cut++
	}
	s.failures = append(s.failures[cut:], now)
	if len(s.failures) < e.cfg.BanAfter {
		return
	}
	n := len(s.failures)
	s.failures = s.failures[:0]
	for len(e.bans) >= e.cfg.MaxSources && len(e.banFIFO) > 0 {
		delete(e.bans, e.banFIFO[0])
		e.banFIFO = e.banFIFO[1:]
	}
	e.bans[src] = &ban{until: now.Add(e.cfg.BanFor), reason: reason}
	e.banFIFO = append(e.banFIFO, src)
	if len(e.banFIFO) > 2*e.cfg.MaxSources {
		// Drop entries of bans that expired or were lifted.
		e.banFIFO = slices.DeleteFunc(e.banFIFO, func(a netip.Addr) bool { _, ok := e.bans[a]; return !ok })
	}
	e.bansTotal.Add(1)
	e.log.Warn("sip source banned", "source", src.String(), "reason", reason, "failures", n,
		"window", e.cfg.BanWindow.String(), "until", now.Add(e.cfg.BanFor).UTC().Format(time.RFC3339))
}

func (e *edge) unban(src netip.Addr) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bans[src]
	if !ok {
		return false
	}
	delete(e.bans, src)
	if el, ok := e.sources[src]; ok {
		el.Value.(*source).failures = nil
	}
	e.log.Info("sip source unbanned", "source", src.String(), "reason", b.reason, "dropped", b.dropped)
	return true
}

func (e *edge) list() []Ban {
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Ban, 0, len(e.bans))
	for a, b := range e.bans {
		if now.Before(b.until) {
			out = append(out, Ban{Addr: a, Until: b.until, Reason: b.reason})
		}
	}
	slices.SortFunc(out, func(x, y Ban) int { return x.Until.Compare(y.Until) })
	return out
}

func (e *edge) stats() EdgeStats {
	now := e.cfg.Now()
	e.mu.Lock()
	banned := 0
	for _, b := range e.bans {
		if now.Before(b.until) {
			banned++
		}
	}
	sources := e.lru.Len()
	e.mu.Unlock()
	return EdgeStats{
		Admitted: e.admitted.Load(), DroppedBanned: e.droppedBanned.Load(), DroppedRate: e.droppedRate.Load(),
		DroppedNotAllowed: e.droppedNotAllowed.Load(), DroppedScanner: e.droppedScanner.Load(),
		AuthFailures: e.authFailures.Load(), AuthStale: e.authStale.Load(),
		Bans: e.bansTotal.Load(), Banned: banned, Sources: sources,
	}
}

// errBannedSource closes a TCP or WS connection from a banned source.
var errBannedSource = errors.New("source banned")

// readFilter is sipgo's transport read filter: it sees every datagram and
// every stream read before parsing. Datagrams get the full check and are
// dropped (an empty result) unless admitted; a stream read from a banned
// source closes the connection; other stream checks need whole requests and
// run in guard. It never fails a UDP read: that would stop the listener.
func (e *edge) readFilter(p sipgosip.TransportReadProps, data []byte) ([]byte, error) {
	src := addrOfNet(p.RemoteAddr)
	if !strings.EqualFold(p.Transport, "udp") {
		if src.IsValid() && e.banned(src) {
			return nil, errBannedSource
		}
		return data, nil
	}
	if !src.IsValid() {
		return data, nil
	}
	if bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
		// A response: to our own request, so only a ban stops it.
		if e.banned(src) {
			return nil, nil
		}
		return data, nil
	}
	method, userAgent := peekRequest(data)
	if e.check(src, method, userAgent) != admit {
		return nil, nil
	}
	return data, nil
}

// guard wraps a request handler with the edge checks for requests that
// came over TCP or WS (UDP ones were checked by readFilter).
func (ua *UA) guard(h func(*sipgosip.Request, sipgosip.ServerTransaction)) func(*sipgosip.Request, sipgosip.ServerTransaction) {
	return func(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
		if strings.EqualFold(req.Transport(), "udp") {
			h(req, tx)
			return
		}
		src, err := netip.ParseAddrPort(req.Source())
		if err != nil {
			h(req, tx)
			return
		}
		v := ua.edge.check(src.Addr().Unmap(), req.Method.String(), headerValue(req, "User-Agent"))
		switch v {
		case admit:
			h(req, tx)
		case dropRate:
			if !req.IsAck() {
				ua.respond(tx, req, 503, "Service Unavailable", sipgosip.NewHeader("Retry-After", "5"))
			}
		default:
			// Banned, not allowed or a scanner: no answer; the
			// transaction ends when the handler returns.
			ua.log.Debug("sip request dropped at edge", "source", src.String(), "method", req.Method.String(), "reason", v.String())
		}
	}
}

// containsFold reports whether s contains the lower-case ASCII sub, in any
// case, without allocating (it runs on every request).
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// addrOfNet is the unmapped IP of a transport address.
func addrOfNet(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// peekRequest finds the method and User-Agent of a raw request without
// parsing it: the first token of the start line, and the value of the
// first User-Agent header (which has no compact form, RFC 3261 §20.41).
func peekRequest(data []byte) (method, userAgent string) {
	line, rest, _ := bytes.Cut(data, []byte("\n"))
	if sp := bytes.IndexByte(line, ' '); sp > 0 {
		method = string(bytes.ToUpper(line[:sp]))
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break // end of headers
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("User-Agent")) {
			return method, string(bytes.TrimSpace(value))
		}
	}
	return method, ""
}

// Unban lifts the ban of addr and forgets its failed attempts; it reports
// whether addr was banned.
func (ua *UA) Unban(addr netip.Addr) bool { return ua.edge.unban(addr.Unmap()) }

// Bans lists the bans in force, soonest to expire first.
func (ua *UA) Bans() []Ban { return ua.edge.list() }

// EdgeStats returns the edge's counters.
func (ua *UA) EdgeStats() EdgeStats { return ua.edge.stats() }
