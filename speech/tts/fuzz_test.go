package tts

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzReadWAVHeader(f *testing.F) {
	f.Add(wavStreamHeader(8000, 1))
	f.Add(wavStreamHeader(22050, 2))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fm, err := readWAVHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if fr, err := newFrameReader(bytes.NewReader(b), fm); err == nil {
			frame := make([]int16, 160)
			for i := 0; i < 100 && fr.Read(frame) == nil; i++ {
			}
		}
	})
}

func FuzzLoadWAV(f *testing.F) {
	dir := f.TempDir()
	for i, rate := range []int{8000, 16000} {
		p := filepath.Join(dir, "seed.wav")
		writeWAV(f, p, rate, 1+i, 16, 0.01, 300)
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "x.wav")
		os.WriteFile(p, b, 0o644)
		LoadWAV(p) // must not panic
	})
}
