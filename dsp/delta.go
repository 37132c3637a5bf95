package dsp

// Delta writes the regression deltas of feats into dst, frame by frame:
// d[t] = Σₙ n·(c[t+n] − c[t−n]) / (2·Σₙ n²) for n = 1…window, with frames
// past either end replaced by the end frame (as HTK does). dst must have as
// many frames as feats, each at least as long as the matching feats frame;
// shorter ones are filled as far as they go. window ≤ 0 means 2. Apply it to
// its own output for ΔΔ.
func Delta(dst, feats [][]float64, window int) {
	if window <= 0 {
		window = 2
	}
	T := min(len(dst), len(feats))
	if T == 0 {
		return
	}
	var norm float64
	for n := 1; n <= window; n++ {
		norm += float64(n * n)
	}
	norm *= 2
	for t := 0; t < T; t++ {
		d := dst[t]
		dim := min(len(d), len(feats[t]))
		clear(d[:dim])
		for n := 1; n <= window; n++ {
			next, prev := feats[min(t+n, T-1)], feats[max(t-n, 0)]
			for i := 0; i < dim && i < len(next) && i < len(prev); i++ {
				d[i] += float64(n) * (next[i] - prev[i])
			}
		}
		for i := range d[:dim] {
			d[i] /= norm
		}
	}
}

// DeltaStream computes Δ and ΔΔ live: fed one static vector per frame, it
// answers with the static, Δ and ΔΔ of the frame 2·Window frames back (the
// look-ahead the regression needs). At the start of the stream the first
// frame is repeated, as Delta does at the edges, so outputs equal Delta's
// applied to the whole stream except for the last Delay frames, which a live
// stream never flushes. Not safe for concurrent use.
type DeltaStream struct {
	w, dim int
	stat   [][]float64 // ring of the last 4w+1 statics
	delta  [][]float64 // ring of the last 2w+1 deltas
	n      int         // frames pushed
	norm   float64
}

// NewDeltaStream returns a DeltaStream for vectors of dim values and a
// regression half-window of window frames (≤ 0 means 2).
func NewDeltaStream(dim, window int) *DeltaStream {
	if window <= 0 {
		window = 2
	}
	dim = max(dim, 0)
	s := &DeltaStream{w: window, dim: dim}
	for n := 1; n <= window; n++ {
		s.norm += 2 * float64(n*n)
	}
	s.stat = make([][]float64, 4*window+1)
	for i := range s.stat {
		s.stat[i] = make([]float64, dim)
	}
	s.delta = make([][]float64, 2*window+1)
	for i := range s.delta {
		s.delta[i] = make([]float64, dim)
	}
	return s
}

// Delay returns how many frames the output lags the input.
func (s *DeltaStream) Delay() int { return 2 * s.w }

// Push adds one static vector and, once Delay frames have been pushed,
// writes the static, Δ and ΔΔ of the delayed frame into the three dst
// slices and returns true.
func (s *DeltaStream) Push(static, dStatic, dDelta, dDeltaDelta []float64) bool {
	L := len(s.stat)
	if s.n == 0 {
		// Left edge: pretend the stream began with copies of frame 0.
		for i := range s.stat {
			clear(s.stat[i])
			copy(s.stat[i], static)
		}
	} else {
		cur := s.stat[s.n%L]
		clear(cur)
		copy(cur, static)
	}
	s.n++
	newest := s.n - 1
	// Δ for frame newest−w, using statics newest−2w … newest.
	td := newest - s.w
	dd := s.delta[((td%len(s.delta))+len(s.delta))%len(s.delta)]
	s.regress(dd, func(k int) []float64 { return s.stat[((k%L)+L)%L] }, td)
	if td == 0 {
		// Deltas before frame 0 repeat frame 0's, as Delta does for ΔΔ
		// at the left edge.
		for i := range s.delta {
			copy(s.delta[i], dd)
		}
	}
	out := newest - 2*s.w
	if out < 0 {
		return false
	}
	copy(dStatic, s.stat[out%L])
	copy(dDelta, s.delta[out%len(s.delta)])
	s.regress(dDeltaDelta, func(k int) []float64 {
		n := len(s.delta)
		return s.delta[((k%n)+n)%n]
	}, out)
	return true
}

func (s *DeltaStream) regress(dst []float64, at func(int) []float64, t int) {
	dim := min(len(dst), s.dim)
	clear(dst[:dim])
	for n := 1; n <= s.w; n++ {
		a, b := at(t+n), at(t-n)
		for i := 0; i < dim; i++ {
			dst[i] += float64(n) * (a[i] - b[i])
		}
	}
	for i := 0; i < dim; i++ {
		dst[i] /= s.norm
	}
}
