package rtp

import (
	"net/netip"
	"time"
)

// Stats is a snapshot of a leg's counters. Byte counts are RTP payload
// octets, as in RTCP sender reports.
type Stats struct {
	// PacketsSent and BytesSent count RTP packets (audio and DTMF) sent.
	PacketsSent, BytesSent int64
	// PacketsReceived and BytesReceived count valid RTP packets accepted
	// from the peer, including duplicates and late ones.
	PacketsReceived, BytesReceived int64
	// PacketsLost is the RFC 3550 cumulative loss: expected minus
	// received; duplicates can make it negative.
	PacketsLost int64
	// Duplicates, Late and Reordered count packets received twice, too
	// late for playout, and out of sequence order but still in time.
	Duplicates, Late, Reordered int64
	// Invalid counts dropped datagrams: too short, wrong version,
	// malformed headers, unknown payload types and RTCP garbage.
	Invalid int64
	// UnknownPayload counts the part of Invalid with a payload type that
	// was not negotiated.
	UnknownPayload int64
	// Foreign counts packets from a source other than the latched one
	// that did not (yet) take over.
	Foreign int64
	// Jitter is the RFC 3550 A.8 interarrival jitter estimate.
	Jitter time.Duration
	// RTT is the round trip computed from the peer's RTCP reports
	// (LSR/DLSR), zero until known.
	RTT time.Duration
	// ConcealedFrames counts playout frames synthesised because their
	// audio was missing while later audio had arrived.
	ConcealedFrames int64
	// AdaptDrops counts frames dropped to shrink the playout delay.
	AdaptDrops int64
	// JitterDepth is the current target playout delay; Buffered is the
	// audio currently waiting in the jitter buffer.
	JitterDepth, Buffered time.Duration
	// PlayoutOverruns counts frames discarded because ReadFrame fell
	// behind.
	PlayoutOverruns int64
	// DTMFSent and DTMFReceived count digits.
	DTMFSent, DTMFReceived int64
	// RTCPSent and RTCPReceived count RTCP compound packets.
	RTCPSent, RTCPReceived int64
	// RemoteBye reports whether the peer sent RTCP BYE.
	RemoteBye bool
	// RemoteAddr is where RTP is sent: the latched source when Latched,
	// else the SDP address.
	RemoteAddr netip.AddrPort
	// Latched reports whether RemoteAddr was learnt from received RTP.
	Latched bool
	// Relatches counts changes of the latched source.
	Relatches int64
	// SendErrors counts failed socket writes.
	SendErrors int64
}

// Stats returns a snapshot of the leg's counters.
func (l *Leg) Stats() Stats {
	r := &l.recv
	r.mu.Lock()
	jb := r.jb.st
	st := Stats{
		PacketsReceived: r.rx.packets,
		BytesReceived:   r.rx.payloadBytes,
		PacketsLost:     r.jb.lost(),
		Duplicates:      jb.Duplicates,
		Late:            jb.Late,
		Reordered:       jb.Reordered,
		Invalid:         r.rx.invalid,
		UnknownPayload:  r.rx.unknownPT,
		Foreign:         r.rx.foreign,
		Jitter:          samplesToDuration(jb.JitterQ4 >> 4),
		RTT:             r.rr.rtt,
		ConcealedFrames: jb.Concealed,
		AdaptDrops:      jb.AdaptDrops,
		JitterDepth:     samplesToDuration(jb.TargetDepth),
		Buffered:        samplesToDuration(jb.BufferDepth),
		PlayoutOverruns: r.rx.overruns,
		DTMFReceived:    r.rx.dtmfDigits,
		RTCPReceived:    r.rr.received,
		RemoteBye:       r.rr.remoteBye,
		Latched:         r.latched,
		Relatches:       r.rx.relatches,
		SendErrors:      r.sendErrors.Load(),
	}
	l.sendMu.Lock()
	st.PacketsSent = l.tx.packets
	st.BytesSent = l.tx.payloadBytes
	st.DTMFSent = l.tx.dtmfDigits
	st.RTCPSent = l.tx.rtcpSent
	st.RemoteAddr = l.dest
	l.sendMu.Unlock()
	r.mu.Unlock()
	return st
}
