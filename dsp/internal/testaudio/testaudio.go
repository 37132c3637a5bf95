// Package testaudio makes test audio for the dsp package and its users: speech
// synthesised by espeak-ng, pure tones, noise mixed at a chosen SNR, and WAV
// files read and written. Everything comes out as 8 kHz mono int16, the one
// audio format between waihu's packages.
//
// It must not import dsp (dsp's own tests import it). espeak-ng, flite and sox run as
// processes: when one is missing a test is skipped with a clear message, unless
// the environment variable CI is set, in which case it fails.
package testaudio

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zaf/g711"
)

// SampleRate is the rate of every slice this package returns, in Hz.
const SampleRate = 8000

// Need skips t (or fails it when CI is set) if the named program is not on PATH.
func Need(t testing.TB, program string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI but not installed: %v", program, err)
		}
		t.Skipf("%s not installed (apt-get install espeak-ng sox); skipping", program)
	}
}

// Espeak synthesises text with espeak-ng using voice (e.g. "en-us", "en+f3",
// "cmn") and extra arguments (e.g. []string{"-s", "150", "-p", "40"}), and
// returns it resampled by sox to 8 kHz mono int16.
func Espeak(t testing.TB, voice string, args []string, text string) []int16 {
	t.Helper()
	Need(t, "espeak-ng")
	dir := t.TempDir()
	raw := filepath.Join(dir, "espeak.wav")
	cmdArgs := append([]string{"-v", voice}, args...)
	cmdArgs = append(cmdArgs, "-w", raw, "--", text)
	if out, err := exec.Command("espeak-ng", cmdArgs...).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng %v: %v: %s", cmdArgs, err, out)
	}
	return File8k(t, raw)
}

// Flite synthesises text with flite using voice ("kal", "awb", "rms", "slt")
// and returns it resampled by sox to 8 kHz mono int16: a second synthesiser,
// so tests do not learn one engine's habits.
func Flite(t testing.TB, voice, text string) []int16 {
	t.Helper()
	Need(t, "flite")
	raw := filepath.Join(t.TempDir(), "flite.wav")
	if out, err := exec.Command("flite", "-voice", voice, "-t", text, "-o", raw).CombinedOutput(); err != nil {
		t.Fatalf("flite -voice %s: %v: %s", voice, err, out)
	}
	return File8k(t, raw)
}

// File8k reads any audio file sox understands (e.g. the 16 kHz WAVs of
// pocketsphinx-testdata) and returns it as 8 kHz mono int16; sox's resampler
// does the anti-alias filtering. Dither is off (-D) so the same input always
// gives the same samples and test figures repeat exactly.
func File8k(t testing.TB, path string) []int16 {
	t.Helper()
	Need(t, "sox")
	out := filepath.Join(t.TempDir(), "8k.wav")
	if msg, err := exec.Command("sox", "-R", "-D", path, "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", out).CombinedOutput(); err != nil {
		t.Fatalf("sox %s: %v: %s", path, err, msg)
	}
	samples, rate, err := ReadWAV(out)
	if err != nil {
		t.Fatalf("read sox output: %v", err)
	}
	if rate != SampleRate {
		t.Fatalf("sox produced %d Hz, want %d", rate, SampleRate)
	}
	return samples
}

// Silence returns d of digital silence at 8 kHz.
func Silence(d time.Duration) []int16 {
	return make([]int16, samplesOf(d))
}

// Tone returns d of the sum of sines at freqsHz, each at levelDBFS, where
// 0 dBFS is a full-scale sine (peak 32767). Phases start at 0.
func Tone(d time.Duration, levelDBFS float64, freqsHz ...float64) []int16 {
	n := samplesOf(d)
	amp := 32767 * math.Pow(10, levelDBFS/20)
	out := make([]int16, n)
	for i := range out {
		var v float64
		for _, f := range freqsHz {
			v += amp * math.Sin(2*math.Pi*f*float64(i)/SampleRate)
		}
		out[i] = clip(v)
	}
	return out
}

// Concat joins parts into one new slice.
func Concat(parts ...[]int16) []int16 {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := make([]int16, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Scale returns x multiplied by 10^(gainDB/20), clipped to int16.
func Scale(x []int16, gainDB float64) []int16 {
	g := math.Pow(10, gainDB/20)
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = clip(float64(v) * g)
	}
	return out
}

// ActivePower is the mean square of x over its active 20 ms blocks: those
// within 40 dB of the loudest block. It approximates ITU-T P.56 active speech
// level closely enough to set an SNR without counting the pauses as signal.
func ActivePower(x []int16) float64 {
	const block = SampleRate / 50
	var powers []float64
	var maxP float64
	for i := 0; i+block <= len(x); i += block {
		var p float64
		for _, v := range x[i : i+block] {
			p += float64(v) * float64(v)
		}
		p /= block
		powers = append(powers, p)
		maxP = math.Max(maxP, p)
	}
	var sum float64
	var n int
	for _, p := range powers {
		if p > 0 && p >= maxP*1e-4 {
			sum += p
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Noise returns n samples of noise of the given kind ("white", "pink" or
// "babble" — a speech-shaped noise: pink noise low-passed near 1 kHz and
// amplitude-modulated at syllable rate) with unit mean square, seeded.
func Noise(kind string, n int, seed int64) ([]float64, error) {
	rng := rand.New(rand.NewSource(seed))
	out := make([]float64, n)
	switch kind {
	case "white":
		for i := range out {
			out[i] = rng.NormFloat64()
		}
	case "pink", "babble":
		// Paul Kellet's economy pink filter: -3 dB/octave within ±0.5 dB.
		var b0, b1, b2 float64
		for i := range out {
			w := rng.NormFloat64()
			b0 = 0.99765*b0 + w*0.0990460
			b1 = 0.96300*b1 + w*0.2965164
			b2 = 0.57000*b2 + w*1.0526913
			out[i] = b0 + b1 + b2 + w*0.1848
		}
		if kind == "babble" {
			var lp float64
			phase := rng.Float64() * 2 * math.Pi
			for i := range out {
				lp += 0.5 * (out[i] - lp)
				mod := 1 + 0.6*math.Sin(phase+2*math.Pi*4*float64(i)/SampleRate)
				out[i] = lp * mod
			}
		}
	default:
		return nil, fmt.Errorf("noise kind %q: want white, pink or babble", kind)
	}
	var p float64
	for _, v := range out {
		p += v * v
	}
	if p > 0 {
		g := 1 / math.Sqrt(p/float64(n))
		for i := range out {
			out[i] *= g
		}
	}
	return out, nil
}

// MixNoise returns speech with noise of kind (see Noise) added so that the
// active level of speech (ActivePower) is snrDB above the noise. An unknown
// kind panics: it is a mistake in the test, not input.
func MixNoise(speech []int16, kind string, snrDB float64, seed int64) []int16 {
	noise, err := Noise(kind, len(speech), seed)
	if err != nil {
		panic(err)
	}
	ps := ActivePower(speech)
	g := math.Sqrt(ps / math.Pow(10, snrDB/10))
	out := make([]int16, len(speech))
	for i, v := range speech {
		out[i] = clip(float64(v) + g*noise[i])
	}
	return out
}

// G711 returns x encoded with G.711 ("ulaw" or "alaw") and decoded again, as
// a call through a PCMU or PCMA trunk would deliver it. An unknown law panics:
// it is a mistake in the test.
func G711(x []int16, law string) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		switch law {
		case "ulaw":
			out[i] = g711.DecodeUlawFrame(g711.EncodeUlawFrame(v))
		case "alaw":
			out[i] = g711.DecodeAlawFrame(g711.EncodeAlawFrame(v))
		default:
			panic("G.711 law " + law + ": want ulaw or alaw")
		}
	}
	return out
}

// Frames cuts x into 20 ms frames of 160 samples, zero-padding the last one.
func Frames(x []int16) [][]int16 {
	const n = SampleRate / 50
	var out [][]int16
	for i := 0; i < len(x); i += n {
		f := make([]int16, n)
		copy(f, x[i:min(i+n, len(x))])
		out = append(out, f)
	}
	return out
}

func samplesOf(d time.Duration) int {
	return int(d.Seconds()*SampleRate + 0.5)
}

func clip(v float64) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(math.Round(v))
}

// WriteWAV writes samples as a 16-bit mono PCM WAV at sampleRate.
func WriteWAV(path string, samples []int16, sampleRate int) error {
	var b bytes.Buffer
	dataLen := 2 * len(samples)
	b.WriteString("RIFF")
	le32(&b, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	le32(&b, 16)
	le16(&b, 1) // PCM
	le16(&b, 1) // mono
	le32(&b, uint32(sampleRate))
	le32(&b, uint32(sampleRate*2))
	le16(&b, 2)
	le16(&b, 16)
	b.WriteString("data")
	le32(&b, uint32(dataLen))
	for _, s := range samples {
		le16(&b, uint16(s))
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// ReadWAV reads a 16-bit PCM WAV and returns its first channel and its rate.
func ReadWAV(path string) ([]int16, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%s: not a RIFF/WAVE file", path)
	}
	var channels, bits, rate int
	var haveFmt bool
	for off := 12; off+8 <= len(data); {
		id := string(data[off : off+4])
		size := int(u32(data[off+4:]))
		body := data[off+8:]
		if size > len(body) {
			size = len(body) // sox writes 0xffffffff sizes when streaming
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, fmt.Errorf("%s: fmt chunk of %d bytes", path, size)
			}
			format := int(u16(body))
			channels = int(u16(body[2:]))
			rate = int(u32(body[4:]))
			bits = int(u16(body[14:]))
			if (format != 1 && format != 0xfffe) || bits != 16 || channels < 1 {
				return nil, 0, fmt.Errorf("%s: format %d, %d bits, %d channels: want 16-bit PCM", path, format, bits, channels)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("%s: data chunk before fmt chunk", path)
			}
			frame := 2 * channels
			out := make([]int16, size/frame)
			for i := range out {
				out[i] = int16(u16(body[i*frame:]))
			}
			return out, rate, nil
		}
		off += 8 + size + size&1
	}
	return nil, 0, fmt.Errorf("%s: no data chunk", path)
}

func le16(b *bytes.Buffer, v uint16) { b.WriteByte(byte(v)); b.WriteByte(byte(v >> 8)) }
func le32(b *bytes.Buffer, v uint32) { le16(b, uint16(v)); le16(b, uint16(v>>16)) }
func u16(b []byte) uint16            { return uint16(b[0]) | uint16(b[1])<<8 }
func u32(b []byte) uint32            { return uint32(u16(b)) | uint32(u16(b[2:]))<<16 }
