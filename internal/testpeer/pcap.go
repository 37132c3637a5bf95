package testpeer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pion/rtp"
)

// Classic libpcap file format (not pcapng): sipp 3.6 reads it with libpcap.
const (
	pcapMagic        = 0xa1b2c3d4
	pcapLinkEthernet = 1 // LINKTYPE_ETHERNET
	pcapSnapLen      = 65535
	ethHeaderLen     = 14
	ipv4HeaderLen    = 20
	udpHeaderLen     = 8
	etherTypeIPv4    = 0x0800
	ipProtoUDP       = 17
)

// PcapOptions say how WritePCMUPcap frames its packets. Addresses are
// 127.0.0.1 both ways; sipp rewrites them, and the ports, when it plays.
type PcapOptions struct {
	// SrcPort and DstPort of the UDP header; defaults 6000 and 6002.
	SrcPort, DstPort int
	// RTP payload type, DTMF digits and SSRC, as for Packetize.
	RTPOptions
}

// WritePCMUPcap writes pcm (8 kHz) as a classic libpcap file of
// Ethernet/IPv4/UDP/RTP frames, one 20 ms G.711 packet each (PT 0 unless
// opts.PayloadType is 8), with opts.DTMF appended as RFC 4733 events, so
// that sipp's <exec play_pcap_audio="path"/> plays it with the right pacing.
// It returns the RTP packets written, for tests to compare against.
func WritePCMUPcap(path string, pcm []int16, opts PcapOptions) ([]TimedPacket, error) {
	if opts.SrcPort == 0 {
		opts.SrcPort = 6000
	}
	if opts.DstPort == 0 {
		opts.DstPort = 6002
	}
	pkts, err := Packetize(pcm, opts.RTPOptions)
	if err != nil {
		return nil, fmt.Errorf("write pcap %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("write pcap: %w", err)
	}
	w := bufio.NewWriter(f)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], pcapMagic)
	binary.LittleEndian.PutUint16(hdr[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], pcapSnapLen)
	binary.LittleEndian.PutUint32(hdr[20:], pcapLinkEthernet)
	w.Write(hdr)
	// A fixed, plausible capture start: sipp only uses differences.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, p := range pkts {
		payload, err := p.Packet.Marshal()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("write pcap %s: marshal packet %d: %w", path, i, err)
		}
		frame := udpFrame(uint16(i), opts.SrcPort, opts.DstPort, payload)
		ts := start.Add(p.At)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		w.Write(rec)
		w.Write(frame)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pcap %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write pcap %s: %w", path, err)
	}
	return pkts, nil
}

// udpFrame wraps payload in Ethernet, IPv4 and UDP headers, 127.0.0.1 both ways.
func udpFrame(id uint16, srcPort, dstPort int, payload []byte) []byte {
	udpLen := udpHeaderLen + len(payload)
	ipLen := ipv4HeaderLen + udpLen
	b := make([]byte, ethHeaderLen+ipLen)
	// Locally administered MACs: the frame never touches a wire.
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], etherTypeIPv4)
	ip := b[ethHeaderLen:]
	ip[0] = 0x45 // IPv4, 5-word header
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[4:], id)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64
	ip[9] = ipProtoUDP
	copy(ip[12:16], []byte{127, 0, 0, 1})
	copy(ip[16:20], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:ipv4HeaderLen]))
	udp := ip[ipv4HeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], uint16(srcPort))
	binary.BigEndian.PutUint16(udp[2:], uint16(dstPort))
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	// UDP checksum 0 means "none" over IPv4 (RFC 768).
	copy(udp[udpHeaderLen:], payload)
	return b
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ErrNotPcap reports a file that is not a classic Ethernet libpcap capture.
var ErrNotPcap = errors.New("not a classic Ethernet libpcap file")

// ReadRTPPcap reads the UDP payloads of a classic Ethernet pcap (as written
// by WritePCMUPcap or tcpdump) as RTP packets, with their capture times
// relative to the first packet. Frames that are not IPv4/UDP are skipped.
func ReadRTPPcap(path string) ([]TimedPacket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pcap: %w", err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != pcapMagic ||
		binary.LittleEndian.Uint32(data[20:]) != pcapLinkEthernet {
		return nil, fmt.Errorf("read pcap %s: %w", path, ErrNotPcap)
	}
	var (
		out   []TimedPacket
		first time.Time
	)
	for off := 24; off < len(data); {
		if off+16 > len(data) {
			return nil, fmt.Errorf("read pcap %s: record header at %d: %w", path, off, io.ErrUnexpectedEOF)
		}
		sec := binary.LittleEndian.Uint32(data[off:])
		usec := binary.LittleEndian.Uint32(data[off+4:])
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		off += 16
		if off+n > len(data) {
			return nil, fmt.Errorf("read pcap %s: frame at %d: %w", path, off, io.ErrUnexpectedEOF)
		}
		frame := data[off : off+n]
		off += n
		ts := time.Unix(int64(sec), int64(usec)*1000)
		if first.IsZero() {
			first = ts
		}
		if len(frame) < ethHeaderLen+ipv4HeaderLen+udpHeaderLen ||
			binary.BigEndian.Uint16(frame[12:]) != etherTypeIPv4 {
			continue
		}
		ip := frame[ethHeaderLen:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != ipProtoUDP || len(ip) < ihl+udpHeaderLen {
			continue
		}
		udp := ip[ihl:]
		udpLen := int(binary.BigEndian.Uint16(udp[4:]))
		if udpLen < udpHeaderLen || udpLen > len(udp) {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(udp[udpHeaderLen:udpLen]); err != nil {
			continue
		}
		out = append(out, TimedPacket{At: ts.Sub(first), Packet: p})
	}
	return out, nil
}
