// Package tts holds waihu's text-to-speech engines. Each satisfies
// speech.Synthesizer and yields 20 ms frames of 8 kHz mono int16 PCM, read
// as the engine produces them so the first frame plays before the sentence
// is finished:
//
//   - Prompts: recorded WAV prompts keyed by id, plus numbers, amounts,
//     dates and digit strings spoken from recorded clips, in Chinese and
//     English.
//   - Flite: the flite program (voice kal speaks at 8 kHz natively).
//   - Espeak: the espeak-ng program (GPL-3, so only ever run as a separate
//     process), resampled from 22.05 kHz to 8 kHz by sox.
//   - HTTP: any server speaking OpenAI's POST /v1/audio/speech.
//   - Cache: wraps any of them; a repeated line is served from memory or
//     from a content-addressed file instead of being synthesised again.
//
// Closing an AudioStream mid-sentence (barge-in) kills the process or
// aborts the HTTP request at once. Register adds all engines to a
// speech.Registry under the names "prompts", "flite", "espeak" and "http".
package tts
