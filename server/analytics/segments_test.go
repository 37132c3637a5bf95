package analytics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// planted is one synthetic cluster: contacts around (age, income) with a
// conversion probability.
type planted struct {
	age, income float64
	n           int
	convert     float64
}

var plantedClusters = []planted{
	{age: 25, income: 3000, n: 60, convert: 0.1},
	{age: 45, income: 12000, n: 50, convert: 0.6},
	{age: 65, income: 6000, n: 40, convert: 0.3},
}

// plantedContacts builds the clusters with small spread, half the fields as
// CSV-style strings, and one answered call per contact, converted or not.
// truth[i] is contact i's cluster.
func plantedContacts(seed uint64) (contacts []store.Contact, records []store.CallRecord, truth []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	id := int64(0)
	for ci, p := range plantedClusters {
		converted := int(math.Round(p.convert * float64(p.n)))
		for j := 0; j < p.n; j++ {
			id++
			age := p.age + rng.NormFloat64()*2
			income := p.income + rng.NormFloat64()*300
			custom := map[string]any{"age": age, "income": strconv.FormatFloat(income, 'f', 0, 64), "city": "Shenzhen"}
			contacts = append(contacts, store.Contact{ID: id, CampaignID: 1, Attempts: 1, Custom: custom})
			outcome := "not_interested"
			if j < converted {
				outcome = "interested"
			}
			records = append(records, store.CallRecord{ID: id, CampaignID: 1, ContactID: id, AttemptAt: t0,
				AnsweredAt: t0, EndedAt: t0.Add(time.Minute), SIPCode: 200, Disposition: "answered", AnsweredBy: "human",
				Outcome: outcome, Transcript: json.RawMessage(`[{"side":"bot","at":0},{"side":"caller","at":2000000000}]`)})
			truth = append(truth, ci)
		}
	}
	return contacts, records, truth
}

func TestSegmentsRecoverPlantedClustersAndRankByConversion(t *testing.T) {
	contacts, records, truth := plantedContacts(7)
	rep, err := Segments(contacts, records, SegmentOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.K != 3 || rep.Chosen != "silhouette" {
		t.Fatalf("k = %d chosen by %q, want 3 by silhouette (silhouette %.3f)", rep.K, rep.Chosen, rep.Silhouette)
	}
	if want := []string{"age", "income", FeaturePriority, FeatureAttempts, FeatureAnswered}; !reflect.DeepEqual(rep.Features, want) {
		t.Fatalf("features %v, want %v (city is not numeric)", rep.Features, want)
	}
	// Best converting first: the planted clusters in order 1 (60 %), 2 (30 %), 0 (10 %).
	order := []int{1, 2, 0}
	segOf := map[int64]int{}
	for s, seg := range rep.Segments {
		for _, id := range seg.ContactIDs {
			segOf[id] = s
		}
	}
	for s, ci := range order {
		p := plantedClusters[ci]
		seg := rep.Segments[s]
		if seg.Size != p.n {
			t.Errorf("segment %d has %d contacts, want planted cluster %d's %d", s, seg.Size, ci, p.n)
		}
		if want := math.Round(p.convert*float64(p.n)) / float64(p.n); seg.ConversionRate != want {
			t.Errorf("segment %d converts %v, want %v", s, seg.ConversionRate, want)
		}
		// Centroids in original units, within a few standard errors of the planted means.
		if math.Abs(seg.Centroid[0]-p.age) > 1.5 || math.Abs(seg.Centroid[1]-p.income) > 200 {
			t.Errorf("segment %d centroid age %.1f income %.0f, want about %.0f and %.0f", s, seg.Centroid[0], seg.Centroid[1], p.age, p.income)
		}
		if seg.Centroid[3] != 1 || seg.Centroid[4] != 1 {
			t.Errorf("segment %d centroid attempts %v answered %v, want 1 and 1", s, seg.Centroid[3], seg.Centroid[4])
		}
	}
	for i, c := range contacts {
		if segOf[c.ID] != indexOf(order, truth[i]) {
			t.Errorf("contact %d of planted cluster %d is in segment %d", c.ID, truth[i], segOf[c.ID])
		}
	}
	if rep.Silhouette < 0.7 {
		t.Errorf("silhouette %.3f for well separated clusters, want > 0.7", rep.Silhouette)
	}
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestSegmentsAreDeterministicForASeed(t *testing.T) {
	contacts, records, _ := plantedContacts(3)
	a, err := Segments(contacts, records, SegmentOptions{Seed: 42, K: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Segments(contacts, records, SegmentOptions{Seed: 42, K: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different results:\n%+v\n%+v", a, b)
	}
	if a.K != 4 || a.Chosen != "given" || len(a.Segments) != 4 {
		t.Errorf("k %d chosen %q with %d segments, want the given 4", a.K, a.Chosen, len(a.Segments))
	}
}

func TestSegmentsImputeMissingFields(t *testing.T) {
	contacts, records, truth := plantedContacts(5)
	// The first contact of the 45-year-old cluster loses its income.
	i := plantedClusters[0].n
	delete(contacts[i].Custom, "income")
	rep, err := Segments(contacts, records, SegmentOptions{Seed: 1, K: 3})
	if err != nil {
		t.Fatal(err)
	}
	var mates int64
	for j := range contacts {
		if j != i && truth[j] == truth[i] {
			mates = contacts[j].ID
			break
		}
	}
	for _, s := range rep.Segments {
		hasI, hasMate := false, false
		for _, id := range s.ContactIDs {
			hasI = hasI || id == contacts[i].ID
			hasMate = hasMate || id == mates
		}
		if hasI != hasMate {
			t.Errorf("the contact without income left its age group")
		}
	}
}

func TestSegmentsEdgeCases(t *testing.T) {
	same := func(n int) []store.Contact {
		cs := make([]store.Contact, n)
		for i := range cs {
			cs[i] = store.Contact{ID: int64(i + 1), Priority: 5, Custom: map[string]any{"score": 1.0}}
		}
		return cs
	}
	tests := []struct {
		name     string
		contacts []store.Contact
		opt      SegmentOptions
		k        int
		chosen   string
		sizes    []int
	}{
		{"no contacts", nil, SegmentOptions{}, 0, "", []int{}},
		{"one contact", same(1), SegmentOptions{}, 1, "all_alike", []int{1}},
		{"all alike", same(20), SegmentOptions{}, 1, "all_alike", []int{20}},
		{"all alike with k given", same(20), SegmentOptions{K: 3}, 1, "all_alike", []int{20}},
		{"two distinct points, k range above", append(same(3), store.Contact{ID: 9, Priority: -5}), SegmentOptions{KMin: 3, KMax: 5}, 2, "silhouette", []int{3, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Segments(tc.contacts, nil, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if rep.K != tc.k || rep.Chosen != tc.chosen || len(rep.Segments) != len(tc.sizes) {
				t.Fatalf("k %d chosen %q segments %d, want %d %q %d", rep.K, rep.Chosen, len(rep.Segments), tc.k, tc.chosen, len(tc.sizes))
			}
			for i, s := range rep.Segments {
				if s.Size != tc.sizes[i] {
					t.Errorf("segment %d size %d, want %d", i, s.Size, tc.sizes[i])
				}
				for _, v := range s.Centroid {
					if math.IsNaN(v) {
						t.Errorf("segment %d centroid has NaN", i)
					}
				}
			}
			if _, err := json.Marshal(rep); err != nil {
				t.Errorf("report does not marshal: %v", err)
			}
		})
	}
}

func TestSegmentsRejectBadOptions(t *testing.T) {
	for _, opt := range []SegmentOptions{{K: -1}, {KMin: 5, KMax: 2}, {KMax: -2}} {
		if _, err := Segments(nil, nil, opt); err == nil {
			t.Errorf("options %+v accepted", opt)
		}
	}
}

func BenchmarkSegments10k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	contacts := make([]store.Contact, 10_000)
	for i := range contacts {
		c := plantedClusters[i%3]
		contacts[i] = store.Contact{ID: int64(i + 1), Custom: map[string]any{
			"age": c.age + rng.NormFloat64()*2, "income": c.income + rng.NormFloat64()*300}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Segments(contacts, nil, SegmentOptions{Seed: 1, KMax: 5}); err != nil {
			b.Fatal(err)
		}
	}
}
