package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
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
	// Real recordings: hold the engine to pocketsphinx's level on them (it
	// gets 12 of 13 words on these two), not to an exact transcript.
	want := []string{"four queen of clubs", "eight of spades four of clubs seven of hearts"}
	wrong, words := 0, 0
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || !strings.HasSuffix(f[0], []string{"002.wav", "005.wav"}[i]) {
			t.Fatalf("line %q, want file, hypothesis, confidence", l)
		}
		if c, err := strconv.ParseFloat(f[2], 64); err != nil || c < 0 || c > 1 {
			t.Errorf("line %q: confidence %q not in [0, 1]", l, f[2])
		}
		ref, hyp := strings.Fields(want[i]), strings.Fields(f[1])
		words += len(ref)
		for j := range max(len(ref), len(hyp)) {
			if j >= len(ref) || j >= len(hyp) || ref[j] != hyp[j] {
				wrong++
			}
		}
	}
	if wrong > 2 {
		t.Errorf("%d of %d words wrong (position by position) in %q", wrong, words, lines)
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
