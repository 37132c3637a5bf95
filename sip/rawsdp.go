package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/pion/sdp/v3"

	sipgosip "github.com/emiago/sipgo/sip"
)

// A WebRTC offer (a browser softphone's INVITE) carries its audio over
// DTLS-SRTP with ICE: UDP/TLS/RTP/SAVPF, a=fingerprint, a=ice-ufrag. The SIP
// layer cannot answer it from a MediaLeg's address, so the application
// builds the answer (webrtc.Leg.Answer) and hands it to Incoming.AnswerSDP.
//
// Such an INVITE is admitted like a delayed offer (no SDP), so admission
// control, auth and CANCEL work unchanged; the offer waits in
// UA.webrtcOffers until the handler asks for it with Incoming.WebRTCOffer.

// IsWebRTCOffer reports whether an SDP body offers audio the WebRTC way:
// a secure profile (SAVP/SAVPF) keyed by DTLS (a=fingerprint).
func IsWebRTCOffer(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return false
	}
	_, sessionFP := sd.Attribute("fingerprint")
	for _, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		proto := strings.Join(md.MediaName.Protos, "/")
		if !strings.Contains(proto, "SAVP") {
			continue
		}
		if _, ok := md.Attribute("fingerprint"); ok || sessionFP {
			return true
		}
	}
	return false
}

// routeInvite takes WebRTC offers aside before the usual INVITE handling.
func (ua *UA) routeInvite(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	routeContactToSource(req)
	to := req.To()
	cid := req.CallID()
	if to == nil || cid == nil || !IsWebRTCOffer(req.Body()) {
		ua.handleInvite(req, tx)
		return
	}
	if tagOf(to.Params) != "" {
		// A re-INVITE with a new WebRTC offer (ICE restart, hold) would need
		// the application's peer connection to answer; refuse it and keep
		// the current media (RFC 3261 §14.2).
		if ua.findCall(req) == nil {
			ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		ua.log.Warn("re-INVITE refused", "call_id", cid.Value(), "code", 488, "why", "WebRTC renegotiation not supported", "action", "call continues with old media")
		ua.respond(tx, req, 488, "Not Acceptable Here", warning(304, "WebRTC renegotiation not supported"))
		return
	}
	// The offer is taken off the request so that handleNewInvite admits the
	// call as a delayed offer instead of rejecting SAVPF. It is not put back:
	// the call's goroutines read this request from now on.
	key := cid.Value()
	ua.webrtcOffers.Store(key, req.Body())
	defer ua.webrtcOffers.Delete(key)
	req.SetBody(nil)
	ua.handleInvite(req, tx)
}

// WebRTCOffer returns the INVITE's SDP when it is a WebRTC offer, which the
// application must answer with AnswerSDP; ok is false for any other INVITE.
func (in *Incoming) WebRTCOffer() (offer []byte, ok bool) {
	v, ok := in.ua.webrtcOffers.Load(in.id)
	if !ok {
		return nil, false
	}
	return v.([]byte), true
}

// Source is the address the INVITE came from (the browser's end of its
// WebSocket, for a softphone).
func (in *Incoming) Source() netip.AddrPort {
	src, err := netip.ParseAddrPort(in.req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
}

// Settled is closed once the INVITE has its final response: the
// application's answer or rejection, or the 487 after the caller's CANCEL.
// A handler that works before answering (dialling the far end of a bridge)
// stops when it closes first.
func (in *Incoming) Settled() <-chan struct{} { return in.settled }

// ErrNotWebRTC is returned by AnswerSDP for an INVITE that is not a WebRTC
// offer: use Answer.
var ErrNotWebRTC = errors.New("sip: call is not a WebRTC offer")

// AnswerSDP answers a WebRTC offer with an SDP answer the application built
// (ICE candidates, DTLS fingerprint, the codec it chose: PCMU or PCMA) and
// waits for the ACK like Answer. leg is watched for the media timeout and
// told about hold; its address is not used, ICE carries the media.
// Re-INVITEs that renegotiate WebRTC media are refused with 488 and the
// call goes on.
func (in *Incoming) AnswerSDP(ctx context.Context, answer []byte, leg MediaLeg) (*Call, error) {
	if leg == nil {
		return nil, fmt.Errorf("answer call %s: no media leg", in.id)
	}
	// A cancelled offer is gone from webrtcOffers: say why first.
	in.mu.Lock()
	decided := in.state != incomingPending
	in.mu.Unlock()
	if decided {
		return nil, ErrAlreadyDecided
	}
	if _, ok := in.WebRTCOffer(); !ok {
		return nil, fmt.Errorf("answer call %s: %w", in.id, ErrNotWebRTC)
	}
	codec, err := answerCodec(answer)
	if err != nil {
		return nil, fmt.Errorf("answer call %s: %w", in.id, err)
	}
	in.mu.Lock()
	if in.state != incomingPending {
		in.mu.Unlock()
		return nil, ErrAlreadyDecided
	}
	in.state = incomingAnswering
	in.mu.Unlock()
	defer in.settle()
	// Answer (inbound.go) with the application's SDP instead of one we build.
	c := in.newCall(leg, []Codec{codec}, "media", "webrtc")
	// ICE picks the media path; the SIP side records the browser's address
	// with the discard port (RFC 8839 §5.1 puts 9 in m= for the same reason)
	// so logs show who the media is with.
	remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 9)
	if src := in.Source(); src.IsValid() {
		remote = netip.AddrPortFrom(src.Addr(), 9)
	}
	if err := c.applyMedia(&Media{Addr: remote, Direction: SendRecv, PayloadTypes: []uint8{codec.PayloadType}}, codec, 0); err != nil {
		return in.failAnswer(488, "Not Acceptable Here", err)
	}
	// No session timer is asked for: a browser refreshes with a re-INVITE
	// carrying a new WebRTC offer, which this layer cannot renegotiate.
	if err := in.confirm(ctx, c, in.okResponse(answer)); err != nil {
		return nil, err
	}
	c.log.Info("call answered", "codec", codec.Name, "remote", remote.Addr().String())
	return c, nil
}

// answerCodec is the codec of the first audio section of an SDP answer.
func answerCodec(answer []byte) (Codec, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(answer); err != nil {
		return Codec{}, fmt.Errorf("sdp answer: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 || len(md.MediaName.Formats) == 0 {
			continue
		}
		switch md.MediaName.Formats[0] {
		case "0":
			return CodecPCMU, nil
		case "8":
			return CodecPCMA, nil
		}
		return Codec{}, fmt.Errorf("sdp answer codec %s: %w", md.MediaName.Formats[0], ErrNoCommonCodec)
	}
	return Codec{}, fmt.Errorf("sdp answer: %w", ErrNoAudio)
}
