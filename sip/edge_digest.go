package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// The digest verifier for inbound requests (RFC 3261 §22, RFC 7616 for
// qop and stale, RFC 8760 for SHA-256). REGISTER (registrar.go) and INVITE
// (inbound.go) share it, with one credential store: Config.InboundAuth's
// user and the registrar's extensions.

// Errors of the verifier. Every one but errStaleNonce and errNoCredentials
// is a failed attempt that counts towards a ban.
var (
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("bad credentials")
	errStaleNonce     = errors.New("nonce expired (stale)")
)

// nonceTableCap bounds the nonce-count table: one entry per nonce answered
// correctly, so only clients that know a password can fill it.
const nonceTableCap = 65536

// nonceTable remembers the highest nonce-count accepted per nonce, so that
// a captured Authorization cannot be replayed (RFC 7616 §3.4.5).
type nonceTable struct {
	mu    sync.Mutex
	last  map[string]int
	order []nonceEntry // issue order of the nonces in last
	// floor is the issue time of the newest nonce evicted at the cap:
	// older nonces we no longer track are treated as stale.
	floor int64
	seq   atomic.Int64 // last issue time handed out, unix ns
}

type nonceEntry struct {
	nonce  string
	issued int64
}

// use records nc for nonce (issued at unix ns) and reports whether it is
// fresh, i.e. higher than any count accepted before.
func (t *nonceTable) use(nonce string, issued int64, nc int, oldest int64) (fresh, tracked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]int{}
	}
	// Forget nonces too old to be answered any more.
	for len(t.order) > 0 && t.order[0].issued < oldest {
		delete(t.last, t.order[0].nonce)
		t.order = t.order[1:]
	}
	prev, ok := t.last[nonce]
	if !ok && issued <= t.floor {
		return false, false
	}
	if ok && nc <= prev {
		return false, true
	}
	if !ok {
		for len(t.order) >= nonceTableCap {
			t.floor = max(t.floor, t.order[0].issued)
			delete(t.last, t.order[0].nonce)
			t.order = t.order[1:]
		}
		t.order = append(t.order, nonceEntry{nonce, issued})
	}
	t.last[nonce] = nc
	return true, true
}

// issue returns a unique, increasing issue time for a new nonce.
func (t *nonceTable) issue(now time.Time) int64 {
	for {
		prev := t.seq.Load()
		next := max(now.UnixNano(), prev+1)
		if t.seq.CompareAndSwap(prev, next) {
			return next
		}
	}
}

// password returns the password of an inbound digest user.
func (ua *UA) password(user string) (string, bool) {
	if ia := ua.cfg.InboundAuth; ia != nil && ia.Username == user {
		return ia.Password, true
	}
	if ua.registrar != nil {
		pw, ok := ua.registrar.users[user]
		return pw, ok
	}
	return "", false
}

// authRealm is the realm of inbound challenges.
func (ua *UA) authRealm() string {
	if ia := ua.cfg.InboundAuth; ia != nil && ia.Realm != "" {
		return ia.Realm
	}
	if r := ua.cfg.Registrar; r != nil && r.Realm != "" {
		return r.Realm
	}
	return ua.host
}

func (ua *UA) nonceMAC(ts string) string {
	m := hmac.New(sha256.New, ua.nonceKey)
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// newNonce is stateless: a unique issue time signed with the UA's key.
func (ua *UA) newNonce() string {
	ts := strconv.FormatInt(ua.edge.nonces.issue(ua.edge.cfg.Now()), 16)
	return ts + "." + ua.nonceMAC(ts)
}

// challenge is one WWW-Authenticate value with the most preferred
// algorithm.
func (ua *UA) challenge() string {
	return ua.challengeFor(ua.edge.cfg.DigestAlgorithms[0], ua.newNonce(), false)
}

func (ua *UA) challengeFor(algorithm, nonce string, stale bool) string {
	chal := digest.Challenge{
		Realm:     ua.authRealm(),
		Nonce:     nonce,
		Algorithm: algorithm,
		QOP:       []string{"auth"},
		Stale:     stale,
	}
	return chal.String()
}

// challenges are the WWW-Authenticate headers of a 401: one per
// algorithm, most preferred first, sharing one nonce.
func (ua *UA) challenges(stale bool) []sipgosip.Header {
	nonce := ua.newNonce()
	hdrs := make([]sipgosip.Header, 0, len(ua.edge.cfg.DigestAlgorithms))
	for _, a := range ua.edge.cfg.DigestAlgorithms {
		hdrs = append(hdrs, sipgosip.NewHeader("WWW-Authenticate", ua.challengeFor(a, nonce, stale)))
	}
	return hdrs
}

// checkAuth verifies the Authorization of an inbound request: nil when
// valid.
func (ua *UA) checkAuth(req *sipgosip.Request) error {
	_, err := ua.verifyAuth(req)
	return err
}

// verifyAuth returns the authenticated user of req. An unknown user is
// checked against a random password so that it costs the same time and
// fails the same way as a wrong password.
func (ua *UA) verifyAuth(req *sipgosip.Request) (string, error) {
	h := req.GetHeader("Authorization")
	if h == nil {
		return "", errNoCredentials
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return "", fmt.Errorf("parse credentials: %w", err)
	}
	algorithm := strings.ToUpper(cred.Algorithm)
	if algorithm == "" {
		algorithm = "MD5"
	}
	offered := false
	for _, a := range ua.edge.cfg.DigestAlgorithms {
		offered = offered || a == algorithm
	}
	if !offered {
		return "", fmt.Errorf("algorithm %q not offered: %w", cred.Algorithm, errBadCredentials)
	}
	if cred.QOP != "auth" {
		return "", fmt.Errorf("qop %q, want auth: %w", cred.QOP, errBadCredentials)
	}
	ts, mac, ok := strings.Cut(cred.Nonce, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(ua.nonceMAC(ts))) {
		return "", fmt.Errorf("nonce not ours: %w", errBadCredentials)
	}
	issued, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return "", fmt.Errorf("nonce not ours: %w", errBadCredentials)
	}
	password, known := ua.password(cred.Username)
	if !known || cred.Realm != ua.authRealm() {
		password, known = ua.edge.dummy, false
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: algorithm, Opaque: cred.Opaque, QOP: []string{"auth"}}
	want, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: cred.URI, Username: cred.Username, Password: password,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil {
		return "", fmt.Errorf("compute digest: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 || !known {
		return "", errBadCredentials
	}
	now := ua.edge.cfg.Now()
	oldest := now.Add(-ua.edge.cfg.NonceLifetime).UnixNano()
	if issued < oldest {
		return "", errStaleNonce
	}
	fresh, tracked := ua.edge.nonces.use(cred.Nonce, issued, cred.Nc, oldest)
	switch {
	case !tracked:
		return "", errStaleNonce
	case !fresh:
		return "", fmt.Errorf("nonce-count %d replayed: %w", cred.Nc, errBadCredentials)
	}
	return cred.Username, nil
}

// authenticate answers req with a 401 unless it carries valid credentials,
// and returns the authenticated user. Every failure gets the same fresh
// challenge, for a known user or not, so the answer tells a scanner
// nothing; failed attempts count towards a ban of the source.
func (ua *UA) authenticate(req *sipgosip.Request, tx sipgosip.ServerTransaction) (string, bool) {
	user, err := ua.verifyAuth(req)
	if err == nil {
		return user, true
	}
	stale := errors.Is(err, errStaleNonce)
	src, perr := netip.ParseAddrPort(req.Source())
	switch {
	case stale:
		ua.edge.authStale.Add(1)
	case errors.Is(err, errNoCredentials):
	default:
		ua.log.Debug("digest auth failed", "method", req.Method.String(), "source", req.Source(), "error", err)
		if perr == nil {
			ua.edge.failure(src.Addr().Unmap(), "digest auth failed")
		}
	}
	if ua.edge.banned(src.Addr().Unmap()) {
		return "", false // banned by this very failure: the scanner hears nothing more
	}
	ua.respond(tx, req, 401, "Unauthorized", ua.challenges(stale)...)
	return "", false
}

// randomPassword is the password unknown users are checked against.
func randomPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
