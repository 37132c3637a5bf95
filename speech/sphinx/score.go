package sphinx

import (
	"math"
)

// DefaultTopN is how many Gaussians per codebook and stream enter a senone
// score, pocketsphinx's -topn default.
const DefaultTopN = 4

// Scorer computes senone log-likelihoods (natural log) for one frame at a
// time, for a ptm or semi-continuous model: each codebook's Gaussians are
// evaluated once per frame and stream and the best TopN kept; a senone's
// score is then, per stream, the log of the weighted sum of those TopN
// densities under its quantised mixture weights, summed over streams.
// Codebooks and senones are computed on demand and cached for the frame.
// A Scorer is not safe for concurrent use: one per stream.
type Scorer struct {
	m     *Model
	topN  int
	frame int32
	feat  []float32
	// per codebook: the frame its top-N was computed for, and for each
	// stream topN (codeword, score) pairs, best first.
	cbFrame  []int32
	topCW    [][]int32
	topSc    [][]float32
	senFrame []int32
	senScore []float32
	mixUnit  float32
}

// NewScorer returns a scorer for m keeping topN Gaussians (≤ 0 means DefaultTopN).
func NewScorer(m *Model, topN int) *Scorer {
	if topN <= 0 {
		topN = DefaultTopN
	}
	topN = min(topN, m.nDensity)
	nCB := len(m.means)
	s := &Scorer{m: m, topN: topN, frame: 0, cbFrame: make([]int32, nCB), topCW: make([][]int32, nCB), topSc: make([][]float32, nCB),
		senFrame: make([]int32, m.Mdef.NumSenone), senScore: make([]float32, m.Mdef.NumSenone), mixUnit: float32(mixwUnitNats)}
	for cb := range nCB {
		s.topCW[cb] = make([]int32, m.nFeat*topN)
		s.topSc[cb] = make([]float32, m.nFeat*topN)
		s.cbFrame[cb] = -1
	}
	for i := range s.senFrame {
		s.senFrame[i] = -1
	}
	return s
}

// SetFrame makes feat (a 1s_c_d_dd vector, kept by reference until the next
// SetFrame) the frame that Senone scores.
func (s *Scorer) SetFrame(feat []float32) {
	s.feat = feat
	s.frame++
}

// Senone returns the log-likelihood of the current frame under senone id.
func (s *Scorer) Senone(id int) float32 {
	if s.senFrame[id] == s.frame {
		return s.senScore[id]
	}
	m := s.m
	cb := 0
	if len(m.means) > 1 {
		cb = int(m.Mdef.SenoneCI[id])
	}
	if s.cbFrame[cb] != s.frame {
		s.codebook(cb)
	}
	total := float32(0)
	n := s.topN
	for f := range m.nFeat {
		cws := s.topCW[cb][f*n : f*n+n]
		scs := s.topSc[cb][f*n : f*n+n]
		best := float32(math.Inf(-1))
		var terms [16]float32
		for k, cw := range cws {
			v := scs[k] - float32(m.mixw.row(f, int(cw))[id])*s.mixUnit
			terms[k] = v
			best = max(best, v)
		}
		sum := float32(0)
		for _, v := range terms[:n] {
			sum += float32(math.Exp(float64(v - best)))
		}
		total += best + float32(math.Log(float64(sum)))
	}
	s.senFrame[id] = s.frame
	s.senScore[id] = total
	return total
}

// codebook evaluates every Gaussian of codebook cb on the current frame and
// keeps the best topN per stream by insertion into a short sorted list.
func (s *Scorer) codebook(cb int) {
	m := s.m
	n := s.topN
	for f := range m.nFeat {
		vl := m.veclen[f]
		x := s.feat[m.featOff[f] : m.featOff[f]+vl]
		means, ivar, norm := m.means[cb][f], m.ivar[cb][f], m.logNorm[cb][f]
		cws := s.topCW[cb][f*n : f*n+n]
		scs := s.topSc[cb][f*n : f*n+n]
		// Score last frame's best codewords first (speech changes slowly, so
		// they are usually near the top again): the list then starts with a
		// tight worst score and most other Gaussians are abandoned after a
		// few dimensions. The result is still the exact top-N.
		var prev [16]int32
		copy(prev[:n], cws)
		for k := range scs {
			scs[k] = float32(math.Inf(-1))
			cws[k] = -1
		}
		insert := func(d int32, sc float32) {
			i := n - 1
			for i > 0 && scs[i-1] < sc {
				scs[i], cws[i] = scs[i-1], cws[i-1]
				i--
			}
			scs[i], cws[i] = sc, d
		}
		for _, d := range prev[:n] {
			if d < 0 || int(d) >= m.nDensity {
				continue
			}
			dup := false
			for _, c := range cws {
				dup = dup || c == d
			}
			if dup {
				continue
			}
			mu := means[int(d)*vl : int(d)*vl+vl]
			iv := ivar[int(d)*vl : int(d)*vl+vl]
			sc := norm[d]
			for k, xv := range x {
				diff := xv - mu[k]
				sc -= diff * diff * iv[k]
			}
			if sc > scs[n-1] {
				insert(d, sc)
			}
		}
		worst := scs[n-1]
		for d := range m.nDensity {
			mu := means[d*vl : d*vl+vl]
			iv := ivar[d*vl : d*vl+vl]
			mu, iv = mu[:len(x)], iv[:len(x)] // lets the compiler drop bounds checks
			sc := norm[d]
			// Check against the list every four dimensions: a branch per
			// dimension costs more than the few extra products it saves.
			k := 0
			for ; k+4 <= len(x) && sc >= worst; k += 4 {
				d0, d1, d2, d3 := x[k]-mu[k], x[k+1]-mu[k+1], x[k+2]-mu[k+2], x[k+3]-mu[k+3]
				sc -= d0*d0*iv[k] + d1*d1*iv[k+1] + d2*d2*iv[k+2] + d3*d3*iv[k+3]
			}
			if sc >= worst {
				for ; k < len(x); k++ {
					diff := x[k] - mu[k]
					sc -= diff * diff * iv[k]
				}
			}
			if sc <= worst {
				continue
			}
			dup := false
			for _, c := range cws {
				dup = dup || c == int32(d)
			}
			if dup {
				continue
			}
			insert(int32(d), sc)
			worst = scs[n-1]
		}
		for k := range cws {
			cws[k] = max(cws[k], 0)
		}
	}
	s.cbFrame[cb] = s.frame
}
