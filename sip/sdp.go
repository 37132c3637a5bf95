package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Errors returned by ParseSDP and negotiation. Inbound INVITEs failing with
// them are answered 400 (parse) or 488 (negotiation).
var (
	ErrNoAudio       = errors.New("sdp: no usable audio stream (m=audio RTP/AVP or RTP/SAVP)")
	ErrNoConnection  = errors.New("sdp: no connection address (c=) for audio")
	ErrNoCommonCodec = errors.New("sdp: no common codec")
)

// Codec is an audio codec as offered in SDP.
type Codec struct {
	Name        string // "PCMU" or "PCMA"
	PayloadType uint8  // static payload type, RFC 3551 table 4
}

// Codecs waihu can carry (G.711 only; transcoding lives in rtp/).
var (
	CodecPCMU = Codec{Name: "PCMU", PayloadType: 0}
	CodecPCMA = Codec{Name: "PCMA", PayloadType: 8}
)

// defaultDTMFPayloadType is the dynamic PT we offer for telephone-event.
const defaultDTMFPayloadType = 101

// ptimeMs is the only packetisation waihu uses: 20 ms frames.
const ptimeMs = 20

func codecByName(name string) (Codec, bool) {
	switch strings.ToUpper(name) {
	case "PCMU":
		return CodecPCMU, true
	case "PCMA":
		return CodecPCMA, true
	}
	return Codec{}, false
}

// MediaDirection is an SDP media direction attribute (RFC 4566 §6).
type MediaDirection string

// Media directions.
const (
	SendRecv MediaDirection = "sendrecv"
	SendOnly MediaDirection = "sendonly"
	RecvOnly MediaDirection = "recvonly"
	Inactive MediaDirection = "inactive"
)

// reverse is the direction to answer with (RFC 3264 §6.1).
func (d MediaDirection) reverse() MediaDirection {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// Media is the audio part of one SDP body, as parsed by ParseSDP.
type Media struct {
	// Addr is the RTP address (media-level c= else session-level c=).
	// An unspecified IP (0.0.0.0) is the RFC 2543 way of putting a call on hold.
	Addr netip.AddrPort
	// PayloadTypes lists the m= formats in offer order.
	PayloadTypes []uint8
	// RTPMap maps payload type to "name/rate" from a=rtpmap.
	RTPMap map[uint8]string
	// DTMFPayloadType is the telephone-event/8000 payload type, 0 if none.
	DTMFPayloadType uint8
	// PtimeMs is a=ptime, 0 if absent.
	PtimeMs int
	// Direction is the media (else session) direction, sendrecv if absent.
	Direction MediaDirection
	// SessionVersion is o= sess-version, to spot unchanged re-offers.
	SessionVersion uint64
	// Secure is true for an RTP/SAVP stream: SRTP is required.
	Secure bool
	// Crypto lists the well-formed a=crypto attributes (SDES, RFC 4568) in
	// offer order; see crypto.go. Their keys are secret: log Crypto values
	// (which hide them), never the SDP body.
	Crypto []Crypto
	// CryptoErr is the first malformed a=crypto, nil if none. A bad
	// attribute only loses itself; negotiation reports it when no other
	// attribute is usable.
	CryptoErr error
}

// OnHold reports whether the peer asks us to stop sending (sendonly,
// inactive, or the old c=0.0.0.0 style).
func (m *Media) OnHold() bool {
	return m.Direction == SendOnly || m.Direction == Inactive || !m.Addr.Addr().IsValid() || m.Addr.Addr().IsUnspecified()
}

// codecs returns the G.711 codecs offered, in offer order.
func (m *Media) codecs() []Codec {
	var out []Codec
	for _, pt := range m.PayloadTypes {
		name := ""
		if rm, ok := m.RTPMap[pt]; ok {
			name, _, _ = strings.Cut(rm, "/")
		} else {
			switch pt {
			case 0:
				name = "PCMU"
			case 8:
				name = "PCMA"
			}
		}
		if c, ok := codecByName(name); ok && pt == c.PayloadType {
			out = append(out, c)
		}
	}
	return out
}

// Negotiate picks the first codec of prefs that the offer carries (our
// preference order, RFC 3264 lets the answerer choose).
func (m *Media) Negotiate(prefs []Codec) (Codec, error) {
	offered := m.codecs()
	for _, p := range prefs {
		for _, o := range offered {
			if o == p {
				return p, nil
			}
		}
	}
	return Codec{}, fmt.Errorf("offer has %v, we accept %v: %w", m.PayloadTypes, codecNames(prefs), ErrNoCommonCodec)
}

func codecNames(cs []Codec) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// ParseSDP parses an SDP body and returns its first active audio stream.
func ParseSDP(body []byte) (*Media, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("parse sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, d := range sd.MediaDescriptions {
		if d == nil || d.MediaName.Media != "audio" || d.MediaName.Port.Value == 0 {
			continue
		}
		proto := strings.Join(d.MediaName.Protos, "/")
		if !strings.HasPrefix(proto, "RTP/AVP") && proto != "RTP/SAVP" {
			continue
		}
		md = d
		break
	}
	if md == nil {
		return nil, ErrNoAudio
	}
	m := &Media{RTPMap: map[uint8]string{}, Direction: SendRecv, SessionVersion: sd.Origin.SessionVersion,
		Secure: strings.Join(md.MediaName.Protos, "/") == "RTP/SAVP"}

	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, ErrNoConnection
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return nil, fmt.Errorf("sdp connection address %q: %w", ci.Address.Address, err)
	}
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("sdp audio port %d out of range", port)
	}
	m.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))

	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return nil, fmt.Errorf("sdp audio format %q: not an RTP payload type", f)
		}
		m.PayloadTypes = append(m.PayloadTypes, uint8(pt))
	}
	if len(m.PayloadTypes) == 0 {
		return nil, fmt.Errorf("sdp audio stream lists no formats: %w", ErrNoAudio)
	}

	for _, a := range sd.Attributes {
		if d, ok := directionOf(a.Key); ok {
			m.Direction = d
		}
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			ptStr, enc, ok := strings.Cut(a.Value, " ")
			pt, err := strconv.ParseUint(ptStr, 10, 7)
			if !ok || err != nil {
				continue // a bad rtpmap only loses that format
			}
			m.RTPMap[uint8(pt)] = strings.TrimSpace(enc)
			if strings.EqualFold(strings.TrimSpace(enc), "telephone-event/8000") {
				m.DTMFPayloadType = uint8(pt)
			}
		case "crypto":
			if c, err := ParseCrypto(a.Value); err != nil {
				if m.CryptoErr == nil {
					m.CryptoErr = err
				}
			} else {
				m.Crypto = append(m.Crypto, c)
			}
		case "ptime":
			if v, err := strconv.Atoi(strings.TrimSpace(a.Value)); err == nil && v > 0 {
				m.PtimeMs = v
			}
		default:
			if d, ok := directionOf(a.Key); ok {
				m.Direction = d
			}
		}
	}
	return m, nil
}

func directionOf(key string) (MediaDirection, bool) {
	switch d := MediaDirection(key); d {
	case SendRecv, SendOnly, RecvOnly, Inactive:
		return d, true
	}
	return "", false
}

// sdpBuilder writes our offers and answers for one SIP session; the
// version goes up with every body so a re-answer is never a stale copy.
type sdpBuilder struct {
	sessionID uint64
	version   uint64
	userAgent string
}

// sdpParams is what one body advertises.
type sdpParams struct {
	addr      netip.AddrPort
	codecs    []Codec
	dtmfPT    uint8 // 0: no telephone-event
	direction MediaDirection
	savp      bool     // RTP/SAVP instead of RTP/AVP
	crypto    []Crypto // a=crypto lines (SDES keys)
}

func (b *sdpBuilder) build(p sdpParams) []byte {
	b.version++
	ip := p.addr.Addr()
	addrType := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		addrType = "IP6"
	}
	sd := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: b.sessionID, SessionVersion: b.version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip.Unmap().String(),
		},
		SessionName: sdp.SessionName(b.userAgent),
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip.Unmap().String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	proto := []string{"RTP", "AVP"}
	if p.savp {
		proto = []string{"RTP", "SAVP"}
	}
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media: "audio", Port: sdp.RangedPort{Value: int(p.addr.Port())}, Protos: proto,
		},
	}
	for _, c := range p.codecs {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(c.PayloadType)))
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/8000", c.PayloadType, c.Name)))
	}
	if p.dtmfPT != 0 {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(p.dtmfPT)))
		md.Attributes = append(md.Attributes,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/8000", p.dtmfPT)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", p.dtmfPT)), // RFC 4733 §7.1.1 events 0-15 + flash
		)
	}
	dir := p.direction
	if dir == "" {
		dir = SendRecv
	}
	for _, c := range p.crypto {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", c.Marshal()))
	}
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("ptime", strconv.Itoa(ptimeMs)),
		sdp.NewPropertyAttribute(string(dir)),
	)
	sd.MediaDescriptions = []*sdp.MediaDescription{md}
	out, err := sd.Marshal()
	if err != nil {
		// Marshal of a description we built ourselves cannot fail short of a
		// pion bug; an empty body makes the peer reject rather than us panic.
		return nil
	}
	return out
}
