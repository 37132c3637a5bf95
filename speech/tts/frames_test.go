package tts

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/waihu/waihu/speech"
)

func TestFrameReaderConvertsRatesAndChannels(t *testing.T) {
	tests := []struct {
		name     string
		format   pcmFormat
		bytesIn  int
		wantSamp int // 8 kHz samples before padding, ± the filter's delay
		err      error
	}{
		{"8 kHz mono passes through", pcmFormat{8000, 1}, 2 * 1000, 1000, nil},
		{"24 kHz is divided by three", pcmFormat{24000, 1}, 2 * 24000, 8000, nil},
		{"16 kHz stereo is mixed and halved", pcmFormat{16000, 2}, 4 * 16000, 8000, nil},
		{"22.05 kHz is refused", pcmFormat{22050, 1}, 0, 0, ErrFormat},
		{"no channels is refused", pcmFormat{8000, 0}, 0, 0, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr, err := newFrameReader(bytes.NewReader(make([]byte, tc.bytesIn)), tc.format)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			frame := make([]int16, speech.FrameSamples)
			for {
				err := fr.Read(frame)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n += speech.FrameSamples
			}
			if n < tc.wantSamp || n > tc.wantSamp+speech.FrameSamples {
				t.Errorf("%d samples, want %d padded to whole frames", n, tc.wantSamp)
			}
		})
	}
	if err := newMemStream(nil).Read(make([]int16, 10)); !errors.Is(err, ErrShortFrame) {
		t.Errorf("short buffer: %v", err)
	}
}

// loopReader repeats a buffer forever, to measure steady-state reading.
type loopReader struct {
	b   []byte
	pos int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.pos:])
	l.pos = (l.pos + n) % len(l.b)
	return n, nil
}

func BenchmarkFrameReader24kHz(b *testing.B) {
	fr, err := newFrameReader(&loopReader{b: tonePCM(24000, 1, 440)}, pcmFormat{24000, 1})
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, speech.FrameSamples)
	for i := 0; i < 100; i++ { // warm up buffers
		fr.Read(frame)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := fr.Read(frame); err != nil {
			b.Fatal(err)
		}
	}
}
