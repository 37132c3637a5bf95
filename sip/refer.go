package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// Blind transfer (RFC 3515 REFER with the implicit subscription, RFC 5589
// call flows): we ask the peer to call the target and follow its progress
// in NOTIFYs carrying message/sipfrag status lines.

// ErrReferNotSupported means the peer answered REFER 405 or 501: it cannot
// transfer, so the caller should bridge the call itself instead.
var ErrReferNotSupported = errors.New("sip: peer does not support REFER")

// errReferBusy refuses a second REFER while one is being followed.
var errReferBusy = errors.New("a transfer is already in progress on this call")

// DefaultReferTimeout bounds a transfer when Refer's ctx has no deadline:
// the transfer target may ring for a while before the final NOTIFY.
const DefaultReferTimeout = 60 * time.Second

// TransferError is why Refer failed: the REFER was refused, or the
// transferee's call to the target failed (the sipfrag status), or no
// final status came in time.
type TransferError struct {
	CallID string
	// Target is the Refer-To URI, its user part masked (138****5678)
	// unless Config.ShowNumbers is set.
	Target string
	// Code is the refusing status: the REFER's final response, or the
	// status line of the final NOTIFY. 0 when none came (timeout).
	Code   int
	Reason string
	// Accepted says the peer took the REFER (2xx) and tried the target:
	// the failure is the target's. False means the REFER itself was
	// refused or unanswered, so bridging the call ourselves may still work.
	Accepted bool
	// Err is ErrReferNotSupported for 405/501, a context error for a
	// timeout, nil otherwise.
	Err error
}

// Error reads like: transfer call 1234 to sip:agent@pbx: 486 Busy Here.
func (e *TransferError) Error() string {
	s := fmt.Sprintf("transfer call %s to %s: ", e.CallID, e.Target)
	if e.Code != 0 {
		s += fmt.Sprintf("%d %s", e.Code, e.Reason)
	} else {
		s += e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrReferNotSupported or the context error, if any.
func (e *TransferError) Unwrap() error { return e.Err }

// sipfrag is one NOTIFY of a REFER subscription.
type sipfrag struct {
	code       int
	reason     string
	terminated bool // Subscription-State: terminated
}

// referWatch receives the NOTIFYs of the REFER in progress on a call.
type referWatch struct {
	ch chan sipfrag
}

// Refer blind-transfers the call to target (a SIP URI, or a number sent
// as sip:NUMBER@trunk): it sends REFER with Refer-To and Referred-By, waits
// for 202, then follows the NOTIFYs until the transferee's call to target
// reached a final status. On 2xx it hangs up (BYE) and returns nil; the
// transferee and the target talk on without us. Any other outcome returns a
// *TransferError and leaves the call up, so the caller can try something
// else; errors.Is(err, ErrReferNotSupported) says to bridge instead. Without
// a ctx deadline the wait is bounded by DefaultReferTimeout.
func (c *Call) Refer(ctx context.Context, target string) error {
	uri, err := c.referTarget(target)
	if err == nil && uri.Host == "" {
		err = errors.New("no host in target")
	}
	if err != nil {
		return fmt.Errorf("transfer call %s to %q: %w", c.id, c.ua.number(target), err)
	}
	referTo, shown := uri.String(), c.ua.maskedURI(uri)
	terr := func(code int, reason string, err error) error {
		return &TransferError{CallID: c.id, Target: shown, Code: code, Reason: reason, Err: err}
	}
	if c.ending.Load() {
		return terr(0, "call ended", nil)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultReferTimeout)
		defer cancel()
	}
	// Watch before sending: over UDP the first NOTIFY may beat the 202.
	w := &referWatch{ch: make(chan sipfrag, 16)}
	if !c.referw.CompareAndSwap(nil, w) {
		return fmt.Errorf("transfer call %s to %s: %w", c.id, shown, errReferBusy)
	}
	defer c.referw.CompareAndSwap(w, nil)

	log := c.log.With("refer_to", shown)
	log.Info("transferring call (REFER)")
	res, err := c.doAuthed(ctx, func() *sipgosip.Request {
		req := sipgosip.NewRequest(sipgosip.REFER, *c.target.Clone())
		req.AppendHeader(sipgosip.NewHeader("Refer-To", "<"+referTo+">"))
		req.AppendHeader(sipgosip.NewHeader("Referred-By", "<"+c.local.URI+">"))
		// REFER makes a subscription usage of the dialog: the peer's NOTIFYs
		// need a Contact to go to (RFC 3515 §2.4.5 refers to RFC 3265 rules).
		contact := c.ua.contact(transportOf(c.target), c.local.User)
		req.AppendHeader(&contact)
		req.AppendHeader(sipgosip.NewHeader("User-Agent", c.ua.cfg.UserAgent))
		return req
	})
	if err != nil {
		log.Warn("REFER got no answer", "error", err)
		return terr(0, "REFER got no answer", err)
	}
	switch {
	case res.StatusCode == 405 || res.StatusCode == 501:
		log.Warn("peer cannot transfer", "code", res.StatusCode, "reason", res.Reason, "action", "reported to caller")
		return terr(res.StatusCode, res.Reason, ErrReferNotSupported)
	case !res.IsSuccess():
		log.Warn("REFER refused", "code", res.StatusCode, "reason", res.Reason, "action", "reported to caller")
		return terr(res.StatusCode, res.Reason, nil)
	}
	log.Info("REFER accepted; following the transfer", "code", res.StatusCode)
	accepted := func(code int, reason string, err error) error {
		te := terr(code, reason, err).(*TransferError)
		te.Accepted = true
		return te
	}

	frag, err := c.awaitTransfer(ctx, w, log)
	if err != nil {
		log.Warn("transfer did not complete", "error", err, "action", "call stays up")
		return accepted(0, err.Error(), ctx.Err())
	}
	if frag.code >= 300 {
		log.Warn("transfer target refused", "code", frag.code, "reason", frag.reason, "action", "call stays up")
		return accepted(frag.code, frag.reason, nil)
	}
	log.Info("transfer succeeded; hanging up our side", "code", frag.code)
	// RFC 5589 §6.1: the transferor ends its dialog once the transfer
	// succeeded; the transferee may already have sent BYE.
	byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.Hangup(byeCtx); err != nil {
		log.Warn("BYE after transfer failed", "error", err)
	}
	return nil
}

// awaitTransfer reads NOTIFYs until a final sipfrag status, the end of
// the subscription without one, the end of the call or of ctx.
func (c *Call) awaitTransfer(ctx context.Context, w *referWatch, log *slog.Logger) (sipfrag, error) {
	for {
		select {
		case f := <-w.ch:
			if f.code >= 200 {
				return f, nil
			}
			log.Info("transfer progress", "code", f.code, "reason", f.reason)
			if f.terminated {
				return f, fmt.Errorf("subscription terminated at %d %s without a final status", f.code, f.reason)
			}
		case <-c.done:
			// A final NOTIFY followed by BYE may arrive together.
			select {
			case f := <-w.ch:
				if f.code >= 200 {
					return f, nil
				}
			default:
			}
			return sipfrag{}, errors.New("call ended before the transfer's final status")
		case <-ctx.Done():
			return sipfrag{}, errors.New("no final transfer status in time")
		}
	}
}

// referTarget makes the Refer-To URI from a SIP URI or a number.
func (c *Call) referTarget(target string) (sipgosip.Uri, error) {
	if t, ok := c.ua.trunks[c.trunk]; ok {
		return dialTarget(t, target)
	}
	if strings.HasPrefix(target, "sip:") || strings.HasPrefix(target, "sips:") {
		return dialTarget(nil, target)
	}
	// No trunk: a number goes to the host that sent us the call.
	var remote sipgosip.Uri
	if err := sipgosip.ParseUri(c.remote.URI, &remote); err != nil {
		return remote, fmt.Errorf("parse remote uri %q: %w", c.remote.URI, err)
	}
	return dialTarget(&Trunk{Address: remote.HostPort()}, target)
}

// maskedURI is u for logs and errors: its user part, usually a phone
// number, masked unless Config.ShowNumbers.
func (ua *UA) maskedURI(u sipgosip.Uri) string {
	m := *u.Clone()
	m.User = ua.number(m.User)
	return m.String()
}

func transportOf(u sipgosip.Uri) string {
	if u.UriParams != nil {
		if v, ok := u.UriParams.Get("transport"); ok && v != "" {
			return strings.ToLower(v)
		}
	}
	return "udp"
}

// handleNotify routes an in-dialog NOTIFY to its call.
func (ua *UA) handleNotify(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	c := ua.findCall(req)
	if c == nil {
		ua.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	c.onNotify(req, tx)
}

// onNotify answers a NOTIFY of our REFER subscription and hands its status
// to Refer; anything else is refused without touching the call.
func (c *Call) onNotify(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	event, _, _ := strings.Cut(headerValue(req, "Event"), ";")
	if !strings.EqualFold(strings.TrimSpace(event), "refer") {
		c.log.Warn("rejected NOTIFY", "code", 489, "event", event, "action", "call continues")
		c.ua.respond(tx, req, 489, "Bad Event")
		return
	}
	w := c.referw.Load()
	if w == nil {
		c.ua.respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	code, reason, err := parseSipfrag(req.Body())
	if err != nil {
		c.log.Warn("rejected NOTIFY", "code", 400, "reason", err.Error(), "action", "call continues")
		c.ua.respond(tx, req, 400, "Bad sipfrag")
		return
	}
	state, _, _ := strings.Cut(headerValue(req, "Subscription-State"), ";")
	f := sipfrag{code: code, reason: reason, terminated: strings.EqualFold(strings.TrimSpace(state), "terminated")}
	c.ua.respond(tx, req, 200, "OK")
	select {
	case w.ch <- f:
	default:
		// A peer flooding provisional NOTIFYs: only the final one matters,
		// and it finds room once Refer has read the backlog.
		c.log.Debug("transfer progress dropped (backlog)", "code", code)
	}
}

// parseSipfrag reads the status line of a message/sipfrag body (RFC
// 3420), e.g. "SIP/2.0 180 Ringing".
func parseSipfrag(body []byte) (int, string, error) {
	line, _, _ := bytes.Cut(body, []byte("\n"))
	line = bytes.TrimSpace(line)
	rest, ok := bytes.CutPrefix(line, []byte("SIP/2.0 "))
	if !ok {
		return 0, "", fmt.Errorf("sipfrag %q is not a SIP/2.0 status line", truncate(line, 40))
	}
	num, reason, _ := bytes.Cut(rest, []byte(" "))
	code, err := strconv.Atoi(string(num))
	if err != nil || len(num) != 3 || code < 100 || code > 699 {
		return 0, "", fmt.Errorf("sipfrag %q has no status code 100-699", truncate(line, 40))
	}
	return code, string(bytes.TrimSpace(reason)), nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
