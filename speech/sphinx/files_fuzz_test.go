package sphinx

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzModelFileReaders feeds arbitrary bytes to every model-file reader:
// a corrupt file must give an error, never a panic or a huge allocation.
func FuzzModelFileReaders(f *testing.F) {
	f.Add([]byte("s3\nversion 1.0\nchksum0 yes\nendhdr\n\x44\x33\x22\x11\x01\x00\x00\x00"))
	f.Add([]byte("BMDF\x01\x00\x00\x00\x04\x00\x00\x00abc\x00"))
	f.Add([]byte("\x05\x00\x00\x00titl\x00\x00\x00\x00\x00\x80\x00\x00\x00\x08\x00\x00\x00"))
	f.Add([]byte("\x0d\x00\x00\x00"))
	for _, name := range []string{"mdef", "transition_matrices"} {
		if b, err := os.ReadFile(filepath.Join(DefaultModelDir, name)); err == nil && len(b) < 1<<22 {
			f.Add(b[:min(len(b), 4096)])
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "x")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		readMdef(p)
		readSendump(p, 3, 5126)
		readGaussians(p)
		readTransitions(p)
		ReadMFC(p, 13)
		parseFeatParams(p)
	})
}
