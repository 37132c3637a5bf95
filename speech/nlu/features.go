package nlu

import (
	"math"
	"slices"
	"unicode"
)

// Feature kinds are mixed into the hash so that, say, the English word "a"
// and the Chinese character unigram with the same code never collide.
const (
	kindHanUni byte = iota + 1
	kindHanBi
	kindHanTri
	kindWord
	kindWordBi
	kindCharTri
	kindDigits
)

// Weights of feature groups before L2 normalisation: character trigrams of
// English words are many per word, so they are damped to let whole words
// dominate while still rescuing misspellings.
const (
	weightWord    = 1.0
	weightCharTri = 0.35
)

// Sentinels for the boundaries of a Chinese run or an English sentence, so
// that "不" alone differs from "不" starting "不错".
const (
	boundaryStart rune = 0x02
	boundaryEnd   rune = 0x03
)

type feature struct {
	hash   uint64
	weight float64
}

// fnv64 is FNV-1a over a kind byte and runes, computed without building
// strings so feature extraction does not allocate per n-gram.
func fnv64(kind byte, rs ...rune) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h ^= uint64(kind)
	h *= prime
	for _, r := range rs {
		for i := 0; i < 4; i++ {
			h ^= uint64(byte(r >> (8 * i)))
			h *= prime
		}
	}
	return h
}

// foldRune maps full-width ASCII to ASCII and lower-cases, keeping a
// one-to-one rune mapping so offsets in the folded text are offsets in the
// original.
func foldRune(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFEE0
	}
	if r == 0x3000 {
		r = ' '
	}
	return unicode.ToLower(r)
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

func isWordRune(r rune) bool {
	return r < 0x3000 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// segment is a maximal run of Chinese characters or one English word.
type segment struct {
	han   bool
	runes []rune
}

// segments splits folded text into Chinese runs and English words. English
// apostrophes are dropped ("don't" → "dont") because ASR output spells
// contractions both ways.
func segments(text string) []segment {
	var segs []segment
	var cur []rune
	curHan := false
	flush := func() {
		if len(cur) > 0 {
			segs = append(segs, segment{han: curHan, runes: cur})
			cur = nil
		}
	}
	for _, r := range text {
		r = foldRune(r)
		switch {
		case isHan(r):
			if !curHan {
				flush()
			}
			curHan = true
			cur = append(cur, r)
		case isWordRune(r):
			if curHan {
				flush()
			}
			curHan = false
			cur = append(cur, r)
		case (r == '\'' || r == '’') && !curHan && len(cur) > 0:
			// inside a word: skip
		default:
			flush()
		}
	}
	flush()
	return segs
}

// hasHan reports whether text contains a Chinese character.
func hasHan(text string) bool {
	for _, r := range text {
		if isHan(r) {
			return true
		}
	}
	return false
}

func allDigits(rs []rune) bool {
	for _, r := range rs {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// extract returns the de-duplicated, L2-normalised features of text.
func extract(text string) []feature {
	segs := segments(text)
	fs := make([]feature, 0, 64)
	var prevWord []rune
	prevWordOK := false
	for _, s := range segs {
		if s.han {
			rs := make([]rune, 0, len(s.runes)+2)
			rs = append(rs, boundaryStart)
			rs = append(rs, s.runes...)
			rs = append(rs, boundaryEnd)
			for i := 1; i < len(rs)-1; i++ {
				fs = append(fs, feature{fnv64(kindHanUni, rs[i]), weightWord})
			}
			for i := 0; i+1 < len(rs); i++ {
				fs = append(fs, feature{fnv64(kindHanBi, rs[i], rs[i+1]), weightWord})
			}
			for i := 0; i+2 < len(rs); i++ {
				fs = append(fs, feature{fnv64(kindHanTri, rs[i], rs[i+1], rs[i+2]), weightWord})
			}
			prevWordOK = false
			continue
		}
		w := s.runes
		if allDigits(w) {
			// Numbers matter by presence, not value: "I paid 300" and "I
			// paid 5000" mean the same thing.
			fs = append(fs, feature{fnv64(kindDigits), weightWord})
			w = []rune{'#'}
		} else {
			fs = append(fs, feature{fnv64(kindWord, w...), weightWord})
			padded := make([]rune, 0, len(w)+2)
			padded = append(padded, '<')
			padded = append(padded, w...)
			padded = append(padded, '>')
			for i := 0; i+2 < len(padded); i++ {
				fs = append(fs, feature{fnv64(kindCharTri, padded[i], padded[i+1], padded[i+2]), weightCharTri})
			}
		}
		if prevWordOK {
			bi := make([]rune, 0, len(prevWord)+len(w)+1)
			bi = append(bi, prevWord...)
			bi = append(bi, ' ')
			bi = append(bi, w...)
			fs = append(fs, feature{fnv64(kindWordBi, bi...), weightWord})
		} else {
			fs = append(fs, feature{fnv64(kindWordBi, append([]rune{boundaryStart, ' '}, w...)...), weightWord})
		}
		prevWord, prevWordOK = w, true
	}
	if prevWordOK {
		fs = append(fs, feature{fnv64(kindWordBi, append(append([]rune{}, prevWord...), ' ', boundaryEnd)...), weightWord})
	}
	return normalise(fs)
}

// normalise merges duplicate features (keeping the larger weight: features
// are presence, not counts) and scales the vector to unit length, so long
// and short utterances score on the same scale.
func normalise(fs []feature) []feature {
	slices.SortFunc(fs, func(a, b feature) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	out := fs[:0]
	for _, f := range fs {
		if n := len(out); n > 0 && out[n-1].hash == f.hash {
			out[n-1].weight = max(out[n-1].weight, f.weight)
			continue
		}
		out = append(out, f)
	}
	var ss float64
	for _, f := range out {
		ss += f.weight * f.weight
	}
	if ss > 0 {
		inv := 1 / math.Sqrt(ss)
		for i := range out {
			out[i].weight *= inv
		}
	}
	return out
}
