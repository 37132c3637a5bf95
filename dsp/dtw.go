package dsp

import "math"

// DTW aligns two sequences of feature vectors by dynamic time warping and
// returns their distance: the Euclidean frame distances summed along the
// best path, with symmetric steps (a diagonal step counts twice), divided by
// the two lengths summed so that long and short utterances compare alike.
// The path is held to a Sakoe-Chiba band around the diagonal. A DTW keeps
// its two cost rows between calls: not safe for concurrent use.
type DTW struct {
	band      float64
	prev, cur []float64
}

// NewDTW returns a DTW whose Sakoe-Chiba band lets the path stray bandFrac
// of each sequence's length from the (length-scaled) diagonal; bandFrac ≤ 0
// means 0.15. The band is widened for very short sequences so that a path
// always exists.
func NewDTW(bandFrac float64) *DTW {
	if !(bandFrac > 0) {
		bandFrac = 0.15
	}
	return &DTW{band: bandFrac}
}

// Distance returns the normalised DTW distance between a and b, or +Inf
// when either is empty. Vectors are compared over their common length.
// It allocates only when a sequence is longer than any seen before.
func (d *DTW) Distance(a, b [][]float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return math.Inf(1)
	}
	if cap(d.prev) < m+1 {
		d.prev, d.cur = make([]float64, m+1), make([]float64, m+1)
	}
	prev, cur := d.prev[:m+1], d.cur[:m+1]
	inf := math.Inf(1)
	for j := range prev {
		prev[j] = inf
	}
	prev[0] = 0
	// The band is |i/n − j/m| ≤ f, the same set whichever sequence comes
	// first, so the distance is symmetric; f·min(n, m) ≥ 1.5 keeps a path
	// through it.
	f := math.Max(d.band, 1.5/float64(min(n, m)))
	for i := 1; i <= n; i++ {
		for j := range cur {
			cur[j] = inf
		}
		x := float64(i) / float64(n)
		lo := max(1, int(math.Ceil(float64(m)*(x-f)-1e-9)))
		hi := min(m, int(math.Floor(float64(m)*(x+f)+1e-9)))
		for j := lo; j <= hi; j++ {
			c := frameDistance(a[i-1], b[j-1])
			best := prev[j] + c              // vertical
			if v := cur[j-1] + c; v < best { // horizontal
				best = v
			}
			if v := prev[j-1] + 2*c; v < best { // diagonal
				best = v
			}
			cur[j] = best
		}
		prev, cur = cur, prev
	}
	return prev[m] / float64(n+m)
}

func frameDistance(x, y []float64) float64 {
	var s float64
	for k := range min(len(x), len(y)) {
		d := x[k] - y[k]
		s += d * d
	}
	return math.Sqrt(s)
}
