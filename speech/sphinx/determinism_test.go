package sphinx

import (
	"context"
	"testing"
)

func TestDecodingIsReproducible(t *testing.T) {
	r := sharedRecognizer(t)
	requireTestData(t, "cards/005.wav", "cards/cards.gram")
	a, rate := readWAV(t, testData+"/cards/005.wav")
	tel := telephone(t, a, rate)
	gram := grammarFile(t, testData+"/cards/cards.gram")
	var first []Hypothesis
	for i := range 3 {
		// A fresh recognizer each time recompiles the grammar too.
		r2 := NewWithModel(r.Model(), Config{})
		h, err := r2.DecodeUtterance(context.Background(), gram, tel)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = h
			continue
		}
		if len(h) != len(first) {
			t.Fatalf("run %d: %d hypotheses, first run %d", i, len(h), len(first))
		}
		for j := range h {
			if h[j] != first[j] {
				t.Fatalf("run %d differs: %+v vs %+v", i, h[j], first[j])
			}
		}
	}
}
