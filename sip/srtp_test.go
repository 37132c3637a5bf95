package sip

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	sipgosip "github.com/emiago/sipgo/sip"
	"github.com/pion/srtp/v3"
)

// srtpLeg is a fakeLeg that records the keys the SIP layer gives it.
type srtpLeg struct {
	*fakeLeg
	smu        sync.Mutex
	profile    srtp.ProtectionProfile
	send, recv []byte
	srtpSets   int
}

func newSRTPLeg(port uint16) *srtpLeg { return &srtpLeg{fakeLeg: newFakeLeg(port)} }

func (l *srtpLeg) SetSRTP(p srtp.ProtectionProfile, send, recv []byte) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	l.profile, l.send, l.recv = p, bytes.Clone(send), bytes.Clone(recv)
	l.srtpSets++
	return nil
}

func (l *srtpLeg) keys() (srtp.ProtectionProfile, []byte, []byte, int) {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.profile, l.send, l.recv, l.srtpSets
}

// offerMedia builds the Media of an offer with the given crypto lines.
func offerMedia(secure bool, lines ...string) *Media {
	m := &Media{Secure: secure}
	for _, l := range lines {
		c, err := ParseCrypto(l)
		if err != nil {
			if m.CryptoErr == nil {
				m.CryptoErr = err
			}
			continue
		}
		m.Crypto = append(m.Crypto, c)
	}
	return m
}

var (
	line80 = "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30b64
	line32 = "2 AES_CM_128_HMAC_SHA1_32 inline:" + key30b64
)

func TestSRTPAnswerFollowsPolicy(t *testing.T) {
	off := srtpPolicy{mode: SRTPOff}
	opt := srtpPolicy{mode: SRTPOptional}
	mand := srtpPolicy{mode: SRTPMandatory}
	optClear := srtpPolicy{mode: SRTPOptional, clearText: true, blocked: true}
	mandClear := srtpPolicy{mode: SRTPMandatory, clearText: true, blocked: true}
	for _, tc := range []struct {
		name     string
		policy   srtpPolicy
		offer    *Media
		wantTag  int // 0: plain RTP
		wantSAVP bool
		wantErr  error
		errSays  string
	}{
		{"off: plain offer is plain", off, offerMedia(false), 0, false, nil, ""},
		{"off: best-effort crypto in AVP is ignored", off, offerMedia(false, line80), 0, false, nil, ""},
		{"off: SAVP offer is refused", off, offerMedia(true, line80), 0, false, ErrSRTPRefused, "off on this trunk"},
		{"optional: plain offer is plain", opt, offerMedia(false), 0, false, nil, ""},
		{"optional: best-effort AVP with crypto is encrypted", opt, offerMedia(false, line80), 1, false, nil, ""},
		{"optional: SAVP with crypto is encrypted", opt, offerMedia(true, line32), 2, true, nil, ""},
		{"optional: SAVP without crypto is refused", opt, offerMedia(true), 0, false, ErrSRTPRequired, "no a=crypto"},
		{"mandatory: plain offer is refused", mand, offerMedia(false), 0, false, ErrSRTPRequired, "no a=crypto"},
		{"mandatory: first usable line wins", mand, offerMedia(true, "9 F8_128_HMAC_SHA1_80 inline:"+key30b64, line32, line80), 2, true, nil, ""},
		{"mandatory: only MKI lines is refused", mand, offerMedia(true, line80+"|1:4"), 0, false, ErrSRTPRequired, "MKI"},
		{"mandatory: malformed line is reported", mand, offerMedia(true, "1 AES_CM_128_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAA=="), 0, false, ErrSRTPRequired, "key of 16 bytes"},
		{"optional over plain-text SIP: SAVP refused", optClear, offerMedia(true, line80), 0, false, ErrSRTPRefused, "plain-text SIP"},
		{"optional over plain-text SIP: best effort falls back to RTP", optClear, offerMedia(false, line80), 0, false, nil, ""},
		{"mandatory over plain-text SIP: refused", mandClear, offerMedia(true, line80), 0, false, ErrSRTPRequired, "plain-text SIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.policy.answer(tc.offer, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errSays) {
					t.Fatalf("answer: %v, want %v saying %q", err, tc.wantErr, tc.errSays)
				}
				if strings.Contains(err.Error(), key30b64) {
					t.Errorf("error quotes a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("answer: %v", err)
			}
			if tc.wantTag == 0 {
				if r.secure() {
					t.Errorf("got SRTP %v, want plain RTP", *r.local)
				}
				return
			}
			if !r.secure() || r.local.Tag != tc.wantTag || r.remote.Tag != tc.wantTag || r.savp != tc.wantSAVP {
				t.Fatalf("got %+v, want tag %d savp %v", r, tc.wantTag, tc.wantSAVP)
			}
			if r.local.Suite != r.remote.Suite || len(r.local.Key) != 30 || bytes.Equal(r.local.Key, r.remote.Key) {
				t.Errorf("our line %v must echo the suite with a fresh key of our own", *r.local)
			}
		})
	}
}

func TestSRTPAnswerToReofferKeepsOurKeyUnlessSuiteChanges(t *testing.T) {
	p := srtpPolicy{mode: SRTPMandatory}
	first, err := p.answer(offerMedia(true, line80), nil)
	if err != nil {
		t.Fatal(err)
	}
	same, err := p.answer(offerMedia(true, strings.Replace(line80, "1 ", "5 ", 1)), &first)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(same.local.Key, first.local.Key) || same.local.Tag != 5 {
		t.Errorf("re-offer with the same suite: key changed or tag %d not echoed", same.local.Tag)
	}
	changed, err := p.answer(offerMedia(true, line32), &first)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(changed.local.Key, first.local.Key) || changed.local.Suite != SuiteAES128SHA1_32 {
		t.Error("new suite must bring a new key")
	}
}

func TestSRTPAcceptMatchesAnswerToOurOffer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    SRTPMode
		answer  func(offered []Crypto) *Media
		wantTag int
		wantErr error
	}{
		{"answer picks our second line", SRTPMandatory, func(o []Crypto) *Media {
			return offerMedia(true, "2 AES_CM_128_HMAC_SHA1_32 inline:"+key30b64)
		}, 2, nil},
		{"answer with a tag we did not offer", SRTPMandatory, func([]Crypto) *Media {
			return offerMedia(true, "7 AES_CM_128_HMAC_SHA1_80 inline:"+key30b64)
		}, 0, ErrSRTPRequired},
		{"answer changes the suite of a tag", SRTPMandatory, func([]Crypto) *Media {
			return offerMedia(true, "1 AES_CM_128_HMAC_SHA1_32 inline:"+key30b64)
		}, 0, ErrSRTPRequired},
		{"mandatory: plain answer fails", SRTPMandatory, func([]Crypto) *Media { return offerMedia(false) }, 0, ErrSRTPRequired},
		{"optional: plain answer falls back to RTP", SRTPOptional, func([]Crypto) *Media { return offerMedia(false) }, 0, nil},
		{"optional: answer with crypto is encrypted", SRTPOptional, func([]Crypto) *Media { return offerMedia(false, line80) }, 1, nil},
		{"off: SAVP answer to a plain offer fails", SRTPOff, func([]Crypto) *Media { return offerMedia(true, line80) }, 0, ErrSRTPRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := srtpState{policy: srtpPolicy{mode: tc.mode}}
			offered, savp, err := s.offer()
			if err != nil {
				t.Fatal(err)
			}
			if tc.mode.on() && (len(offered) != 2 || savp != (tc.mode == SRTPMandatory)) {
				t.Fatalf("offer: %d lines, savp %v", len(offered), savp)
			}
			r, err := s.accept(tc.answer(offered))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("accept: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			if tc.wantTag == 0 {
				if r.secure() {
					t.Error("want plain RTP")
				}
				return
			}
			if !r.secure() || r.local.Tag != tc.wantTag || !bytes.Equal(r.local.Key, offered[tc.wantTag-1].Key) {
				t.Errorf("got %+v, want our offered line %d", r, tc.wantTag)
			}
		})
	}
}

func TestSRTPOfferWritesAndParsesSDP(t *testing.T) {
	for _, tc := range []struct {
		mode      SRTPMode
		wantProto string
		wantLines int
	}{{SRTPOff, "RTP/AVP", 0}, {SRTPOptional, "RTP/AVP", 2}, {SRTPMandatory, "RTP/SAVP", 2}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			c := &Call{leg: newFakeLeg(30000), sdpb: sdpBuilder{sessionID: 1, userAgent: "t"}, log: testLogger(t)}
			c.srtp.policy = srtpPolicy{mode: tc.mode}
			body := c.offer([]Codec{CodecPCMU})
			if !strings.Contains(string(body), "m=audio 30000 "+tc.wantProto+" ") {
				t.Errorf("offer has no %s m= line:\n%s", tc.wantProto, body)
			}
			m, err := ParseSDP(body)
			if err != nil {
				t.Fatalf("ParseSDP of our offer: %v", err)
			}
			if len(m.Crypto) != tc.wantLines || m.Secure != (tc.mode == SRTPMandatory) {
				t.Fatalf("parsed %d crypto lines, secure %v", len(m.Crypto), m.Secure)
			}
			for i, cr := range m.Crypto {
				if !bytes.Equal(cr.Key, c.srtp.offered[i].Key) || cr.Suite != supportedSuites[i] {
					t.Errorf("line %d: %v does not carry the key we keep", i, cr)
				}
			}
			// Two offers of a new call carry different keys.
			if tc.mode.on() {
				first := c.srtp.offered[0].Key
				c.offer([]Codec{CodecPCMU})
				if bytes.Equal(first, c.srtp.offered[0].Key) {
					t.Error("a fresh offer reused a key")
				}
			}
		})
	}
}

func TestSRTPConfigRefusesKeysOverPlainTextUnlessAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trunk Trunk
		want  string
	}{
		{"mandatory over udp", Trunk{SRTP: SRTPMandatory}, "clear text"},
		{"optional over tcp", Trunk{SRTP: SRTPOptional, Transport: "tcp"}, "clear text"},
		{"allowed explicitly", Trunk{SRTP: SRTPMandatory, AllowSDESWithoutTLS: true}, ""},
		{"over tls", Trunk{SRTP: SRTPMandatory, Transport: "tls"}, ""},
		{"unknown mode", Trunk{SRTP: "always"}, `"always" not one of`},
		{"off over udp", Trunk{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.trunk.Name, tc.trunk.Address = "t", "127.0.0.1:5099"
			_, err := NewUA(Config{Trunks: []Trunk{tc.trunk}, Logger: testLogger(t)})
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("NewUA: %v, want error %q", err, tc.want)
			}
		})
	}
	if _, err := NewUA(Config{SRTP: "sometimes", Logger: testLogger(t)}); err == nil {
		t.Error("bad Config.SRTP accepted")
	}
}

// srtpTLSPair is a TLS pair whose callee answers on SRTP legs with policy
// mode and whose caller's trunk has mode callerMode.
func srtpTLSPair(t *testing.T, calleeMode, callerMode SRTPMode, leg func() MediaLeg) (*UA, <-chan *Call) {
	t.Helper()
	pki := newTestPKI(t)
	h, _, calls := answerAll(t, leg)
	caller, _ := tlsPair(t, pki, Config{SRTP: calleeMode}, Config{}, func(tr *Trunk) { tr.SRTP = callerMode }, h)
	return caller, calls
}

func TestSRTPCallOverTLSCrossesKeysAndKeepsThemOnRefresh(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		calleeMode, callerMode SRTPMode
	}{
		{"both mandatory (RTP/SAVP)", SRTPMandatory, SRTPMandatory},
		{"both optional (best effort RTP/AVP)", SRTPOptional, SRTPOptional},
		{"optional caller, mandatory callee", SRTPMandatory, SRTPOptional},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calleeLeg := newSRTPLeg(31000)
			caller, calls := srtpTLSPair(t, tc.calleeMode, tc.callerMode, func() MediaLeg { return calleeLeg })
			callerLeg := newSRTPLeg(30000)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: callerLeg, RingTimeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			in := <-calls
			if c.SRTP() != SuiteAES128SHA1_80 || in.SRTP() != SuiteAES128SHA1_80 {
				t.Errorf("Call.SRTP: caller %q, callee %q; want %s on both", c.SRTP(), in.SRTP(), SuiteAES128SHA1_80)
			}
			p1, s1, r1, n1 := callerLeg.keys()
			p2, s2, r2, _ := calleeLeg.keys()
			if p1 != srtp.ProtectionProfileAes128CmHmacSha1_80 || p1 != p2 {
				t.Fatalf("profiles %v / %v, want AES_CM_128_HMAC_SHA1_80 on both", p1, p2)
			}
			if len(s1) != 30 || !bytes.Equal(s1, r2) || !bytes.Equal(s2, r1) || bytes.Equal(s1, s2) {
				t.Fatal("keys not crossed: caller's send key must be callee's receive key and vice versa, and differ")
			}
			// A session refresh re-offers the same key: nothing changes.
			c.refresh()
			in.refresh()
			_, s1b, r1b, n1b := callerLeg.keys()
			_, s2b, r2b, _ := calleeLeg.keys()
			if !bytes.Equal(s1b, s1) || !bytes.Equal(r1b, r1) || !bytes.Equal(s2b, s2) || !bytes.Equal(r2b, r2) {
				t.Error("a session refresh changed the keys")
			}
			if n1b != n1 {
				t.Errorf("refresh set the caller's keys again (%d → %d sets)", n1, n1b)
			}
			_ = c.Hangup(ctx)
		})
	}
}

func TestSRTPMandatoryRefusesPlainCalls(t *testing.T) {
	t.Run("callee mandatory, caller plain: 488", func(t *testing.T) {
		caller, _ := srtpTLSPair(t, SRTPMandatory, SRTPOff, func() MediaLeg { return newSRTPLeg(31000) })
		_, err := caller.Dial(context.Background(), DialRequest{Trunk: "callee", To: "100", Media: newSRTPLeg(30000), RingTimeout: 5 * time.Second})
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != 488 {
			t.Fatalf("Dial: %v, want 488", err)
		}
	})
	t.Run("caller mandatory, callee off: 488", func(t *testing.T) {
		caller, _ := srtpTLSPair(t, SRTPOff, SRTPMandatory, func() MediaLeg { return newSRTPLeg(31000) })
		_, err := caller.Dial(context.Background(), DialRequest{Trunk: "callee", To: "100", Media: newSRTPLeg(30000), RingTimeout: 5 * time.Second})
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != 488 {
			t.Fatalf("Dial: %v, want 488", err)
		}
	})
	t.Run("mandatory callee whose leg cannot do SRTP: 488", func(t *testing.T) {
		caller, _ := srtpTLSPair(t, SRTPMandatory, SRTPMandatory, func() MediaLeg { return newFakeLeg(31000) })
		_, err := caller.Dial(context.Background(), DialRequest{Trunk: "callee", To: "100", Media: newSRTPLeg(30000), RingTimeout: 5 * time.Second})
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != 488 {
			t.Fatalf("Dial: %v, want 488", err)
		}
	})
	t.Run("mandatory inbound over plain UDP without the allowance: 488", func(t *testing.T) {
		h, _, _ := answerAll(t, func() MediaLeg { return newSRTPLeg(31000) })
		caller, _ := pair(t, Config{SRTP: SRTPMandatory}, Config{}, h)
		_, err := caller.Dial(context.Background(), DialRequest{Trunk: "callee", To: "100", Media: newSRTPLeg(30000), RingTimeout: 5 * time.Second})
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != 488 {
			t.Fatalf("Dial: %v, want 488", err)
		}
	})
}

func TestSRTPOverUDPWhenExplicitlyAllowed(t *testing.T) {
	calleeLeg := newSRTPLeg(31000)
	h, _, calls := answerAll(t, func() MediaLeg { return calleeLeg })
	callee := startUAWith(t, Config{SRTP: SRTPMandatory, AllowSDESWithoutTLS: true, Logger: testLogger(t)}, h)
	caller := startUA(t, Config{Trunks: []Trunk{{Name: "callee", Address: callee.Addr("udp").String(), Username: "w",
		SRTP: SRTPMandatory, AllowSDESWithoutTLS: true}}})
	callerLeg := newSRTPLeg(30000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: callerLeg, RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	<-calls
	_, s1, _, _ := callerLeg.keys()
	_, _, r2, _ := calleeLeg.keys()
	if len(s1) != 30 || !bytes.Equal(s1, r2) {
		t.Error("keys not exchanged over UDP although allowed")
	}
	_ = c.Hangup(ctx)
}

// savpOffer is an RTP/SAVP offer carrying the given a=crypto values.
func savpOffer(version int, port int, crypto ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/SAVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", version, port)
	for _, c := range crypto {
		b.WriteString("a=crypto:" + c + "\r\n")
	}
	b.WriteString("a=sendrecv\r\n")
	return b.String()
}

func TestSRTPReinviteKeepsOrChangesKeys(t *testing.T) {
	calleeLeg := newSRTPLeg(31000)
	caller, calls := srtpTLSPair(t, SRTPMandatory, SRTPMandatory, func() MediaLeg { return calleeLeg })
	callerLeg := newSRTPLeg(30000)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: callerLeg, RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	remote := <-calls
	_, calleeSend, _, _ := calleeLeg.keys()
	_, ourSend, _, sets := callerLeg.keys()
	newKey, err := newCrypto(1, SuiteAES128SHA1_80)
	if err != nil {
		t.Fatal(err)
	}
	key32, err := newCrypto(3, SuiteAES128SHA1_32)
	if err != nil {
		t.Fatal(err)
	}
	line := func(c Crypto) string { return c.Marshal() }
	steps := []struct {
		name        string
		offer       string
		wantCode    int
		wantProfile srtp.ProtectionProfile
		wantRecv    []byte
		wantNewSend bool
		wantSet     bool
	}{
		{"same key again keeps both contexts", savpOffer(2, 31000, line(Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: calleeSend})),
			200, srtp.ProtectionProfileAes128CmHmacSha1_80, calleeSend, false, false},
		{"peer re-keys: new receive key, our key kept", savpOffer(3, 31000, line(newKey)),
			200, srtp.ProtectionProfileAes128CmHmacSha1_80, newKey.Key, false, true},
		{"new suite: both keys new", savpOffer(4, 31000, line(key32)),
			200, srtp.ProtectionProfileAes128CmHmacSha1_32, key32.Key, true, true},
		{"plain re-offer on a mandatory call is refused", offerSDP(5, "127.0.0.1", 31000, "sendrecv"),
			488, srtp.ProtectionProfileAes128CmHmacSha1_32, key32.Key, false, false},
	}
	prevSend := ourSend
	for _, st := range steps {
		res := reinvite(t, remote, st.offer)
		if res.StatusCode != st.wantCode {
			t.Fatalf("%s: re-INVITE got %d, want %d", st.name, res.StatusCode, st.wantCode)
		}
		p, send, recv, n := callerLeg.keys()
		if p != st.wantProfile || !bytes.Equal(recv, st.wantRecv) {
			t.Errorf("%s: leg has %v, receive key changed=%v; want %v and the offered key", st.name, p, !bytes.Equal(recv, st.wantRecv), st.wantProfile)
		}
		if newSend := !bytes.Equal(send, prevSend); newSend != st.wantNewSend {
			t.Errorf("%s: our send key changed=%v, want %v", st.name, newSend, st.wantNewSend)
		}
		if set := n != sets; set != st.wantSet {
			t.Errorf("%s: SetSRTP called=%v, want %v", st.name, set, st.wantSet)
		}
		if st.wantCode == 200 {
			m, err := ParseSDP(res.Body())
			if err != nil || len(m.Crypto) != 1 || !bytes.Equal(m.Crypto[0].Key, send) || !m.Secure {
				t.Errorf("%s: answer does not carry our send key in RTP/SAVP (err %v)", st.name, err)
			}
		}
		prevSend, sets = send, n
	}
}

func TestSRTPOffCallReportsPlainMedia(t *testing.T) {
	caller, calls := srtpTLSPair(t, SRTPOff, SRTPOff, func() MediaLeg { return newSRTPLeg(31000) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg := newSRTPLeg(30000)
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: leg, RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Hangup(ctx)
	in := <-calls
	if c.SRTP() != "" || in.SRTP() != "" {
		t.Errorf("Call.SRTP %q / %q on a plain call", c.SRTP(), in.SRTP())
	}
	if p, _, _, _ := leg.keys(); p != 0 {
		t.Errorf("plain call gave the leg profile %v", p)
	}
}

func TestSRTPMandatoryDelayedOfferOverPlainTextIsRefused(t *testing.T) {
	answered := make(chan error, 1)
	callee := startUAWith(t, Config{SRTP: SRTPMandatory}, func(ctx context.Context, in *Incoming) {
		_, err := in.Answer(ctx, newSRTPLeg(40000))
		answered <- err
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, _ = pc.WriteTo([]byte(rawInvite(pc.LocalAddr().String(), "")), net.UDPAddrFromAddrPort(callee.Addr("udp")))
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 8192)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no final response: %v", err)
		}
		msg, err := sipgosip.ParseMessage(buf[:n])
		res, isRes := msg.(*sipgosip.Response)
		if err != nil || !isRes || res.StatusCode < 200 {
			continue
		}
		if res.StatusCode != 488 {
			t.Fatalf("offerless INVITE over UDP to a mandatory-SRTP UA got %d, want 488", res.StatusCode)
		}
		if strings.Contains(string(res.Body()), "crypto") {
			t.Error("keys sent over UDP anyway")
		}
		break
	}
	if err := <-answered; !errors.Is(err, ErrSRTPRequired) {
		t.Errorf("Answer: %v, want ErrSRTPRequired", err)
	}
}

func TestSRTPKeysNeverReachTheLogs(t *testing.T) {
	var calleeLog, callerLog lockedBuffer
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	calleeLeg := newSRTPLeg(31000)
	pki := newTestPKI(t)
	h, _, calls := answerAll(t, func() MediaLeg { return calleeLeg })
	caller, _ := tlsPair(t, pki, Config{SRTP: SRTPMandatory, Logger: slog.New(slog.NewTextHandler(&calleeLog, debug))},
		Config{Logger: slog.New(slog.NewTextHandler(&callerLog, debug))}, func(tr *Trunk) { tr.SRTP = SRTPMandatory }, h)
	callerLeg := newSRTPLeg(30000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: callerLeg, RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	remote := <-calls
	c.refresh()
	_ = remote.Hangup(ctx)
	waitDone(t, c, 5*time.Second)
	_, k1, _, _ := callerLeg.keys()
	_, k2, _, _ := calleeLeg.keys()
	logs := callerLog.String() + calleeLog.String()
	if !strings.Contains(logs, "srtp negotiated") {
		t.Fatalf("no srtp log line at all:\n%s", logs)
	}
	for _, k := range [][]byte{k1, k2} {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k), fmt.Sprintf("%x", k)} {
			if strings.Contains(logs, enc) {
				t.Fatalf("a key reached the logs")
			}
		}
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
