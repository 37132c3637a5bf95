package dsp

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dsp/internal/testaudio"
)

// dtmfTone synthesises one key: row and column at their levels and
// frequencies scaled by the given relative deviations.
func dtmfTone(key byte, d time.Duration, rowDB, colDB, rowDev, colDev float64) []int16 {
	for r := range 4 {
		for c := range 4 {
			if dtmfKeys[r][c] == key {
				a := testaudio.Tone(d, rowDB, dtmfRowHz[r]*(1+rowDev))
				b := testaudio.Tone(d, colDB, dtmfColHz[c]*(1+colDev))
				for i := range a {
					a[i] = sat16(int32(a[i]) + int32(b[i]))
				}
				return a
			}
		}
	}
	panic("no key " + string(key))
}

func sat16(v int32) int16 { return int16(max(-32768, min(32767, v))) }

// runDTMF feeds x in 20 ms frames (plus trailing silence) and returns the digits.
func runDTMF(cfg DTMFConfig, x []int16) (digits string, events []DTMFEvent) {
	d := NewDTMFDetector(cfg)
	x = testaudio.Concat(x, testaudio.Silence(100*time.Millisecond))
	for _, f := range testaudio.Frames(x) {
		for _, e := range d.Process(f) {
			digits += string(e.Digit)
			events = append(events, e)
		}
	}
	return digits, events
}

func TestDTMFDetectsEveryKeyInOrder(t *testing.T) {
	const keys = "123A456B789C*0#D"
	var parts [][]int16
	for i := range len(keys) {
		parts = append(parts, testaudio.Silence(60*time.Millisecond), dtmfTone(keys[i], 60*time.Millisecond, -10, -8, 0, 0))
	}
	got, events := runDTMF(DTMFConfig{}, testaudio.Concat(parts...))
	if got != keys {
		t.Fatalf("digits %q, want %q", got, keys)
	}
	for i, e := range events {
		want := time.Duration(i)*120*time.Millisecond + 60*time.Millisecond
		if d := e.At - want; d < -15*time.Millisecond || d > 15*time.Millisecond {
			t.Errorf("digit %c at %v, want %v ± 15 ms", e.Digit, e.At, want)
		}
	}
}

func TestDTMFFrequencyToleranceFollowsQ24(t *testing.T) {
	// Each of the eight frequencies is shifted alone; the key chosen uses it.
	keyFor := map[float64]byte{697: '1', 770: '4', 852: '7', 941: '*', 1209: '1', 1336: '2', 1477: '3', 1633: 'A'}
	tests := []struct {
		dev  float64
		want bool
	}{
		{0.015, true}, {-0.015, true}, {0.035, false}, {-0.035, false}, {0.05, false}, {-0.05, false},
	}
	for f, key := range keyFor {
		isRow := f < 1000
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%gHz%+.1f%%", f, tt.dev*100), func(t *testing.T) {
				rowDev, colDev := 0.0, 0.0
				if isRow {
					rowDev = tt.dev
				} else {
					colDev = tt.dev
				}
				x := testaudio.Concat(testaudio.Silence(30*time.Millisecond), dtmfTone(key, 80*time.Millisecond, -10, -10, rowDev, colDev))
				got, _ := runDTMF(DTMFConfig{}, x)
				if (got == string(key)) != tt.want {
					t.Errorf("digits %q, want accepted=%v", got, tt.want)
				}
			})
		}
	}
}

func TestDTMFTwistLimits(t *testing.T) {
	tests := []struct {
		name         string
		rowDB, colDB float64
		want         bool
	}{
		{"equal levels", -12, -12, true},
		{"row 7 dB louder (normal twist)", -8, -15, true},
		{"row 10 dB louder", -8, -18, false},
		{"column 3 dB louder (reverse twist)", -12, -9, true},
		{"column 6 dB louder", -14, -8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := runDTMF(DTMFConfig{}, dtmfTone('5', 80*time.Millisecond, tt.rowDB, tt.colDB, 0, 0))
			if (got == "5") != tt.want {
				t.Errorf("digits %q, want accepted=%v", got, tt.want)
			}
		})
	}
}

func TestDTMFMinimumLevel(t *testing.T) {
	for _, tt := range []struct {
		db   float64
		want bool
	}{{-3, true}, {-30, true}, {-42, false}} {
		got, _ := runDTMF(DTMFConfig{}, dtmfTone('9', 80*time.Millisecond, tt.db, tt.db, 0, 0))
		if (got == "9") != tt.want {
			t.Errorf("%g dBFS: digits %q, want accepted=%v", tt.db, got, tt.want)
		}
	}
}

func TestDTMFDurationAtEveryFrameAlignment(t *testing.T) {
	for _, tt := range []struct {
		dur  time.Duration
		want bool
	}{{20 * time.Millisecond, false}, {15 * time.Millisecond, false}, {40 * time.Millisecond, true}, {60 * time.Millisecond, true}} {
		for offMs := 0; offMs < 20; offMs += 2 {
			x := testaudio.Concat(testaudio.Silence(time.Duration(40+offMs)*time.Millisecond), dtmfTone('0', tt.dur, -10, -10, 0, 0))
			got, _ := runDTMF(DTMFConfig{}, x)
			if (got == "0") != tt.want {
				t.Errorf("%v tone at offset %d ms: digits %q, want accepted=%v", tt.dur, offMs, got, tt.want)
			}
		}
	}
}

func TestDTMFPausesSeparateRepeatedDigitsButDropoutsDoNot(t *testing.T) {
	tone := dtmfTone('#', 60*time.Millisecond, -10, -10, 0, 0)
	for _, tt := range []struct {
		gap  time.Duration
		want string
	}{{10 * time.Millisecond, "#"}, {40 * time.Millisecond, "##"}, {100 * time.Millisecond, "##"}} {
		got, _ := runDTMF(DTMFConfig{}, testaudio.Concat(tone, testaudio.Silence(tt.gap), tone))
		if got != tt.want {
			t.Errorf("gap %v: digits %q, want %q", tt.gap, got, tt.want)
		}
	}
}

func TestDTMFSurvivesNoise(t *testing.T) {
	const keys = "0123456789*#ABCD"
	for _, kind := range []string{"white", "pink"} {
		for _, snr := range []float64{20, 10} {
			var parts [][]int16
			for i := range len(keys) {
				parts = append(parts, testaudio.Silence(time.Duration(50+7*i)*time.Millisecond), dtmfTone(keys[i], 50*time.Millisecond, -12, -14, 0, 0))
			}
			// The SNR is set against the tones only, as in Q.24 noise tests.
			clean := testaudio.Concat(parts...)
			noisy := testaudio.MixNoise(clean, kind, snr, int64(snr))
			for _, law := range []string{"", "ulaw", "alaw"} {
				x := noisy
				if law != "" {
					x = testaudio.G711(noisy, law)
				}
				if got, _ := runDTMF(DTMFConfig{}, x); got != keys {
					t.Errorf("%s noise at %g dB SNR, G.711 %q: digits %q, want %q", kind, snr, law, got, keys)
				}
			}
		}
	}
}

func TestDTMFIgnoresSpeech(t *testing.T) {
	// Talk-off: speech, including spoken digits and a sung-like high voice,
	// must not produce digits.
	texts := []string{
		"one two three four five six seven eight nine zero star pound",
		"Hello, this is John. Please call me back at five five five, one two one two.",
		"Hi, you have reached the voicemail of Mary. Please leave a message after the tone.",
	}
	voices := []struct {
		voice string
		args  []string
	}{
		{"en-us", nil}, {"en+f3", []string{"-p", "80"}}, {"en-gb+m3", []string{"-s", "200"}}, {"en+f5", []string{"-p", "99", "-s", "120"}},
	}
	type speaker struct {
		name string
		say  func(text string) []int16
	}
	var speakers []speaker
	for _, v := range voices {
		speakers = append(speakers, speaker{fmt.Sprint(v.voice, v.args), func(text string) []int16 { return testaudio.Espeak(t, v.voice, v.args, text) }})
	}
	for _, voice := range []string{"kal", "slt", "rms", "awb"} {
		speakers = append(speakers, speaker{"flite " + voice, func(text string) []int16 { return testaudio.Flite(t, voice, text) }})
	}
	for _, v := range speakers {
		for _, text := range texts {
			x := v.say(text)
			for _, snr := range []float64{math.Inf(1), 20} {
				y := x
				if !math.IsInf(snr, 1) {
					y = testaudio.MixNoise(x, "pink", snr, 3)
				}
				if got, _ := runDTMF(DTMFConfig{}, y); got != "" {
					t.Errorf("%s at SNR %g: talk-off digits %q in %q", v.name, snr, got, text)
				}
			}
		}
	}
}

func TestDTMFSurvivesOddInput(t *testing.T) {
	d := NewDTMFDetector(DTMFConfig{})
	tone := dtmfTone('7', 100*time.Millisecond, -10, -10, 0, 0)
	var got string
	// Empty, tiny and oversized frames must neither panic nor lose the digit.
	for _, f := range [][]int16{nil, {}, tone[:1], tone[1:37], tone[37:600], tone[600:], make([]int16, 1000)} {
		for _, e := range d.Process(f) {
			got += string(e.Digit)
		}
	}
	if got != "7" {
		t.Errorf("digits %q, want \"7\"", got)
	}
	full := make([]int16, FrameSamples)
	for i := range full {
		full[i] = int16(32767 * (i%2*2 - 1))
	}
	if evs := d.Process(full); len(evs) != 0 {
		t.Errorf("full-scale square wave gave %v", evs)
	}
}

func TestPhaseFrequencyMeasuresOffsets(t *testing.T) {
	g := NewGoertzel(1000, SampleRate)
	for _, f := range []float64{950, 980, 1000, 1015, 1060} {
		x := testaudio.Tone(20*time.Millisecond, -6, f)
		got, ok := phaseFrequency(g, x, dtmfPhaseLen, dtmfPhaseLag)
		if !ok || math.Abs(got-f) > 2 {
			t.Errorf("tone %g Hz: estimated %g (ok %v)", f, got, ok)
		}
	}
	if _, ok := phaseFrequency(g, make([]int16, 10), dtmfPhaseLen, dtmfPhaseLag); ok {
		t.Error("short block accepted")
	}
}

func BenchmarkDTMFDetectorFrame(b *testing.B) {
	x := testaudio.Concat(dtmfTone('5', 100*time.Millisecond, -10, -10, 0, 0), testaudio.Silence(100*time.Millisecond))
	x = testaudio.MixNoise(x, "white", 20, 1)
	frames := testaudio.Frames(x)
	d := NewDTMFDetector(DTMFConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		d.Process(frames[i%len(frames)])
	}
}

// samplesFromBytes reads little-endian int16 samples from fuzz input.
func samplesFromBytes(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return out
}

func FuzzDTMFDetector(f *testing.F) {
	f.Add([]byte{}, 160)
	f.Add(make([]byte, 2000), 37)
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80, 0x01, 0x00}, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		d := NewDTMFDetector(DTMFConfig{})
		x := samplesFromBytes(data)
		chunk = max(1, chunk%1000)
		for i := 0; i < len(x); i += chunk {
			for _, e := range d.Process(x[i:min(i+chunk, len(x))]) {
				if !strings.ContainsRune("0123456789*#ABCD", rune(e.Digit)) || e.At < 0 {
					t.Fatalf("bad event %+v", e)
				}
			}
		}
	})
}
