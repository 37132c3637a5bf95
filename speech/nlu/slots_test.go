package nlu

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/speech"
)

// ref is Wednesday 25 November 2026, 10:00 in Shanghai.
var ref = time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func slotString(s speech.Slot) string { return fmt.Sprintf("%s=%s[%s]", s.Name, s.Value, s.Text) }

func TestExtractSlotsNormalisesValuesInBothLanguages(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // name=value[text], in order
	}{
		{"zh money with 块 and units", "三千五百块", []string{"amount=3500[三千五百块]", "currency=CNY[三千五百块]"}},
		{"zh abbreviated ten-thousands", "我还了两万三", []string{"number=23000[两万三]"}},
		{"zh abbreviated thousands with 元", "三千五元", []string{"amount=3500[三千五元]", "currency=CNY[三千五元]"}},
		{"zh mixed arabic and units", "已经还了1.5万元了", []string{"amount=15000[1.5万元]", "currency=CNY[1.5万元]"}},
		{"zh 块 with tenths", "三块五", []string{"amount=3.5[三块五]", "currency=CNY[三块五]"}},
		{"zh 一万零五", "一万零五块", []string{"amount=10005[一万零五块]", "currency=CNY[一万零五块]"}},
		{"zh tomorrow afternoon three", "明天下午三点", []string{"datetime=2026-11-26T15:00[明天下午三点]"}},
		{"zh next friday morning half past ten", "下周五上午十点半给我打", []string{"datetime=2026-12-04T10:30[下周五上午十点半]"}},
		{"zh plain weekday is the coming one", "周五吧", []string{"datetime=2026-11-27[周五]"}},
		{"zh month and day", "11月30号还", []string{"datetime=2026-11-30[11月30号]"}},
		{"zh day after tomorrow evening eight", "后天晚上八点", []string{"datetime=2026-11-27T20:00[后天晚上八点]"}},
		{"zh relative hours", "两个小时以后再打", []string{"datetime=2026-11-25T12:00[两个小时以后]"}},
		{"zh relative days", "过两天再说吧", []string{"datetime=2026-11-27[过两天]"}},
		{"zh bare hour in business time", "三点以后", []string{"datetime=2026-11-25T15:00[三点]"}},
		{"zh phone with spaces", "我的号码是138 1234 5678", []string{"phone=+8613812345678[138 1234 5678]"}},
		{"zh phone in Chinese digits", "一三八一二三四五六七八", []string{"phone=+8613812345678[一三八一二三四五六七八]"}},
		{"zh phone with 幺", "幺三九幺二三四五六七八", []string{"phone=+8613912345678[幺三九幺二三四五六七八]"}},
		{"zh yes after filler", "嗯对", []string{"answer=yes[对]"}},
		{"zh no", "不用了谢谢", []string{"answer=no[不用]"}},
		{"zh 没问题 is yes", "没问题", []string{"answer=yes[没问题]"}},
		{"zh 不是 is no", "不是我", []string{"answer=no[不是]"}},
		{"zh word with 一 is no number", "等一下", nil},
		{"en dollars with cents", "I can pay $1,250.50 today", []string{"amount=1250.5[$1,250.50]", "currency=USD[$1,250.50]", "datetime=2026-11-25[today]"}},
		{"en spoken dollars", "five hundred dollars", []string{"amount=500[five hundred dollars]", "currency=USD[five hundred dollars]"}},
		{"en digits and dollars", "i sent 300 dollars", []string{"amount=300[300 dollars]", "currency=USD[300 dollars]"}},
		{"en next friday at 3 pm", "call me next Friday at 3 pm", []string{"datetime=2026-12-04T15:00[next Friday at 3 pm]"}},
		{"en tomorrow morning", "tomorrow at 9:30 in the morning", []string{"datetime=2026-11-26T09:30[tomorrow at 9:30 in the morning]"}},
		{"en bare weekday", "how about friday", []string{"datetime=2026-11-27[friday]"}},
		{"en month day ordinal", "on November 30th", []string{"datetime=2026-11-30[November 30th]"}},
		{"en relative", "try again in two hours", []string{"datetime=2026-11-25T12:00[in two hours]"}},
		{"en half past", "half past four tomorrow", []string{"datetime=2026-11-26T16:30[half past four tomorrow]"}},
		{"en us phone", "my number is (415) 555-1234", []string{"phone=+14155551234[(415) 555-1234]"}},
		{"en phone digits", "it's 415-555-1234", []string{"phone=+14155551234[415-555-1234]"}},
		{"en spoken 11 digits starting 1 read as NANP", "one three eight one two three four five six seven eight", []string{"phone=+13812345678[one three eight one two three four five six seven eight]"}},
		{"en yes", "yeah that's me", []string{"answer=yes[yeah]"}},
		{"en no after filler", "uh no", []string{"answer=no[no]"}},
		{"en spoken number", "about twenty three thousand", []string{"number=23000[twenty three thousand]"}},
		{"zh end of month", "我月底还", []string{"datetime=2026-11-30[月底]"}},
		{"zh full date with year read digit by digit", "二零二七年一月五号", []string{"datetime=2027-01-05[二零二七年一月五号]"}},
		{"zh excuse me is no answer", "不好意思你说什么", nil},
		{"zh hedge before no", "好像不是", []string{"answer=no[不是]"}},
		{"zh question is no answer", "是不是要还钱", nil},
		{"en end of the month", "by the end of the month", []string{"datetime=2026-11-30[end of the month]"}},
		{"en no problem is yes", "no problem", []string{"answer=yes[no problem]"}},
		{"en not really is no", "not really", []string{"answer=no[not]"}},
		{"nothing to find", "who is this", nil},
		{"empty text", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range ExtractSlots(tc.text, ref) {
				got = append(got, slotString(s))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("ExtractSlots(%q)\n got %v\nwant %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestExtractSlotsOffsetsAreRunes(t *testing.T) {
	text := "好的，明天下午三点"
	for _, s := range ExtractSlots(text, ref) {
		if got := string([]rune(text)[s.Start:s.End]); got != s.Text {
			t.Errorf("slot %s: runes [%d,%d) are %q, Text is %q", s.Name, s.Start, s.End, got, s.Text)
		}
	}
}

func FuzzExtractSlots(f *testing.F) {
	for _, s := range []string{"三千五百块", "明天下午三点", "$1,250.50", "138 1234 5678", "next friday at 3 pm", "一万零五", "十", "1,2,3", "$", "点点点"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range ExtractSlots(text, ref) {
			if s.Start < 0 || s.End > len([]rune(text)) || s.Start > s.End {
				t.Fatalf("slot %+v out of range for %q", s, text)
			}
		}
	})
}
