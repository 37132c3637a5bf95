package sip

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pion/srtp/v3"
)

// SRTPMode is a trunk's policy for SRTP keyed by SDES (RFC 4568).
type SRTPMode string

// SRTP modes. The zero value is SRTPOff.
const (
	// SRTPOff sends plain RTP: offers are RTP/AVP without a=crypto, an
	// RTP/SAVP offer is refused with 488, a=crypto in an RTP/AVP offer is
	// ignored.
	SRTPOff SRTPMode = "off"
	// SRTPOptional encrypts when the peer can: offers are RTP/AVP with
	// a=crypto ("best effort" SRTP, as Asterisk and baresip's srtp mode
	// do), and an offer with a=crypto is answered with SRTP.
	SRTPOptional SRTPMode = "optional"
	// SRTPMandatory never sends plain audio: offers are RTP/SAVP, and an
	// offer or answer without usable a=crypto fails the call (488, or BYE
	// after an answer).
	SRTPMandatory SRTPMode = "mandatory"
)

// Errors of SRTP negotiation; calls failing with them get 488.
var (
	// ErrSRTPRequired: our policy is mandatory and the peer offered or
	// answered no usable a=crypto.
	ErrSRTPRequired = errors.New("sdp: srtp required but no usable a=crypto")
	// ErrSRTPRefused: the peer insists on RTP/SAVP and our policy (or
	// plain-text signalling) does not allow SRTP.
	ErrSRTPRefused = errors.New("sdp: peer requires srtp (RTP/SAVP) but srtp is off for this call")
)

func (m SRTPMode) on() bool { return m == SRTPOptional || m == SRTPMandatory }

func (m SRTPMode) check() error {
	switch m {
	case "", SRTPOff, SRTPOptional, SRTPMandatory:
		return nil
	}
	return fmt.Errorf("srtp %q not one of off, optional, mandatory", string(m))
}

// SRTPLeg is a MediaLeg that can protect its media with SRTP; rtp.Leg is
// one. The SIP layer calls SetSRTP before SetRemote whenever negotiation
// settles keys (profile 0 means plain RTP); sendKey protects what the leg
// sends, recvKey checks what it receives, each master key || master salt.
// A leg without SetSRTP can only take plain RTP calls.
type SRTPLeg interface {
	SetSRTP(profile srtp.ProtectionProfile, sendKey, recvKey []byte) error
}

// secureTransport reports whether SIP over network hides the SDP from the
// path: TLS, or WebSocket inside TLS.
func secureTransport(network string) bool {
	n := strings.ToLower(network)
	return n == "tls" || n == "wss"
}

// srtpPolicy is the effective SRTP setting of one call: its mode, cut to
// what its signalling allows.
type srtpPolicy struct {
	mode SRTPMode
	// clearText: SDP goes over udp/tcp/ws, readable by anyone on the path.
	clearText bool
	// blocked: SRTP was asked for, but keys may not travel in clear text
	// here (no AllowSDESWithoutTLS): we neither send nor accept a=crypto.
	blocked bool
}

// policyFor is the SRTP policy of a call on trunk t (nil: an inbound call
// from no known trunk) whose SIP travels over network.
func (ua *UA) policyFor(t *Trunk, network string) srtpPolicy {
	mode, allow := ua.cfg.SRTP, ua.cfg.AllowSDESWithoutTLS
	if t != nil {
		mode, allow = t.SRTP, t.AllowSDESWithoutTLS
	}
	if mode == "" {
		mode = SRTPOff
	}
	p := srtpPolicy{mode: mode, clearText: !secureTransport(network)}
	p.blocked = mode.on() && p.clearText && !allow
	return p
}

// checkOffer decides early whether an inbound offer can be taken, so that a
// call we would refuse is refused before the application sees it. A nil m
// is an INVITE without SDP: we will offer, and a mandatory policy that may
// not send keys over this signalling cannot.
func (p srtpPolicy) checkOffer(m *Media) error {
	if m == nil {
		if p.blocked && p.mode == SRTPMandatory {
			return fmt.Errorf("srtp is mandatory but SDES keys would cross plain-text SIP (no TLS) and allow_sdes_without_tls is not set: %w", ErrSRTPRequired)
		}
		return nil
	}
	_, err := p.answer(m, nil)
	return err
}

// srtpPolicy is the SRTP policy of the call in offers. A WebRTC call keys
// its media with DTLS-SRTP in the browser's own SDP, so SDES stays off.
func (in *Incoming) srtpPolicy() srtpPolicy {
	if _, webrtc := in.ua.webrtcOffers.Load(in.id); webrtc {
		return srtpPolicy{mode: SRTPOff}
	}
	return in.ua.policyFor(in.ua.trunks[in.trunk], in.req.Transport())
}

// srtpResult is the outcome of one offer/answer: nil local means plain RTP.
type srtpResult struct {
	local, remote *Crypto
	savp          bool // the m= line says RTP/SAVP
}

func (r srtpResult) secure() bool { return r.local != nil }

// srtpState is a call's SRTP state, guarded by the call's mu.
type srtpState struct {
	policy  srtpPolicy
	offered []Crypto   // a=crypto of our latest offer
	offSAVP bool       // our latest offer said RTP/SAVP
	cur     srtpResult // in force on the leg
}

// offer returns the a=crypto lines and profile of our next offer. A call
// already encrypting offers its current key again (RFC 4568 §7.1.4 lets a
// re-offer keep it), so a session refresh changes nothing on the wire.
func (s *srtpState) offer() ([]Crypto, bool, error) {
	p := s.policy
	if !p.mode.on() || p.blocked {
		s.offered, s.offSAVP = nil, false
		return nil, false, nil
	}
	if s.cur.secure() {
		s.offered, s.offSAVP = []Crypto{*s.cur.local}, s.cur.savp
		return s.offered, s.offSAVP, nil
	}
	out := make([]Crypto, 0, len(supportedSuites))
	for i, suite := range supportedSuites {
		c, err := newCrypto(i+1, suite)
		if err != nil {
			return nil, false, err
		}
		out = append(out, c)
	}
	s.offered, s.offSAVP = out, p.mode == SRTPMandatory
	return out, s.offSAVP, nil
}

// answer chooses, for a remote offer m, the peer's a=crypto (the first
// usable one, in the offerer's preference order) and ours. cur is what is
// in force (nil for a new call): our key is kept when the suite is
// unchanged, so a re-INVITE does not re-key our stream for nothing.
func (p srtpPolicy) answer(m *Media, cur *srtpResult) (srtpResult, error) {
	if p.blocked && p.mode == SRTPMandatory {
		return srtpResult{}, fmt.Errorf("srtp is mandatory but SDES keys would cross plain-text SIP (no TLS) and allow_sdes_without_tls is not set: %w", ErrSRTPRequired)
	}
	if !p.mode.on() || p.blocked {
		if m.Secure {
			why := "srtp is off on this trunk"
			if p.blocked {
				why = "SDES keys would cross plain-text SIP (no TLS) and allow_sdes_without_tls is not set"
			}
			return srtpResult{}, fmt.Errorf("%s: %w", why, ErrSRTPRefused)
		}
		return srtpResult{}, nil
	}
	var why []string
	for i := range m.Crypto {
		c := m.Crypto[i]
		if err := c.usable(); err != nil {
			why = append(why, err.Error())
			continue
		}
		var local Crypto
		if cur != nil && cur.secure() && cur.local.Suite == c.Suite {
			local = *cur.local
			local.Tag = c.Tag
		} else {
			var err error
			if local, err = newCrypto(c.Tag, c.Suite); err != nil {
				return srtpResult{}, err
			}
		}
		return srtpResult{local: &local, remote: &c, savp: m.Secure}, nil
	}
	if m.CryptoErr != nil {
		why = append(why, m.CryptoErr.Error())
	}
	if m.Secure || p.mode == SRTPMandatory {
		if len(why) == 0 {
			why = append(why, "offer has no a=crypto")
		}
		return srtpResult{}, fmt.Errorf("%s: %w", strings.Join(why, "; "), ErrSRTPRequired)
	}
	return srtpResult{}, nil
}

// accept matches the answer m to our latest offer.
func (s *srtpState) accept(m *Media) (srtpResult, error) {
	if len(s.offered) == 0 {
		if m.Secure {
			return srtpResult{}, fmt.Errorf("answer is RTP/SAVP to an offer without a=crypto: %w", ErrSRTPRefused)
		}
		return srtpResult{}, nil
	}
	for i := range m.Crypto {
		c := m.Crypto[i]
		for j := range s.offered {
			o := s.offered[j]
			if o.Tag != c.Tag || o.Suite != c.Suite {
				continue
			}
			if err := c.usable(); err != nil {
				return srtpResult{}, fmt.Errorf("answer: %w: %w", err, ErrSRTPRequired)
			}
			return srtpResult{local: &o, remote: &c, savp: m.Secure}, nil
		}
	}
	if s.offSAVP || s.policy.mode == SRTPMandatory {
		why := "answer has no a=crypto matching a tag and suite we offered"
		if m.CryptoErr != nil {
			why += "; " + m.CryptoErr.Error()
		}
		return srtpResult{}, fmt.Errorf("%s: %w", why, ErrSRTPRequired)
	}
	return srtpResult{}, nil
}

// apply pushes r to leg when it changes what is in force. A leg that
// cannot do SRTP fails a secure result and ignores a plain one.
func applySRTP(leg MediaLeg, r srtpResult) error {
	sl, ok := leg.(SRTPLeg)
	if !ok {
		if r.secure() {
			return errors.New("media leg cannot do SRTP")
		}
		return nil
	}
	if !r.secure() {
		return sl.SetSRTP(0, nil, nil)
	}
	profile, _ := r.local.Suite.profile()
	if err := sl.SetSRTP(profile, r.local.Key, r.remote.Key); err != nil {
		return fmt.Errorf("set srtp keys: %w", err)
	}
	return nil
}

func sameSRTP(a, b srtpResult) bool {
	if a.secure() != b.secure() {
		return false
	}
	if !a.secure() {
		return true
	}
	return a.local.Suite == b.local.Suite && bytes.Equal(a.local.Key, b.local.Key) && bytes.Equal(a.remote.Key, b.remote.Key)
}

// lines is the a=crypto of our side of r, nil for plain RTP.
func (r srtpResult) lines() []Crypto {
	if !r.secure() {
		return nil
	}
	return []Crypto{*r.local}
}

// answerSRTP settles SRTP for a remote offer m and puts the keys on the
// leg; the result says what our answer carries.
func (c *Call) answerSRTP(m *Media) (srtpResult, error) {
	c.mu.Lock()
	cur, p := c.srtp.cur, c.srtp.policy
	c.mu.Unlock()
	r, err := p.answer(m, &cur)
	if err != nil {
		return r, err
	}
	return r, c.useSRTP(r, cur)
}

// acceptSRTP settles SRTP from the answer m to our latest offer.
func (c *Call) acceptSRTP(m *Media) error {
	c.mu.Lock()
	cur := c.srtp.cur
	r, err := c.srtp.accept(m)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.useSRTP(r, cur)
}

// useSRTP applies r to the leg when it differs from cur, the result in
// force, and records it.
func (c *Call) useSRTP(r, cur srtpResult) error {
	if sameSRTP(r, cur) {
		c.mu.Lock()
		c.srtp.cur = r
		c.mu.Unlock()
		return nil
	}
	if err := applySRTP(c.leg, r); err != nil {
		return err
	}
	c.mu.Lock()
	c.srtp.cur = r
	clear := c.srtp.policy.clearText
	c.mu.Unlock()
	if r.secure() {
		// The Crypto values log without their keys.
		c.log.Info("srtp negotiated", "local", *r.local, "remote", *r.remote, "savp", r.savp, "keys_in_clear_text_sip", clear)
	} else if cur.secure() {
		c.log.Warn("srtp turned off by renegotiation; media now plain RTP")
	}
	return nil
}

// awaitSRTP readies the leg after we sent an RTP/SAVP offer: until the
// answer brings the peer's key, whatever arrives is dropped instead of
// being played as plain RTP (the callee may start sending before its 200
// OK reaches us). Optional offers cannot do this: their answer may be plain.
func (c *Call) awaitSRTP() {
	c.mu.Lock()
	pending := c.srtp.offSAVP && !c.srtp.cur.secure() && len(c.srtp.offered) > 0
	var first Crypto
	if pending {
		first = c.srtp.offered[0]
	}
	c.mu.Unlock()
	sl, ok := c.leg.(SRTPLeg)
	if !pending || !ok {
		return
	}
	profile, _ := first.Suite.profile()
	if err := sl.SetSRTP(profile, first.Key, nil); err != nil {
		c.log.Warn("leg not readied for srtp; early packets may play as noise", "error", err)
	}
}

// SRTP returns the crypto suite protecting the call's media, "" when the
// media is plain RTP.
func (c *Call) SRTP() CryptoSuite {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.srtp.cur.secure() {
		return ""
	}
	return c.srtp.cur.local.Suite
}
