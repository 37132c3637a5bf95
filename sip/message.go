package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// Text messages (RFC 3428 MESSAGE): in a call's SIP dialog, or out of
// dialog through a trunk, e.g. an SMS gateway behind the carrier.

// messageContentType is the body type of every MESSAGE we send.
const messageContentType = "text/plain;charset=UTF-8"

// maxMessageBytes bounds a MESSAGE body: RFC 3428 §6 keeps a MESSAGE that
// may go over UDP under 1300 bytes, as there is no congestion control for
// an unfragmented pager-mode message.
const maxMessageBytes = 1300

// messageTimeout bounds an out-of-dialog MESSAGE when ctx has no deadline;
// 64*T1 is the transaction's own limit.
const messageTimeout = 32 * time.Second

// ResponseError is a final failure response to a request we sent outside
// INVITE (MESSAGE, REFER): the peer understood and said no.
type ResponseError struct {
	Method string // "MESSAGE", "REFER"
	Code   int
	Reason string
}

// Error reads like: MESSAGE answered 488 Not Acceptable Here.
func (e *ResponseError) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.Method, e.Code, e.Reason)
}

// SendMessage sends text to the other party in the call's SIP dialog
// (MESSAGE, text/plain UTF-8) and returns when the peer accepted it (2xx).
// A failure response comes back wrapped as *ResponseError.
func (c *Call) SendMessage(ctx context.Context, text string) error {
	if err := checkMessage(text); err != nil {
		return fmt.Errorf("message on call %s: %w", c.id, err)
	}
	if c.ending.Load() {
		return fmt.Errorf("message on call %s: call ended", c.id)
	}
	res, err := c.doAuthed(ctx, func() *sipgosip.Request {
		req := sipgosip.NewRequest(sipgosip.MESSAGE, *c.target.Clone())
		req.AppendHeader(sipgosip.NewHeader("User-Agent", c.ua.cfg.UserAgent))
		req.AppendHeader(sipgosip.NewHeader("Content-Type", messageContentType))
		req.SetBody([]byte(text))
		return req
	})
	if err != nil {
		return fmt.Errorf("message on call %s: %w", c.id, err)
	}
	if !res.IsSuccess() {
		c.log.Warn("MESSAGE refused", "code", res.StatusCode, "reason", res.Reason)
		return fmt.Errorf("message on call %s: %w", c.id, &ResponseError{Method: "MESSAGE", Code: res.StatusCode, Reason: res.Reason})
	}
	c.log.Info("MESSAGE delivered", "code", res.StatusCode, "bytes", len(text))
	return nil
}

// doAuthed sends the in-dialog request build makes and, when the peer
// challenges it (401/407) and the call's trunk has a password, sends a
// fresh one (new CSeq) with credentials: some carriers challenge every
// request, not only the INVITE.
func (c *Call) doAuthed(ctx context.Context, build func() *sipgosip.Request) (*sipgosip.Response, error) {
	res, err := c.do(ctx, build())
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, err
	}
	t, ok := c.ua.trunks[c.trunk]
	if !ok || t.Password == "" {
		return res, nil
	}
	retry := build()
	if err := authorize(retry, res, t.authUser(), t.Password, ""); err != nil {
		return nil, fmt.Errorf("%s: %w", retry.Method, err)
	}
	return c.do(ctx, retry)
}

// do sends an in-dialog request and waits for its final response, bounded
// by ctx and by the call's end.
func (c *Call) do(ctx context.Context, req *sipgosip.Request) (*sipgosip.Response, error) {
	tx, err := c.sess.TransactionRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("send %s: %w", req.Method, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			err := tx.Err()
			if err == nil {
				err = errors.New("transaction ended without response")
			}
			return nil, fmt.Errorf("%s: %w", req.Method, err)
		case <-c.done:
			return nil, fmt.Errorf("%s: call ended", req.Method)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", req.Method, ctx.Err())
		}
	}
}

// SendMessage sends text out of dialog to to (a number, sent as
// sip:NUMBER@trunk, or a full SIP URI) through trunk, answering one digest
// challenge with the trunk's credentials as Dial does. It returns when the
// far end accepted it (2xx); a failure response comes back wrapped as
// *ResponseError.
func (ua *UA) SendMessage(ctx context.Context, trunk, to, text string) error {
	fail := func(err error) error {
		return fmt.Errorf("message to %s via trunk %q: %w", ua.number(to), trunk, err)
	}
	ua.mu.Lock()
	closed := ua.closed || !ua.started
	ua.mu.Unlock()
	if closed {
		return fail(ErrClosed)
	}
	t, ok := ua.trunks[trunk]
	if !ok {
		return fail(ErrUnknownTrunk)
	}
	if err := checkMessage(text); err != nil {
		return fail(err)
	}
	cl, err := ua.client(t.Transport)
	if err != nil {
		return fail(err)
	}
	target, err := dialTarget(t, to)
	if err != nil {
		return fail(err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, messageTimeout)
		defer cancel()
	}
	callID, tag := newCallID(), sipgosip.GenerateTagN(16)
	log := ua.log.With("call_id", callID, "trunk", t.Name, "to", ua.number(target.User))
	var res *sipgosip.Response
	var authHdr sipgosip.Header
	for attempt := uint32(1); ; attempt++ {
		req := ua.newMessage(t, target, callID, tag, attempt, text, authHdr)
		res, err = cl.Do(ctx, req)
		if err != nil {
			log.Warn("MESSAGE not delivered", "error", err)
			return fail(err)
		}
		if res.StatusCode != 401 && res.StatusCode != 407 {
			break
		}
		if attempt > 1 {
			log.Warn("MESSAGE credentials rejected", "code", res.StatusCode, "reason", res.Reason)
			return fail(fmt.Errorf("credentials rejected (%d %s): check username and password", res.StatusCode, res.Reason))
		}
		if t.Password == "" {
			return fail(fmt.Errorf("trunk wants authentication (%d) but no password is configured", res.StatusCode))
		}
		// The INVITE path answers challenges of any realm (sipgo); do the same.
		if err := authorize(req, res, t.authUser(), t.Password, ""); err != nil {
			return fail(err)
		}
		name := "Authorization"
		if res.StatusCode == 407 {
			name = "Proxy-Authorization"
		}
		authHdr = req.GetHeader(name)
	}
	if !res.IsSuccess() {
		log.Warn("MESSAGE refused", "code", res.StatusCode, "reason", res.Reason)
		return fail(&ResponseError{Method: "MESSAGE", Code: res.StatusCode, Reason: res.Reason})
	}
	log.Info("MESSAGE delivered", "code", res.StatusCode, "bytes", len(text))
	return nil
}

// newMessage builds one out-of-dialog MESSAGE; retries after a challenge
// keep Call-ID and From tag and raise CSeq (RFC 3261 §22.2).
func (ua *UA) newMessage(t *Trunk, target sipgosip.Uri, callID, tag string, cseq uint32, text string, authHdr sipgosip.Header) *sipgosip.Request {
	req := sipgosip.NewRequest(sipgosip.MESSAGE, *target.Clone())
	req.SetTransport(strings.ToUpper(t.Transport))
	req.SetDestination(t.Address)
	from := sipgosip.FromHeader{DisplayName: t.FromDisplay, Address: sipgosip.Uri{Scheme: "sip", User: t.fromUser(), Host: t.host()}, Params: sipgosip.NewParams()}
	from.Params.Add("tag", tag)
	req.AppendHeader(&from)
	req.AppendHeader(&sipgosip.ToHeader{Address: sipgosip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}})
	cid := sipgosip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipgosip.CSeqHeader{SeqNo: cseq, MethodName: sipgosip.MESSAGE})
	if t.PAssertedIdentity != "" {
		req.AppendHeader(sipgosip.NewHeader("P-Asserted-Identity", "<"+t.PAssertedIdentity+">"))
	}
	req.AppendHeader(sipgosip.NewHeader("User-Agent", ua.cfg.UserAgent))
	if authHdr != nil {
		req.AppendHeader(authHdr)
	}
	req.AppendHeader(sipgosip.NewHeader("Content-Type", messageContentType))
	req.SetBody([]byte(text))
	return req
}

// checkMessage refuses what no peer should be sent.
func checkMessage(text string) error {
	switch {
	case text == "":
		return errors.New("empty message")
	case len(text) > maxMessageBytes:
		return fmt.Errorf("message of %d bytes exceeds %d (RFC 3428 §6)", len(text), maxMessageBytes)
	}
	return nil
}
