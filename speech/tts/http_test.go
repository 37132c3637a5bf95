package tts

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

// speechServer speaks OpenAI's POST /v1/audio/speech: JSON in, audio out,
// 0.6 s of tone per request, in the response_format asked for.
func speechServer(t *testing.T, check func(r *http.Request, req speechRequest)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/speech" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var req speechRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Input == "" {
			http.Error(w, `{"error":{"message":"input is required"}}`, http.StatusBadRequest)
			return
		}
		if check != nil {
			check(r, req)
		}
		switch req.ResponseFormat {
		case "wav":
			w.Header().Set("Content-Type", "audio/wav")
			w.Write(wavStreamHeader(16000, 2))
			mono := tonePCM(16000, 0.6, 440)
			stereo := make([]byte, 0, 2*len(mono))
			for i := 0; i < len(mono); i += 2 {
				stereo = append(stereo, mono[i], mono[i+1], mono[i], mono[i+1])
			}
			w.Write(stereo)
		case "pcm":
			w.Header().Set("Content-Type", "audio/pcm")
			w.Write(tonePCM(24000, 0.6, 440))
		default:
			http.Error(w, "unsupported response_format", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPSpeaksWAVAndPCMResponses(t *testing.T) {
	for _, format := range []string{"wav", "pcm"} {
		t.Run(format, func(t *testing.T) {
			var got speechRequest
			var auth string
			srv := speechServer(t, func(r *http.Request, req speechRequest) {
				got, auth = req, r.Header.Get("Authorization")
			})
			h, err := NewHTTP(HTTPConfig{URL: srv.URL, APIKey: "k", Model: "kokoro", Format: format})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			s, err := h.Synthesize(bg, "您好", speech.SynthOptions{Voice: "zf_xiaobei"})
			if err != nil {
				t.Fatal(err)
			}
			pcm, first := readStream(t, s, start)
			t.Logf("http %s: first frame after %v", format, first)
			if got.Model != "kokoro" || got.Input != "您好" || got.Voice != "zf_xiaobei" || got.ResponseFormat != format || auth != "Bearer k" {
				t.Errorf("request %+v auth %q", got, auth)
			}
			// 0.6 s at 8 kHz is 4800 samples, 30 frames, give or take the
			// resampler's delay.
			if len(pcm) < 4640 || len(pcm) > 4960 {
				t.Errorf("%d samples, want about 4800", len(pcm))
			}
			if r := rms(pcm[800:4000]); r < 4000 || r > 7000 {
				t.Errorf("rms %.0f, want about 5657 for a 8000-peak tone", r)
			}
		})
	}
}

func TestHTTPErrorsAreTyped(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release) // before slow.Close, which waits for handlers
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>not audio</html>"))
	}))
	defer bad.Close()
	tests := []struct {
		name   string
		cfg    HTTPConfig
		text   string
		is     error
		atRead bool
	}{
		{"server rejects input", HTTPConfig{URL: speechServer(t, nil).URL}, "", ErrServer, false},
		{"no answer in time", HTTPConfig{URL: slow.URL, Timeout: 100 * time.Millisecond}, "hi", ErrTimeout, false},
		{"not a WAV", HTTPConfig{URL: bad.URL}, "hi", ErrFormat, true},
		{"no server", HTTPConfig{URL: "http://127.0.0.1:1"}, "hi", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHTTP(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			s, err := h.Synthesize(bg, tc.text, speech.SynthOptions{CallID: "c1"})
			if tc.atRead {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				err = s.Read(make([]int16, speech.FrameSamples))
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
			if !tc.atRead && !strings.Contains(err.Error(), "c1") {
				t.Errorf("error %q does not name the call", err)
			}
		})
	}
	if _, err := NewHTTP(HTTPConfig{}); !errors.Is(err, speech.ErrEngineUnavailable) {
		t.Errorf("no URL: %v", err)
	}
}

func TestHTTPCloseAbortsTheRequest(t *testing.T) {
	aborted := make(chan struct{})
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write(wavStreamHeader(8000, 1))
		w.Write(tonePCM(8000, 0.1, 300))
		w.(http.Flusher).Flush()
		select { // a long sentence still being generated
		case <-r.Context().Done():
			close(aborted)
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	h, err := NewHTTP(HTTPConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.Synthesize(bg, "a very long sentence", speech.SynthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Read(make([]int16, speech.FrameSamples)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-aborted:
	case <-time.After(2 * time.Second):
		t.Fatal("server still sending 2 s after Close")
	}
}

func BenchmarkFirstFrameHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(wavStreamHeader(24000, 1))
		w.Write(tonePCM(24000, 2, 440))
	}))
	defer srv.Close()
	h, err := NewHTTP(HTTPConfig{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, speech.FrameSamples)
	for b.Loop() {
		s, err := h.Synthesize(bg, "hello", speech.SynthOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Read(frame); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
