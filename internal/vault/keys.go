package vault

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// KeySize is an AES-256 key's length in bytes.
const KeySize = 32

// maxKeyID bounds a key id; it is stored in every file's header.
const maxKeyID = 64

// Keyring holds named master keys; the last added is the current one, used
// for new files.
type Keyring struct {
	ids  []string
	keys map[string][KeySize]byte
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{keys: map[string][KeySize]byte{}} }

// Add puts a key under id and makes it current. An id may appear once.
func (k *Keyring) Add(id string, key []byte) error {
	if err := checkKeyID(id); err != nil {
		return err
	}
	if len(key) != KeySize {
		return fmt.Errorf("key %q: %d bytes, want %d (AES-256)", id, len(key), KeySize)
	}
	if _, dup := k.keys[id]; dup {
		return fmt.Errorf("key %q appears twice", id)
	}
	k.keys[id] = [KeySize]byte(key)
	k.ids = append(k.ids, id)
	return nil
}

// Current is the id of the key new files are written with ("" when empty).
func (k *Keyring) Current() string {
	if len(k.ids) == 0 {
		return ""
	}
	return k.ids[len(k.ids)-1]
}

// IDs lists the key ids, oldest first.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

func (k *Keyring) key(id string) ([KeySize]byte, bool) {
	key, ok := k.keys[id]
	return key, ok
}

func checkKeyID(id string) error {
	if id == "" || len(id) > maxKeyID {
		return fmt.Errorf("key id %q: want 1 to %d characters", id, maxKeyID)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("key id %q: only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// decodeKey reads 64 hex digits or base64 (standard or URL, padded or not)
// of 32 bytes.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, errors.New("not a 32-byte key in hex (64 digits) or base64")
}

// ParseKeys reads a key file: one key a line, "ID KEY", KEY in hex or
// base64; blank lines and lines starting with # are skipped. The last line
// is the current key, so rotating is appending a line.
func ParseKeys(data []byte) (*Keyring, error) {
	k := NewKeyring()
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"ID KEY\"", n)
		}
		key, err := decodeKey(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d, key %q: %w", n, f[0], err)
		}
		if err := k.Add(f[0], key); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.ids) == 0 {
		return nil, errors.New("no keys")
	}
	return k, nil
}

// LoadKeyFile reads a key file (see ParseKeys). It refuses a file that
// others than its owner may read, as ssh does with private keys: a key
// readable by every local account protects nothing.
func LoadKeyFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("recording key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("recording key file %s: mode %04o lets others read it; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("recording key file: %w", err)
	}
	k, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("recording key file %s: %w", path, err)
	}
	return k, nil
}

// ParseKeyEnv reads keys from an environment variable's value: one or more
// "ID:KEY" separated by commas, the last current; a lone KEY gets the id
// "env".
func ParseKeyEnv(value string) (*Keyring, error) {
	k := NewKeyring()
	for i, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		id, key, ok := strings.Cut(part, ":")
		if !ok {
			id, key = "env", part
		}
		b, err := decodeKey(key)
		if err != nil {
			return nil, fmt.Errorf("recording key %d (%q): %w", i+1, id, err)
		}
		if err := k.Add(id, b); err != nil {
			return nil, fmt.Errorf("recording key %d: %w", i+1, err)
		}
	}
	return k, nil
}

// GenerateKey returns a new random key in hex, for a key file line.
func GenerateKey() (string, error) {
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate recording key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// AppendKey adds a freshly generated key named id to the key file at path
// (created with mode 0600 if missing) and so makes it the current key. It
// returns the new keyring.
func AppendKey(path, id string) (*Keyring, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	var old []byte
	if _, err := os.Stat(path); err == nil {
		k, err := LoadKeyFile(path)
		if err != nil {
			return nil, err
		}
		if _, dup := k.key(id); dup {
			return nil, fmt.Errorf("recording key file %s already has a key %q", path, id)
		}
		if old, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("recording key file: %w", err)
		}
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	data := append(old, []byte(id+" "+key+"\n")...)
	// Write beside and rename: a crash never leaves a half-written key file,
	// which could lose the keys of every existing recording.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return nil, fmt.Errorf("recording key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(data)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			return nil, fmt.Errorf("write recording key file %s: %w", path, err)
		}
	} else {
		tmp.Close()
		return nil, fmt.Errorf("recording key file: %w", err)
	}
	return ParseKeys(data)
}
