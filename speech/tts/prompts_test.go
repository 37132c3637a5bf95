package tts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

func TestExpandSpeaksValuesFromClips(t *testing.T) {
	tests := []struct {
		item, lang string
		want       string
	}{
		{"{number:3500}", "zh", "3 1000 5 100"},
		{"{number:23000}", "zh", "liang 10000 3 1000"},
		{"{number:10005}", "zh", "1 10000 0 5"},
		{"{number:15}", "zh", "10 5"},
		{"{number:115}", "zh", "1 100 1 10 5"},
		{"{number:205}", "zh", "liang 100 0 5"},
		{"{number:100000000}", "zh", "1 100000000"},
		{"{number:0}", "zh", "0"},
		{"{amount:3500}", "zh", "3 1000 5 100 yuan"},
		{"{amount:12.35}", "zh", "10 2 yuan 3 jiao 5 fen"},
		{"{date:2026-11-26}", "zh", "10 1 month 2 10 6 day"},
		{"{time:15:30}", "zh", "10 5 dian half"},
		{"{time:09:05}", "zh", "9 dian 0 5 minute"},
		{"{digits:138 1234}", "zh", "1 3 8 1 2 3 4"},
		{"{number:3520}", "en", "3 thousand 5 hundred 20"},
		{"{number:1000001}", "en", "1 million 1"},
		{"{number:17}", "en", "17"},
		{"{amount:1250.50}", "en", "1 thousand 2 hundred 50 dollars and 50 cents"},
		{"{amount:1}", "en", "1 dollar"},
		{"{date:2026-11-26}", "en", "month-11 ord-26"},
		{"{time:15:05}", "en", "3 oh 5 pm"},
		{"{time:00:00}", "en", "12 am"},
		{"greeting", "en", "greeting"},
	}
	for _, tc := range tests {
		t.Run(tc.lang+" "+tc.item, func(t *testing.T) {
			ids, _, err := expand(tc.item, tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range ids {
				got = append(got, strings.TrimPrefix(strings.TrimPrefix(id, "zh/"), "en/"))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("expand(%q, %s) = %q, want %q", tc.item, tc.lang, strings.Join(got, " "), tc.want)
			}
		})
	}
}

func TestExpandRejectsBadValues(t *testing.T) {
	for _, item := range []string{"{number:-1}", "{number:x}", "{amount:1.234}", "{date:26/11/2026}", "{time:25:00}", "{pause:x}", "{color:red}", "{number:1", "{digits:12a}"} {
		if _, _, err := expand(item, "en"); !errors.Is(err, ErrBadValue) {
			t.Errorf("expand(%q): err = %v, want ErrBadValue", item, err)
		}
	}
}

func TestPromptsConcatenateRecordedClips(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "zh"), 0o755)
	// Recordings come in any format: each is converted to 8 kHz mono.
	writeWAV(t, filepath.Join(dir, "greeting.wav"), 16000, 2, 24, 0.5, 300) // 4000 samples at 8 kHz
	writeWAV(t, filepath.Join(dir, "zh", "3.wav"), 8000, 1, 16, 0.2, 400)   // 1600
	writeWAV(t, filepath.Join(dir, "zh", "1000.wav"), 48000, 1, 16, 0.1, 500)
	writeWAV(t, filepath.Join(dir, "zh", "5.wav"), 8000, 1, 8, 0.1, 600)
	writeWAV(t, filepath.Join(dir, "zh", "100.wav"), 24000, 1, 32, 0.1, 700)
	writeWAV(t, filepath.Join(dir, "zh", "yuan.wav"), 8000, 1, 16, 0.1, 800)
	p, err := NewPrompts(PromptsConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := p.Synthesize(bg, "greeting {pause:100} {amount:3500}", speech.SynthOptions{Language: "zh-CN"})
	if err != nil {
		t.Fatal(err)
	}
	pcm, first := readStream(t, s, start)
	t.Logf("prompts: first frame after %v", first)
	// 4000 + 800 pause + 1600 + 800 + 800 + 800 + 800, give or take each
	// resampled clip's filter tail, padded to whole frames.
	want := 4000 + 800 + 1600 + 4*800
	if len(pcm) < want || len(pcm) > want+400 {
		t.Errorf("%d samples, want about %d", len(pcm), want)
	}
	if r := rms(pcm[400:3600]); r < 9000 || r > 14000 {
		t.Errorf("greeting rms %.0f after conversion from 24-bit stereo 16 kHz, want about 11585", r)
	}
	if r := rms(pcm[4000+100 : 4000+700]); r > 1 {
		t.Errorf("pause is not silent: rms %.0f", r)
	}
	_, err = p.Synthesize(bg, "{number:2}", speech.SynthOptions{Language: "zh-CN"})
	if !errors.Is(err, ErrNoPrompt) || !strings.Contains(err.Error(), filepath.Join(dir, "zh", "2.wav")) {
		t.Errorf("missing clip: %v", err)
	}
}

func TestPromptsRefuseRatesTheResamplerCannotConvert(t *testing.T) {
	dir := t.TempDir()
	writeWAV(t, filepath.Join(dir, "hello.wav"), 44100, 1, 16, 0.1, 300)
	_, err := NewPrompts(PromptsConfig{Dir: dir})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "sox") {
		t.Fatalf("44.1 kHz prompt: %v, want ErrFormat naming sox", err)
	}
	if _, err := NewPrompts(PromptsConfig{Dir: filepath.Join(dir, "missing")}); !errors.Is(err, speech.ErrEngineUnavailable) {
		t.Fatalf("missing directory: %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x.wav"), []byte("RIFF0000WAVEjunk"), 0o644)
	if _, err := NewPrompts(PromptsConfig{Dir: bad}); err == nil {
		t.Fatal("corrupt WAV accepted")
	}
}

func TestPromptsWithRealRecordingFromSox(t *testing.T) {
	requireProgram(t, "flite")
	requireProgram(t, "sox")
	dir := t.TempDir()
	// A recording at 44.1 kHz, converted with sox as the error message
	// tells users to.
	raw := filepath.Join(t.TempDir(), "raw.wav")
	if out, err := execCommand("flite", "-voice", "kal", "-t", "thank you for your time", "-o", raw); err != nil {
		t.Fatalf("flite: %v: %s", err, out)
	}
	if out, err := execCommand("sox", raw, "-r", "16000", "-c", "2", filepath.Join(dir, "thanks.wav")); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	p, err := NewPrompts(PromptsConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Synthesize(bg, "thanks", speech.SynthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pcm, _ := readStream(t, s, time.Now())
	if secs := float64(len(pcm)) / 8000; secs < 0.8 || secs > 3 || rms(pcm) < 300 {
		t.Errorf("%.2f s, rms %.0f", secs, rms(pcm))
	}
}
