package tts

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sayNumber lists the clips that speak n (0 ≤ n < 10¹²).
func sayNumber(n int64, lang string) []string {
	if lang == "zh" {
		return zhNumber(n)
	}
	return enNumber(n)
}

// zhNumber reads n the Chinese way: groups of four digits under 亿 and 万,
// 零 for skipped places, 十 rather than 一十 at the start, 两 before a unit.
func zhNumber(n int64) []string {
	if n == 0 {
		return []string{"zh/0"}
	}
	var out []string
	groups := []struct {
		v    int64
		unit string
	}{{n / 1e8, "zh/100000000"}, {n / 1e4 % 1e4, "zh/10000"}, {n % 1e4, ""}}
	gap := false
	for _, g := range groups {
		if g.v == 0 {
			gap = len(out) > 0
			continue
		}
		if len(out) > 0 && (gap || g.v < 1000) {
			out = append(out, "zh/0")
		}
		if g.v == 2 && g.unit != "" {
			out = append(out, "zh/liang") // 两万, 两亿
		} else {
			out = append(out, zhGroup(g.v, len(out) == 0)...)
		}
		if g.unit != "" {
			out = append(out, g.unit)
		}
		gap = false
	}
	return out
}

func zhGroup(v int64, leading bool) []string {
	var out []string
	zero := false
	for _, place := range []int64{1000, 100, 10, 1} {
		d := v / place % 10
		if d == 0 {
			zero = len(out) > 0
			continue
		}
		if zero {
			out = append(out, "zh/0")
			zero = false
		}
		switch {
		case place == 10 && d == 1 && leading && len(out) == 0:
			// 十五, not 一十五
		case d == 2 && place >= 100:
			out = append(out, "zh/liang")
		default:
			out = append(out, "zh/"+strconv.FormatInt(d, 10))
		}
		if place > 1 {
			out = append(out, "zh/"+strconv.FormatInt(place, 10))
		}
	}
	return out
}

// enNumber reads n in English: "three thousand five hundred twenty".
func enNumber(n int64) []string {
	if n == 0 {
		return []string{"en/0"}
	}
	var out []string
	for _, s := range []struct {
		v    int64
		name string
	}{{1e9, "en/billion"}, {1e6, "en/million"}, {1e3, "en/thousand"}} {
		if n >= s.v {
			out = append(out, enHundreds(n/s.v)...)
			out = append(out, s.name)
			n %= s.v
		}
	}
	if n > 0 {
		out = append(out, enHundreds(n)...)
	}
	return out
}

func enHundreds(n int64) []string {
	var out []string
	if n >= 100 {
		out = append(out, "en/"+strconv.FormatInt(n/100, 10), "en/hundred")
		n %= 100
	}
	switch {
	case n == 0:
	case n < 20:
		out = append(out, "en/"+strconv.FormatInt(n, 10))
	default:
		out = append(out, "en/"+strconv.FormatInt(n/10*10, 10))
		if n%10 > 0 {
			out = append(out, "en/"+strconv.FormatInt(n%10, 10))
		}
	}
	return out
}

// sayAmount reads a money amount: "3500" → 三千五百元, "12.50" → twelve
// dollars and fifty cents.
func sayAmount(value, lang string) ([]string, time.Duration, error) {
	whole, frac, _ := strings.Cut(value, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n < 0 || n >= 1e12 || len(frac) > 2 {
		return nil, 0, fmt.Errorf("%w: amount %q", ErrBadValue, value)
	}
	cents := 0
	if frac != "" {
		c, err := strconv.Atoi((frac + "0")[:2])
		if err != nil || c < 0 {
			return nil, 0, fmt.Errorf("%w: amount %q", ErrBadValue, value)
		}
		cents = c
	}
	if lang == "zh" {
		out := append(zhNumber(n), "zh/yuan")
		if cents/10 > 0 {
			out = append(out, "zh/"+strconv.Itoa(cents/10), "zh/jiao")
		}
		if cents%10 > 0 {
			out = append(out, "zh/"+strconv.Itoa(cents%10), "zh/fen")
		}
		return out, 0, nil
	}
	out := enNumber(n)
	if n == 1 {
		out = append(out, "en/dollar")
	} else {
		out = append(out, "en/dollars")
	}
	if cents > 0 {
		out = append(out, "en/and")
		out = append(out, enNumber(int64(cents))...)
		if cents == 1 {
			out = append(out, "en/cent")
		} else {
			out = append(out, "en/cents")
		}
	}
	return out, 0, nil
}

// sayDate reads a date without the year: 十一月二十六号, November 26th.
func sayDate(t time.Time, lang string) []string {
	if lang == "zh" {
		out := append(zhNumber(int64(t.Month())), "zh/month")
		return append(append(out, zhNumber(int64(t.Day()))...), "zh/day")
	}
	return []string{fmt.Sprintf("en/month-%d", int(t.Month())), fmt.Sprintf("en/ord-%d", t.Day())}
}

// sayTime reads a clock time: 十五点三十分 or 下午… is left to the
// script; English uses 12-hour time with am/pm.
func sayTime(h, m int, lang string) []string {
	if lang == "zh" {
		out := append(zhNumber(int64(h)), "zh/dian")
		switch {
		case m == 30:
			out = append(out, "zh/half")
		case m > 0:
			if m < 10 {
				out = append(out, "zh/0")
			}
			out = append(append(out, zhNumber(int64(m))...), "zh/minute")
		}
		return out
	}
	h12, ampm := h%12, "en/am"
	if h12 == 0 {
		h12 = 12
	}
	if h >= 12 {
		ampm = "en/pm"
	}
	out := enNumber(int64(h12))
	switch {
	case m == 0:
	case m < 10:
		out = append(append(out, "en/oh"), enNumber(int64(m))...)
	default:
		out = append(out, enNumber(int64(m))...)
	}
	return append(out, ampm)
}
