package tts

import (
	"errors"
	"io"
	"testing"

	"github.com/waihu/waihu/speech"
)

// frames builds a stream from per-frame constant levels.
func framesOf(levels ...int16) []int16 {
	var pcm []int16
	for _, l := range levels {
		for i := range speech.FrameSamples {
			v := l
			if i%2 == 1 {
				v = -l
			}
			pcm = append(pcm, v)
		}
	}
	return pcm
}

func readLevels(t *testing.T, s speech.AudioStream) []int16 {
	t.Helper()
	var out []int16
	frame := make([]int16, speech.FrameSamples)
	for {
		err := s.Read(frame)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame[0])
	}
}

func TestLeadTrimmerDropsLeadingSilenceButKeepsOneFrameOfLeadIn(t *testing.T) {
	long := make([]int16, 70)
	long[69] = 5000
	cases := []struct {
		name string
		in   []int16
		want []int16
	}{
		{"silence then speech", []int16{0, 10, 0, 500, 3000, 0, 4000}, []int16{500, 3000, 0, 4000}},
		{"speech first", []int16{3000, 0, 20}, []int16{3000, 0, 20}},
		{"one silent frame", []int16{30, 3000}, []int16{30, 3000}},
		{"all silence", []int16{0, 0, 0}, nil},
		{"silence in the middle stays", []int16{0, 2000, 0, 0, 0, 2000}, []int16{0, 2000, 0, 0, 0, 2000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := readLevels(t, trimLeadingSilence(newMemStream(framesOf(c.in...))))
			if len(got) != len(c.want) {
				t.Fatalf("levels %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("levels %v, want %v", got, c.want)
				}
			}
		})
	}
	// A text that opens with more than a second of silence keeps the rest.
	got := readLevels(t, trimLeadingSilence(newMemStream(framesOf(long...))))
	if len(got) != 70-leadTrimMaxFrames+1 || got[len(got)-1] != 5000 { // +1: the lead-in frame
		t.Errorf("long lead: %d frames left, last %d", len(got), got[len(got)-1])
	}
}
