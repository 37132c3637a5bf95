package tts

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/go-audio/audio"
	"github.com/go-audio/wav"
	"github.com/waihu/waihu/speech"
)

// requireProgram skips when a program is missing on a developer machine
// and fails in CI, where .ci/run installs it.
func requireProgram(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed in CI: %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install %s); skipping", name, name)
	}
}

// readStream reads a whole stream and reports when the first frame came.
func readStream(t testing.TB, s speech.AudioStream, started time.Time) ([]int16, time.Duration) {
	t.Helper()
	var pcm []int16
	var first time.Duration
	frame := make([]int16, speech.FrameSamples)
	for {
		err := s.Read(frame)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d samples: %v", len(pcm), err)
		}
		if pcm == nil {
			first = time.Since(started)
		}
		pcm = append(pcm, frame...)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return pcm, first
}

func rms(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(1, len(pcm))))
}

// writeWAV writes a tone of the given length as a WAV file.
func writeWAV(t testing.TB, path string, rate, channels, bits int, seconds float64, freq float64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := int(seconds * float64(rate))
	buf := &audio.IntBuffer{Format: &audio.Format{NumChannels: channels, SampleRate: rate}, SourceBitDepth: bits, Data: make([]int, n*channels)}
	full := float64(int(1)<<(bits-1)) * 0.5
	for i := 0; i < n; i++ {
		v := int(full * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		if bits == 8 {
			v += 128
		}
		for c := 0; c < channels; c++ {
			buf.Data[i*channels+c] = v
		}
	}
	enc := wav.NewEncoder(f, rate, bits, channels, 1)
	if err := enc.Write(buf); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
}

// wavStreamHeader is a 16-bit PCM WAV header with placeholder sizes, as
// streaming servers send it.
func wavStreamHeader(rate, channels int) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 0xFFFFFFFF)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], 0xFFFFFFFF)
	return h
}

// tonePCM is little-endian 16-bit mono PCM of a tone.
func tonePCM(rate int, seconds, freq float64) []byte {
	n := int(seconds * float64(rate))
	b := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(8000*math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))))
	}
	return b
}

var bg = context.Background()

func execCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
