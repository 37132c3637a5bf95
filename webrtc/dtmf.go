package webrtc

import (
	"errors"
	"time"
)

// Digit is one DTMF key the browser pressed, sent as an RFC 4733
// telephone-event (RTCDTMFSender).
type Digit struct {
	// Digit is one of 0-9, *, #, A-D.
	Digit rune
	// At is when its first packet arrived.
	At time.Time
}

// errDTMFPayload is a telephone-event payload shorter than RFC 4733 §2.3's
// four bytes or with an event that is not a key.
var errDTMFPayload = errors.New("webrtc: bad telephone-event payload")

// dtmfKeys maps RFC 4733 §3.2 event codes 0-15 to keys.
const dtmfKeys = "0123456789*#ABCD"

// dtmfReceiver turns telephone-event packets into digits. Every packet of
// one event carries the event's start timestamp (RFC 4733 §2.5.1.2), and
// the end packet is repeated, so a digit is reported on the first packet of
// a timestamp not seen before.
type dtmfReceiver struct {
	seen    bool
	lastTS  uint32
	lastKey byte
}

// packet reports the digit a telephone-event payload starts, if any.
func (r *dtmfReceiver) packet(timestamp uint32, payload []byte) (rune, bool, error) {
	if len(payload) < 4 || payload[0] >= byte(len(dtmfKeys)) {
		return 0, false, errDTMFPayload
	}
	if r.seen && timestamp == r.lastTS && payload[0] == r.lastKey {
		return 0, false, nil
	}
	r.seen, r.lastTS, r.lastKey = true, timestamp, payload[0]
	return rune(dtmfKeys[payload[0]]), true, nil
}
