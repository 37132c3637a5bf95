package sphinx

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-audio/wav"
	"github.com/zaf/g711"

	"github.com/waihu/waihu/dsp"
)

// readWAV returns the samples and rate of a 16-bit mono WAV file.
func readWAV(t testing.TB, path string) ([]int16, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	buf, err := d.FullPCMBuffer()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([]int16, 0, len(buf.Data)/buf.Format.NumChannels)
	for i := 0; i < len(buf.Data); i += buf.Format.NumChannels {
		v := buf.Data[i]
		if d.BitDepth == 8 {
			v = (v - 128) << 8
		}
		out = append(out, int16(v))
	}
	return out, buf.Format.SampleRate
}

// telephone resamples audio to 8 kHz and passes it through G.711 µ-law, as
// a call leg would deliver it.
func telephone(t testing.TB, audio []int16, rate int) []int16 {
	t.Helper()
	if rate != 8000 {
		rs, err := dsp.NewResampler(dsp.ResamplerConfig{InRate: rate, OutRate: 8000})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int16, rs.MaxOut(len(audio))+rs.Taps())
		n := rs.Process(out, audio)
		n += rs.Process(out[n:], make([]int16, rs.Taps()))
		audio = out[:n]
	}
	pcm := make([]byte, 2*len(audio))
	for i, s := range audio {
		pcm[2*i], pcm[2*i+1] = byte(s), byte(uint16(s)>>8)
	}
	back := g711.DecodeUlaw(g711.EncodeUlaw(pcm))
	out := make([]int16, len(back)/2)
	for i := range out {
		out[i] = int16(uint16(back[2*i]) | uint16(back[2*i+1])<<8)
	}
	return out
}

// wordErrors returns the word-level edit distance between ref and hyp and
// the number of reference words.
func wordErrors(ref, hyp string) (errs, n int) {
	r, h := strings.Fields(ref), strings.Fields(hyp)
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(h)], len(r)
}

func sharedRecognizer(t testing.TB) *Recognizer {
	t.Helper()
	requireModel(t)
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func grammarFile(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return []string{string(b)}
}

func TestRecognizerDecodesTelephoneCards(t *testing.T) {
	r := sharedRecognizer(t)
	requireTestData(t, "cards/cards.gram", "cards/001.wav")
	ref := map[string]string{"001": "ten of clubs", "002": "four queen of clubs", "003": "seven of clubs", "004": "five five", "005": "eight of spades four of clubs seven of hearts"}
	gram := grammarFile(t, testData+"/cards/cards.gram")
	totalErr, totalN := 0, 0
	for _, id := range []string{"001", "002", "003", "004", "005"} {
		audio, rate := readWAV(t, testData+"/cards/"+id+".wav")
		hyps, err := r.DecodeUtterance(context.Background(), gram, telephone(t, audio, rate))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(hyps) > 0 {
			got = hyps[0].Text
		}
		e, n := wordErrors(ref[id], got)
		totalErr += e
		totalN += n
		t.Logf("%s: %q (ref %q) errors %d/%d %+v", id, got, ref[id], e, n, hyps)
	}
	acc := 100 * float64(totalN-totalErr) / float64(totalN)
	t.Logf("word accuracy %.1f%%", acc)
	// pocketsphinx_continuous on the same telephone audio: 100% (see
	// docs/asr-report.md); this guards against regressions of the native one.
	if acc < 80 {
		t.Errorf("word accuracy %.1f%% on telephone cards, want ≥ 80%%", acc)
	}
}

func TestRecognizerDecodesTelephoneGoForwardWithJSGF(t *testing.T) {
	r := sharedRecognizer(t)
	requireTestData(t, "goforward.gram", "goforward.raw")
	audio := readRaw16(t, testData+"/goforward.raw")
	hyps, err := r.DecodeUtterance(context.Background(), grammarFile(t, testData+"/goforward.gram"), telephone(t, audio, 16000))
	if err != nil {
		t.Fatal(err)
	}
	if len(hyps) == 0 || hyps[0].Text != "go forward ten meters" || hyps[0].Confidence < 0.5 {
		t.Fatalf("hypotheses %+v, want go forward ten meters with confidence ≥ 0.5", hyps)
	}
}

func requireProgram(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: install Debian package %s", name, pkg)
		}
		t.Skipf("%s not found: install Debian package %s", name, pkg)
	}
}

// The outbound-call answers of docs/asr-report.md, spoken by flite's kal
// voice (8 kHz already, like a call), must be recognised, and sentences
// outside the grammar rejected.
func TestRecognizerAnswersAndRejectsFliteTelephonePhrases(t *testing.T) {
	requireProgram(t, "flite", "flite")
	r := sharedRecognizer(t)
	grammar := []string{"#JSGF V1.0; grammar g; public <a> = yes | yes please | no | no thank you | call me later | who is this | not interested | <d> <d> <d> [<d>] [<d>] [<d>] [<d>]; <d> = zero | oh | one | two | three | four | five | six | seven | eight | nine;"}
	tests := []struct {
		say, want string
	}{
		{"yes", "yes"},
		{"no", "no"},
		{"no thank you", "no thank you"},
		{"call me later", "call me later"},
		{"who is this", "who is this"},
		{"not interested", "not interested"},
		{"what time is it", ""},
		{"the weather is nice today", ""},
		{"can you send me an email", ""},
	}
	dir := t.TempDir()
	right, rejected, oog := 0, 0, 0
	for i, tt := range tests {
		path := filepath.Join(dir, fmt.Sprintf("%d.wav", i))
		if out, err := exec.Command("flite", "-voice", "kal", "-t", tt.say, "-o", path).CombinedOutput(); err != nil {
			t.Fatalf("flite: %v %s", err, out)
		}
		a, rate := readWAV(t, path)
		pad := make([]int16, rate/2)
		a = append(append(append([]int16{}, pad...), a...), pad...)
		hyps, err := r.DecodeUtterance(context.Background(), grammar, telephone(t, a, rate))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(hyps) > 0 {
			got = hyps[0].Text
		}
		t.Logf("%q → %q %+v", tt.say, got, hyps[0])
		switch {
		case tt.want == "":
			oog++
			if got == "" {
				rejected++
			}
		case got == tt.want:
			right++
		}
	}
	if right < 5 {
		t.Errorf("%d of 6 answers recognised, want ≥ 5", right)
	}
	if rejected < 2 {
		t.Errorf("%d of %d out-of-grammar sentences rejected, want ≥ 2", rejected, oog)
	}
}
