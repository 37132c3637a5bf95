package asr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
	"go.uber.org/goleak"
)

// transcriptionServer speaks OpenAI's POST /v1/audio/transcriptions: a
// multipart form with file (a WAV) and model; it answers {"text": …}
// describing what it received, so tests can check the upload.
func transcriptionServer(t *testing.T, mode string) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.URL.Path != "/v1/audio/transcriptions" && r.URL.Path != "/inference") || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		switch mode {
		case "error":
			http.Error(w, `{"error":{"message":"model is loading"}}`, http.StatusServiceUnavailable)
			return
		case "slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		case "garbage":
			w.Write([]byte("<html>oops</html>"))
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil || r.FormValue("model") == "" {
			http.Error(w, "file and model are required", http.StatusBadRequest)
			return
		}
		wav, _ := io.ReadAll(f)
		if len(wav) < 44 || string(wav[0:4]) != "RIFF" || string(wav[8:12]) != "WAVE" {
			http.Error(w, "not a WAV", http.StatusBadRequest)
			return
		}
		rate := binary.LittleEndian.Uint32(wav[24:])
		ch := binary.LittleEndian.Uint16(wav[22:])
		n := binary.LittleEndian.Uint32(wav[40:]) / 2
		fmt.Fprintf(w, `{"text": " %d Hz %d ch %.1f s model %s lang %s prompt %s "}`, rate, ch, float64(n)/float64(rate),
			r.FormValue("model"), r.FormValue("language"), r.FormValue("prompt"))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

func TestTranscribePostsEachUtteranceAsWAV(t *testing.T) {
	tests := []struct {
		name string
		rate int
		want string
	}{
		{"resampled to whisper's 16 kHz", 0, "16000 Hz 1 ch 1.0 s model whisper-1 lang zh prompt 还款, 逾期"},
		{"sent at 8 kHz", 8000, "8000 Hz 1 ch 1.0 s model whisper-1 lang zh prompt 还款, 逾期"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTranscribe(TranscribeConfig{URL: transcriptionServer(t, ""), SampleRate: tc.rate})
			if err != nil {
				t.Fatal(err)
			}
			s, err := tr.NewStream(bg, speech.StreamOptions{Language: "zh-CN", Phrases: []string{"还款", "逾期"}, CallID: "c1"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writeAudio(t, s, 0.5, false)
			if err := s.EndUtterance(); err != nil {
				t.Fatal(err)
			}
			_, first := collect(t, s, time.Second)
			if first == nil || first.Start != 0 || first.End != 500*time.Millisecond {
				t.Fatalf("first final %s", fmtResult(first))
			}
			writeAudio(t, s, 1.0, true)
			if err := s.EndUtterance(); err != nil {
				t.Fatal(err)
			}
			_, final := collect(t, s, time.Second)
			if final == nil || final.Text != tc.want || final.Start != 500*time.Millisecond || final.End != 1500*time.Millisecond {
				t.Fatalf("final %s, want %q [0.5s, 1.5s]", fmtResult(final), tc.want)
			}
			// No audio: an empty final without a request.
			if err := s.EndUtterance(); err != nil {
				t.Fatal(err)
			}
			if _, final = collect(t, s, time.Second); final == nil || final.Text != "" {
				t.Fatalf("empty utterance: %s", fmtResult(final))
			}
		})
	}
}

func TestTranscribeUsesAnAddressWithAPathAsGiven(t *testing.T) {
	// whisper.cpp's server answers the same form on /inference.
	tr, err := NewTranscribe(TranscribeConfig{URL: transcriptionServer(t, "") + "/inference"})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := tr.NewStream(bg, speech.StreamOptions{})
	defer s.Close()
	writeAudio(t, s, 0.2, true)
	if err := s.EndUtterance(); err != nil {
		t.Fatalf("POST to /inference: %v", err)
	}
	for _, bad := range []string{"ftp://x", "127.0.0.1:8080", "http://"} {
		if _, err := NewTranscribe(TranscribeConfig{URL: bad}); err == nil {
			t.Errorf("url %q accepted", bad)
		}
	}
}

func TestTranscribeFailuresAreTypedErrors(t *testing.T) {
	tests := []struct {
		name, mode, url string
		want            error
	}{
		{"server error", "error", "", ErrServer},
		{"no answer in time", "slow", "", ErrTimeout},
		{"not JSON", "garbage", "", ErrServer},
		{"nothing listening", "", "http://127.0.0.1:1", ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = transcriptionServer(t, tc.mode)
			}
			tr, _ := NewTranscribe(TranscribeConfig{URL: url, Timeout: 200 * time.Millisecond})
			s, _ := tr.NewStream(bg, speech.StreamOptions{CallID: "c7"})
			defer s.Close()
			writeAudio(t, s, 0.2, true)
			if err := s.EndUtterance(); !errors.Is(err, tc.want) {
				t.Fatalf("EndUtterance: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTranscribeCloseAbortsAndClosesResults(t *testing.T) {
	tr, _ := NewTranscribe(TranscribeConfig{URL: transcriptionServer(t, "slow"), Timeout: 5 * time.Second,
		Client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	// The test server's connection goroutine notices the abort on its own
	// schedule; only the client side must be gone.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("net/http.(*conn).serve"))
	s, _ := tr.NewStream(bg, speech.StreamOptions{})
	writeAudio(t, s, 0.2, true)
	done := make(chan error, 1)
	go func() { done <- s.EndUtterance() }()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("EndUtterance during Close: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("request not aborted by Close")
	}
	if _, ok := <-s.Results(); ok {
		t.Error("Results not closed")
	}
}
