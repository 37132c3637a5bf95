package audiofile

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/zaf/g711"
)

// makeWAV builds a WAV file in memory from a function of time, independently of the
// reader under test.
func makeWAV(t *testing.T, tag, rate, channels, bits int, seconds float64, f func(t float64) float64) []byte {
	t.Helper()
	n := int(seconds * float64(rate))
	var data bytes.Buffer
	for i := range n {
		v := f(float64(i) / float64(rate))
		for range channels {
			switch {
			case tag == formatMuLaw:
				data.WriteByte(g711.EncodeUlawFrame(int16(v * 32767)))
			case tag == formatALaw:
				data.WriteByte(g711.EncodeAlawFrame(int16(v * 32767)))
			case tag == formatFloat:
				binary.Write(&data, binary.LittleEndian, float32(v))
			case bits == 8:
				data.WriteByte(byte(int(v*127) + 128))
			case bits == 16:
				binary.Write(&data, binary.LittleEndian, int16(v*32767))
			case bits == 24:
				x := int32(v * 8388607)
				data.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
			case bits == 32:
				binary.Write(&data, binary.LittleEndian, int32(v*2147483647))
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data.Len()))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(tag))
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

// toneLevel measures the amplitude of frequency hz in pcm by correlation with a
// complex exponential (one DFT bin), relative to full scale.
func toneLevel(pcm []int16, hz float64) float64 {
	var re, im float64
	for i, v := range pcm {
		ph := 2 * math.Pi * hz * float64(i) / SampleRate
		re += float64(v) * math.Cos(ph)
		im += float64(v) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(len(pcm)) / 32768
}

func TestReadConvertsEveryEncodingTo8kMono(t *testing.T) {
	tone := func(t float64) float64 { return 0.5 * math.Sin(2*math.Pi*1000*t) }
	cases := []struct {
		name                   string
		tag, rate, chans, bits int
	}{
		{"pcm16 8k mono", formatPCM, 8000, 1, 16},
		{"pcm16 16k mono", formatPCM, 16000, 1, 16},
		{"pcm16 44.1k stereo", formatPCM, 44100, 2, 16},
		{"pcm16 48k stereo", formatPCM, 48000, 2, 16},
		{"pcm8 22.05k", formatPCM, 22050, 1, 8},
		{"pcm24 48k", formatPCM, 48000, 1, 24},
		{"pcm32 32k", formatPCM, 32000, 1, 32},
		{"float32 16k", formatFloat, 16000, 1, 32},
		{"ulaw 8k", formatMuLaw, 8000, 1, 8},
		{"alaw 8k", formatALaw, 8000, 1, 8},
		{"ulaw 8k stereo", formatMuLaw, 8000, 2, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := makeWAV(t, c.tag, c.rate, c.chans, c.bits, 1.0, tone)
			pcm, info, err := Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if info.SampleRate != c.rate || info.Channels != c.chans {
				t.Errorf("info = %+v", info)
			}
			if d := len(pcm) - 8000; d < -2 || d > 2 {
				t.Errorf("got %d samples, want 8000", len(pcm))
			}
			// Skip the filter's edge transients.
			if lvl := toneLevel(pcm[200:len(pcm)-200], 1000); math.Abs(lvl-0.5) > 0.03 {
				t.Errorf("1 kHz level = %.3f, want 0.5", lvl)
			}
		})
	}
}

func TestReadRemovesContentAboveNyquistInsteadOfAliasing(t *testing.T) {
	// 6 kHz at 44.1 kHz would fold to 2 kHz at 8 kHz without a low-pass.
	raw := makeWAV(t, formatPCM, 44100, 1, 16, 1.0, func(t float64) float64 { return 0.5 * math.Sin(2*math.Pi*6000*t) })
	pcm, _, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	lvl := toneLevel(pcm[200:len(pcm)-200], 2000)
	if db := 20 * math.Log10(lvl/0.5); db > -60 {
		t.Errorf("alias at 2 kHz only %.1f dB down, want ≤ -60 dB", db)
	}
}

func TestReadRejectsBadFilesWithAnError(t *testing.T) {
	good := makeWAV(t, formatPCM, 8000, 1, 16, 0.1, func(float64) float64 { return 0 })
	adpcm := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(adpcm[20:], 2) // MS ADPCM
	zeroChans := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(zeroChans[22:], 0)
	cases := map[string][]byte{
		"empty":         {},
		"garbage":       []byte("this is not a wav file at all, not even close"),
		"truncated":     good[:30],
		"adpcm":         adpcm,
		"zero channels": zeroChans,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Read(bytes.NewReader(raw)); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestRecorderRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.wav")
	r, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int16, 0, 8000)
	frame := make([]int16, 160)
	for f := range 50 {
		for i := range frame {
			frame[i] = int16((f*160 + i) % 30000)
		}
		want = append(want, frame...)
		if err := r.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(frame); err == nil {
		t.Error("write after close succeeded")
	}
	got, info, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.SampleRate != 8000 || info.Channels != 1 || info.BitDepth != 16 {
		t.Errorf("info %+v", info)
	}
	if len(got) != len(want) {
		t.Fatalf("len %d want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d = %d want %d", i, got[i], want[i])
		}
	}
	st, _ := os.Stat(path)
	if st.Size() != wavHeaderLen+int64(2*len(want)) {
		t.Errorf("size %d", st.Size())
	}
}

func BenchmarkRecorderWriteFrame(b *testing.B) {
	r, err := Create(filepath.Join(b.TempDir(), "b.wav"))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	frame := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(makeWAV(&testing.T{}, formatPCM, 8000, 1, 16, 0.01, func(float64) float64 { return 0.1 }))
	f.Add(makeWAV(&testing.T{}, formatMuLaw, 16000, 2, 8, 0.01, func(float64) float64 { return 0.1 }))
	f.Fuzz(func(t *testing.T, raw []byte) {
		Read(bytes.NewReader(raw)) // must not panic
	})
}
