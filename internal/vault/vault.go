package vault

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Errors of opening a recording. Each is wrapped with the file and key id.
var (
	// ErrNotEncrypted: the data does not start with the vault's header.
	ErrNotEncrypted = errors.New("not an encrypted recording")
	// ErrUnknownKey: the file names a key id the keyring does not hold.
	ErrUnknownKey = errors.New("recording key not in the keyring")
	// ErrWrongKey: the keyring holds a key of that id, but not the one the
	// file was written with.
	ErrWrongKey = errors.New("recording key does not match the file")
	// ErrTampered: a chunk fails authentication (edited, reordered, replaced).
	ErrTampered = errors.New("recording is damaged or was tampered with")
	// ErrTruncated: the file ends before its final chunk.
	ErrTruncated = errors.New("recording is truncated")
)

const (
	magic      = "WAIHUVLT"
	version    = 1
	saltLen    = 16
	prefixLen  = 7
	checkLen   = 16
	tagLen     = 16
	nonceLen   = 12
	fixedStart = len(magic) + 1 + 4 + 1 // magic, version, chunk size, key id length

	// DefaultChunkSize is the plaintext bytes per sealed chunk: 64 KiB,
	// about four seconds of 8 kHz 16-bit audio.
	DefaultChunkSize = 64 << 10
	// MaxChunkSize bounds the chunk size a file may declare, so a hostile
	// header cannot make Open allocate without limit.
	MaxChunkSize = 16 << 20
)

// Config configures a Vault.
type Config struct {
	// Keys holds the master keys; the current one encrypts new files. Required.
	Keys *Keyring
	// ChunkSize is the plaintext bytes per chunk of new files. Default
	// DefaultChunkSize; at most MaxChunkSize.
	ChunkSize int
}

// Vault encrypts and decrypts recordings with a keyring. It is safe for
// concurrent use.
type Vault struct {
	keys      *Keyring
	chunkSize int
}

// New returns a Vault.
func New(cfg Config) (*Vault, error) {
	if cfg.Keys == nil || cfg.Keys.Current() == "" {
		return nil, errors.New("vault: no recording key configured")
	}
	v := &Vault{keys: cfg.Keys, chunkSize: cfg.ChunkSize}
	if v.chunkSize == 0 {
		v.chunkSize = DefaultChunkSize
	}
	if v.chunkSize < 1 || v.chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("vault: chunk size %d outside 1…%d", v.chunkSize, MaxChunkSize)
	}
	return v, nil
}

// CurrentKey is the id of the key new files are written with.
func (v *Vault) CurrentKey() string { return v.keys.Current() }

// header is a parsed file header.
type header struct {
	raw       []byte // the bytes as written: every chunk's associated data
	chunkSize int
	keyID     string
	salt      [saltLen]byte
	prefix    [prefixLen]byte
	check     [checkLen]byte
}

// fileKeys derives the file's AES key and its key check from the master key.
func fileKeys(master [KeySize]byte, salt []byte, keyID string) (cipher.AEAD, [checkLen]byte, error) {
	var check [checkLen]byte
	k, err := hkdf.Key(sha256.New, master[:], salt, "waihu recording v1 "+keyID, KeySize)
	if err != nil {
		return nil, check, fmt.Errorf("derive file key: %w", err)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte("waihu recording key check"))
	copy(check[:], mac.Sum(nil))
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, check, fmt.Errorf("file key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, check, fmt.Errorf("file key: %w", err)
	}
	return aead, check, nil
}

// stream is the sealing state shared by Writer and Reader.
type stream struct {
	aead  cipher.AEAD
	ad    []byte
	nonce [nonceLen]byte
	index uint32
}

func (s *stream) setNonce(last bool) {
	binary.BigEndian.PutUint32(s.nonce[prefixLen:], s.index)
	s.nonce[nonceLen-1] = 0
	if last {
		s.nonce[nonceLen-1] = 1
	}
}

func (s *stream) next() error {
	if s.index == ^uint32(0) {
		return errors.New("recording too long: chunk counter exhausted")
	}
	s.index++
	return nil
}

// Writer encrypts what is written to it; Close seals the final chunk.
type Writer struct {
	w      io.Writer
	s      stream
	chunk  int
	buf    []byte // plaintext of the open chunk
	out    []byte // sealed chunk scratch
	closed bool
	err    error
}

// NewWriter returns a Writer that writes an encrypted recording to w with
// the current key. Close does not close w.
func (v *Vault) NewWriter(w io.Writer) (*Writer, error) {
	id := v.keys.Current()
	master, _ := v.keys.key(id)
	h := make([]byte, 0, fixedStart+len(id)+saltLen+prefixLen+checkLen)
	h = append(h, magic...)
	h = append(h, version)
	h = binary.BigEndian.AppendUint32(h, uint32(v.chunkSize))
	h = append(h, byte(len(id)))
	h = append(h, id...)
	random := make([]byte, saltLen+prefixLen)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("new encrypted recording: %w", err)
	}
	h = append(h, random...)
	aead, check, err := fileKeys(master, random[:saltLen], id)
	if err != nil {
		return nil, fmt.Errorf("new encrypted recording with key %q: %w", id, err)
	}
	h = append(h, check[:]...)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	wr := &Writer{w: w, chunk: v.chunkSize, buf: make([]byte, 0, v.chunkSize), out: make([]byte, 0, v.chunkSize+tagLen)}
	wr.s.aead, wr.s.ad = aead, h
	copy(wr.s.nonce[:prefixLen], random[saltLen:])
	return wr, nil
}

// Write buffers p and seals every chunk that fills. A full chunk is sealed
// only once more data follows, so that the last chunk, full or not, is the
// one Close seals with the final flag.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, os.ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.chunk {
			if err := w.seal(false); err != nil {
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):w.chunk], p)
		w.buf = w.buf[:len(w.buf)+c]
		p, n = p[c:], n+c
	}
	return n, nil
}

func (w *Writer) seal(last bool) error {
	w.s.setNonce(last)
	w.out = w.s.aead.Seal(w.out[:0], w.s.nonce[:], w.buf, w.s.ad)
	if _, err := w.w.Write(w.out); err != nil {
		w.err = fmt.Errorf("write encrypted recording: %w", err)
		return w.err
	}
	w.buf = w.buf[:0]
	if !last {
		if err := w.s.next(); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// Close seals the final chunk. It must be called, or the file reads as
// truncated.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	return w.seal(true)
}

// readHeader parses the header from r.
func readHeader(r io.Reader) (*header, error) {
	fixed := make([]byte, fixedStart)
	if _, err := io.ReadFull(r, fixed); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrNotEncrypted
		}
		return nil, err
	}
	if string(fixed[:len(magic)]) != magic {
		return nil, ErrNotEncrypted
	}
	if v := fixed[len(magic)]; v != version {
		return nil, fmt.Errorf("%w: format version %d, this waihu reads %d", ErrNotEncrypted, v, version)
	}
	h := &header{chunkSize: int(binary.BigEndian.Uint32(fixed[len(magic)+1:]))}
	if h.chunkSize < 1 || h.chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d", ErrTampered, h.chunkSize)
	}
	rest := make([]byte, int(fixed[fixedStart-1])+saltLen+prefixLen+checkLen)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, fmt.Errorf("%w: header cut short", ErrTruncated)
	}
	idLen := int(fixed[fixedStart-1])
	h.keyID = string(rest[:idLen])
	if err := checkKeyID(h.keyID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTampered, err)
	}
	copy(h.salt[:], rest[idLen:])
	copy(h.prefix[:], rest[idLen+saltLen:])
	copy(h.check[:], rest[idLen+saltLen+prefixLen:])
	h.raw = append(fixed, rest...)
	return h, nil
}

// Reader decrypts a recording. It returns only authenticated bytes, and an
// error, never io.EOF, if the file ends early or a chunk was altered.
type Reader struct {
	r     *bufio.Reader
	s     stream
	keyID string
	in    []byte // sealed chunk
	plain []byte
	pos   int
	done  bool
	err   error
}

// KeyID names the key the recording was written with.
func (r *Reader) KeyID() string { return r.keyID }

// NewReader reads the header from r and checks that the keyring holds the
// file's key.
func (v *Vault) NewReader(r io.Reader) (*Reader, error) {
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	master, ok := v.keys.key(h.keyID)
	if !ok {
		return nil, fmt.Errorf("%w: the file needs key %q; add it to the key file (or WAIHU_RECORDING_KEY) to read the file",
			ErrUnknownKey, h.keyID)
	}
	aead, check, err := fileKeys(master, h.salt[:], h.keyID)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(check[:], h.check[:]) {
		return nil, fmt.Errorf("%w: key %q in the keyring is not the key %q this file was written with", ErrWrongKey, h.keyID, h.keyID)
	}
	rd := &Reader{r: bufio.NewReaderSize(r, 32<<10), keyID: h.keyID, in: make([]byte, h.chunkSize+tagLen),
		plain: make([]byte, 0, h.chunkSize)}
	rd.s.aead, rd.s.ad = aead, h.raw
	copy(rd.s.nonce[:prefixLen], h.prefix[:])
	return rd, nil
}

// Read decrypts into p.
func (r *Reader) Read(p []byte) (int, error) {
	for r.pos == len(r.plain) {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.fill()
	}
	n := copy(p, r.plain[r.pos:])
	r.pos += n
	return n, nil
}

// fill opens the next chunk.
func (r *Reader) fill() error {
	n, err := io.ReadFull(r.r, r.in)
	last := false
	switch {
	case err == nil:
		// A full chunk is the last one only if nothing follows it.
		if _, perr := r.r.Peek(1); perr == io.EOF {
			last = true
		} else if perr != nil {
			return fmt.Errorf("read recording: %w", perr)
		}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if n < tagLen {
			return fmt.Errorf("%w: ends inside chunk %d, before its final chunk", ErrTruncated, r.s.index)
		}
		last = true
	default:
		return fmt.Errorf("read recording: %w", err)
	}
	r.s.setNonce(last)
	plain, oerr := r.s.aead.Open(r.plain[:0], r.s.nonce[:], r.in[:n], r.s.ad)
	if oerr != nil {
		if last {
			// Does it open as a middle chunk? Then the file was cut cleanly
			// after it, and the final chunk is what is missing.
			r.s.setNonce(false)
			if _, e := r.s.aead.Open(r.plain[:0], r.s.nonce[:], r.in[:n], r.s.ad); e == nil {
				return fmt.Errorf("%w: ends after chunk %d without its final chunk", ErrTruncated, r.s.index)
			}
		}
		return fmt.Errorf("%w: chunk %d fails authentication", ErrTampered, r.s.index)
	}
	r.plain, r.pos = plain, 0
	if last {
		r.done = true
		return nil
	}
	return r.s.next()
}

// file pairs a Reader with the file it reads, for Open.
type file struct {
	*Reader
	f *os.File
}

func (f file) Close() error { return f.f.Close() }

// Open opens an encrypted recording for reading. Errors name the file and,
// for key problems, the key id. Read returns an error, not io.EOF, if the
// rest of the file turns out truncated or altered; Check verifies a whole
// file before any byte is used.
func (v *Vault) Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open recording: %w", err)
	}
	r, err := v.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open recording %s: %w", path, err)
	}
	return file{Reader: r, f: f}, nil
}

// Check reads a whole recording and reports whether it decrypts intact.
func (v *Vault) Check(path string) error {
	r, err := v.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("check recording %s: %w", path, err)
	}
	return nil
}

// fileWriter is a Writer on a file it owns.
type fileWriter struct {
	*Writer
	f *os.File
}

func (w fileWriter) Close() error {
	err := w.Writer.Close()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close encrypted recording %s: %w", w.f.Name(), err)
	}
	return nil
}

// Create starts an encrypted recording at path (mode 0640, replaced if it
// exists). Close seals it; a file never closed reads as truncated.
func (v *Vault) Create(path string) (io.WriteCloser, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create encrypted recording: %w", err)
	}
	// No buffer: the Writer already writes whole sealed chunks.
	w, err := v.NewWriter(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create encrypted recording %s: %w", path, err)
	}
	return fileWriter{Writer: w, f: f}, nil
}

// KeyIDOf reads the key id from an encrypted recording's header.
func KeyIDOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read recording key id: %w", err)
	}
	defer f.Close()
	h, err := readHeader(f)
	if err != nil {
		return "", fmt.Errorf("read recording key id of %s: %w", path, err)
	}
	return h.keyID, nil
}

// IsEncrypted reports whether data starts like an encrypted recording.
func IsEncrypted(prefix []byte) bool { return bytes.HasPrefix(prefix, []byte(magic)) }

// replace writes path's new content through fill into a temporary file in
// the same directory and renames it over path, so readers see the old file
// or the new one, never a mix, and a failure leaves the old one.
func replace(path string, mode os.FileMode, fill func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// EncryptFile encrypts the plain file src into dst with the current key,
// atomically; src is left in place for the caller to remove.
func (v *Vault) EncryptFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("encrypt recording: %w", err)
	}
	defer in.Close()
	err = replace(dst, 0o640, func(out io.Writer) error {
		w, err := v.NewWriter(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, in); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		return fmt.Errorf("encrypt recording %s into %s: %w", src, dst, err)
	}
	return nil
}

// Rotate re-encrypts the recording at path with the current key if another
// key wrote it, atomically. The old file is decrypted in full, and so
// verified, before the new one replaces it: a damaged file is reported and
// left alone, never re-sealed as if it were intact. It reports whether the
// file was rewritten.
func (v *Vault) Rotate(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("rotate recording key: %w", err)
	}
	id, err := KeyIDOf(path)
	if err != nil {
		return false, fmt.Errorf("rotate recording key: %w", err)
	}
	if id == v.keys.Current() {
		return false, nil
	}
	src, err := v.Open(path)
	if err != nil {
		return false, fmt.Errorf("rotate recording key: %w", err)
	}
	defer src.Close()
	err = replace(path, fi.Mode().Perm(), func(out io.Writer) error {
		w, err := v.NewWriter(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, src); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		return false, fmt.Errorf("rotate recording %s from key %q to %q: %w", path, id, v.keys.Current(), err)
	}
	return true, nil
}
