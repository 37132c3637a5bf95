package sip

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// The registrar (RFC 3261 §10.3) for extensions: softphones and agents
// register with digest auth; the application finds where to call them
// with UA.Lookup.

// Defaults applied to zero-valued RegistrarConfig fields.
const (
	DefaultRegistrarMinExpires  = 60 * time.Second
	DefaultRegistrarMaxExpires  = 3600 * time.Second
	DefaultRegistrarMaxContacts = 10
)

// Extension is one user allowed to register (and, with
// Config.InboundAuth set, to place inbound calls).
type Extension struct {
	// User is the digest user name and the user part of its AOR.
	User string
	// Password is the digest password. It is never logged.
	Password string
}

// RegistrarConfig turns on the registrar. Without it REGISTER gets 405.
type RegistrarConfig struct {
	// Realm of the challenges. Default Config.InboundAuth's realm, or the
	// advertised host.
	Realm string
	// Extensions are the users that may register.
	Extensions []Extension
	// MinExpires is the shortest registration accepted (423 below it,
	// RFC 3261 §10.3 step 7). Default 60 s.
	MinExpires time.Duration
	// MaxExpires caps the registration interval granted; it is also the
	// interval of a REGISTER that asks none. Default 3600 s.
	MaxExpires time.Duration
	// MaxContacts caps the bindings of one extension; a REGISTER that
	// would exceed it gets 403. Default 10.
	MaxContacts int
}

func (c *RegistrarConfig) withDefaults() (*RegistrarConfig, error) {
	if c == nil {
		return nil, nil
	}
	r := *c
	if r.MinExpires <= 0 {
		r.MinExpires = DefaultRegistrarMinExpires
	}
	if r.MaxExpires <= 0 {
		r.MaxExpires = DefaultRegistrarMaxExpires
	}
	if r.MaxExpires < r.MinExpires {
		return nil, fmt.Errorf("registrar: max expires %s below min expires %s", r.MaxExpires, r.MinExpires)
	}
	if r.MaxContacts <= 0 {
		r.MaxContacts = DefaultRegistrarMaxContacts
	}
	seen := map[string]bool{}
	for i, e := range r.Extensions {
		if e.User == "" || e.Password == "" {
			return nil, fmt.Errorf("registrar: extension %d: empty user or password", i)
		}
		if seen[e.User] {
			return nil, fmt.Errorf("registrar: extension %q listed twice", e.User)
		}
		seen[e.User] = true
	}
	r.Extensions = slices.Clone(r.Extensions)
	return &r, nil
}

// Binding is one registered contact of an extension.
type Binding struct {
	// User is the extension (the user part of the AOR).
	User string
	// Contact is the URI to send requests to, as registered.
	Contact string
	// Source is the address the REGISTER came from (where a NATed
	// softphone is reachable), Transport its transport.
	Source    netip.AddrPort
	Transport string
	// Expires is when the binding lapses unless refreshed.
	Expires time.Time
	// UserAgent is the registering client's User-Agent.
	UserAgent string

	callID string
	cseq   uint32
}

type registry struct {
	cfg   RegistrarConfig
	users map[string]string
	now   func() time.Time

	mu       sync.Mutex
	bindings map[string][]Binding // by user; at most MaxContacts each
}

func newRegistrar(cfg *RegistrarConfig, now func() time.Time) *registry {
	r := &registry{cfg: *cfg, users: map[string]string{}, now: now, bindings: map[string][]Binding{}}
	for _, e := range cfg.Extensions {
		r.users[e.User] = e.Password
	}
	return r
}

// lookupLocked returns user's live bindings, dropping lapsed ones.
func (r *registry) lookupLocked(user string, now time.Time) []Binding {
	bs := slices.DeleteFunc(r.bindings[user], func(b Binding) bool { return !now.Before(b.Expires) })
	if len(bs) == 0 {
		delete(r.bindings, user)
		return nil
	}
	r.bindings[user] = bs
	return bs
}

// Lookup returns the live bindings of an extension (user name or AOR
// "sip:user@host"), newest registration last; none when it is not
// registered or no registrar is configured.
func (ua *UA) Lookup(aor string) []Binding {
	if ua.registrar == nil {
		return nil
	}
	user := aor
	if strings.HasPrefix(aor, "sip:") || strings.HasPrefix(aor, "sips:") {
		var u sipgosip.Uri
		if err := sipgosip.ParseUri(aor, &u); err != nil {
			return nil
		}
		user = u.User
	}
	r := ua.registrar
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lookupLocked(user, r.now()))
}

// handleRegister authenticates a REGISTER and updates the bindings of its
// AOR (RFC 3261 §10.3). Every unauthenticated REGISTER gets the same 401,
// whether its extension exists or not.
func (ua *UA) handleRegister(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	r := ua.registrar
	to, cid, cseq := req.To(), req.CallID(), req.CSeq()
	if to == nil || cid == nil || cseq == nil {
		ua.respond(tx, req, 400, "Missing To, Call-ID or CSeq")
		return
	}
	user, ok := ua.authenticate(req, tx)
	if !ok {
		return
	}
	log := ua.log.With("user", user, "source", req.Source())
	if to.Address.User != user {
		// Authenticated, so this tells nothing to a scanner.
		log.Warn("register refused", "code", 403, "why", "AOR of another user")
		ua.respond(tx, req, 403, "Forbidden")
		return
	}
	expires := r.cfg.MaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			ua.respond(tx, req, 400, "Bad Expires")
			return
		}
		expires = time.Duration(n) * time.Second
	}
	source, _ := netip.ParseAddrPort(req.Source())
	now := r.now()
	var (
		wildcard bool
		updates  []Binding
	)
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sipgosip.ContactHeader)
		if !ok {
			ua.respond(tx, req, 400, "Bad Contact")
			return
		}
		if c.Address.Wildcard {
			wildcard = true
			continue
		}
		exp := expires
		if c.Params != nil {
			if v, ok := c.Params.Get("expires"); ok {
				n, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					ua.respond(tx, req, 400, "Bad Contact expires")
					return
				}
				exp = time.Duration(n) * time.Second
			}
		}
		if exp > 0 && exp < r.cfg.MinExpires {
			ua.respond(tx, req, 423, "Interval Too Brief", secondsHeader("Min-Expires", r.cfg.MinExpires))
			return
		}
		exp = min(exp, r.cfg.MaxExpires)
		updates = append(updates, Binding{
			User: user, Contact: c.Address.String(), Source: source, Transport: req.Transport(),
			Expires: now.Add(exp), UserAgent: headerValue(req, "User-Agent"),
			callID: cid.Value(), cseq: cseq.SeqNo,
		})
	}
	// RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0.
	if wildcard && (len(updates) > 0 || expires != 0) {
		ua.respond(tx, req, 400, "Bad wildcard Contact")
		return
	}
	r.mu.Lock()
	bs := slices.Clone(r.lookupLocked(user, now))
	if wildcard {
		bs = nil
	}
	for _, u := range updates {
		i := slices.IndexFunc(bs, func(b Binding) bool { return b.Contact == u.Contact })
		if i >= 0 && bs[i].callID == u.callID && bs[i].cseq >= u.cseq {
			continue // step 7: an older request from the same client
		}
		if i >= 0 {
			bs = slices.Delete(bs, i, i+1)
		}
		if u.Expires.After(now) {
			bs = append(bs, u)
		}
	}
	if len(bs) > r.cfg.MaxContacts {
		r.mu.Unlock()
		log.Warn("register refused", "code", 403, "why", fmt.Sprintf("more than %d contacts", r.cfg.MaxContacts))
		ua.respond(tx, req, 403, "Too Many Contacts")
		return
	}
	if len(bs) == 0 {
		delete(r.bindings, user)
	} else {
		r.bindings[user] = bs
	}
	r.mu.Unlock()
	log.Info("extension registered", "contacts", len(bs), "expires", expires.String())
	res := sipgosip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range bs {
		var u sipgosip.Uri
		if err := sipgosip.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		c := &sipgosip.ContactHeader{Address: u, Params: sipgosip.NewParams()}
		c.Params.Add("expires", strconv.Itoa(int(b.Expires.Sub(now).Round(time.Second)/time.Second)))
		res.AppendHeader(c)
	}
	res.AppendHeader(sipgosip.NewHeader("Date", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")))
	res.AppendHeader(sipgosip.NewHeader("Server", ua.cfg.UserAgent))
	if err := tx.Respond(res); err != nil {
		log.Debug("respond to REGISTER failed", "error", err)
	}
}
