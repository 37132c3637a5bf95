package asr

import (
	"fmt"
	"strconv"
	"time"

	"github.com/waihu/waihu/speech"
)

// Register adds the adapters of this package to r:
//
//	vosk     url, frames_per_message, max_alternatives, dial_timeout, result_timeout
//	whisper  url, api_key, model, sample_rate, timeout, max_utterance
//
// "whisper" talks to any OpenAI-compatible /v1/audio/transcriptions server.
func Register(r *speech.Registry) {
	r.RegisterRecognizer("vosk", "run vosk-server (docker run -p 2700:2700 alphacep/kaldi-en) and set url to ws://HOST:2700", func(o speech.Options) (speech.Recognizer, error) {
		var cfg VoskConfig
		cfg.URL = o.Get("url", "")
		var err error
		if cfg.FramesPerMessage, err = intOpt(o, "frames_per_message"); err != nil {
			return nil, err
		}
		if cfg.MaxAlternatives, err = intOpt(o, "max_alternatives"); err != nil {
			return nil, err
		}
		if cfg.DialTimeout, err = durationOpt(o, "dial_timeout"); err != nil {
			return nil, err
		}
		if cfg.ResultTimeout, err = durationOpt(o, "result_timeout"); err != nil {
			return nil, err
		}
		return NewVosk(cfg)
	})
	r.RegisterRecognizer("whisper", "run whisper.cpp's server (whisper-server -m MODEL --port 8080) or another OpenAI-compatible transcription server and set url", func(o speech.Options) (speech.Recognizer, error) {
		cfg := TranscribeConfig{URL: o.Get("url", ""), APIKey: o.Get("api_key", ""), Model: o.Get("model", "")}
		var err error
		if cfg.SampleRate, err = intOpt(o, "sample_rate"); err != nil {
			return nil, err
		}
		if cfg.Timeout, err = durationOpt(o, "timeout"); err != nil {
			return nil, err
		}
		if cfg.MaxUtterance, err = durationOpt(o, "max_utterance"); err != nil {
			return nil, err
		}
		return NewTranscribe(cfg)
	})
}

func intOpt(o speech.Options, key string) (int, error) {
	v := o.Get(key, "")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("option %s=%q: %w", key, v, err)
	}
	return n, nil
}

func durationOpt(o speech.Options, key string) (time.Duration, error) {
	v := o.Get(key, "")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("option %s=%q: %w", key, v, err)
	}
	return d, nil
}
