package rtp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP (RFC 3711) on a leg. The keys come from the signalling (SDES, RFC
// 4568, negotiated by sip/): one master key and salt for what we send, one
// for what the peer sends. Each direction has its own pion srtp.Context,
// which carries both the SRTP and the SRTCP state of that key.
//
// Protect and unprotect work on buffers the leg owns, so a packet costs no
// allocation; a packet that fails authentication, replays an old index or
// is too short is dropped and counted, never delivered as audio.

// ProfileNone, passed to SetSRTP, turns SRTP off: packets go out and are
// accepted as plain RTP. It is the zero ProtectionProfile, which pion
// assigns to no suite.
const ProfileNone srtp.ProtectionProfile = 0

// srtpReplayWindow is the replay window in packets for SRTP and SRTCP. RFC
// 3711 §3.3.2 asks for at least 64; a wider one tolerates the reordering
// the jitter buffer already absorbs.
const srtpReplayWindow = 128

// srtpTrailerMax is the most an SRTP or SRTCP packet grows over its plain
// form: an 80-bit tag (10 bytes) for RTP; a 4-byte SRTCP index plus the
// tag for RTCP; GCM's 16-byte tag plus the index for AEAD profiles.
const srtpTrailerMax = 4 + 16

// ErrSRTPKey is wrapped by SetSRTP when a key does not fit its profile.
var ErrSRTPKey = errors.New("rtp: srtp key does not fit the profile")

// SRTPStats counts what SRTP did on a leg. Packets it drops are also
// counted in Stats.Invalid.
type SRTPStats struct {
	// Profile is the suite in use, ProfileNone when the leg is plain RTP.
	Profile srtp.ProtectionProfile
	// AuthFailures counts received SRTP packets dropped because their
	// authentication tag did not verify (tampered, wrong key, or plain RTP
	// where SRTP was agreed).
	AuthFailures int64
	// RTCPAuthFailures is AuthFailures for SRTCP. Some peers send their
	// last RTCP BYE in clear after tearing SRTP down (baresip 1.0 does);
	// it is dropped like any unauthenticated packet.
	RTCPAuthFailures int64
	// Replayed counts received packets dropped as replays of an index
	// already seen.
	Replayed int64
	// ProtectErrors counts packets we failed to protect (not sent).
	ProtectErrors int64
}

// LogValue shows the profile and failure counts, or "off" for plain RTP.
func (s SRTPStats) LogValue() slog.Value {
	if s.Profile == ProfileNone {
		return slog.StringValue("off")
	}
	return slog.GroupValue(
		slog.String("profile", s.Profile.String()),
		slog.Int64("auth_failures", s.AuthFailures),
		slog.Int64("rtcp_auth_failures", s.RTCPAuthFailures),
		slog.Int64("replayed", s.Replayed),
		slog.Int64("protect_errors", s.ProtectErrors),
	)
}

// srtpSender protects what the leg sends. Guarded by the leg's sendMu.
type srtpSender struct {
	key  []byte // master key || salt, kept to notice a change
	ctx  *srtp.Context
	buf  [maxPacket + srtpTrailerMax]byte
	rtcp []byte // reused for SRTCP
}

// srtpReceiver unprotects what the leg receives. Guarded by recv.mu.
type srtpReceiver struct {
	key  []byte
	ctx  *srtp.Context
	buf  [maxPacket]byte
	hdr  rtp.Header
	rhdr rtcp.Header
	rtcp [maxPacket]byte
}

// srtpLeg is a leg's SRTP state: nil pointers mean plain RTP.
type srtpLeg struct {
	profile atomic.Uint32
	tx      *srtpSender   // guarded by sendMu
	rx      *srtpReceiver // guarded by recv.mu

	authFailures, rtcpAuthFailures, replayed, protectErrors atomic.Int64
}

// SetSRTP turns SRTP on with profile (srtp.ProtectionProfileAes128CmHmacSha1_80
// or _32), sendKey protecting what the leg sends and recvKey checking what
// the peer sends, each the master key followed by the master salt (30 bytes
// for the AES-128 suites). ProfileNone turns SRTP off. A nil recvKey
// means the peer's key is not known yet (an offer is out, its answer is
// not in): every received packet is dropped, since it can be neither
// checked nor trusted as plain RTP.
//
// It may be called again mid-call (re-INVITE): a direction whose key and
// profile are unchanged keeps its context, so its rollover counter and
// replay window carry on; a changed key starts a fresh context. Call it
// before SetRemote so that no packet goes out unprotected. Keys are copied
// and never logged.
func (l *Leg) SetSRTP(profile srtp.ProtectionProfile, sendKey, recvKey []byte) error {
	l.recv.mu.Lock()
	defer l.recv.mu.Unlock()
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	s := &l.srtp
	if profile == ProfileNone {
		if s.tx != nil {
			l.log.Info("srtp off")
		}
		s.tx, s.rx = nil, nil
		s.profile.Store(0)
		return nil
	}
	if err := checkSRTPKey(profile, sendKey); err != nil {
		return fmt.Errorf("set srtp of call %q: send key: %w", l.callID, err)
	}
	if recvKey != nil {
		if err := checkSRTPKey(profile, recvKey); err != nil {
			return fmt.Errorf("set srtp of call %q: receive key: %w", l.callID, err)
		}
	}
	same := srtp.ProtectionProfile(s.profile.Load()) == profile
	var tx *srtpSender
	if same && s.tx != nil && bytes.Equal(s.tx.key, sendKey) {
		tx = s.tx
	} else {
		ctx, err := newSRTPContext(profile, sendKey)
		if err != nil {
			return fmt.Errorf("set srtp of call %q: send context: %w", l.callID, err)
		}
		tx = &srtpSender{key: bytes.Clone(sendKey), ctx: ctx, rtcp: make([]byte, 0, maxPacket+srtpTrailerMax)}
	}
	var rx *srtpReceiver
	switch {
	case recvKey == nil:
		rx = &srtpReceiver{} // no context: drop until the key comes
	case same && s.rx != nil && s.rx.ctx != nil && bytes.Equal(s.rx.key, recvKey):
		rx = s.rx
	default:
		ctx, err := newSRTPContext(profile, recvKey)
		if err != nil {
			return fmt.Errorf("set srtp of call %q: receive context: %w", l.callID, err)
		}
		rx = &srtpReceiver{key: bytes.Clone(recvKey), ctx: ctx}
		// Room for the most CSRCs and extensions, so parsing never grows them.
		rx.hdr.CSRC = make([]uint32, 0, 15)
		rx.hdr.Extensions = make([]rtp.Extension, 0, 16)
	}
	l.log.Info("srtp on", "profile", profile.String(),
		"send_key_changed", tx != s.tx, "receive_key_changed", rx != s.rx)
	s.tx, s.rx = tx, rx
	s.profile.Store(uint32(profile))
	return nil
}

// SRTPStats returns the leg's SRTP counters.
func (l *Leg) SRTPStats() SRTPStats {
	s := &l.srtp
	return SRTPStats{
		Profile:          srtp.ProtectionProfile(s.profile.Load()),
		AuthFailures:     s.authFailures.Load(),
		RTCPAuthFailures: s.rtcpAuthFailures.Load(),
		Replayed:         s.replayed.Load(),
		ProtectErrors:    s.protectErrors.Load(),
	}
}

func checkSRTPKey(profile srtp.ProtectionProfile, key []byte) error {
	keyLen, err := profile.KeyLen()
	if err != nil {
		return fmt.Errorf("profile %s: %w", profile, err)
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		return fmt.Errorf("profile %s: %w", profile, err)
	}
	if len(key) != keyLen+saltLen {
		return fmt.Errorf("%d bytes, %s needs %d+%d: %w", len(key), profile, keyLen, saltLen, ErrSRTPKey)
	}
	return nil
}

func newSRTPContext(profile srtp.ProtectionProfile, key []byte) (*srtp.Context, error) {
	keyLen, _ := profile.KeyLen()
	return srtp.CreateContext(key[:keyLen], key[keyLen:], profile,
		srtp.SRTPReplayProtection(srtpReplayWindow), srtp.SRTCPReplayProtection(srtpReplayWindow))
}

// protectRTP returns pkt (header in l.hdr) as SRTP in the sender's buffer,
// or pkt itself on a plain leg; ok is false when it must not be sent.
// Called with sendMu held.
func (l *Leg) protectRTP(pkt []byte) (out []byte, ok bool) {
	tx := l.srtp.tx
	if tx == nil {
		return pkt, true
	}
	out, err := tx.ctx.EncryptRTP(tx.buf[:0], pkt, &l.hdr)
	if err != nil {
		l.srtp.protectErrors.Add(1)
		return nil, false
	}
	return out, true
}

// protectRTCP returns an RTCP compound packet as SRTCP, or buf itself on a
// plain leg; nil when it must not be sent.
func (l *Leg) protectRTCP(buf []byte) []byte {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	tx := l.srtp.tx
	if tx == nil {
		return buf
	}
	out, err := tx.ctx.EncryptRTCP(tx.rtcp[:0], buf, nil)
	if err != nil {
		l.srtp.protectErrors.Add(1)
		return nil
	}
	return out
}

// unprotectRTP returns a received packet as plain RTP: buf itself on a
// plain leg, else the decrypted packet in the receiver's buffer, or nil
// (counted as bad) when it fails. Called with recv.mu held.
func (r *receiver) unprotectRTP(buf []byte, src netip.AddrPort, now time.Time) []byte {
	rx := r.leg.srtp.rx
	if rx == nil {
		return buf
	}
	if rx.ctx == nil {
		r.bad("srtp key of the peer not known yet", src, now)
		return nil
	}
	out, err := rx.ctx.DecryptRTP(rx.buf[:0], buf, &rx.hdr)
	if err != nil {
		r.srtpFailed(err, "srtp", src, now)
		return nil
	}
	return out
}

// unprotectRTCP is unprotectRTP for SRTCP. Called with recv.mu held.
func (r *receiver) unprotectRTCP(buf []byte, src netip.AddrPort, now time.Time) []byte {
	rx := r.leg.srtp.rx
	if rx == nil {
		return buf
	}
	if rx.ctx == nil {
		r.bad("srtcp key of the peer not known yet", src, now)
		return nil
	}
	out, err := rx.ctx.DecryptRTCP(rx.rtcp[:0], buf, &rx.rhdr)
	if err != nil {
		r.srtpFailed(err, "srtcp", src, now)
		return nil
	}
	return out
}

// srtpFailed counts a packet SRTP refused. Called with r.mu held.
func (r *receiver) srtpFailed(err error, proto string, src netip.AddrPort, now time.Time) {
	switch {
	case errors.Is(err, srtp.ErrFailedToVerifyAuthTag) && proto == "srtcp":
		r.leg.srtp.rtcpAuthFailures.Add(1)
		r.bad(proto+" authentication failed", src, now)
	case errors.Is(err, srtp.ErrFailedToVerifyAuthTag):
		r.leg.srtp.authFailures.Add(1)
		r.bad(proto+" authentication failed", src, now)
	case strings.Contains(err.Error(), "duplicated packet"):
		// pion's replay error has no exported sentinel.
		r.leg.srtp.replayed.Add(1)
		r.bad(proto+" replayed packet", src, now)
	default:
		r.bad(proto+" packet malformed", src, now)
	}
}
