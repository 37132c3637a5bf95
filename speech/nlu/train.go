package nlu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// sparseRow is one example's features mapped to vocabulary columns.
type sparseRow struct {
	cols []int32
	vals []float64
}

// model is a multinomial logistic regression: for class k the score is
// w[k*stride : k*stride+dims] · x + w[k*stride+dims] (the bias).
type model struct {
	classes int
	dims    int
	w       []float64
}

func (m *model) stride() int { return m.dims + 1 }

// scores writes the class logits of x into dst.
func (m *model) scores(dst []float64, x sparseRow) {
	s := m.stride()
	for k := 0; k < m.classes; k++ {
		base := k * s
		z := m.w[base+m.dims]
		for i, c := range x.cols {
			z += m.w[base+int(c)] * x.vals[i]
		}
		dst[k] = z
	}
}

// softmax turns logits divided by temperature into probabilities in place.
func softmax(z []float64, temperature float64) {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range z {
		e := math.Exp((v - mx) / temperature)
		z[i] = e
		sum += e
	}
	for i := range z {
		z[i] /= sum
	}
}

// trainSettings bound one fit.
type trainSettings struct {
	l2         float64
	iterations int
}

// errTrainingCancelled is returned when ctx ends during training.
var errTrainingCancelled = errors.New("training cancelled")

// train fits the model by minimising mean cross-entropy plus l2/2·|W|²
// (biases unpenalised) with L-BFGS.

func train(ctx context.Context, rows []sparseRow, labels []int, classes, dims int, ts trainSettings) (*model, error) {
	m := &model{classes: classes, dims: dims}
	// Each class weighs the same in the loss whatever its number of
	// examples, so the large built-in out-of-scope set does not turn into a
	// prior that swallows short, rarely phrased intents.
	counts := make([]float64, classes)
	for _, l := range labels {
		counts[l]++
	}
	present := 0.0
	for _, c := range counts {
		if c > 0 {
			present++
		}
	}
	classWeight := make([]float64, classes)
	for k, c := range counts {
		if c > 0 {
			classWeight[k] = float64(len(rows)) / (present * c)
		}
	}
	n := float64(len(rows))
	stride := dims + 1
	z := make([]float64, classes)
	lossGrad := func(grad, w []float64) float64 {
		m.w = w
		if grad != nil {
			clear(grad)
		}
		var loss float64
		for i, x := range rows {
			m.scores(z, x)
			softmax(z, 1)
			cw := classWeight[labels[i]]
			loss -= cw * math.Log(max(z[labels[i]], 1e-300))
			if grad == nil {
				continue
			}
			for k := 0; k < classes; k++ {
				g := z[k]
				if k == labels[i] {
					g--
				}
				g *= cw / n
				base := k * stride
				for j, c := range x.cols {
					grad[base+int(c)] += g * x.vals[j]
				}
				grad[base+dims] += g
			}
		}
		loss /= n
		for k := 0; k < classes; k++ {
			base := k * stride
			for j := 0; j < dims; j++ {
				v := w[base+j]
				loss += 0.5 * ts.l2 * v * v
				if grad != nil {
					grad[base+j] += ts.l2 * v
				}
			}
		}
		return loss
	}
	w := make([]float64, classes*stride)
	if err := lbfgs(ctx, w, lossGrad, ts.iterations, 1e-4); err != nil {
		return nil, fmt.Errorf("%w: %w", errTrainingCancelled, err)
	}
	m.w = w
	return m, nil
}

// foldLogits trains on all folds but one, in turn, and returns the held-out
// logits of every example, for calibration.
func foldLogits(ctx context.Context, rows []sparseRow, labels []int, classes, dims, folds int, ts trainSettings) ([][]float64, error) {
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	// A fixed seed keeps start-up deterministic: the same script always
	// gives the same classifier.
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	fold := make([]int, len(rows))
	for pos, i := range order {
		fold[i] = pos % folds
	}
	out := make([][]float64, len(rows))
	// Folds train in parallel: start-up time is what a user waits for when
	// a script loads, and the folds share nothing but read-only rows.
	errs := make([]error, folds)
	var wg sync.WaitGroup
	for f := 0; f < folds; f++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[f] = trainFold(ctx, f, fold, rows, labels, classes, dims, folds, ts, out)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// trainFold trains without fold f and fills out with fold f's logits.
func trainFold(ctx context.Context, f int, fold []int, rows []sparseRow, labels []int, classes, dims, folds int, ts trainSettings, out [][]float64) error {
	{
		var trRows []sparseRow
		var trLabels []int
		for i := range rows {
			if fold[i] != f {
				trRows = append(trRows, rows[i])
				trLabels = append(trLabels, labels[i])
			}
		}
		m, err := train(ctx, trRows, trLabels, classes, dims, ts)
		if err != nil {
			return fmt.Errorf("fold %d of %d: %w", f+1, folds, err)
		}
		for i := range rows {
			if fold[i] == f {
				z := make([]float64, classes)
				m.scores(z, rows[i])
				out[i] = z
			}
		}
	}
	return nil
}

// fitTemperature finds the temperature T minimising the negative
// log-likelihood of softmax(logits/T) on held-out examples (temperature
// scaling, Guo et al. 2017), by golden-section search on log T.
func fitTemperature(logits [][]float64, labels []int) float64 {
	nll := func(logT float64) float64 {
		t := math.Exp(logT)
		var s float64
		z := make([]float64, 0, 16)
		for i, l := range logits {
			z = append(z[:0], l...)
			softmax(z, t)
			s -= math.Log(max(z[labels[i]], 1e-300))
		}
		return s
	}
	lo, hi := math.Log(0.05), math.Log(20)
	const phi = 0.6180339887498949
	a := hi - phi*(hi-lo)
	b := lo + phi*(hi-lo)
	fa, fb := nll(a), nll(b)
	for hi-lo > 1e-3 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - phi*(hi-lo)
			fa = nll(a)
		} else {
			lo, a, fa = a, b, fb
			b = lo + phi*(hi-lo)
			fb = nll(b)
		}
	}
	return math.Exp((lo + hi) / 2)
}
