package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
)

// cancelGrace is how long a ring timeout or cancel waits for a first
// response before abandoning an INVITE nobody answered at all.
const cancelGrace = 2 * time.Second

// CallerID overrides a trunk's caller-ID presentation for one call.
type CallerID struct {
	User              string // From user part (the calling number)
	Display           string // From display name
	PAssertedIdentity string // P-Asserted-Identity URI, e.g. "sip:+8675512345678@trunk"
}

// Header is an extra SIP header for a request.
type Header struct {
	Name  string
	Value string
}

// Progress is a provisional response to our INVITE.
type Progress struct {
	Code       int    // 180, 183, ...
	Reason     string // reason phrase
	EarlyMedia bool   // the response carried SDP, already applied to the leg
}

// DialRequest describes one outbound call.
type DialRequest struct {
	// Trunk names the Config.Trunks entry to dial through.
	Trunk string
	// To is a number (sent as sip:NUMBER@trunk) or a full SIP URI.
	To string
	// Media is the leg whose address goes in the offer; required.
	Media MediaLeg
	// RingTimeout cancels the call unanswered after this long. Default
	// Config.RingTimeout.
	RingTimeout time.Duration
	// CallerID, when set, overrides the trunk's FromUser, FromDisplay and
	// PAssertedIdentity (empty fields keep the trunk's).
	CallerID *CallerID
	// Headers are added to the INVITE as given.
	Headers []Header
	// OnProgress, when set, is called for each 18x response (from the
	// signalling goroutine: return quickly).
	OnProgress func(Progress)
	// CallID, when set, is the INVITE's Call-ID, so that a caller can name
	// the call in its own events before the INVITE goes out. It must be
	// unique (NewCallID makes one). Default: a fresh random one.
	CallID string
}

// Dial places an outbound call through a trunk and returns when it is
// answered, with a *CallError when it is not. Cancelling ctx before the
// answer sends CANCEL.
func (ua *UA) Dial(ctx context.Context, dr DialRequest) (*Call, error) {
	ua.mu.Lock()
	closed := ua.closed || !ua.started
	if !closed {
		ua.dials.Add(1)
		defer ua.dials.Done()
	}
	ua.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("dial %s via trunk %q: %w", ua.number(dr.To), dr.Trunk, ErrClosed)
	}
	t, ok := ua.trunks[dr.Trunk]
	if !ok {
		return nil, fmt.Errorf("dial %s via trunk %q: %w", ua.number(dr.To), dr.Trunk, ErrUnknownTrunk)
	}
	if dr.Media == nil {
		return nil, fmt.Errorf("dial %s via trunk %q: no media leg", ua.number(dr.To), dr.Trunk)
	}
	cl, err := ua.client(t.Transport)
	if err != nil {
		return nil, fmt.Errorf("dial %s via trunk %q: %w", ua.number(dr.To), dr.Trunk, err)
	}
	target, err := dialTarget(t, dr.To)
	if err != nil {
		return nil, fmt.Errorf("dial %s via trunk %q: %w", ua.number(dr.To), dr.Trunk, err)
	}
	ring := dr.RingTimeout
	if ring <= 0 {
		ring = ua.cfg.RingTimeout
	}
	callID := dr.CallID
	if callID == "" {
		callID = newCallID()
	}
	log := ua.log.With("call_id", callID, "trunk", t.Name, "direction", "outbound", "to", ua.number(target.User))

	prefs := make([]Codec, 0, len(t.Codecs))
	for _, n := range t.Codecs {
		c, _ := codecByName(n)
		prefs = append(prefs, c)
	}
	c := &Call{
		ua: ua, id: callID, dir: Outbound, trunk: t.Name, leg: dr.Media, log: log, prefs: prefs,
		done: make(chan struct{}),
		sdpb: sdpBuilder{sessionID: uint64(time.Now().UnixNano() & 0x7fffffffffff), userAgent: ua.cfg.UserAgent},
	}
	c.srtp.policy = ua.policyFor(t, t.Transport)
	interval := ua.cfg.SessionExpires
	var res *sipgosip.Response
	var sess *sipgo.DialogClientSession
	for attempt := 0; ; attempt++ {
		req := ua.newInvite(t, target, dr, callID, interval, c.offer(prefs))
		c.awaitSRTP() // drop media until the answer's SRTP key, see srtp.go
		c.local = partyOf(req.From().DisplayName, req.From().Address)
		c.remote = partyOf("", target)
		if attempt == 0 {
			log.Info("dialling", "from", ua.number(c.local.User), "ring_timeout", ring.String())
		}
		dua := &sipgo.DialogUA{Client: cl, ContactHDR: ua.contact(t.Transport, t.Username)}
		sess, res, err = ua.invite(ctx, dua, req, t, ring, dr, c)
		var ce *CallError
		if errors.As(err, &ce) && ce.Code == 422 && attempt == 0 && res != nil {
			// RFC 4028 §7.3: retry with the Min-SE the peer asked for.
			if minSE := parseMinSE(res); minSE > interval {
				log.Info("peer wants a longer session interval; retrying", "min_se", minSE.String())
				interval = minSE
				continue
			}
		}
		if err != nil {
			if ce != nil {
				ce.Trunk, ce.CallID = t.Name, callID
				attrs := []any{"code", ce.Code, "reason", ce.Reason, "kind", ce.Kind.String(), "action", "reported to caller"}
				if ce.Err != nil {
					attrs = append(attrs, "error", ce.Err)
				}
				log.Warn("call failed", attrs...)
			}
			return nil, err
		}
		break
	}

	c.key = sipgosip.DialogIDMake(callID, tagOf(res.From().Params), tagOf(res.To().Params))
	c.sess = sess
	c.target = target
	if ct := res.Contact(); ct != nil {
		c.target = *ct.Address.Clone()
	}
	c.remote = partyOf(res.To().DisplayName, res.To().Address)

	// Apply the answer before ACK so early RTP from the peer is not lost.
	failCall := func(kind FailureKind, reason string, cause error) (*Call, error) {
		_ = sess.Ack(ctx)
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = sess.Bye(byeCtx)
		log.Warn("call failed after answer", "code", res.StatusCode, "reason", reason, "error", cause, "action", "sent BYE")
		return nil, &CallError{Kind: kind, Code: res.StatusCode, Reason: reason, Trunk: t.Name, CallID: callID, Err: cause}
	}
	m, err := ParseSDP(res.Body())
	if err != nil {
		return failCall(FailureNotAcceptable, "bad SDP in answer", err)
	}
	codec, err := m.Negotiate(prefs)
	if err != nil {
		return failCall(FailureNotAcceptable, "no common codec in answer", err)
	}
	if err := c.acceptSRTP(m); err != nil {
		return failCall(FailureNotAcceptable, "no usable srtp in answer", err)
	}
	if err := c.applyMedia(m, codec, m.DTMFPayloadType); err != nil {
		return failCall(FailureUnknown, "media leg refused answer", err)
	}
	if err := sess.Ack(ctx); err != nil {
		log.Warn("ACK failed", "error", err)
	}
	ua.setupTimer(c, res, interval, refresherUAC)
	if !c.start() {
		return failCall(FailureCancelled, "user agent closing", ErrClosed)
	}
	log.Info("call answered", "codec", codec.Name, "remote_rtp", m.Addr.String(), "session_interval", c.interval.String())
	return c, nil
}

// setupTimer applies the session timer negotiated by an INVITE 2xx; role is
// ours in that transaction.
func (ua *UA) setupTimer(c *Call, res *sipgosip.Response, asked time.Duration, role refresherRole) {
	if ua.cfg.SessionExpires <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	se, ok, err := parseSessionExpires(res)
	if !ok || err != nil {
		// Peer without timer support: we refresh alone (RFC 4028 §7.2).
		c.interval, c.weRefresh = asked, true
		return
	}
	c.interval = se.interval
	c.weRefresh = se.refresher == "" || se.refresher == role
}

func (ua *UA) newInvite(t *Trunk, target sipgosip.Uri, dr DialRequest, callID string, interval time.Duration, offer []byte) *sipgosip.Request {
	req := sipgosip.NewRequest(sipgosip.INVITE, *target.Clone())
	req.SetTransport(strings.ToUpper(t.Transport))
	req.SetDestination(t.Address)
	user, display, pai := t.fromUser(), t.FromDisplay, t.PAssertedIdentity
	if id := dr.CallerID; id != nil {
		if id.User != "" {
			user = id.User
		}
		if id.Display != "" {
			display = id.Display
		}
		if id.PAssertedIdentity != "" {
			pai = id.PAssertedIdentity
		}
	}
	from := sipgosip.FromHeader{DisplayName: display, Address: sipgosip.Uri{Scheme: "sip", User: user, Host: t.host()}, Params: sipgosip.NewParams()}
	from.Params.Add("tag", sipgosip.GenerateTagN(16))
	req.AppendHeader(&from)
	to := sipgosip.ToHeader{Address: sipgosip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}}
	req.AppendHeader(&to)
	cid := sipgosip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	contact := ua.contact(t.Transport, t.Username)
	req.AppendHeader(&contact)
	if pai != "" {
		req.AppendHeader(sipgosip.NewHeader("P-Asserted-Identity", "<"+pai+">"))
	}
	req.AppendHeader(sipgosip.NewHeader("Allow", allowed))
	if interval > 0 {
		req.AppendHeader(sipgosip.NewHeader("Supported", "timer"))
		req.AppendHeader(sipgosip.NewHeader("Session-Expires", sessionExpires{interval: interval, refresher: refresherUAC}.String()))
		req.AppendHeader(secondsHeader("Min-SE", ua.cfg.MinSE))
	}
	req.AppendHeader(sipgosip.NewHeader("User-Agent", ua.cfg.UserAgent))
	for _, h := range dr.Headers {
		req.AppendHeader(sipgosip.NewHeader(h.Name, h.Value))
	}
	req.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	return req
}

// invite sends the INVITE and waits for the answer, mapping every failure
// to a *CallError. res is the final response when one arrived.
func (ua *UA) invite(ctx context.Context, dua *sipgo.DialogUA, req *sipgosip.Request, t *Trunk, ring time.Duration, dr DialRequest, c *Call) (*sipgo.DialogClientSession, *sipgosip.Response, error) {
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		return nil, nil, &CallError{Kind: FailureUnreachable, Reason: "INVITE not sent", Err: err}
	}
	// Ring timeout and caller cancel end the wait. Before any response a
	// CANCEL is not allowed (RFC 3261 §9.1) and sipgo would wait for timer B
	// (32 s): then the INVITE is abandoned at once instead.
	ringCtx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var gotResponse, ringExpired atomic.Bool
	firstResponse := make(chan struct{})
	var firstOnce sync.Once
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() {
		timer := time.NewTimer(ring)
		defer timer.Stop()
		cause := error(context.Canceled)
		select {
		case <-timer.C:
			ringExpired.Store(true)
			cause = context.DeadlineExceeded
		case <-ctx.Done():
		case <-ua.ctx.Done(): // Close: give up ringing calls
		case <-stopWatch:
			return
		}
		if !gotResponse.Load() {
			// A provisional response may be on its way: give it a moment so
			// the far end gets a proper CANCEL.
			grace := time.NewTimer(cancelGrace)
			defer grace.Stop()
			select {
			case <-firstResponse:
			case <-grace.C:
				cause = sipgo.WaitAnswerForceCancelErr
			case <-stopWatch:
				return
			}
		}
		cancel(cause)
	}()
	var final *sipgosip.Response
	opts := sipgo.AnswerOptions{
		Username: t.authUser(),
		Password: t.Password,
		OnResponse: func(res *sipgosip.Response) error {
			gotResponse.Store(true)
			firstOnce.Do(func() { close(firstResponse) })
			if !res.IsProvisional() {
				final = res
				return nil
			}
			if res.StatusCode == 100 {
				return nil
			}
			p := Progress{Code: res.StatusCode, Reason: res.Reason}
			if len(res.Body()) > 0 {
				if m, err := ParseSDP(res.Body()); err != nil {
					c.log.Warn("bad early media SDP ignored", "code", res.StatusCode, "error", err)
				} else if codec, err := m.Negotiate(c.prefs); err != nil {
					c.log.Warn("early media has no common codec; ignored", "code", res.StatusCode, "error", err)
				} else if err := c.acceptSRTP(m); err != nil {
					c.log.Warn("early media has no usable srtp; ignored", "code", res.StatusCode, "error", err)
				} else if err := c.applyMedia(m, codec, m.DTMFPayloadType); err != nil {
					c.log.Warn("early media not applied", "error", err)
				} else {
					p.EarlyMedia = true
				}
			}
			c.log.Info("call progress", "code", res.StatusCode, "reason", res.Reason, "early_media", p.EarlyMedia)
			if dr.OnProgress != nil {
				dr.OnProgress(p)
			}
			return nil
		},
	}
	for {
		err = sess.WaitAnswer(ringCtx, opts)
		// sipgo gives up after 11 responses, but carriers repeat 180/183
		// while ringing: keep waiting on the same transaction.
		if err == nil || err.Error() != "more than 10 responses received" {
			break
		}
	}
	if err == nil {
		return sess, sess.InviteResponse, nil
	}
	var dre *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dre):
		return nil, dre.Res, &CallError{Kind: failureForCode(dre.Res.StatusCode), Code: dre.Res.StatusCode, Reason: dre.Res.Reason}
	case ringCtx.Err() != nil && ua.ctx.Err() != nil && ctx.Err() == nil && !ringExpired.Load():
		return nil, final, &CallError{Kind: FailureCancelled, Reason: "user agent closing", Err: ErrClosed}
	case ringCtx.Err() != nil && !gotResponse.Load():
		if ringExpired.Load() {
			return nil, final, &CallError{Kind: FailureTimeout, Reason: fmt.Sprintf("no response from trunk in %s, INVITE abandoned", ring)}
		}
		return nil, final, &CallError{Kind: FailureCancelled, Reason: "cancelled by caller before any response, INVITE abandoned", Err: context.Cause(ctx)}
	case ringCtx.Err() != nil && ringExpired.Load():
		return nil, final, &CallError{Kind: FailureNoAnswer, Reason: fmt.Sprintf("no answer in %s, sent CANCEL", ring)}
	case ringCtx.Err() != nil:
		return nil, final, &CallError{Kind: FailureCancelled, Reason: "cancelled by caller, sent CANCEL", Err: context.Cause(ctx)}
	case errors.Is(err, sipgosip.ErrTransactionTimeout):
		return nil, final, &CallError{Kind: FailureTimeout, Reason: "no response from trunk", Err: err}
	}
	return nil, final, &CallError{Kind: FailureUnreachable, Reason: "transaction failed", Err: err}
}

// dialTarget makes the request URI from a number or a full SIP URI.
func dialTarget(t *Trunk, to string) (sipgosip.Uri, error) {
	var u sipgosip.Uri
	if to == "" {
		return u, errors.New("empty destination")
	}
	if strings.HasPrefix(to, "sip:") || strings.HasPrefix(to, "sips:") {
		if err := sipgosip.ParseUri(to, &u); err != nil {
			return u, fmt.Errorf("parse destination uri %q: %w", to, err)
		}
		return u, nil
	}
	for _, r := range to {
		if !strings.ContainsRune("0123456789+*#-.()", r) && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z') {
			return u, fmt.Errorf("destination %q is not a number or SIP URI", to)
		}
	}
	u = sipgosip.Uri{Scheme: "sip", User: to, Host: t.host(), Port: trunkPort(t)}
	if t.Transport == "tcp" || t.Transport == "tls" {
		u.UriParams = sipgosip.NewParams()
		u.UriParams.Add("transport", t.Transport)
	}
	return u, nil
}

func tagOf(p sipgosip.HeaderParams) string {
	v, _ := p.Get("tag")
	return v
}

// NewCallID returns a fresh random Call-ID for DialRequest.CallID.
func NewCallID() string { return newCallID() }

func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
