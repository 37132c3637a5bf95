package asr

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/waihu/waihu/speech"
)

// VoskConfig configures the Vosk adapter. Only URL is required.
type VoskConfig struct {
	// URL is the vosk-server address, e.g. "ws://127.0.0.1:2700".
	URL string
	// FramesPerMessage is how many 20 ms frames go in one binary message;
	// 0 means 5 (100 ms), a balance between partial latency and messages.
	FramesPerMessage int
	// DialTimeout bounds connecting; 0 means 5 s.
	DialTimeout time.Duration
	// ResultTimeout bounds the wait for a final after EndUtterance, and for
	// one message to be sent; 0 means 10 s.
	ResultTimeout time.Duration
	// RedialBackoff is how long Write keeps returning a failed
	// reconnection's error before dialling again; 0 means 1 s.
	RedialBackoff time.Duration
	// MaxAlternatives asks the server for n-best lists; 0 asks for none.
	MaxAlternatives int
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
}

// Vosk recognises speech through a vosk-server WebSocket. Each utterance
// is one server session: the client sends {"config": {"sample_rate":
// 8000}}, binary 16-bit PCM, and {"eof": 1}; the server answers every
// audio message with {"partial": …} or, at its own end-points, a result
// {"text": …, "result": [words]}, and a last result after eof.
type Vosk struct {
	cfg VoskConfig
}

var _ speech.Recognizer = (*Vosk)(nil)

// NewVosk checks the configuration; it does not connect.
func NewVosk(cfg VoskConfig) (*Vosk, error) {
	if cfg.URL == "" {
		return nil, &speech.UnavailableError{Missing: "no vosk-server URL configured", Install: "run vosk-server (e.g. docker run -p 2700:2700 alphacep/kaldi-en) and set url to ws://HOST:2700"}
	}
	if cfg.FramesPerMessage <= 0 {
		cfg.FramesPerMessage = 5
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.ResultTimeout == 0 {
		cfg.ResultTimeout = 10 * time.Second
	}
	if cfg.RedialBackoff == 0 {
		cfg.RedialBackoff = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Vosk{cfg: cfg}, nil
}

// NewStream connects to the server, so an unreachable server is reported
// before the call starts talking.
func (v *Vosk) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.RecognizerStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &voskStream{
		v: v, ctx: ctx, cancel: cancel, opts: opts,
		results: make(chan speech.Result, 64),
		buf:     make([]byte, 0, 2*speech.FrameSamples*v.cfg.FramesPerMessage),
	}
	if err := s.connect(); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// voskStream is one call's recognition; a new server session starts after
// each final.
type voskStream struct {
	v       *Vosk
	ctx     context.Context
	cancel  context.CancelFunc
	opts    speech.StreamOptions
	results chan speech.Result
	sess    *voskSession
	written atomic.Int64 // samples written so far, for result offsets (read by the session reader)
	buf     []byte
	dialErr error     // the last failed reconnection
	retryAt time.Time // no reconnection before this
	// mu orders starting a session reader against Close; sendMu keeps
	// Close from closing results while a result is being sent.
	mu      sync.Mutex
	sendMu  sync.RWMutex
	closed  atomic.Bool
	once    sync.Once
	readers sync.WaitGroup
}

type voskSession struct {
	conn   *websocket.Conn
	offset time.Duration
	done   chan struct{} // closed when the reader goroutine ends
	err    error         // why the reader ended, if not after eof
	eof    bool          // eof sent
	mu     sync.Mutex
	gotEOF bool // the final after eof arrived
}

type voskConfigMsg struct {
	Config struct {
		SampleRate      int      `json:"sample_rate"`
		MaxAlternatives int      `json:"max_alternatives,omitempty"`
		PhraseList      []string `json:"phrase_list,omitempty"`
		Words           bool     `json:"words"`
	} `json:"config"`
}

type voskWord struct {
	Conf  float64 `json:"conf"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Word  string  `json:"word"`
}

type voskMsg struct {
	Partial      *string    `json:"partial"`
	Text         *string    `json:"text"`
	Result       []voskWord `json:"result"`
	Alternatives []struct {
		Text       string     `json:"text"`
		Confidence float64    `json:"confidence"`
		Result     []voskWord `json:"result"`
	} `json:"alternatives"`
}

func (s *voskStream) connect() error {
	cfg := s.v.cfg
	dctx, cancel := context.WithTimeout(s.ctx, cfg.DialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, cfg.URL, nil)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return fmt.Errorf("connect to vosk-server %s for call %s: %w: HTTP %s", cfg.URL, s.opts.CallID, ErrServer, resp.Status)
		}
		if dctx.Err() != nil && s.ctx.Err() == nil {
			return fmt.Errorf("connect to vosk-server %s for call %s: %w: no answer in %v", cfg.URL, s.opts.CallID, ErrTimeout, cfg.DialTimeout)
		}
		return fmt.Errorf("connect to vosk-server %s for call %s: %w: %w", cfg.URL, s.opts.CallID, ErrUnreachable, err)
	}
	conn.SetReadLimit(1 << 20)
	var msg voskConfigMsg
	msg.Config.SampleRate = speech.SampleRate
	msg.Config.MaxAlternatives = cfg.MaxAlternatives
	msg.Config.PhraseList = s.opts.Phrases
	msg.Config.Words = true
	b, _ := json.Marshal(msg)
	wctx, wcancel := context.WithTimeout(s.ctx, cfg.ResultTimeout)
	defer wcancel()
	if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
		conn.CloseNow()
		return fmt.Errorf("configure vosk-server %s for call %s: %w: %w", cfg.URL, s.opts.CallID, ErrServer, err)
	}
	sess := &voskSession{conn: conn, offset: samplesToDuration(s.written.Load()), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		conn.CloseNow()
		return ErrClosed
	}
	s.sess = sess
	s.readers.Add(1)
	go s.read(sess)
	return nil
}

func samplesToDuration(n int64) time.Duration {
	return time.Duration(n) * time.Second / speech.SampleRate
}

// read turns the server's messages into Results until the session ends.
func (s *voskStream) read(sess *voskSession) {
	defer s.readers.Done()
	defer close(sess.done)
	var lastPartial string
	for {
		typ, b, err := sess.conn.Read(s.ctx)
		if err != nil {
			sess.mu.Lock()
			eof := sess.eof && sess.gotEOF
			sess.mu.Unlock()
			if !eof && s.ctx.Err() == nil {
				sess.err = fmt.Errorf("vosk-server %s, call %s: %w: connection ended: %w", s.v.cfg.URL, s.opts.CallID, ErrServer, err)
			}
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var m voskMsg
		if err := json.Unmarshal(b, &m); err != nil {
			sess.err = fmt.Errorf("vosk-server %s, call %s: %w: bad message %.80q: %w", s.v.cfg.URL, s.opts.CallID, ErrServer, b, err)
			sess.conn.CloseNow()
			return
		}
		switch {
		case m.Partial != nil:
			if *m.Partial == lastPartial {
				continue
			}
			lastPartial = *m.Partial
			s.emit(speech.Result{Text: *m.Partial, End: samplesToDuration(s.written.Load())}, false)
		case m.Text != nil || m.Alternatives != nil:
			lastPartial = ""
			sess.mu.Lock()
			if sess.eof {
				sess.gotEOF = true
			}
			sess.mu.Unlock()
			s.emit(finalResult(m, sess.offset), true)
		}
	}
}

// finalResult converts a Vosk result, with or without alternatives.
func finalResult(m voskMsg, offset time.Duration) speech.Result {
	r := speech.Result{Final: true}
	words := m.Result
	if len(m.Alternatives) > 0 {
		r.Text, r.Confidence, words = m.Alternatives[0].Text, m.Alternatives[0].Confidence, m.Alternatives[0].Result
		// Vosk reports n-best confidences as total log-likelihoods, not
		// probabilities; only their order is meaningful here.
		r.Confidence = 0
		for _, a := range m.Alternatives[1:] {
			r.Alternatives = append(r.Alternatives, speech.Alternative{Text: a.Text})
		}
	} else if m.Text != nil {
		r.Text = *m.Text
	}
	if len(words) > 0 {
		var sum float64
		for _, w := range words {
			sum += w.Conf
		}
		r.Confidence = sum / float64(len(words))
		r.Start = offset + time.Duration(words[0].Start*float64(time.Second))
		r.End = offset + time.Duration(words[len(words)-1].End*float64(time.Second))
	}
	return r
}

// emit delivers a result: partials are dropped if the consumer lags,
// finals wait for it (or for Close).
func (s *voskStream) emit(r speech.Result, final bool) {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed.Load() {
		return
	}
	if !final {
		select {
		case s.results <- r:
		default:
		}
		return
	}
	select {
	case s.results <- r:
	case <-s.ctx.Done():
	}
}

// Write buffers a frame and sends a message every FramesPerMessage frames.
func (s *voskStream) Write(frame []int16) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(frame) != speech.FrameSamples {
		return fmt.Errorf("vosk write: %d samples, want %d", len(frame), speech.FrameSamples)
	}
	if s.sess == nil {
		// A server that went away is not redialled on every 20 ms frame:
		// the error repeats until the back-off has passed.
		if time.Now().Before(s.retryAt) {
			return s.dialErr
		}
		if err := s.connect(); err != nil {
			s.dialErr, s.retryAt = err, time.Now().Add(s.v.cfg.RedialBackoff)
			return err
		}
	}
	select {
	case <-s.sess.done:
		if s.sess.err != nil {
			return s.sess.err
		}
	default:
	}
	for _, v := range frame {
		s.buf = binary.LittleEndian.AppendUint16(s.buf, uint16(v))
	}
	s.written.Add(int64(len(frame)))
	if len(s.buf) >= cap(s.buf) {
		return s.flush()
	}
	return nil
}

func (s *voskStream) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.v.cfg.ResultTimeout)
	defer cancel()
	err := s.sess.conn.Write(ctx, websocket.MessageBinary, s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return s.sessionError("send audio", err)
	}
	return nil
}

func (s *voskStream) sessionError(what string, err error) error {
	if s.sess != nil {
		select {
		case <-s.sess.done:
			if s.sess.err != nil {
				return s.sess.err
			}
		default:
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && s.ctx.Err() == nil {
		return fmt.Errorf("vosk-server %s, call %s: %s: %w", s.v.cfg.URL, s.opts.CallID, what, ErrTimeout)
	}
	return fmt.Errorf("vosk-server %s, call %s: %s: %w: %w", s.v.cfg.URL, s.opts.CallID, what, ErrServer, err)
}

// EndUtterance sends eof and waits for the session's last result; the next
// Write opens a new session.
func (s *voskStream) EndUtterance() error {
	if s.closed.Load() {
		return ErrClosed
	}
	sess := s.sess
	if sess == nil {
		// Nothing heard since the last final: say so with an empty final.
		s.emit(speech.Result{Final: true, Start: samplesToDuration(s.written.Load()), End: samplesToDuration(s.written.Load())}, true)
		return nil
	}
	if err := s.flush(); err != nil {
		s.dropSession()
		return err
	}
	sess.mu.Lock()
	sess.eof = true
	sess.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, s.v.cfg.ResultTimeout)
	defer cancel()
	if err := sess.conn.Write(ctx, websocket.MessageText, []byte(`{"eof" : 1}`)); err != nil {
		s.dropSession()
		return s.sessionError("send eof", err)
	}
	defer s.dropSession()
	for {
		select {
		case <-sess.done:
			if sess.err != nil {
				return sess.err
			}
			sess.mu.Lock()
			got := sess.gotEOF
			sess.mu.Unlock()
			if !got {
				return fmt.Errorf("vosk-server %s, call %s: %w: closed without a final result", s.v.cfg.URL, s.opts.CallID, ErrServer)
			}
			return nil
		case <-ctx.Done():
			if s.ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("vosk-server %s, call %s: final result: %w after %v", s.v.cfg.URL, s.opts.CallID, ErrTimeout, s.v.cfg.ResultTimeout)
		case <-time.After(10 * time.Millisecond):
			// The final is delivered before the server closes; once it is
			// in, there is no need to wait for the close handshake.
			sess.mu.Lock()
			got := sess.gotEOF
			sess.mu.Unlock()
			if got {
				return nil
			}
		}
	}
}

func (s *voskStream) dropSession() {
	if s.sess == nil {
		return
	}
	// The server closes after its last result; no handshake to wait for.
	s.sess.conn.CloseNow()
	s.sess = nil
	s.buf = s.buf[:0]
}

// Results implements speech.RecognizerStream.
func (s *voskStream) Results() <-chan speech.Result { return s.results }

// Close ends the session and closes Results.
func (s *voskStream) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		// Cancelling the context closes the session's connection and ends
		// its reader; the audio goroutine's next call returns ErrClosed.
		s.cancel()
		s.readers.Wait()
		s.sendMu.Lock()
		close(s.results)
		s.sendMu.Unlock()
	})
	return nil
}
