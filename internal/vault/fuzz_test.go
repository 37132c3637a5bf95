package vault

import (
	"bytes"
	"io"
	"testing"
)

// FuzzVaultReader feeds arbitrary files to the reader: it must never panic,
// never allocate past MaxChunkSize, and never return bytes from a file that
// fails — only a file this keyring sealed may read to a clean end.
func FuzzVaultReader(f *testing.F) {
	k := NewKeyring()
	k.Add("fuzz", bytes.Repeat([]byte{7}, KeySize))
	v, err := New(Config{Keys: k, ChunkSize: 16})
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{0, 5, 16, 40} {
		var buf bytes.Buffer
		w, _ := v.NewWriter(&buf)
		w.Write(bytes.Repeat([]byte{'a'}, n))
		w.Close()
		f.Add(buf.Bytes())
	}
	f.Add([]byte("WAIHUVLT\x01\xff\xff\xff\xff\x04fuzz"))
	f.Add([]byte("RIFF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := v.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		if err != nil {
			return
		}
		// A clean read means authentic: only runs of 'a' were ever sealed.
		if len(bytes.Trim(got, "a")) > 0 {
			t.Fatalf("forged plaintext %q read without error", got)
		}
	})
}

// FuzzParseKeys: any key file text either parses to usable keys or errors.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte("# c\na 0000000000000000000000000000000000000000000000000000000000000000\n"))
	f.Add([]byte("b AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	f.Add([]byte("x y z"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeys(data)
		if err != nil {
			return
		}
		if _, ok := k.key(k.Current()); !ok || k.Current() == "" {
			t.Fatalf("parsed keyring without a current key: %v", k.IDs())
		}
		if _, err := New(Config{Keys: k}); err != nil {
			t.Fatal(err)
		}
	})
}
