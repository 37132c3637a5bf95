package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseSDP(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Media
		wantErr error
	}{
		{
			name: "session level connection and telephone-event",
			body: "v=0\r\no=- 10 20 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:20\r\n",
			want: Media{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), PayloadTypes: []uint8{8, 0, 96}, DTMFPayloadType: 96, PtimeMs: 20, Direction: SendRecv, SessionVersion: 20},
		},
		{
			name: "media level connection wins and direction",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendrecv\r\nm=audio 5000 RTP/AVP 0\r\nc=IN IP4 198.51.100.7\r\na=sendonly\r\n",
			want: Media{Addr: netip.MustParseAddrPort("198.51.100.7:5000"), PayloadTypes: []uint8{0}, Direction: SendOnly, SessionVersion: 1},
		},
		{
			name: "session level direction",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=inactive\r\nm=audio 5000 RTP/AVP 0\r\n",
			want: Media{Addr: netip.MustParseAddrPort("192.0.2.1:5000"), PayloadTypes: []uint8{0}, Direction: Inactive, SessionVersion: 1},
		},
		{
			name: "skips disabled and video streams",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 6000 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\nm=audio 7000 RTP/AVP 8\r\n",
			want: Media{Addr: netip.MustParseAddrPort("192.0.2.1:7000"), PayloadTypes: []uint8{8}, Direction: SendRecv, SessionVersion: 1},
		},
		{
			name: "ipv6",
			body: "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n",
			want: Media{Addr: netip.MustParseAddrPort("[2001:db8::1]:7000"), PayloadTypes: []uint8{0}, Direction: SendRecv, SessionVersion: 1},
		},
		{name: "no audio", body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 6000 RTP/AVP 96\r\n", wantErr: ErrNoAudio},
		{name: "no connection", body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n", wantErr: ErrNoConnection},
		{name: "garbage", body: "hello world", wantErr: errAny},
		{name: "hostname connection", body: "v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 host.example\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n", wantErr: errAny},
		{name: "non numeric format", body: "v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP abc\r\n", wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseSDP([]byte(tt.body))
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSDP: %v", err)
			}
			if m.Addr != tt.want.Addr || m.DTMFPayloadType != tt.want.DTMFPayloadType || m.PtimeMs != tt.want.PtimeMs ||
				m.Direction != tt.want.Direction || m.SessionVersion != tt.want.SessionVersion || !equalPTs(m.PayloadTypes, tt.want.PayloadTypes) {
				t.Errorf("got %+v\nwant %+v", *m, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func equalPTs(a, b []uint8) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNegotiateTakesFirstCommonCodecInOurOrder(t *testing.T) {
	tests := []struct {
		name    string
		offered []uint8
		rtpmap  map[uint8]string
		prefs   []Codec
		want    Codec
		wantErr bool
	}{
		{"our order wins", []uint8{8, 0}, nil, []Codec{CodecPCMU, CodecPCMA}, CodecPCMU, false},
		{"only pcma offered", []uint8{8, 101}, nil, []Codec{CodecPCMU, CodecPCMA}, CodecPCMA, false},
		{"nothing common", []uint8{18, 9}, nil, []Codec{CodecPCMU, CodecPCMA}, Codec{}, true},
		{"rtpmap must agree with static type", []uint8{0}, map[uint8]string{0: "G729/8000"}, []Codec{CodecPCMU}, Codec{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Media{PayloadTypes: tt.offered, RTPMap: tt.rtpmap}
			got, err := m.Negotiate(tt.prefs)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %v, %v; want %v, err=%v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoCommonCodec) {
				t.Errorf("error %v is not ErrNoCommonCodec", err)
			}
		})
	}
}

func TestBuiltOfferRoundTripsAndBumpsVersion(t *testing.T) {
	b := sdpBuilder{sessionID: 42, userAgent: "waihu"}
	p := sdpParams{addr: netip.MustParseAddrPort("192.0.2.9:30000"), codecs: []Codec{CodecPCMU, CodecPCMA}, dtmfPT: 101, direction: SendRecv}
	first := b.build(p)
	second := b.build(p)
	for _, want := range []string{"m=audio 30000 RTP/AVP 0 8 101", "c=IN IP4 192.0.2.9", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"} {
		if !strings.Contains(string(first), want) {
			t.Errorf("offer lacks %q:\n%s", want, first)
		}
	}
	m1, err := ParseSDP(first)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ParseSDP(second)
	if err != nil {
		t.Fatal(err)
	}
	if m2.SessionVersion != m1.SessionVersion+1 {
		t.Errorf("versions %d then %d", m1.SessionVersion, m2.SessionVersion)
	}
	if m1.Addr != p.addr || m1.DTMFPayloadType != 101 || !equalPTs(m1.PayloadTypes, []uint8{0, 8, 101}) {
		t.Errorf("round trip: %+v", m1)
	}
}

func TestMediaOnHold(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:4000")
	z := netip.MustParseAddrPort("0.0.0.0:4000")
	tests := []struct {
		m    Media
		want bool
	}{
		{Media{Addr: a, Direction: SendRecv}, false},
		{Media{Addr: a, Direction: RecvOnly}, false},
		{Media{Addr: a, Direction: SendOnly}, true},
		{Media{Addr: a, Direction: Inactive}, true},
		{Media{Addr: z, Direction: SendRecv}, true},
	}
	for _, tt := range tests {
		if got := tt.m.OnHold(); got != tt.want {
			t.Errorf("%v %s: OnHold %v, want %v", tt.m.Addr, tt.m.Direction, got, tt.want)
		}
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n"))
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 65536 RTP/AVP 127\r\na=rtpmap:127\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n" +
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:x\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseSDP(body)
		if err != nil {
			return
		}
		_ = m.OnHold()
		_, _ = m.Negotiate([]Codec{CodecPCMU, CodecPCMA})
		// SRTP negotiation takes whatever a=crypto the parser let through.
		for _, mode := range []SRTPMode{SRTPOff, SRTPOptional, SRTPMandatory} {
			if r, err := (srtpPolicy{mode: mode}).answer(m, nil); err == nil && r.secure() && r.local.usable() != nil {
				t.Fatalf("answered with an unusable line %v", *r.local)
			}
		}
		if !m.Addr.Addr().IsValid() {
			t.Fatalf("parsed media without address: %+v", m)
		}
	})
}
