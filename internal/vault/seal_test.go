package vault

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestSealFileReplacesThePlainRecording(t *testing.T) {
	dir := t.TempDir()
	v := newVault(t, keyring(t, "k"), 0)
	path := filepath.Join(dir, "call-1.wav")
	plain := random(123_457)
	os.WriteFile(path, plain, 0o640)
	enc, err := v.SealFile(path)
	if err != nil || enc != path+Ext {
		t.Fatalf("seal: %q %v", enc, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("plain recording left behind")
	}
	r, err := v.Open(enc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

func TestPlainSizeMatchesTheDecryptedLength(t *testing.T) {
	const chunk = 50
	dir := t.TempDir()
	v := newVault(t, keyring(t, "k"), chunk)
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 7 * chunk, 7*chunk + 13} {
		path := filepath.Join(dir, "r")
		os.WriteFile(path, seal(t, v, random(n), 9), 0o600)
		if got, err := PlainSize(path); err != nil || got != int64(n) {
			t.Errorf("n=%d: PlainSize %d, %v", n, got, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "cut"), seal(t, v, random(10), 10)[:60], 0o600)
	if _, err := PlainSize(filepath.Join(dir, "cut")); !errors.Is(err, ErrTruncated) {
		t.Errorf("header-only file: %v", err)
	}
}
