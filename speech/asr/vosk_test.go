package asr

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
	"go.uber.org/goleak"
)

func TestVoskStreamsPartialsThenFinalsPerUtterance(t *testing.T) {
	url := startFakeVosk(t, "")
	// The stream's reader goroutines must be gone after Close; the test
	// server's own goroutines predate this point.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	v, err := NewVosk(VoskConfig{URL: url, ResultTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := v.NewStream(bg, speech.StreamOptions{Language: "en-US", CallID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := writeAudio(t, s, 1.0, true); err != nil {
		t.Fatal(err)
	}
	if err := s.EndUtterance(); err != nil {
		t.Fatal(err)
	}
	partials, final := collect(t, s, 2*time.Second)
	if final == nil || final.Text != "one two three four five" || final.Confidence != 0.9 || final.Start != 0 || final.End != time.Second {
		t.Fatalf("first final %s, want \"one two three four five\" conf 0.90 [0s, 1s]", fmtResult(final))
	}
	if len(partials) < 3 || partials[0] != "one" || partials[len(partials)-1] != "one two three four five" {
		t.Errorf("partials %q: want growing partials from \"one\" to \"one two three four five\"", partials)
	}
	// The second utterance runs in a new server session; its times still
	// count from the start of the call's stream.
	if err := writeAudio(t, s, 0.4, true); err != nil {
		t.Fatal(err)
	}
	if err := s.EndUtterance(); err != nil {
		t.Fatal(err)
	}
	_, final = collect(t, s, 2*time.Second)
	if final == nil || final.Text != "one two" || final.Start != time.Second || final.End != 1400*time.Millisecond {
		t.Fatalf("second final %s, want \"one two\" [1s, 1.4s]", fmtResult(final))
	}
	// Nothing said since: an empty final, without a server round trip.
	if err := s.EndUtterance(); err != nil {
		t.Fatal(err)
	}
	if _, final = collect(t, s, time.Second); final == nil || final.Text != "" {
		t.Fatalf("empty utterance gave %s", fmtResult(final))
	}
	s.Close()
	if _, ok := <-s.Results(); ok {
		t.Error("Results not closed after Close")
	}
	if err := s.Write(make([]int16, 160)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestVoskPassesOnServerEndpoints(t *testing.T) {
	v, _ := NewVosk(VoskConfig{URL: startFakeVosk(t, "")})
	s, err := v.NewStream(bg, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAudio(t, s, 0.6, true)
	writeAudio(t, s, 0.6, false)
	if _, final := collect(t, s, 2*time.Second); final == nil || final.Text != "one two three" {
		t.Fatalf("server end-point gave %s, want \"one two three\"", fmtResult(final))
	}
}

func TestVoskFailuresAreTypedErrors(t *testing.T) {
	tests := []struct {
		name, mode string
		url        string
		at         string // where the error shows: "open", "write" or "end"
		want       error
	}{
		{"nothing listening", "", "ws://127.0.0.1:1", "open", ErrUnreachable},
		{"server refuses the upgrade", "reject", "", "open", ErrServer},
		{"server dies mid-utterance", "drop", "", "write", ErrServer},
		{"no final after eof", "mute", "", "end", ErrTimeout},
		{"malformed JSON", "garbage", "", "write", ErrServer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = startFakeVosk(t, tc.mode)
			}
			v, _ := NewVosk(VoskConfig{URL: url, ResultTimeout: 300 * time.Millisecond, FramesPerMessage: 1})
			s, err := v.NewStream(bg, speech.StreamOptions{CallID: "c9"})
			if tc.at == "open" {
				if !errors.Is(err, tc.want) {
					t.Fatalf("NewStream: %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = writeAudio(t, s, 0.5, true)
			if tc.at == "write" {
				if err == nil {
					err = s.EndUtterance()
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("Write/EndUtterance: %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.EndUtterance(); !errors.Is(err, tc.want) {
				t.Fatalf("EndUtterance: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewVosk(VoskConfig{}); !errors.Is(err, speech.ErrEngineUnavailable) {
		t.Errorf("no URL: %v", err)
	}
}

func TestVoskDoesNotRedialOnEveryFrame(t *testing.T) {
	srv := httptest.NewServer(&fakeVosk{})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	v, _ := NewVosk(VoskConfig{URL: url, RedialBackoff: time.Hour})
	s, err := v.NewStream(bg, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAudio(t, s, 0.2, true)
	if err := s.EndUtterance(); err != nil {
		t.Fatal(err)
	}
	srv.Close() // the server goes away between utterances
	start := time.Now()
	var errs int
	for i := 0; i < 50; i++ {
		if err := s.Write(make([]int16, speech.FrameSamples)); errors.Is(err, ErrUnreachable) {
			errs++
		}
	}
	if errs != 50 {
		t.Errorf("%d of 50 writes reported the unreachable server", errs)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("50 writes took %v: redialling every frame", d)
	}
}
