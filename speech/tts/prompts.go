package tts

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-audio/wav"
	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
)

// ErrNoPrompt is wrapped when a text names a prompt or clip that was not
// recorded.
var ErrNoPrompt = errors.New("prompt not recorded")

// PromptsConfig configures the prompts engine.
type PromptsConfig struct {
	// Dir holds the recordings: every *.wav under it is a prompt whose id is
	// its path relative to Dir without ".wav" ("greeting", "zh/3"). Clips
	// for spoken values live under "zh/" and "en/"; see Prompts.
	Dir string
}

// Prompts plays recorded WAV prompts and speaks values from recorded clips.
// The text to synthesise is a space-separated list of prompt ids and
// values in braces:
//
//	greeting {amount:3500} due_on {date:2026-11-26} thanks
//
// Values are {number:N}, {amount:N.NN}, {digits:138…}, {date:YYYY-MM-DD},
// {time:HH:MM} and {pause:MS}. They are spoken in the language of
// SynthOptions.Language ("zh…" for Chinese, otherwise English) from clips
// under zh/ or en/:
//
//   - zh/0 … zh/9, zh/10 (十), zh/100 (百), zh/1000 (千), zh/10000 (万),
//     zh/100000000 (亿), optional zh/liang (两, used before a unit),
//     zh/yuan, zh/jiao, zh/fen (元 角 分), zh/month (月), zh/day (号),
//     zh/dian (点), zh/minute (分), zh/half (半).
//   - en/0 … en/19, en/20 … en/90 by tens, en/hundred, en/thousand,
//     en/million, en/billion, en/dollar, en/dollars, en/cent, en/cents,
//     en/and, en/month-1 … en/month-12, en/ord-1 … en/ord-31, en/oh, en/am,
//     en/pm.
//
// WAVs of any PCM bit depth and channel count are converted to 8 kHz mono
// when loaded, at rates dsp's resampler supports (8, 16, 24, 32, 48 kHz…);
// others (22.05, 44.1 kHz) are refused with the sox command that converts
// them.
type Prompts struct {
	dir   string
	clips map[string][]int16
}

var _ speech.Synthesizer = (*Prompts)(nil)

// NewPrompts loads every WAV under cfg.Dir.
func NewPrompts(cfg PromptsConfig) (*Prompts, error) {
	if cfg.Dir == "" {
		return nil, &speech.UnavailableError{Missing: "no prompts directory configured", Install: "set dir to a directory of recorded WAV prompts"}
	}
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return nil, &speech.UnavailableError{Missing: fmt.Sprintf("prompts directory %s not found", cfg.Dir), Install: "record prompts as WAV files under it"}
	}
	p := &Prompts{dir: cfg.Dir, clips: map[string][]int16{}}
	err := filepath.WalkDir(cfg.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".wav") {
			return nil
		}
		rel, err := filepath.Rel(cfg.Dir, path)
		if err != nil {
			return err
		}
		pcm, err := LoadWAV(path)
		if err != nil {
			return err
		}
		id := filepath.ToSlash(strings.TrimSuffix(rel, filepath.Ext(rel)))
		p.clips[id] = pcm
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load prompts from %s: %w", cfg.Dir, err)
	}
	return p, nil
}

// maxWAVBytes bounds a prompt file: prompts are sentences, not programmes.
const maxWAVBytes = 64 << 20

// LoadWAV reads a PCM WAV file of any bit depth and channel count and
// returns it as 8 kHz mono samples.
func LoadWAV(path string) (pcm []int16, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read WAV: %w", err)
	}
	if len(b) > maxWAVBytes {
		return nil, fmt.Errorf("read WAV %s: %w: %d bytes is more than a prompt", path, ErrFormat, len(b))
	}
	// go-audio/wav trusts chunk sizes (a corrupt size makes it loop or
	// allocate without bound) and may panic on odd files, so the RIFF
	// structure is checked here first and a panic becomes an error.
	if err := checkRIFF(b); err != nil {
		return nil, fmt.Errorf("read WAV %s: %w", path, err)
	}
	defer func() {
		if r := recover(); r != nil {
			pcm, err = nil, fmt.Errorf("read WAV %s: %w: decoder failed: %v", path, ErrFormat, r)
		}
	}()
	d := wav.NewDecoder(bytes.NewReader(b))
	if !d.IsValidFile() {
		return nil, fmt.Errorf("read WAV %s: %w: not a PCM WAV file", path, ErrFormat)
	}
	if d.WavAudioFormat != 1 && d.WavAudioFormat != 0xFFFE {
		return nil, fmt.Errorf("read WAV %s: %w: format tag %d, need PCM (sox in.wav -e signed-integer -b 16 out.wav)", path, ErrFormat, d.WavAudioFormat)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("read WAV %s: %w", path, err)
	}
	ch := int(d.NumChans)
	bits := int(d.BitDepth)
	if ch < 1 || bits < 8 || bits > 32 || d.SampleRate == 0 {
		return nil, fmt.Errorf("read WAV %s: %w: %d channels, %d bits, %d Hz", path, ErrFormat, ch, bits, d.SampleRate)
	}
	mono := make([]int16, len(buf.Data)/ch)
	for i := range mono {
		var sum int64
		for c := 0; c < ch; c++ {
			v := int64(buf.Data[i*ch+c])
			switch {
			case bits == 8:
				v = (v - 128) << 8 // 8-bit WAV is unsigned
			case bits > 16:
				v >>= uint(bits - 16)
			}
			sum += v
		}
		mono[i] = int16(max(-32768, min(32767, sum/int64(ch))))
	}
	rate := int(d.SampleRate)
	if rate == speech.SampleRate {
		return mono, nil
	}
	res, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: rate, OutRate: speech.SampleRate})
	if err != nil {
		return nil, fmt.Errorf("convert WAV %s from %d Hz: %w: convert it with sox %s -r 8000 -c 1 -b 16 OUT.wav: %w", path, rate, ErrFormat, path, err)
	}
	out := make([]int16, res.MaxOut(len(mono))+res.MaxOut(res.Taps()))
	n := res.Process(out, mono)
	// Flush the filter's delay line so the clip's tail is not cut.
	n += res.Process(out[n:], make([]int16, res.Taps()*rate/speech.SampleRate+1))
	return out[:n], nil
}

// checkRIFF walks the chunks of a RIFF/WAVE file and refuses sizes that
// run past its end, a fmt chunk of an impossible size, or no data chunk.
func checkRIFF(b []byte) error {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return fmt.Errorf("%w: not a RIFF/WAVE file", ErrFormat)
	}
	haveFmt := false
	for pos := 12; pos+8 <= len(b); {
		id, size := string(b[pos:pos+4]), int64(binary.LittleEndian.Uint32(b[pos+4:]))
		if size > int64(len(b)-pos-8) {
			return fmt.Errorf("%w: %q chunk of %d bytes runs past the end of the file", ErrFormat, id, size)
		}
		switch id {
		case "fmt ":
			if size < 16 || size > 64 {
				return fmt.Errorf("%w: fmt chunk of %d bytes", ErrFormat, size)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return fmt.Errorf("%w: data chunk before fmt chunk", ErrFormat)
			}
			return nil
		}
		pos += 8 + int(size) + int(size%2)
	}
	return fmt.Errorf("%w: no data chunk", ErrFormat)
}

// IDs lists the loaded prompt ids.
func (p *Prompts) IDs() []string {
	ids := make([]string, 0, len(p.clips))
	for id := range p.clips {
		ids = append(ids, id)
	}
	return ids
}

// Synthesize concatenates the prompts and spoken values of text.
func (p *Prompts) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	lang := "en"
	if strings.HasPrefix(strings.ToLower(opts.Language), "zh") {
		lang = "zh"
	}
	var pcm []int16
	for _, item := range strings.Fields(text) {
		ids, pause, err := expand(item, lang)
		if err != nil {
			return nil, fmt.Errorf("prompts %q, call %s: %w", item, opts.CallID, err)
		}
		if pause > 0 {
			pcm = append(pcm, make([]int16, int(pause/time.Millisecond)*speech.SampleRate/1000)...)
			continue
		}
		for _, id := range ids {
			if lang == "zh" && id == "zh/liang" {
				if _, ok := p.clips[id]; !ok {
					id = "zh/2"
				}
			}
			clip, ok := p.clips[id]
			if !ok {
				return nil, fmt.Errorf("prompts %q, call %s: %w: %q (record it as %s)", item, opts.CallID, ErrNoPrompt, id, filepath.Join(p.dir, filepath.FromSlash(id)+".wav"))
			}
			pcm = append(pcm, clip...)
		}
	}
	return newMemStream(pcm), nil
}

// expand turns one item of a prompts text into clip ids, or a pause.
func expand(item, lang string) ([]string, time.Duration, error) {
	if !strings.HasPrefix(item, "{") {
		return []string{item}, 0, nil
	}
	kind, value, ok := strings.Cut(strings.Trim(item, "{}"), ":")
	if !ok || !strings.HasSuffix(item, "}") {
		return nil, 0, fmt.Errorf("%w: want {kind:value}", ErrBadValue)
	}
	switch kind {
	case "pause":
		ms, err := strconv.Atoi(value)
		if err != nil || ms < 0 || ms > 10000 {
			return nil, 0, fmt.Errorf("%w: pause of %q ms", ErrBadValue, value)
		}
		return nil, time.Duration(ms) * time.Millisecond, nil
	case "number":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || n >= 1e12 {
			return nil, 0, fmt.Errorf("%w: number %q (0 to 999999999999)", ErrBadValue, value)
		}
		return sayNumber(n, lang), 0, nil
	case "amount":
		return sayAmount(value, lang)
	case "digits":
		var ids []string
		for _, r := range value {
			if r < '0' || r > '9' {
				if r == '+' || r == ' ' || r == '-' {
					continue
				}
				return nil, 0, fmt.Errorf("%w: digits %q", ErrBadValue, value)
			}
			ids = append(ids, lang+"/"+string(r))
		}
		return ids, 0, nil
	case "date":
		t, err := time.Parse("2006-01-02", value)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: date %q (YYYY-MM-DD)", ErrBadValue, value)
		}
		return sayDate(t, lang), 0, nil
	case "time":
		t, err := time.Parse("15:04", value)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: time %q (HH:MM)", ErrBadValue, value)
		}
		return sayTime(t.Hour(), t.Minute(), lang), 0, nil
	}
	return nil, 0, fmt.Errorf("%w: unknown kind %q (number, amount, digits, date, time, pause)", ErrBadValue, kind)
}

// ErrBadValue is wrapped when a {kind:value} item cannot be spoken.
var ErrBadValue = errors.New("bad value in prompt text")
