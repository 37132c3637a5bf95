package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// Registration back-off bounds (doubling, jittered ±20 %).
const (
	registerRetryMin = 5 * time.Second
	registerRetryMax = 5 * time.Minute
	registerTimeout  = 32 * time.Second // 64*T1: one REGISTER transaction
)

// RegStatus is where a trunk registration stands.
type RegStatus int

// Registration states.
const (
	Unregistered RegStatus = iota // not registered (not configured, or after un-REGISTER)
	Registering                   // REGISTER in flight
	Registered                    // binding active until RegState.Expires
	RegFailed                     // last attempt failed; retry at RegState.NextAttempt
)

var regNames = [...]string{"unregistered", "registering", "registered", "failed"}

// String returns the status in words.
func (s RegStatus) String() string {
	if s < 0 || int(s) >= len(regNames) {
		return fmt.Sprintf("RegStatus(%d)", int(s))
	}
	return regNames[s]
}

// RegState is a snapshot of one trunk's registration.
type RegState struct {
	Trunk       string
	Status      RegStatus
	Code        int       // last final SIP status code, 0 if none
	Reason      string    // its reason phrase
	Err         error     // last error, nil when registered
	Expires     time.Time // binding expiry when registered
	NextAttempt time.Time // next REGISTER (refresh or retry)
	Since       time.Time // when Status last changed
	Failures    int       // consecutive failed attempts, 0 once registered
}

// Registration returns the registration state of a trunk; Unregistered for
// a trunk without Register or an unknown name.
func (ua *UA) Registration(trunk string) RegState {
	r, ok := ua.regs[trunk]
	if !ok {
		return RegState{Trunk: trunk, Status: Unregistered}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// registration keeps one trunk registered.
type registration struct {
	ua     *UA
	trunk  *Trunk
	callID string
	tag    string

	retryMin, retryMax time.Duration

	mu    sync.Mutex
	cseq  uint32
	state RegState
	done  chan struct{}
}

func newRegistration(ua *UA, t *Trunk) *registration {
	r := &registration{
		ua: ua, trunk: t, callID: newCallID(), tag: sipgosip.GenerateTagN(16),
		retryMin: ua.cfg.RegisterRetryMin, retryMax: ua.cfg.RegisterRetryMax,
		state: RegState{Trunk: t.Name, Status: Unregistered, Since: time.Now()},
		done:  make(chan struct{}),
	}
	return r
}

// set updates the state and logs every status change.
func (r *registration) set(f func(s *RegState)) {
	r.mu.Lock()
	old := r.state.Status
	f(&r.state)
	if r.state.Status != old {
		r.state.Since = time.Now()
	}
	s := r.state
	r.mu.Unlock()
	if s.Status == old && s.Status != RegFailed {
		return
	}
	log := r.ua.log.With("trunk", s.Trunk, "state", s.Status.String(), "code", s.Code, "reason", s.Reason)
	switch s.Status {
	case RegFailed:
		log.Warn("registration failed", "error", s.Err, "next_attempt", s.NextAttempt.Format(time.RFC3339))
	case Registered:
		log.Info("registration state changed", "expires", s.Expires.Format(time.RFC3339), "next_refresh", s.NextAttempt.Format(time.RFC3339))
	default:
		log.Info("registration state changed")
	}
}

func (r *registration) run(ctx context.Context) {
	defer close(r.done)
	backoff := r.retryMin
	expiry := r.trunk.RegisterExpiry
	for {
		r.set(func(s *RegState) {
			if s.Status != Registered {
				s.Status = Registering
			}
		})
		granted, res, err := r.register(ctx, expiry)
		if ctx.Err() != nil {
			return
		}
		if err != nil && res != nil && res.StatusCode == 423 {
			// RFC 3261 §10.2.8: retry at once with the registrar's minimum.
			if n, perr := strconv.Atoi(strings.TrimSpace(headerValue(res, "Min-Expires"))); perr == nil && time.Duration(n)*time.Second > expiry {
				expiry = time.Duration(n) * time.Second
				r.ua.log.Info("registrar wants a longer expiry; retrying", "trunk", r.trunk.Name, "expiry", expiry.String())
				granted, res, err = r.register(ctx, expiry)
				if ctx.Err() != nil {
					return
				}
			}
		}
		var wait time.Duration
		if err == nil {
			backoff = r.retryMin
			wait = refreshIn(granted)
			r.set(func(s *RegState) {
				s.Status, s.Code, s.Reason, s.Err, s.Failures = Registered, res.StatusCode, res.Reason, nil, 0
				s.Expires = time.Now().Add(granted)
				s.NextAttempt = time.Now().Add(wait)
			})
		} else {
			wait = jitter(backoff)
			backoff = min(backoff*2, r.retryMax)
			r.set(func(s *RegState) {
				s.Status, s.Err, s.Code, s.Reason = RegFailed, err, 0, ""
				s.Failures++
				if res != nil {
					s.Code, s.Reason = res.StatusCode, res.Reason
				}
				s.Expires = time.Time{}
				s.NextAttempt = time.Now().Add(wait)
			})
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refreshIn re-registers at 80 % of the granted expiry, but at least 1 s
// and no later than 30 s before it.
func refreshIn(granted time.Duration) time.Duration {
	d := granted * 8 / 10
	if granted-d > 30*time.Second {
		d = granted - 30*time.Second
	}
	return max(d, time.Second)
}

func jitter(d time.Duration) time.Duration {
	f := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * f)
}

// unregister removes the binding (Expires: 0) if one is active. Called by
// UA.Close after run has stopped.
func (r *registration) unregister(ctx context.Context) {
	<-r.done
	r.mu.Lock()
	registered := r.state.Status == Registered
	r.mu.Unlock()
	if !registered {
		return
	}
	_, res, err := r.register(ctx, 0)
	code := 0
	if res != nil {
		code = res.StatusCode
	}
	if err != nil {
		r.ua.log.Warn("un-register failed", "trunk", r.trunk.Name, "code", code, "error", err)
	}
	r.set(func(s *RegState) {
		s.Status, s.Code, s.Err, s.Expires, s.NextAttempt = Unregistered, code, err, time.Time{}, time.Time{}
		if res != nil {
			s.Reason = res.Reason
		}
	})
}

// register sends one REGISTER (answering one digest challenge) and returns
// the expiry the registrar granted.
func (r *registration) register(ctx context.Context, expiry time.Duration) (time.Duration, *sipgosip.Response, error) {
	t := r.trunk
	cl, err := r.ua.client(t.Transport)
	if err != nil {
		return 0, nil, fmt.Errorf("register trunk %q: %w", t.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	var res *sipgosip.Response
	var authHdr sipgosip.Header
	for attempt := 0; attempt < 2; attempt++ {
		req := r.newRegister(expiry, authHdr)
		res, err = cl.Do(ctx, req)
		if err != nil {
			return 0, nil, fmt.Errorf("register trunk %q at %s: %w", t.Name, t.Address, err)
		}
		if res.StatusCode != 401 && res.StatusCode != 407 {
			break
		}
		if attempt == 1 {
			return 0, res, fmt.Errorf("register trunk %q as %q: credentials rejected (%d %s): check username and password", t.Name, t.authUser(), res.StatusCode, res.Reason)
		}
		if t.Password == "" {
			return 0, res, fmt.Errorf("register trunk %q: registrar wants authentication (%d) but no password is configured", t.Name, res.StatusCode)
		}
		if err := authorize(req, res, t.authUser(), t.Password, t.Realm); err != nil {
			return 0, res, fmt.Errorf("register trunk %q: %w", t.Name, err)
		}
		name := "Authorization"
		if res.StatusCode == 407 {
			name = "Proxy-Authorization"
		}
		authHdr = req.GetHeader(name)
	}
	switch {
	case res.IsSuccess():
	case res.StatusCode == 403:
		return 0, res, fmt.Errorf("register trunk %q as %q: forbidden (403 %s): wrong password or account not allowed", t.Name, t.authUser(), res.Reason)
	case res.StatusCode == 423:
		return 0, res, fmt.Errorf("register trunk %q: expiry %s too brief for registrar (423, Min-Expires %s)", t.Name, expiry, headerValue(res, "Min-Expires"))
	default:
		return 0, res, fmt.Errorf("register trunk %q: registrar answered %d %s", t.Name, res.StatusCode, res.Reason)
	}
	return grantedExpiry(res, r.ua.contact(t.Transport, t.Username), expiry), res, nil
}

func (r *registration) newRegister(expiry time.Duration, authHdr sipgosip.Header) *sipgosip.Request {
	t := r.trunk
	uri := sipgosip.Uri{Scheme: "sip", Host: t.host(), Port: trunkPort(t)}
	req := sipgosip.NewRequest(sipgosip.REGISTER, uri)
	req.SetTransport(strings.ToUpper(t.Transport))
	aor := sipgosip.Uri{Scheme: "sip", User: t.Username, Host: t.host()}
	from := sipgosip.FromHeader{Address: aor, Params: sipgosip.NewParams()}
	from.Params.Add("tag", r.tag)
	req.AppendHeader(&from)
	req.AppendHeader(&sipgosip.ToHeader{Address: aor})
	cid := sipgosip.CallIDHeader(r.callID)
	req.AppendHeader(&cid)
	r.mu.Lock()
	r.cseq++
	seq := r.cseq
	r.mu.Unlock()
	req.AppendHeader(&sipgosip.CSeqHeader{SeqNo: seq, MethodName: sipgosip.REGISTER})
	contact := r.ua.contact(t.Transport, t.Username)
	req.AppendHeader(&contact)
	req.AppendHeader(secondsHeader("Expires", expiry))
	req.AppendHeader(sipgosip.NewHeader("User-Agent", r.ua.cfg.UserAgent))
	req.AppendHeader(sipgosip.NewHeader("Allow", allowed))
	if authHdr != nil {
		req.AppendHeader(authHdr)
	}
	return req
}

// grantedExpiry reads the expiry from our Contact's expires parameter, else
// the Expires header, else what we asked (RFC 3261 §10.2.4).
func grantedExpiry(res *sipgosip.Response, ours sipgosip.ContactHeader, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sipgosip.ContactHeader)
		if !ok || ch.Address.User != ours.Address.User || ch.Address.Host != ours.Address.Host || ch.Address.Port != ours.Address.Port {
			continue
		}
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if v := headerValue(res, "Expires"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

func headerValue(m headerGetter, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
