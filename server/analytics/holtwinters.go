package analytics

import (
	"errors"
	"math"
)

// ErrNoHistory is returned when there is nothing to forecast from.
var ErrNoHistory = errors.New("analytics: no history")

// Method names the model a forecast used.
type Method string

// Forecasting methods, from the richest to the fallback for the shortest
// history.
const (
	// MethodHoltWinters: additive level, trend and season (needs two seasons).
	MethodHoltWinters Method = "holt_winters"
	// MethodExponential: simple exponential smoothing, a level only (3 points).
	MethodExponential Method = "exponential_smoothing"
	// MethodMean: the mean of what there is (1 or 2 points).
	MethodMean Method = "mean"
)

// SeriesFit is a model fitted to a series and its forecast.
type SeriesFit struct {
	Method Method `json:"method"`
	// Alpha, Beta and Gamma are the smoothing weights of level, trend and
	// season chosen by least squares on one-step errors (0 when unused).
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	Gamma float64 `json:"gamma"`
	// RMSE and MAPE are the in-sample one-step-ahead errors over the points
	// marked observed (MAPE skips zero actuals; it is a fraction, not
	// percent). Both are 0 when no point could be checked (Checked 0).
	RMSE    float64 `json:"rmse"`
	MAPE    float64 `json:"mape"`
	Checked int     `json:"checked"`
	// Forecast holds the next horizon values.
	Forecast []float64 `json:"forecast"`
	// Sigma[h-1] is the standard error of the h-step forecast Forecast[h-1]:
	// the RMSE grown with the horizon as for exponential smoothing,
	// σ·√(1 + (h−1)·α²); for the mean, the sample standard deviation.
	Sigma []float64 `json:"sigma"`
}

// alphaGrid are the smoothing weights tried; a grid is enough here (tens of
// points per series) and, unlike an optimiser, never fails to converge.
var alphaGrid = [...]float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}

// FitSeries fits y, whose season length is season (7 for daily points of a
// weekly cycle), and forecasts horizon steps. observed marks the points that
// were measured rather than filled in; nil means all were. Holt-Winters
// (additive) needs two full seasons, exponential smoothing three points, the
// mean one.
func FitSeries(y []float64, observed []bool, season, horizon int) (SeriesFit, error) {
	if len(y) == 0 {
		return SeriesFit{}, ErrNoHistory
	}
	if observed != nil && len(observed) != len(y) {
		return SeriesFit{}, errors.New("analytics: fit series: observed and values differ in length")
	}
	obs := func(t int) bool { return observed == nil || observed[t] }
	switch {
	case season >= 2 && len(y) >= 2*season:
		best := SeriesFit{RMSE: math.Inf(1)}
		for _, a := range alphaGrid {
			for _, b := range alphaGrid[:5] { // a trend weight past 0.4 chases noise
				for _, g := range alphaGrid {
					fit := holtWinters(y, obs, season, horizon, a, b, g)
					if fit.Checked > 0 && fit.RMSE < best.RMSE {
						best = fit
					}
				}
			}
		}
		if best.Checked > 0 {
			return best, nil
		}
		fallthrough
	case len(y) >= 3:
		best := SeriesFit{RMSE: math.Inf(1)}
		for _, a := range alphaGrid {
			fit := holtWinters(y, obs, 1, horizon, a, 0, 0)
			fit.Method, fit.Beta, fit.Gamma = MethodExponential, 0, 0
			if fit.Checked > 0 && fit.RMSE < best.RMSE {
				best = fit
			}
		}
		if best.Checked > 0 {
			return best, nil
		}
	}
	return meanFit(y, obs, horizon), nil
}

// holtWinters runs the additive recursions (Hyndman & Athanasopoulos, FPP3
// §8.3) with the given weights; season 1 with beta 0 and gamma 0 is simple
// exponential smoothing. The state is initialised from the first season, and
// the one-step errors are counted from the second season on.
func holtWinters(y []float64, obs func(int) bool, m, horizon int, alpha, beta, gamma float64) SeriesFit {
	level, trend := 0.0, 0.0
	seas := make([]float64, m)
	if m > 1 {
		for i := 0; i < m; i++ {
			level += y[i]
		}
		level /= float64(m)
		second := 0.0
		for i := m; i < 2*m; i++ {
			second += y[i]
		}
		trend = (second/float64(m) - level) / float64(m)
		for i := 0; i < m; i++ {
			seas[i] = y[i] - (level + trend*(float64(i)-float64(m-1)/2))
		}
		// The level of the first season is its middle; bring it to its end
		// so that step m is one step ahead.
		level += trend * float64(m-1) / 2
	} else {
		level = y[0]
	}
	var sse, ape float64
	checked, apeN := 0, 0
	for t := m; t < len(y); t++ {
		s := seas[t%m]
		pred := level + trend + s
		if obs(t) {
			e := y[t] - pred
			sse += e * e
			checked++
			if y[t] != 0 {
				ape += math.Abs(e / y[t])
				apeN++
			}
		}
		prevLevel, prevTrend := level, trend
		level = alpha*(y[t]-s) + (1-alpha)*(prevLevel+prevTrend)
		trend = beta*(level-prevLevel) + (1-beta)*prevTrend
		if m > 1 {
			seas[t%m] = gamma*(y[t]-prevLevel-prevTrend) + (1-gamma)*s
		}
	}
	fit := SeriesFit{Method: MethodHoltWinters, Alpha: alpha, Beta: beta, Gamma: gamma, Checked: checked}
	if checked == 0 {
		return fit
	}
	fit.RMSE = math.Sqrt(sse / float64(checked))
	if apeN > 0 {
		fit.MAPE = ape / float64(apeN)
	}
	fit.Forecast = make([]float64, horizon)
	fit.Sigma = make([]float64, horizon)
	for h := 1; h <= horizon; h++ {
		fit.Forecast[h-1] = level + float64(h)*trend + seas[(len(y)+h-1)%m]
		fit.Sigma[h-1] = fit.RMSE * math.Sqrt(1+float64(h-1)*alpha*alpha)
	}
	return fit
}

// meanFit forecasts the mean of the observed points; its error is their
// standard deviation.
func meanFit(y []float64, obs func(int) bool, horizon int) SeriesFit {
	sum, n := 0.0, 0
	for t, v := range y {
		if obs(t) {
			sum += v
			n++
		}
	}
	if n == 0 {
		for _, v := range y {
			sum += v
		}
		n = len(y)
	}
	mean := sum / float64(n)
	ss := 0.0
	for t, v := range y {
		if obs(t) {
			ss += (v - mean) * (v - mean)
		}
	}
	sd := 0.0
	if n > 1 {
		sd = math.Sqrt(ss / float64(n-1))
	}
	fit := SeriesFit{Method: MethodMean, Forecast: make([]float64, horizon), Sigma: make([]float64, horizon)}
	for h := range fit.Forecast {
		fit.Forecast[h], fit.Sigma[h] = mean, sd
	}
	return fit
}
