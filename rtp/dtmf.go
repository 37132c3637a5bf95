package rtp

import (
	"errors"
	"time"
)

// DTMFEvent is one digit received as RFC 4733 telephone-events.
type DTMFEvent struct {
	// Digit is one of 0-9, *, #, A-D.
	Digit rune
	// Duration is how long the sender held the key, from the event's
	// final duration field.
	Duration time.Duration
	// At is when the first packet of the event arrived.
	At time.Time
}

// RFC 4733 §2.3: the telephone-event payload is 4 bytes.
const (
	dtmfPayloadLen = 4
	dtmfEndBit     = 0x80
	dtmfVolumeMask = 0x3f
	// dtmfVolume is the tone power in -dBm0 that we advertise (RFC 4733
	// §2.3.4); 10 is what common phones send.
	dtmfVolume = 10
	// dtmfEndPackets is how many times the final packet of an event is
	// sent (RFC 4733 §2.5.1.4 recommends three).
	dtmfEndPackets = 3
	// dtmfStaleAfter ends an event whose end packets were all lost.
	dtmfStaleAfter = time.Second
	// dtmfHistory is how many finished events are remembered so that late
	// retransmissions of their end packets are not reported again.
	dtmfHistory = 8
)

// Errors of DTMF handling.
var (
	// ErrNoDTMF means the peer did not negotiate telephone-event.
	ErrNoDTMF = errors.New("rtp: peer negotiated no telephone-event payload type")
	// ErrDTMFDigit means a digit outside 0-9, *, #, A-D.
	ErrDTMFDigit = errors.New("rtp: invalid DTMF digit")
	// ErrDTMFPayload means a telephone-event payload shorter than 4 bytes.
	ErrDTMFPayload = errors.New("rtp: short telephone-event payload")
)

// dtmfPayload is the RFC 4733 §2.3 telephone-event payload.
type dtmfPayload struct {
	Event    uint8
	End      bool
	Volume   uint8
	Duration uint16 // in timestamp units
}

func parseDTMF(b []byte) (dtmfPayload, error) {
	if len(b) < dtmfPayloadLen {
		return dtmfPayload{}, ErrDTMFPayload
	}
	return dtmfPayload{
		Event:    b[0],
		End:      b[1]&dtmfEndBit != 0,
		Volume:   b[1] & dtmfVolumeMask,
		Duration: uint16(b[2])<<8 | uint16(b[3]),
	}, nil
}

// marshalTo writes the payload into b (len ≥ 4) and returns 4.
func (p dtmfPayload) marshalTo(b []byte) int {
	b[0] = p.Event
	b[1] = p.Volume & dtmfVolumeMask
	if p.End {
		b[1] |= dtmfEndBit
	}
	b[2] = byte(p.Duration >> 8)
	b[3] = byte(p.Duration)
	return dtmfPayloadLen
}

// dtmfEventCode maps a digit to its RFC 4733 §3.2 event code.
func dtmfEventCode(r rune) (uint8, bool) {
	switch {
	case r >= '0' && r <= '9':
		return uint8(r - '0'), true
	case r == '*':
		return 10, true
	case r == '#':
		return 11, true
	case r >= 'A' && r <= 'D':
		return uint8(r-'A') + 12, true
	case r >= 'a' && r <= 'd':
		return uint8(r-'a') + 12, true
	}
	return 0, false
}

// dtmfDigit maps an RFC 4733 event code to its digit; codes above 15 (flash,
// tones) are not digits.
func dtmfDigit(code uint8) (rune, bool) {
	switch {
	case code <= 9:
		return rune('0' + code), true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code <= 15:
		return rune('A' + code - 12), true
	}
	return 0, false
}

// dtmfReceiver turns a stream of telephone-event packets into digits, each
// reported once. An event is identified by its RTP timestamp (RFC 4733
// §2.5.2.1); it is reported on its first end packet, or when a newer event
// starts or it goes stale without one.
type dtmfReceiver struct {
	active   bool
	ts       uint32
	code     uint8
	duration uint16
	at       time.Time
	updated  time.Time

	done  [dtmfHistory]uint32
	doneN int
	doneI int
}

// dtmfOut carries up to two digits out of one packet: a previous event whose
// end was lost, and the current one.
type dtmfOut struct {
	ev [2]DTMFEvent
	n  int
}

func (o *dtmfOut) add(code uint8, duration uint16, at time.Time) {
	d, ok := dtmfDigit(code)
	if !ok || o.n == len(o.ev) {
		return
	}
	o.ev[o.n] = DTMFEvent{Digit: d, Duration: samplesToDuration(int64(duration)), At: at}
	o.n++
}

func (r *dtmfReceiver) finished(ts uint32) bool {
	for i := 0; i < r.doneN; i++ {
		if r.done[i] == ts {
			return true
		}
	}
	return false
}

func (r *dtmfReceiver) finish(out *dtmfOut) {
	out.add(r.code, r.duration, r.at)
	r.done[r.doneI] = r.ts
	r.doneI = (r.doneI + 1) % dtmfHistory
	r.doneN = min(r.doneN+1, dtmfHistory)
	r.active = false
}

// receive handles one telephone-event packet with RTP timestamp ts.
func (r *dtmfReceiver) receive(ts uint32, p dtmfPayload, now time.Time) dtmfOut {
	var out dtmfOut
	if r.finished(ts) {
		return out // retransmitted end packet or a late one
	}
	if r.active && r.ts != ts {
		r.finish(&out)
	}
	if !r.active {
		r.active = true
		r.ts = ts
		r.code = p.Event
		r.duration = 0
		r.at = now
	}
	r.duration = max(r.duration, p.Duration)
	r.updated = now
	if p.End {
		r.finish(&out)
	}
	return out
}

// expire reports an event whose end packets never came.
func (r *dtmfReceiver) expire(now time.Time) dtmfOut {
	var out dtmfOut
	if r.active && now.Sub(r.updated) > dtmfStaleAfter {
		r.finish(&out)
	}
	return out
}

// dtmfSender plays one event into the outgoing stream, one packet per
// pacer tick. It is driven under the leg's send lock.
type dtmfSender struct {
	active   bool
	code     uint8
	ts       uint32
	total    uint16 // event duration in samples
	elapsed  uint16
	endsSent int
	started  bool
	done     chan struct{}
}

// next returns the payload for this tick and whether it is the first packet
// of the event (which carries the marker bit, RFC 4733 §2.5.1.3).
func (s *dtmfSender) next(ts uint32) (p dtmfPayload, first bool) {
	if !s.started {
		s.started = true
		s.ts = ts
		first = true
	}
	if s.elapsed < s.total {
		s.elapsed = min(s.total, s.elapsed+FrameSamples)
	}
	p = dtmfPayload{Event: s.code, Volume: dtmfVolume, Duration: s.elapsed}
	if s.elapsed >= s.total {
		p.End = true
		s.endsSent++
		if s.endsSent >= dtmfEndPackets {
			s.active = false
			close(s.done)
		}
	}
	return p, first
}
