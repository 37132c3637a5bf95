// Package audiofile reads and writes the WAV files waihu meets at its edges: prompts
// that users record in whatever format their tool produced, and per-call recordings.
//
// Everything inside waihu is 8 kHz mono int16 PCM (DESIGN.md), so Read converts any
// PCM, IEEE-float, µ-law or A-law WAV of any rate and channel count into that, and
// Recorder writes it back out as a 16-bit PCM WAV a user can open anywhere.
package audiofile
