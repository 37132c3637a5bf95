package nlu

import (
	"fmt"
	"strings"
	"time"

	"github.com/waihu/waihu/speech"
)

// when is a date/time expression being assembled from its parts ("明天" +
// "下午" + "三点"); unset parts are negative or zero.
type when struct {
	hasDay     bool
	day        time.Time // midnight of the day
	period     string    // "am", "pm", "noon", "night"
	hour, min  int       // hour < 0 when no time was said
	relative   time.Duration
	isRelative bool
	start, end int // rune offsets
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// weekdayIndex maps Monday..Sunday to 1..7, the way both Chinese ("周一")
// and ISO count.
func weekdayIndex(t time.Time) int {
	if t.Weekday() == time.Sunday {
		return 7
	}
	return int(t.Weekday())
}

// weekdayDate resolves weekday wd (1..7): week 0 is this week (Monday to
// Sunday), week 1 the next; week -1 means the next such day from today on.
func weekdayDate(ref time.Time, wd, week int) time.Time {
	today := midnight(ref)
	cur := weekdayIndex(ref)
	if week < 0 {
		return today.AddDate(0, 0, (wd-cur+7)%7)
	}
	monday := today.AddDate(0, 0, 1-cur)
	return monday.AddDate(0, 0, 7*week+wd-1)
}

// monthDay resolves a day of month (and optionally a month) to the next
// date on or after ref's day.
func monthDay(ref time.Time, month, day int) (time.Time, bool) {
	today := midnight(ref)
	if day < 1 || day > 31 || month > 12 {
		return time.Time{}, false
	}
	if month <= 0 {
		t := time.Date(today.Year(), today.Month(), day, 0, 0, 0, 0, ref.Location())
		if t.Before(today) {
			t = time.Date(today.Year(), today.Month()+1, day, 0, 0, 0, 0, ref.Location())
		}
		return t, true
	}
	t := time.Date(today.Year(), time.Month(month), day, 0, 0, 0, 0, ref.Location())
	if t.Before(today) {
		t = t.AddDate(1, 0, 0)
	}
	return t, true
}

// slot turns the assembled parts into a datetime or date slot value. A
// bare hour from 1 to 6 with no am/pm is taken as afternoon: calls happen in
// business hours, and "三点" or "at 3" means 15:00 there.
func (w *when) slot(ref time.Time) (speech.Slot, bool) {
	if w.isRelative {
		t := ref.Add(w.relative)
		return speech.Slot{Name: SlotDateTime, Type: "datetime", Value: t.Format("2006-01-02T15:04"), Start: w.start, End: w.end}, true
	}
	if !w.hasDay && w.hour < 0 {
		return speech.Slot{}, false
	}
	day := w.day
	if !w.hasDay {
		day = midnight(ref)
	}
	if w.hour < 0 {
		return speech.Slot{Name: SlotDateTime, Type: "date", Value: day.Format("2006-01-02"), Start: w.start, End: w.end}, true
	}
	h := w.hour
	switch w.period {
	case "pm", "night":
		if h < 12 {
			h += 12
		}
	case "noon":
		if h < 6 {
			h += 12
		}
	case "am":
		if h == 12 {
			h = 0
		}
	case "":
		if h >= 1 && h <= 6 {
			h += 12
		}
	}
	if h > 23 || w.min > 59 {
		return speech.Slot{}, false
	}
	t := day.Add(time.Duration(h)*time.Hour + time.Duration(w.min)*time.Minute)
	return speech.Slot{Name: SlotDateTime, Type: "datetime", Value: t.Format("2006-01-02T15:04"), Start: w.start, End: w.end}, true
}

// datetimes finds dates and times in either language.
func (e *extraction) datetimes(ref time.Time) {
	if e.zh {
		e.zhDatetimes(ref)
	}
	e.enDatetimes(ref)
}

var zhDays = []struct {
	word   string
	offset int
	period string
}{
	{"大后天", 3, ""}, {"后天", 2, ""}, {"明天", 1, ""}, {"明日", 1, ""}, {"明儿", 1, ""},
	{"明早", 1, "am"}, {"明晚", 1, "night"}, {"今天", 0, ""}, {"今日", 0, ""}, {"今儿", 0, ""},
	{"今晚", 0, "night"}, {"今早", 0, "am"}, {"昨天", -1, ""},
}

var zhPeriods = []struct{ word, period string }{
	{"早上", "am"}, {"早晨", "am"}, {"上午", "am"}, {"凌晨", "am"}, {"中午", "noon"},
	{"下午", "pm"}, {"傍晚", "pm"}, {"晚上", "night"}, {"夜里", "night"}, {"晚", "night"},
}

// zhWeekday parses (下个|下|这个|这|本)?(周|星期|礼拜)X at rs[i:].
func zhWeekday(rs []rune, i int) (wd, week, end int, ok bool) {
	week = -1
	j := i
	for _, p := range []struct {
		w    string
		week int
	}{{"下个", 1}, {"下", 1}, {"这个", 0}, {"这", 0}, {"本", 0}} {
		if hasPrefixRunes(rs[j:], p.w) {
			j += len([]rune(p.w))
			week = p.week
			break
		}
	}
	matched := false
	for _, p := range []string{"星期", "礼拜", "周"} {
		if hasPrefixRunes(rs[j:], p) {
			j += len([]rune(p))
			matched = true
			break
		}
	}
	if !matched || j >= len(rs) {
		return 0, 0, 0, false
	}
	if d, ok := zhDigits[rs[j]]; ok && d >= 1 && d <= 7 && rs[j] != '两' && rs[j] != '幺' {
		return d, week, j + 1, true
	}
	if rs[j] == '日' || rs[j] == '天' {
		return 7, week, j + 1, true
	}
	if rs[j] >= '1' && rs[j] <= '7' {
		return int(rs[j] - '0'), week, j + 1, true
	}
	return 0, 0, 0, false
}

func skipZhConnectors(rs []rune, i int) int {
	for i < len(rs) && strings.ContainsRune(" 的在约大概左右,，", rs[i]) {
		i++
	}
	return i
}

// zhDatetimes finds "明天下午三点", "下周五上午十点半", "11月26号", "3点15分",
// "两个小时后", "过两天".
func (e *extraction) zhDatetimes(ref time.Time) {
	rs := e.rs
	for i := 0; i < len(rs); i++ {
		if !e.free(i, i+1) {
			continue
		}
		w := when{hour: -1, start: i, end: i}
		j := i
		// Relative: "两个小时后", "半小时以后", "十分钟后", "三天后", "过两天".
		if rel, end, ok := zhRelative(rs, j); ok {
			if rel%(24*time.Hour) == 0 && rel >= 24*time.Hour {
				w.hasDay, w.day = true, midnight(ref).Add(rel)
			} else {
				w.isRelative, w.relative = true, rel
			}
			w.end = end
			e.addWhen(&w, ref)
			i = end - 1
			continue
		}
		for _, d := range zhDays {
			if hasPrefixRunes(rs[j:], d.word) {
				w.hasDay, w.day, w.period = true, midnight(ref).AddDate(0, 0, d.offset), d.period
				j += len([]rune(d.word))
				break
			}
		}
		if !w.hasDay {
			if wd, week, end, ok := zhWeekday(rs, j); ok {
				w.hasDay, w.day = true, weekdayDate(ref, wd, week)
				j = end
			}
		}
		if !w.hasDay {
			// 月底: the last day of this month, when promises fall due.
			for _, p := range []struct {
				word   string
				months int
			}{{"下个月底", 1}, {"下月底", 1}, {"月底", 0}, {"月末", 0}} {
				if hasPrefixRunes(rs[j:], p.word) {
					w.hasDay, w.day = true, endOfMonth(ref, p.months)
					j += len([]rune(p.word))
					break
				}
			}
		}
		if !w.hasDay {
			if t, end, ok := zhMonthDay(rs, j, ref); ok {
				w.hasDay, w.day = true, t
				j = end
			}
		}
		if w.hasDay {
			w.end = j
			j = skipZhConnectors(rs, j)
		}
		for _, p := range zhPeriods {
			if hasPrefixRunes(rs[j:], p.word) {
				w.period = p.period
				j += len([]rune(p.word))
				w.end = j
				j = skipZhConnectors(rs, j)
				break
			}
		}
		if h, m, end, ok := zhClock(rs, j); ok {
			w.hour, w.min, w.end = h, m, end
		}
		if w.end > w.start {
			if !w.hasDay && w.hour < 0 {
				continue // "下午" alone says too little
			}
			e.addWhen(&w, ref)
			i = w.end - 1
		}
	}
}

func (e *extraction) addWhen(w *when, ref time.Time) {
	if !e.free(w.start, w.end) {
		return
	}
	if s, ok := w.slot(ref); ok {
		e.add(s)
	}
}

// endOfMonth is the last day of ref's month plus months.
func endOfMonth(ref time.Time, months int) time.Time {
	first := time.Date(ref.Year(), ref.Month()+time.Month(months)+1, 1, 0, 0, 0, 0, ref.Location())
	return first.AddDate(0, 0, -1)
}

// zhMonthDay parses (N年)?(N月)?N(号|日) at rs[i:]; the year may be read
// digit by digit ("二零二六年").
func zhMonthDay(rs []rune, i int, ref time.Time) (time.Time, int, bool) {
	n, ok := scanZh(rs, i)
	if !ok {
		return time.Time{}, 0, false
	}
	year := 0
	if n.end < len(rs) && rs[n.end] == '年' && n.value >= 1900 && n.value <= 2200 {
		year = int(n.value)
		if n, ok = scanZh(rs, n.end+1); !ok {
			return time.Time{}, 0, false
		}
	}
	month := 0
	j := n.end
	if j < len(rs) && rs[j] == '月' {
		month = int(n.value)
		j++
		if n, ok = scanZh(rs, j); !ok {
			return time.Time{}, 0, false
		}
		j = n.end
	}
	if j >= len(rs) || (rs[j] != '号' && rs[j] != '日') {
		return time.Time{}, 0, false
	}
	if n.value != float64(int(n.value)) {
		return time.Time{}, 0, false
	}
	if year > 0 && month > 0 {
		t := time.Date(year, time.Month(month), int(n.value), 0, 0, 0, 0, ref.Location())
		return t, j + 1, t.Day() == int(n.value)
	}
	t, ok := monthDay(ref, month, int(n.value))
	return t, j + 1, ok
}

// zhClock parses "三点", "三点半", "十点一刻", "3点15分", "15:30", "三点钟".
func zhClock(rs []rune, i int) (hour, minute, end int, ok bool) {
	if h, m, e, ok := colonClock(rs, i); ok {
		return h, m, e, true
	}
	n, ok := scanZh(rs, i)
	if !ok || n.end >= len(rs) || rs[n.end] != '点' || n.value != float64(int(n.value)) || n.value > 24 {
		return 0, 0, 0, false
	}
	hour, j := int(n.value), n.end+1
	if hasPrefixRunes(rs[j:], "钟") {
		return hour, 0, j + 1, true
	}
	switch {
	case hasPrefixRunes(rs[j:], "半"):
		return hour, 30, j + 1, true
	case hasPrefixRunes(rs[j:], "一刻"):
		return hour, 15, j + 2, true
	case hasPrefixRunes(rs[j:], "三刻"):
		return hour, 45, j + 2, true
	}
	if m, ok := scanZh(rs, j); ok && m.value < 60 && m.value == float64(int(m.value)) {
		end := m.end
		if end < len(rs) && rs[end] == '分' {
			end++
		}
		// "三点五十" is 3:50, but "三点五" alone is 3:05 only with 零; read it as :50 like people do.
		minute := int(m.value)
		if m.end-m.start == 1 && (end == m.end) && minute < 10 {
			minute *= 10
		}
		return hour, minute, end, true
	}
	return hour, 0, j, true
}

// colonClock parses "15:30" or "3:30".
func colonClock(rs []rune, i int) (hour, minute, end int, ok bool) {
	j := i
	for j < len(rs) && isASCIIDigit(rs[j]) && j-i < 2 {
		j++
	}
	if j == i || j+2 >= len(rs)+0 && j+2 > len(rs) || j >= len(rs) || rs[j] != ':' || !allASCIIDigits(rs, j+1, 2) {
		return 0, 0, 0, false
	}
	var h, m int
	fmt.Sscanf(string(rs[i:j]), "%d", &h)
	fmt.Sscanf(string(rs[j+1:j+3]), "%d", &m)
	if h > 23 || m > 59 {
		return 0, 0, 0, false
	}
	return h, m, j + 3, true
}

// zhRelative parses "两个小时后", "半小时以后", "十分钟之后", "三天后", "过两天".
func zhRelative(rs []rune, i int) (time.Duration, int, bool) {
	j := i
	prefixed := false
	if hasPrefixRunes(rs[j:], "过") {
		j++
		prefixed = true
	}
	var amount float64
	switch {
	case hasPrefixRunes(rs[j:], "半"):
		amount = 0.5
		j++
	default:
		n, ok := scanZh(rs, j)
		if !ok {
			return 0, 0, false
		}
		amount, j = n.value, n.end
	}
	if hasPrefixRunes(rs[j:], "个") {
		j++
	}
	var unit time.Duration
	for _, u := range []struct {
		w string
		d time.Duration
	}{{"小时", time.Hour}, {"钟头", time.Hour}, {"分钟", time.Minute}, {"天", 24 * time.Hour}} {
		if hasPrefixRunes(rs[j:], u.w) {
			unit = u.d
			j += len([]rune(u.w))
			break
		}
	}
	if unit == 0 {
		return 0, 0, false
	}
	matched := prefixed
	for _, s := range []string{"以后", "之后", "后"} {
		if hasPrefixRunes(rs[j:], s) {
			j += len([]rune(s))
			matched = true
			break
		}
	}
	if !matched {
		return 0, 0, false
	}
	return time.Duration(amount * float64(unit)), j, true
}
