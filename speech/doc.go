// Package speech holds the engine-neutral types of waihu's speech pipeline:
// streaming recognition (Recognizer), synthesis (Synthesizer) and
// understanding (Understander), plus a Registry that builds engines by the
// name a configuration file gives.
//
// Audio crossing these interfaces is always 20 ms frames of 8 kHz mono int16
// PCM (160 samples, FrameSamples). An engine that wants another rate converts
// at its own door, so callers never care which engine they talk to.
//
// Engines live in sub-packages: speech/nlu (intent classifier and slot
// extraction), speech/tts (recorded prompts, flite, espeak-ng, HTTP, cache)
// and speech/asr (adapters to Vosk and OpenAI-compatible transcription
// servers). The native recogniser is in speech/sphinx.
package speech
