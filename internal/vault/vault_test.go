package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func keyring(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	k := NewKeyring()
	for _, id := range ids {
		key := make([]byte, KeySize)
		rand.Read(key)
		if err := k.Add(id, key); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func newVault(t testing.TB, k *Keyring, chunk int) *Vault {
	t.Helper()
	v, err := New(Config{Keys: k, ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// seal encrypts plain in writes of piece bytes.
func seal(t testing.TB, v *Vault, plain []byte, piece int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := v.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for p := plain; len(p) > 0; {
		n := min(piece, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unseal decrypts everything, returning what was read before any error.
func unseal(v *Vault, sealed []byte) ([]byte, error) {
	r, err := v.NewReader(bytes.NewReader(sealed))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestVaultRoundTripsEveryLength(t *testing.T) {
	const chunk = 64
	v := newVault(t, keyring(t, "k1"), chunk)
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3*chunk + 7, 10_000} {
		for _, piece := range []int{1, 7, chunk, 1000} {
			plain := random(n)
			sealed := seal(t, v, plain, piece)
			if bytes.Contains(sealed, plain) && n >= 16 {
				t.Fatalf("n=%d: plaintext visible in the file", n)
			}
			got, err := unseal(v, sealed)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("n=%d piece=%d: round trip %d bytes, %v", n, piece, len(got), err)
			}
		}
	}
}

func TestVaultFilesOfTheSamePlaintextDiffer(t *testing.T) {
	v := newVault(t, keyring(t, "k1"), 0)
	plain := bytes.Repeat([]byte{0}, 1000)
	a, b := seal(t, v, plain, 1000), seal(t, v, plain, 1000)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of one recording are identical: salt or nonce reused")
	}
}

func TestVaultRefusesWrongMissingAndAbsentKeys(t *testing.T) {
	v := newVault(t, keyring(t, "2026-01"), 0)
	sealed := seal(t, v, random(5000), 5000)
	cases := []struct {
		name string
		keys *Keyring
		data []byte
		want error
		says string
	}{
		{"missing key id", keyring(t, "2026-06"), sealed, ErrUnknownKey, `"2026-01"`},
		{"same id, other key", keyring(t, "2026-01"), sealed, ErrWrongKey, `"2026-01"`},
		{"plain WAV", keyring(t, "2026-01"), append([]byte("RIFF"), make([]byte, 100)...), ErrNotEncrypted, ""},
		{"empty file", keyring(t, "2026-01"), nil, ErrNotEncrypted, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unseal(newVault(t, tc.keys, 0), tc.data)
			if !errors.Is(err, tc.want) || len(got) != 0 {
				t.Fatalf("read %d bytes, %v; want %v", len(got), err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not name %s", err, tc.says)
			}
		})
	}
}

// chunks splits a sealed file (chunk size c) into header and sealed chunks.
func chunks(sealed []byte, idLen, c int) (hdr []byte, cs [][]byte) {
	n := fixedStart + idLen + saltLen + prefixLen + checkLen
	hdr, rest := sealed[:n], sealed[n:]
	for len(rest) > 0 {
		k := min(len(rest), c+tagLen)
		cs, rest = append(cs, rest[:k]), rest[k:]
	}
	return hdr, cs
}

func join(hdr []byte, cs ...[]byte) []byte {
	out := append([]byte{}, hdr...)
	for _, c := range cs {
		out = append(out, c...)
	}
	return out
}

func TestVaultDetectsTruncationReorderingAndSplicing(t *testing.T) {
	const chunk = 100
	k := keyring(t, "k")
	v := newVault(t, k, chunk)
	plain := random(3*chunk + 50) // chunks 0,1,2 full, 3 final
	sealed := seal(t, v, plain, 17)
	hdr, cs := chunks(sealed, 1, chunk)
	if len(cs) != 4 {
		t.Fatalf("%d chunks, want 4", len(cs))
	}
	other := seal(t, v, random(3*chunk+50), 17)
	_, ocs := chunks(other, 1, chunk)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"final chunk dropped", join(hdr, cs[0], cs[1], cs[2]), ErrTruncated},
		{"cut after the first chunk", join(hdr, cs[0]), ErrTruncated},
		{"no chunk at all", hdr, ErrTruncated},
		{"cut inside a chunk", join(hdr, cs[0], cs[1][:50]), ErrTampered},
		{"cut inside the header", sealed[:20], ErrTruncated},
		{"chunks swapped", join(hdr, cs[1], cs[0], cs[2], cs[3]), ErrTampered},
		{"chunk repeated", join(hdr, cs[0], cs[0], cs[1], cs[2], cs[3]), ErrTampered},
		{"chunk from another file", join(hdr, cs[0], ocs[1], cs[2], cs[3]), ErrTampered},
		{"data after the final chunk", append(join(hdr, cs...), 0), ErrTampered},
		{"final chunk moved up", join(hdr, cs[0], cs[3]), ErrTampered},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unseal(v, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			// What came out before the error is authentic audio, never garbage.
			if !bytes.HasPrefix(plain, got) {
				t.Fatalf("returned %d bytes that are not the recording's start", len(got))
			}
		})
	}
}

func TestVaultEveryFlippedBitFails(t *testing.T) {
	const chunk = 32
	v := newVault(t, keyring(t, "key-7"), chunk)
	plain := random(2*chunk + 5)
	sealed := seal(t, v, plain, 64)
	for i := range sealed {
		for bit := range 8 {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1 << bit
			got, err := unseal(v, bad)
			if err == nil {
				t.Fatalf("byte %d bit %d flipped: read without error", i, bit)
			}
			if !bytes.HasPrefix(plain, got) {
				t.Fatalf("byte %d bit %d flipped: %d bytes of garbage returned", i, bit, len(got))
			}
		}
	}
}

func TestVaultFilesRotateToTheCurrentKey(t *testing.T) {
	dir := t.TempDir()
	old := keyring(t, "2026-01")
	v1 := newVault(t, old, 0)
	plain := random(200_000)
	a, tampered := filepath.Join(dir, "a.wav.enc"), filepath.Join(dir, "b.wav.enc")
	for _, p := range []string{a, tampered} {
		w, err := v1.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(tampered)
	raw[len(raw)-1] ^= 1
	os.WriteFile(tampered, raw, 0o640)

	both := NewKeyring()
	k1, _ := old.key("2026-01")
	both.Add("2026-01", k1[:])
	both.Add("2026-07", random(KeySize))
	v2 := newVault(t, both, 0)
	if done, err := v2.Rotate(a); err != nil || !done {
		t.Fatalf("rotate: %v %v", done, err)
	}
	if id, err := KeyIDOf(a); err != nil || id != "2026-07" {
		t.Fatalf("key id after rotation %q %v", id, err)
	}
	if done, err := v2.Rotate(a); err != nil || done {
		t.Fatalf("second rotation rewrote the file: %v %v", done, err)
	}
	if fi, _ := os.Stat(a); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode after rotation %v", fi.Mode())
	}
	// The old key can now be retired.
	newOnly := NewKeyring()
	k2, _ := both.key("2026-07")
	newOnly.Add("2026-07", k2[:])
	r, err := newVault(t, newOnly, 0).Open(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("rotated content: %d bytes, %v", len(got), err)
	}
	if _, err := v2.Rotate(tampered); !errors.Is(err, ErrTampered) {
		t.Fatalf("rotating a tampered file: %v", err)
	}
	if after, _ := os.ReadFile(tampered); !bytes.Equal(after, raw) {
		t.Fatal("a failed rotation changed the file")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if err := v2.Check(a); err != nil {
		t.Fatal(err)
	}
	if err := v2.Check(tampered); !errors.Is(err, ErrTampered) {
		t.Fatalf("check of tampered file: %v", err)
	}
}

func TestVaultEncryptFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	v := newVault(t, keyring(t, "k"), 0)
	src, dst := filepath.Join(dir, "call.wav"), filepath.Join(dir, "call.wav.enc")
	plain := random(70_000)
	os.WriteFile(src, plain, 0o640)
	if err := v.EncryptFile(src, dst); err != nil {
		t.Fatal(err)
	}
	r, err := v.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if err := v.EncryptFile(filepath.Join(dir, "missing.wav"), filepath.Join(dir, "x.enc")); err == nil {
		t.Fatal("encrypting a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.enc")); !os.IsNotExist(err) {
		t.Fatal("a failed encryption left its output")
	}
}

func TestVaultWriterAfterCloseFails(t *testing.T) {
	v := newVault(t, keyring(t, "k"), 0)
	w, err := v.NewWriter(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := w.Write([]byte{1}); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestKeysParseFromFileAndEnvironment(t *testing.T) {
	hexKey := hex.EncodeToString(random(KeySize))
	b64 := base64.StdEncoding.EncodeToString(random(KeySize))
	cases := []struct {
		name, text string
		env        bool
		ids        []string
		err        string
	}{
		{"file, last is current", "# keys\n2026-01 " + hexKey + "\n\n2026-07 " + b64 + "\n", false, []string{"2026-01", "2026-07"}, ""},
		{"file, url base64", "a " + base64.RawURLEncoding.EncodeToString(random(KeySize)), false, []string{"a"}, ""},
		{"file, short key", "a " + hexKey[:62], false, nil, "line 1"},
		{"file, duplicate id", "a " + hexKey + "\na " + b64, false, nil, "twice"},
		{"file, bad id", "a/b " + hexKey, false, nil, "only letters"},
		{"file, three fields", "a " + hexKey + " x", false, nil, "ID KEY"},
		{"file, empty", "# nothing\n", false, nil, "no keys"},
		{"env, bare key", hexKey, true, []string{"env"}, ""},
		{"env, named keys", "old:" + hexKey + ", new:" + b64, true, []string{"old", "new"}, ""},
		{"env, bad key", "x:zz", true, nil, "not a 32-byte key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k *Keyring
			var err error
			if tc.env {
				k, err = ParseKeyEnv(tc.text)
			} else {
				k, err = ParseKeys([]byte(tc.text))
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), hexKey) || strings.Contains(err.Error(), b64) {
					t.Fatalf("error %q shows a key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(k.IDs(), ","); got != strings.Join(tc.ids, ",") || k.Current() != tc.ids[len(tc.ids)-1] {
				t.Fatalf("ids %s current %s", got, k.Current())
			}
		})
	}
}

func TestKeyFileMustBePrivateAndAppendMakesTheNewKeyCurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recording.keys")
	k, err := AppendKey(path, "2026-01")
	if err != nil || k.Current() != "2026-01" {
		t.Fatalf("first key: %v %v", k, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode())
	}
	if k, err = AppendKey(path, "2026-07"); err != nil || strings.Join(k.IDs(), ",") != "2026-01,2026-07" {
		t.Fatalf("second key: %v %v", k, err)
	}
	if _, err := AppendKey(path, "2026-07"); err == nil {
		t.Fatal("same id appended twice")
	}
	loaded, err := LoadKeyFile(path)
	if err != nil || loaded.Current() != "2026-07" {
		t.Fatalf("load: %v %v", loaded, err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key file: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no keyring":    {},
		"empty keyring": {Keys: NewKeyring()},
		"huge chunks":   {Keys: keyring(t, "k"), ChunkSize: MaxChunkSize + 1},
		"negative":      {Keys: keyring(t, "k"), ChunkSize: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func BenchmarkVaultEncrypt(b *testing.B) {
	v := newVault(b, keyring(b, "k"), 0)
	frame := random(320) // one 20 ms frame of 8 kHz 16-bit audio
	w, err := v.NewWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
}

func BenchmarkVaultDecrypt(b *testing.B) {
	v := newVault(b, keyring(b, "k"), 0)
	plain := random(8 << 20)
	sealed := seal(b, v, plain, len(plain))
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := v.NewReader(bytes.NewReader(sealed))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
	}
}
