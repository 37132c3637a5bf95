package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func requireSphinxData(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: install Debian packages pocketsphinx-en-us pocketsphinx-testdata", p)
			}
			t.Skipf("%s missing: install Debian packages pocketsphinx-en-us pocketsphinx-testdata", p)
		}
	}
}

func TestRecognizeCommandPrintsOneLinePerFile(t *testing.T) {
	const cards = "/usr/share/pocketsphinx/test/data/cards/"
	requireSphinxData(t, cards+"002.wav", cards+"cards.gram", "/usr/share/pocketsphinx/model/en-us/en-us/mdef")
	bad := filepath.Join(t.TempDir(), "bad.wav")
	if err := os.WriteFile(bad, []byte("not a wav"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := rootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"recognize", "--grammar", cards + "cards.gram", cards + "002.wav", cards + "005.wav", bad})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "1 of 3") {
		t.Errorf("error %v, want one unreadable file reported", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q, want 2 lines", out.String())
	}
	want := []string{"four queen of clubs", "eight of spades four of clubs seven of hearts"}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || f[1] != want[i] {
			t.Errorf("line %q, want file, %q, confidence", l, want[i])
		}
	}
	if !strings.Contains(errOut.String(), "bad.wav") {
		t.Errorf("stderr %q does not name the bad file", errOut.String())
	}
}

func TestRecognizeCommandRejectsBadGrammar(t *testing.T) {
	requireSphinxData(t, "/usr/share/pocketsphinx/model/en-us/en-us/mdef")
	g := filepath.Join(t.TempDir(), "g.txt")
	if err := os.WriteFile(g, []byte("yes\nflurbotronic wibblequax\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := rootCommand()
	root.SetArgs([]string{"recognize", "--grammar", g, "x.wav"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "flurbotronic") {
		t.Fatalf("error %v, want the unknown words named", err)
	}
}
