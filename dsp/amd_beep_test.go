package dsp

import (
	"math"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// beepsIn feeds x to a BeepDetector frame by frame and returns the beeps.
func beepsIn(x []int16) []Beep {
	d := NewBeepDetector(AMDConfig{})
	var out []Beep
	for _, f := range testaudio.Frames(x) {
		if b, ok := d.Process(f); ok {
			out = append(out, b)
		}
	}
	return out
}

func TestBeepDetectorFindsTheBeepAfterAGreeting(t *testing.T) {
	greeting := testaudio.Espeak(t, "en-us", nil, "Hi, you have reached John. Please leave a message after the tone.")
	mandarin := testaudio.Espeak(t, "cmn", nil, "您好，我现在不方便接听，请在提示音后留言。")
	dur := func(x []int16) time.Duration { return time.Duration(len(x)) * time.Second / SampleRate }
	for _, tc := range []struct {
		name   string
		before []int16 // audio up to the beep
		beep   []int16
		freq   float64
		noise  bool
	}{
		{"1 kHz after an English greeting", testaudio.Concat(greeting, testaudio.Silence(500*time.Millisecond)), testaudio.Tone(400*time.Millisecond, -10, 1000), 1000, false},
		{"440 Hz after a Mandarin greeting", testaudio.Concat(mandarin, testaudio.Silence(300*time.Millisecond)), testaudio.Tone(600*time.Millisecond, -14, 440), 440, false},
		{"heard from mid-greeting, in noise", testaudio.Concat(greeting[len(greeting)/2:], testaudio.Silence(400*time.Millisecond)), testaudio.Tone(250*time.Millisecond, -12, 850), 850, true},
		{"a long beep is still a beep", testaudio.Concat(greeting, testaudio.Silence(400*time.Millisecond)), testaudio.Tone(1500*time.Millisecond, -10, 1400), 1400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := testaudio.Concat(tc.before, tc.beep, testaudio.Silence(2*time.Second))
			if tc.noise {
				x = testaudio.MixNoise(x, "pink", 20, 3)
			}
			got := beepsIn(x)
			end := dur(tc.before) + dur(tc.beep)
			if len(got) != 1 {
				t.Fatalf("beeps %+v, want one", got)
			}
			b := got[0]
			if math.Abs(b.FreqHz-tc.freq) > 40 {
				t.Errorf("beep at %.0f Hz, want %.0f", b.FreqHz, tc.freq)
			}
			if b.At < end || b.At > end+200*time.Millisecond {
				t.Errorf("beep confirmed at %v, want within 200 ms after it ends at %v", b.At, end)
			}
			if d := dur(tc.beep); b.Duration < d-60*time.Millisecond || b.Duration > d+40*time.Millisecond {
				t.Errorf("beep lasted %v, want %v", b.Duration, d)
			}
		})
	}
}

func TestBeepDetectorIgnoresWhatIsNotABeep(t *testing.T) {
	greeting := testaudio.Espeak(t, "en-us", nil, "Hi, you have reached John. Please leave a message after the tone.")
	sung := testaudio.Espeak(t, "en-us", []string{"-s", "60"}, "aaaaah oooooh")
	for _, tc := range []struct {
		name string
		x    []int16
	}{
		{"a greeting and silence", testaudio.Concat(greeting, testaudio.Silence(3*time.Second))},
		{"a slow sung vowel", testaudio.Concat(testaudio.Silence(time.Second), sung, testaudio.Silence(2*time.Second))},
		{"a tone glued to speech", testaudio.Concat(greeting, testaudio.Tone(400*time.Millisecond, -10, 1000), greeting)},
		{"a tone too short", testaudio.Concat(greeting, testaudio.Silence(500*time.Millisecond), testaudio.Tone(60*time.Millisecond, -10, 1000), testaudio.Silence(time.Second))},
		{"a tone out of the band", testaudio.Concat(greeting, testaudio.Silence(500*time.Millisecond), testaudio.Tone(400*time.Millisecond, -10, 2900), testaudio.Silence(time.Second))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := beepsIn(tc.x); len(got) != 0 {
				t.Errorf("beeps %+v, want none", got)
			}
		})
	}
}

func TestBeepDetectorAllocatesNothingPerFrame(t *testing.T) {
	x := testaudio.Concat(testaudio.Silence(300*time.Millisecond), testaudio.Tone(400*time.Millisecond, -10, 1000), testaudio.Silence(time.Second))
	frames := testaudio.Frames(x)
	d := NewBeepDetector(AMDConfig{})
	i := 0
	allocs := testing.AllocsPerRun(len(frames)-1, func() {
		d.Process(frames[i%len(frames)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func BenchmarkBeepDetector(b *testing.B) {
	frames := testaudio.Frames(testaudio.Concat(testaudio.Silence(300*time.Millisecond), testaudio.Tone(400*time.Millisecond, -10, 1000), testaudio.Silence(time.Second)))
	d := NewBeepDetector(AMDConfig{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Process(frames[i%len(frames)])
		i++
	}
}
