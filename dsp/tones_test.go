package dsp

import (
	"errors"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// cadenceAudio plays freqs switched by cadence (on, off, …) for total.
func cadenceAudio(freqs []float64, cadence []time.Duration, total time.Duration, levelDBFS float64) []int16 {
	var parts [][]int16
	var t time.Duration
	for i := 0; t < total; i++ {
		d := cadence[i%len(cadence)]
		if i%2 == 0 {
			parts = append(parts, testaudio.Tone(d, levelDBFS, freqs...))
		} else {
			parts = append(parts, testaudio.Silence(d))
		}
		t += d
	}
	return testaudio.Concat(parts...)
}

func runTones(t *testing.T, plan TonePlan, x []int16) []ToneEvent {
	t.Helper()
	d, err := NewToneDetector(ToneConfig{Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	var out []ToneEvent
	for _, f := range testaudio.Frames(x) {
		out = append(out, d.Process(f)...)
	}
	return out
}

func TestToneDetectorRecognisesEachPlanByCadence(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		plan    TonePlan
		freqs   []float64
		cadence []time.Duration
		skip    time.Duration // join the tone this far into its first on segment
		want    ToneKind
		within  time.Duration // latency bound from the start of the audio
	}{
		{"NA ringback", NorthAmericaTones(), []float64{440, 480}, []time.Duration{ms(2000), ms(4000)}, 0, ToneRingback, ms(2600)},
		{"NA ringback joined mid-tone", NorthAmericaTones(), []float64{440, 480}, []time.Duration{ms(2000), ms(4000)}, ms(1200), ToneRingback, ms(4200)},
		{"NA busy", NorthAmericaTones(), []float64{480, 620}, []time.Duration{ms(500), ms(500)}, 0, ToneBusy, ms(1500)},
		{"NA reorder", NorthAmericaTones(), []float64{480, 620}, []time.Duration{ms(250), ms(250)}, 0, ToneCongestion, ms(1000)},
		{"China ringback", ChinaTones(), []float64{450}, []time.Duration{ms(1000), ms(4000)}, 0, ToneRingback, ms(1600)},
		{"China busy", ChinaTones(), []float64{450}, []time.Duration{ms(350), ms(350)}, 0, ToneBusy, ms(1400)},
		{"China congestion", ChinaTones(), []float64{450}, []time.Duration{ms(700), ms(700)}, 0, ToneCongestion, ms(2000)},
	}
	for _, tt := range tests {
		for _, snr := range []float64{30, 10} {
			t.Run(tt.name, func(t *testing.T) {
				x := cadenceAudio(tt.freqs, tt.cadence, 8*time.Second, -18)
				x = x[int(tt.skip.Seconds()*SampleRate):]
				x = testaudio.MixNoise(x, "pink", snr, 5)
				evs := runTones(t, tt.plan, x)
				if len(evs) == 0 {
					t.Fatalf("SNR %g dB: no event, want %v", snr, tt.want)
				}
				for _, e := range evs {
					if e.Kind != tt.want {
						t.Errorf("SNR %g dB: event %v at %v, want only %v", snr, e.Kind, e.At, tt.want)
					}
				}
				if evs[0].At > tt.within {
					t.Errorf("SNR %g dB: %v confirmed at %v, want within %v", snr, evs[0].Kind, evs[0].At, tt.within)
				}
			})
		}
	}
}

func TestToneDetectorRecognisesSIT(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	sit := func(freqs [3]float64, seg [3]time.Duration) []int16 {
		return testaudio.Concat(testaudio.Silence(ms(300)),
			testaudio.Tone(seg[0], -15, freqs[0]), testaudio.Tone(seg[1], -15, freqs[1]), testaudio.Tone(seg[2], -15, freqs[2]),
			testaudio.Silence(ms(1000)))
	}
	tests := []struct {
		name string
		x    []int16
		want bool
	}{
		{"Telcordia short-long-long", sit([3]float64{913.8, 1370.6, 1776.7}, [3]time.Duration{ms(276), ms(380), ms(380)}), true},
		{"Telcordia high first tones", sit([3]float64{985.2, 1428.5, 1776.7}, [3]time.Duration{ms(380), ms(276), ms(380)}), true},
		{"ITU-T E.180", sit([3]float64{950, 1400, 1800}, [3]time.Duration{ms(330), ms(330), ms(330)}), true},
		{"falling order", sit([3]float64{1776.7, 1370.6, 913.8}, [3]time.Duration{ms(380), ms(380), ms(380)}), false},
		{"segments too short", sit([3]float64{913.8, 1370.6, 1776.7}, [3]time.Duration{ms(100), ms(100), ms(100)}), false},
		{"two tones only", testaudio.Concat(testaudio.Tone(ms(380), -15, 913.8), testaudio.Tone(ms(380), -15, 1370.6), testaudio.Silence(ms(800))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := runTones(t, NorthAmericaTones(), testaudio.MixNoise(tt.x, "white", 20, 2))
			got := len(evs) == 1 && evs[0].Kind == ToneSIT
			if got != tt.want || (!tt.want && len(evs) > 0) {
				t.Errorf("events %v, want SIT=%v", evs, tt.want)
			}
		})
	}
}

func TestToneDetectorIgnoresSpeechAndSteadyTones(t *testing.T) {
	speech := testaudio.Concat(
		testaudio.Espeak(t, "en-us", nil, "Hello, thank you for calling. All of our agents are busy, please hold the line and your call will be answered shortly."),
		testaudio.Espeak(t, "cmn", nil, "您好，您拨打的电话正在通话中，请稍后再拨。"),
		testaudio.Espeak(t, "en+f3", []string{"-p", "70"}, "Ring ring, nobody is home, beep beep beep."),
	)
	tests := []struct {
		name string
		x    []int16
	}{
		{"speech", speech},
		{"dial tone 350+440", testaudio.Tone(5*time.Second, -15, 350, 440)},
		{"continuous 450", testaudio.Tone(5*time.Second, -15, 450)},
		{"1 kHz beep", cadenceAudio([]float64{1000}, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}, 4*time.Second, -15)},
	}
	for _, plan := range []TonePlan{NorthAmericaTones(), ChinaTones()} {
		for _, tt := range tests {
			if evs := runTones(t, plan, tt.x); len(evs) != 0 {
				t.Errorf("%s plan, %s: events %v, want none", plan.Name, tt.name, evs)
			}
		}
	}
}

func TestToneDetectorRejectsMalformedPlans(t *testing.T) {
	for _, plan := range []TonePlan{
		{Name: "no freqs", Tones: []ToneSpec{{Kind: ToneBusy, Cadence: []time.Duration{time.Second, time.Second}}}},
		{Name: "odd cadence", Tones: []ToneSpec{{Kind: ToneBusy, FreqsHz: []float64{400}, Cadence: []time.Duration{time.Second}}}},
		{Name: "above Nyquist", Tones: []ToneSpec{{Kind: ToneBusy, FreqsHz: []float64{5000}, Cadence: []time.Duration{time.Second, time.Second}}}},
	} {
		if _, err := NewToneDetector(ToneConfig{Plan: plan}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", plan.Name, err)
		}
	}
}

func TestToneDetectorAcceptsAnyFrameLength(t *testing.T) {
	x := cadenceAudio([]float64{480, 620}, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}, 3*time.Second, -18)
	d, _ := NewToneDetector(ToneConfig{})
	var got []ToneEvent
	for i := 0; i < len(x); i += 97 {
		got = append(got, d.Process(x[i:min(i+97, len(x))])...)
	}
	d.Process(nil)
	if len(got) != 1 || got[0].Kind != ToneBusy {
		t.Errorf("events %v, want one busy", got)
	}
}

func BenchmarkToneDetectorFrame(b *testing.B) {
	x := cadenceAudio([]float64{480, 620}, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}, 4*time.Second, -18)
	frames := testaudio.Frames(testaudio.MixNoise(x, "white", 20, 1))
	d, _ := NewToneDetector(ToneConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		d.Process(frames[i%len(frames)])
	}
}

func FuzzToneDetector(f *testing.F) {
	f.Add([]byte{}, 160, false)
	f.Add(make([]byte, 4000), 97, true)
	f.Fuzz(func(t *testing.T, data []byte, chunk int, china bool) {
		plan := NorthAmericaTones()
		if china {
			plan = ChinaTones()
		}
		d, err := NewToneDetector(ToneConfig{Plan: plan})
		if err != nil {
			t.Fatal(err)
		}
		x := samplesFromBytes(data)
		chunk = max(1, chunk%1000)
		for i := 0; i < len(x); i += chunk {
			for _, e := range d.Process(x[i:min(i+chunk, len(x))]) {
				if e.Kind == ToneNone || e.At < e.Start {
					t.Fatalf("bad event %+v", e)
				}
			}
		}
	})
}
