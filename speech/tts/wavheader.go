package tts

import (
	"encoding/binary"
	"fmt"
	"io"
)

// readWAVHeader reads a RIFF/WAVE header from a stream up to the start of
// the data chunk, so the samples can be read as they arrive. Streaming
// writers (espeak-ng --stdout, servers) put a placeholder size in the
// headers; it is ignored. Only 16-bit PCM is accepted.
func readWAVHeader(r io.Reader) (pcmFormat, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return pcmFormat{}, fmt.Errorf("read WAV header: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return pcmFormat{}, fmt.Errorf("read WAV header: not a RIFF/WAVE stream: %w", ErrFormat)
	}
	var f pcmFormat
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return pcmFormat{}, fmt.Errorf("read WAV chunk header: %w", err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return pcmFormat{}, fmt.Errorf("read WAV fmt chunk of %d bytes: %w", size, ErrFormat)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return pcmFormat{}, fmt.Errorf("read WAV fmt chunk: %w", err)
			}
			tag := binary.LittleEndian.Uint16(b[0:2])
			f.channels = int(binary.LittleEndian.Uint16(b[2:4]))
			f.rate = int(binary.LittleEndian.Uint32(b[4:8]))
			bits := binary.LittleEndian.Uint16(b[14:16])
			if (tag != 1 && tag != 0xFFFE) || bits != 16 {
				return pcmFormat{}, fmt.Errorf("WAV with format tag %d and %d bits: %w: need 16-bit PCM", tag, bits, ErrFormat)
			}
			if f.rate <= 0 || f.rate > 192000 {
				return pcmFormat{}, fmt.Errorf("WAV at %d Hz: %w", f.rate, ErrFormat)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return pcmFormat{}, fmt.Errorf("WAV data before fmt chunk: %w", ErrFormat)
			}
			return f, nil
		default:
			if size > 1<<20 {
				return pcmFormat{}, fmt.Errorf("WAV %q chunk of %d bytes before the data: %w", id, size, ErrFormat)
			}
			if _, err := io.CopyN(io.Discard, r, int64(size+size%2)); err != nil {
				return pcmFormat{}, fmt.Errorf("skip WAV %q chunk: %w", id, err)
			}
		}
	}
}
