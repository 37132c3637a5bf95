package tts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/waihu/waihu/speech"
)

// ErrServer is wrapped by errors from a TTS server that answered with an
// error status; the message carries the status and the start of the body.
var ErrServer = errors.New("tts server error")

// ErrTimeout is wrapped when a TTS server did not start answering within
// HTTPConfig.Timeout.
var ErrTimeout = errors.New("tts server timed out")

// HTTPConfig configures the HTTP engine. Only URL is required.
type HTTPConfig struct {
	// URL is the server's base address ("http://127.0.0.1:8880"), to which
	// /v1/audio/speech is appended, or an address with a path, used as given.
	URL string
	// APIKey, when set, is sent as a Bearer token.
	APIKey string
	// Model is sent as "model"; empty means "tts-1".
	Model string
	// Voice is the default voice; empty means "alloy".
	Voice string
	// Format is "wav" (any PCM rate in the header) or "pcm" (raw 16-bit
	// little-endian mono at PCMRate); empty means "wav".
	Format string
	// PCMRate is the rate of "pcm" responses; 0 means 24000, OpenAI's.
	PCMRate int
	// Timeout bounds the wait for the response headers, not the audio,
	// which streams for as long as the sentence lasts; 0 means 10 s.
	Timeout time.Duration
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
}

// HTTP speaks through an OpenAI-compatible POST /v1/audio/speech server.
type HTTP struct {
	cfg      HTTPConfig
	endpoint string
}

var _ speech.Synthesizer = (*HTTP)(nil)

// NewHTTP checks the configuration; it does not contact the server.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if cfg.URL == "" {
		return nil, &speech.UnavailableError{Missing: "no server URL configured", Install: "set url to an OpenAI-compatible TTS server, e.g. http://127.0.0.1:8880"}
	}
	if cfg.Model == "" {
		cfg.Model = "tts-1"
	}
	if cfg.Voice == "" {
		cfg.Voice = "alloy"
	}
	if cfg.Format == "" {
		cfg.Format = "wav"
	}
	if cfg.Format != "wav" && cfg.Format != "pcm" {
		return nil, fmt.Errorf("tts http format %q: %w: use wav or pcm", cfg.Format, ErrFormat)
	}
	if cfg.PCMRate == 0 {
		cfg.PCMRate = 24000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tts server url %q: want http://HOST:PORT[/PATH]", cfg.URL)
	}
	// A bare address gets OpenAI's path; one with a path is used as given.
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/audio/speech"
	}
	return &HTTP{cfg: cfg, endpoint: u.String()}, nil
}

type speechRequest struct {
	Model          string `json:"model"`
	Input          string `json:"input"`
	Voice          string `json:"voice"`
	ResponseFormat string `json:"response_format"`
}

// Synthesize posts text and returns the audio as it streams back.
func (h *HTTP) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	s, err := h.synthesize(ctx, text, opts)
	if err != nil {
		return nil, err
	}
	return trimLeadingSilence(s), nil
}

func (h *HTTP) synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	voice := h.cfg.Voice
	if opts.Voice != "" {
		voice = opts.Voice
	}
	body, err := json.Marshal(speechRequest{Model: h.cfg.Model, Input: text, Voice: voice, ResponseFormat: h.cfg.Format})
	if err != nil {
		return nil, fmt.Errorf("encode tts request: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tts request to %s: %w", h.endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.APIKey)
	}
	// The timer bounds only the wait for headers; once audio streams, the
	// sentence may take as long as it takes.
	timer := time.AfterFunc(h.cfg.Timeout, cancel)
	resp, err := h.cfg.Client.Do(req)
	stopped := timer.Stop()
	if err != nil {
		cancel()
		if !stopped && ctx.Err() != nil {
			return nil, fmt.Errorf("tts POST %s for call %s: %w after %v", h.endpoint, opts.CallID, ErrTimeout, h.cfg.Timeout)
		}
		return nil, fmt.Errorf("tts POST %s for call %s: %w", h.endpoint, opts.CallID, err)
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("tts POST %s for call %s: %w: %s: %s", h.endpoint, opts.CallID, ErrServer, resp.Status, bytes.TrimSpace(msg))
	}
	s := &httpStream{body: resp.Body, cancel: cancel, endpoint: h.endpoint}
	if h.cfg.Format == "pcm" {
		s.raw = &pcmFormat{rate: h.cfg.PCMRate, channels: 1}
	}
	return s, nil
}

// httpStream reads a response body of audio; Close aborts the request.
type httpStream struct {
	body     io.ReadCloser
	cancel   context.CancelFunc
	raw      *pcmFormat
	fr       *frameReader
	endpoint string
	closed   bool
}

// Read implements speech.AudioStream.
func (s *httpStream) Read(dst []int16) error {
	if s.closed {
		return ErrClosed
	}
	if s.fr == nil {
		f := pcmFormat{}
		if s.raw != nil {
			f = *s.raw
		} else {
			var err error
			if f, err = readWAVHeader(s.body); err != nil {
				return fmt.Errorf("tts response from %s: %w", s.endpoint, err)
			}
		}
		fr, err := newFrameReader(s.body, f)
		if err != nil {
			return fmt.Errorf("tts response from %s: %w", s.endpoint, err)
		}
		s.fr = fr
	}
	err := s.fr.Read(dst)
	if err != nil && err != io.EOF {
		return fmt.Errorf("tts response from %s: %w", s.endpoint, err)
	}
	return err
}

// Close aborts the request and releases the connection.
func (s *httpStream) Close() error {
	s.closed = true
	s.cancel()
	return s.body.Close()
}
