package sphinx

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDecoderRecognisesGoForward(t *testing.T) {
	requireModel(t)
	requireTestData(t, "goforward.raw")
	m, err := Load(ModelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := PhraseGrammar([]string{"go forward ten meters", "go backward ten meters", "go forward one meter", "go forward two meters", "go backward three meters"})
	if err != nil {
		t.Fatal(err)
	}
	net, err := m.Compile(g, DecoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPipeline(net, DecoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	audio := readRaw16(t, testData+"/goforward.raw")
	start := time.Now()
	p.Write(audio)
	hyps := p.End()
	el := time.Since(start)
	t.Logf("%d nodes; decode %v for %.2f s audio: RTF %.3f", len(net.nodes), el, float64(len(audio))/16000, el.Seconds()/(float64(len(audio))/16000))
	for _, h := range hyps {
		t.Logf("%+v", h)
	}
	if len(hyps) == 0 || hyps[0].Text != "go forward ten meters" {
		t.Fatalf("hypotheses %+v", hyps)
	}
}

// Stage check from the reference features: the cepstra sphinx_fe wrote
// (goforward.mfc) through our CMN, dynamic features, scoring and search
// give the hypothesis pocketsphinx_batch gives from the same file
// ("go forward ten meters (goforward -2603)").
func TestDecoderOnReferenceCepstraMatchesPocketsphinxBatch(t *testing.T) {
	requireModel(t)
	requireTestData(t, "goforward.mfc", "goforward.gram")
	m, err := Load(ModelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ceps, err := ReadMFC(testData+"/goforward.mfc", m.Feat.NumCeps)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(testData + "/goforward.gram")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGrammar(string(text))
	if err != nil {
		t.Fatal(err)
	}
	net, err := m.Compile(g, DecoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder(net, DecoderConfig{})
	feat := NewFeatures(m.Feat.NumCeps, m.Feat.CMNInit)
	c64 := make([]float64, m.Feat.NumCeps)
	for _, c := range ceps {
		for i, v := range c {
			c64[i] = float64(v)
		}
		feat.Push(c64, dec.Step)
	}
	feat.EndUtterance(dec.Step)
	hyps := dec.Final()
	t.Logf("%+v", hyps)
	if len(hyps) == 0 || hyps[0].Text != "go forward ten meters" {
		t.Fatalf("hypotheses %+v, pocketsphinx_batch says go forward ten meters", hyps)
	}
}

func TestReadMFCRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"count matches neither order", []byte{1, 2, 3, 4, 0, 0, 0, 0}},
		{"partial frame", []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "x.mfc")
			if err := os.WriteFile(p, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadMFC(p, 13); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
