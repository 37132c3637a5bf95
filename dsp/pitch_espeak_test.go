package dsp

import (
	"math"
	"slices"
	"testing"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// voicedF0s runs a PitchTracker over x and returns the f0 of voiced frames.
func voicedF0s(t testing.TB, x []int16) []float64 {
	p, err := NewPitchTracker(PitchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var f0 []float64
	for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
		if e := p.Process(x[i : i+FrameSamples]); e.Voiced {
			f0 = append(f0, e.Hz)
		}
	}
	return f0
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// referenceF0 is an independent, slow estimate for one 40 ms stretch: the
// lag of the highest normalised autocorrelation peak over 2.5–14 ms, refined
// on a 0.01-sample grid by band-limited (sinc) interpolation of the
// correlation. It shares no code with PitchTracker.
func referenceF0(x []int16, start int) (hz, peak float64) {
	const n = 320
	seg := make([]float64, n)
	for i := range seg {
		seg[i] = float64(x[start+i])
	}
	corr := func(lag float64) float64 {
		// x(j+lag) by windowed-sinc interpolation over ±8 samples.
		var num, e0, e1 float64
		for j := 0; j+int(lag)+9 < n; j++ {
			var v float64
			pos := float64(j) + lag
			for k := int(pos) - 8; k <= int(pos)+8; k++ {
				if k < 0 || k >= n {
					continue
				}
				u := pos - float64(k)
				s := 1.0
				if u != 0 {
					s = math.Sin(math.Pi*u) / (math.Pi * u)
				}
				v += seg[k] * s * (0.5 + 0.5*math.Cos(math.Pi*u/9))
			}
			num += seg[j] * v
			e0 += seg[j] * seg[j]
			e1 += v * v
		}
		return num / math.Sqrt(e0*e1+1e-9)
	}
	// Integer lags by plain normalised correlation; sinc only to refine.
	intCorr := func(lag int) float64 {
		var num, e0, e1 float64
		for j := 0; j+lag < n; j++ {
			num += seg[j] * seg[j+lag]
			e0 += seg[j] * seg[j]
			e1 += seg[j+lag] * seg[j+lag]
		}
		return num / math.Sqrt(e0*e1+1e-9)
	}
	best, bestLag := -1.0, 0.0
	for lag := 20; lag <= 114; lag++ {
		if c := intCorr(lag); c > best {
			best, bestLag = c, float64(lag)
		}
	}
	// Prefer the shortest lag with a nearly equal peak (avoid octave errors).
	for div := 3; div >= 2; div-- {
		l := math.Round(bestLag / float64(div))
		if l >= 20 {
			if c := intCorr(int(l)); c > 0.9*best {
				best, bestLag = c, l
				break
			}
		}
	}
	best = corr(bestLag)
	for step := 0.5; step >= 0.01; step /= 2 {
		for _, l := range []float64{bestLag - step, bestLag + step} {
			if c := corr(l); c > best {
				best, bestLag = c, l
			}
		}
	}
	return 8000 / bestLag, best
}

func TestPitchTrackerFollowsEspeakPitchSetting(t *testing.T) {
	testaudio.Need(t, "espeak-ng")
	testaudio.Need(t, "sox")
	const text = "hello there, how are you today? we are calling about your account."
	var medians []float64
	for _, pitch := range []string{"10", "50", "90"} {
		f0 := voicedF0s(t, testaudio.Espeak(t, "en-us", []string{"-p", pitch}, text))
		if len(f0) < 30 {
			t.Fatalf("-p %s: only %d voiced frames", pitch, len(f0))
		}
		m := quantile(f0, 0.5)
		t.Logf("-p %s: %d voiced frames, median %.1f Hz (p10 %.1f, p90 %.1f)", pitch, len(f0), m, quantile(f0, 0.1), quantile(f0, 0.9))
		medians = append(medians, m)
	}
	for i := 1; i < len(medians); i++ {
		if medians[i] < medians[i-1]*1.1 {
			t.Errorf("median f0 %v does not rise with espeak's -p", medians)
		}
	}
}

func TestPitchTrackerMatchesReferenceOnMonotoneEspeak(t *testing.T) {
	testaudio.Need(t, "espeak-ng")
	testaudio.Need(t, "sox")
	for _, tc := range []struct{ voice, pitch string }{
		{"en-us", "30"}, {"en-us", "70"}, {"en+f3", "50"},
	} {
		t.Run(tc.voice+" -p "+tc.pitch, func(t *testing.T) {
			// SSML range 0 flattens espeak's intonation, so each utterance
			// has one target f0 and a frame-by-frame comparison is fair.
			x := testaudio.Espeak(t, tc.voice, []string{"-m", "-p", tc.pitch},
				`<speak><prosody range="0">we are calling about your account today</prosody></speak>`)
			p, _ := NewPitchTracker(PitchConfig{})
			var rel []float64
			voiced, refVoiced := 0, 0
			for i := 0; i+FrameSamples <= len(x); i += FrameSamples {
				e := p.Process(x[i : i+FrameSamples])
				if i < 320-FrameSamples {
					continue
				}
				ref, peak := referenceF0(x, i+FrameSamples-320)
				if peak < 0.9 || testaudio.ActivePower(x[i:i+FrameSamples]) == 0 {
					continue // not clearly voiced by the reference either
				}
				refVoiced++
				if !e.Voiced {
					continue
				}
				voiced++
				rel = append(rel, math.Abs(e.Hz-ref)/ref)
			}
			if refVoiced < 20 {
				t.Fatalf("only %d clearly voiced frames", refVoiced)
			}
			med, p90 := quantile(rel, 0.5), quantile(rel, 0.9)
			t.Logf("%d/%d reference-voiced frames voiced; relative error median %.2f%%, p90 %.2f%%", voiced, refVoiced, 100*med, 100*p90)
			if float64(voiced) < 0.9*float64(refVoiced) {
				t.Errorf("voiced %d of %d clearly periodic frames", voiced, refVoiced)
			}
			if med > 0.01 || p90 > 0.03 {
				t.Errorf("relative error median %.2f%% p90 %.2f%%, want ≤ 1%% and ≤ 3%%", 100*med, 100*p90)
			}
		})
	}
}
