package analytics

import (
	"fmt"
	"math"
	"time"

	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// ForecastOptions tune ForecastAnswerRate.
type ForecastOptions struct {
	// Now is when the forecast is made: history ends the day before, and
	// the forecast covers the seven days after Now's day. Required.
	Now time.Time `json:"now"`
	// Location is the zone of days and hours; nil means UTC.
	Location *time.Location `json:"-"`
	// HistoryDays bounds how far back history is read; default 56 (8 weeks).
	HistoryDays int `json:"history_days,omitempty"`
	// MinSeizures is the fewest seizures that make an hour of a day a data
	// point; fewer leave it missing (a rate from 1 call is 0 or 1). Default 3.
	MinSeizures int `json:"min_seizures,omitempty"`
	// Measure is the rate forecast: kpi.AnswerSeizureRatio (default) or
	// kpi.HumanContactRate.
	Measure kpi.Name `json:"measure,omitempty"`
	// Z is the half-width of the interval in standard errors; default 1.96
	// (about 95 % if the errors are normal).
	Z float64 `json:"z,omitempty"`
	// Rules are the KPI rules (who counts as human).
	Rules kpi.Rules `json:"rules,omitzero"`
}

// Forecast is next week's expected rate for each hour of day that has history.
type Forecast struct {
	Measure kpi.Name `json:"measure"`
	// Start is the first forecast day (00:00 in the options' zone).
	Start time.Time `json:"start"`
	// Hours has one entry per hour of day with any history, ascending.
	Hours []HourForecast `json:"hours"`
}

// HourForecast is the forecast for one hour of day across the next 7 days.
type HourForecast struct {
	Hour int `json:"hour"`
	// Days counts the days of history with a data point at this hour.
	Days int `json:"days"`
	// Fit is the model, its in-sample errors and raw forecast.
	Fit SeriesFit `json:"fit"`
	// Points are the next 7 days; a weekday never seen at this hour in the
	// history gets no point (nothing says it will be called then).
	Points []ForecastPoint `json:"points"`
}

// ForecastPoint is the expected rate at one hour of one day, with its
// interval, all clamped to [0, 1].
type ForecastPoint struct {
	Date    string  `json:"date"`
	Weekday string  `json:"weekday"`
	Rate    float64 `json:"rate"`
	Lower   float64 `json:"lower"`
	Upper   float64 `json:"upper"`
}

// cell is the seizures and successes of one hour of one day.
type cell struct{ seizures, hits int }

// ForecastAnswerRate forecasts, for each hour of day, the answer rate of the
// next seven days from the daily series of that hour's rate. Each hour is its
// own series because calling windows make the hours of a day unlike each other
// and leave the night empty; the season is the week (7 days). A day with too
// few calls at that hour is a missing point, filled for the recursions with
// the mean of the same weekday (else of the hour) but never scored.
func ForecastAnswerRate(records []store.CallRecord, opt ForecastOptions) (Forecast, error) {
	if opt.Now.IsZero() {
		return Forecast{}, fmt.Errorf("forecast answer rate: options need now")
	}
	measure := opt.Measure
	if measure == "" {
		measure = kpi.AnswerSeizureRatio
	}
	if measure != kpi.AnswerSeizureRatio && measure != kpi.HumanContactRate {
		return Forecast{}, fmt.Errorf("forecast: measure %q: want %s or %s", measure, kpi.AnswerSeizureRatio, kpi.HumanContactRate)
	}
	loc := opt.location()
	days := cmpOr(opt.HistoryDays, 56)
	minSeizures := cmpOr(opt.MinSeizures, 3)
	z := opt.Z
	if z <= 0 {
		z = 1.96
	}
	today := opt.today()
	first := today.AddDate(0, 0, -days)
	out := Forecast{Measure: measure, Start: today.AddDate(0, 0, 1), Hours: []HourForecast{}}

	// grid[day][hour], day 0 = first; today is excluded, being partial.
	grid := make([][24]cell, days)
	cls := kpi.NewClassifier(opt.Rules)
	for i := range records {
		r := &records[i]
		if r.Disposition == "" {
			continue
		}
		at := r.AttemptAt.In(loc)
		if at.Before(first) || !at.Before(today) {
			continue
		}
		f := cls.Classify(r)
		if !f.Seizure {
			continue
		}
		day := dayIndex(first, at)
		if day < 0 || day >= days {
			continue
		}
		c := &grid[day][at.Hour()]
		c.seizures++
		if (measure == kpi.AnswerSeizureRatio && f.Answered) || (measure == kpi.HumanContactRate && f.Human) {
			c.hits++
		}
	}

	for h := 0; h < 24; h++ {
		start := -1
		for day := 0; day < days; day++ {
			if grid[day][h].seizures >= minSeizures {
				start = day
				break
			}
		}
		if start < 0 {
			continue
		}
		series, observed := hourSeries(grid[start:], h, minSeizures)
		seen := [7]bool{}
		n := 0
		for i, ok := range observed {
			if ok {
				seen[first.AddDate(0, 0, start+i).Weekday()] = true
				n++
			}
		}
		// Step 1 is today; the week asked for is steps 2…8.
		fit, err := FitSeries(series, observed, 7, 8)
		if err != nil {
			return Forecast{}, fmt.Errorf("forecast hour %02d: %w", h, err)
		}
		hf := HourForecast{Hour: h, Days: n, Fit: fit, Points: []ForecastPoint{}}
		for step := 2; step <= 8; step++ {
			day := today.AddDate(0, 0, step-1)
			if !seen[day.Weekday()] {
				continue
			}
			rate, se := fit.Forecast[step-1], fit.Sigma[step-1]
			hf.Points = append(hf.Points, ForecastPoint{Date: day.Format(time.DateOnly), Weekday: day.Weekday().String(),
				Rate: clamp01(rate), Lower: clamp01(rate - z*se), Upper: clamp01(rate + z*se)})
		}
		out.Hours = append(out.Hours, hf)
	}
	return out, nil
}

// dayIndex counts calendar days from first to t's day, in first's zone,
// robust to daylight-saving days of 23 or 25 hours.
func dayIndex(first, t time.Time) int {
	y, m, d := t.In(first.Location()).Date()
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	fy, fm, fd := first.Date()
	base := time.Date(fy, fm, fd, 12, 0, 0, 0, time.UTC)
	return int(day.Sub(base).Hours() / 24)
}

// hourSeries is the daily rate of one hour, missing days filled with the mean
// of the same weekday position (else the overall mean).
func hourSeries(grid [][24]cell, h, minSeizures int) ([]float64, []bool) {
	n := len(grid)
	y := make([]float64, n)
	observed := make([]bool, n)
	var wsum [7]float64
	var wcnt [7]int
	sum, cnt := 0.0, 0
	for i := range grid {
		c := grid[i][h]
		if c.seizures >= minSeizures {
			y[i], observed[i] = float64(c.hits)/float64(c.seizures), true
			wsum[i%7] += y[i]
			wcnt[i%7]++
			sum += y[i]
			cnt++
		}
	}
	mean := sum / float64(cnt)
	for i := range y {
		if observed[i] {
			continue
		}
		if wcnt[i%7] > 0 {
			y[i] = wsum[i%7] / float64(wcnt[i%7])
		} else {
			y[i] = mean
		}
	}
	return y, observed
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return max(0, min(1, v))
}

func (opt ForecastOptions) location() *time.Location {
	if opt.Location == nil {
		return time.UTC
	}
	return opt.Location
}

// today is the start of Now's day in the options' zone.
func (opt ForecastOptions) today() time.Time {
	y, m, d := opt.Now.In(opt.location()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, opt.location())
}

// historyStart is the first instant of history the forecast reads.
func (opt ForecastOptions) historyStart() time.Time {
	if opt.Now.IsZero() {
		return time.Time{}
	}
	return opt.today().AddDate(0, 0, -cmpOr(opt.HistoryDays, 56))
}
