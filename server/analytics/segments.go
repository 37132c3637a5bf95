package analytics

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// Features every contact has, besides its numeric custom fields.
const (
	FeaturePriority = "priority"
	FeatureAttempts = "attempts"
	FeatureAnswered = "answered"
)

// SegmentOptions tune Segments. The zero value chooses k in 2…8 by
// silhouette, with seed 0.
type SegmentOptions struct {
	// K fixes the number of segments; 0 chooses it by silhouette within
	// [KMin, KMax].
	K int `json:"k,omitempty"`
	// KMin and KMax bound the search; defaults 2 and 8.
	KMin int `json:"k_min,omitempty"`
	KMax int `json:"k_max,omitempty"`
	// Seed makes the k-means++ starts, and so the result, reproducible.
	Seed uint64 `json:"seed,omitempty"`
	// Fields are the custom fields to use; nil takes every field that is a
	// number (or a numeric string, as CSV imports store them) in at least
	// half of the contacts.
	Fields []string `json:"fields,omitempty"`
	// Rules define a conversion (kpi.Rules).
	Rules kpi.Rules `json:"rules,omitzero"`
	// Restarts is the number of k-means++ starts per k (default 4); MaxIter
	// bounds Lloyd's iterations (default 100).
	Restarts int `json:"restarts,omitempty"`
	MaxIter  int `json:"max_iter,omitempty"`
}

// silhouetteSample bounds the points the silhouette is computed over: it is
// quadratic in their number.
const silhouetteSample = 2000

// Segment is one group of contacts.
type Segment struct {
	// Size counts its contacts; Converted those with a conversion (kpi
	// definition) in any call.
	Size      int `json:"size"`
	Converted int `json:"converted"`
	// ConversionRate is Converted / Size.
	ConversionRate float64 `json:"conversion_rate"`
	// Centroid is the mean of each feature over the segment, in the
	// feature's own units, in the order of SegmentReport.Features.
	Centroid []float64 `json:"centroid"`
	// ContactIDs are the members, ascending; left out of JSON, which may go
	// to a browser.
	ContactIDs []int64 `json:"-"`
}

// SegmentReport is the segmentation of one list, segments sorted by
// conversion rate, best first (ties: larger first).
type SegmentReport struct {
	Contacts int      `json:"contacts"`
	Features []string `json:"features"`
	K        int      `json:"k"`
	// Chosen says how K was set: "given", "silhouette", or "all_alike"
	// when the contacts do not differ in any feature (one segment).
	Chosen     string    `json:"chosen"`
	Silhouette float64   `json:"silhouette"`
	Inertia    float64   `json:"inertia"`
	Segments   []Segment `json:"segments"`
}

// Segments groups contacts by k-means over their standardised features: the
// chosen numeric custom fields, priority, attempts and answered calls (from
// records). Conversion is deliberately not a feature: clustering on it would
// make "which segment converts best" true by construction. A contact missing
// a field is placed by the fields it has (partial distances), and centroids
// average the values present.
func Segments(contacts []store.Contact, records []store.CallRecord, opt SegmentOptions) (SegmentReport, error) {
	if opt.K < 0 || opt.KMin < 0 || opt.KMax < 0 || (opt.KMax > 0 && opt.KMin > opt.KMax) {
		return SegmentReport{}, fmt.Errorf("segments: k %d, k_min %d, k_max %d: want k ≥ 0 and 0 ≤ k_min ≤ k_max", opt.K, opt.KMin, opt.KMax)
	}
	kMin, kMax := cmpOr(opt.KMin, 2), cmpOr(opt.KMax, 8)
	restarts, maxIter := cmpOr(opt.Restarts, 4), cmpOr(opt.MaxIter, 100)

	fields := opt.Fields
	if fields == nil {
		fields = numericFields(contacts)
	}
	features := append(slices.Clone(fields), FeaturePriority, FeatureAttempts, FeatureAnswered)
	rep := SegmentReport{Contacts: len(contacts), Features: features, Segments: []Segment{}}
	if len(contacts) == 0 {
		return rep, nil
	}

	answered, converted := outcomes(records, opt.Rules)
	n, d := len(contacts), len(features)
	raw := make([]float64, n*d)
	present := make([]bool, n*d)
	for i, c := range contacts {
		row := raw[i*d : (i+1)*d]
		for f, name := range fields {
			row[f], present[i*d+f] = number(c.Custom[name])
		}
		row[len(fields)] = float64(c.Priority)
		row[len(fields)+1] = float64(c.Attempts)
		row[len(fields)+2] = float64(answered[c.ID])
		present[i*d+len(fields)], present[i*d+len(fields)+1], present[i*d+len(fields)+2] = true, true, true
	}
	// Standardise over the values present; a constant feature gets scale 1
	// and so contributes nothing to distances. A missing value is set to the
	// mean (0 standardised) only so the row is defined; distances skip it.
	std := make([]float64, n*d)
	means := make([]float64, d)
	for f := 0; f < d; f++ {
		sum, cnt := 0.0, 0
		for i := 0; i < n; i++ {
			if present[i*d+f] {
				sum += raw[i*d+f]
				cnt++
			}
		}
		mean := 0.0
		if cnt > 0 {
			mean = sum / float64(cnt)
		}
		means[f] = mean
		ss := 0.0
		for i := 0; i < n; i++ {
			if !present[i*d+f] {
				raw[i*d+f] = mean
				continue
			}
			t := raw[i*d+f] - mean
			ss += t * t
		}
		sd := 0.0
		if cnt > 0 {
			sd = math.Sqrt(ss / float64(cnt))
		}
		if sd == 0 {
			sd = 1
		}
		for i := 0; i < n; i++ {
			std[i*d+f] = (raw[i*d+f] - mean) / sd
		}
	}
	p := points{x: std, has: present, n: n, d: d}
	distinct := distinctRows(p, kMax)
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))

	var best clustering
	switch {
	case distinct < 2:
		rep.Chosen = "all_alike"
		best = clustering{k: 1, assign: make([]int, n)}
	case opt.K > 0:
		rep.Chosen = "given"
		best = kmeans(rng, p, min(opt.K, distinct), restarts, maxIter)
		rep.Silhouette = silhouette(best, newPairDistances(p, sampleIndices(rng, n)))
	default:
		rep.Chosen = "silhouette"
		pd := newPairDistances(p, sampleIndices(rng, n))
		bestS := math.Inf(-1)
		for k := kMin; k <= min(kMax, distinct); k++ {
			c := kmeans(rng, p, k, restarts, maxIter)
			if s := silhouette(c, pd); s > bestS {
				best, bestS = c, s
			}
		}
		if best.assign == nil { // kMin above the distinct points
			best = kmeans(rng, p, distinct, restarts, maxIter)
			bestS = silhouette(best, pd)
		}
		rep.Silhouette = bestS
	}
	rep.K, rep.Inertia = best.k, best.inertia

	segs := make([]Segment, best.k)
	have := make([]int, best.k*d)
	for j := range segs {
		segs[j].Centroid = make([]float64, d)
	}
	for i, j := range best.assign {
		s := &segs[j]
		s.Size++
		s.ContactIDs = append(s.ContactIDs, contacts[i].ID)
		if converted[contacts[i].ID] {
			s.Converted++
		}
		for f := 0; f < d; f++ {
			if present[i*d+f] {
				s.Centroid[f] += raw[i*d+f]
				have[j*d+f]++
			}
		}
	}
	for j := range segs {
		s := &segs[j]
		if s.Size == 0 {
			continue
		}
		for f := range s.Centroid {
			if have[j*d+f] > 0 {
				s.Centroid[f] /= float64(have[j*d+f])
			} else {
				s.Centroid[f] = means[f] // no member has it: say the list's mean
			}
		}
		s.ConversionRate = float64(s.Converted) / float64(s.Size)
		slices.Sort(s.ContactIDs)
	}
	segs = slices.DeleteFunc(segs, func(s Segment) bool { return s.Size == 0 })
	sort.SliceStable(segs, func(a, b int) bool {
		if segs[a].ConversionRate != segs[b].ConversionRate {
			return segs[a].ConversionRate > segs[b].ConversionRate
		}
		return segs[a].Size > segs[b].Size
	})
	rep.Segments = segs
	return rep, nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// outcomes counts each contact's answered calls and tells whether any of its
// calls converted.
func outcomes(records []store.CallRecord, rules kpi.Rules) (answered map[int64]int, converted map[int64]bool) {
	answered, converted = map[int64]int{}, map[int64]bool{}
	cls := kpi.NewClassifier(rules)
	for i := range records {
		r := &records[i]
		if r.Disposition == "" {
			continue
		}
		f := cls.Classify(r)
		if f.Answered {
			answered[r.ContactID]++
		}
		if f.Converted {
			converted[r.ContactID] = true
		}
	}
	return answered, converted
}

// number reads a custom field as a number: a JSON number, or a string that
// parses as one (CSV imports keep every column as text).
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// numericFields lists, sorted, the custom fields that are numbers in at
// least half of the contacts.
func numericFields(contacts []store.Contact) []string {
	counts := map[string]int{}
	for _, c := range contacts {
		for k, v := range c.Custom {
			if _, ok := number(v); ok {
				counts[k]++
			}
		}
	}
	var out []string
	for k, n := range counts {
		if 2*n >= len(contacts) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// distinctRows counts distinct rows, stopping past limit: k-means cannot
// make more clusters than there are distinct points.
func distinctRows(p points, limit int) int {
	var seen [][]float64
	for i := 0; i < p.n && len(seen) <= limit; i++ {
		r := p.row(i)
		if !slices.ContainsFunc(seen, func(s []float64) bool { return slices.Equal(s, r) }) {
			seen = append(seen, r)
		}
	}
	return len(seen)
}

// sampleIndices is every index when n is small, else a seeded sample.
func sampleIndices(rng *rand.Rand, n int) []int {
	if n <= silhouetteSample {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := rng.Perm(n)[:silhouetteSample]
	slices.Sort(idx)
	return idx
}
