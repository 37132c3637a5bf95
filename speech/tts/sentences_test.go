package tts

import (
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

func TestSplitSentencesKeepsShortPhrasesTogether(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Hello.", []string{"Hello."}},
		{"Hi. Your payment of three hundred dollars is due. Please pay today!", []string{"Hi. Your payment of three hundred dollars is due.", "Please pay today!"}},
		{"您好，这是一个还款提醒电话。您的账单已经逾期三天了，请尽快还款。谢谢。", []string{"您好，这是一个还款提醒电话。您的账单已经逾期三天了，请尽快还款。谢谢。"}},
		{"no punctuation at all in this rather long sentence", []string{"no punctuation at all in this rather long sentence"}},
		{"", nil},
	}
	for _, tc := range tests {
		got := splitSentences(tc.text)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitSentences(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestFliteSpeaksParagraphsSentenceBySentence(t *testing.T) {
	requireProgram(t, "flite")
	f, err := NewFlite(FliteConfig{})
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello, this is a courtesy call from your bank. Your payment of three hundred and fifty dollars was due on the fifteenth. " +
		"If you have already paid, please ignore this message. Otherwise, you can pay online, by phone, or at any branch."
	start := time.Now()
	s, err := f.Synthesize(bg, text, speech.SynthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pcm, first := readStream(t, s, start)
	t.Logf("paragraph: %.1f s of audio, first frame after %v", float64(len(pcm))/8000, first)
	if secs := float64(len(pcm)) / 8000; secs < 8 || secs > 20 {
		t.Errorf("%.1f s of audio for four sentences", secs)
	}
	if rms(pcm) < 300 {
		t.Errorf("rms %.0f", rms(pcm))
	}
}
