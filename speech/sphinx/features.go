package sphinx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// ReadMFC reads a sphinx cepstrum file: an int32 count of floats, then that
// many float32 in the same byte order, numCeps per frame. The byte order is
// whichever makes the count match the file size.
func ReadMFC(path string, numCeps int) ([][]float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cepstra: %w", err)
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("%s: %d bytes: %w", path, len(data), ErrTruncated)
	}
	want := uint32(len(data)/4 - 1)
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(data) == want:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(data) == want:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: count %#x matches neither byte order for %d bytes: %w", path, data[:4], len(data), ErrFormat)
	}
	if len(data)%4 != 0 || int(want)%numCeps != 0 {
		return nil, fmt.Errorf("%s: %d floats is not a whole number of %d-cepstrum frames: %w", path, want, numCeps, ErrFormat)
	}
	out := make([][]float32, int(want)/numCeps)
	for i := range out {
		out[i] = make([]float32, numCeps)
		for j := range out[i] {
			out[i][j] = math.Float32frombits(order.Uint32(data[4+4*(i*numCeps+j):]))
		}
	}
	return out, nil
}

// cmnWindow and cmnHighWater follow sphinx's live CMN: the running sums
// stand for cmnWindow frames, and are scaled back to that once they pass
// cmnHighWater, so the mean tracks slow channel changes in a long call.
const (
	cmnWindow    = 500
	cmnHighWater = 800
)

// Features turns cepstra into 1s_c_d_dd feature vectors: live cepstral mean
// normalisation seeded with the model's -cmninit, then for frame t the
// cepstrum c[t], the delta c[t+2]−c[t−2] and the double delta
// (c[t+3]−c[t−1])−(c[t+1]−c[t−3]), with the first and last frames repeated
// at the edges. Vectors come out three frames behind the cepstra that went
// in. Not safe for concurrent use.
type Features struct {
	n    int
	mean []float64
	sum  []float64
	nCMN int
	ring [8][]float32 // last cepstra after CMN, index t&7
	got  int          // cepstra pushed in this utterance
	out  int          // vectors emitted in this utterance
	vec  []float32
}

// NewFeatures returns a feature computer for numCeps cepstra with CMN seeded
// from init (which must have numCeps values).
func NewFeatures(numCeps int, init []float64) *Features {
	f := &Features{n: numCeps, mean: make([]float64, numCeps), sum: make([]float64, numCeps), vec: make([]float32, 3*numCeps)}
	copy(f.mean, init)
	for i := range f.sum {
		f.sum[i] = f.mean[i] * cmnWindow
	}
	f.nCMN = cmnWindow
	for i := range f.ring {
		f.ring[i] = make([]float32, numCeps)
	}
	return f
}

// Dim returns the feature vector length, 3×numCeps.
func (f *Features) Dim() int { return len(f.vec) }

// Push adds one cepstrum and calls emit with each feature vector that became
// complete (none for the first three frames of an utterance). The slice
// passed to emit is reused.
func (f *Features) Push(ceps []float64, emit func(vec []float32)) {
	c := f.ring[f.got&7]
	for i := range f.n {
		x := 0.0
		if i < len(ceps) {
			x = ceps[i]
		}
		// Sphinx leaves frames with negative energy out of the mean: they are
		// digital silence, not the channel.
		if ceps[0] >= 0 {
			f.sum[i] += x
		}
		c[i] = float32(x - f.mean[i])
	}
	if len(ceps) > 0 && ceps[0] >= 0 {
		f.nCMN++
	}
	if f.nCMN > cmnHighWater {
		f.updateMean()
	}
	f.got++
	for f.out+3 < f.got {
		f.emitAt(f.out, emit)
		f.out++
	}
}

// EndUtterance emits the vectors still held back, repeating the last
// cepstrum at the right edge, updates the CMN mean, and starts a new
// utterance (CMN state carries over, as it should within one call).
func (f *Features) EndUtterance(emit func(vec []float32)) {
	for f.out < f.got {
		f.emitAt(f.out, emit)
		f.out++
	}
	f.updateMean()
	f.got, f.out = 0, 0
}

func (f *Features) updateMean() {
	for i := range f.mean {
		f.mean[i] = f.sum[i] / float64(f.nCMN)
	}
	if f.nCMN >= cmnHighWater {
		scale := float64(cmnWindow) / float64(f.nCMN)
		for i := range f.sum {
			f.sum[i] *= scale
		}
		f.nCMN = cmnWindow
	}
}

// at returns cepstrum t clamped to the frames of this utterance.
func (f *Features) at(t int) []float32 {
	t = max(0, min(t, f.got-1))
	return f.ring[t&7]
}

func (f *Features) emitAt(t int, emit func([]float32)) {
	n := f.n
	c, m1, p1 := f.at(t), f.at(t-1), f.at(t+1)
	m2, p2, m3, p3 := f.at(t-2), f.at(t+2), f.at(t-3), f.at(t+3)
	for i := range n {
		f.vec[i] = c[i]
		f.vec[n+i] = p2[i] - m2[i]
		f.vec[2*n+i] = (p3[i] - m1[i]) - (p1[i] - m3[i])
	}
	emit(f.vec)
}
