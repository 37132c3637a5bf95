package tts

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

// countingSynth makes a distinct ramp per text and counts its calls.
type countingSynth struct{ calls atomic.Int32 }

func (c *countingSynth) Synthesize(_ context.Context, text string, _ speech.SynthOptions) (speech.AudioStream, error) {
	c.calls.Add(1)
	pcm := make([]int16, 1000+len(text)*10)
	for i := range pcm {
		pcm[i] = int16(i + len(text))
	}
	return newMemStream(pcm), nil
}

func TestCacheServesRepeatedLinesWithoutTheEngine(t *testing.T) {
	dir := t.TempDir()
	inner := &countingSynth{}
	c, err := NewCache(inner, CacheConfig{Engine: "fake", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := speech.SynthOptions{Voice: "v", Language: "en-US"}
	first, _ := readStream(t, mustSynth(t, c, "hello there", opts), time.Now())
	start := time.Now()
	again, latency := readStream(t, mustSynth(t, c, "hello there", opts), start)
	if inner.calls.Load() != 1 || c.Hits() != 1 || c.Misses() != 1 {
		t.Fatalf("engine calls %d, hits %d, misses %d", inner.calls.Load(), c.Hits(), c.Misses())
	}
	if !equal(first, again) {
		t.Fatal("cached audio differs from the first synthesis")
	}
	t.Logf("cached first frame after %v", latency)
	if latency > 5*time.Millisecond {
		t.Errorf("cached first frame after %v, want < 5 ms", latency)
	}
	// Another voice is another line.
	readStream(t, mustSynth(t, c, "hello there", speech.SynthOptions{Voice: "w"}), time.Now())
	if inner.calls.Load() != 2 {
		t.Errorf("voice not in the key: %d calls", inner.calls.Load())
	}
	// A fresh cache on the same directory finds the line on disk.
	c2, err := NewCache(inner, CacheConfig{Engine: "fake", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fromDisk, _ := readStream(t, mustSynth(t, c2, "hello there", opts), time.Now())
	if inner.calls.Load() != 2 || !equal(first, fromDisk) {
		t.Errorf("disk entry not used: %d calls", inner.calls.Load())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.pcm"))
	if len(files) != 2 {
		t.Errorf("%d cache files, want 2", len(files))
	}
}

func TestCacheDoesNotKeepLinesCutByBargeIn(t *testing.T) {
	inner := &countingSynth{}
	c, err := NewCache(inner, CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s := mustSynth(t, c, "interrupted", speech.SynthOptions{})
	if err := s.Read(make([]int16, speech.FrameSamples)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	readStream(t, mustSynth(t, c, "interrupted", speech.SynthOptions{}), time.Now())
	if inner.calls.Load() != 2 {
		t.Fatalf("half-played line was cached: %d engine calls", inner.calls.Load())
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	inner := &countingSynth{}
	c, err := NewCache(inner, CacheConfig{MemorySamples: 2500})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"a", "b", "a", "c", "a", "b"} {
		readStream(t, mustSynth(t, c, text, speech.SynthOptions{}), time.Now())
	}
	// Each line is ~1120 samples: two fit. a stays hot; b is evicted by c.
	if got := inner.calls.Load(); got != 4 {
		t.Errorf("%d engine calls, want 4 (a, b, c, b again)", got)
	}
}

func TestCacheDirectoryErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := NewCache(&countingSynth{}, CacheConfig{Dir: filepath.Join(f, "sub")}); err == nil {
		t.Fatal("cache under a file: no error")
	}
}

func mustSynth(t testing.TB, s speech.Synthesizer, text string, opts speech.SynthOptions) speech.AudioStream {
	t.Helper()
	st, err := s.Synthesize(bg, text, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkFirstFrameCached(b *testing.B) {
	c, err := NewCache(&countingSynth{}, CacheConfig{})
	if err != nil {
		b.Fatal(err)
	}
	readStream(b, mustSynth(b, c, "hello", speech.SynthOptions{}), time.Now())
	frame := make([]int16, speech.FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := c.Synthesize(bg, "hello", speech.SynthOptions{})
		if err := s.Read(frame); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
