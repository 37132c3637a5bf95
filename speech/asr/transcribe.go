package asr

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// TranscribeConfig configures the OpenAI-compatible transcription adapter.
// Only URL is required.
type TranscribeConfig struct {
	// URL is the server's base address ("http://127.0.0.1:8080"), to which
	// /v1/audio/transcriptions is appended, or an address with a path, used
	// as given ("http://127.0.0.1:8080/inference" for whisper.cpp's server).
	URL string
	// APIKey, when set, is sent as a Bearer token.
	APIKey string
	// Model is sent as "model"; empty means "whisper-1".
	Model string
	// SampleRate of the WAV sent: 0 means 16000 (Whisper's rate, converted
	// by dsp's resampler; whisper.cpp's server wants it unless started with
	// --convert); 8000 sends the call's audio as it is.
	SampleRate int
	// Timeout bounds one transcription request; 0 means 15 s.
	Timeout time.Duration
	// MaxUtterance bounds the audio kept for one request; later audio is
	// dropped until EndUtterance. 0 means 30 s.
	MaxUtterance time.Duration
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
	// Logger receives dropped-audio warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Transcribe recognises each utterance with one POST of a WAV file to an
// OpenAI-compatible /v1/audio/transcriptions endpoint (multipart fields
// file, model, language, prompt, response_format=json; answer {"text":
// …}). It gives finals only, no partials, and no confidence (0).
type Transcribe struct {
	cfg      TranscribeConfig
	endpoint string
}

var _ speech.Recognizer = (*Transcribe)(nil)

// NewTranscribe checks the configuration; it does not contact the server.
func NewTranscribe(cfg TranscribeConfig) (*Transcribe, error) {
	if cfg.URL == "" {
		return nil, &speech.UnavailableError{Missing: "no transcription server URL configured", Install: "run whisper.cpp's server (whisper-server -m MODEL --port 8080) or another OpenAI-compatible server and set url"}
	}
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 16000
	}
	if cfg.SampleRate != 8000 && cfg.SampleRate != 16000 {
		return nil, fmt.Errorf("transcription sample rate %d: must be 8000 or 16000", cfg.SampleRate)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxUtterance == 0 {
		cfg.MaxUtterance = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	endpoint, err := endpointURL(cfg.URL, "/v1/audio/transcriptions")
	if err != nil {
		return nil, err
	}
	return &Transcribe{cfg: cfg, endpoint: endpoint}, nil
}

// NewStream starts a stream; the server is contacted at each EndUtterance.
func (tr *Transcribe) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.RecognizerStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &transcribeStream{
		tr: tr, ctx: ctx, cancel: cancel, opts: opts,
		results: make(chan speech.Result, 16),
		pcm:     make([]int16, 0, 5*speech.SampleRate),
		max:     int(tr.cfg.MaxUtterance.Seconds() * speech.SampleRate),
	}, nil
}

type transcribeStream struct {
	tr      *Transcribe
	ctx     context.Context
	cancel  context.CancelFunc
	opts    speech.StreamOptions
	results chan speech.Result
	pcm     []int16
	max     int
	start   int64 // stream sample where the current utterance began
	written int64
	dropped bool
	closed  atomic.Bool
	sendMu  sync.RWMutex
	once    sync.Once
}

// Write buffers a frame for the next request.
func (s *transcribeStream) Write(frame []int16) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(frame) != speech.FrameSamples {
		return fmt.Errorf("transcribe write: %d samples, want %d", len(frame), speech.FrameSamples)
	}
	s.written += int64(len(frame))
	if len(s.pcm)+len(frame) > s.max {
		if !s.dropped {
			s.tr.cfg.Logger.Warn("asr: utterance longer than MaxUtterance; dropping the rest", "call", s.opts.CallID, "max", s.tr.cfg.MaxUtterance)
			s.dropped = true
		}
		return nil
	}
	s.pcm = append(s.pcm, frame...)
	return nil
}

// EndUtterance posts the buffered audio and delivers the transcript as a
// Final; it returns when the Final is on Results or the request failed.
func (s *transcribeStream) EndUtterance() error {
	if s.closed.Load() {
		return ErrClosed
	}
	r := speech.Result{Final: true, Start: samplesToDuration(s.start), End: samplesToDuration(s.start + int64(len(s.pcm)))}
	defer func() {
		s.pcm = s.pcm[:0]
		s.start = s.written
		s.dropped = false
	}()
	if len(s.pcm) > 0 {
		text, err := s.post()
		if err != nil {
			return err
		}
		r.Text = text
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	select {
	case s.results <- r:
		return nil
	case <-s.ctx.Done():
		return ErrClosed
	}
}

func (s *transcribeStream) post() (string, error) {
	cfg := s.tr.cfg
	wavData, err := encodeWAV(s.pcm, cfg.SampleRate)
	if err != nil {
		return "", err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="utterance.wav"`)
	h.Set("Content-Type", "audio/wav")
	fw, _ := mw.CreatePart(h)
	fw.Write(wavData)
	mw.WriteField("model", cfg.Model)
	mw.WriteField("response_format", "json")
	mw.WriteField("temperature", "0")
	if lang, _, _ := strings.Cut(s.opts.Language, "-"); lang != "" {
		mw.WriteField("language", strings.ToLower(lang))
	}
	if len(s.opts.Phrases) > 0 {
		// Whisper takes hints as a prompt: words it should expect.
		mw.WriteField("prompt", strings.Join(s.opts.Phrases, ", "))
	}
	mw.Close()
	ctx, cancel := context.WithTimeout(s.ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tr.endpoint, &body)
	if err != nil {
		return "", fmt.Errorf("transcription request to %s: %w", s.tr.endpoint, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	what := fmt.Sprintf("transcribe %.1f s for call %s at %s", float64(len(s.pcm))/speech.SampleRate, s.opts.CallID, s.tr.endpoint)
	resp, err := cfg.Client.Do(req)
	if err != nil {
		switch {
		case s.ctx.Err() != nil:
			return "", ErrClosed
		case errors.Is(err, context.DeadlineExceeded):
			return "", fmt.Errorf("%s: %w after %v", what, ErrTimeout, cfg.Timeout)
		}
		return "", fmt.Errorf("%s: %w: %w", what, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("%s: %w after %v", what, ErrTimeout, cfg.Timeout)
		}
		return "", fmt.Errorf("%s: %w: reading the answer: %w", what, ErrServer, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s: %w: %s: %s", what, ErrServer, resp.Status, bytes.TrimSpace(b[:min(len(b), 300)]))
	}
	var out struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Text == nil {
		return "", fmt.Errorf("%s: %w: answer is not {\"text\": …}: %.100q", what, ErrServer, b)
	}
	return strings.TrimSpace(*out.Text), nil
}

// encodeWAV writes 16-bit mono PCM as a WAV file at rate (8000 or 16000).
func encodeWAV(pcm []int16, rate int) ([]byte, error) {
	samples := pcm
	if rate != speech.SampleRate {
		res, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: speech.SampleRate, OutRate: rate})
		if err != nil {
			return nil, fmt.Errorf("resample to %d Hz: %w", rate, err)
		}
		samples = make([]int16, res.MaxOut(len(pcm)))
		samples = samples[:res.Process(samples, pcm)]
	}
	b := make([]byte, 44, 44+2*len(samples))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(samples)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(samples)))
	for _, v := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b, nil
}

// Results implements speech.RecognizerStream.
func (s *transcribeStream) Results() <-chan speech.Result { return s.results }

// Close aborts a request in flight and closes Results.
func (s *transcribeStream) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel()
		s.sendMu.Lock()
		close(s.results)
		s.sendMu.Unlock()
	})
	return nil
}

// endpointURL appends the OpenAI path to a bare server address and keeps an
// address that already has a path (whisper.cpp's server answers the same
// form on /inference).
func endpointURL(raw, path string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server url %q: want http://HOST:PORT[/PATH]", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = path
	}
	return u.String(), nil
}
