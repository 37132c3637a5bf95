package speech

import (
	"context"
	"time"
)

// SampleRate is the rate, in Hz, of all audio crossing the speech interfaces.
const SampleRate = 8000

// FrameSamples is the number of samples in one 20 ms frame at SampleRate.
const FrameSamples = 160

// FrameDuration is the duration of one frame.
const FrameDuration = 20 * time.Millisecond

// Result is one recognition hypothesis.
type Result struct {
	// Text is the recognised text, empty when nothing was heard.
	Text string `json:"text"`
	// Final is true once the engine will not revise this hypothesis.
	Final bool `json:"final"`
	// Confidence is the engine's confidence in Text, 0..1.
	Confidence float64 `json:"confidence"`
	// Alternatives are other hypotheses, best first; may be empty.
	Alternatives []Alternative `json:"alternatives,omitempty"`
	// Start and End are offsets of the recognised audio in the stream.
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// Alternative is a less likely recognition hypothesis.
type Alternative struct {
	// Text is the alternative transcript.
	Text string `json:"text"`
	// Confidence is its confidence, 0..1.
	Confidence float64 `json:"confidence"`
}

// StreamOptions configures one recognition stream.
type StreamOptions struct {
	// Language is a BCP 47 tag such as "en-US" or "zh-CN"; empty means the
	// engine's default.
	Language string
	// Phrases are a grammar or hints; the engine decides which.
	Phrases []string
	// CallID names the call in logs and errors.
	CallID string
}

// Recognizer starts streaming recognitions.
type Recognizer interface {
	// NewStream starts a stream; ctx bounds its whole life.
	NewStream(ctx context.Context, opts StreamOptions) (RecognizerStream, error)
}

// RecognizerStream is one streaming recognition of a call's audio.
type RecognizerStream interface {
	// Write feeds one 20 ms frame, 160 samples of 8 kHz PCM.
	Write(frame []int16) error
	// EndUtterance tells the engine that the caller's VAD saw speech end: it
	// emits a Final for the audio since the last final.
	EndUtterance() error
	// Results delivers partials and finals; it is closed after Close.
	Results() <-chan Result
	// Close ends the stream and releases its resources.
	Close() error
}

// SynthOptions configures one synthesis.
type SynthOptions struct {
	// Voice is an engine-specific voice name; empty means the engine's default.
	Voice string
	// Language is a BCP 47 tag such as "en-US" or "zh-CN".
	Language string
	// CallID names the call in logs and errors.
	CallID string
}

// Synthesizer turns text into audio.
type Synthesizer interface {
	// Synthesize starts speaking text; audio is read from the returned stream
	// as it is produced.
	Synthesize(ctx context.Context, text string, opts SynthOptions) (AudioStream, error)
}

// AudioStream is synthesised audio read frame by frame.
type AudioStream interface {
	// Read fills exactly 160 samples of dst (the last frame padded with
	// silence) and returns io.EOF after the last frame.
	Read(dst []int16) error
	// Close stops the synthesis, even mid-sentence (barge-in).
	Close() error
}

// Understanding is what an utterance means.
type Understanding struct {
	// Intent is the most likely intent name, "out_of_scope" when none fits.
	Intent string `json:"intent"`
	// Confidence is the calibrated probability of Intent, 0..1.
	Confidence float64 `json:"confidence"`
	// Alternatives are the other intents, most likely first.
	Alternatives []IntentScore `json:"alternatives,omitempty"`
	// Slots are the values found in the utterance.
	Slots []Slot `json:"slots"`
	// Language is the detected language, "zh" or "en".
	Language string `json:"language"`
}

// IntentScore is one intent with its probability.
type IntentScore struct {
	// Intent is the intent name.
	Intent string `json:"intent"`
	// Confidence is its probability, 0..1.
	Confidence float64 `json:"confidence"`
}

// Slot is one value found in an utterance.
type Slot struct {
	// Name is what the value means, e.g. "amount", "date".
	Name string `json:"name"`
	// Type is the value's kind, e.g. "money", "datetime", "phone", "number", "yesno".
	Type string `json:"type"`
	// Text is the surface text as said.
	Text string `json:"text"`
	// Value is the normalised value: "3500", "2026-11-26T15:00",
	// "+8613812345678", "yes".
	Value string `json:"value"`
	// Start and End are rune offsets of Text in the utterance.
	Start int `json:"start"`
	End   int `json:"end"`
}

// Understander finds intent and slots in an utterance.
type Understander interface {
	// Understand classifies text.
	Understand(ctx context.Context, text string) (Understanding, error)
}
