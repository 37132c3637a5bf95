package tts

import (
	"fmt"
	"strconv"
	"time"

	"github.com/waihu/waihu/speech"
)

// Register adds the engines of this package to r:
//
//	prompts  dir
//	flite    path, voice
//	espeak   path, sox, voice, wpm
//	http     url, api_key, model, voice, format, pcm_rate, timeout
//
// Any of them also takes cache_dir (keep lines on disk) and cache_samples
// (in-memory budget); with either set the engine is wrapped in a Cache.
func Register(r *speech.Registry) {
	r.RegisterSynthesizer("prompts", "record WAV prompts into a directory and set dir", func(o speech.Options) (speech.Synthesizer, error) {
		return cached("prompts", o, func() (speech.Synthesizer, error) { return NewPrompts(PromptsConfig{Dir: o.Get("dir", "")}) })
	})
	r.RegisterSynthesizer("flite", "install Debian package flite", func(o speech.Options) (speech.Synthesizer, error) {
		return cached("flite", o, func() (speech.Synthesizer, error) {
			return NewFlite(FliteConfig{Path: o.Get("path", ""), Voice: o.Get("voice", "")})
		})
	})
	r.RegisterSynthesizer("espeak", "install Debian packages espeak-ng and sox", func(o speech.Options) (speech.Synthesizer, error) {
		return cached("espeak", o, func() (speech.Synthesizer, error) {
			wpm, err := intOption(o, "wpm")
			if err != nil {
				return nil, err
			}
			return NewEspeak(EspeakConfig{Path: o.Get("path", ""), SoxPath: o.Get("sox", ""), Voice: o.Get("voice", ""), WordsPerMinute: wpm})
		})
	})
	r.RegisterSynthesizer("http", "run an OpenAI-compatible TTS server and set url", func(o speech.Options) (speech.Synthesizer, error) {
		return cached("http", o, func() (speech.Synthesizer, error) {
			rate, err := intOption(o, "pcm_rate")
			if err != nil {
				return nil, err
			}
			var timeout time.Duration
			if v := o.Get("timeout", ""); v != "" {
				if timeout, err = time.ParseDuration(v); err != nil {
					return nil, fmt.Errorf("option timeout=%q: %w", v, err)
				}
			}
			return NewHTTP(HTTPConfig{URL: o.Get("url", ""), APIKey: o.Get("api_key", ""), Model: o.Get("model", ""),
				Voice: o.Get("voice", ""), Format: o.Get("format", ""), PCMRate: rate, Timeout: timeout})
		})
	})
}

func intOption(o speech.Options, key string) (int, error) {
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

func cached(name string, o speech.Options, build func() (speech.Synthesizer, error)) (speech.Synthesizer, error) {
	s, err := build()
	if err != nil {
		return nil, err
	}
	dir := o.Get("cache_dir", "")
	samples, err := intOption(o, "cache_samples")
	if err != nil {
		return nil, err
	}
	if dir == "" && samples == 0 {
		return s, nil
	}
	return NewCache(s, CacheConfig{Engine: name + "\x00" + o.Get("voice", ""), Dir: dir, MemorySamples: samples})
}
