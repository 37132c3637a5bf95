// Package dsp holds the signal processing that runs on every call leg: framing,
// windows, FFT and power spectrum, mel filter banks, MFCC with deltas and
// cepstral mean normalisation, energy in dBFS, pitch (YIN), voice activity
// detection, 8 kHz ↔ 16 kHz resampling, and a Chain that runs the per-frame
// analysers together.
//
// Audio between packages is 20 ms frames of 8 kHz mono int16 PCM (160
// samples). Analysers that need longer windows (25 ms MFCC windows with a
// 10 ms hop, 40 ms pitch buffers) keep their own history across frames.
//
// Every analyser is a value built from a Config struct whose zero value
// gives the documented defaults; there is no package-level mutable state.
// Per-frame methods write into caller-owned slices and allocate nothing once
// constructed, so thousands of legs can run side by side. Bad input (short,
// empty or oversized slices, NaNs) never panics: methods return an error,
// zero results, or process what fits, as documented per method.
//
// This package imports no other package of the project, so speech engines
// can reuse its FFT, mel filter bank and resampler with their own parameters
// (sample rate, FFT size, filter count and edges, filter normalisation, mel
// formula, DCT scaling).
package dsp
