package sphinx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// Config configures a Recognizer. The zero value loads pocketsphinx's en-us
// model and decodes with DecoderConfig's defaults.
type Config struct {
	Model   ModelConfig
	Decoder DecoderConfig
	// Phrases is the grammar of streams opened without StreamOptions.Phrases:
	// one phrase per entry, or one entry holding a whole JSGF grammar.
	Phrases []string
	// PartialEvery is how often a stream reports a changed partial
	// hypothesis; zero means 200 ms.
	PartialEvery time.Duration
	// MaxNetworks bounds the compiled grammars kept for reuse; zero means 64.
	MaxNetworks int
}

// Recognizer is the native speech.Recognizer: a model loaded once and
// shared read-only by every stream, and compiled grammars cached by text.
type Recognizer struct {
	model *Model
	cfg   Config

	mu   sync.Mutex
	nets map[string]*Network
}

var _ speech.Recognizer = (*Recognizer)(nil)

// New loads the model of cfg and returns a recognizer.
func New(cfg Config) (*Recognizer, error) {
	m, err := Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	return NewWithModel(m, cfg), nil
}

// NewWithModel returns a recognizer sharing an already loaded model.
func NewWithModel(m *Model, cfg Config) *Recognizer {
	if cfg.PartialEvery <= 0 {
		cfg.PartialEvery = 200 * time.Millisecond
	}
	if cfg.MaxNetworks <= 0 {
		cfg.MaxNetworks = 64
	}
	cfg.Decoder = cfg.Decoder.withDefaults()
	return &Recognizer{model: m, cfg: cfg, nets: map[string]*Network{}}
}

// Model returns the shared model.
func (r *Recognizer) Model() *Model { return r.model }

// Network compiles phrases (see Config.Phrases), reusing an earlier
// compilation of the same text.
func (r *Recognizer) Network(phrases []string) (*Network, error) {
	key := strings.Join(phrases, "\n")
	r.mu.Lock()
	n, ok := r.nets[key]
	r.mu.Unlock()
	if ok {
		return n, nil
	}
	g, err := ParseGrammar(key)
	if err != nil {
		return nil, err
	}
	if n, err = r.model.Compile(g, r.cfg.Decoder); err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.nets) >= r.cfg.MaxNetworks {
		clear(r.nets) // grammars come from a few scripts; a full reset is rare and cheap
	}
	r.nets[key] = n
	r.mu.Unlock()
	return n, nil
}

// ErrClosed is returned by a stream used after Close.
var ErrClosed = errors.New("sphinx: stream closed")

// NewStream starts recognising one call's audio against opts.Phrases (or
// the configured default grammar).
func (r *Recognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.RecognizerStream, error) {
	// The model decides the language; refuse rather than mishear.
	if l := strings.ToLower(opts.Language); l != "" && l != "en" && !strings.HasPrefix(l, "en-") {
		return nil, fmt.Errorf("sphinx stream for call %q: language %q, the model is English: %w", opts.CallID, opts.Language, ErrUnsupported)
	}
	phrases := opts.Phrases
	if len(phrases) == 0 {
		phrases = r.cfg.Phrases
	}
	net, err := r.Network(phrases)
	if err != nil {
		return nil, fmt.Errorf("sphinx stream for call %q: %w", opts.CallID, err)
	}
	return r.newStream(ctx, net)
}

func (r *Recognizer) newStream(ctx context.Context, net *Network) (*Stream, error) {
	p, err := NewPipeline(net, r.cfg.Decoder)
	if err != nil {
		return nil, err
	}
	rs, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: speech.SampleRate, OutRate: r.model.Feat.SampleRate})
	if err != nil {
		return nil, fmt.Errorf("sphinx stream: resampler 8 kHz → %d Hz: %w", r.model.Feat.SampleRate, err)
	}
	return &Stream{ctx: ctx, p: p, rs: rs, buf: make([]int16, rs.MaxOut(4*speech.FrameSamples)),
		results: make(chan Result, 16), done: make(chan struct{}), partialFrames: int(r.cfg.PartialEvery / (10 * time.Millisecond))}, nil
}

// Result is speech.Result; the alias keeps this file's signatures short.
type Result = speech.Result

// Stream recognises one call leg: Write 20 ms frames of 8 kHz audio, read
// partial and final results from Results. Write and EndUtterance run the
// decoder in the caller's goroutine (a frame costs well under a
// millisecond), so a stream adds no goroutine; they must not be called
// concurrently with each other.
type Stream struct {
	ctx     context.Context
	p       *Pipeline
	rs      *dsp.Resampler
	buf     []int16
	results chan Result

	mu            sync.Mutex
	closed        bool
	done          chan struct{} // closed by Close
	sending       sync.WaitGroup
	samples       int64 // 8 kHz samples written in total
	uttStart      int64
	lastPartial   string
	partialFrames int
	nextPartial   int
}

// Write feeds one frame (any length, normally 160 samples of 8 kHz PCM).
func (s *Stream) Write(frame []int16) error {
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("sphinx stream write: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for len(frame) > 0 {
		n := min(len(frame), 4*speech.FrameSamples)
		m := s.rs.Process(s.buf, frame[:n])
		s.p.Write(s.buf[:m])
		s.samples += int64(n)
		frame = frame[n:]
	}
	if f := s.p.Frames(); f >= s.nextPartial {
		s.nextPartial = f + s.partialFrames
		if txt := s.p.Partial(); txt != s.lastPartial {
			s.lastPartial = txt
			// A slow reader misses partials, never finals.
			select {
			case s.results <- Result{Text: txt, Start: s.offset(s.uttStart), End: s.offset(s.samples)}:
			default:
			}
		}
	}
	return nil
}

func (s *Stream) offset(samples int64) time.Duration {
	return time.Duration(samples) * time.Second / speech.SampleRate
}

// EndUtterance decodes to the end of the audio written so far and sends a
// final result: the best phrase with its confidence and the N-best
// alternatives, or empty text when nothing in the grammar was said.
func (s *Stream) EndUtterance() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	hyps := s.p.End()
	res := Result{Final: true, Start: s.offset(s.uttStart), End: s.offset(s.samples)}
	if len(hyps) > 0 {
		res.Text, res.Confidence = hyps[0].Text, hyps[0].Confidence
		for _, h := range hyps[1:] {
			if h.Text != "" {
				res.Alternatives = append(res.Alternatives, speech.Alternative{Text: h.Text, Confidence: h.Confidence})
			}
		}
	}
	s.uttStart = s.samples
	s.lastPartial = ""
	s.nextPartial = 0
	// Wait for the reader outside the lock, so Close can still run; Close
	// waits for this send to give up before it closes the channel.
	s.sending.Add(1)
	defer s.sending.Done()
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case s.results <- res:
		return nil
	case <-s.done:
		return ErrClosed
	case <-s.ctx.Done():
		return fmt.Errorf("sphinx stream: final result not delivered: %w", s.ctx.Err())
	}
}

// Results delivers partial and final results; it is closed by Close.
func (s *Stream) Results() <-chan Result { return s.results }

// Close ends the stream, releasing an EndUtterance blocked on a reader
// that went away; it is safe to call more than once and from any goroutine.
func (s *Stream) Close() error {
	s.mu.Lock()
	first := !s.closed
	if first {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	if first {
		s.sending.Wait()
		close(s.results)
	}
	return nil
}

// DecodeUtterance decodes a whole recording of 8 kHz audio as one utterance
// with the same settings a call uses, for the command line and tests.
func (r *Recognizer) DecodeUtterance(ctx context.Context, phrases []string, audio8k []int16) ([]Hypothesis, error) {
	net, err := r.Network(phrases)
	if err != nil {
		return nil, err
	}
	st, err := r.newStream(ctx, net)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(audio8k); i += speech.FrameSamples {
		if err := st.Write(audio8k[i:min(i+speech.FrameSamples, len(audio8k))]); err != nil {
			return nil, err
		}
	}
	// Flush the resampler's delay line so the last 20 ms reach the decoder.
	if err := st.Write(make([]int16, st.rs.Taps())); err != nil {
		return nil, err
	}
	return st.p.End(), nil
}

// EngineName is the name Register gives the native recogniser.
const EngineName = "sphinx"

// Register adds the native recogniser to reg under EngineName. Options:
// "model" (model directory) and "dict" (dictionary) override the Debian
// defaults. Each build loads the model (about 0.1–0.2 s): build the engine
// once per process and share it between calls. A missing model is reported
// as speech.ErrEngineUnavailable with the package to install.
func Register(reg *speech.Registry) {
	const install = "install Debian packages pocketsphinx-en-us (model and dictionary)"
	reg.RegisterRecognizer(EngineName, install, func(o speech.Options) (speech.Recognizer, error) {
		r, err := New(Config{Model: ModelConfig{Dir: o.Get("model", ""), Dict: o.Get("dict", "")}})
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (%v)", &speech.UnavailableError{Missing: "sphinx acoustic model or dictionary not found", Install: install}, err)
		}
		return r, err
	})
}
