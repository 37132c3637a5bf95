package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/asr"
	"github.com/waihu/waihu/speech/nlu"
	"github.com/waihu/waihu/speech/sphinx"
	"github.com/waihu/waihu/speech/tts"
)

//go:embed assets/demo.yaml
var demoScript []byte

// BotConfig says which script answers inbound calls and with which engines.
type BotConfig struct {
	// Enabled runs the script on every inbound call. Default true; false plays
	// inbound.prompt and records instead.
	Enabled *bool `yaml:"enabled"`
	// Script is a call script (docs/scripts.md); default: the embedded demo.
	Script string `yaml:"script"`
	// ASR is the recogniser: engine sphinx (default; Debian package
	// pocketsphinx-en-us), vosk or whisper, with its options.
	ASR EngineConfig `yaml:"asr"`
	// TTS is the synthesiser: flite (default), espeak, prompts or http.
	TTS EngineConfig `yaml:"tts"`
	// Records is where each call's record (transcript, outcome, latencies) is
	// written as JSON; default DATA/calls.
	Records string `yaml:"records"`
}

// EngineConfig names a speech engine and its options (docs/speech.md).
type EngineConfig struct {
	Engine  string            `yaml:"engine"`
	Options map[string]string `yaml:"options"`
}

// bot is the dialog engine with its speech engines, built once and shared by calls.
type bot struct {
	engine *dialog.Engine
	script *dialog.Script
	// asr is the engine's recogniser, asrEngine its name: the dialler
	// reuses a sphinx one to read carrier announcements (progress.go).
	asr       speech.Recognizer
	asrEngine string
}

// newBot loads the script and its engines. The speech engines come from Debian
// packages a fresh machine may lack; their errors say what to install.
func newBot(ctx context.Context, cfg Config, log *slog.Logger) (*bot, error) {
	bc := cfg.Bot
	var (
		script *dialog.Script
		err    error
	)
	if bc.Script == "" {
		script, err = dialog.Parse("demo.yaml (embedded)", demoScript)
	} else {
		script, err = dialog.Load(bc.Script)
	}
	if err != nil {
		return nil, err
	}
	reg := speech.NewRegistry()
	sphinx.Register(reg)
	asr.Register(reg)
	tts.Register(reg)

	asrName := bc.ASR.Engine
	if asrName == "" {
		asrName = sphinx.EngineName
	}
	start := time.Now()
	rec, err := reg.Recognizer(asrName, speech.Options(bc.ASR.Options))
	if err != nil {
		return nil, fmt.Errorf("bot recogniser: %w", err)
	}
	log.Info("recogniser ready", "engine", asrName, "took", time.Since(start).Round(time.Millisecond).String())

	ttsName := bc.TTS.Engine
	if ttsName == "" {
		ttsName = "flite"
	}
	synth, err := reg.Synthesizer(ttsName, speech.Options(bc.TTS.Options))
	if err != nil {
		return nil, fmt.Errorf("bot synthesiser: %w", err)
	}

	intents := make([]nlu.Intent, 0, len(script.Intents))
	for _, in := range script.Intents {
		intents = append(intents, nlu.Intent{Name: in.Name, Examples: in.Examples})
	}
	start = time.Now()
	und, err := nlu.New(ctx, intents, nlu.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("bot script %s: train intents: %w", script.File, err)
	}
	log.Info("intents trained", "script", script.Name, "intents", len(intents), "took", time.Since(start).Round(time.Millisecond).String())

	records := bc.Records
	if records == "" {
		records = filepath.Join(cfg.Data, "calls")
	}
	eng, err := dialog.New(dialog.Config{
		Script:       script,
		Recognizer:   rec,
		Understander: und,
		Synthesizer:  synth,
		Sink:         dialog.JSONFileSink{Dir: records},
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	return &bot{engine: eng, script: script, asr: rec, asrEngine: asrName}, nil
}

// recordingLeg records what the caller says while the dialog engine reads it.
type recordingLeg struct {
	dialog.Leg
	rec *audiofile.Recorder
}

func (l recordingLeg) ReadFrame(ctx context.Context, dst []int16) error {
	if err := l.Leg.ReadFrame(ctx, dst); err != nil {
		return err
	}
	if l.rec != nil {
		l.rec.Write(dst) // a full disk must not end the conversation
	}
	return nil
}

// run talks with the caller until the script hangs up or the caller does.
//
// xfer, when not nil, carries out the script's transfer and message nodes for
// this call; nil makes them fail to their on_fail paths.
// leg is an RTP or a WebRTC leg, digits its caller's keys.
// events receives the conversation's live events (nil: none); the returned
// record says how the script ended.
func (b *bot) run(ctx context.Context, log *slog.Logger, id, caller string, leg dialog.Leg, digits <-chan dialog.Digit, rec *audiofile.Recorder, xfer *transfer, events dialog.EventSink) dialog.Record {
	call := dialog.Call{
		ID:        id,
		Leg:       recordingLeg{Leg: leg, rec: rec},
		DTMF:      digits,
		Variables: map[string]string{"caller": caller},
		Events:    events,
	}
	if c, err := newCues(false); err != nil {
		log.Warn("no emotion cues for this call", "err", err)
	} else {
		call.Cues = c
	}
	if xfer != nil {
		call.Transfer, call.Messages = xfer, xfer
	}
	r, err := b.engine.Run(ctx, call)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("script ended with an error", "err", err)
	}
	log.Info("script finished", "script", r.Script, "outcome", r.Outcome, "path", r.Path)
	if xfer != nil {
		// A bridge to an agent outlives the script: the call stays ours
		// until the customer or the agent hangs up.
		xfer.relay(ctx, recordingLeg{Leg: leg, rec: rec})
	}
	return r
}

// botFor builds the bot the config asks for. The default demo bot degrades to
// prompt-and-record when its engines are not installed, so `waihu serve` works on
// any machine; a script the user configured must start or waihu refuses to.
func botFor(cfg Config, log *slog.Logger) (*bot, error) {
	enabled := cfg.Bot.Enabled == nil || *cfg.Bot.Enabled
	if cfg.Bot.Enabled == nil && cfg.Inbound.Prompt != "" {
		// A configured prompt asks for prompt-and-record.
		enabled = false
	}
	if !enabled {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := newBot(ctx, cfg, log)
	if err == nil {
		log.Info("bot ready: inbound calls run the script", "script", b.script.Name, "file", b.script.File)
		return b, nil
	}
	if cfg.Bot.Script != "" || cfg.Bot.Enabled != nil {
		return nil, err
	}
	log.Warn("demo bot unavailable: answering with the greeting and recording instead", "err", err)
	return nil, nil
}

// rtpDigits adapts an RTP leg's RFC 4733 events for the dialog engine.
func rtpDigits(ctx context.Context, leg *rtp.Leg) <-chan dialog.Digit {
	return dialog.DigitsFrom(ctx, leg.DTMF(), func(ev rtp.DTMFEvent) (rune, time.Time) { return ev.Digit, ev.At })
}
