package dsp

// CMN subtracts the per-dimension mean over all frames from each frame, in
// place (batch cepstral mean normalisation for a whole utterance). Frames
// shorter than the first are normalised as far as they go.
func CMN(feats [][]float64) {
	if len(feats) == 0 {
		return
	}
	dim := len(feats[0])
	var mean [64]float64 // cepstra are short; avoid allocating for them
	m := mean[:]
	if dim > len(mean) {
		m = make([]float64, dim)
	}
	m = m[:dim]
	counts := 0
	for _, f := range feats {
		if len(f) < dim {
			continue
		}
		for i := range m {
			m[i] += f[i]
		}
		counts++
	}
	if counts == 0 {
		return
	}
	for i := range m {
		m[i] /= float64(counts)
	}
	for _, f := range feats {
		for i := 0; i < min(dim, len(f)); i++ {
			f[i] -= m[i]
		}
	}
}

// LiveCMNConfig configures a LiveCMN.
type LiveCMNConfig struct {
	// Dim is the feature dimension; zero means 13.
	Dim int
	// TimeConstantFrames is the memory of the exponential mean in frames;
	// zero means 300 (3 s at a 10 ms hop). Until that many frames have
	// been seen, the mean is the plain average of all frames so far, so
	// early frames are not pulled towards an arbitrary start value.
	TimeConstantFrames int
}

// LiveCMN is cepstral mean normalisation for a live stream: each frame has
// the running mean subtracted (mean of the frames so far, exponentially
// forgetting after TimeConstantFrames). The mean can be primed with a
// previous call's value. Not safe for concurrent use.
type LiveCMN struct {
	mean []float64
	tc   int
	n    int
}

// NewLiveCMN returns a LiveCMN.
func NewLiveCMN(cfg LiveCMNConfig) *LiveCMN {
	if cfg.Dim <= 0 {
		cfg.Dim = 13
	}
	if cfg.TimeConstantFrames <= 0 {
		cfg.TimeConstantFrames = 300
	}
	return &LiveCMN{mean: make([]float64, cfg.Dim), tc: cfg.TimeConstantFrames}
}

// Process updates the running mean with src and writes src minus the mean
// into dst (which may alias src), over the shortest of the lengths and Dim.
func (c *LiveCMN) Process(dst, src []float64) {
	c.n++
	alpha := 1 / float64(min(c.n, c.tc))
	n := min(len(dst), len(src), len(c.mean))
	for i := 0; i < n; i++ {
		x := src[i]
		if x != x { // NaN would poison the mean for good
			dst[i] = 0
			continue
		}
		c.mean[i] += alpha * (x - c.mean[i])
		dst[i] = x - c.mean[i]
	}
}

// Mean returns the current mean, owned by c.
func (c *LiveCMN) Mean() []float64 { return c.mean }

// SetMean primes the mean (e.g. from the previous call on the same trunk)
// and treats it as worth a full time constant of frames.
func (c *LiveCMN) SetMean(mean []float64) {
	copy(c.mean, mean)
	c.n = c.tc
}

// Reset forgets the mean.
func (c *LiveCMN) Reset() {
	clear(c.mean)
	c.n = 0
}
