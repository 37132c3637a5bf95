package tts

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/waihu/waihu/speech"
)

// FliteConfig configures the flite engine. The zero value runs "flite" from
// PATH with voice kal.
type FliteConfig struct {
	// Path is the flite program; empty means "flite" looked up in PATH.
	Path string
	// Voice is the default voice; empty means "kal", which speaks at 8 kHz
	// so no resampling is needed. SynthOptions.Voice overrides it.
	Voice string
}

// Flite speaks English with the flite program, one process per sentence.
type Flite struct {
	path  string
	voice string
}

var _ speech.Synthesizer = (*Flite)(nil)

// NewFlite finds the flite program. A missing program gives an error
// matching speech.ErrEngineUnavailable that says how to install it.
func NewFlite(cfg FliteConfig) (*Flite, error) {
	path, err := lookPath(cfg.Path, "flite", "install Debian package flite")
	if err != nil {
		return nil, err
	}
	voice := cfg.Voice
	if voice == "" {
		voice = "kal"
	}
	return &Flite{path: path, voice: voice}, nil
}

// lookPath finds a program, or explains how to install it.
func lookPath(path, def, install string) (string, error) {
	if path == "" {
		path = def
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", &speech.UnavailableError{Missing: fmt.Sprintf("%s not found in PATH", path), Install: install}
	}
	return p, nil
}

// Synthesize starts flite on text; its WAV output is read as it arrives.
// flite writes a whole text at once, in about 13 ms per sentence, so a
// longer text is spoken sentence by sentence, one flite run each.
func (f *Flite) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	s, err := f.synthesize(ctx, text, opts)
	if err != nil {
		return nil, err
	}
	return trimLeadingSilence(s), nil
}

func (f *Flite) synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	voice := f.voice
	if opts.Voice != "" {
		voice = opts.Voice
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return newMemStream(nil), nil
	}
	start := func(sentence string) (speech.AudioStream, error) {
		s, err := startPipeline(ctx, "flite", [][]string{{f.path, "-voice", voice, "-t", sentence, "-o", "/dev/stdout"}}, "", nil)
		if err != nil {
			return nil, fmt.Errorf("flite voice %q, call %s: %w", voice, opts.CallID, err)
		}
		return s, nil
	}
	parts := splitSentences(text)
	if len(parts) == 1 {
		return start(parts[0])
	}
	// flite writes nothing until it has synthesised all its text: one run
	// per sentence makes the first frame of a paragraph as quick as that
	// of a sentence.
	first, err := start(parts[0])
	if err != nil {
		return nil, err
	}
	return &seqStream{cur: first, parts: parts[1:], start: start}, nil
}
