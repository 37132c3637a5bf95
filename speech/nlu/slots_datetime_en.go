package nlu

import (
	"strings"
	"time"
)

var enWeekdays = map[string]int{
	"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6, "sunday": 7,
	"mon": 1, "tue": 2, "tues": 2, "wed": 3, "thu": 4, "thur": 4, "thurs": 4, "fri": 5, "sat": 6, "sun": 7,
}

var enMonths = map[string]int{
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
	"august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
	"oct": 10, "nov": 11, "dec": 12,
}

var enOrdinals = map[string]int{
	"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
	"eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
	"fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
	"nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}

var enConnectors = map[string]bool{"at": true, "on": true, "around": true, "about": true, "the": true, "by": true, "of": true}

// enDayNumber reads a day of month: "26", "26th", "twenty sixth", "third".
func enDayNumber(ws []word, k int) (int, int) {
	if k >= len(ws) {
		return 0, 0
	}
	t := ws[k].text
	t2 := trimOrdinal(t)
	if t2 != t || allASCIIDigitsStr(t) {
		if allASCIIDigitsStr(t2) && len(t2) <= 2 && t2 != "" {
			d := 0
			for _, r := range t2 {
				d = d*10 + int(r-'0')
			}
			return d, 1
		}
	}
	if v, ok := enOrdinals[t]; ok {
		return v, 1
	}
	if (t == "twenty" || t == "thirty") && k+1 < len(ws) {
		if v, ok := enOrdinals[ws[k+1].text]; ok && v < 10 {
			return enNumberWordsInt(t) + v, 2
		}
	}
	return 0, 0
}

func enNumberWordsInt(w string) int { return int(enNumberWords[w]) }

func allASCIIDigitsStr(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// enDay parses a day at word k: "today", "tomorrow", "the day after
// tomorrow", "next friday", "this friday", "friday", "november 26th", "the
// 26th of november". "next Friday" is Friday of next week (Monday-based),
// like "下周五"; a bare or "this" weekday is the next one from today on.
func enDay(ws []word, k int, ref time.Time) (time.Time, string, int, bool) {
	today := midnight(ref)
	t := ws[k].text
	switch t {
	case "today":
		return today, "", 1, true
	case "tonight":
		return today, "night", 1, true
	case "tomorrow", "tmr", "tmrw":
		return today.AddDate(0, 0, 1), "", 1, true
	case "yesterday":
		return today.AddDate(0, 0, -1), "", 1, true
	}
	// "end of the month", "end of month": when promises fall due.
	if t == "end" && k+2 < len(ws) && ws[k+1].text == "of" {
		j := k + 2
		if ws[j].text == "the" || ws[j].text == "this" {
			j++
		}
		if j < len(ws) && ws[j].text == "month" {
			return endOfMonth(ref, 0), "", j + 1 - k, true
		}
	}
	if t == "the" && k+4 < len(ws) && ws[k+1].text == "end" && ws[k+2].text == "of" {
		if d, p, n, ok := enDay(ws, k+1, ref); ok {
			return d, p, n + 1, true
		}
	}
	if t == "the" && k+3 < len(ws) && ws[k+1].text == "day" && ws[k+2].text == "after" && ws[k+3].text == "tomorrow" {
		return today.AddDate(0, 0, 2), "", 4, true
	}
	if t == "day" && k+2 < len(ws) && ws[k+1].text == "after" && ws[k+2].text == "tomorrow" {
		return today.AddDate(0, 0, 2), "", 3, true
	}
	week, used := -1, 0
	switch t {
	case "next":
		week, used = 1, 1
	case "this", "coming":
		week, used = -1, 1
	}
	if k+used < len(ws) {
		if wd, ok := enWeekdays[ws[k+used].text]; ok {
			return weekdayDate(ref, wd, week), "", used + 1, true
		}
		if used == 1 && ws[k+used].text == "week" && week == 1 {
			return weekdayDate(ref, 1, 1), "", 2, true
		}
	}
	if m, ok := enMonths[t]; ok && t != "may" || ok && k+1 < len(ws) && allASCIIDigitsStr(trimOrdinal(ws[k+1].text)) {
		if d, n := enDayNumber(ws, k+1); n > 0 {
			if day, ok := monthDay(ref, m, d); ok {
				return day, "", 1 + n, true
			}
		}
	}
	j := k
	if t == "the" {
		j++
	}
	if d, n := enDayNumber(ws, j); n > 0 && (j > k || strings.TrimRight(ws[j].text, "0123456789") != "") {
		j += n
		if j+1 < len(ws) && ws[j].text == "of" {
			if m, ok := enMonths[ws[j+1].text]; ok {
				if day, ok := monthDay(ref, m, d); ok {
					return day, "", j + 2 - k, true
				}
			}
		}
		if day, ok := monthDay(ref, 0, d); ok && j > k+1 || ok && ws[k].text != "the" {
			return day, "", j - k, true
		}
	}
	return time.Time{}, "", 0, false
}

// enClock parses a time at word k: "3", "3 pm", "3:30", "three thirty pm",
// "3 o'clock", "noon", "half past three", "quarter to four".
func enClock(e *extraction, k int) (hour, minute int, period string, used int, ok bool) {
	ws := e.ws
	t := ws[k].text
	switch t {
	case "noon", "midday":
		return 12, 0, "noon", 1, true
	case "midnight":
		return 0, 0, "am", 1, true
	case "half", "quarter":
		if k+2 < len(ws) && (ws[k+1].text == "past" || ws[k+1].text == "to") {
			if h, n := enHourWord(ws[k+2].text); n {
				m := 30
				if t == "quarter" {
					m = 15
				}
				if ws[k+1].text == "to" {
					h, m = h-1, 60-m
				}
				return h, m, "", 3, true
			}
		}
		return 0, 0, "", 0, false
	}
	if h, m, end, ok := colonClock(e.rs, ws[k].start); ok {
		used = 1
		for used < len(ws)-k && ws[k+used].start < end {
			used++
		}
		hour, minute = h, m
	} else if h, isHour := enHourWord(t); isHour {
		hour, used = h, 1
		// "three thirty", "four fifteen"
		if k+1 < len(ws) {
			if n, u := scanEnWords(ws, k+1); u > 0 && n.value < 60 && n.value >= 10 && n.digits == "" {
				minute, used = int(n.value), 1+u
			}
		}
	} else {
		return 0, 0, "", 0, false
	}
	if k+used < len(ws) {
		switch ws[k+used].text {
		case "am", "a":
			if ws[k+used].text == "am" || k+used+1 < len(ws) && ws[k+used+1].text == "m" {
				period = "am"
			}
		case "pm", "p":
			if ws[k+used].text == "pm" || k+used+1 < len(ws) && ws[k+used+1].text == "m" {
				period = "pm"
			}
		case "o'clock", "oclock":
			used++
			return hour, minute, "", used, true
		}
		if period != "" {
			used++
			if ws[k+used-1].text != "am" && ws[k+used-1].text != "pm" {
				used++
			}
		}
	}
	return hour, minute, period, used, true
}

// enHourWord reads an hour 1..12 (or 0..23 in digits).
func enHourWord(t string) (int, bool) {
	if v, ok := enNumberWords[t]; ok && v >= 1 && v <= 12 {
		return int(v), true
	}
	if allASCIIDigitsStr(t) && len(t) <= 2 {
		h := 0
		for _, r := range t {
			h = h*10 + int(r-'0')
		}
		return h, h <= 23
	}
	return 0, false
}

// enPeriod parses "in the morning", "this afternoon", "evening", "tonight".
func enPeriod(ws []word, k int) (string, int) {
	j := k
	if j < len(ws) && (ws[j].text == "in" || ws[j].text == "this") {
		j++
	}
	if j < len(ws) && ws[j].text == "the" {
		j++
	}
	if j >= len(ws) {
		return "", 0
	}
	switch ws[j].text {
	case "morning":
		return "am", j + 1 - k
	case "afternoon":
		return "pm", j + 1 - k
	case "evening", "night":
		return "night", j + 1 - k
	case "tonight":
		return "night", j + 1 - k
	}
	return "", 0
}

// enRelative parses "in two hours", "in an hour", "in half an hour", "in 30
// minutes", "in 3 days".
func enRelative(ws []word, k int) (time.Duration, int, bool) {
	if ws[k].text != "in" || k+2 >= len(ws) {
		return 0, 0, false
	}
	j := k + 1
	amount := 0.0
	switch {
	case ws[j].text == "half" && j+2 < len(ws) && ws[j+1].text == "an":
		amount, j = 0.5, j+2
	case ws[j].text == "an" || ws[j].text == "a":
		amount, j = 1, j+1
	default:
		if n, used := scanEnWords(ws, j); used > 0 {
			amount, j = n.value, j+used
		} else if allASCIIDigitsStr(ws[j].text) {
			n, _ := scanArabic([]rune(ws[j].text), 0)
			amount, j = n.value, j+1
		} else {
			return 0, 0, false
		}
	}
	if j >= len(ws) {
		return 0, 0, false
	}
	unit := map[string]time.Duration{
		"minute": time.Minute, "minutes": time.Minute, "min": time.Minute, "mins": time.Minute,
		"hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}[ws[j].text]
	if unit == 0 {
		return 0, 0, false
	}
	return time.Duration(amount * float64(unit)), j + 1 - k, true
}

// enDatetimes finds "tomorrow at 3 pm", "next Friday at 3", "3:30 this
// afternoon", "November 26th", "in two hours".
func (e *extraction) enDatetimes(ref time.Time) {
	ws := e.ws
	for k := 0; k < len(ws); k++ {
		if !e.free(ws[k].start, ws[k].end) {
			continue
		}
		if rel, used, ok := enRelative(ws, k); ok {
			w := when{hour: -1, start: ws[k].start, end: ws[k+used-1].end}
			if rel >= 24*time.Hour && rel%(24*time.Hour) == 0 {
				w.hasDay, w.day = true, midnight(ref).Add(rel)
			} else {
				w.isRelative, w.relative = true, rel
			}
			e.addWhen(&w, ref)
			k += used - 1
			continue
		}
		w := when{hour: -1, start: -1}
		j := k
		parts := 0
		clockAllowed := false // a bare number is a time only after a day or "at"
		for j < len(ws) && parts < 4 {
			if enConnectors[ws[j].text] && j+1 < len(ws) {
				if ws[j].text == "at" || ws[j].text == "around" || ws[j].text == "about" || ws[j].text == "by" {
					clockAllowed = true
				}
				if w.start < 0 && ws[j].text != "at" {
					j++
					continue
				}
				j++
				continue
			}
			if !w.hasDay {
				if d, period, used, ok := enDay(ws, j, ref); ok {
					w.hasDay, w.day = true, d
					if period != "" {
						w.period = period
					}
					if w.start < 0 {
						w.start = ws[j].start
					}
					j += used
					w.end = ws[j-1].end
					parts++
					clockAllowed = true
					continue
				}
			}
			if p, used := enPeriod(ws, j); used > 0 && (w.hasDay || w.hour >= 0) {
				w.period = p
				j += used
				w.end = ws[j-1].end
				parts++
				continue
			}
			if w.hour < 0 {
				h, m, period, used, ok := enClock(e, j)
				if ok && (clockAllowed || period != "" || used > 1 || strings.ContainsRune(ws[j].text, ':') || ws[j].text == "noon" || ws[j].text == "midnight") {
					w.hour, w.min = h, m
					if period != "" {
						w.period = period
					}
					if w.start < 0 {
						w.start = ws[j].start
					}
					j += used
					w.end = ws[j-1].end
					parts++
					continue
				}
			}
			break
		}
		if parts == 0 || w.start < 0 {
			continue
		}
		// The colon clock may end mid-word range; keep the span on runes.
		e.addWhen(&w, ref)
		for k+1 < len(ws) && ws[k+1].start < w.end {
			k++
		}
	}
}

// trimOrdinal drops an English ordinal suffix: "21st" → "21", "3rd" → "3".
func trimOrdinal(s string) string {
	for _, suf := range []string{"st", "nd", "rd", "th"} {
		if t, ok := strings.CutSuffix(s, suf); ok {
			return t
		}
	}
	return s
}
