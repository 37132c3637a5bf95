package testpeer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// Static RTP payload types of RFC 3551 §6, and the dynamic type the
// scenarios and SDP offers here use for RFC 4733 telephone-event.
const (
	PayloadPCMU           uint8 = 0
	PayloadPCMA           uint8 = 8
	PayloadTelephoneEvent uint8 = 101
)

// SampleRate is the rate of every PCM slice in this package, in Hz.
const SampleRate = 8000

// FrameSamples is one 20 ms packet of 8 kHz audio.
const FrameSamples = SampleRate * 20 / 1000

// frameDuration is the packet time of every stream made here.
const frameDuration = 20 * time.Millisecond

// dtmfEvents maps a digit to its RFC 4733 §3.2 event code.
const dtmfEvents = "0123456789*#ABCD"

// RTPOptions shape a stream built by Packetize. The zero value gives PCMU
// with a random SSRC and no digits.
type RTPOptions struct {
	// PayloadType is PayloadPCMU (default) or PayloadPCMA.
	PayloadType uint8
	// SSRC of the stream; zero picks a random one.
	SSRC uint32
	// DTMF digits ("0-9*#A-D") sent as RFC 4733 events after the audio.
	DTMF string
	// DigitDuration is how long each digit is held; default 160 ms.
	DigitDuration time.Duration
	// DigitGap is the pause between digits; default 100 ms.
	DigitGap time.Duration
}

// TimedPacket is an RTP packet with the time, from the start of the stream,
// at which it is to be sent (or was seen).
type TimedPacket struct {
	At     time.Duration
	Packet rtp.Packet
}

// ErrBadDigit reports a DTMF digit outside RFC 4733's 16 events.
var ErrBadDigit = errors.New("not a DTMF digit")

// ErrBadPayloadType reports a payload type other than PCMU or PCMA.
var ErrBadPayloadType = errors.New("payload type must be 0 (PCMU) or 8 (PCMA)")

// Packetize cuts pcm (8 kHz) into 20 ms G.711 packets with consecutive
// sequence numbers and timestamps, and appends opts.DTMF as RFC 4733 events.
// A last partial frame is padded with silence.
func Packetize(pcm []int16, opts RTPOptions) ([]TimedPacket, error) {
	if opts.PayloadType != PayloadPCMU && opts.PayloadType != PayloadPCMA {
		return nil, fmt.Errorf("packetize: %w, got %d", ErrBadPayloadType, opts.PayloadType)
	}
	for _, d := range opts.DTMF {
		if !strings.ContainsRune(dtmfEvents, d) {
			return nil, fmt.Errorf("packetize DTMF %q: %w: %q", opts.DTMF, ErrBadDigit, d)
		}
	}
	if opts.SSRC == 0 {
		opts.SSRC = rand.Uint32() | 1
	}
	if opts.DigitDuration <= 0 {
		opts.DigitDuration = 160 * time.Millisecond
	}
	if opts.DigitGap <= 0 {
		opts.DigitGap = 100 * time.Millisecond
	}
	var (
		out []TimedPacket
		seq = uint16(rand.UintN(1 << 15))
		ts  = rand.Uint32() >> 1
		at  time.Duration
	)
	emit := func(pt uint8, marker bool, stamp uint32, payload []byte) {
		out = append(out, TimedPacket{At: at, Packet: rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker,
				SequenceNumber: seq, Timestamp: stamp, SSRC: opts.SSRC},
			Payload: payload,
		}})
		seq++
	}
	for i := 0; i < len(pcm); i += FrameSamples {
		frame := make([]int16, FrameSamples)
		copy(frame, pcm[i:min(i+FrameSamples, len(pcm))])
		emit(opts.PayloadType, i == 0, ts, EncodeG711(opts.PayloadType, frame))
		ts += FrameSamples
		at += frameDuration
	}
	digitFrames := max(1, int(opts.DigitDuration/frameDuration))
	gapFrames := int(opts.DigitGap / frameDuration)
	for _, d := range opts.DTMF {
		event := byte(strings.IndexRune(dtmfEvents, d))
		for f := 1; f <= digitFrames; f++ {
			end := f == digitFrames
			payload := dtmfPayload(event, end, uint16(f*FrameSamples))
			emit(PayloadTelephoneEvent, f == 1, ts, payload)
			if end {
				// RFC 4733 §2.5.1.4: the end packet is sent three times.
				emit(PayloadTelephoneEvent, false, ts, payload)
				emit(PayloadTelephoneEvent, false, ts, payload)
			}
			at += frameDuration
		}
		ts += uint32((digitFrames + gapFrames) * FrameSamples)
		at += time.Duration(gapFrames) * frameDuration
	}
	return out, nil
}

// dtmfPayload is the 4-byte RFC 4733 §2.3 event: event, E|R|volume, duration.
func dtmfPayload(event byte, end bool, duration uint16) []byte {
	p := make([]byte, 4)
	p[0] = event
	p[1] = 10 // volume −10 dBm0, a typical level
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], duration)
	return p
}

// EncodeG711 encodes 8 kHz PCM with μ-law (PT 0) or A-law (PT 8).
func EncodeG711(pt uint8, pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		if pt == PayloadPCMA {
			out[i] = g711.EncodeAlawFrame(s)
		} else {
			out[i] = g711.EncodeUlawFrame(s)
		}
	}
	return out
}

// DecodeG711 decodes μ-law (PT 0) or A-law (PT 8) to 8 kHz PCM.
func DecodeG711(pt uint8, payload []byte) []int16 {
	out := make([]int16, len(payload))
	for i, b := range payload {
		if pt == PayloadPCMA {
			out[i] = g711.DecodeAlawFrame(b)
		} else {
			out[i] = g711.DecodeUlawFrame(b)
		}
	}
	return out
}

// DTMFEvent is one RFC 4733 event as parsed from a packet payload.
type DTMFEvent struct {
	Digit    rune
	End      bool
	Duration uint16
}

// ParseDTMF parses an RFC 4733 §2.3 payload.
func ParseDTMF(payload []byte) (DTMFEvent, error) {
	if len(payload) < 4 {
		return DTMFEvent{}, fmt.Errorf("telephone-event payload of %d bytes, want 4", len(payload))
	}
	if int(payload[0]) >= len(dtmfEvents) {
		return DTMFEvent{}, fmt.Errorf("telephone-event %d: %w", payload[0], ErrBadDigit)
	}
	return DTMFEvent{
		Digit:    rune(dtmfEvents[payload[0]]),
		End:      payload[1]&0x80 != 0,
		Duration: binary.BigEndian.Uint16(payload[2:]),
	}, nil
}

// Depacketize turns a received stream back into what it carried: the audio
// of the G.711 packets of one SSRC placed by timestamp (gaps filled with
// silence, duplicates dropped), and the DTMF digits, one per event
// timestamp, in order. Packets of other payload types are ignored.
func Depacketize(pkts []rtp.Packet) (pcm []int16, digits string) {
	var (
		base    uint32
		haveTS  bool
		digitTS = map[uint32]bool{}
	)
	for _, p := range pkts {
		switch p.PayloadType {
		case PayloadPCMU, PayloadPCMA:
			if !haveTS {
				base, haveTS = p.Timestamp, true
			}
			off := int(int32(p.Timestamp - base))
			if off < 0 || off > 10*60*SampleRate {
				continue // reordered before the start or absurd: not worth a test's memory
			}
			if need := off + len(p.Payload); need > len(pcm) {
				pcm = append(pcm, make([]int16, need-len(pcm))...)
			}
			copy(pcm[off:], DecodeG711(p.PayloadType, p.Payload))
		default:
			if len(p.Payload) != 4 || p.PayloadType < 96 {
				continue
			}
			ev, err := ParseDTMF(p.Payload)
			if err != nil || digitTS[p.Timestamp] {
				continue
			}
			digitTS[p.Timestamp] = true
			digits += string(ev.Digit)
		}
	}
	return pcm, digits
}
