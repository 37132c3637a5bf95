package tts

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/waihu/waihu/speech"
)

// CacheConfig configures a Cache. The zero value keeps up to ten minutes of
// audio in memory and nothing on disk.
type CacheConfig struct {
	// Engine names the wrapped engine in cache keys, so two engines never
	// share an entry; empty is allowed when the cache wraps one engine only.
	Engine string
	// Dir, when set, also keeps every line as a raw 8 kHz PCM file named by
	// its hash under Dir, so lines survive restarts and are shared by nodes
	// mounting the same directory.
	Dir string
	// MemorySamples bounds the in-memory LRU; 0 means 4,800,000 (ten
	// minutes, 9.6 MB).
	MemorySamples int
	// Logger receives disk errors, which never fail a synthesis; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Cache serves repeated lines from memory or disk instead of synthesising
// them again. Keys hash the engine, voice, language and text. A line is
// stored only once it was read to the end: a line cut short by barge-in is
// not kept half-spoken. Safe for concurrent use.
type Cache struct {
	inner   speech.Synthesizer
	cfg     CacheConfig
	mu      sync.Mutex
	lru     *list.List // of *cacheEntry, most recent first
	entries map[string]*list.Element
	samples int
	hits    atomic.Int64
	misses  atomic.Int64
}

type cacheEntry struct {
	key string
	pcm []int16
}

var _ speech.Synthesizer = (*Cache)(nil)

// NewCache wraps inner; it creates Dir if needed.
func NewCache(inner speech.Synthesizer, cfg CacheConfig) (*Cache, error) {
	if cfg.MemorySamples == 0 {
		cfg.MemorySamples = 10 * 60 * speech.SampleRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("create tts cache directory: %w", err)
		}
	}
	return &Cache{inner: inner, cfg: cfg, lru: list.New(), entries: map[string]*list.Element{}}, nil
}

// Hits and Misses count lookups, for metrics and tests.
func (c *Cache) Hits() int64 { return c.hits.Load() }

// Misses counts lookups that went to the wrapped engine.
func (c *Cache) Misses() int64 { return c.misses.Load() }

func (c *Cache) key(text string, opts speech.SynthOptions) string {
	h := sha256.New()
	for _, s := range []string{c.cfg.Engine, opts.Voice, opts.Language, text} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) path(key string) string { return filepath.Join(c.cfg.Dir, key[:2], key+".pcm") }

// Synthesize plays a cached line at once, or synthesises and records it.
func (c *Cache) Synthesize(ctx context.Context, text string, opts speech.SynthOptions) (speech.AudioStream, error) {
	key := c.key(text, opts)
	if pcm, ok := c.lookup(key); ok {
		c.hits.Add(1)
		return newMemStream(pcm), nil
	}
	c.misses.Add(1)
	s, err := c.inner.Synthesize(ctx, text, opts)
	if err != nil {
		return nil, err
	}
	return &teeStream{AudioStream: s, cache: c, key: key}, nil
}

func (c *Cache) lookup(key string) ([]int16, bool) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*cacheEntry).pcm, true
	}
	c.mu.Unlock()
	if c.cfg.Dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.cfg.Logger.Warn("tts cache: read entry", "path", c.path(key), "err", err)
		}
		return nil, false
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	c.remember(key, pcm)
	return pcm, true
}

func (c *Cache) remember(key string, pcm []int16) {
	if len(pcm) > c.cfg.MemorySamples {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, pcm: pcm})
	c.samples += len(pcm)
	for c.samples > c.cfg.MemorySamples {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.entries, e.key)
		c.samples -= len(e.pcm)
	}
}

// store keeps a fully read line in memory and on disk. The file is written
// under a temporary name and renamed, so a reader never sees half a line.
func (c *Cache) store(key string, pcm []int16) {
	c.remember(key, pcm)
	if c.cfg.Dir == "" {
		return
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.cfg.Logger.Warn("tts cache: create directory", "err", err)
		return
	}
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	f, err := os.CreateTemp(filepath.Dir(p), key+".*.tmp")
	if err != nil {
		c.cfg.Logger.Warn("tts cache: create entry", "err", err)
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		c.cfg.Logger.Warn("tts cache: write entry", "path", p, "err", errors.Join(werr, cerr))
		return
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		c.cfg.Logger.Warn("tts cache: rename entry", "path", p, "err", err)
	}
}

// teeStream records what it plays and hands it to the cache at the end.
type teeStream struct {
	speech.AudioStream
	cache  *Cache
	key    string
	pcm    []int16
	failed bool
}

// Read implements speech.AudioStream.
func (t *teeStream) Read(dst []int16) error {
	err := t.AudioStream.Read(dst)
	switch {
	case err == nil:
		t.pcm = append(t.pcm, dst[:speech.FrameSamples]...)
	case err == io.EOF:
		if !t.failed {
			t.cache.store(t.key, t.pcm)
			t.failed = true // store once
		}
	default:
		t.failed = true
	}
	return err
}
