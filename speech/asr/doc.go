// Package asr adapts external speech recognisers to speech.Recognizer:
//
//   - Vosk: the vosk-server WebSocket protocol (streaming, with partials).
//   - Transcribe: OpenAI-compatible POST /v1/audio/transcriptions, as
//     served by whisper.cpp's server, faster-whisper servers and others
//     (one request per utterance, finals only).
//
// Both take the pipeline's 20 ms frames of 8 kHz PCM. Failures surface as
// the package's Err… values (ErrUnreachable, ErrServer, ErrTimeout,
// ErrClosed), wrapped with what was attempted, so the dialog engine can
// fall back (re-prompt, switch to DTMF, transfer) instead of waiting.
//
// A stream's Write and EndUtterance are called from one goroutine (the
// call's audio leg); EndUtterance blocks until the final result is on the
// Results channel or the configured time-out passes. Close may be called
// from any goroutine.
package asr

import "errors"

// ErrUnreachable is wrapped when the recognition server cannot be reached.
var ErrUnreachable = errors.New("asr server unreachable")

// ErrServer is wrapped when the server answered with an error, closed the
// connection mid-utterance or sent something that breaks its protocol.
var ErrServer = errors.New("asr server error")

// ErrTimeout is wrapped when a final result did not come in time.
var ErrTimeout = errors.New("asr server timed out")

// ErrClosed is returned by a stream's methods after Close.
var ErrClosed = errors.New("asr stream closed")
