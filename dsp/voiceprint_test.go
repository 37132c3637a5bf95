package dsp

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

func TestDTWDistanceBasics(t *testing.T) {
	seq := func(vals ...float64) [][]float64 {
		out := make([][]float64, len(vals))
		for i, v := range vals {
			out[i] = []float64{v}
		}
		return out
	}
	d := NewDTW(0)
	if got := d.Distance(seq(0, 0, 0, 0), seq(1, 1, 1, 1)); math.Abs(got-1) > 1e-9 {
		t.Errorf("offset by one: %v, want 1 per frame", got)
	}
	a := seq(0, 1, 2, 3, 2, 1, 0)
	tests := []struct {
		name string
		b    [][]float64
		want func(float64) bool
	}{
		{"identical is zero", seq(0, 1, 2, 3, 2, 1, 0), func(x float64) bool { return x == 0 }},
		{"time-stretched copy is zero", seq(0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0), func(x float64) bool { return x == 0 }},
		{"empty is infinite", nil, func(x float64) bool { return math.IsInf(x, 1) }},
	}
	for _, tt := range tests {
		if got := d.Distance(a, tt.b); !tt.want(got) {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
	// Symmetric, and a band too narrow for a long detour costs more.
	b := seq(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 2, 1, 0)
	if x, y := d.Distance(a, b), d.Distance(b, a); math.Abs(x-y) > 1e-9 {
		t.Errorf("not symmetric: %v vs %v", x, y)
	}
	if wide, narrow := NewDTW(1).Distance(a, b), NewDTW(0.01).Distance(a, b); !(narrow > wide) {
		t.Errorf("narrow band %v not above wide band %v", narrow, wide)
	}
}

// vpSpeaker is a synthetic "speaker": an espeak-ng voice and variant.
type vpSpeaker string

// vpSession is the within-speaker variation of one recording: speed,
// pitch and noise.
type vpSession struct {
	speed, pitch int
	noise        string
	snr          float64
}

func vpSessions(rng *rand.Rand, n int) []vpSession {
	var out []vpSession
	for range n {
		s := vpSession{speed: 145 + rng.Intn(50), pitch: 40 + rng.Intn(21)}
		switch rng.Intn(3) {
		case 1:
			s.noise, s.snr = "pink", 20
		case 2:
			s.noise, s.snr = "white", 25
		}
		out = append(out, s)
	}
	return out
}

func vpSay(t testing.TB, spk vpSpeaker, s vpSession, text string, seed int64) []int16 {
	x := testaudio.Espeak(t, string(spk), []string{"-s", fmt.Sprint(s.speed), "-p", fmt.Sprint(s.pitch)}, text)
	x = testaudio.Concat(testaudio.Silence(200*time.Millisecond), x, testaudio.Silence(200*time.Millisecond))
	if s.noise != "" {
		x = testaudio.MixNoise(x, s.noise, s.snr, seed)
	}
	return x
}

// vpTrials enrols each speaker on enrol sessions of the passphrase and scores
// test utterances of every speaker against every voiceprint.
type vpTrials struct {
	genuine, impostor []VoiceScore
}

func runVoiceprintTrials(t testing.TB, v *SpeakerVerifier, speakers []vpSpeaker, passphrase string, testTexts []string, nEnrol, nTest int, seed int64) vpTrials {
	rng := rand.New(rand.NewSource(seed))
	prints := make([]*Voiceprint, len(speakers))
	tests := make([][]VoiceFeatures, len(speakers))
	for i, spk := range speakers {
		sessions := vpSessions(rng, nEnrol+nTest)
		var enrol []VoiceFeatures
		for _, s := range sessions[:nEnrol] {
			f, err := v.Extract(vpSay(t, spk, s, passphrase, rng.Int63()))
			if err != nil {
				t.Fatalf("%s: %v", spk, err)
			}
			enrol = append(enrol, f)
		}
		p, err := v.Enroll(enrol...)
		if err != nil {
			t.Fatal(err)
		}
		prints[i] = p
		for k, s := range sessions[nEnrol:] {
			f, err := v.Extract(vpSay(t, spk, s, testTexts[k%len(testTexts)], rng.Int63()))
			if err != nil {
				t.Fatalf("%s: %v", spk, err)
			}
			tests[i] = append(tests[i], f)
		}
	}
	var tr vpTrials
	for i := range speakers {
		for j := range speakers {
			for _, f := range tests[j] {
				s := v.Verify(prints[i], f)
				if i == j {
					tr.genuine = append(tr.genuine, s)
				} else {
					tr.impostor = append(tr.impostor, s)
				}
			}
		}
	}
	return tr
}

// eer returns the equal error rate of a distance (lower = same speaker) and
// the threshold where false rejections and false acceptances cross.
func eer(genuine, impostor []float64) (rate, threshold float64) {
	all := append(slices.Clone(genuine), impostor...)
	slices.Sort(all)
	best := math.Inf(1)
	for _, th := range all {
		var fr, fa int
		for _, g := range genuine {
			if g > th {
				fr++
			}
		}
		for _, im := range impostor {
			if im <= th {
				fa++
			}
		}
		frr, far := float64(fr)/float64(len(genuine)), float64(fa)/float64(len(impostor))
		if d := math.Abs(frr - far); d < best {
			best, rate, threshold = d, (frr+far)/2, th
		}
	}
	return rate, threshold
}

func (tr vpTrials) scores(pick func(VoiceScore) float64) (g, im []float64) {
	for _, s := range tr.genuine {
		g = append(g, pick(s))
	}
	for _, s := range tr.impostor {
		im = append(im, pick(s))
	}
	return g, im
}

const vpPassphrase = "My voice is my password, please let me in."

var vpTuneSpeakers = []vpSpeaker{"en-us+m1", "en-us+m3", "en-us+f1", "en-us+f3", "en-gb+m2", "en-gb+f2", "en-029+m4", "en-gb-scotland+f4"}

func TestVoiceprintSeparatesSyntheticSpeakers(t *testing.T) {
	v, err := NewSpeakerVerifier(VoiceprintConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Held-out voices (not the tuning ones), passphrase spoken in fresh sessions.
	speakers := []vpSpeaker{"en-us+m2", "en-us+f2", "en-gb+m6", "en-gb+f5", "en-us-nyc+f1", "en-029+f3"}
	tr := runVoiceprintTrials(t, v, speakers, vpPassphrase, []string{vpPassphrase}, 3, 2, 7)
	for _, tc := range []struct {
		name   string
		pick   func(VoiceScore) float64
		maxEER float64
	}{
		{"DTW", func(s VoiceScore) float64 { return s.DTW }, 0.12},
		{"stats", func(s VoiceScore) float64 { return s.Stats }, 0.15},
		{"combined", func(s VoiceScore) float64 { return s.Combined }, 0.12},
	} {
		g, im := tr.scores(tc.pick)
		rate, th := eer(g, im)
		t.Logf("%s: EER %.1f%% at %.2f (%d genuine, %d impostor trials)", tc.name, 100*rate, th, len(g), len(im))
		if rate > tc.maxEER {
			t.Errorf("%s EER %.1f%%, want ≤ %.0f%%", tc.name, 100*rate, 100*tc.maxEER)
		}
	}
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
	t.Logf("default threshold: %d/%d genuine rejected, %d/%d impostors accepted", fr, len(tr.genuine), fa, len(tr.impostor))
	if pct(fr, len(tr.genuine)) > 25 || pct(fa, len(tr.impostor)) > 15 {
		t.Errorf("default threshold: FRR %.0f%%, FAR %.0f%%", pct(fr, len(tr.genuine)), pct(fa, len(tr.impostor)))
	}
}

func TestVoiceprintRejectsTooLittleSpeech(t *testing.T) {
	v, _ := NewSpeakerVerifier(VoiceprintConfig{})
	for name, x := range map[string][]int16{
		"empty":   nil,
		"silence": testaudio.Silence(2 * time.Second),
		"a blip":  testaudio.Concat(testaudio.Silence(time.Second), testaudio.Tone(100*time.Millisecond, -10, 300)),
	} {
		if _, err := v.Extract(x); !errors.Is(err, ErrTooShort) {
			t.Errorf("%s: err %v, want ErrTooShort", name, err)
		}
	}
	if _, err := v.Enroll(); !errors.Is(err, ErrTooShort) {
		t.Errorf("empty enrolment: err %v", err)
	}
	if s := v.Verify(nil, VoiceFeatures{}); s.Match || !math.IsInf(s.Combined, 1) {
		t.Errorf("verify against nothing: %+v", s)
	}
}

func TestVoiceprintRejectsBadConfig(t *testing.T) {
	for _, cfg := range []VoiceprintConfig{{Threshold: -1}, {StatsWeight: -1}, {MFCC: MFCCConfig{NumCeps: 1}}} {
		if _, err := NewSpeakerVerifier(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func BenchmarkDTWDistance(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	mk := func(n int) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = make([]float64, 24)
			for k := range out[i] {
				out[i][k] = rng.NormFloat64()
			}
		}
		return out
	}
	a, c := mk(250), mk(280) // two 2.5–2.8 s utterances at 10 ms hop
	d := NewDTW(0)
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		d.Distance(a, c)
	}
}

// vpUBMTexts are what the background speakers say: none of the test texts.
var vpUBMTexts = []string{
	"The quick brown fox jumps over the lazy dog.",
	"Could you call me back tomorrow afternoon, please?",
	"We need two tickets for the evening train to Boston.",
	"Thank you, that was very helpful, goodbye.",
}

// trainUBM fits a background model on the tuning voices (never the ones
// verified), each saying vpUBMTexts in two sessions.
func trainUBM(t testing.TB, v *SpeakerVerifier, components int) *GMM {
	rng := rand.New(rand.NewSource(99))
	var frames [][]float64
	for _, spk := range vpTuneSpeakers {
		for _, s := range vpSessions(rng, 2) {
			for _, text := range vpUBMTexts {
				f, err := v.Extract(vpSay(t, spk, s, text, rng.Int63()))
				if err != nil {
					t.Fatal(err)
				}
				frames = append(frames, f.Seq...)
			}
		}
	}
	ubm, err := TrainGMM(frames, components, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	return ubm
}

func TestGMMRecoversClustersAndAdapts(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var frames [][]float64
	for i := range 2000 {
		c := float64(i%2)*10 - 5 // clusters at −5 and +5
		frames = append(frames, []float64{c + rng.NormFloat64(), -c + 0.5*rng.NormFloat64()})
	}
	g, err := TrainGMM(frames, 2, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 2 {
		m := g.Means[c]
		if math.Abs(math.Abs(m[0])-5) > 0.2 || math.Abs(m[0]+m[1]) > 0.2 || math.Abs(g.Weights[c]-0.5) > 0.05 {
			t.Errorf("component %d: mean %v weight %.2f, want ±(5, −5) and 0.5", c, m, g.Weights[c])
		}
		if math.Abs(g.Vars[c][0]-1) > 0.2 || math.Abs(g.Vars[c][1]-0.25) > 0.05 {
			t.Errorf("component %d: variances %v, want (1, 0.25)", c, g.Vars[c])
		}
	}
	near, far := g.LogLikelihood([][]float64{{5, -5}}), g.LogLikelihood([][]float64{{0, 0}})
	if !(near > far) {
		t.Errorf("log-likelihood at a centre %.2f not above between the clusters %.2f", near, far)
	}
	// Adapting to data near (6, −6) moves the nearby component's mean there.
	var shifted [][]float64
	for range 500 {
		shifted = append(shifted, []float64{6 + rng.NormFloat64(), -6 + 0.5*rng.NormFloat64()})
	}
	a := g.MAPAdapt(shifted, 16)
	for c := range 2 {
		if g.Means[c][0] > 0 && math.Abs(a.Means[c][0]-6) > 0.2 {
			t.Errorf("adapted mean %v, want near (6, −6)", a.Means[c])
		}
		if g.Means[c][0] < 0 && math.Abs(a.Means[c][0]-g.Means[c][0]) > 0.01 {
			t.Errorf("far component moved from %v to %v", g.Means[c], a.Means[c])
		}
	}
	if !(a.LogLikelihood(shifted) > g.LogLikelihood(shifted)) {
		t.Error("adaptation did not raise the likelihood of its data")
	}
}

func TestTrainGMMRejectsBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		frames     [][]float64
		components int
	}{
		"no frames":       {nil, 2},
		"too few frames":  {[][]float64{{1}, {2}, {3}}, 2},
		"ragged frames":   {[][]float64{{1, 2}, {1}, {2, 3}, {4, 5}}, 1},
		"zero components": {[][]float64{{1}, {2}}, 0},
	} {
		if _, err := TrainGMM(tc.frames, tc.components, 5, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
	if _, err := NewSpeakerVerifier(VoiceprintConfig{UBM: &GMM{Weights: []float64{1}, Means: [][]float64{{0}}, Vars: [][]float64{{1}}}}); !errors.Is(err, ErrConfig) {
		t.Errorf("UBM of the wrong dimension accepted: %v", err)
	}
}

func TestGMMUBMVerifiesSpeakersSayingOtherWords(t *testing.T) {
	plain, _ := NewSpeakerVerifier(VoiceprintConfig{})
	ubm := trainUBM(t, plain, 32)
	v, err := NewSpeakerVerifier(VoiceprintConfig{UBM: ubm})
	if err != nil {
		t.Fatal(err)
	}
	speakers := []vpSpeaker{"en-us+m2", "en-us+f2", "en-gb+m6", "en-gb+f5", "en-us-nyc+f1", "en-029+f3"}
	tr := runVoiceprintTrials(t, v, speakers, vpPassphrase, []string{"I would like to change the address on my account.", "Please send the invoice to my office by Friday."}, 3, 3, 7)
	g, im := tr.scores(func(s VoiceScore) float64 { return -s.LLR })
	rate, th := eer(g, im)
	gs, ims := tr.scores(func(s VoiceScore) float64 { return s.Stats })
	statsRate, _ := eer(gs, ims)
	t.Logf("other words: GMM-UBM EER %.1f%% at LLR %.2f, Stats EER %.1f%% (%d genuine, %d impostor trials)", 100*rate, -th, 100*statsRate, len(g), len(im))
	if rate > 0.15 || rate > statsRate {
		t.Errorf("text-independent GMM-UBM EER %.1f%%, want ≤ 15%% and ≤ Stats' %.1f%%", 100*rate, 100*statsRate)
	}
	for _, s := range append(tr.genuine, tr.impostor...) {
		if !s.GMMScored || math.IsNaN(s.LLR) {
			t.Fatalf("score %+v: GMM not scored", s)
		}
	}
}
