package sphinx

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

const testData = "/usr/share/pocketsphinx/test/data"

func requireTestData(t testing.TB, files ...string) {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(testData + "/" + f); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: install Debian package pocketsphinx-testdata", f)
			}
			t.Skipf("%s missing: install Debian package pocketsphinx-testdata", f)
		}
	}
}

func readRaw16(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// The shipped goforward.mfc was made with sphinx_fe's dither on (±1 LSB
// noise, which reshapes quiet frames) and from a recording that is 14 frames
// shorter than goforward.raw: the two agree up to frame 50 and then part.
// So parity is asserted on the loud frames (c0 > 40, far above the dither)
// of that common stretch, and the rest is only reported.
func TestFrontEndMatchesReferenceCepstra(t *testing.T) {
	requireModel(t)
	requireTestData(t, "goforward.raw", "goforward.mfc")
	ref, err := ReadMFC(testData+"/goforward.mfc", 13)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(ModelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// sphinx_fe's own settings: its 1-LSB dither, not our telephone noise floor.
	p := m.Feat
	p.NoiseLSB = 0
	fe, err := NewFrontEnd(p)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]float64
	emit := func(c []float64) { got = append(got, append([]float64(nil), c...)) }
	fe.Write(readRaw16(t, testData+"/goforward.raw"), emit)
	fe.Flush(emit)
	if len(got) != 278 || len(ref) != 264 {
		t.Fatalf("%d frames, reference %d; want 278 and 264", len(got), len(ref))
	}
	const common = 51
	var loudMax, quietMean, restMean float64
	loud := 0
	for i := range ref {
		for j := range 13 {
			d := math.Abs(got[i][j] - float64(ref[i][j]))
			switch {
			case i >= common:
				restMean += d / float64(13*(len(ref)-common))
			case ref[i][0] > 40:
				loudMax = max(loudMax, d)
			default:
				quietMean += d / float64(13*common)
			}
		}
		if i < common && ref[i][0] > 40 {
			loud++
		}
	}
	t.Logf("frames ours %d, reference %d; first %d frames: %d loud, max |Δc| %.4f, quiet mean |Δc| %.3f; later frames mean |Δc| %.3f",
		len(got), len(ref), common, loud, loudMax, quietMean, restMean)
	if loud < 2 || loudMax > 0.2 {
		t.Errorf("cepstra differ from sphinx_fe's by up to %.4f on %d loud frames, want ≤ 0.2", loudMax, loud)
	}
}
