package sphinx

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// requireModel skips (or fails in CI) when the pocketsphinx model is missing.
func requireModel(t testing.TB) {
	t.Helper()
	for _, p := range []string{DefaultModelDir + "/mdef", DefaultDict} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: install Debian package pocketsphinx-en-us", p)
			}
			t.Skipf("%s missing: install Debian package pocketsphinx-en-us", p)
		}
	}
}

func TestLoadReadsEnUSModel(t *testing.T) {
	requireModel(t)
	m, err := Load(ModelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load %v: %d CI phones, %d senones (%d CI), %d triphones, %d tmats, %d codebooks × %d densities, dict %d",
		m.LoadTime, len(m.Mdef.CIPhones), m.Mdef.NumSenone, m.Mdef.NumCISen, len(m.Mdef.tri), m.Mdef.NumTmat, len(m.means), m.nDensity, m.Dict.Len())
	if len(m.Mdef.CIPhones) != 42 || m.Mdef.NumSenone != 5126 || m.nDensity != 128 || m.nFeat != 3 {
		t.Errorf("unexpected model shape")
	}
	if m.Mdef.CIPhones[m.Mdef.Sil] != "SIL" {
		t.Errorf("silence phone is %q", m.Mdef.CIPhones[m.Mdef.Sil])
	}
	// Every triphone shares its base phone's transition matrix: a check that
	// the phone attributes were decoded in the right order.
	for k, p := range m.Mdef.tri {
		if m.Mdef.phoneTmat[p] != m.Mdef.phoneTmat[k.base] {
			t.Fatalf("triphone %d (%v) has matrix %d, its base %d", p, k, m.Mdef.phoneTmat[p], m.Mdef.phoneTmat[k.base])
		}
	}
	if p, ok := m.Dict.Pron("forward"); !ok || len(p) != 6 {
		t.Errorf("forward: %v %v", p, ok)
	}
	if !m.Dict.IsFiller("<sil>") {
		t.Errorf("<sil> is not a filler")
	}
	if m.LoadTime > 500e6 && !raceEnabled {
		t.Errorf("load took %v, budget 0.5 s", m.LoadTime)
	}
}

// modelCopy links the model's files into a temporary directory, letting the
// caller replace some of them.
func modelCopy(t *testing.T, replace map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"feat.params", "mdef", "means", "variances", "sendump", "transition_matrices", "noisedict"} {
		dst := filepath.Join(dir, name)
		if data, ok := replace[name]; ok {
			if data != nil {
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		if err := os.Symlink(filepath.Join(DefaultModelDir, name), dst); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readModelFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(DefaultModelDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadRejectsBrokenModels(t *testing.T) {
	requireModel(t)
	flip := func(b []byte, at int) []byte { c := append([]byte(nil), b...); c[at] ^= 0x40; return c }
	means := readModelFile(t, "means")
	mdef := readModelFile(t, "mdef")
	sendump := readModelFile(t, "sendump")
	tests := []struct {
		name    string
		dir     string // "" means a copy with replace
		replace map[string][]byte
		want    error
	}{
		{name: "missing directory", dir: "/nonexistent/model", want: os.ErrNotExist},
		{name: "missing means", replace: map[string][]byte{"means": nil}, want: os.ErrNotExist},
		{name: "truncated means", replace: map[string][]byte{"means": means[:len(means)/2]}, want: ErrTruncated},
		{name: "corrupt means", replace: map[string][]byte{"means": flip(means, len(means)-100)}, want: ErrChecksum},
		{name: "truncated mdef", replace: map[string][]byte{"mdef": mdef[:len(mdef)-1000]}, want: ErrTruncated},
		{name: "not an mdef", replace: map[string][]byte{"mdef": []byte("hello world, not a model")}, want: ErrFormat},
		{name: "truncated sendump", replace: map[string][]byte{"sendump": sendump[:len(sendump)-7]}, want: ErrTruncated},
		{name: "continuous model", replace: map[string][]byte{"feat.params": []byte("-feat 1s_c_d_dd\n-transform dct\n-model cont\n")}, want: ErrUnsupported},
		{name: "other feature type", replace: map[string][]byte{"feat.params": []byte("-feat s2_4x\n-transform dct\n-model ptm\n")}, want: ErrUnsupported},
		{name: "garbled feat.params", replace: map[string][]byte{"feat.params": []byte("-lowerf\n")}, want: ErrFormat},
		{name: "empty transition matrices", replace: map[string][]byte{"transition_matrices": {}}, want: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = modelCopy(t, tt.replace)
			}
			_, err := Load(ModelConfig{Dir: dir})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load: %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	requireModel(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(ModelConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}
