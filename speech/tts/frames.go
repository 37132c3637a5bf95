package tts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// ErrShortFrame is returned by Read when dst holds fewer than 160 samples.
var ErrShortFrame = errors.New("tts: Read needs a buffer of 160 samples")

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("tts: stream closed")

// memStream plays PCM already in memory: a cached line or recorded prompts.
type memStream struct {
	pcm    []int16
	pos    int
	closed bool
}

func newMemStream(pcm []int16) *memStream { return &memStream{pcm: pcm} }

// Read implements speech.AudioStream.
func (m *memStream) Read(dst []int16) error {
	if len(dst) < speech.FrameSamples {
		return ErrShortFrame
	}
	if m.closed {
		return ErrClosed
	}
	if m.pos >= len(m.pcm) {
		return io.EOF
	}
	n := copy(dst[:speech.FrameSamples], m.pcm[m.pos:])
	clear(dst[n:speech.FrameSamples])
	m.pos += n
	return nil
}

// Close implements speech.AudioStream.
func (m *memStream) Close() error {
	m.closed = true
	return nil
}

// pcmFormat describes raw little-endian PCM arriving from a process or a
// server.
type pcmFormat struct {
	rate     int
	channels int
}

// frameReader turns a byte stream of 16-bit little-endian PCM at any rate
// and channel count into 8 kHz mono frames, converting as bytes arrive.
type frameReader struct {
	src      io.Reader
	format   pcmFormat
	res      *dsp.Resampler // nil when the source is already 8 kHz
	raw      []byte
	mono     []int16
	resOut   []int16 // resampler output, reused across reads
	pending  []int16 // converted samples not yet returned
	eof      bool
	leftover []byte // an odd trailing byte or partial multichannel sample
}

// newFrameReader checks that the rate can be converted: dsp's resampler
// handles integer-ish ratios (16, 24, 32, 48 kHz), not 22.05 or 44.1 kHz.
func newFrameReader(src io.Reader, f pcmFormat) (*frameReader, error) {
	if f.channels < 1 || f.channels > 8 {
		return nil, fmt.Errorf("convert %d-channel audio: %w", f.channels, ErrFormat)
	}
	fr := &frameReader{src: src, format: f, raw: make([]byte, 4096)}
	if f.rate != speech.SampleRate {
		res, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: f.rate, OutRate: speech.SampleRate})
		if err != nil {
			return nil, fmt.Errorf("convert %d Hz audio to 8 kHz (convert it first, e.g. sox in.wav -r 8000 -c 1 out.wav): %w: %w", f.rate, ErrFormat, err)
		}
		fr.res = res
	}
	return fr, nil
}

// ErrFormat is wrapped by errors about audio the engine cannot convert.
var ErrFormat = errors.New("unsupported audio format")

// Read fills one frame, padding the last with silence; io.EOF after it.
func (fr *frameReader) Read(dst []int16) error {
	if len(dst) < speech.FrameSamples {
		return ErrShortFrame
	}
	for len(fr.pending) < speech.FrameSamples && !fr.eof {
		if err := fr.fill(); err != nil {
			return err
		}
	}
	if len(fr.pending) == 0 {
		return io.EOF
	}
	n := copy(dst[:speech.FrameSamples], fr.pending)
	clear(dst[n:speech.FrameSamples])
	fr.pending = fr.pending[:copy(fr.pending, fr.pending[n:])]
	return nil
}

func (fr *frameReader) fill() error {
	copy(fr.raw, fr.leftover)
	n, err := fr.src.Read(fr.raw[len(fr.leftover):])
	n += len(fr.leftover)
	if err == io.EOF {
		fr.eof = true
	} else if err != nil {
		return err
	}
	step := 2 * fr.format.channels
	whole := n - n%step
	fr.leftover = append(fr.leftover[:0], fr.raw[whole:n]...)
	fr.mono = fr.mono[:0]
	for i := 0; i < whole; i += step {
		var sum int
		for c := 0; c < fr.format.channels; c++ {
			sum += int(int16(binary.LittleEndian.Uint16(fr.raw[i+2*c:])))
		}
		fr.mono = append(fr.mono, int16(sum/fr.format.channels))
	}
	if fr.res == nil {
		fr.pending = append(fr.pending, fr.mono...)
		return nil
	}
	if need := fr.res.MaxOut(len(fr.mono)); cap(fr.resOut) < need {
		fr.resOut = make([]int16, need)
	}
	w := fr.res.Process(fr.resOut[:cap(fr.resOut)], fr.mono)
	fr.pending = append(fr.pending, fr.resOut[:w]...)
	return nil
}
