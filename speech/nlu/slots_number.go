package nlu

import (
	"strconv"
	"strings"
)

// zhDigits maps Chinese digit characters to their values; 幺 is how "1" is
// read out in phone numbers, 两 how "2" is said before a unit.
var zhDigits = map[rune]int{
	'零': 0, '〇': 0, '一': 1, '幺': 1, '二': 2, '两': 2, '三': 3, '四': 4,
	'五': 5, '六': 6, '七': 7, '八': 8, '九': 9,
}

// zhUnits maps Chinese number units to their values.
var zhUnits = map[rune]float64{'十': 10, '百': 100, '千': 1000, '万': 1e4, '亿': 1e8}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

// number is a parsed numeral: its value, or, for a plain string of digits
// ("一三八…", "138"), also the digits themselves so a phone number keeps its
// leading zeros.
type number struct {
	value      float64
	digits     string // set when the numeral is a plain digit string
	start, end int    // rune offsets, end exclusive
}

// scanArabic reads digits with optional thousands commas and a decimal point
// at rs[i:]: "1,250.50", "3500", "1.5".
func scanArabic(rs []rune, i int) (number, bool) {
	if i >= len(rs) || !isASCIIDigit(rs[i]) {
		return number{}, false
	}
	j := i
	var b strings.Builder
	for j < len(rs) {
		switch {
		case isASCIIDigit(rs[j]):
			b.WriteRune(rs[j])
			j++
		case rs[j] == ',' && allASCIIDigits(rs, j+1, 3) && (j+4 >= len(rs) || !isASCIIDigit(rs[j+4])):
			j++ // thousands separator
		default:
			goto decimal
		}
	}
decimal:
	digits := b.String()
	if j+1 < len(rs) && rs[j] == '.' && isASCIIDigit(rs[j+1]) {
		b.WriteRune('.')
		j++
		for j < len(rs) && isASCIIDigit(rs[j]) {
			b.WriteRune(rs[j])
			j++
		}
		digits = ""
	}
	v, err := strconv.ParseFloat(b.String(), 64)
	if err != nil {
		return number{}, false
	}
	return number{value: v, digits: digits, start: i, end: j}, true
}

func allASCIIDigits(rs []rune, i, n int) bool {
	if i+n > len(rs) {
		return false
	}
	for _, r := range rs[i : i+n] {
		if !isASCIIDigit(r) {
			return false
		}
	}
	return true
}

// scanZh reads a Chinese numeral, possibly mixed with Arabic digits, at
// rs[i:]: "三千五百" (3500), "两万三" (23000: a digit right after a unit
// counts in the next lower unit), "1.5万" (15000), "一三八" (the digit
// string 138).
func scanZh(rs []rune, i int) (number, bool) {
	var yi, wan, section, num float64
	var digits strings.Builder
	hasUnit, plain := false, true
	lastUnit := 0.0
	digitsSinceUnit := 0
	abbrev := false // the pending digit came right after a unit
	j := i
loop:
	for j < len(rs) {
		r := rs[j]
		if d, ok := zhDigits[r]; ok {
			if hasUnit && digitsSinceUnit > 0 && !(rs[j-1] == '零' || rs[j-1] == '〇') {
				break // "三千五六": a range; stop rather than misread
			}
			if d == 0 && (r == '零' || r == '〇') && hasUnit {
				lastUnit = 0 // "一万零五": the 5 is units, not thousands
			} else if hasUnit {
				num = float64(d)
				abbrev = digitsSinceUnit == 0 && lastUnit > 0
			} else {
				num = num*10 + float64(d)
			}
			digits.WriteByte(byte('0' + d))
			digitsSinceUnit++
			j++
			continue
		}
		if isASCIIDigit(r) {
			if hasUnit && digitsSinceUnit > 0 {
				break
			}
			n, ok := scanArabic(rs, j)
			if !ok {
				break
			}
			if n.digits == "" {
				plain = false
			}
			abbrev = hasUnit && lastUnit > 0 && len(n.digits) == 1
			num = n.value
			digits.WriteString(n.digits)
			digitsSinceUnit++
			j = n.end
			continue
		}
		u, ok := zhUnits[r]
		if !ok {
			break
		}
		if j == i && u != 10 {
			break // a numeral does not start with 百, 千, 万
		}
		if u == 10 && digitsSinceUnit == 0 {
			num = 1 // "十五" is 15
		}
		switch u {
		case 1e8:
			yi = wan*1e4 + section + num
			wan, section = 0, 0
		case 1e4:
			wan = section + num
			section = 0
		default:
			if hasUnit && u >= lastUnit && lastUnit != 0 && lastUnit < 1e4 {
				break loop // "三百千" is not a numeral
			}
			section += num * u
		}
		num, hasUnit, plain, abbrev = 0, true, false, false
		lastUnit, digitsSinceUnit = u, 0
		j++
	}
	if j == i {
		return number{}, false
	}
	if plain {
		s := digits.String()
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return number{}, false
		}
		return number{value: v, digits: s, start: i, end: j}, true
	}
	if abbrev && lastUnit >= 100 {
		num *= lastUnit / 10
	}
	return number{value: yi*1e8 + wan*1e4 + section + num, start: i, end: j}, true
}

// enNumberWords are English number words with their values.
var enNumberWords = map[string]float64{
	"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
	"seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
	"thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
	"eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
	"fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}

var enScales = map[string]float64{"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "grand": 1e3}

// word is one English word of an utterance with its rune offsets.
type word struct {
	text       string
	start, end int
}

// words splits folded runes into letter/digit words (apostrophes kept inside
// words, hyphens split).
func words(rs []rune) []word {
	var out []word
	start := -1
	for i := 0; i <= len(rs); i++ {
		in := i < len(rs) && rs[i] < 0x3000 && (isWordRune(rs[i]) || (rs[i] == '\'' && start >= 0))
		if in && start < 0 {
			start = i
		}
		if !in && start >= 0 {
			out = append(out, word{text: string(rs[start:i]), start: start, end: i})
			start = -1
		}
	}
	return out
}

// scanEnWords reads spoken English numbers from ws[k:]: "one thousand two
// hundred fifty", "twenty-three", "a hundred". A run of single digits ("one
// three eight …") is returned as a digit string. It returns the number and
// how many words it used.
func scanEnWords(ws []word, k int) (number, int) {
	// Digit strings first: "five five five one two one two".
	n := 0
	var digits strings.Builder
	for k+n < len(ws) {
		v, ok := enNumberWords[ws[k+n].text]
		if !ok || v > 9 {
			break
		}
		digits.WriteByte(byte('0' + int(v)))
		n++
	}
	if n >= 3 {
		v, _ := strconv.ParseFloat(digits.String(), 64)
		return number{value: v, digits: digits.String(), start: ws[k].start, end: ws[k+n-1].end}, n
	}
	var total, current float64
	used, seen := 0, false
	prev := -1.0 // value of the previous number word, -1 after a scale word
	for i := k; i < len(ws); i++ {
		w := ws[i].text
		if v, ok := enNumberWords[w]; ok && w != "oh" {
			// "five six" and "twenty thirty" are lists or ranges, not sums.
			if prev >= 0 && (prev < 20 || v >= 10) {
				break
			}
			current += v
			seen = true
			prev = v
			used = i - k + 1
			continue
		}
		if s, ok := enScales[w]; ok && (seen || (i > k && ws[i-1].text == "a")) {
			if !seen {
				current = 1
			}
			prev = -1
			if s == 100 {
				current *= s
			} else {
				total += current * s
				current = 0
			}
			seen = true
			used = i - k + 1
			continue
		}
		if w == "a" && i+1 < len(ws) {
			if _, ok := enScales[ws[i+1].text]; ok && !seen {
				continue
			}
		}
		if w == "and" && seen && i+1 < len(ws) {
			if _, ok := enNumberWords[ws[i+1].text]; ok {
				continue
			}
		}
		break
	}
	if !seen {
		return number{}, 0
	}
	return number{value: total + current, start: ws[k].start, end: ws[k+used-1].end}, used
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
