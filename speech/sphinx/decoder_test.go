package sphinx

import (
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
