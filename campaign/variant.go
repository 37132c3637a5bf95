package campaign

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Variant is one script variant (A/B test arm) and its share of the contacts.
// Name is what the script knows it by (a variant of its variants: list) and
// what call records keep.
type Variant struct {
	Name string `json:"name"`
	// Weight is the variant's relative share. Default 1.
	Weight float64 `json:"weight,omitempty"`
}

func validateVariants(vs []Variant) error {
	seen := map[string]bool{}
	for i, v := range vs {
		if v.Name == "" {
			return fmt.Errorf("variants[%d]: no name", i)
		}
		if seen[v.Name] {
			return fmt.Errorf("variants[%d]: %q listed twice", i, v.Name)
		}
		if v.Weight < 0 {
			return fmt.Errorf("variants[%d]: weight %g is negative", i, v.Weight)
		}
		seen[v.Name] = true
	}
	return nil
}

// AssignVariant is the variant of a contact: a point in [0, 1) hashed from the
// seed and the contact's ID (FNV-1a, 64 bits, then mixed) falls into one variant's share
// of the total weight. The same contact gets the same variant on every attempt
// and on every node, and another seed reshuffles the contacts. "" when vs is
// empty.
func AssignVariant(vs []Variant, seed string, contactID int64) string {
	if len(vs) == 0 {
		return ""
	}
	var total float64
	for _, v := range vs {
		total += variantWeight(v)
	}
	h := fnv.New64a()
	h.Write([]byte(seed))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(contactID, 10)))
	// MurmurHash3's finaliser spreads the few bits that differ between
	// neighbouring IDs over the whole word; its top 53 bits make an exactly
	// representable fraction.
	k := h.Sum64()
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	x := float64(k>>11) / (1 << 53) * total
	for _, v := range vs {
		if w := variantWeight(v); x < w {
			return v.Name
		} else {
			x -= w
		}
	}
	return vs[len(vs)-1].Name
}

func variantWeight(v Variant) float64 {
	if v.Weight == 0 {
		return 1
	}
	return v.Weight
}
