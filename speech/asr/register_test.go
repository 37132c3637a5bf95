package asr

import (
	"errors"
	"strings"
	"testing"

	"github.com/waihu/waihu/speech"
)

func TestRegisterBuildsAdaptersFromOptions(t *testing.T) {
	r := speech.NewRegistry()
	Register(r)
	tests := []struct {
		name, engine string
		opts         speech.Options
		wantErr      string
		is           error
	}{
		{"vosk", "vosk", speech.Options{"url": "ws://127.0.0.1:2700", "result_timeout": "3s"}, "", nil},
		{"whisper", "whisper", speech.Options{"url": "http://127.0.0.1:8080", "sample_rate": "8000"}, "", nil},
		{"vosk without url says how to run it", "vosk", nil, `asr engine "vosk": no vosk-server URL configured: run vosk-server`, speech.ErrEngineUnavailable},
		{"whisper without url", "whisper", nil, "whisper.cpp", speech.ErrEngineUnavailable},
		{"bad duration", "vosk", speech.Options{"url": "ws://x", "result_timeout": "soon"}, `result_timeout="soon"`, nil},
		{"bad rate", "whisper", speech.Options{"url": "http://x", "sample_rate": "44100"}, "must be 8000 or 16000", nil},
		{"unknown engine", "kaldi", nil, `asr engine "kaldi"`, speech.ErrUnknownEngine},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Recognizer(tc.engine, tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
		})
	}
}
