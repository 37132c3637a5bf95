package testpeer

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func sine(n int, hz float64, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/SampleRate))
	}
	return out
}

// chirp sweeps from f0 to f1 Hz: unlike a sine it has one best lag.
func chirp(n int, f0, f1, amp float64) []int16 {
	out := make([]int16, n)
	dur := float64(n) / SampleRate
	for i := range out {
		tm := float64(i) / SampleRate
		out[i] = int16(amp * math.Sin(2*math.Pi*(f0*tm+(f1-f0)*tm*tm/(2*dur))))
	}
	return out
}

func TestPacketizeMakes20msFramesAndRFC4733Digits(t *testing.T) {
	tests := []struct {
		name        string
		samples     int
		opts        RTPOptions
		wantAudio   int
		wantDigits  string
		wantErr     bool
		wantPayload uint8
	}{
		{name: "pcmu whole frames", samples: 800, wantAudio: 5, wantPayload: PayloadPCMU},
		{name: "pcma partial frame padded", samples: 801, opts: RTPOptions{PayloadType: PayloadPCMA}, wantAudio: 6, wantPayload: PayloadPCMA},
		{name: "digits after audio", samples: 320, opts: RTPOptions{DTMF: "1234#"}, wantAudio: 2, wantDigits: "1234#", wantPayload: PayloadPCMU},
		{name: "unknown payload type", samples: 160, opts: RTPOptions{PayloadType: 9}, wantErr: true},
		{name: "bad digit", samples: 160, opts: RTPOptions{DTMF: "12x"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkts, err := Packetize(sine(tc.samples, 440, 8000), tc.opts)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var audio int
			raw := make([]rtp.Packet, len(pkts))
			for i, p := range pkts {
				raw[i] = p.Packet
				if i > 0 {
					if d := p.Packet.SequenceNumber - pkts[i-1].Packet.SequenceNumber; d != 1 {
						t.Fatalf("packet %d: sequence step %d, want 1", i, d)
					}
					if p.At < pkts[i-1].At {
						t.Fatalf("packet %d: send time goes back", i)
					}
				}
				if p.Packet.PayloadType == tc.wantPayload {
					audio++
					if len(p.Packet.Payload) != FrameSamples {
						t.Fatalf("packet %d: %d bytes, want %d", i, len(p.Packet.Payload), FrameSamples)
					}
					if p.At != time.Duration(i)*20*time.Millisecond {
						t.Fatalf("packet %d at %v, want %v", i, p.At, time.Duration(i)*20*time.Millisecond)
					}
					if i > 0 && p.Packet.Timestamp-pkts[i-1].Packet.Timestamp != FrameSamples {
						t.Fatalf("packet %d: timestamp step %d", i, p.Packet.Timestamp-pkts[i-1].Packet.Timestamp)
					}
				}
			}
			if audio != tc.wantAudio {
				t.Fatalf("%d audio packets, want %d", audio, tc.wantAudio)
			}
			pcm, digits := Depacketize(raw)
			if digits != tc.wantDigits {
				t.Fatalf("digits %q, want %q", digits, tc.wantDigits)
			}
			if len(pcm) != tc.wantAudio*FrameSamples {
				t.Fatalf("%d samples back, want %d", len(pcm), tc.wantAudio*FrameSamples)
			}
		})
	}
}

func TestPcapRoundTripKeepsAudioTimingAndDigits(t *testing.T) {
	src := chirp(SampleRate*2, 300, 3000, 12000)
	tests := []struct {
		name string
		opts PcapOptions
	}{
		{name: "pcmu", opts: PcapOptions{SrcPort: 7000, DstPort: 7002}},
		{name: "pcma with dtmf", opts: PcapOptions{RTPOptions: RTPOptions{PayloadType: PayloadPCMA, DTMF: "9*"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.pcap")
			wrote, err := WritePCMUPcap(path, src, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadRTPPcap(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(wrote) {
				t.Fatalf("read %d packets, wrote %d", len(got), len(wrote))
			}
			raw := make([]rtp.Packet, len(got))
			for i := range got {
				if got[i].At != wrote[i].At {
					t.Fatalf("packet %d captured at %v, written for %v", i, got[i].At, wrote[i].At)
				}
				raw[i] = got[i].Packet
			}
			pcm, digits := Depacketize(raw)
			if digits != tc.opts.DTMF {
				t.Fatalf("digits %q, want %q", digits, tc.opts.DTMF)
			}
			m := Correlate(src, pcm, 400)
			if m.Score < 0.99 || m.Lag != 0 {
				t.Fatalf("decoded audio matches source with %.3f at lag %d, want ≥0.99 at 0", m.Score, m.Lag)
			}
		})
	}
}

func TestReadRTPPcapRejectsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wav")
	if err := WriteWAV(path, sine(160, 440, 1000), SampleRate); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRTPPcap(path); err == nil {
		t.Fatal("read a WAV file as pcap without error")
	}
}

func TestCorrelateFindsDelayAndRejectsOtherAudio(t *testing.T) {
	ref := chirp(SampleRate, 200, 2500, 10000)
	delayed := append(make([]int16, 1234), ref...)
	delayed = append(delayed, make([]int16, 500)...)
	half := append(make([]int16, 1234), ref[:len(ref)/2]...)
	tests := []struct {
		name     string
		sig      []int16
		minScore float64
		maxScore float64
		lag      int
	}{
		{name: "delayed copy", sig: delayed, minScore: 0.99, maxScore: 1.01, lag: 1234},
		{name: "quieter copy", sig: scale(delayed, 0.1), minScore: 0.99, maxScore: 1.01, lag: 1234},
		{name: "only half", sig: half, minScore: 0, maxScore: 0.75, lag: -1},
		{name: "other sound", sig: sine(SampleRate*2, 1000, 10000), minScore: -1, maxScore: 0.3, lag: -1},
		{name: "silence", sig: make([]int16, SampleRate), minScore: 0, maxScore: 0, lag: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Correlate(ref, tc.sig, 4000)
			if m.Score < tc.minScore || m.Score > tc.maxScore {
				t.Fatalf("score %.3f, want in [%.2f, %.2f]", m.Score, tc.minScore, tc.maxScore)
			}
			if tc.lag >= 0 && m.Lag != tc.lag {
				t.Fatalf("lag %d, want %d", m.Lag, tc.lag)
			}
		})
	}
}

func scale(pcm []int16, g float64) []int16 {
	out := make([]int16, len(pcm))
	for i, s := range pcm {
		out[i] = int16(float64(s) * g)
	}
	return out
}

func TestWAVRoundTrip(t *testing.T) {
	src := chirp(4000, 100, 3000, 20000)
	path := filepath.Join(t.TempDir(), "a.wav")
	if err := WriteWAV(path, src, SampleRate); err != nil {
		t.Fatal(err)
	}
	got, rate, err := ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if rate != SampleRate || len(got) != len(src) {
		t.Fatalf("got %d samples at %d Hz, want %d at %d", len(got), rate, len(src), SampleRate)
	}
	for i := range src {
		if got[i] != src[i] {
			t.Fatalf("sample %d: %d, want %d", i, got[i], src[i])
		}
	}
}

func TestCompareToleratesFrameSlipsButNotMissingAudio(t *testing.T) {
	ref := chirp(SampleRate*3, 200, 3000, 10000)
	lead := make([]int16, 800)
	mid := len(ref) / 2
	inner := mid + 1900 // inside a half-second piece, not on its edge
	cat := func(parts ...[]int16) []int16 {
		var out []int16
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	half := SampleRate / 2
	tests := []struct {
		name             string
		sig              []int16
		minFound, maxFnd float64
		wantOutOfOrder   bool
	}{
		{name: "exact copy", sig: cat(lead, ref), minFound: 1, maxFnd: 1},
		{name: "one inserted frame", sig: cat(lead, ref[:mid], make([]int16, FrameSamples), ref[mid:]), minFound: 1, maxFnd: 1},
		{name: "one inserted frame inside a piece", sig: cat(lead, ref[:inner], make([]int16, FrameSamples), ref[inner:]), minFound: 1, maxFnd: 1},
		// The cut is not on a frame boundary: the frame straddling it goes too.
		{name: "one dropped frame", sig: cat(lead, ref[:inner], ref[inner+FrameSamples:]), minFound: 0.98, maxFnd: 1},
		{name: "200 ms gap", sig: cat(lead, ref[:inner], make([]int16, 1600), ref[inner+1600:]), minFound: 0.9, maxFnd: 0.94},
		{name: "second half missing", sig: cat(lead, ref[:mid]), minFound: 0.45, maxFnd: 0.55},
		{name: "two 200 ms pieces swapped", sig: cat(lead, ref[:half], ref[half+1600:half+3200], ref[half:half+1600], ref[half+3200:]), minFound: 0.99, maxFnd: 1, wantOutOfOrder: true},
		{name: "other sound", sig: sine(SampleRate*3, 700, 9000), minFound: 0, maxFnd: 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Compare(ref, tc.sig, SampleRate)
			if r := c.FoundRatio(); r < tc.minFound || r > tc.maxFnd || (c.OutOfOrder > 0) != tc.wantOutOfOrder {
				t.Fatalf("found %.3f (want %.2f–%.2f), out of order %d (want some: %v): %v",
					r, tc.minFound, tc.maxFnd, c.OutOfOrder, tc.wantOutOfOrder, c)
			}
		})
	}
}

// TestCompareTellsSpeechFromOtherSpeech guards the metric on the material
// the interop tests use: one espeak-ng sentence is not found in another.
func TestCompareTellsSpeechFromOtherSpeech(t *testing.T) {
	a := Speech(t, "en-us", "Hello, I am calling about my order number four five six.")
	b := Speech(t, "en-us", "Thank you for calling. Please tell us how we can help.")
	tests := []struct {
		name     string
		ref, sig []int16
		min, max float64
	}{
		{name: "same sentence", ref: a, sig: append(make([]int16, 333), a...), min: 1, max: 1},
		{name: "other sentence", ref: a, sig: b, min: 0, max: 0.2},
		{name: "other voice same words", ref: a, sig: Speech(t, "en+f3", "Hello, I am calling about my order number four five six."), min: 0, max: 0.3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Compare(tc.ref, tc.sig, SampleRate)
			if r := c.FoundRatio(); r < tc.min || r > tc.max {
				t.Fatalf("found %.3f, want %.2f–%.2f: %v", r, tc.min, tc.max, c)
			}
		})
	}
}
