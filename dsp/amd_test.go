package dsp

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

func TestAMDCallsShortGreetingFollowedBySilenceHuman(t *testing.T) {
	for _, tt := range []struct{ voice, text string }{
		{"en-us", "Hello?"}, {"en+f3", "Yes, who is it?"}, {"en-gb", "Hello, this is John."}, {"cmn", "喂？"},
	} {
		x := testaudio.Concat(testaudio.Silence(400*time.Millisecond), testaudio.Espeak(t, tt.voice, nil, tt.text), testaudio.Silence(3*time.Second))
		res := amdRun(AMDConfig{})(x)
		if len(res) != 1 || res[0].Kind != AMDHuman || res[0].Reason != "after_greeting_silence" {
			t.Errorf("%s %q: got %v, want one human verdict", tt.voice, tt.text, res)
			continue
		}
		if res[0].At > 3*time.Second || res[0].Confidence <= 0.5 {
			t.Errorf("%s %q: %v: want within 3 s with confidence > 0.5", tt.voice, tt.text, res[0])
		}
	}
}

func TestAMDCallsLongGreetingMachineThenFindsItsEnd(t *testing.T) {
	greeting := testaudio.Espeak(t, "en-us", nil, "Hi, you have reached the voicemail of John Smith. Please leave a message after the tone.")
	beepEnd := 500*time.Millisecond + time.Duration(len(greeting))*time.Second/SampleRate + 500*time.Millisecond + 400*time.Millisecond
	tests := []struct {
		name    string
		tail    []int16
		wantEnd AMDKind
		endAt   time.Duration
	}{
		{"beep", testaudio.Concat(testaudio.Silence(500*time.Millisecond), testaudio.Tone(400*time.Millisecond, -10, 1000), testaudio.Silence(3*time.Second)), AMDMachineEndBeep, beepEnd},
		{"silence", testaudio.Silence(4 * time.Second), AMDMachineEndSilence, 0},
		{"talks on", testaudio.Concat(greeting, greeting, greeting, greeting, greeting, greeting), AMDMachineEndOther, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := testaudio.Concat(testaudio.Silence(500*time.Millisecond), greeting, tt.tail)
			x = testaudio.MixNoise(x, "pink", 20, 7)
			res := amdRun(AMDConfig{})(x)
			if len(res) != 2 || res[0].Kind != AMDMachineStart || res[1].Kind != tt.wantEnd {
				t.Fatalf("got %v, want machine_start then %v", res, tt.wantEnd)
			}
			if res[0].At > 5*time.Second {
				t.Errorf("machine_start at %v, want within 5 s of answer", res[0].At)
			}
			if tt.endAt != 0 && (res[1].At < tt.endAt || res[1].At > tt.endAt+amdEndSlack) {
				t.Errorf("%v at %v, want %v … +%v", res[1].Kind, res[1].At, tt.endAt, amdEndSlack)
			}
		})
	}
}

func TestAMDRecognisesFaxTones(t *testing.T) {
	cng := testaudio.Concat(testaudio.Tone(500*time.Millisecond, -12, 1100), testaudio.Silence(3*time.Second))
	for _, tt := range []struct {
		name   string
		x      []int16
		reason string
	}{
		{"CED 2100 Hz", testaudio.Concat(testaudio.Silence(200*time.Millisecond), testaudio.Tone(3*time.Second, -12, 2100)), "ced"},
		{"CNG 1100 Hz cadence", testaudio.Concat(testaudio.Silence(300*time.Millisecond), cng, cng), "cng"},
	} {
		res := amdRun(AMDConfig{})(testaudio.MixNoise(tt.x, "white", 20, 1))
		if len(res) != 1 || res[0].Kind != AMDFax || res[0].Reason != tt.reason {
			t.Errorf("%s: got %v, want fax (%s)", tt.name, res, tt.reason)
		}
	}
}

func TestAMDFollowsAsteriskOnSilenceAndBareBeeps(t *testing.T) {
	tests := []struct {
		name   string
		x      []int16
		want   []AMDKind
		reason string
	}{
		{"dead air is a machine recording at once", testaudio.MixNoise(testaudio.Concat(testaudio.Tone(10*time.Millisecond, -30, 300), testaudio.Silence(6*time.Second)), "pink", 30, 2),
			[]AMDKind{AMDMachineStart, AMDMachineEndSilence}, "initial_silence"},
		{"a beep with no greeting", testaudio.Concat(testaudio.Silence(600*time.Millisecond), testaudio.Tone(300*time.Millisecond, -12, 850), testaudio.Silence(2*time.Second)),
			[]AMDKind{AMDMachineStart, AMDMachineEndBeep}, "beep"},
	}
	for _, tt := range tests {
		res := amdRun(AMDConfig{})(tt.x)
		if len(res) != len(tt.want) || res[0].Reason != tt.reason {
			t.Errorf("%s: got %v, want %v (%s)", tt.name, res, tt.want, tt.reason)
			continue
		}
		for i := range res {
			if res[i].Kind != tt.want[i] {
				t.Errorf("%s: got %v, want %v", tt.name, res, tt.want)
			}
		}
	}
}

func TestAMDSpeechThatNeverPausesIsNotHuman(t *testing.T) {
	// Words without pauses long enough for a human verdict, past the
	// greeting limit: a machine, whatever the noise.
	x := testaudio.Espeak(t, "en-us", []string{"-s", "200"}, "one two three four five six seven eight nine ten eleven twelve")
	for _, noise := range []string{"white", "babble"} {
		res := amdRun(AMDConfig{})(testaudio.MixNoise(testaudio.Concat(testaudio.Silence(300*time.Millisecond), x, testaudio.Silence(2*time.Second)), noise, 10, 4))
		if len(res) == 0 || res[0].Kind != AMDMachineStart {
			t.Errorf("%s noise: got %v, want machine_start", noise, res)
		}
	}
}

func TestAMDSurvivesOddInput(t *testing.T) {
	d := NewAMDDetector(AMDConfig{})
	full := make([]int16, 1000)
	for i := range full {
		full[i] = int16(32767 * (i%2*2 - 1))
	}
	for _, f := range [][]int16{nil, {}, {1}, full, make([]int16, 37), full[:161]} {
		d.Process(f)
	}
	for range 500 {
		d.Process(make([]int16, FrameSamples))
	}
	if !d.Done() {
		t.Error("detector not done after 10 s of silence")
	}
	if res := d.Process(full[:FrameSamples]); len(res) != 0 {
		t.Errorf("verdicts after done: %v", res)
	}
}

func TestAMDCorpusKeepsBothErrorsLow(t *testing.T) {
	// A held-out slice of the evaluation corpus (voices and phrases not
	// tuned on), small enough for CI; the full run is amd_eval_test.go.
	clips := amdCorpus(t, []amdTexts{amdEvalEN(2), amdEvalCMN(1)},
		[]amdNoise{{}, {"pink", 20, ""}, {"babble", 10, "ulaw"}}, 42)
	s := scoreAMD(amdRun(AMDConfig{}), clips)
	t.Logf("humans %d (as machine %d, unknown %d), machines %d (as human %d, unknown %d, late %d), ends %d/%d",
		s.humans, s.humanAsMachine, s.humanUnk, s.machines, s.machineAsHuman, s.machUnk, s.machineLate, s.endCorrect, s.endTotal)
	for _, f := range s.failures {
		t.Log(f)
	}
	if r := pct(s.humanAsMachine+s.humanUnk, s.humans); r > 7 {
		t.Errorf("%.1f%% of humans not called human, want ≤ 7%%", r)
	}
	if r := pct(s.machineAsHuman+s.machUnk+s.machineLate, s.machines); r > 10 {
		t.Errorf("%.1f%% of machines not called machine within 5 s, want ≤ 10%%", r)
	}
	if r := pct(s.endCorrect, s.endTotal); r < 85 {
		t.Errorf("%.1f%% of greeting ends right, want ≥ 85%%", r)
	}
}

func BenchmarkAMDDetectorFrame(b *testing.B) {
	x := testaudio.Concat(testaudio.Tone(200*time.Millisecond, -20, 200, 400, 600), testaudio.Silence(100*time.Millisecond))
	frames := testaudio.Frames(testaudio.MixNoise(x, "pink", 20, 1))
	d := NewAMDDetector(AMDConfig{MaxGreetingWait: time.Hour, TotalAnalysisTime: time.Hour, Greeting: time.Hour, InitialSilence: time.Hour, AfterGreetingSilence: time.Hour})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		d.Process(frames[i%len(frames)])
	}
}

func FuzzAMDDetector(f *testing.F) {
	f.Add([]byte{}, 160)
	f.Add(make([]byte, 8000), 61)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		d := NewAMDDetector(AMDConfig{})
		x := samplesFromBytes(data)
		chunk = max(1, chunk%1000)
		for i := 0; i < len(x); i += chunk {
			for _, r := range d.Process(x[i:min(i+chunk, len(x))]) {
				if r.Confidence <= 0 || r.Confidence > 1 || math.IsNaN(r.Confidence) || r.Reason == "" {
					t.Fatalf("bad verdict %+v", r)
				}
			}
		}
	})
}

func TestAMDOnRealRecordedSpeech(t *testing.T) {
	// pocketsphinx-testdata holds real people: short card names ("ten of
	// clubs", 1–2 s) stand for a person's greeting, 3–7 s of continuous
	// reading for a machine's. Each is played after 0.5 s of silence and
	// followed by 3 s of it.
	const dir = "/usr/share/pocketsphinx/test/data"
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.wav"))
	if len(files) < 10 {
		if os.Getenv("CI") != "" {
			t.Fatalf("pocketsphinx-testdata not found in %s", dir)
		}
		t.Skipf("pocketsphinx-testdata not installed (%s); skipping", dir)
	}
	for _, f := range files {
		x := testaudio.File8k(t, f)
		secs := float64(len(x)) / SampleRate
		want := AMDMachineStart
		switch {
		case secs <= 2:
			want = AMDHuman
		case secs < 2.9:
			continue // neither clearly short nor clearly long
		}
		res := amdRun(AMDConfig{})(testaudio.Concat(testaudio.Silence(500*time.Millisecond), x, testaudio.Silence(3*time.Second)))
		if len(res) == 0 || res[0].Kind != want {
			t.Errorf("%s (%.1f s of speech): got %v, want %v", filepath.Base(f), secs, res, want)
		}
	}
}
