package dsp

import (
	"fmt"
	"math"
	"math/rand"
)

// GMM is a Gaussian mixture with diagonal covariances over feature vectors:
// trained on many speakers it is a universal background model (UBM), and
// adapted to one speaker it is that speaker's text-independent model
// (Reynolds et al. 2000). Its fields are plain data, for storing.
type GMM struct {
	// Weights of the components, summing to 1.
	Weights []float64
	// Means and Vars of each component, one vector per component.
	Means, Vars [][]float64
}

// gmmVarFloor keeps a component that collapses onto a few frames finite.
const gmmVarFloor = 1e-2

// TrainGMM fits a GMM of the given number of components to frames by
// expectation-maximisation, starting from frames picked at random (seeded,
// so training is reproducible).
func TrainGMM(frames [][]float64, components, iterations int, seed int64) (*GMM, error) {
	if components < 1 || iterations < 1 || len(frames) < 2*components {
		return nil, fmt.Errorf("gmm of %d components from %d frames, %d iterations: %w", components, len(frames), iterations, ErrConfig)
	}
	dim := len(frames[0])
	for _, f := range frames {
		if len(f) != dim {
			return nil, fmt.Errorf("gmm frames of %d and %d values: %w", dim, len(f), ErrConfig)
		}
	}
	rng := rand.New(rand.NewSource(seed))
	_, globalVar := gaussian(frames)
	g := &GMM{Weights: make([]float64, components), Means: make([][]float64, components), Vars: make([][]float64, components)}
	for c := range components {
		g.Weights[c] = 1 / float64(components)
		g.Means[c] = append([]float64(nil), frames[rng.Intn(len(frames))]...)
		g.Vars[c] = append([]float64(nil), globalVar...)
	}
	post := make([]float64, components)
	for range iterations {
		sw := make([]float64, components)
		sx := make([][]float64, components)
		sxx := make([][]float64, components)
		for c := range components {
			sx[c], sxx[c] = make([]float64, dim), make([]float64, dim)
		}
		for _, f := range frames {
			g.posteriors(post, f)
			for c, p := range post {
				if p < 1e-8 {
					continue
				}
				sw[c] += p
				for k, v := range f {
					sx[c][k] += p * v
					sxx[c][k] += p * v * v
				}
			}
		}
		for c := range components {
			if sw[c] < 1e-6 {
				// A starved component restarts on a random frame.
				g.Means[c] = append(g.Means[c][:0], frames[rng.Intn(len(frames))]...)
				copy(g.Vars[c], globalVar)
				g.Weights[c] = 1 / float64(len(frames))
				continue
			}
			g.Weights[c] = sw[c] / float64(len(frames))
			for k := range dim {
				m := sx[c][k] / sw[c]
				g.Means[c][k] = m
				g.Vars[c][k] = math.Max(sxx[c][k]/sw[c]-m*m, gmmVarFloor)
			}
		}
		normalise(g.Weights)
	}
	return g, nil
}

// MAPAdapt returns a copy of g with its means moved towards frames by
// maximum a posteriori adaptation with the given relevance factor (16 is
// usual): components that see many of the frames move far, others stay.
func (g *GMM) MAPAdapt(frames [][]float64, relevance float64) *GMM {
	out := &GMM{Weights: append([]float64(nil), g.Weights...), Means: make([][]float64, len(g.Means)), Vars: make([][]float64, len(g.Vars))}
	for c := range g.Vars {
		out.Vars[c] = append([]float64(nil), g.Vars[c]...)
	}
	post := make([]float64, len(g.Weights))
	sw := make([]float64, len(g.Weights))
	sx := make([][]float64, len(g.Weights))
	for c := range sx {
		sx[c] = make([]float64, len(g.Means[c]))
	}
	for _, f := range frames {
		g.posteriors(post, f)
		for c, p := range post {
			sw[c] += p
			for k := range min(len(f), len(sx[c])) {
				sx[c][k] += p * f[k]
			}
		}
	}
	for c := range g.Means {
		alpha := sw[c] / (sw[c] + relevance)
		out.Means[c] = make([]float64, len(g.Means[c]))
		for k, m := range g.Means[c] {
			ex := m
			if sw[c] > 0 {
				ex = sx[c][k] / sw[c]
			}
			out.Means[c][k] = alpha*ex + (1-alpha)*m
		}
	}
	return out
}

// LogLikelihood returns the mean per-frame log-likelihood of frames under g
// (−Inf for no frames).
func (g *GMM) LogLikelihood(frames [][]float64) float64 {
	if len(frames) == 0 || len(g.Weights) == 0 {
		return math.Inf(-1)
	}
	var s float64
	for _, f := range frames {
		s += g.frameLogLikelihood(f, nil)
	}
	return s / float64(len(frames))
}

// posteriors writes each component's responsibility for f into post.
func (g *GMM) posteriors(post, f []float64) {
	total := g.frameLogLikelihood(f, post)
	for c := range post {
		post[c] = math.Exp(post[c] - total)
	}
}

// frameLogLikelihood returns log p(f) and, if logJoint is not nil, writes
// each component's log(weight·density) into it.
func (g *GMM) frameLogLikelihood(f, logJoint []float64) float64 {
	best := math.Inf(-1)
	var joint [64]float64 // mixtures here are small; larger ones allocate
	lj := logJoint
	if lj == nil {
		if len(g.Weights) <= len(joint) {
			lj = joint[:len(g.Weights)]
		} else {
			lj = make([]float64, len(g.Weights))
		}
	}
	for c, w := range g.Weights {
		v := math.Log(math.Max(w, 1e-300))
		for k := range min(len(f), len(g.Means[c])) {
			d := f[k] - g.Means[c][k]
			v -= 0.5 * (d*d/g.Vars[c][k] + math.Log(2*math.Pi*g.Vars[c][k]))
		}
		lj[c] = v
		best = math.Max(best, v)
	}
	var s float64
	for _, v := range lj {
		s += math.Exp(v - best)
	}
	return best + math.Log(s)
}

func normalise(w []float64) {
	var s float64
	for _, v := range w {
		s += v
	}
	if s > 0 {
		for i := range w {
			w[i] /= s
		}
	}
}
