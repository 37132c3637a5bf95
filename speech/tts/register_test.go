package tts

import (
	"errors"
	"strings"
	"testing"

	"github.com/waihu/waihu/speech"
)

func TestRegisterBuildsEnginesFromOptions(t *testing.T) {
	r := speech.NewRegistry()
	Register(r)
	if got := strings.Join(r.Names(speech.KindTTS), ","); got != "espeak,flite,http,prompts" {
		t.Fatalf("engines %s", got)
	}
	tests := []struct {
		name, engine string
		opts         speech.Options
		wantErr      string
		wantType     string
	}{
		{"missing program", "flite", speech.Options{"path": "/nonexistent/flite"}, `tts engine "flite": /nonexistent/flite not found in PATH: install Debian package flite`, ""},
		{"http without url", "http", nil, `tts engine "http": no server URL configured`, ""},
		{"bad number option", "http", speech.Options{"url": "http://x", "pcm_rate": "fast"}, `pcm_rate="fast"`, ""},
		{"bad timeout", "http", speech.Options{"url": "http://x", "timeout": "soon"}, `timeout="soon"`, ""},
		{"prompts without dir", "prompts", nil, "no prompts directory", ""},
		{"http engine", "http", speech.Options{"url": "http://127.0.0.1:8880", "format": "pcm"}, "", "*tts.HTTP"},
		{"cache wraps an engine", "http", speech.Options{"url": "http://x", "cache_dir": t.TempDir()}, "", "*tts.Cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := r.Synthesizer(tc.engine, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(s); got != tc.wantType {
				t.Errorf("type %s, want %s", got, tc.wantType)
			}
		})
	}
	_, err := r.Synthesizer("festival", nil)
	if !errors.Is(err, speech.ErrUnknownEngine) {
		t.Errorf("unknown engine: %v", err)
	}
}

func typeName(s speech.Synthesizer) string {
	switch s.(type) {
	case *HTTP:
		return "*tts.HTTP"
	case *Cache:
		return "*tts.Cache"
	case *Flite:
		return "*tts.Flite"
	}
	return "other"
}
