package rtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sipTesterDir holds the RTP captures that Debian's sip-tester (sipp) ships:
// packets from real phones, written by no one on this project.
const sipTesterDir = "/usr/share/sip-tester"

// pcapPacket is the UDP payload of one captured frame and its capture time.
type pcapPacket struct {
	at      time.Duration
	payload []byte
}

// readPcapUDP returns the UDP payloads of an Ethernet/IPv4 classic pcap.
func readPcapUDP(path string) ([]pcapPacket, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, errors.New("pcap header truncated")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	default:
		return nil, errors.New("not a microsecond pcap")
	}
	if bo.Uint32(b[20:]) != 1 {
		return nil, errors.New("pcap link type is not Ethernet")
	}
	var out []pcapPacket
	var t0 time.Duration
	for off := 24; off+16 <= len(b); {
		sec, usec := bo.Uint32(b[off:]), bo.Uint32(b[off+4:])
		incl := int(bo.Uint32(b[off+8:]))
		off += 16
		if off+incl > len(b) {
			return nil, errors.New("pcap record truncated")
		}
		frame := b[off : off+incl]
		off += incl
		at := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		if len(out) == 0 {
			t0 = at
		}
		if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			continue
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 17 || len(ip) < ihl+8 {
			continue
		}
		udp := ip[ihl:]
		ulen := int(binary.BigEndian.Uint16(udp[4:]))
		if ulen < 8 || ulen > len(udp) {
			continue
		}
		out = append(out, pcapPacket{at: at - t0, payload: udp[8:ulen]})
	}
	return out, nil
}

// needFile skips (or, in CI, fails) when a file from a Debian package is
// missing.
func needFile(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing (install Debian package %s): %v", path, pkg, err)
		}
		t.Skipf("%s missing; install Debian package %s", path, pkg)
	}
}

// replay feeds captured packets to a detached leg at their capture times
// and runs the playout clock, returning the audio played.
func replay(t *testing.T, l *Leg, pkts []pcapPacket, extra time.Duration) []int16 {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	src := netipLoopbackPort(49176)
	var out []int16
	dst := make([]int16, FrameSamples)
	next := 0
	end := pkts[len(pkts)-1].at + extra
	for tick := time.Duration(0); tick <= end; tick += FrameDuration {
		for next < len(pkts) && pkts[next].at <= tick {
			l.recv.handlePacket(pkts[next].payload, src, start.Add(pkts[next].at))
			next++
		}
		l.recv.tickPlayout()
		for l.recv.takePlayout(dst) {
			out = append(out, dst...)
		}
	}
	return out
}

func TestLegDecodesRealPhoneDTMFCaptures(t *testing.T) {
	for _, tc := range []struct {
		file  string
		digit rune
	}{
		{"dtmf_2833_0.pcap", '0'}, {"dtmf_2833_1.pcap", '1'}, {"dtmf_2833_5.pcap", '5'},
		{"dtmf_2833_9.pcap", '9'}, {"dtmf_2833_pound.pcap", '#'}, {"dtmf_2833_star.pcap", '*'},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(sipTesterDir, tc.file)
			needFile(t, path, "sip-tester")
			pkts, err := readPcapUDP(path)
			if err != nil {
				t.Fatal(err)
			}
			l := detachedLeg(t) // telephone-event negotiated as 101, as in the capture
			replay(t, l, pkts, 100*time.Millisecond)
			var got []DTMFEvent
			for len(l.dtmfCh) > 0 {
				got = append(got, <-l.dtmfCh)
			}
			// The capture repeats its end packet three times with the
			// same sequence number: still one digit.
			if len(got) != 1 || got[0].Digit != tc.digit || got[0].Duration != 280*time.Millisecond {
				t.Errorf("digits %+v, want one %c of 280ms", got, tc.digit)
			}
			if st := l.Stats(); st.Invalid != 0 {
				t.Errorf("invalid packets %d in a real capture", st.Invalid)
			}
		})
	}
}

// TestLegDecodesRealPhoneALawLikeSox replays sipp's A-law capture (30 ms
// packets) through the jitter buffer and compares the playout with sox's
// decoding of the same payloads.
func TestLegDecodesRealPhoneALawLikeSox(t *testing.T) {
	path := filepath.Join(sipTesterDir, "g711a.pcap")
	needFile(t, path, "sip-tester")
	sox, err := exec.LookPath("sox")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sox not installed (Debian package sox)")
		}
		t.Skip("sox not installed (Debian package sox)")
	}
	pkts, err := readPcapUDP(path)
	if err != nil {
		t.Fatal(err)
	}
	var alaw []byte
	for _, p := range pkts {
		alaw = append(alaw, p.payload[rtpHeaderLen:]...)
	}
	cmd := exec.Command(sox, "-t", "al", "-r", "8000", "-c", "1", "-", "-t", "s16", "-e", "signed", "-b", "16", "-L", "-")
	cmd.Stdin = bytes.NewReader(alaw)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("sox: %v", err)
	}
	want := make([]int16, len(raw)/2)
	for i := range want {
		want[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}

	l := detachedLeg(t)
	if err := l.SetRemote(netipLoopbackPort(5000), PayloadPCMA, 0); err != nil {
		t.Fatal(err)
	}
	got := replay(t, l, pkts, 300*time.Millisecond)
	st := l.Stats()
	if st.PacketsReceived != int64(len(pkts)) || st.Invalid != 0 || st.Late != 0 || st.PacketsLost != 0 {
		t.Errorf("stats %+v: want every packet received in time", st)
	}
	// Compare a two-second stretch from the middle of the capture.
	ref := want[len(want)/3 : len(want)/3+2*SampleRate]
	corr, lag := bestCorrelation(ref, got, len(got)-len(ref))
	if corr < 0.999 {
		t.Errorf("correlation with sox's decoding %.4f at lag %d, want ≥ 0.999", corr, lag)
	}
}
