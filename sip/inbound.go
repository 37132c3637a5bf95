package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
)

// ErrAlreadyDecided is returned by Answer or Reject on an Incoming that was
// already answered, rejected or cancelled.
var ErrAlreadyDecided = errors.New("sip: incoming call already answered, rejected or cancelled")

// Incoming is a new inbound call offered to the OnCall handler. The handler
// must Answer or Reject it; if it returns without doing either the caller
// gets 480.
type Incoming struct {
	ua        *UA
	req       *sipgosip.Request
	sess      *sipgo.DialogServerSession
	offer     *Media
	codec     Codec
	from      Party
	to        Party
	id        string
	trunk     string
	log       *slog.Logger
	cancelCtx context.CancelFunc

	mu          sync.Mutex
	state       incomingState
	settled     chan struct{} // closed once a final response went out (or CANCEL)
	settleOnce  sync.Once
	releaseOnce sync.Once
}

type incomingState int

const (
	incomingPending incomingState = iota
	incomingAnswering
	incomingDone
)

// CallID returns the SIP Call-ID.
func (in *Incoming) CallID() string { return in.id }

// Trunk is the name of the trunk whose address sent the INVITE, "" if none.
func (in *Incoming) Trunk() string { return in.trunk }

// From is the caller.
func (in *Incoming) From() Party { return in.from }

// To is the called party.
func (in *Incoming) To() Party { return in.to }

// Offer is the caller's audio offer; ok is false for an INVITE without SDP
// (delayed offer: Answer offers and the ACK answers).
func (in *Incoming) Offer() (m Media, ok bool) {
	if in.offer == nil {
		return Media{}, false
	}
	return *in.offer, true
}

// Header returns the value of a header of the INVITE, "" if absent.
func (in *Incoming) Header(name string) string {
	if h := in.req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// Ring sends 180 Ringing.
func (in *Incoming) Ring() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state != incomingPending {
		return ErrAlreadyDecided
	}
	if err := in.sess.Respond(180, "Ringing", nil); err != nil {
		return fmt.Errorf("ring call %s: %w", in.id, err)
	}
	return nil
}

// Reject answers the INVITE with a final error response (300-699).
func (in *Incoming) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("reject call %s: status %d is not a failure code", in.id, code)
	}
	in.mu.Lock()
	if in.state != incomingPending {
		in.mu.Unlock()
		return ErrAlreadyDecided
	}
	in.state = incomingDone
	in.mu.Unlock()
	defer in.settle()
	defer in.release()
	in.log.Info("inbound call rejected by application", "code", code, "reason", reason, "action", "responded")
	if err := in.sess.Respond(code, reason, nil, sipgosip.NewHeader("Server", in.ua.cfg.UserAgent)); err != nil {
		return fmt.Errorf("reject call %s: %w", in.id, err)
	}
	return nil
}

// Answer sends 200 OK with an SDP answer built from leg (the first codec of
// our preference the caller offered), applies the caller's media to leg and
// waits for the ACK. The returned Call is up.
func (in *Incoming) Answer(ctx context.Context, leg MediaLeg) (*Call, error) {
	if leg == nil {
		return nil, fmt.Errorf("answer call %s: no media leg", in.id)
	}
	in.mu.Lock()
	if in.state != incomingPending {
		in.mu.Unlock()
		return nil, ErrAlreadyDecided
	}
	in.state = incomingAnswering
	in.mu.Unlock()
	defer in.settle()
	ua := in.ua
	c := in.newCall(leg, ua.codecs)
	fail := in.failAnswer
	var body []byte
	if in.offer != nil {
		var err error
		if body, err = c.applyOffer(in.offer); err != nil {
			return fail(488, "Not Acceptable Here", err)
		}
	} else {
		if err := c.srtp.policy.checkOffer(nil); err != nil {
			return fail(488, "Not Acceptable Here", err) // SRTP policy, see srtp.go
		}
		body = c.offer(c.prefs)
		c.ackOffered = c.prefs
	}
	res := in.okResponse(body)
	res.AppendHeader(sipgosip.NewHeader("Supported", "timer"))
	if ua.cfg.SessionExpires > 0 {
		se, ok, _ := parseSessionExpires(in.req)
		if !ok {
			se = sessionExpires{interval: ua.cfg.SessionExpires}
		}
		if se.refresher == "" {
			se.refresher = refresherUAS
			if ok && hasOptionTag(in.req, "Supported", "timer") {
				se.refresher = refresherUAC // a timer-capable caller refreshes, RFC 4028 §9
			}
		}
		c.interval = se.interval
		c.weRefresh = se.refresher == refresherUAS
		if hasOptionTag(in.req, "Supported", "timer") || ok {
			res.AppendHeader(sipgosip.NewHeader("Session-Expires", se.String()))
			res.AppendHeader(sipgosip.NewHeader("Require", "timer"))
		}
	}
	if err := in.confirm(ctx, c, res); err != nil {
		return nil, err
	}
	c.mu.Lock()
	remote := c.remoteAddr
	c.mu.Unlock()
	if !remote.IsValid() {
		// Delayed offer whose ACK brought no usable answer (RFC 3261 §13.3.1.4: BYE).
		c.log.Warn("ACK carried no usable SDP answer; hanging up", "reason", "no media")
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.hangup(byeCtx, HangupLocal)
		return nil, fmt.Errorf("answer call %s: ACK carried no usable SDP answer", in.id)
	}
	c.log.Info("call answered", "codec", c.Codec().Name, "remote_rtp", remote.String(), "session_interval", c.interval.String())
	return c, nil
}

// newCall builds the Call that answering in creates, on leg, preferring
// prefs; logAttrs are added to its log lines.
func (in *Incoming) newCall(leg MediaLeg, prefs []Codec, logAttrs ...any) *Call {
	ua := in.ua
	log := ua.log.With("call_id", in.id, "trunk", in.trunk, "direction", "inbound", "from", ua.number(in.from.User))
	c := &Call{
		ua: ua, id: in.id, key: in.sess.ID, dir: Inbound, trunk: in.trunk, leg: leg, prefs: prefs,
		local: in.to, remote: in.from, sess: in.sess, target: *in.req.Contact().Address.Clone(),
		log:  log.With(logAttrs...),
		done: make(chan struct{}),
		sdpb: sdpBuilder{sessionID: uint64(time.Now().UnixNano() & 0x7fffffffffff), userAgent: ua.cfg.UserAgent},
	}
	c.srtp.policy = in.srtpPolicy()
	c.release = func() {
		in.release()
		in.cancelCtx()
	}
	c.onAck = func(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
		_ = in.sess.ReadAck(req, tx)
	}
	return c
}

// failAnswer refuses the call with code after Answer or AnswerSDP began.
func (in *Incoming) failAnswer(code int, reason string, err error) (*Call, error) {
	in.log.Warn("inbound call failed at answer", "code", code, "reason", reason, "error", err, "action", "responded")
	_ = in.sess.Respond(code, reason, nil)
	in.release()
	in.mu.Lock()
	in.state = incomingDone
	in.mu.Unlock()
	return nil, fmt.Errorf("answer call %s: %w", in.id, err)
}

// okResponse is the 200 OK to the INVITE carrying body, with the headers
// every answer has.
func (in *Incoming) okResponse(body []byte) *sipgosip.Response {
	res := sipgosip.NewResponseFromRequest(in.sess.InviteRequest, 200, "OK", body)
	res.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
	contact := in.ua.contact(in.req.Transport(), in.to.User)
	res.AppendHeader(&contact)
	res.AppendHeader(sipgosip.NewHeader("Allow", allowed))
	res.AppendHeader(sipgosip.NewHeader("Server", in.ua.cfg.UserAgent))
	return res
}

// confirm starts c, sends res and waits for the ACK; without one in time it
// hangs c up and says why.
func (in *Incoming) confirm(ctx context.Context, c *Call, res *sipgosip.Response) error {
	ua := in.ua
	if !c.start() {
		_, err := in.failAnswer(503, "Service Unavailable", ErrClosed)
		return err
	}
	in.mu.Lock()
	in.state = incomingDone
	in.mu.Unlock()

	ackCtx, cancel := context.WithTimeout(ctx, ua.cfg.AckTimeout)
	defer cancel()
	errc := make(chan error, 1)
	ua.wg.Go(func() { errc <- in.sess.WriteResponse(res) })
	var err error
	select {
	case err = <-errc:
	case <-c.done:
		err = errors.New("call ended before ACK")
	case <-ackCtx.Done():
		err = fmt.Errorf("no ACK: %w", ackCtx.Err())
	}
	if err != nil {
		c.log.Warn("answered call not confirmed; hanging up", "reason", "no ACK", "error", err)
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.hangup(byeCtx, HangupAckTimeout)
		return fmt.Errorf("answer call %s: %w", in.id, err)
	}
	return nil
}

func (in *Incoming) settle() { in.settleOnce.Do(func() { close(in.settled) }) }

// release frees the MaxInbound slot.
func (in *Incoming) release() {
	in.releaseOnce.Do(func() {
		in.ua.mu.Lock()
		in.ua.inbound--
		in.ua.mu.Unlock()
	})
}

// handleInvite routes an INVITE: with a To tag it is a re-INVITE of a call.
func (ua *UA) handleInvite(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	if to := req.To(); to != nil && tagOf(to.Params) != "" {
		c := ua.findCall(req)
		if c == nil {
			ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		c.onReinvite(req, tx)
		return
	}
	ua.handleNewInvite(req, tx)
}

// handleNewInvite admits or rejects a new inbound call, then hands it to
// the OnCall handler and waits until it is answered, rejected or cancelled
// (sipgo ends the transaction when this handler returns).
func (ua *UA) handleNewInvite(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	from, to := req.From(), req.To()
	callID := ""
	if cid := req.CallID(); cid != nil {
		callID = cid.Value()
	}
	if from == nil || to == nil || callID == "" || req.Contact() == nil {
		ua.log.Warn("inbound INVITE rejected", "code", 400, "reason", "missing From, To, Call-ID or Contact", "source", req.Source(), "action", "responded")
		ua.respond(tx, req, 400, "Missing From, To, Call-ID or Contact")
		return
	}
	trunk := ua.trunkBySource(req.Source())
	log := ua.log.With("call_id", callID, "trunk", trunk, "direction", "inbound", "from", ua.number(from.Address.User), "to", ua.number(to.Address.User), "source", req.Source())
	reject := func(code int, reason, why string, hdrs ...sipgosip.Header) {
		log.Warn("inbound call rejected", "code", code, "reason", reason, "why", why, "action", "responded")
		ua.respond(tx, req, code, reason, hdrs...)
	}
	if len(ua.cfg.AllowFrom) > 0 {
		src, err := netip.ParseAddrPort(req.Source())
		if err != nil || !allowedSource(ua.cfg.AllowFrom, src.Addr().Unmap()) {
			reject(403, "Forbidden", "source not in allow-list")
			return
		}
	}
	// Digest auth shared with the registrar (edge_digest.go): it answers
	// the uniform 401 itself and counts failures towards a ban.
	if ua.cfg.InboundAuth != nil {
		if _, ok := ua.authenticate(req, tx); !ok {
			return
		}
	}
	ua.mu.Lock()
	handler, closed := ua.onCall, ua.closed
	full := ua.cfg.MaxInbound < 0 || ua.inbound >= ua.cfg.MaxInbound
	if handler != nil && !closed && !full {
		ua.inbound++
		ua.offers.Add(1)
		defer ua.offers.Done()
	}
	ua.mu.Unlock()
	switch {
	case closed:
		reject(503, "Service Unavailable", "user agent closing")
		return
	case handler == nil:
		reject(480, "Temporarily Unavailable", "no inbound call handler")
		return
	case full:
		reject(486, "Busy Here", fmt.Sprintf("max inbound calls (%d) reached", ua.cfg.MaxInbound))
		return
	}
	in := &Incoming{ua: ua, req: req, id: callID, trunk: trunk, log: log, settled: make(chan struct{}),
		from: partyOf(from.DisplayName, from.Address), to: partyOf(to.DisplayName, to.Address)}
	admitted := false
	defer func() {
		if !admitted {
			in.release()
		}
	}()
	if se, ok, err := parseSessionExpires(req); err != nil {
		reject(400, "Bad Session-Expires", err.Error())
		return
	} else if ok && ua.cfg.SessionExpires > 0 && se.interval < ua.cfg.MinSE {
		reject(422, "Session Interval Too Small", "session interval below Min-SE", secondsHeader("Min-SE", ua.cfg.MinSE))
		return
	}
	// Without SDP (delayed offer) we offer in the 200 and the ACK answers.
	if len(req.Body()) > 0 {
		offer, err := ParseSDP(req.Body())
		if err != nil {
			reject(400, "Bad Request (malformed SDP)", err.Error(), warning(399, err.Error()))
			return
		}
		codec, err := offer.Negotiate(ua.codecs)
		if err != nil {
			reject(488, "Not Acceptable Here", err.Error(), warning(304, "Media type not available"))
			return
		}
		if err := ua.policyFor(ua.trunks[trunk], req.Transport()).checkOffer(offer); err != nil {
			reject(488, "Not Acceptable Here", err.Error(), warning(305, err.Error())) // SRTP policy, see srtp.go
			return
		}
		in.offer, in.codec = offer, codec
	}
	ua.respond(tx, req, 100, "Trying")
	cl, err := ua.client(req.Transport())
	if err != nil {
		cl = ua.clients["udp"]
	}
	dua := &sipgo.DialogUA{Client: cl, ContactHDR: ua.contact(req.Transport(), to.Address.User)}
	sess, err := dua.ReadInvite(req, tx)
	if err != nil {
		reject(500, "Server Internal Error", "read invite: "+err.Error())
		return
	}
	in.sess = sess
	admitted = true

	ctx, cancel := context.WithCancel(ua.ctx)
	in.cancelCtx = cancel
	// The dialog context ends on CANCEL (sipgo has sent 487) or when the
	// transaction dies before an answer: close the offer before the
	// application sees its context end, so a late Answer fails cleanly.
	stop := context.AfterFunc(sess.Context(), func() {
		in.mu.Lock()
		pending := in.state == incomingPending
		if pending {
			in.state = incomingDone
		}
		in.mu.Unlock()
		if pending {
			in.release()
			log.Info("caller cancelled before answer", "code", 487, "action", "487 sent by transaction layer")
			in.settle()
			cancel()
		}
	})
	if in.offer != nil {
		log.Info("inbound call offered", "codec", in.codec.Name, "remote_rtp", in.offer.Addr.String())
	} else {
		log.Info("inbound call offered without SDP (delayed offer)")
	}
	ua.wg.Go(func() {
		handler(ctx, in)
		code, reason := 480, "Temporarily Unavailable"
		if ua.ctx.Err() != nil {
			code, reason = 503, "Service Unavailable" // closing
		}
		if err := in.Reject(code, reason); err == nil {
			log.Warn("OnCall handler returned without answering", "code", code, "action", "responded")
		}
	})
	select {
	case <-in.settled:
	case <-ctx.Done():
		in.mu.Lock()
		pending := in.state == incomingPending
		if pending {
			in.state = incomingDone
		}
		in.mu.Unlock()
		if pending {
			in.release()
			reject(503, "Service Unavailable", "user agent closing")
			in.settle()
		}
		<-in.settled
	}
	stop()
	in.mu.Lock()
	answered := in.state == incomingDone && in.sess.LoadState() >= sipgosip.DialogStateEstablished
	in.mu.Unlock()
	if !answered {
		cancel()
	}
}

// trunkBySource names the trunk whose address is source's IP, for logs and
// Call.Trunk; trunks given by host name are not resolved here.
func (ua *UA) trunkBySource(source string) string {
	src, err := netip.ParseAddrPort(source)
	if err != nil {
		return ""
	}
	for _, t := range ua.cfg.Trunks {
		if ip, err := netip.ParseAddr(t.host()); err == nil && ip.Unmap() == src.Addr().Unmap() {
			return t.Name
		}
	}
	return ""
}

func allowedSource(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// warning builds a Warning header (RFC 3261 §20.43) telling the peer what
// was wrong, kept on one line and without quotes that would end the text.
func warning(code int, text string) sipgosip.Header {
	text = strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\':
			return '\''
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, text)
	if len(text) > 200 {
		text = text[:200]
	}
	return sipgosip.NewHeader("Warning", fmt.Sprintf("%d waihu \"%s\"", code, text))
}
