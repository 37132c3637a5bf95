//go:build eval

package dsp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

var vpEvalSpeakers = []vpSpeaker{
	"en-us+m2", "en-us+m5", "en-us+f2", "en-us+f4", "en-gb+m6", "en-gb+f5", "en-gb-x-rp+m7",
	"en-us-nyc+f1", "en-gb-scotland+m3", "en-029+f3", "en-gb+m8", "en-us+f5",
}

var vpOtherTexts = []string{
	"I would like to change the address on my account.",
	"The weather has been lovely all week, hasn't it?",
	"Please send the invoice to my office by Friday.",
}

// TestVoiceprintReport prints the figures of docs/dsp-voiceprint-report.md:
//
//	go test -tags eval -run TestVoiceprintReport -v ./dsp
func TestVoiceprintReport(t *testing.T) {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	plain, _ := NewSpeakerVerifier(VoiceprintConfig{})
	ubm := trainUBM(t, plain, 32)
	base, err := NewSpeakerVerifier(VoiceprintConfig{UBM: ubm})
	if err != nil {
		t.Fatal(err)
	}
	line("UBM: 32 diagonal Gaussians trained on the tuning voices saying %d other sentences.\n", len(vpUBMTexts))

	line("Tuning speakers %v, 3 enrolment + 3 test sessions of the passphrase:\n", vpTuneSpeakers)
	line("| StatsWeight | EER combined | threshold at EER |\n|---|---|---|")
	tune := runVoiceprintTrials(t, base, vpTuneSpeakers, vpPassphrase, []string{vpPassphrase}, 3, 3, 11)
	for _, w := range []float64{0, 5, 10, 20, 40, 80} {
		g, im := tune.scores(func(s VoiceScore) float64 { return s.DTW + w*s.Stats })
		rate, th := eer(g, im)
		line("| %g | %.1f%% | %.2f |", w, 100*rate, th)
	}

	g, im := tune.scores(func(s VoiceScore) float64 { return s.Stats })
	rate, th := eer(g, im)
	line("\nStats alone on the tuning speakers: EER %.1f%% at %.3f.", 100*rate, th)
	g, im = tune.scores(func(s VoiceScore) float64 { return -s.LLR })
	rate, th = eer(g, im)
	line("\nGMM-UBM LLR alone on the tuning speakers (who are also the UBM's): EER %.1f%% at LLR %.3f.", 100*rate, -th)
	tuneTI := runVoiceprintTrials(t, base, vpTuneSpeakers, vpPassphrase, vpOtherTexts, 3, 3, 13)
	g, im = tuneTI.scores(func(s VoiceScore) float64 { return -s.LLR })
	rate, th = eer(g, im)
	line("The same, tested on other sentences (text-independent): EER %.1f%% at LLR %.3f.", 100*rate, -th)

	line("\nHeld-out speakers %v (%d), 3 enrolment + 4 test sessions each:\n", vpEvalSpeakers, len(vpEvalSpeakers))
	line("| test utterances | score | EER | genuine / impostor trials | FRR / FAR at the default threshold |\n|---|---|---|---|---|")
	for _, tc := range []struct {
		name  string
		texts []string
	}{{"same passphrase (text-dependent)", []string{vpPassphrase}}, {"other sentences (text-independent)", vpOtherTexts}} {
		tr := runVoiceprintTrials(t, base, vpEvalSpeakers, vpPassphrase, tc.texts, 3, 4, 23)
		for _, sc := range []struct {
			name string
			pick func(VoiceScore) float64
		}{
			{"DTW", func(s VoiceScore) float64 { return s.DTW }},
			{"stats (diagonal Gaussian means)", func(s VoiceScore) float64 { return s.Stats }},
			{"combined", func(s VoiceScore) float64 { return s.Combined }},
			{"GMM-UBM LLR", func(s VoiceScore) float64 { return -s.LLR }},
		} {
			g, im := tr.scores(sc.pick)
			rate, _ := eer(g, im)
			far := "—"
			if sc.name == "stats (diagonal Gaussian means)" {
				var fr, fa int
				for _, s := range tr.genuine {
					if !s.StatsMatch {
						fr++
					}
				}
				for _, s := range tr.impostor {
					if s.StatsMatch {
						fa++
					}
				}
				far = fmt.Sprintf("%.1f%% / %.1f%% (StatsMatch)", pct(fr, len(tr.genuine)), pct(fa, len(tr.impostor)))
			}
			if sc.name == "GMM-UBM LLR" {
				var fr, fa int
				for _, s := range tr.genuine {
					if !s.GMMMatch {
						fr++
					}
				}
				for _, s := range tr.impostor {
					if s.GMMMatch {
						fa++
					}
				}
				far = fmt.Sprintf("%.1f%% / %.1f%% (GMMMatch)", pct(fr, len(tr.genuine)), pct(fa, len(tr.impostor)))
			}
			if sc.name == "combined" {
				var fr, fa int
				for _, s := range tr.genuine {
					if !s.Match {
						fr++
					}
				}
				for _, s := range tr.impostor {
					if s.Match {
						fa++
					}
				}
				far = fmt.Sprintf("%.1f%% / %.1f%%", pct(fr, len(tr.genuine)), pct(fa, len(tr.impostor)))
			}
			line("| %s | %s | %.1f%% | %d / %d | %s |", tc.name, sc.name, 100*rate, len(g), len(im), far)
		}
	}

	// Real speech: pocketsphinx-testdata's LibriVox reader against the
	// other recordings there (not labelled by speaker; assumed different).
	dir := "/usr/share/pocketsphinx/test/data"
	libri, _ := filepath.Glob(filepath.Join(dir, "librivox", "*.wav"))
	cards, _ := filepath.Glob(filepath.Join(dir, "cards", "*.wav"))
	if len(libri) >= 3 && len(cards) > 0 {
		var enrol []VoiceFeatures
		for _, p := range libri[:2] {
			f, err := base.Extract(testaudio.File8k(t, p))
			if err == nil {
				enrol = append(enrol, f)
			}
		}
		p, err := base.Enroll(enrol...)
		if err == nil {
			line("\nReal speech (pocketsphinx-testdata, text-independent): LibriVox reader enrolled on %d files (the UBM is the synthetic one above).\n", len(enrol))
			line("| utterance | Stats distance (lower = same) | GMM-UBM LLR (higher = same) |\n|---|---|---|")
			for _, f := range append(libri[2:], cards...) {
				feat, err := base.Extract(testaudio.File8k(t, f))
				if err != nil {
					continue
				}
				sc := base.Verify(p, feat)
				line("| %s | %.3f | %.2f |", filepath.Join(filepath.Base(filepath.Dir(f)), filepath.Base(f)), sc.Stats, sc.LLR)
			}
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("pocketsphinx-testdata missing")
	}
	t.Log("\n" + b.String())
}
