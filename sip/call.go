package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
)

// CallDirection says who sent the initial INVITE.
type CallDirection int

// Call directions.
const (
	Outbound CallDirection = iota + 1 // we dialled
	Inbound                           // we answered
)

// String returns "outbound" or "inbound".
func (d CallDirection) String() string {
	switch d {
	case Outbound:
		return "outbound"
	case Inbound:
		return "inbound"
	}
	return fmt.Sprintf("CallDirection(%d)", int(d))
}

// Party is one end of a call as named in From/To.
type Party struct {
	Display string // display name, may be empty
	User    string // user part: usually the phone number
	URI     string // full SIP URI
}

func partyOf(display string, u sipgosip.Uri) Party {
	return Party{Display: display, User: u.User, URI: u.String()}
}

// dialogSession is what Call needs of sipgo's client and server dialog
// sessions; both satisfy it.
type dialogSession interface {
	TransactionRequest(ctx context.Context, req *sipgosip.Request) (sipgosip.ClientTransaction, error)
	WriteRequest(req *sipgosip.Request) error
	ReadBye(req *sipgosip.Request, tx sipgosip.ServerTransaction) error
	Bye(ctx context.Context) error
}

// Call is an established SIP session with its media leg. It ends on BYE
// from either side, media timeout, session expiry or UA.Close; Done tells.
type Call struct {
	ua     *UA
	id     string // Call-ID
	key    string // dialog key, see UA.findCall
	dir    CallDirection
	trunk  string
	local  Party
	remote Party
	leg    MediaLeg
	log    *slog.Logger
	sess   dialogSession
	target sipgosip.Uri // remote target for requests we build
	prefs  []Codec
	onAck  func(req *sipgosip.Request, tx sipgosip.ServerTransaction)
	// release runs once when the call ends (frees the inbound slot).
	release func()

	// mu guards the negotiated state below; never held across network I/O.
	mu         sync.Mutex
	sdpb       sdpBuilder
	srtp       srtpState // SDES keys offered and in force, see srtp.go
	codec      Codec
	dtmfPT     uint8
	remoteAddr netip.AddrPort
	held       bool
	peerMuted  bool    // peer said recvonly: it sends no RTP, though not holding us
	ackOffered []Codec // we offered these in a 2xx; the ACK carries the answer
	// pendingAck is closed when the ACK for re-INVITE pendingAckSeq arrives.
	pendingAck    chan struct{}
	pendingAckSeq uint32
	mediaSince    time.Time     // media timeout counts from here
	interval      time.Duration // session interval, 0 = no session timer
	weRefresh     bool
	lastRefresh   time.Time

	// referw is the REFER being followed, see refer.go.
	referw atomic.Pointer[referWatch]

	ending  atomic.Bool
	endOnce sync.Once
	done    chan struct{}
	reason  atomic.Int32
	started time.Time
}

// ID returns the SIP Call-ID.
func (c *Call) ID() string { return c.id }

// Direction says whether we dialled or answered.
func (c *Call) Direction() CallDirection { return c.dir }

// Trunk is the trunk an outbound call went through, or the trunk whose
// address sent an inbound call ("" when none matches).
func (c *Call) Trunk() string { return c.trunk }

// Local is our party (From of an outbound call, To of an inbound one).
func (c *Call) Local() Party { return c.local }

// Remote is the other party.
func (c *Call) Remote() Party { return c.remote }

// Codec is the negotiated audio codec.
func (c *Call) Codec() Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec
}

// OnHold reports whether the remote has put the call on hold.
func (c *Call) OnHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Reason says why the call ended; HangupNone while it is up.
func (c *Call) Reason() HangupReason { return HangupReason(c.reason.Load()) }

// Hangup sends BYE and ends the call. Calling it on an ended call is a
// no-op returning nil.
func (c *Call) Hangup(ctx context.Context) error {
	return c.hangup(ctx, HangupLocal)
}

func (c *Call) hangup(ctx context.Context, reason HangupReason) error {
	if !c.ending.CompareAndSwap(false, true) {
		<-c.done
		return nil
	}
	err := c.sess.Bye(ctx)
	c.end(reason)
	if err != nil {
		c.log.Warn("BYE got no clean answer; call ended anyway", "reason", reason.String(), "error", err)
		return fmt.Errorf("hang up call %s: %w", c.id, err)
	}
	return nil
}

// end marks the call ended once; it does no signalling.
func (c *Call) end(reason HangupReason) {
	c.endOnce.Do(func() {
		c.ending.Store(true)
		c.reason.Store(int32(reason))
		c.ua.removeCall(c)
		if c.release != nil {
			c.release()
		}
		close(c.done)
		c.log.Info("call ended", "reason", reason.String(), "duration", time.Since(c.started).Round(time.Millisecond).String())
	})
}

// start registers the call and starts its watchdog (media timeout and
// session timer). It returns false when the UA is closing.
func (c *Call) start() bool {
	c.started = time.Now()
	c.mu.Lock()
	c.mediaSince = c.started
	c.lastRefresh = c.started
	c.mu.Unlock()
	if !c.ua.addCall(c) {
		return false
	}
	c.ua.wg.Go(c.watch)
	return true
}

func (c *Call) onBye(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	c.ending.Store(true)
	if err := c.sess.ReadBye(req, tx); err != nil {
		c.ua.respond(tx, req, 200, "OK")
	}
	c.log.Info("remote hung up (BYE)")
	c.end(HangupRemote)
}

// watch polls the leg for the media timeout and drives the session timer.
func (c *Call) watch() {
	cfg := &c.ua.cfg
	tick := time.NewTicker(cfg.MediaCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		now := time.Now()
		c.mu.Lock()
		held, since := c.held || c.peerMuted, c.mediaSince
		interval, weRefresh, last := c.interval, c.weRefresh, c.lastRefresh
		c.mu.Unlock()

		if cfg.MediaTimeout > 0 && !held {
			lastRTP := c.leg.LastReceived()
			if lastRTP.Before(since) {
				lastRTP = since
			}
			if silent := now.Sub(lastRTP); silent > cfg.MediaTimeout {
				c.log.Warn("no RTP received; hanging up", "reason", "media timeout", "silent", silent.Round(time.Millisecond).String())
				c.byeNow(HangupMediaTimeout)
				return
			}
		}
		if interval <= 0 {
			continue
		}
		if weRefresh && now.After(refreshDue(last, interval)) {
			c.refresh()
			continue
		}
		if !weRefresh && now.After(expiryDue(last, interval)) {
			c.log.Warn("session not refreshed; hanging up", "reason", "session expired", "interval", interval.String())
			c.byeNow(HangupSessionExpired)
			return
		}
	}
}

// byeNow hangs up from the watchdog. Not tied to the UA's context: a BYE
// must still go out while Close runs; the bound keeps Close short.
func (c *Call) byeNow(reason HangupReason) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.hangup(ctx, reason)
}

// onReinvite handles a re-INVITE or UPDATE from the remote: session timer,
// hold/unhold and new media, answered with a freshly built SDP.
func (c *Call) onReinvite(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	method := req.Method.String()
	cfg := &c.ua.cfg
	se, hasSE, err := parseSessionExpires(req)
	if err != nil {
		c.log.Warn("rejected in-dialog request", "method", method, "code", 400, "reason", err.Error(), "action", "call continues")
		c.ua.respond(tx, req, 400, err.Error())
		return
	}
	if hasSE && cfg.SessionExpires > 0 && se.interval < cfg.MinSE {
		c.log.Warn("rejected in-dialog request", "method", method, "code", 422, "reason", "session interval too small", "action", "call continues")
		c.ua.respond(tx, req, 422, "Session Interval Too Small", secondsHeader("Min-SE", cfg.MinSE))
		return
	}
	var body []byte
	if len(req.Body()) > 0 {
		m, err := ParseSDP(req.Body())
		if err != nil {
			c.log.Warn("rejected in-dialog request", "method", method, "code", 400, "reason", err.Error(), "action", "call continues")
			c.ua.respond(tx, req, 400, "Bad SDP")
			return
		}
		body, err = c.applyOffer(m)
		if err != nil {
			c.log.Warn("rejected in-dialog request", "method", method, "code", 488, "reason", err.Error(), "action", "call continues with old media")
			c.ua.respond(tx, req, 488, "Not Acceptable Here")
			return
		}
	} else if req.IsInvite() {
		// Offerless re-INVITE: we offer, the ACK answers.
		codecs := c.currentCodecs()
		body = c.offer(codecs)
		c.mu.Lock()
		c.ackOffered = codecs
		c.mu.Unlock()
	}

	res := sipgosip.NewResponseFromRequest(req, 200, "OK", body)
	if body != nil {
		res.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
	}
	contact := c.ua.contact(req.Transport(), c.local.User)
	res.AppendHeader(&contact)
	res.AppendHeader(sipgosip.NewHeader("Supported", "timer"))
	res.AppendHeader(sipgosip.NewHeader("Allow", allowed))
	c.mu.Lock()
	if cfg.SessionExpires > 0 {
		if hasSE {
			if se.refresher == "" {
				se.refresher = refresherUAC // the sender of this refresh keeps refreshing
			}
			c.interval = se.interval
			// In this transaction the remote is the UAC.
			c.weRefresh = se.refresher == refresherUAS
			res.AppendHeader(sipgosip.NewHeader("Session-Expires", se.String()))
			res.AppendHeader(sipgosip.NewHeader("Require", "timer"))
		}
		c.lastRefresh = time.Now()
	}
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		c.log.Warn("answer to in-dialog request failed", "method", method, "error", err)
		return
	}
	if req.IsInvite() && !sipgosip.IsReliable(req.Transport()) {
		c.retransmitUntilAck(req.CSeq().SeqNo, tx, res)
	}
}

// retransmitUntilAck resends the 2xx to a re-INVITE over UDP until its ACK
// arrives (RFC 3261 §13.3.1.4): sipgo leaves that to the dialog layer.
func (c *Call) retransmitUntilAck(cseq uint32, tx sipgosip.ServerTransaction, res *sipgosip.Response) {
	acked := make(chan struct{})
	c.mu.Lock()
	if c.pendingAck != nil {
		close(c.pendingAck) // an older re-INVITE's ACK will not matter now
	}
	c.pendingAck, c.pendingAckSeq = acked, cseq
	c.mu.Unlock()
	c.ua.wg.Go(func() {
		t1, t2 := sipgosip.T1, sipgosip.T2
		giveUp := time.NewTimer(64 * t1)
		defer giveUp.Stop()
		wait := t1
		next := time.NewTimer(wait)
		defer next.Stop()
		for {
			select {
			case <-acked:
				return
			case <-c.done:
				return
			case <-giveUp.C:
				c.log.Warn("no ACK for 2xx to re-INVITE", "cseq", cseq)
				return
			case <-next.C:
				if err := tx.Respond(res); err != nil {
					return // transaction gone
				}
				wait = min(2*wait, t2)
				next.Reset(wait)
			}
		}
	})
}

// applyOffer applies a remote offer to the leg and returns our answer.
func (c *Call) applyOffer(m *Media) ([]byte, error) {
	c.mu.Lock()
	prefs := append([]Codec{c.codec}, c.prefs...)
	c.mu.Unlock()
	codec, err := m.Negotiate(prefs)
	if err != nil {
		return nil, err
	}
	sr, err := c.answerSRTP(m)
	if err != nil {
		return nil, err
	}
	dtmf := m.DTMFPayloadType
	if err := c.applyMedia(m, codec, dtmf); err != nil {
		return nil, err
	}
	dir := m.Direction.reverse()
	if m.Direction == SendRecv && m.OnHold() {
		dir = RecvOnly // RFC 2543 hold: c=0.0.0.0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sdpb.build(sdpParams{addr: c.leg.LocalAddr(), codecs: []Codec{codec}, dtmfPT: dtmf, direction: dir,
		savp: sr.savp, crypto: sr.lines()}), nil
}

// applyMedia pushes negotiated media and hold state to the leg.
func (c *Call) applyMedia(m *Media, codec Codec, dtmf uint8) error {
	hold := m.OnHold()
	c.mu.Lock()
	changed := codec != c.codec || dtmf != c.dtmfPT || (!hold && m.Addr != c.remoteAddr)
	wasHeld := c.held
	c.mu.Unlock()
	if !hold && changed {
		if err := c.leg.SetRemote(m.Addr, codec.PayloadType, dtmf); err != nil {
			return fmt.Errorf("apply remote media %s: %w", m.Addr, err)
		}
		c.log.Info("remote media changed", "remote_rtp", m.Addr.String(), "codec", codec.Name, "dtmf_pt", dtmf)
	}
	if hold != wasHeld {
		c.leg.SetHold(hold)
		c.log.Info("hold state changed", "on_hold", hold)
	}
	c.mu.Lock()
	c.codec, c.dtmfPT = codec, dtmf
	if muted := m.Direction == RecvOnly; muted != c.peerMuted {
		c.peerMuted = muted
		c.mediaSince = time.Now()
	}
	if !hold {
		c.remoteAddr = m.Addr
	}
	if hold != wasHeld {
		c.held = hold
		c.mediaSince = time.Now()
	}
	c.mu.Unlock()
	return nil
}

func (c *Call) currentCodecs() []Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []Codec{c.codec}
}

func (c *Call) offer(codecs []Codec) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	crypto, savp, err := c.srtp.offer()
	if err != nil {
		c.log.Error("no srtp key for the offer", "error", err)
	}
	return c.sdpb.build(sdpParams{addr: c.leg.LocalAddr(), codecs: codecs, dtmfPT: defaultDTMFPayloadType, direction: SendRecv,
		savp: savp, crypto: crypto})
}

func (c *Call) handleAck(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	c.mu.Lock()
	offered := c.ackOffered
	c.ackOffered = nil
	if c.pendingAck != nil && req.CSeq() != nil && req.CSeq().SeqNo == c.pendingAckSeq {
		close(c.pendingAck)
		c.pendingAck = nil
	}
	c.mu.Unlock()
	// Apply the answer before confirming, so Answer sees the media set.
	if len(offered) > 0 && len(req.Body()) > 0 {
		// The answer to the offer we put in a 2xx (offerless INVITE).
		if m, err := ParseSDP(req.Body()); err != nil {
			c.log.Warn("bad SDP in ACK ignored", "error", err)
		} else if codec, err := m.Negotiate(offered); err != nil {
			c.log.Warn("ACK answer has no usable codec; media unchanged", "error", err)
		} else if err := c.acceptSRTP(m); err != nil {
			c.log.Warn("ACK answer has no usable srtp; media unchanged", "error", err)
		} else if err := c.applyMedia(m, codec, m.DTMFPayloadType); err != nil {
			c.log.Warn("apply media from ACK failed", "error", err)
		}
	}
	if c.onAck != nil {
		c.onAck(req, tx)
	}
}

// refresh sends a session refresh re-INVITE (RFC 4028 §7.4/§8) and applies
// the answer.
func (c *Call) refresh() {
	cfg := &c.ua.cfg
	role := refresherUAC
	if c.dir == Inbound {
		role = refresherUAS
	}
	for attempt := 0; attempt < 2; attempt++ {
		c.mu.Lock()
		interval := c.interval
		c.mu.Unlock()
		req := sipgosip.NewRequest(sipgosip.INVITE, *c.target.Clone())
		req.AppendHeader(sipgosip.NewHeader("Session-Expires", sessionExpires{interval: interval, refresher: role}.String()))
		req.AppendHeader(secondsHeader("Min-SE", cfg.MinSE))
		req.AppendHeader(sipgosip.NewHeader("Supported", "timer"))
		req.AppendHeader(sipgosip.NewHeader("Allow", allowed))
		req.AppendHeader(sipgosip.NewHeader("User-Agent", cfg.UserAgent))
		req.AppendHeader(sipgosip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(c.offer(c.currentCodecs()))
		res, err := c.request(req)
		if err != nil {
			c.log.Warn("session refresh failed", "error", err, "action", "retry at next tick until expiry")
			c.postponeRefresh()
			return
		}
		switch {
		case res.IsSuccess():
			ack := sipgosip.NewRequest(sipgosip.ACK, *c.target.Clone())
			ack.AppendHeader(&sipgosip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sipgosip.ACK})
			if err := c.sess.WriteRequest(ack); err != nil {
				c.log.Warn("ACK of session refresh failed", "error", err)
			}
			c.afterRefresh(res, role)
			return
		case res.StatusCode == 422:
			if minSE := parseMinSE(res); minSE > interval {
				c.mu.Lock()
				c.interval = minSE
				c.mu.Unlock()
				c.log.Info("peer wants a longer session interval", "min_se", minSE.String())
				continue
			}
		case res.StatusCode == 481 || res.StatusCode == 408:
			c.log.Warn("session refresh says the dialog is gone; ending call", "code", res.StatusCode, "reason", res.Reason)
			c.ending.Store(true)
			c.end(HangupSessionExpired)
			return
		}
		c.log.Warn("session refresh rejected", "code", res.StatusCode, "reason", res.Reason, "action", "retry at next tick until expiry")
		c.postponeRefresh()
		return
	}
}

// postponeRefresh makes the next refresh attempt come a few ticks later
// instead of every tick, while still bounded by the session expiry.
func (c *Call) postponeRefresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Now().After(c.lastRefresh.Add(c.interval)) {
		// Out of time: give up as the non-refresher would.
		c.weRefresh = false
		return
	}
	c.lastRefresh = c.lastRefresh.Add(c.interval / 8)
}

func (c *Call) afterRefresh(res *sipgosip.Response, role refresherRole) {
	if len(res.Body()) > 0 {
		if m, err := ParseSDP(res.Body()); err != nil {
			c.log.Warn("bad SDP in refresh answer ignored", "error", err)
		} else if codec, err := m.Negotiate(c.currentCodecs()); err != nil {
			c.log.Warn("refresh answer has no usable codec; media unchanged", "error", err)
		} else if err := c.acceptSRTP(m); err != nil {
			c.log.Warn("refresh answer has no usable srtp; media unchanged", "error", err)
		} else if err := c.applyMedia(m, codec, m.DTMFPayloadType); err != nil {
			c.log.Warn("apply media from refresh answer failed", "error", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastRefresh = time.Now()
	if se, ok, err := parseSessionExpires(res); ok && err == nil {
		c.interval = se.interval
		c.weRefresh = se.refresher == "" || se.refresher == role
	}
	c.log.Debug("session refreshed", "interval", c.interval.String(), "we_refresh", c.weRefresh)
}

// request sends an in-dialog request and waits for its final response,
// within 64×T1 (RFC 3261 §17.1.2.2) while the UA runs.
func (c *Call) request(req *sipgosip.Request) (*sipgosip.Response, error) {
	ctx, cancel := context.WithTimeout(c.ua.ctx, 32*time.Second)
	defer cancel()
	return c.do(ctx, req)
}
