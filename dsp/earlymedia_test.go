package dsp

import (
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// classify feeds x to a classifier and returns every change of class.
func classify(t *testing.T, cfg EarlyMediaConfig, x []int16) []EarlyMediaResult {
	t.Helper()
	c, err := NewEarlyMediaClassifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []EarlyMediaResult
	for _, f := range testaudio.Frames(x) {
		if r, ok := c.Process(f); ok {
			out = append(out, r)
		}
	}
	if len(out) > 0 && c.Result() != out[len(out)-1] {
		t.Errorf("Result() = %+v, want the last change %+v", c.Result(), out[len(out)-1])
	}
	return out
}

func TestEarlyMediaClassifiesTonesAnnouncementsAndSilence(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	china := EarlyMediaConfig{Tones: ToneConfig{Plan: ChinaTones()}}
	na := EarlyMediaConfig{Tones: ToneConfig{Plan: NorthAmericaTones()}}
	vacantZH := testaudio.Espeak(t, "cmn", nil, "您拨打的号码是空号，请查证后再拨。")
	offZH := testaudio.Espeak(t, "cmn", nil, "您拨打的电话已关机。")
	vacantEN := testaudio.Flite(t, "kal", "The number you have dialled is not in service. Please check the number and try again.")
	unreachableEN := testaudio.Espeak(t, "en-us", nil, "The subscriber you have dialled cannot be reached at the moment.")
	cnRing := cadenceAudio([]float64{450}, []time.Duration{ms(1000), ms(4000)}, 12*time.Second, -15)
	naRing := cadenceAudio([]float64{440, 480}, []time.Duration{ms(2000), ms(4000)}, 12*time.Second, -18)
	sit := testaudio.Concat(testaudio.Tone(ms(330), -15, 950), testaudio.Tone(ms(330), -15, 1400), testaudio.Tone(ms(330), -15, 1800), testaudio.Silence(ms(300)))
	// Line noise alone, at about −50 dBFS.
	hiss := func(d time.Duration) []int16 {
		n := len(testaudio.Silence(d))
		noise, err := testaudio.Noise("pink", n, 5)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int16, n)
		for i, v := range noise {
			out[i] = int16(v * 32768 * 0.003)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		cfg   EarlyMediaConfig
		x     []int16
		kinds []EarlyMediaKind
		by    []time.Duration // each change no later than this
	}{
		{"China ringback", china, cnRing, []EarlyMediaKind{EarlyMediaRingback}, []time.Duration{ms(2000)}},
		{"North American ringback", na, naRing, []EarlyMediaKind{EarlyMediaRingback}, []time.Duration{ms(2600)}},
		{"China busy", china, cadenceAudio([]float64{450}, []time.Duration{ms(350), ms(350)}, 4*time.Second, -15), []EarlyMediaKind{EarlyMediaBusy}, []time.Duration{ms(1500)}},
		{"空号 announcement", china, testaudio.Concat(vacantZH, testaudio.Silence(ms(500)), vacantZH), []EarlyMediaKind{EarlyMediaAnnouncement}, []time.Duration{ms(2500)}},
		{"关机 announcement in noise", china, testaudio.MixNoise(testaudio.Concat(offZH, offZH), "pink", 15, 2), []EarlyMediaKind{EarlyMediaAnnouncement}, []time.Duration{ms(2500)}},
		{"not in service (flite)", na, vacantEN, []EarlyMediaKind{EarlyMediaAnnouncement}, []time.Duration{ms(2500)}},
		{"ringback, then cannot be reached", china, testaudio.Concat(cnRing[:len(cnRing)/2], unreachableEN), []EarlyMediaKind{EarlyMediaRingback, EarlyMediaAnnouncement}, []time.Duration{ms(2000), ms(6000 + 2500)}},
		{"SIT, then the announcement", na, testaudio.Concat(sit, vacantEN), []EarlyMediaKind{EarlyMediaSIT, EarlyMediaAnnouncement}, []time.Duration{ms(1300), ms(1300 + 2500)}},
		{"a foreign plan's ringback is a tone, never speech", china, naRing, []EarlyMediaKind{EarlyMediaSilence}, []time.Duration{ms(5100)}},
		{"空号 through G.711 A-law", china, testaudio.G711(vacantZH, "alaw"), []EarlyMediaKind{EarlyMediaAnnouncement}, []time.Duration{ms(2500)}},
		{"ringback through G.711 μ-law", na, testaudio.G711(naRing, "ulaw"), []EarlyMediaKind{EarlyMediaRingback}, []time.Duration{ms(2600)}},
		{"silence", china, testaudio.Silence(8 * time.Second), []EarlyMediaKind{EarlyMediaSilence}, []time.Duration{ms(5100)}},
		{"line noise is silence", china, hiss(8 * time.Second), []EarlyMediaKind{EarlyMediaSilence}, []time.Duration{ms(5100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(t, tc.cfg, tc.x)
			if len(got) != len(tc.kinds) {
				t.Fatalf("classes %+v, want %v", got, tc.kinds)
			}
			for i, r := range got {
				if r.Kind != tc.kinds[i] || r.At > tc.by[i] {
					t.Errorf("change %d: %v at %v, want %v by %v", i, r.Kind, r.At, tc.kinds[i], tc.by[i])
				}
			}
		})
	}
}

func TestEarlyMediaAllocatesNothingPerFrame(t *testing.T) {
	frames := testaudio.Frames(cadenceAudio([]float64{450}, []time.Duration{time.Second, 4 * time.Second}, 5*time.Second, -15))
	c, err := NewEarlyMediaClassifier(EarlyMediaConfig{Tones: ToneConfig{Plan: ChinaTones()}})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	allocs := testing.AllocsPerRun(len(frames)-1, func() {
		c.Process(frames[i%len(frames)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func TestEarlyMediaRejectsABadTonePlan(t *testing.T) {
	_, err := NewEarlyMediaClassifier(EarlyMediaConfig{Tones: ToneConfig{Plan: TonePlan{Name: "bad", Tones: []ToneSpec{{Kind: ToneBusy}}}}})
	if err == nil {
		t.Fatal("a plan with a toneless spec was accepted")
	}
}

func BenchmarkEarlyMediaClassifier(b *testing.B) {
	frames := testaudio.Frames(cadenceAudio([]float64{450}, []time.Duration{time.Second, 4 * time.Second}, 5*time.Second, -15))
	c, _ := NewEarlyMediaClassifier(EarlyMediaConfig{Tones: ToneConfig{Plan: ChinaTones()}})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Process(frames[i%len(frames)])
		i++
	}
}
