package testaudio

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEspeakProducesAudibleSpeechAt8kHz(t *testing.T) {
	x := Espeak(t, "en-us", []string{"-s", "150"}, "hello, this is John")
	secs := float64(len(x)) / SampleRate
	if secs < 0.8 || secs > 3 {
		t.Fatalf("duration %.2f s, want 0.8–3 s for a short sentence", secs)
	}
	if p := ActivePower(x); p < 1e5 {
		t.Fatalf("active power %.0f, want audible speech", p)
	}
}

func TestEspeakIsRepeatable(t *testing.T) {
	a := Espeak(t, "en-us", nil, "the same words twice")
	b := Espeak(t, "en-us", nil, "the same words twice")
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sample %d differs: %d vs %d (dither?)", i, a[i], b[i])
		}
	}
}

func TestFliteProducesSpeechAt8kHz(t *testing.T) {
	for _, voice := range []string{"kal", "slt"} {
		x := Flite(t, voice, "yes, who is it?")
		if secs := float64(len(x)) / SampleRate; secs < 0.5 || secs > 3 {
			t.Errorf("%s: duration %.2f s", voice, secs)
		}
		if p := ActivePower(x); p < 1e5 {
			t.Errorf("%s: active power %.0f, want audible speech", voice, p)
		}
	}
}

func TestMixNoiseHitsTheRequestedSNR(t *testing.T) {
	speech := Tone(time.Second, -10, 1000)
	for _, kind := range []string{"white", "pink", "babble"} {
		for _, snr := range []float64{20, 10, 0} {
			mixed := MixNoise(speech, kind, snr, 1)
			var pn float64
			for i := range mixed {
				d := float64(mixed[i]) - float64(speech[i])
				pn += d * d
			}
			pn /= float64(len(mixed))
			got := 10 * math.Log10(ActivePower(speech)/pn)
			if math.Abs(got-snr) > 0.3 {
				t.Errorf("%s at %g dB: measured %.2f dB", kind, snr, got)
			}
		}
	}
}

func TestWAVRoundTripKeepsSamples(t *testing.T) {
	x := Tone(100*time.Millisecond, -3, 440, 1000)
	path := filepath.Join(t.TempDir(), "a.wav")
	if err := WriteWAV(path, x, SampleRate); err != nil {
		t.Fatal(err)
	}
	y, rate, err := ReadWAV(path)
	if err != nil || rate != SampleRate || len(y) != len(x) {
		t.Fatalf("ReadWAV: %d samples at %d Hz, err %v", len(y), rate, err)
	}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("sample %d: %d != %d", i, y[i], x[i])
		}
	}
}

func TestReadWAVRejectsGarbage(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     {},
		"not riff":  []byte("hello world, not a wav file"),
		"truncated": []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00"),
	} {
		path := filepath.Join(t.TempDir(), "x.wav")
		if err := writeFile(path, data); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadWAV(path); err == nil {
			t.Errorf("%s: ReadWAV accepted it", name)
		}
	}
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }

func TestG711RoundTripKeepsTheSignalWithin40dB(t *testing.T) {
	x := Tone(100*time.Millisecond, -10, 1000)
	for _, law := range []string{"ulaw", "alaw"} {
		y := G711(x, law)
		var ps, pn float64
		for i := range x {
			d := float64(y[i]) - float64(x[i])
			ps += float64(x[i]) * float64(x[i])
			pn += d * d
		}
		if snr := 10 * math.Log10(ps/pn); snr < 30 || snr > 45 {
			t.Errorf("%s: SNR %.1f dB, want the 30–45 dB of G.711", law, snr)
		}
	}
}
