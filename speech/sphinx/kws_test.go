package sphinx

import (
	"context"
	"errors"
	"testing"

	"github.com/waihu/waihu/speech"
)

func TestKeywordGrammarParsesThresholds(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		want    []Keyphrase
		wantErr bool
	}{
		{name: "thresholds and default", lines: []string{"call me later /1e-10/", "# comment", "", "stop"},
			want: []Keyphrase{{Text: "call me later", LogThreshold: -23.025850929940457}, {Text: "stop", LogThreshold: -23.025850929940457}}},
		{name: "garbage threshold", lines: []string{"bad line / here"}, wantErr: true},
		{name: "unterminated threshold", lines: []string{"just bad line /"}, wantErr: true},
		{name: "empty", lines: []string{"", "#"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := KeywordGrammar(tt.lines, DefaultKeywordThreshold)
			if tt.wantErr {
				if !errors.Is(err, ErrGrammar) {
					t.Fatalf("err %v, want ErrGrammar", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Keyphrases) != len(tt.want) {
				t.Fatalf("%+v", g.Keyphrases)
			}
			for i, k := range g.Keyphrases {
				if k.Text != tt.want[i].Text || k.LogThreshold-tt.want[i].LogThreshold > 1e-9 || tt.want[i].LogThreshold-k.LogThreshold > 1e-9 {
					t.Errorf("keyphrase %d %+v, want %+v", i, k, tt.want[i])
				}
			}
		})
	}
}

func TestKeywordSpottingFindsPhraseInsideLongerSpeech(t *testing.T) {
	r := sharedRecognizer(t)
	requireTestData(t, "goforward.raw")
	audio := telephone(t, readRaw16(t, testData+"/goforward.raw"), 16000)
	tests := []struct {
		keywords string
		want     string
	}{
		{"forward /1e-10/\nbackward /1e-10/\ncall me later /1e-10/", "forward"},
		{"ten meters /1e-10/\ntwo meters /1e-10/\nseven /1e-10/", "ten meters"},
		{"call me later /1e-10/\nwho is this /1e-10/", ""},
	}
	for _, tt := range tests {
		hyps, err := r.DecodeUtterance(context.Background(), []string{tt.keywords}, audio)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hyps {
			if h.Text != "" {
				got = append(got, h.Text)
			}
		}
		t.Logf("%q: %+v", tt.keywords, hyps)
		if (tt.want == "" && len(got) != 0) || (tt.want != "" && (len(got) != 1 || got[0] != tt.want)) {
			t.Errorf("%q spotted %q, want %q", tt.keywords, got, tt.want)
		}
	}
}

func TestStreamReportsSpottedKeywordAsPartialAndFinal(t *testing.T) {
	r := sharedRecognizer(t)
	requireTestData(t, "goforward.raw")
	audio := telephone(t, readRaw16(t, testData+"/goforward.raw"), 16000)
	st, err := r.NewStream(context.Background(), speech.StreamOptions{Phrases: []string{"backward /1e-10/", "ten meters /1e-10/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var partials []string
	for i := 0; i+160 <= len(audio); i += 160 {
		if err := st.Write(audio[i : i+160]); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-st.Results():
			partials = append(partials, res.Text)
		default:
		}
	}
	if err := st.EndUtterance(); err != nil {
		t.Fatal(err)
	}
	final := <-st.Results()
	t.Logf("partials %q final %+v", partials, final)
	if len(partials) == 0 || partials[len(partials)-1] != "ten meters" || final.Text != "ten meters" || !final.Final {
		t.Errorf("partials %q final %+v, want ten meters spotted while streaming and as the final", partials, final)
	}
}
