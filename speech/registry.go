package speech

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// ErrUnknownEngine is returned (wrapped) when a configuration names an engine
// that no one registered.
var ErrUnknownEngine = errors.New("unknown engine")

// ErrEngineUnavailable is returned (wrapped) when an engine is known but
// cannot run here: a program, model or server it needs is missing.
var ErrEngineUnavailable = errors.New("engine unavailable")

// UnavailableError says what an engine misses and how to install it. It
// matches ErrEngineUnavailable with errors.Is.
type UnavailableError struct {
	// Missing says what was not found, e.g. "flite not found in PATH".
	Missing string
	// Install says how to get it, e.g. "install Debian package flite".
	Install string
}

// Error reads "flite not found in PATH: install Debian package flite".
func (e *UnavailableError) Error() string {
	if e.Install == "" {
		return e.Missing
	}
	return e.Missing + ": " + e.Install
}

// Is makes errors.Is(err, ErrEngineUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrEngineUnavailable }

// Options are engine-specific settings from configuration, such as
// {"url": "ws://127.0.0.1:2700", "voice": "kal"}. A nil Options is valid and
// means every default.
type Options map[string]string

// Get returns the value of key, or def when it is unset or empty.
func (o Options) Get(key, def string) string {
	if v, ok := o[key]; ok && v != "" {
		return v
	}
	return def
}

// RecognizerFactory builds a Recognizer from its options.
type RecognizerFactory func(opts Options) (Recognizer, error)

// SynthesizerFactory builds a Synthesizer from its options.
type SynthesizerFactory func(opts Options) (Synthesizer, error)

// UnderstanderFactory builds an Understander from its options.
type UnderstanderFactory func(opts Options) (Understander, error)

// Kind names a family of engines in messages: "asr", "tts" or "nlu".
type Kind string

// The engine families a Registry holds.
const (
	KindASR Kind = "asr"
	KindTTS Kind = "tts"
	KindNLU Kind = "nlu"
)

type entry struct {
	install string
	build   func(Options) (any, error)
}

// Registry maps engine names to factories, so configuration picks engines by
// name. It is a value, not a global: each server builds its own and registers
// the engines it links in. The zero value is empty and ready to use; it is
// safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	engines map[Kind]map[string]entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(kind Kind, name, install string, build func(Options) (any, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.engines == nil {
		r.engines = make(map[Kind]map[string]entry)
	}
	if r.engines[kind] == nil {
		r.engines[kind] = make(map[string]entry)
	}
	r.engines[kind][name] = entry{install: install, build: build}
}

// RegisterRecognizer adds an ASR engine under name; install tells a user how
// to get what the engine needs, and is shown when it is missing. A later
// registration under the same name replaces the earlier one.
func (r *Registry) RegisterRecognizer(name, install string, f RecognizerFactory) {
	r.add(KindASR, name, install, func(o Options) (any, error) { return f(o) })
}

// RegisterSynthesizer adds a TTS engine under name; see RegisterRecognizer.
func (r *Registry) RegisterSynthesizer(name, install string, f SynthesizerFactory) {
	r.add(KindTTS, name, install, func(o Options) (any, error) { return f(o) })
}

// RegisterUnderstander adds an NLU engine under name; see RegisterRecognizer.
func (r *Registry) RegisterUnderstander(name, install string, f UnderstanderFactory) {
	r.add(KindNLU, name, install, func(o Options) (any, error) { return f(o) })
}

// Names lists the engines of kind, sorted.
func (r *Registry) Names(kind Kind) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.engines[kind]))
	for n := range r.engines[kind] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) build(kind Kind, name string, opts Options) (any, error) {
	r.mu.RLock()
	e, ok := r.engines[kind][name]
	r.mu.RUnlock()
	known := strings.Join(r.Names(kind), ", ")
	if known == "" {
		known = "none registered"
	}
	if name == "" {
		return nil, fmt.Errorf("%s engine not configured (choose one of: %s): %w", kind, known, ErrUnknownEngine)
	}
	if !ok {
		return nil, fmt.Errorf("%s engine %q (choose one of: %s): %w", kind, name, known, ErrUnknownEngine)
	}
	v, err := e.build(opts)
	if err != nil {
		if errors.Is(err, ErrEngineUnavailable) && e.install != "" && !strings.Contains(err.Error(), e.install) {
			return nil, fmt.Errorf("%s engine %q: %w: %s", kind, name, err, e.install)
		}
		return nil, fmt.Errorf("%s engine %q: %w", kind, name, err)
	}
	return v, nil
}

// Recognizer builds the ASR engine called name. An unknown name gives an
// error wrapping ErrUnknownEngine that lists the known ones; a missing
// program or model gives one wrapping ErrEngineUnavailable that says how to
// install it.
func (r *Registry) Recognizer(name string, opts Options) (Recognizer, error) {
	v, err := r.build(KindASR, name, opts)
	if err != nil {
		return nil, err
	}
	return v.(Recognizer), nil
}

// Synthesizer builds the TTS engine called name; errors as for Recognizer.
func (r *Registry) Synthesizer(name string, opts Options) (Synthesizer, error) {
	v, err := r.build(KindTTS, name, opts)
	if err != nil {
		return nil, err
	}
	return v.(Synthesizer), nil
}

// Understander builds the NLU engine called name; errors as for Recognizer.
func (r *Registry) Understander(name string, opts Options) (Understander, error) {
	v, err := r.build(KindNLU, name, opts)
	if err != nil {
		return nil, err
	}
	return v.(Understander), nil
}
