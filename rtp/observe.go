package rtp

import "time"

// Observer sees the timing of a leg's audio packets, for load generators and
// monitoring that need per-packet arrival and send times the Stats counters
// only summarise. Its methods run on the leg's hot path — the pacer for
// RTPSent, the leg's reader with its receive lock held for RTPReceived — so
// they must return quickly, must not block, must not allocate and must not
// call back into the leg.
type Observer interface {
	// RTPSent is called after an audio packet with RTP timestamp ts left
	// the socket at time at.
	RTPSent(at time.Time, ts uint32)
	// RTPReceived is called for each accepted audio packet (not DTMF or
	// comfort noise) that arrived at time at.
	RTPReceived(at time.Time, seq uint16, ts uint32)
}

// observerBox lets an interface value live behind an atomic.Pointer.
type observerBox struct{ o Observer }

// Observe installs o to see the leg's audio packets from now on; nil removes
// the observer. A leg without an observer pays one atomic load per packet.
func (l *Leg) Observe(o Observer) {
	if o == nil {
		l.obs.Store(nil)
		return
	}
	l.obs.Store(&observerBox{o})
}
