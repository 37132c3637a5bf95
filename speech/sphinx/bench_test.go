package sphinx

import (
	"context"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

func BenchmarkFrontEndFrame(b *testing.B) {
	requireModel(b)
	requireTestData(b, "goforward.raw")
	m, err := Load(ModelConfig{})
	if err != nil {
		b.Fatal(err)
	}
	fe, err := NewFrontEnd(m.Feat)
	if err != nil {
		b.Fatal(err)
	}
	feat := NewFeatures(m.Feat.NumCeps, m.Feat.CMNInit)
	audio := readRaw16(b, testData+"/goforward.raw")
	emitFeat := func([]float32) {}
	emit := func(c []float64) { feat.Push(c, emitFeat) }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// One 10 ms shift of 16 kHz audio per iteration.
		if i+160 > len(audio) {
			i = 0
		}
		fe.Write(audio[i:i+160], emit)
		i += 160
	}
}

func BenchmarkScorerFrameAllSenones(b *testing.B) {
	requireModel(b)
	m, err := Load(ModelConfig{})
	if err != nil {
		b.Fatal(err)
	}
	s := NewScorer(m, 0)
	feats := make([][]float32, 50)
	for i := range feats {
		feats[i] = make([]float32, 39)
		for j := range feats[i] {
			feats[i][j] = float32((i*7+j*13)%17) - 8
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.SetFrame(feats[i%len(feats)])
		for id := range m.Mdef.NumSenone {
			s.Senone(id)
		}
		i++
	}
}

// BenchmarkStreamRealTime decodes telephone audio through the whole stream
// (resampler, front end, scoring, search) and reports the real-time factor.
func BenchmarkStreamRealTime(b *testing.B) {
	r := sharedRecognizer(b)
	requireTestData(b, "goforward.raw", "goforward.gram")
	audio := telephone(b, readRaw16(b, testData+"/goforward.raw"), 16000)
	gram := grammarFile(b, testData+"/goforward.gram")
	st, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: gram})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ReportAllocs()
	var busy time.Duration
	frames := 0
	for b.Loop() {
		start := time.Now()
		for i := 0; i+speech.FrameSamples <= len(audio); i += speech.FrameSamples {
			if err := st.Write(audio[i : i+speech.FrameSamples]); err != nil {
				b.Fatal(err)
			}
			frames++
		}
		if err := st.EndUtterance(); err != nil {
			b.Fatal(err)
		}
		busy += time.Since(start)
		for len(st.Results()) > 0 {
			<-st.Results()
		}
	}
	b.ReportMetric(busy.Seconds()/(float64(frames)*0.02), "RTF")
}

// BenchmarkNewStream measures what a call pays to start recognising with a
// grammar already compiled (the model and network are shared).
func BenchmarkNewStream(b *testing.B) {
	r := sharedRecognizer(b)
	opts := speech.StreamOptions{Phrases: []string{"yes", "no thank you", "call me later", "who is this"}}
	if _, err := r.Network(opts.Phrases); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := r.NewStream(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}
