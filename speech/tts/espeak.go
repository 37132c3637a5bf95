package tts

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/waihu/waihu/speech"
)

// EspeakConfig configures the espeak-ng engine. The zero value runs
// espeak-ng and sox from PATH at 150 words a minute.
type EspeakConfig struct {
	// Path is espeak-ng; empty means "espeak-ng" in PATH. It is GPL-3 and
	// only ever run as a separate process.
	Path string
	// SoxPath is sox, which converts espeak-ng's 22.05 kHz output to 8 kHz
	// (a ratio dsp's polyphase resampler does not cover); empty means "sox".
	SoxPath string
	// Voice is the default voice; empty picks by language: "cmn" for zh,
	// "en-us" otherwise. SynthOptions.Voice overrides it.
	Voice string
	// WordsPerMinute is the speaking rate; 0 means 150.
	WordsPerMinute int
}

// Espeak speaks Chinese and English with espeak-ng piped through sox.
type Espeak struct {
	path, sox string
	voice     string
	wpm       int
}

var _ speech.Synthesizer = (*Espeak)(nil)

// NewEspeak finds espeak-ng and sox; a missing program gives an error
// matching speech.ErrEngineUnavailable that says how to install it.
func NewEspeak(cfg EspeakConfig) (*Espeak, error) {
	path, err := lookPath(cfg.Path, "espeak-ng", "install Debian package espeak-ng")
	if err != nil {
		return nil, err
	}
	sox, err := lookPath(cfg.SoxPath, "sox", "install Debian package sox")
	if err != nil {
		return nil, err
	}
	wpm := cfg.WordsPerMinute
	if wpm <= 0 {
		wpm = 150
	}
	return &Espeak{path: path, sox: sox, voice: cfg.Voice, wpm: wpm}, nil
}

func (e *Espeak) voiceFor(opts speech.SynthOptions) string {
	switch {
	case opts.Voice != "":
		return opts.Voice
	case e.voice != "":
		return e.voice
	case strings.HasPrefix(strings.ToLower(opts.Language), "zh") || strings.HasPrefix(strings.ToLower(opts.Language), "cmn"):
		return "cmn"
	}
	return "en-us"
}

// Synthesize runs espeak-ng | sox; text goes through stdin so no text can
// be mistaken for an option. Samples arrive while espeak-ng still speaks.
func (e *Espeak) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	s, err := e.synthesize(ctx, text, opts)
	if err != nil {
		return nil, err
	}
	return trimLeadingSilence(s), nil
}

func (e *Espeak) synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	voice := e.voiceFor(opts)
	if strings.TrimSpace(text) == "" {
		return newMemStream(nil), nil
	}
	argvs := [][]string{
		{e.path, "-v", voice, "-s", strconv.Itoa(e.wpm), "--stdin", "--stdout"},
		// -V1: only errors on stderr; sox would otherwise warn about the
		// streaming header's placeholder length.
		{e.sox, "-V1", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-L", "-t", "raw", "-"},
	}
	s, err := startPipeline(ctx, "espeak-ng", argvs, text+"\n", &pcmFormat{rate: 8000, channels: 1})
	if err != nil {
		return nil, fmt.Errorf("espeak-ng voice %q, call %s: %w", voice, opts.CallID, err)
	}
	return s, nil
}
