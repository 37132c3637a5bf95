package testpeer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Speech synthesises text with espeak-ng (voice e.g. "en-us") and returns it
// as 8 kHz mono int16, resampled by sox. It is speech-like on purpose: a
// sentence has the pauses and pitch movement that catch a recorder that
// drops, repeats or reorders frames, which a steady tone would not.
func Speech(t testing.TB, voice, text string) []int16 {
	t.Helper()
	Need(t, "espeak-ng")
	Need(t, "sox")
	dir := t.TempDir()
	raw := filepath.Join(dir, "espeak.wav")
	if out, err := exec.Command("espeak-ng", "-v", voice, "-s", "150", "-w", raw, "--", text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	conv := filepath.Join(dir, "8k.wav")
	if out, err := exec.Command("sox", raw, "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", conv).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	pcm, rate, err := ReadWAV(conv)
	if err != nil {
		t.Fatal(err)
	}
	if rate != SampleRate {
		t.Fatalf("sox made %d Hz, want %d", rate, SampleRate)
	}
	return pcm
}

// Silence returns d of digital silence at 8 kHz.
func Silence(d time.Duration) []int16 {
	return make([]int16, int(d.Seconds()*SampleRate))
}

// Duration is the play time of pcm at 8 kHz.
func Duration(pcm []int16) time.Duration {
	return time.Duration(len(pcm)) * time.Second / SampleRate
}

// ErrNotWAV reports a file that is not 16-bit PCM mono WAV.
var ErrNotWAV = errors.New("not a 16-bit PCM mono WAV file")

// ReadWAV reads a 16-bit PCM mono WAV file, walking its chunks so that
// LIST or fact chunks before "data" do no harm.
func ReadWAV(path string) (pcm []int16, sampleRate int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read wav: %w", err)
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("read wav %s: %w: no RIFF/WAVE header", path, ErrNotWAV)
	}
	var haveFmt bool
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if size > len(body) {
			// A recorder killed before it patched the sizes leaves a
			// too-large (or 0xffffffff) data size: take what is there.
			size = len(body)
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, fmt.Errorf("read wav %s: %w: fmt chunk of %d bytes", path, ErrNotWAV, size)
			}
			format := binary.LittleEndian.Uint16(body[0:])
			channels := binary.LittleEndian.Uint16(body[2:])
			bits := binary.LittleEndian.Uint16(body[14:])
			if (format != 1 && format != 0xfffe) || channels != 1 || bits != 16 {
				return nil, 0, fmt.Errorf("read wav %s: %w: format %d, %d channels, %d bits",
					path, ErrNotWAV, format, channels, bits)
			}
			sampleRate = int(binary.LittleEndian.Uint32(body[4:]))
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("read wav %s: %w: data before fmt", path, ErrNotWAV)
			}
			pcm = make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return pcm, sampleRate, nil
		}
		off += 8 + size + size&1 // chunks are word-aligned
	}
	return nil, 0, fmt.Errorf("read wav %s: %w: no data chunk", path, ErrNotWAV)
}

// WriteWAV writes pcm as a 16-bit PCM mono WAV file at sampleRate.
func WriteWAV(path string, pcm []int16, sampleRate int) error {
	b := make([]byte, 44+2*len(pcm))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*sampleRate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write wav: %w", err)
	}
	return nil
}

// Match is the result of Correlate.
type Match struct {
	// Score is the normalised cross-correlation in [-1, 1] at Lag: 1 means
	// the reference appears in the signal exactly, up to a gain.
	Score float64
	// Lag is where the reference starts in the signal, in samples
	// (negative if the signal starts inside the reference).
	Lag int
}

// Delay returns m.Lag as a duration at 8 kHz.
func (m Match) Delay() time.Duration {
	return time.Duration(m.Lag) * time.Second / SampleRate
}

// Correlate finds where ref best appears in sig, searching lags within
// ±maxLag samples, and returns the normalised cross-correlation there. The
// normalisation uses all of ref's energy, so a signal holding only part of
// the reference scores low: "the file exists" is not a match.
func Correlate(ref, sig []int16, maxLag int) Match {
	if len(ref) == 0 || len(sig) == 0 {
		return Match{}
	}
	n := 1
	for n < len(ref)+len(sig) {
		n <<= 1
	}
	fft := fourier.NewFFT(n)
	a := make([]float64, n)
	b := make([]float64, n)
	var refEnergy float64
	for i, s := range ref {
		a[i] = float64(s)
		refEnergy += a[i] * a[i]
	}
	for i, s := range sig {
		b[i] = float64(s)
	}
	fa := fft.Coefficients(nil, a)
	fb := fft.Coefficients(nil, b)
	for i := range fa {
		// conj(A)·B gives Σ ref[i]·sig[i+lag] at index lag (mod n).
		fa[i] = complex(real(fa[i]), -imag(fa[i])) * fb[i]
	}
	xc := fft.Sequence(nil, fa)
	// prefix[i] is the energy of sig[:i], for the window under each lag.
	prefix := make([]float64, len(sig)+1)
	for i, s := range sig {
		prefix[i+1] = prefix[i] + float64(s)*float64(s)
	}
	best := Match{Score: math.Inf(-1)}
	for lag := -maxLag; lag <= maxLag; lag++ {
		lo, hi := max(lag, 0), min(lag+len(ref), len(sig))
		if lo >= hi {
			continue
		}
		winEnergy := prefix[hi] - prefix[lo]
		if winEnergy == 0 || refEnergy == 0 {
			continue
		}
		score := xc[(lag%n+n)%n] / float64(n) / math.Sqrt(refEnergy*winEnergy)
		if score > best.Score {
			best = Match{Score: score, Lag: lag}
		}
	}
	if math.IsInf(best.Score, -1) {
		return Match{}
	}
	return best
}

// CorrelateSegments correlates each segment-long piece of ref with sig on
// its own, at lags within center±radius samples, skipping near-silent
// pieces. A piece that matches poorly is tried split in two at each 20 ms
// frame boundary, each part at its own lag, because a playout buffer that
// inserts or drops one frame inside the piece shifts its second part by a
// frame: the split's worse part is then the piece's score. Missing,
// garbled or foreign audio stays low either way.
func CorrelateSegments(ref, sig []int16, segment, center, radius int) []SegmentMatch {
	var out []SegmentMatch
	for start := 0; start+segment <= len(ref); start += segment {
		piece := ref[start : start+segment]
		if meanSquare(piece) < 100*100 {
			continue // silence: no lag to find
		}
		sm := SegmentMatch{Start: start, Match: correlateNear(piece, sig, start, center, radius)}
		if sm.Score < splitBelow {
			for k := minPart; k <= segment-minPart; k += FrameSamples {
				left := correlateNear(piece[:k], sig, start, center, radius)
				right := correlateNear(piece[k:], sig, start+k, center, radius)
				if score := min(left.Score, right.Score); score > sm.Score {
					sm.Score, sm.Lag, sm.SplitAt = score, right.Lag, k
				}
			}
		}
		out = append(out, sm)
	}
	return out
}

const (
	// splitBelow is the piece score under which a frame slip is looked for.
	splitBelow = 0.9
	// minPart is the shortest part of a split piece: shorter parts match
	// too many places to mean anything.
	minPart = 3 * FrameSamples
)

// correlateNear finds piece, which starts at refStart in the reference,
// in sig at lags center±radius, and returns its lag: where it starts in
// sig minus refStart.
func correlateNear(piece, sig []int16, refStart, center, radius int) Match {
	at := refStart + center
	lo := max(0, at-radius)
	hi := min(len(sig), at+len(piece)+radius)
	if lo >= hi {
		return Match{}
	}
	m := Correlate(piece, sig[lo:hi], hi-lo)
	m.Lag += lo - refStart
	return m
}

func meanSquare(pcm []int16) float64 {
	var e float64
	for _, s := range pcm {
		e += float64(s) * float64(s)
	}
	return e / float64(max(len(pcm), 1))
}

// SegmentMatch is the match of one piece of a reference.
type SegmentMatch struct {
	// Start is the piece's first sample in the reference.
	Start int
	// Match is the piece's score and lag (relative to the whole-signal
	// lag); for a split piece, the worse part's score and the second
	// part's lag.
	Match
	// SplitAt is where, in samples from Start, the piece was split to
	// follow a frame slip; 0 if it was not.
	SplitAt int
}

// String reads "1.20s: 0.98 at +20ms", with "(slip at 1.34s)" when split.
func (s SegmentMatch) String() string {
	str := fmt.Sprintf("%.2fs: %.2f at %+dms", float64(s.Start)/SampleRate, s.Score, s.Lag*1000/SampleRate)
	if s.SplitAt > 0 {
		str += fmt.Sprintf(" (slip at %.2fs)", float64(s.Start+s.SplitAt)/SampleRate)
	}
	return str
}

// pieceRadius is how far, in samples, a piece's lag may stray from the
// whole signal's: 250 ms, well beyond any sane jitter-buffer drift during a
// call, and narrow enough that a short piece cannot match a lookalike
// sound seconds away.
const pieceRadius = SampleRate / 4

// Comparison is how a received signal compares with the reference sent.
type Comparison struct {
	// Whole is the match of the whole reference at one lag.
	Whole Match
	// Pieces are the matches of each voiced half-second of the reference
	// (for diagnosis: where the audio slips or goes missing).
	Pieces []SegmentMatch
	// MinScore is the worst piece's score.
	MinScore float64
	// LagSpread is the largest minus the smallest piece lag: how far the
	// receiver's playout drifted during the signal.
	LagSpread time.Duration
	// Frames is the number of voiced 20 ms frames in the reference;
	// Found of them appear in the signal, each at most pieceRadius from
	// the whole-signal lag; OutOfOrder of those appear before an earlier
	// frame's copy.
	Frames, Found, OutOfOrder int
}

// FoundRatio is Found/Frames: the share of the reference's speech that
// made it into the signal (1 when the reference is all silence).
func (c Comparison) FoundRatio() float64 {
	if c.Frames == 0 {
		return 1
	}
	return float64(c.Found) / float64(c.Frames)
}

// Compare correlates ref with sig as a whole, piece by piece, and frame by
// frame. A recording made from a jitter buffer's playout inserts or drops
// whole 20 ms frames when the buffer adapts; each such slip shifts the rest
// of the audio by a frame and ruins a single whole-file correlation
// although the speech is there, in order. So the verdict that tests use is
// per frame: every voiced frame of ref is looked for in sig at whole-frame
// offsets from the whole-signal lag (packetisation keeps frames aligned),
// and counts as found when its normalised correlation there is ≥ 0.9.
// Missing, garbled or foreign audio is not found.
func Compare(ref, sig []int16, maxLag int) Comparison {
	c := Comparison{Whole: Correlate(ref, sig, maxLag)}
	c.Pieces = CorrelateSegments(ref, sig, SampleRate/2, c.Whole.Lag, pieceRadius)
	if len(c.Pieces) > 0 {
		c.MinScore = math.Inf(1)
		lo, hi := math.MaxInt, math.MinInt
		for _, p := range c.Pieces {
			c.MinScore = min(c.MinScore, p.Score)
			lo, hi = min(lo, p.Lag), max(hi, p.Lag)
		}
		c.LagSpread = time.Duration(hi-lo) * time.Second / SampleRate
	}
	c.Frames, c.Found, c.OutOfOrder = findFrames(ref, sig, c.Whole.Lag)
	return c
}

const (
	// frameFound is the least normalised correlation of a frame with its
	// copy: G.711 twice keeps ≈ 0.99; another sound at one of 25 offsets
	// rarely passes 0.7.
	frameFound = 0.9
	// voicedFrame is the least mean-square level (≈ −50 dBFS) of a frame
	// worth looking for; quieter frames are mostly quantisation noise.
	voicedFrame = 100 * 100
)

// findFrames looks for each voiced FrameSamples-long frame of ref in sig
// at lag + k·FrameSamples, |k·FrameSamples| ≤ pieceRadius.
func findFrames(ref, sig []int16, lag int) (frames, found, outOfOrder int) {
	maxK := pieceRadius / FrameSamples
	lastPos := math.MinInt
	for start := 0; start+FrameSamples <= len(ref); start += FrameSamples {
		frame := ref[start : start+FrameSamples]
		e := meanSquare(frame) * FrameSamples
		if e/FrameSamples < voicedFrame {
			continue
		}
		frames++
		best, bestPos := -1.0, 0
		for k := -maxK; k <= maxK; k++ {
			pos := start + lag + k*FrameSamples
			if pos < 0 || pos+FrameSamples > len(sig) {
				continue
			}
			var dot, es float64
			for i, r := range frame {
				x := float64(sig[pos+i])
				dot += float64(r) * x
				es += x * x
			}
			if es == 0 {
				continue
			}
			if score := dot / math.Sqrt(e*es); score > best {
				best, bestPos = score, pos
			}
		}
		if best < frameFound {
			continue
		}
		found++
		if bestPos <= lastPos {
			outOfOrder++
		}
		lastPos = bestPos
	}
	return frames, found, outOfOrder
}

// String summarises the comparison for a test log.
func (c Comparison) String() string {
	return fmt.Sprintf("%d of %d voiced frames found (%.1f%%), %d out of order; whole %.3f at %v; worst piece %.3f; lag spread %v; pieces %v",
		c.Found, c.Frames, 100*c.FoundRatio(), c.OutOfOrder, c.Whole.Score, c.Whole.Delay(), c.MinScore, c.LagSpread, c.Pieces)
}
