package analytics

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// weekly is the true noise-free series: a level, a slow trend and a weekly
// pattern, as an answer rate per day at one hour.
func weekly(t int) float64 {
	season := [7]float64{0.08, 0.05, 0.02, 0, -0.03, -0.06, -0.06}
	return 0.45 + 0.001*float64(t) + season[t%7]
}

func rmse(got []float64, want func(int) float64, offset int) float64 {
	s := 0.0
	for h, v := range got {
		d := v - want(offset+h)
		s += d * d
	}
	return math.Sqrt(s / float64(len(got)))
}

func TestHoltWintersForecastsASeasonalSeriesAndBeatsTheMean(t *testing.T) {
	const n, noise = 56, 0.01
	rng := rand.New(rand.NewPCG(11, 12))
	y := make([]float64, n)
	sum := 0.0
	for i := range y {
		y[i] = weekly(i) + rng.NormFloat64()*noise
		sum += y[i]
	}
	fit, err := FitSeries(y, nil, 7, 7)
	if err != nil {
		t.Fatal(err)
	}
	if fit.Method != MethodHoltWinters {
		t.Fatalf("method %s, want holt_winters for 8 weeks", fit.Method)
	}
	for h, v := range fit.Forecast {
		if d := math.Abs(v - weekly(n+h)); d > 0.03 {
			t.Errorf("step %d: forecast %.4f, truth %.4f (off %.4f)", h+1, v, weekly(n+h), d)
		}
	}
	mean := make([]float64, 7)
	for i := range mean {
		mean[i] = sum / n
	}
	hw, naive := rmse(fit.Forecast, weekly, n), rmse(mean, weekly, n)
	if hw >= naive/2 {
		t.Errorf("forecast RMSE %.4f, mean's %.4f: want Holt-Winters at least twice as good", hw, naive)
	}
	// The one-step in-sample error is about the noise.
	if fit.RMSE < noise/2 || fit.RMSE > 2.5*noise || fit.Checked != n-7 {
		t.Errorf("in-sample RMSE %.4f over %d points, want about %.2f over %d", fit.RMSE, fit.Checked, noise, n-7)
	}
	if fit.MAPE <= 0 || fit.MAPE > 0.1 {
		t.Errorf("in-sample MAPE %.4f", fit.MAPE)
	}
	for h := 1; h < len(fit.Sigma); h++ {
		if fit.Sigma[h] < fit.Sigma[h-1] {
			t.Errorf("interval narrows with the horizon: %v", fit.Sigma)
		}
	}
}

func TestFitSeriesFallsBackWhenHistoryIsShort(t *testing.T) {
	constant := make([]float64, 30)
	for i := range constant {
		constant[i] = 0.37
	}
	tests := []struct {
		name   string
		y      []float64
		method Method
		want   float64 // first forecast
		tol    float64
	}{
		{"one point", []float64{0.4}, MethodMean, 0.4, 0},
		{"two points", []float64{0.4, 0.6}, MethodMean, 0.5, 1e-12},
		{"ten points: no two weeks", []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6}, MethodExponential, 0.6, 0.05},
		{"constant", constant, MethodHoltWinters, 0.37, 1e-12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fit, err := FitSeries(tc.y, nil, 7, 3)
			if err != nil {
				t.Fatal(err)
			}
			if fit.Method != tc.method || len(fit.Forecast) != 3 || len(fit.Sigma) != 3 {
				t.Fatalf("method %s with %d steps, want %s with 3", fit.Method, len(fit.Forecast), tc.method)
			}
			if d := math.Abs(fit.Forecast[0] - tc.want); d > tc.tol {
				t.Errorf("forecast %v, want %v ± %v", fit.Forecast[0], tc.want, tc.tol)
			}
			for _, v := range append(fit.Forecast, fit.Sigma...) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("non-finite value in %+v", fit)
				}
			}
		})
	}
	if _, err := FitSeries(nil, nil, 7, 3); !errors.Is(err, ErrNoHistory) {
		t.Errorf("empty series: %v, want ErrNoHistory", err)
	}
	if _, err := FitSeries([]float64{1, 2}, []bool{true}, 7, 3); err == nil {
		t.Error("mismatched observed mask accepted")
	}
}

func TestFitSeriesScoresOnlyObservedPoints(t *testing.T) {
	y := make([]float64, 28)
	observed := make([]bool, 28)
	for i := range y {
		y[i], observed[i] = weekly(i), true
	}
	// A filled-in point far off the pattern must not count in the error.
	y[20], observed[20] = 0.9, false
	fit, err := FitSeries(y, observed, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	if fit.Checked != 28-7-1 {
		t.Errorf("checked %d points, want %d", fit.Checked, 28-7-1)
	}
}

// history makes call records over weeks: each weekday but Sunday, at hours
// 9, 10 and 11, 20 calls of which round(20·rate) are answered.
func history(now time.Time, weeks int, rate func(day time.Time, hour int) float64) []store.CallRecord {
	var rs []store.CallRecord
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for d := weeks * 7; d >= 0; d-- { // d 0 is today, which the forecast must ignore
		day := today.AddDate(0, 0, -d)
		if day.Weekday() == time.Sunday {
			continue
		}
		for _, h := range []int{9, 10, 11} {
			r := rate(day, h)
			if d == 0 {
				r = 1 // a partial today, far off the pattern
			}
			answered := int(math.Round(20 * r))
			for i := 0; i < 20; i++ {
				at := day.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Minute)
				rec := store.CallRecord{CampaignID: 1, ContactID: int64(len(rs) + 1), AttemptAt: at, EndedAt: at.Add(time.Minute)}
				if i < answered {
					rec.SIPCode, rec.Disposition, rec.AnsweredAt = 200, "answered", at.Add(5*time.Second)
				} else {
					rec.SIPCode, rec.Disposition = 486, "busy"
				}
				rs = append(rs, rec)
			}
		}
	}
	return rs
}

func plantedRate(day time.Time, hour int) float64 {
	byHour := map[int]float64{9: 0.3, 10: 0.5, 11: 0.4}
	byDay := map[time.Weekday]float64{time.Monday: 0.1, time.Saturday: -0.1}
	return byHour[hour] + byDay[day.Weekday()]
}

func TestForecastAnswerRatePerHourFollowsTheWeeklyPattern(t *testing.T) {
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC) // a Wednesday
	f, err := ForecastAnswerRate(history(now, 6, plantedRate), ForecastOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if f.Measure != kpi.AnswerSeizureRatio || !f.Start.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("measure %s from %s", f.Measure, f.Start)
	}
	if len(f.Hours) != 3 {
		t.Fatalf("%d hours forecast, want 9, 10 and 11", len(f.Hours))
	}
	for i, hf := range f.Hours {
		if hf.Hour != 9+i || hf.Fit.Method != MethodHoltWinters || hf.Days != 36 {
			t.Errorf("hour %d: method %s over %d days, want hour %d, holt_winters, 36 days", hf.Hour, hf.Fit.Method, hf.Days, 9+i)
		}
		// Seven days ahead, Sunday never called: six points.
		if len(hf.Points) != 6 {
			t.Fatalf("hour %d: %d points, want 6 (no Sunday)", hf.Hour, len(hf.Points))
		}
		for _, p := range hf.Points {
			day, err := time.Parse(time.DateOnly, p.Date)
			if err != nil {
				t.Fatal(err)
			}
			if day.Weekday() == time.Sunday || p.Weekday != day.Weekday().String() {
				t.Errorf("point %+v", p)
			}
			want := plantedRate(day, hf.Hour)
			if math.Abs(p.Rate-want) > 0.03 {
				t.Errorf("hour %d %s %s: rate %.3f, want %.3f", hf.Hour, p.Date, p.Weekday, p.Rate, want)
			}
			if !(p.Lower <= p.Rate && p.Rate <= p.Upper) || p.Lower < 0 || p.Upper > 1 {
				t.Errorf("interval [%.3f, %.3f] around %.3f", p.Lower, p.Upper, p.Rate)
			}
		}
	}
}

func TestForecastAnswerRateEdgeCases(t *testing.T) {
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	flat := func(time.Time, int) float64 { return 0.5 }
	tests := []struct {
		name    string
		records []store.CallRecord
		opt     ForecastOptions
		hours   int
		method  Method
		err     bool
	}{
		{"no records", nil, ForecastOptions{Now: now}, 0, "", false},
		{"no now", nil, ForecastOptions{}, 0, "", true},
		{"bad measure", nil, ForecastOptions{Now: now, Measure: kpi.ConversionRate}, 0, "", true},
		{"only today, which is partial", history(now, 0, flat), ForecastOptions{Now: now}, 0, "", false},
		{"one day", since(history(now, 1, flat), now.AddDate(0, 0, -1)), ForecastOptions{Now: now}, 3, MethodMean, false},
		{"two days", since(history(now, 1, flat), now.AddDate(0, 0, -2)), ForecastOptions{Now: now}, 3, MethodMean, false},
		{"one week", history(now, 1, flat), ForecastOptions{Now: now}, 3, MethodExponential, false},
		{"too few calls per hour", history(now, 3, flat), ForecastOptions{Now: now, MinSeizures: 21}, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ForecastAnswerRate(tc.records, tc.opt)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if len(f.Hours) != tc.hours {
				t.Fatalf("%d hours, want %d", len(f.Hours), tc.hours)
			}
			for _, hf := range f.Hours {
				if hf.Fit.Method != tc.method {
					t.Errorf("hour %d method %s, want %s", hf.Hour, hf.Fit.Method, tc.method)
				}
				for _, p := range hf.Points {
					if math.Abs(p.Rate-0.5) > 1e-9 {
						t.Errorf("flat history forecast %v", p.Rate)
					}
				}
			}
		})
	}
}

// since keeps the records attempted from the start of from's day on.
func since(rs []store.CallRecord, from time.Time) []store.CallRecord {
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	var out []store.CallRecord
	for _, r := range rs {
		if !r.AttemptAt.Before(day) {
			out = append(out, r)
		}
	}
	return out
}

func BenchmarkForecastAnswerRate100k(b *testing.B) {
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	records := history(now, 8, plantedRate) // 8 weeks × 6 days × 3 hours × 20 calls ≈ 3k
	for len(records) < 100_000 {
		records = append(records, records[:min(len(records), 100_000-len(records))]...)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ForecastAnswerRate(records, ForecastOptions{Now: now}); err != nil {
			b.Fatal(err)
		}
	}
}
