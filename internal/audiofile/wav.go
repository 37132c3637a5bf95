package audiofile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/go-audio/wav"
	"github.com/zaf/g711"
)

// SampleRate is the rate of all audio inside waihu.
const SampleRate = 8000

// WAV format tags (RFC 2361).
const (
	formatPCM        = 1
	formatFloat      = 3
	formatALaw       = 6
	formatMuLaw      = 7
	formatExtensible = 0xFFFE
)

// ErrUnsupported is returned for WAV files whose encoding waihu cannot convert.
var ErrUnsupported = errors.New("unsupported WAV encoding")

// Info describes the file as it was on disk, before conversion.
type Info struct {
	SampleRate int
	Channels   int
	BitDepth   int
	Format     string // "pcm", "float", "alaw", "ulaw"
}

// ReadFile reads a WAV file and returns its audio as 8 kHz mono int16 PCM.
func ReadFile(path string) ([]int16, Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, fmt.Errorf("read WAV %s: %w", path, err)
	}
	defer f.Close()
	pcm, info, err := Read(f)
	if err != nil {
		return nil, info, fmt.Errorf("read WAV %s: %w", path, err)
	}
	return pcm, info, nil
}

// Read decodes a WAV stream and returns its audio as 8 kHz mono int16 PCM: channels are
// averaged and the rate is converted with a windowed-sinc low-pass, so a 44.1 kHz
// stereo prompt from a studio plays at the right pitch and without aliasing.
func Read(r io.ReadSeeker) ([]int16, Info, error) {
	if err := checkChunks(r); err != nil {
		return nil, Info{}, err
	}
	d := wav.NewDecoder(r)
	if !d.IsValidFile() {
		return nil, Info{}, errors.New("not a RIFF/WAVE file or missing fmt chunk")
	}
	if err := d.FwdToPCM(); err != nil {
		return nil, Info{}, fmt.Errorf("find data chunk: %w", err)
	}
	info := Info{SampleRate: int(d.SampleRate), Channels: int(d.NumChans), BitDepth: int(d.BitDepth)}
	if info.Channels < 1 || info.Channels > 32 {
		return nil, info, fmt.Errorf("%w: %d channels", ErrUnsupported, info.Channels)
	}
	if info.SampleRate < 4000 || info.SampleRate > 384000 {
		return nil, info, fmt.Errorf("%w: sample rate %d Hz", ErrUnsupported, info.SampleRate)
	}
	if d.PCMChunk == nil {
		return nil, info, errors.New("no data chunk")
	}
	// Cap what a hostile header can make us allocate: one hour of 8-channel 48 kHz
	// 32-bit audio is far beyond any prompt.
	const maxBytes = 1 << 30
	raw, err := io.ReadAll(io.LimitReader(d.PCMChunk.R, maxBytes))
	if err != nil {
		return nil, info, fmt.Errorf("read data chunk: %w", err)
	}
	format := int(d.WavAudioFormat)
	if format == formatExtensible {
		// go-audio/wav does not expose the sub-format GUID; extensible files in the
		// wild are integer PCM unless they are 32-bit float, which we cannot tell
		// apart here, so only accept the unambiguous depths.
		if info.BitDepth == 32 {
			return nil, info, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE with 32-bit samples (re-save as plain PCM)", ErrUnsupported)
		}
		format = formatPCM
	}
	info.Format = formatName(format)
	mono, err := decodeSamples(raw, format, info)
	if err != nil {
		return nil, info, err
	}
	return resampleTo8k(mono, info.SampleRate), info, nil
}

// decodeSamples turns raw interleaved samples into mono float64 in [-1, 1].
func decodeSamples(raw []byte, format int, info Info) ([]float64, error) {
	var width int
	switch format {
	case formatPCM:
		switch info.BitDepth {
		case 8, 16, 24, 32:
			width = info.BitDepth / 8
		default:
			return nil, fmt.Errorf("%w: %d-bit PCM", ErrUnsupported, info.BitDepth)
		}
	case formatFloat:
		if info.BitDepth != 32 && info.BitDepth != 64 {
			return nil, fmt.Errorf("%w: %d-bit float", ErrUnsupported, info.BitDepth)
		}
		width = info.BitDepth / 8
	case formatALaw, formatMuLaw:
		if info.BitDepth != 8 {
			return nil, fmt.Errorf("%w: %d-bit G.711", ErrUnsupported, info.BitDepth)
		}
		width = 1
	default:
		return nil, fmt.Errorf("%w: format tag %d", ErrUnsupported, format)
	}
	frameBytes := width * info.Channels
	frames := len(raw) / frameBytes
	out := make([]float64, frames)
	for i := range frames {
		var sum float64
		for c := range info.Channels {
			b := raw[(i*info.Channels+c)*width:]
			sum += sample(b, format, width)
		}
		out[i] = sum / float64(info.Channels)
	}
	return out, nil
}

func formatName(format int) string {
	switch format {
	case formatPCM:
		return "pcm"
	case formatFloat:
		return "float"
	case formatALaw:
		return "alaw"
	case formatMuLaw:
		return "ulaw"
	}
	return fmt.Sprintf("tag %d", format)
}

func sample(b []byte, format, width int) float64 {
	switch format {
	case formatALaw:
		return float64(g711.DecodeAlawFrame(b[0])) / 32768
	case formatMuLaw:
		return float64(g711.DecodeUlawFrame(b[0])) / 32768
	case formatFloat:
		if width == 4 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	switch width {
	case 1: // 8-bit WAV is unsigned
		return (float64(b[0]) - 128) / 128
	case 2:
		return float64(int16(binary.LittleEndian.Uint16(b))) / 32768
	case 3:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / (1 << 23)
	default:
		return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
	}
}

func toInt16(v float64) int16 {
	v *= 32768
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}

// checkChunks walks the RIFF chunk list and rejects sizes that run past the end of
// the file before go-audio/wav sees it: that decoder allocates whatever a chunk
// header claims, so a 60-byte file claiming a 4 GiB LIST chunk would exhaust memory.
func checkChunks(r io.ReadSeeker) error {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("seek: %w", err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek: %w", err)
	}
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return errors.New("not a RIFF/WAVE file: too short")
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return errors.New("not a RIFF/WAVE file")
	}
	var sawFmt, sawData bool
	for pos := int64(12); pos+8 <= size; {
		var ch [8]byte
		if _, err := r.Seek(pos, io.SeekStart); err != nil {
			return fmt.Errorf("seek: %w", err)
		}
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return fmt.Errorf("read chunk header at byte %d: %w", pos, err)
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		id := string(ch[:4])
		if id == "data" {
			// Writers that stream often leave the data size at 0 or 0xFFFFFFFF;
			// the data chunk is last in practice, and its reader is bounded anyway.
			sawData = true
			break
		}
		if pos+8+n > size {
			return fmt.Errorf("chunk %q at byte %d claims %d bytes, past the end of the file (%d bytes)", id, pos, n, size)
		}
		if id == "fmt " {
			if n < 16 {
				return fmt.Errorf("fmt chunk of %d bytes is too short", n)
			}
			sawFmt = true
		}
		pos += 8 + n + n%2
	}
	if !sawFmt {
		return errors.New("missing fmt chunk before the data")
	}
	if !sawData {
		return errors.New("missing data chunk")
	}
	_, err = r.Seek(0, io.SeekStart)
	return err
}
