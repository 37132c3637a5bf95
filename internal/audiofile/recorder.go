package audiofile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
)

// Recorder writes 8 kHz mono 16-bit PCM to a WAV file as a call goes on. The header
// is written with placeholder sizes and patched on Close, so a crash leaves a file
// that most tools still open (they read to the end of the data).
//
// go-audio/wav's encoder goes through encoding/binary per sample, which allocates on
// every frame; a recording runs for every call for its whole length, so it gets this
// small allocation-free writer instead.
type Recorder struct {
	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	scratch [2 * 160]byte
	samples int64
	closed  bool
}

const wavHeaderLen = 44

// Create opens path for writing a recording.
func Create(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	r := &Recorder{f: f, w: bufio.NewWriterSize(f, 32<<10)}
	if _, err := r.w.Write(header(0)); err != nil {
		f.Close()
		return nil, fmt.Errorf("create recording %s: %w", path, err)
	}
	return r, nil
}

// Write appends samples. It is safe to call from one goroutine while another closes.
func (r *Recorder) Write(pcm []int16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return os.ErrClosed
	}
	for len(pcm) > 0 {
		n := min(len(pcm), len(r.scratch)/2)
		for i, v := range pcm[:n] {
			binary.LittleEndian.PutUint16(r.scratch[2*i:], uint16(v))
		}
		if _, err := r.w.Write(r.scratch[:2*n]); err != nil {
			return fmt.Errorf("write recording %s: %w", r.f.Name(), err)
		}
		r.samples += int64(n)
		pcm = pcm[n:]
	}
	return nil
}

// Samples reports how many samples have been written.
func (r *Recorder) Samples() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samples
}

// Close flushes the data, fixes the header sizes and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.w.Flush()
	if err == nil {
		_, err = r.f.WriteAt(header(r.samples*2), 0)
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close recording %s: %w", r.f.Name(), err)
	}
	return nil
}

// header builds a canonical 44-byte PCM WAV header for dataBytes of 8 kHz mono 16-bit.
func header(dataBytes int64) []byte {
	h := make([]byte, wavHeaderLen)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataBytes))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], formatPCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataBytes))
	return h
}

// WriteFile writes a whole 8 kHz mono recording at once.
func WriteFile(path string, pcm []int16) error {
	r, err := Create(path)
	if err != nil {
		return err
	}
	if err := r.Write(pcm); err != nil {
		r.Close()
		return err
	}
	return r.Close()
}
