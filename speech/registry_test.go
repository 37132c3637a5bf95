package speech

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fakeSynth struct{ voice string }

func (fakeSynth) Synthesize(context.Context, string, SynthOptions) (AudioStream, error) {
	return nil, errors.New("not used")
}

func TestRegistryBuildsEnginesByNameAndExplainsFailures(t *testing.T) {
	r := NewRegistry()
	r.RegisterSynthesizer("fake", "", func(o Options) (Synthesizer, error) {
		return fakeSynth{voice: o.Get("voice", "default")}, nil
	})
	r.RegisterSynthesizer("flite", "install Debian package flite", func(Options) (Synthesizer, error) {
		return nil, &UnavailableError{Missing: "flite not found in PATH"}
	})
	r.RegisterSynthesizer("broken", "", func(Options) (Synthesizer, error) {
		return nil, errors.New("bad voice")
	})
	tests := []struct {
		name    string
		engine  string
		is      error
		message []string
	}{
		{"known engine builds", "fake", nil, nil},
		{"empty name lists the choices", "", ErrUnknownEngine, []string{"not configured", "broken, fake, flite"}},
		{"unknown name is named", "festival", ErrUnknownEngine, []string{`tts engine "festival"`, "fake"}},
		{"missing program says how to install", "flite", ErrEngineUnavailable, []string{`tts engine "flite": flite not found in PATH`, "install Debian package flite"}},
		{"other factory errors are wrapped", "broken", nil, []string{`tts engine "broken": bad voice`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := r.Synthesizer(tc.engine, Options{"voice": "kal"})
			if tc.message == nil {
				if err != nil {
					t.Fatalf("Synthesizer(%q): %v", tc.engine, err)
				}
				if s.(fakeSynth).voice != "kal" {
					t.Errorf("options not passed: %+v", s)
				}
				return
			}
			if err == nil {
				t.Fatalf("Synthesizer(%q) succeeded, want error", tc.engine)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			for _, m := range tc.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
		})
	}
}

func TestRegistryKindsAreSeparate(t *testing.T) {
	var r Registry // zero value is usable
	r.RegisterSynthesizer("x", "", func(Options) (Synthesizer, error) { return fakeSynth{}, nil })
	if _, err := r.Recognizer("x", nil); !errors.Is(err, ErrUnknownEngine) {
		t.Fatalf("asr engine x resolved to a tts engine: %v", err)
	}
	if got := r.Names(KindTTS); len(got) != 1 || got[0] != "x" {
		t.Errorf("Names(tts) = %v", got)
	}
}
