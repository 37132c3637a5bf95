package rtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

const testProfile = srtp.ProtectionProfileAes128CmHmacSha1_80

// srtpKey returns a fresh master key || salt for profile.
func srtpKey(t testing.TB, profile srtp.ProtectionProfile) []byte {
	t.Helper()
	k, _ := profile.KeyLen()
	s, _ := profile.SaltLen()
	key := make([]byte, k+s)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// securePair is newPair with SRTP keys crossed between the two legs.
func securePair(t *testing.T, e *Engine, profile srtp.ProtectionProfile) (a, b *Leg) {
	t.Helper()
	ka, kb := srtpKey(t, profile), srtpKey(t, profile)
	a, err := e.NewLeg("call-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err = e.NewLeg("call-b")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetSRTP(profile, ka, kb); err != nil {
		t.Fatalf("a.SetSRTP: %v", err)
	}
	if err := b.SetSRTP(profile, kb, ka); err != nil {
		t.Fatalf("b.SetSRTP: %v", err)
	}
	if err := a.SetRemote(b.LocalAddr(), PayloadPCMU, 101); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRemote(a.LocalAddr(), PayloadPCMU, 101); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestSRTPLegsCarryAudioIntactBothWays(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.ProtectionProfileAes128CmHmacSha1_32} {
		t.Run(profile.String(), func(t *testing.T) {
			e := newTestEngine(t, Config{RTCPInterval: 200 * time.Millisecond})
			a, b := securePair(t, e, profile)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			src := chirp(50*FrameSamples, 25*FrameSamples)
			var gotAB, gotBA []int16
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); gotAB = stream(ctx, t, a, b, src, 80) }()
			go func() { defer wg.Done(); gotBA = stream(ctx, t, b, a, src, 80) }()
			wg.Wait()
			ref := src[:25*FrameSamples]
			for dir, got := range map[string][]int16{"a→b": gotAB, "b→a": gotBA} {
				if c, lag := bestCorrelation(ref, got, len(got)-len(ref)); c < 0.9 {
					t.Errorf("%s: best correlation %.3f at lag %d, want > 0.9", dir, c, lag)
				}
			}
			for name, l := range map[string]*Leg{"a": a, "b": b} {
				st, sst := l.Stats(), l.SRTPStats()
				if st.PacketsReceived < 40 || st.Invalid != 0 || sst.AuthFailures != 0 || sst.Profile != profile {
					t.Errorf("%s: stats %+v srtp %+v, want ≥ 40 packets, nothing invalid", name, st, sst)
				}
				// SRTCP: reports every ~200 ms arrive and verify.
				if st.RTCPReceived == 0 {
					t.Errorf("%s: no SRTCP report accepted (sent %d)", name, st.RTCPSent)
				}
			}
		})
	}
}

// TestSRTPPacketsOnTheWireAreEncryptedAndTagged listens where an SRTP leg
// sends: the payload of silence must not be the plain µ-law code, and
// each packet carries the suite's authentication tag.
func TestSRTPPacketsOnTheWireAreEncryptedAndTagged(t *testing.T) {
	for _, tc := range []struct {
		profile srtp.ProtectionProfile
		tagLen  int
	}{{srtp.ProtectionProfileAes128CmHmacSha1_80, 10}, {srtp.ProtectionProfileAes128CmHmacSha1_32, 4}} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			e := newTestEngine(t, Config{})
			l, err := e.NewLeg("wire")
			if err != nil {
				t.Fatal(err)
			}
			peer := udpPeer(t)
			sendKey := srtpKey(t, tc.profile)
			if err := l.SetSRTP(tc.profile, sendKey, srtpKey(t, tc.profile)); err != nil {
				t.Fatal(err)
			}
			if err := l.SetRemote(netip.MustParseAddrPort(peer.LocalAddr().String()), PayloadPCMU, 0); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, maxPacket)
			peer.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("no packet from SRTP leg: %v", err)
			}
			if n != rtpHeaderLen+FrameSamples+tc.tagLen {
				t.Errorf("packet of %d bytes, want %d (header + 160 + %d-byte tag)", n, rtpHeaderLen+FrameSamples+tc.tagLen, tc.tagLen)
			}
			if bytes.Count(buf[rtpHeaderLen:rtpHeaderLen+FrameSamples], []byte{0xff}) > 16 {
				t.Error("payload looks like plain µ-law silence: not encrypted")
			}
			// The peer holding the key decrypts it back to silence.
			kl, _ := tc.profile.KeyLen()
			dec, err := srtp.CreateContext(sendKey[:kl], sendKey[kl:], tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := dec.DecryptRTP(nil, buf[:n], nil)
			if err != nil {
				t.Fatalf("peer cannot decrypt: %v", err)
			}
			if !bytes.Equal(plain[rtpHeaderLen:], bytes.Repeat([]byte{0xff}, FrameSamples)) {
				t.Error("decrypted payload is not µ-law silence")
			}
		})
	}
}

// srtpSource protects packets as the peer would, with the key the leg
// expects to receive with.
type srtpSource struct {
	ctx  *srtp.Context
	seq  uint16
	ts   uint32
	ssrc uint32
}

func newSRTPSource(t testing.TB, profile srtp.ProtectionProfile, key []byte) *srtpSource {
	t.Helper()
	kl, _ := profile.KeyLen()
	ctx, err := srtp.CreateContext(key[:kl], key[kl:], profile)
	if err != nil {
		t.Fatal(err)
	}
	return &srtpSource{ctx: ctx, seq: 100, ts: 1000, ssrc: 0x5eed}
}

func (s *srtpSource) next(t testing.TB, dst []byte) []byte {
	t.Helper()
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: PayloadPCMU, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc},
		Payload: bytes.Repeat([]byte{0x55}, FrameSamples),
	}
	s.seq++
	s.ts += FrameSamples
	plain, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.ctx.EncryptRTP(dst[:0], plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSRTPReceiveDropsAndCountsBadPackets(t *testing.T) {
	src := netip.AddrPortFrom(loopback, 4000)
	now := time.Unix(1_700_000_000, 0)
	type want struct{ received, invalid, auth, replayed int64 }
	for _, tc := range []struct {
		name string
		send func(t *testing.T, l *Leg, s *srtpSource)
		want want
	}{
		{"valid packet is accepted", func(t *testing.T, l *Leg, s *srtpSource) {
			l.recv.handlePacket(s.next(t, nil), src, now)
		}, want{received: 1}},
		{"flipped payload bit fails authentication", func(t *testing.T, l *Leg, s *srtpSource) {
			p := s.next(t, nil)
			p[rtpHeaderLen+3] ^= 0x01
			l.recv.handlePacket(p, src, now)
		}, want{invalid: 1, auth: 1}},
		{"flipped tag bit fails authentication", func(t *testing.T, l *Leg, s *srtpSource) {
			p := s.next(t, nil)
			p[len(p)-1] ^= 0x80
			l.recv.handlePacket(p, src, now)
		}, want{invalid: 1, auth: 1}},
		{"rewritten header fails authentication", func(t *testing.T, l *Leg, s *srtpSource) {
			p := s.next(t, nil)
			binary.BigEndian.PutUint32(p[4:], 999) // timestamp
			l.recv.handlePacket(p, src, now)
		}, want{invalid: 1, auth: 1}},
		{"replayed packet is dropped once seen", func(t *testing.T, l *Leg, s *srtpSource) {
			p := s.next(t, nil)
			l.recv.handlePacket(p, src, now)
			l.recv.handlePacket(bytes.Clone(p), src, now.Add(FrameDuration))
		}, want{received: 1, invalid: 1, replayed: 1}},
		{"plain RTP on an SRTP leg is refused", func(t *testing.T, l *Leg, s *srtpSource) {
			l.recv.handlePacket(rawRTPPacket(t, PayloadPCMU, 7, 7, 7, FrameSamples), src, now)
		}, want{invalid: 1, auth: 1}},
		{"packet shorter than header and tag is malformed", func(t *testing.T, l *Leg, s *srtpSource) {
			l.recv.handlePacket(s.next(t, nil)[:rtpHeaderLen+5], src, now)
		}, want{invalid: 1}},
		{"packet signed with another key fails", func(t *testing.T, l *Leg, s *srtpSource) {
			other := newSRTPSource(t, testProfile, srtpKey(t, testProfile))
			l.recv.handlePacket(other.next(t, nil), src, now)
		}, want{invalid: 1, auth: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := detachedLeg(t)
			recvKey := srtpKey(t, testProfile)
			if err := l.SetSRTP(testProfile, srtpKey(t, testProfile), recvKey); err != nil {
				t.Fatal(err)
			}
			tc.send(t, l, newSRTPSource(t, testProfile, recvKey))
			st, sst := l.Stats(), l.SRTPStats()
			got := want{st.PacketsReceived, st.Invalid, sst.AuthFailures, sst.Replayed}
			if got != tc.want {
				t.Errorf("received/invalid/auth/replayed = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSRTPRekeyKeepsUnchangedDirections(t *testing.T) {
	l := detachedLeg(t)
	k1, k2, k3 := srtpKey(t, testProfile), srtpKey(t, testProfile), srtpKey(t, testProfile)
	if err := l.SetSRTP(testProfile, k1, k2); err != nil {
		t.Fatal(err)
	}
	tx, rx := l.srtp.tx, l.srtp.rx
	// A re-INVITE with the same keys keeps both contexts (ROC, replay window).
	if err := l.SetSRTP(testProfile, k1, k2); err != nil {
		t.Fatal(err)
	}
	if l.srtp.tx != tx || l.srtp.rx != rx {
		t.Error("same keys replaced a context")
	}
	// The peer re-keys: only the receive side changes.
	if err := l.SetSRTP(testProfile, k1, k3); err != nil {
		t.Fatal(err)
	}
	if l.srtp.tx != tx || l.srtp.rx == rx {
		t.Error("new receive key: want send context kept, receive context new")
	}
	// Packets under the new key verify; under the old one they do not.
	src := netip.AddrPortFrom(loopback, 4000)
	now := time.Unix(1_700_000_000, 0)
	l.recv.handlePacket(newSRTPSource(t, testProfile, k3).next(t, nil), src, now)
	old := newSRTPSource(t, testProfile, k2)
	old.seq += 10 // not a replay of the first: the tag is what fails
	l.recv.handlePacket(old.next(t, nil), src, now)
	if st, sst := l.Stats(), l.SRTPStats(); st.PacketsReceived != 1 || sst.AuthFailures != 1 {
		t.Errorf("after re-key: %d received, %d auth failures; want 1 and 1", st.PacketsReceived, sst.AuthFailures)
	}
	// A new suite replaces both.
	k32 := srtpKey(t, srtp.ProtectionProfileAes128CmHmacSha1_32)
	if err := l.SetSRTP(srtp.ProtectionProfileAes128CmHmacSha1_32, k32, k32); err != nil {
		t.Fatal(err)
	}
	if l.srtp.tx == tx {
		t.Error("new profile kept the old send context")
	}
	if err := l.SetSRTP(ProfileNone, nil, nil); err != nil {
		t.Fatal(err)
	}
	if l.srtp.tx != nil || l.srtp.rx != nil || l.SRTPStats().Profile != ProfileNone {
		t.Error("ProfileNone left SRTP on")
	}
}

func TestSRTPSetRejectsKeysOfTheWrongLength(t *testing.T) {
	l := detachedLeg(t)
	good := srtpKey(t, testProfile)
	for _, tc := range []struct {
		name       string
		profile    srtp.ProtectionProfile
		send, recv []byte
	}{
		{"short send key", testProfile, good[:16], good},
		{"long receive key", testProfile, good, append(bytes.Clone(good), 1)},
		{"no keys", testProfile, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := l.SetSRTP(tc.profile, tc.send, tc.recv); !errors.Is(err, ErrSRTPKey) {
				t.Errorf("SetSRTP: %v, want ErrSRTPKey", err)
			}
		})
	}
	if err := l.SetSRTP(srtp.ProtectionProfile(0x99), good, good); err == nil {
		t.Error("unknown profile accepted")
	}
	if l.SRTPStats().Profile != ProfileNone {
		t.Error("a failed SetSRTP turned SRTP on")
	}
}

func TestSRTPMismatchedKeysDeliverNoAudio(t *testing.T) {
	e := newTestEngine(t, Config{})
	a, b := securePair(t, e, testProfile)
	if err := b.SetSRTP(testProfile, srtpKey(t, testProfile), srtpKey(t, testProfile)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	st, sst := b.Stats(), b.SRTPStats()
	if st.PacketsReceived != 0 || sst.AuthFailures < 5 {
		t.Errorf("b with the wrong key: %d packets accepted, %d auth failures; want 0 and ≥ 5", st.PacketsReceived, sst.AuthFailures)
	}
	_ = a
}

// BenchmarkSRTPProtect measures protecting one 20 ms PCMU packet in the
// leg's reused buffer (AES-CM + HMAC-SHA1-80), without the syscall.
func BenchmarkSRTPProtect(b *testing.B) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.ProtectionProfileAes128CmHmacSha1_32} {
		b.Run(profile.String(), func(b *testing.B) {
			l := detachedLeg(b)
			if err := l.SetSRTP(profile, srtpKey(b, profile), srtpKey(b, profile)); err != nil {
				b.Fatal(err)
			}
			frame := chirp(FrameSamples, FrameSamples)
			b.ReportAllocs()
			b.SetBytes(FrameSamples)
			for i := 0; b.Loop(); i++ {
				l.sendMu.Lock()
				encodeG711(l.sendPT, l.pkt[rtpHeaderLen:rtpHeaderLen+FrameSamples], frame)
				l.marshalHeader(l.sendPT, uint32(i*FrameSamples), false)
				l.seq++
				if _, ok := l.protectRTP(l.pkt[:rtpHeaderLen+FrameSamples]); !ok {
					b.Fatal("protect failed")
				}
				l.sendMu.Unlock()
			}
		})
	}
}

// BenchmarkSRTPUnprotect measures the receive path of one SRTP packet:
// authentication, decryption, then the plain path of BenchmarkReceivePath.
// Packets are protected up front so only the leg's work is timed.
func BenchmarkSRTPUnprotect(b *testing.B) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.ProtectionProfileAes128CmHmacSha1_32} {
		b.Run(profile.String(), func(b *testing.B) {
			l := detachedLeg(b)
			key := srtpKey(b, profile)
			if err := l.SetSRTP(profile, srtpKey(b, profile), key); err != nil {
				b.Fatal(err)
			}
			const n = 4096
			s := newSRTPSource(b, profile, key)
			pkts := make([][]byte, n)
			for i := range pkts {
				pkts[i] = s.next(b, nil)
			}
			src := netip.AddrPortFrom(loopback, 4000)
			dst := make([]int16, FrameSamples)
			now := time.Unix(1_700_000_000, 0)
			buf := make([]byte, maxPacket)
			b.ReportAllocs()
			b.SetBytes(FrameSamples)
			for i := 0; b.Loop(); i++ {
				if i > 0 && i%n == 0 {
					// Past the prepared packets: a fresh receive context
					// (outside the timing) so they are not replays.
					b.StopTimer()
					l.srtp.rx = nil
					if err := l.SetSRTP(profile, l.srtp.tx.key, key); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				p := buf[:copy(buf, pkts[i%n])]
				now = now.Add(FrameDuration)
				l.recv.handlePacket(p, src, now)
				l.recv.tickPlayout()
				l.recv.takePlayout(dst)
			}
			if st := l.SRTPStats(); st.AuthFailures != 0 {
				b.Fatalf("%d auth failures", st.AuthFailures)
			}
		})
	}
}

func TestSRTCPFromThePeerIsVerified(t *testing.T) {
	src := netip.AddrPortFrom(loopback, 4001)
	now := time.Unix(1_700_000_000, 0)
	l := detachedLeg(t)
	recvKey := srtpKey(t, testProfile)
	if err := l.SetSRTP(testProfile, srtpKey(t, testProfile), recvKey); err != nil {
		t.Fatal(err)
	}
	report, err := buildReport(senderInfo{ssrc: 0x5eed}, nil, "peer@test", true, now)
	if err != nil {
		t.Fatal(err)
	}
	kl, _ := testProfile.KeyLen()
	peer, err := srtp.CreateContext(recvKey[:kl], recvKey[kl:], testProfile)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := peer.EncryptRTCP(nil, report, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.recv.handleRTCP(sealed, src, now, false)
	if st := l.Stats(); st.RTCPReceived != 1 || !st.RemoteBye {
		t.Fatalf("sealed report not accepted: %+v", st)
	}
	// The same report in clear, as baresip sends its last BYE, is dropped.
	l2 := detachedLeg(t)
	if err := l2.SetSRTP(testProfile, srtpKey(t, testProfile), recvKey); err != nil {
		t.Fatal(err)
	}
	l2.recv.handleRTCP(report, src, now, false)
	st, sst := l2.Stats(), l2.SRTPStats()
	if st.RTCPReceived != 0 || st.RemoteBye || sst.RTCPAuthFailures != 1 || sst.AuthFailures != 0 {
		t.Errorf("plain RTCP on an SRTP leg: %+v %+v; want dropped, one SRTCP auth failure", st, sst)
	}
}

func TestSRTPAwaitingThePeersKeyDropsEverything(t *testing.T) {
	src := netip.AddrPortFrom(loopback, 4000)
	now := time.Unix(1_700_000_000, 0)
	l := detachedLeg(t)
	sendKey, recvKey := srtpKey(t, testProfile), srtpKey(t, testProfile)
	if err := l.SetSRTP(testProfile, sendKey, nil); err != nil {
		t.Fatal(err)
	}
	s := newSRTPSource(t, testProfile, recvKey)
	l.recv.handlePacket(rawRTPPacket(t, PayloadPCMU, 1, 1, 1, FrameSamples), src, now)
	l.recv.handlePacket(s.next(t, nil), src, now)
	if st, sst := l.Stats(), l.SRTPStats(); st.PacketsReceived != 0 || st.Invalid != 2 || sst.AuthFailures != 0 {
		t.Fatalf("before the peer's key: %d accepted, %d invalid, %d auth failures; want 0, 2, 0", st.PacketsReceived, st.Invalid, sst.AuthFailures)
	}
	tx := l.srtp.tx
	if err := l.SetSRTP(testProfile, sendKey, recvKey); err != nil {
		t.Fatal(err)
	}
	if l.srtp.tx != tx {
		t.Error("the answer's key replaced the send context of the key we offered")
	}
	l.recv.handlePacket(s.next(t, nil), src, now)
	if st := l.Stats(); st.PacketsReceived != 1 {
		t.Errorf("after the peer's key: %d accepted, want 1", st.PacketsReceived)
	}
}

func TestSRTPStatsInTheFinalLogLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secure bool
		want   string
	}{
		{"plain leg says off", false, "srtp=off"},
		{"srtp leg gives profile and failures", true, "srtp.profile=SRTP_AES128_CM_HMAC_SHA1_80 srtp.auth_failures=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			e := newTestEngine(t, Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			l, err := e.NewLeg("log")
			if err != nil {
				t.Fatal(err)
			}
			key := srtpKey(t, testProfile)
			if tc.secure {
				if err := l.SetSRTP(testProfile, key, key); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			out := buf.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("final log line lacks %q:\n%s", tc.want, out)
			}
			if strings.Contains(out, base64.StdEncoding.EncodeToString(key)) || strings.Contains(out, fmt.Sprintf("%x", key)) {
				t.Error("a key reached the log")
			}
		})
	}
}
