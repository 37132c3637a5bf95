package dsp

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

func feedUtterance(e *EmotionTracker, x []int16) {
	for _, f := range testaudio.Frames(x) {
		e.Process(f)
	}
}

func measureCues(t *testing.T, x []int16) UtteranceCues {
	t.Helper()
	e, err := NewEmotionTracker(EmotionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	feedUtterance(e, x)
	return e.EndUtterance().Cues
}

// glide synthesises a voiced-like harmonic tone whose f0 moves linearly from
// f0a to f0b, amplitude-modulated into syllables at sylRate per second.
func glide(d time.Duration, f0a, f0b, sylRate float64) []int16 {
	n := int(d.Seconds() * SampleRate)
	out := make([]int16, n)
	var phase float64
	for i := range out {
		tt := float64(i) / SampleRate
		f0 := f0a + (f0b-f0a)*tt/d.Seconds()
		phase += 2 * math.Pi * f0 / SampleRate
		var v float64
		for h := 1.0; h <= 5; h++ {
			v += math.Sin(h*phase) / h
		}
		env := 1.0
		if sylRate > 0 {
			env = 0.1 + 0.9*math.Pow(math.Sin(math.Pi*sylRate*tt), 2)
		}
		out[i] = int16(6000 * v * env)
	}
	return out
}

func TestEmotionCuesMeasureKnownSignals(t *testing.T) {
	t.Run("rising f0 gives a positive slope and the right mean", func(t *testing.T) {
		c := measureCues(t, glide(2*time.Second, 120, 180, 0))
		// 120→180 Hz over 2 s is 7 semitones: 3.5 st/s; geometric mean ≈ 148 Hz.
		if math.Abs(c.F0SlopeSemitonesPerSec-3.5) > 0.7 || math.Abs(c.F0MeanHz-148) > 8 {
			t.Errorf("slope %.2f st/s, mean %.1f Hz; want ≈3.5 and ≈148", c.F0SlopeSemitonesPerSec, c.F0MeanHz)
		}
		if c.F0RangeSemitones < 4.5 || c.F0RangeSemitones > 7 {
			t.Errorf("range %.2f st, want about 5.6 (10th–90th percentile of 7)", c.F0RangeSemitones)
		}
	})
	t.Run("syllable rate follows the modulation", func(t *testing.T) {
		for _, rate := range []float64{3, 5} {
			c := measureCues(t, glide(3*time.Second, 150, 150, rate))
			if math.Abs(c.SyllablesPerSec-rate) > 0.7 {
				t.Errorf("modulated at %g/s: %.2f syllables/s", rate, c.SyllablesPerSec)
			}
		}
	})
	t.Run("pause ratio counts silence", func(t *testing.T) {
		x := testaudio.Concat(glide(time.Second, 150, 150, 0), testaudio.Silence(time.Second))
		c := measureCues(t, testaudio.MixNoise(x, "white", 30, 1))
		if math.Abs(c.PauseRatio-0.5) > 0.05 {
			t.Errorf("pause ratio %.2f, want 0.5", c.PauseRatio)
		}
	})
	t.Run("silence gives zero cues without NaN", func(t *testing.T) {
		c := measureCues(t, testaudio.Silence(time.Second))
		for _, v := range []float64{c.F0MeanHz, c.F0RangeSemitones, c.EnergyMeanDBFS, c.SyllablesPerSec, c.PauseRatio} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("cues %+v hold NaN or Inf", c)
			}
		}
		if c.VoicedFrames != 0 {
			t.Errorf("voiced frames %d in silence", c.VoicedFrames)
		}
	})
}

func TestEmotionRaisedVoiceScoresHigherArousalForEveryVoice(t *testing.T) {
	baseline := []string{
		"I would like to know when my order will arrive.",
		"My account number is four five six seven.",
		"Can you tell me what the charge on my bill is for?",
	}
	const target = "I have called three times about this and nobody has fixed it."
	plain := []string{"-p", "40", "-s", "150", "-a", "100"}
	raised := []string{"-p", "80", "-s", "220", "-a", "200"}
	calm := []string{"-p", "30", "-s", "120", "-a", "60"}
	for _, voice := range []string{"en-us", "en+f3", "en-gb+m3", "en-us+f2"} {
		for _, noise := range []float64{0, 20} {
			e, err := NewEmotionTracker(EmotionConfig{})
			if err != nil {
				t.Fatal(err)
			}
			say := func(args []string, text string) []int16 {
				x := testaudio.Espeak(t, voice, args, text)
				if noise > 0 {
					x = testaudio.MixNoise(x, "pink", noise, 9)
				}
				return x
			}
			for i, text := range baseline {
				feedUtterance(e, say(plain, text))
				if r := e.EndUtterance(); i == 0 && (r.Arousal != 0 || r.Label != EmotionNeutral) {
					t.Errorf("%s: first utterance %+v, want the neutral prior", voice, r)
				}
			}
			score := func(args []string) EmotionResult {
				probe, _ := NewEmotionTracker(EmotionConfig{})
				feedUtterance(probe, say(args, target))
				return e.Score(probe.EndUtterance().Cues)
			}
			p, r, c := score(plain), score(raised), score(calm)
			cond := "clean"
			if noise > 0 {
				cond = fmt.Sprintf("pink %g dB", noise)
			}
			t.Logf("%s %s: calm %.2f (%v), plain %.2f (%v), raised %.2f (%v)", voice, cond, c.Arousal, c.Label, p.Arousal, p.Label, r.Arousal, r.Label)
			if !(r.Arousal > p.Arousal+0.5) || r.Label != EmotionAgitated {
				t.Errorf("%s SNR %g: raised arousal %.2f (%v), plain %.2f: want raised agitated and clearly higher", voice, noise, r.Arousal, r.Label, p.Arousal)
			}
			if p.Label != EmotionNeutral {
				t.Errorf("%s SNR %g: plain %v (%.2f), want neutral", voice, noise, p.Label, p.Arousal)
			}
			if !(c.Arousal < p.Arousal) {
				t.Errorf("%s SNR %g: calm arousal %.2f not below plain %.2f", voice, noise, c.Arousal, p.Arousal)
			}
		}
	}
}

func TestEmotionTrackerRejectsBadConfig(t *testing.T) {
	for _, cfg := range []EmotionConfig{{CalmAt: 2, AgitatedAt: 1}, {MaxUtterance: -time.Second}, {PriorUtterances: -1}} {
		if _, err := NewEmotionTracker(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestEmotionTrackerSurvivesOddInput(t *testing.T) {
	e, _ := NewEmotionTracker(EmotionConfig{MaxUtterance: 100 * time.Millisecond})
	for _, f := range [][]int16{nil, {}, {32767}, make([]int16, 5000)} {
		e.Process(f)
	}
	for range 20 { // past MaxUtterance: ignored, not grown
		e.Process(make([]int16, FrameSamples))
	}
	r := e.EndUtterance()
	if r.Label != EmotionNeutral || math.IsNaN(r.Arousal) {
		t.Errorf("odd input gave %+v", r)
	}
	e.Reset()
	if r := e.EndUtterance(); r.Baseline != 0 {
		t.Errorf("baseline %d after Reset", r.Baseline)
	}
}

func BenchmarkEmotionTrackerFrame(b *testing.B) {
	frames := testaudio.Frames(glide(time.Second, 120, 160, 4))
	e, _ := NewEmotionTracker(EmotionConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if i%len(frames) == 0 && i > 0 {
			e.EndUtterance()
		}
		e.Process(frames[i%len(frames)])
	}
}
