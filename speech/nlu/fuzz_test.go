package nlu

import "testing"

func FuzzParseIntents(f *testing.F) {
	f.Add([]byte("intents:\n  affirm:\n    zh: [对]\n    en: [yes]\n"))
	f.Add([]byte("intents: [a]"))
	f.Add([]byte("intents:\n  a: &x [b]\n  c: *x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseIntents(b) // must not panic
	})
}

func FuzzExtractFeatures(f *testing.F) {
	f.Add("我明天下午三点还三千五百块")
	f.Add("I'll pay $1,250.50 next Friday")
	f.Fuzz(func(t *testing.T, s string) {
		var ss float64
		for _, x := range extract(s) {
			ss += x.weight * x.weight
		}
		if ss != 0 && (ss < 0.999 || ss > 1.001) {
			t.Fatalf("features of %q not unit length: %v", s, ss)
		}
	})
}
