package rtp

import (
	"math/rand/v2"
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the number of seconds from 1900 (NTP era 0) to 1970.
const ntpEpochOffset = 2208988800

// toNTP converts t to a 64-bit NTP timestamp (RFC 3550 §4).
func toNTP(t time.Time) uint64 {
	ns := t.UnixNano()
	sec := uint64(ns/1e9) + ntpEpochOffset
	frac := uint64(ns%1e9) << 32 / 1e9
	return sec<<32 | frac
}

// compactNTP is the middle 32 bits of an NTP timestamp, the unit of LSR and
// DLSR (RFC 3550 §6.4.1).
func compactNTP(ntp uint64) uint32 { return uint32(ntp >> 16) }

// rttFromReport computes the round trip from a reception report block
// received at now (RFC 3550 §6.4.1: A - LSR - DLSR). ok is false when the
// peer has not seen an SR of ours yet or the figures are inconsistent.
func rttFromReport(now time.Time, lsr, dlsr uint32) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	rtt := compactNTP(toNTP(now)) - lsr - dlsr
	if int32(rtt) < 0 {
		return 0, false
	}
	return time.Duration(uint64(rtt) * uint64(time.Second) >> 16), true
}

// rtcpInterval randomises the report interval to 0.5–1.5 times base so that
// reports of many legs do not synchronise (RFC 3550 §6.3.1).
func rtcpInterval(base time.Duration) time.Duration {
	return base/2 + rand.N(base)
}

// isRTCP reports whether a packet on the RTP port is RTCP multiplexed on it
// (RFC 5761 §4: the second byte is the RTCP packet type 192–223).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// rtcpReceiver is what a leg learns from the peer's RTCP.
type rtcpReceiver struct {
	lastSR    uint32    // compact NTP of the peer's last SR, 0 if none
	lastSRAt  time.Time // when it arrived
	rtt       time.Duration
	remoteBye bool
	received  int64
	invalid   int64
}

// handle parses one RTCP compound packet. ourSSRC selects the report blocks
// about our stream. It returns false when the packet is not valid RTCP.
func (r *rtcpReceiver) handle(buf []byte, ourSSRC uint32, now time.Time) bool {
	if len(buf) < 8 || buf[0]>>6 != 2 {
		r.invalid++
		return false
	}
	pkts, err := rtcp.Unmarshal(buf)
	if err != nil {
		r.invalid++
		return false
	}
	r.received++
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			r.lastSR = compactNTP(p.NTPTime)
			r.lastSRAt = now
			r.reports(p.Reports, ourSSRC, now)
		case *rtcp.ReceiverReport:
			r.reports(p.Reports, ourSSRC, now)
		case *rtcp.Goodbye:
			r.remoteBye = true
		}
	}
	return true
}

func (r *rtcpReceiver) reports(blocks []rtcp.ReceptionReport, ourSSRC uint32, now time.Time) {
	for _, b := range blocks {
		if b.SSRC != ourSSRC {
			continue
		}
		if rtt, ok := rttFromReport(now, b.LastSenderReport, b.Delay); ok {
			r.rtt = rtt
		}
	}
}

// senderInfo is the send side's part of a report.
type senderInfo struct {
	ssrc        uint32
	sentSince   bool // sent RTP since the last report: send an SR
	rtpTime     uint32
	packetCount uint32
	octetCount  uint32
}

// receptionBlock builds the report block about the peer's stream from the
// jitter buffer's counters, and advances the fraction-lost interval.
func receptionBlock(st *jitterStats, lost int64, rr *rtcpReceiver, now time.Time) rtcp.ReceptionReport {
	expected := st.HighSeq - st.BaseSeq + 1
	expInt := expected - st.PriorExpect
	recvInt := st.Received - st.PriorReceive
	st.PriorExpect, st.PriorReceive = expected, st.Received
	var fraction uint8
	if lostInt := expInt - recvInt; expInt > 0 && lostInt > 0 {
		fraction = uint8(lostInt << 8 / expInt)
	}
	// RFC 3550 §6.4.1: cumulative loss is a signed 24-bit field.
	lost = min(max(lost, -1<<23), 1<<23-1)
	b := rtcp.ReceptionReport{
		SSRC:               st.SSRC,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xffffff,
		LastSequenceNumber: uint32(st.HighSeq),
		Jitter:             uint32(st.JitterQ4 >> 4),
	}
	if rr.lastSR != 0 {
		b.LastSenderReport = rr.lastSR
		b.Delay = uint32(now.Sub(rr.lastSRAt) * (1 << 16) / time.Second)
	}
	return b
}

// buildReport marshals an SR (when we sent since the last report) or RR,
// followed by SDES CNAME as RFC 3550 §6.1 requires, and BYE if bye is set.
func buildReport(si senderInfo, block *rtcp.ReceptionReport, cname string, bye bool, now time.Time) ([]byte, error) {
	var reports []rtcp.ReceptionReport
	if block != nil {
		reports = []rtcp.ReceptionReport{*block}
	}
	pkts := make([]rtcp.Packet, 0, 3)
	if si.sentSince {
		pkts = append(pkts, &rtcp.SenderReport{
			SSRC:        si.ssrc,
			NTPTime:     toNTP(now),
			RTPTime:     si.rtpTime,
			PacketCount: si.packetCount,
			OctetCount:  si.octetCount,
			Reports:     reports,
		})
	} else {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: si.ssrc, Reports: reports})
	}
	pkts = append(pkts, rtcp.NewCNAMESourceDescription(si.ssrc, cname))
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{si.ssrc}})
	}
	return rtcp.Marshal(pkts)
}
