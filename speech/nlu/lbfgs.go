package nlu

import (
	"context"
	"math"
)

// lbfgs minimises f with the limited-memory BFGS method (Nocedal & Wright,
// Numerical Optimization, algorithm 7.4) and a backtracking Armijo line
// search. It is written here rather than taken from gonum/optimize because
// that package pulls golang.org/x/tools into the module for one set type.
// fg returns f(x) and writes ∇f(x) into grad. x is updated in place.
func lbfgs(ctx context.Context, x []float64, fg func(grad, x []float64) float64, iterations int, gradTol float64) error {
	const memory = 10
	n := len(x)
	g := make([]float64, n)
	f := fg(g, x)
	var sHist, yHist [][]float64
	var rhoHist []float64
	dir := make([]float64, n)
	xNew := make([]float64, n)
	gNew := make([]float64, n)
	alpha := make([]float64, memory)
	for it := 0; it < iterations; it++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if infNorm(g) < gradTol {
			return nil
		}
		// Two-loop recursion: dir = -H·g.
		copy(dir, g)
		for i := len(sHist) - 1; i >= 0; i-- {
			alpha[i] = rhoHist[i] * dot(sHist[i], dir)
			axpy(-alpha[i], yHist[i], dir)
		}
		gamma := 1.0
		if k := len(sHist) - 1; k >= 0 {
			gamma = dot(sHist[k], yHist[k]) / dot(yHist[k], yHist[k])
		} else if gn := math.Sqrt(dot(g, g)); gn > 0 {
			gamma = 1 / gn // first step of unit length
		}
		for i := range dir {
			dir[i] *= gamma
		}
		for i := range sHist {
			beta := rhoHist[i] * dot(yHist[i], dir)
			axpy(alpha[i]-beta, sHist[i], dir)
		}
		for i := range dir {
			dir[i] = -dir[i]
		}
		slope := dot(g, dir)
		if slope >= 0 {
			// Not a descent direction (curvature history went stale):
			// restart from steepest descent.
			sHist, yHist, rhoHist = nil, nil, nil
			for i := range dir {
				dir[i] = -g[i]
			}
			slope = -dot(g, g)
		}
		step := 1.0
		var fNew float64
		ok := false
		for ls := 0; ls < 30; ls++ {
			for i := range x {
				xNew[i] = x[i] + step*dir[i]
			}
			fNew = fg(gNew, xNew)
			if fNew <= f+1e-4*step*slope {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			return nil // no further progress possible: converged as far as floats allow
		}
		s := make([]float64, n)
		y := make([]float64, n)
		for i := range x {
			s[i] = xNew[i] - x[i]
			y[i] = gNew[i] - g[i]
		}
		copy(x, xNew)
		copy(g, gNew)
		improvement := f - fNew
		f = fNew
		if sy := dot(s, y); sy > 1e-12 {
			if len(sHist) == memory {
				sHist, yHist, rhoHist = sHist[1:], yHist[1:], rhoHist[1:]
			}
			sHist = append(sHist, s)
			yHist = append(yHist, y)
			rhoHist = append(rhoHist, 1/sy)
		}
		if improvement < 1e-7*math.Max(1, math.Abs(f)) {
			return nil
		}
	}
	return nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func infNorm(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
