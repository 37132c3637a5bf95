package nlu

import (
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/waihu/waihu/speech"
)

// Slot names and types produced by ExtractSlots.
const (
	SlotPhone    = "phone"    // Type "phone", Value E.164 when the country is clear: "+8613812345678"
	SlotAmount   = "amount"   // Type "money", Value the number: "3500"
	SlotCurrency = "currency" // Type "currency", Value ISO 4217: "CNY", "USD"; same span as its amount
	SlotDateTime = "datetime" // Type "datetime" ("2026-11-26T15:00") or "date" ("2026-11-26")
	SlotAnswer   = "answer"   // Type "yesno", Value "yes" or "no"
	SlotNumber   = "number"   // Type "number", Value the number: "23000", "3.5"
)

// extraction holds the folded runes of an utterance and which of them a slot
// already took, so that "138 1234 5678" is a phone and not three numbers.
type extraction struct {
	rs    []rune
	taken []bool
	zh    bool
	ws    []word
	slots []speech.Slot
	// origRunes is the utterance as said, for slot surface text.
	origRunes []rune
}

func (e *extraction) free(start, end int) bool {
	for i := start; i < end; i++ {
		if e.taken[i] {
			return false
		}
	}
	return true
}

func (e *extraction) add(s speech.Slot) {
	for i := s.Start; i < s.End; i++ {
		e.taken[i] = true
	}
	s.Text = string(e.origRunes[s.Start:s.End])
	e.slots = append(e.slots, s)
}

// ExtractSlots finds phone numbers, money amounts, dates and times, yes/no
// answers and other numbers in text, Chinese or English. Relative dates
// ("明天下午三点", "next Friday at 3 pm") are resolved against ref, in ref's
// location. Slots are ordered by position; offsets count runes.
func ExtractSlots(text string, ref time.Time) []speech.Slot {
	orig := []rune(text)
	e := &extraction{rs: make([]rune, len(orig)), taken: make([]bool, len(orig)), origRunes: orig}
	for i, r := range orig {
		e.rs[i] = foldRune(r)
		if isHan(r) {
			e.zh = true
		}
	}
	e.ws = words(e.rs)
	e.phones()
	e.money()
	e.datetimes(ref)
	e.answer()
	e.numbers()
	slices.SortStableFunc(e.slots, func(a, b speech.Slot) int { return a.Start - b.Start })
	return e.slots
}

// phones finds runs of at least 7 digits, said as Arabic digits with
// spaces or dashes between groups, as Chinese digits, or as English digit
// words.
func (e *extraction) phones() {
	rs := e.rs
	for i := 0; i < len(rs); i++ {
		if !e.free(i, i+1) {
			continue
		}
		start := i
		if (rs[i] == '+' || rs[i] == '(') && i+1 < len(rs) && isASCIIDigit(rs[i+1]) {
			i++
		}
		var digits strings.Builder
		end := i
		switch {
		case isASCIIDigit(rs[i]):
			j := i
			for j < len(rs) {
				if isASCIIDigit(rs[j]) {
					digits.WriteRune(rs[j])
					j++
					end = j
					continue
				}
				// Group separators: "138 1234 5678", "(415) 555-1234".
				seps := 0
				for j+seps < len(rs) && strings.ContainsRune(" -.()", rs[j+seps]) {
					seps++
				}
				if seps > 0 && seps <= 2 && j+seps < len(rs) && isASCIIDigit(rs[j+seps]) && !(rs[j] == '.' && digits.Len() < 3) {
					j += seps
					continue
				}
				break
			}
		case isZhPhoneDigit(rs[i]):
			j := i
			for j < len(rs) && (isZhPhoneDigit(rs[j]) || (rs[j] == ' ' && j+1 < len(rs) && isZhPhoneDigit(rs[j+1]))) {
				if d, ok := zhDigits[rs[j]]; ok {
					digits.WriteByte(byte('0' + d))
				}
				j++
				end = j
			}
		default:
			continue
		}
		if d := digits.String(); len(d) >= 7 && e.free(start, end) {
			e.add(speech.Slot{Name: SlotPhone, Type: "phone", Value: e164(d, rs[start] == '+', e.zh), Start: start, End: end})
			i = end - 1
		}
	}
	// English digit words: "one three eight one two three four …".
	for k := 0; k < len(e.ws); k++ {
		n, used := scanEnWords(e.ws, k)
		if used > 0 && len(n.digits) >= 7 && e.free(n.start, n.end) {
			e.add(speech.Slot{Name: SlotPhone, Type: "phone", Value: e164(n.digits, false, e.zh), Start: n.start, End: n.end})
			k += used - 1
		}
	}
}

// isZhPhoneDigit excludes 两, which is never read in a digit string.
func isZhPhoneDigit(r rune) bool {
	_, ok := zhDigits[r]
	return ok && r != '两'
}

// e164 adds the country code when the number's shape makes the country
// clear: 11 digits starting 1[3-9] in a Chinese utterance is a mainland
// mobile, 10 digits (or 11 starting 1) in an English one a NANP number.
func e164(d string, plus, zh bool) string {
	switch {
	case plus:
		return "+" + d
	case zh && len(d) == 11 && d[0] == '1' && d[1] >= '3':
		return "+86" + d
	case zh && len(d) == 13 && strings.HasPrefix(d, "86"):
		return "+" + d
	case !zh && len(d) == 10 && d[0] >= '2':
		return "+1" + d
	case !zh && len(d) == 11 && d[0] == '1' && d[1] >= '2':
		return "+" + d
	}
	return d
}

var zhCurrencies = []struct {
	word, code string
}{
	{"块钱", "CNY"}, {"元钱", "CNY"}, {"人民币", "CNY"}, {"块", "CNY"}, {"元", "CNY"}, {"圆", "CNY"},
	{"美元", "USD"}, {"美金", "USD"}, {"刀", "USD"},
}

var enCurrencies = map[string]string{
	"dollars": "USD", "dollar": "USD", "bucks": "USD", "usd": "USD",
	"yuan": "CNY", "rmb": "CNY", "kuai": "CNY", "renminbi": "CNY",
	"euros": "EUR", "euro": "EUR",
}

func (e *extraction) addMoney(n number, start, end int, code string) {
	e.add(speech.Slot{Name: SlotAmount, Type: "money", Value: formatNumber(n.value), Start: start, End: end})
	e.slots = append(e.slots, speech.Slot{Name: SlotCurrency, Type: "currency", Value: code, Text: string(e.origRunes[start:end]), Start: start, End: end})
}

// money finds "三千五百块", "¥3500", "2万元", "$1,250.50", "1250 dollars",
// "five hundred dollars".
func (e *extraction) money() {
	rs := e.rs
	for i := 0; i < len(rs); i++ {
		if !e.free(i, i+1) {
			continue
		}
		if rs[i] == '$' || rs[i] == '¥' || rs[i] == '￥' {
			code := "USD"
			if rs[i] != '$' {
				code = "CNY"
			}
			j := i + 1
			for j < len(rs) && rs[j] == ' ' {
				j++
			}
			var n number
			var ok bool
			if e.zh {
				n, ok = scanZh(rs, j)
			} else {
				n, ok = scanArabic(rs, j)
			}
			if ok && e.free(i, n.end) {
				end := n.end
				if code == "USD" {
					end, n.value = enScaleSuffix(rs, end, n.value)
				}
				e.addMoney(n, i, end, code)
				i = end - 1
			}
			continue
		}
		n, ok := scanZh(rs, i)
		if !ok || !e.free(i, n.end) {
			continue
		}
		j := n.end
		for j < len(rs) && rs[j] == ' ' {
			j++
		}
		for _, c := range zhCurrencies {
			if hasPrefixRunes(rs[j:], c.word) {
				end := j + len([]rune(c.word))
				// "三块五": the digit after 块 is tenths (毛).
				if c.word == "块" && end < len(rs) {
					if d, ok := zhDigits[rs[end]]; ok && (end+1 == len(rs) || !isZhNumeral(rs[end+1])) {
						n.value += float64(d) / 10
						end++
					}
				}
				e.addMoney(n, i, end, c.code)
				i = end - 1
				break
			}
		}
	}
	for k := 0; k < len(e.ws); k++ {
		w := e.ws[k]
		var n number
		used := 0
		if r := e.rs[w.start]; isASCIIDigit(r) {
			if a, ok := scanArabic(e.rs, w.start); ok {
				n = a
				for used = 1; k+used < len(e.ws) && e.ws[k+used].start < a.end; used++ {
				}
			}
		} else {
			n, used = scanEnWords(e.ws, k)
		}
		if used == 0 || k+used >= len(e.ws) || !e.free(n.start, n.end) {
			continue
		}
		next := k + used
		if s, ok := enScales[e.ws[next].text]; ok && isASCIIDigit(e.rs[n.start]) {
			n.value *= s
			next++
		}
		if next < len(e.ws) {
			if code, ok := enCurrencies[e.ws[next].text]; ok && e.free(n.start, e.ws[next].end) {
				e.addMoney(n, n.start, e.ws[next].end, code)
				k = next
			}
		}
	}
}

// enScaleSuffix applies "$5 million" or "$3k" after a dollar amount.
func enScaleSuffix(rs []rune, end int, v float64) (int, float64) {
	if end < len(rs) && (rs[end] == 'k') && (end+1 == len(rs) || !unicode.IsLetter(rs[end+1])) {
		return end + 1, v * 1000
	}
	j := end
	for j < len(rs) && rs[j] == ' ' {
		j++
	}
	for w, s := range enScales {
		if s >= 1e3 && hasPrefixRunes(rs[j:], w) && (j+len(w) == len(rs) || !unicode.IsLetter(rs[j+len(w)])) {
			return j + len(w), v * s
		}
	}
	return end, v
}

func isZhNumeral(r rune) bool {
	_, d := zhDigits[r]
	_, u := zhUnits[r]
	return d || u || isASCIIDigit(r)
}

func hasPrefixRunes(rs []rune, p string) bool {
	i := 0
	for _, r := range p {
		if i >= len(rs) || rs[i] != r {
			return false
		}
		i++
	}
	return true
}

// Yes/no markers. Multi-character markers come first so "没问题" is yes and
// "不是" is matched before "是".
var (
	zhYes     = []string{"没问题", "没错", "当然", "可以", "好的", "好啊", "是的", "对的", "行", "对", "是", "好", "嗯", "恩", "ok"}
	zhNo      = []string{"不是", "不对", "不行", "不要", "不用", "不需要", "没有", "没", "不", "别", "算了"}
	zhFillers = []string{"嗯嗯", "嗯", "恩", "啊", "哦", "呃", "额", "那个", "喂", "哎", "唉", "好像", "应该", "可能", "大概"}
	// zhNotAnswers start utterances that begin like an answer but are not
	// one: "不好意思" (excuse me), "是不是" (a question), "对了" (by the way).
	zhNotAnswers = []string{"不好意思", "不知道", "不过", "不客气", "好久", "是不是", "对不对", "对不起", "对了", "好不好", "行不行", "可以吗", "没事吧"}
	// enYesPhrases start with a "no" word but mean yes.
	enYesPhrases = [][2]string{{"no", "problem"}, {"no", "worries"}, {"not", "a problem"}, {"why", "not"}}
	enYesWords   = map[string]bool{"yes": true, "yeah": true, "yep": true, "yup": true, "sure": true, "ok": true, "okay": true, "correct": true, "right": true, "absolutely": true, "certainly": true, "definitely": true, "affirmative": true, "ya": true}
	enNoWords    = map[string]bool{"no": true, "nope": true, "nah": true, "not": true, "never": true, "dont": true, "don't": true, "negative": true}
	enFillers    = map[string]bool{"uh": true, "um": true, "well": true, "oh": true, "hmm": true, "er": true, "so": true, "hey": true, "hi": true, "hello": true}
)

// answer finds a yes or no at the start of the utterance, the only place a
// reply to a yes/no question reliably carries it.
func (e *extraction) answer() {
	if e.zh {
		i := 0
		for i < len(e.rs) && (e.rs[i] == ' ' || unicode.IsPunct(e.rs[i])) {
			i++
		}
	fillers:
		for _, f := range zhFillers {
			if hasPrefixRunes(e.rs[i:], f) {
				i += len([]rune(f))
				for i < len(e.rs) && (e.rs[i] == ' ' || unicode.IsPunct(e.rs[i])) {
					i++
				}
				goto fillers
			}
		}
		for _, w := range zhNotAnswers {
			if hasPrefixRunes(e.rs[i:], w) {
				return
			}
		}
		for _, set := range []struct {
			words []string
			value string
		}{{zhYes[:2], "yes"}, {zhNo, "no"}, {zhYes, "yes"}} {
			for _, w := range set.words {
				end := i + len([]rune(w))
				if hasPrefixRunes(e.rs[i:], w) && e.free(i, end) {
					e.add(speech.Slot{Name: SlotAnswer, Type: "yesno", Value: set.value, Start: i, End: end})
					return
				}
			}
		}
		// "嗯嗯" alone was eaten as a filler but is a yes.
		if i == len(e.rs) && i > 0 && (e.rs[0] == '嗯' || e.rs[0] == '恩') {
			e.add(speech.Slot{Name: SlotAnswer, Type: "yesno", Value: "yes", Start: 0, End: i})
		}
		return
	}
	for k, w := range e.ws {
		for _, p := range enYesPhrases {
			if w.text == p[0] && k+1 < len(e.ws) && strings.HasPrefix(e.ws[k+1].text, strings.Fields(p[1])[0]) {
				e.add(speech.Slot{Name: SlotAnswer, Type: "yesno", Value: "yes", Start: w.start, End: e.ws[k+1].end})
				return
			}
		}
		switch {
		case enFillers[w.text]:
			continue
		case enYesWords[w.text]:
			e.add(speech.Slot{Name: SlotAnswer, Type: "yesno", Value: "yes", Start: w.start, End: w.end})
		case enNoWords[w.text]:
			e.add(speech.Slot{Name: SlotAnswer, Type: "yesno", Value: "no", Start: w.start, End: w.end})
		}
		return
	}
}

// zhMeasure are characters after which a lone Chinese digit is a count
// ("一个", "三天") rather than part of a word ("一下", "一直").
const zhMeasure = "个块元天号月日点年岁分次期万千百十笔张位周"

// numbers reports the numerals no other slot took.
func (e *extraction) numbers() {
	rs := e.rs
	for i := 0; i < len(rs); i++ {
		if !e.free(i, i+1) || !isZhNumeral(rs[i]) {
			continue
		}
		if i > 0 && (isASCIIDigit(rs[i-1]) || unicode.IsLetter(rs[i-1]) && rs[i-1] < 0x3000) {
			continue
		}
		n, ok := scanZh(rs, i)
		if !ok || !e.free(i, n.end) {
			continue
		}
		if n.end-n.start == 1 && !isASCIIDigit(rs[i]) {
			if n.end < len(rs) && isHan(rs[n.end]) && !strings.ContainsRune(zhMeasure, rs[n.end]) {
				continue
			}
			if i > 0 && isHan(rs[i-1]) && strings.ContainsRune("统万唯之第星期周礼拜", rs[i-1]) {
				continue
			}
		}
		value := formatNumber(n.value)
		if n.digits != "" && strings.HasPrefix(n.digits, "0") {
			value = n.digits
		}
		e.add(speech.Slot{Name: SlotNumber, Type: "number", Value: value, Start: n.start, End: n.end})
		i = n.end - 1
	}
	for k := 0; k < len(e.ws); k++ {
		w := e.ws[k]
		if isASCIIDigit(e.rs[w.start]) {
			continue // Arabic digits were handled above
		}
		n, used := scanEnWords(e.ws, k)
		if used == 0 || !e.free(n.start, n.end) {
			continue
		}
		if used == 1 && (w.text == "one" || w.text == "oh") {
			continue // "the one I paid", "oh" are not numbers
		}
		e.add(speech.Slot{Name: SlotNumber, Type: "number", Value: formatNumber(n.value), Start: n.start, End: n.end})
		k += used - 1
	}
}
