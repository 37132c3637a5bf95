package sip

import (
	"errors"
	"testing"
)

func TestIsWebRTCOfferTellsDTLSSRTPFromPlainRTP(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	const fp = "a=fingerprint:sha-256 00:11\r\n"
	tests := []struct {
		name string
		sdp  string
		want bool
	}{
		{"chromium offer", chromeOffer, true},
		{"session-level fingerprint", head + fp + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n", true},
		{"plain RTP/AVP", head + "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n", false},
		{"SDES-keyed SAVP without fingerprint", head + "m=audio 4000 RTP/SAVP 0\r\nc=IN IP4 127.0.0.1\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n", false},
		{"disabled audio", head + fp + "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n", false},
		{"video only", head + fp + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", false},
		{"empty", "", false},
		{"garbage", "hello\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsWebRTCOffer([]byte(tt.sdp)); got != tt.want {
				t.Errorf("IsWebRTCOffer = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAnswerCodecReadsTheFirstAudioFormat(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name    string
		sdp     string
		want    Codec
		wantErr error
	}{
		{"PCMU", fakeAnswer, CodecPCMU, nil},
		{"PCMA", head + "m=audio 9 UDP/TLS/RTP/SAVPF 8\r\n", CodecPCMA, nil},
		{"Opus", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", Codec{}, ErrNoCommonCodec},
		{"no audio", head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", Codec{}, ErrNoAudio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := answerCodec([]byte(tt.sdp))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("codec = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := answerCodec([]byte("garbage")); err == nil {
		t.Error("answerCodec accepted garbage")
	}
}

func FuzzIsWebRTCOffer(f *testing.F) {
	f.Add([]byte(chromeOffer))
	f.Add([]byte(fakeAnswer))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = IsWebRTCOffer(b)
		_, _ = answerCodec(b)
	})
}
