package vault

import (
	"fmt"
	"io"
	"os"
)

// Ext is appended to a recording's name once it is encrypted: call.wav
// becomes call.wav.enc, so a directory listing shows which files are.
const Ext = ".enc"

// SealFile encrypts the finished plain recording at path into path+Ext and
// removes the plain file once the encrypted one is safely on disk. It
// returns the new path. This is the hook for recorders that must seek back
// to patch a header (WAV) and so cannot stream through a Writer: the plain
// file exists only while the call lasts.
func (v *Vault) SealFile(path string) (string, error) {
	dst := path + Ext
	if err := v.EncryptFile(path, dst); err != nil {
		return "", err
	}
	if err := os.Remove(path); err != nil {
		return dst, fmt.Errorf("remove plain recording %s after encrypting it: %w", path, err)
	}
	return dst, nil
}

// PlainSize is the decrypted length of the recording at path, computed from
// its size and header without decrypting: what a download's Content-Length
// is, or what a streamed WAV header's sizes should say. It does not check
// the file's integrity.
func PlainSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("recording size: %w", err)
	}
	defer f.Close()
	h, err := readHeader(f)
	if err != nil {
		return 0, fmt.Errorf("recording size of %s: %w", path, err)
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("recording size of %s: %w", path, err)
	}
	body := end - int64(len(h.raw))
	sealed := int64(h.chunkSize + tagLen)
	full, rest := body/sealed, body%sealed
	switch {
	case rest == 0 && full > 0: // the final chunk is full
		return full * int64(h.chunkSize), nil
	case rest >= tagLen:
		return full*int64(h.chunkSize) + rest - tagLen, nil
	}
	return 0, fmt.Errorf("recording size of %s: %w: %d bytes after the header", path, ErrTruncated, body)
}
