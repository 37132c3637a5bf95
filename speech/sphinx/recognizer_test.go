package sphinx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

func TestStreamSendsPartialsThenFinalWithConfidence(t *testing.T) {
	r := sharedRecognizer(t)
	requireTestData(t, "goforward.raw")
	audio := telephone(t, readRaw16(t, testData+"/goforward.raw"), 16000)
	var rec speech.Recognizer = r
	phrases := []string{"go forward ten meters", "go backward ten meters", "go forward two meters", "stop"}
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{Phrases: phrases, CallID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var partials []string
	drain := func() {
		for {
			select {
			case res := <-st.Results():
				if res.Final {
					t.Fatalf("final before EndUtterance: %+v", res)
				}
				partials = append(partials, res.Text)
			default:
				return
			}
		}
	}
	for i := 0; i+speech.FrameSamples <= len(audio); i += speech.FrameSamples {
		if err := st.Write(audio[i : i+speech.FrameSamples]); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	if err := st.EndUtterance(); err != nil {
		t.Fatal(err)
	}
	res := <-st.Results()
	t.Logf("partials %q; final %+v", partials, res)
	if !res.Final || res.Text != "go forward ten meters" || res.Confidence < 0.5 || res.End <= res.Start {
		t.Errorf("final %+v", res)
	}
	if len(partials) < 2 || partials[len(partials)-1] == "" {
		t.Errorf("partials %q: want a growing hypothesis while audio arrives", partials)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-st.Results(); ok {
		t.Error("results channel still open after Close")
	}
	if err := st.Write(audio[:160]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStreamRejectsUnknownWordsOtherLanguagesAndCancelledContext(t *testing.T) {
	r := sharedRecognizer(t)
	if _, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: []string{"yes", "zzyzxqv plorf"}}); !errors.Is(err, ErrGrammar) {
		t.Errorf("unknown word: %v, want ErrGrammar", err)
	}
	if _, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: []string{"#JSGF V1.0; public <a> = (yes | no;"}}); !errors.Is(err, ErrGrammar) {
		t.Errorf("broken JSGF: %v, want ErrGrammar", err)
	}
	if _, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: []string{"yes"}, Language: "zh-CN"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("zh-CN: %v, want ErrUnsupported", err)
	}
	if st, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: []string{"yes"}, Language: "en-US"}); err != nil {
		t.Errorf("en-US: %v", err)
	} else {
		st.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := r.NewStream(ctx, speech.StreamOptions{Phrases: []string{"yes", "no"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := st.Write(make([]int16, 160)); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel: %v", err)
	}
	st.Close()
}

func TestPhraseGrammarNormalisesAndRejectsEmpty(t *testing.T) {
	tests := []struct {
		name    string
		phrases []string
		arcs    int
		wantErr bool
	}{
		{name: "punctuation and case", phrases: []string{"No, thank you!", "  Yes. "}, arcs: 4},
		{name: "comments and blanks skipped", phrases: []string{"# menu", "", "call me later"}, arcs: 3},
		{name: "nothing to say", phrases: []string{"", "  ", "#x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := PhraseGrammar(tt.phrases)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if err == nil && len(g.Arcs) != tt.arcs {
				t.Errorf("%d arcs, want %d: %+v", len(g.Arcs), tt.arcs, g.Arcs)
			}
		})
	}
}

func TestFeaturesDeltasFollowSphinxFormula(t *testing.T) {
	// Cepstra c[t] = t in every coefficient (no CMN: zero init, and far
	// fewer frames than the CMN window updates on): deltas inside are
	// c[t+2]−c[t−2] = 4 and double deltas 0; at the edges the first and last
	// frames repeat.
	f := NewFeatures(2, []float64{0, 0})
	var got [][]float32
	emit := func(v []float32) { got = append(got, append([]float32(nil), v...)) }
	for i := range 10 {
		f.Push([]float64{float64(i), float64(i)}, emit)
	}
	if len(got) != 7 {
		t.Fatalf("%d vectors before the end, want 7 (three frames of lag)", len(got))
	}
	f.EndUtterance(emit)
	if len(got) != 10 {
		t.Fatalf("%d vectors, want 10", len(got))
	}
	tests := []struct{ t, c, d, dd float32 }{
		{0, 0, 2, 2}, // c[2]−c[0]; (c[3]−c[0])−(c[1]−c[0])
		{5, 5, 4, 0},
		{9, 9, 2, -2}, // (c[9]−c[8])−(c[9]−c[6])
	}
	for _, tt := range tests {
		v := got[int(tt.t)]
		if v[0] != tt.c || v[2] != tt.d || v[4] != tt.dd {
			t.Errorf("frame %v: %v, want c %v d %v dd %v", tt.t, v, tt.c, tt.d, tt.dd)
		}
	}
}

func TestRegisterBuildsEngineOrReportsItUnavailable(t *testing.T) {
	requireModel(t)
	reg := speech.NewRegistry()
	Register(reg)
	if _, err := reg.Recognizer(EngineName, nil); err != nil {
		t.Fatalf("default model: %v", err)
	}
	_, err := reg.Recognizer(EngineName, speech.Options{"model": "/nonexistent"})
	if !errors.Is(err, speech.ErrEngineUnavailable) {
		t.Fatalf("missing model: %v, want ErrEngineUnavailable", err)
	}
}

func TestCloseReleasesEndUtteranceBlockedOnAbsentReader(t *testing.T) {
	r := sharedRecognizer(t)
	st, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: []string{"yes", "no"}})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads Results: fill its buffer with finals until one blocks.
	blocked := make(chan error, 1)
	go func() {
		for {
			if err := st.EndUtterance(); err != nil {
				blocked <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("EndUtterance after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EndUtterance still blocked after Close")
	}
	n := 0
	for range st.Results() {
		n++
	}
	if n != cap(st.(*Stream).results) {
		t.Errorf("%d buffered finals drained, want %d", n, cap(st.(*Stream).results))
	}
}
