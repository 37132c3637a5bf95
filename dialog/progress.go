package dialog

import (
	"strings"
	"unicode"
)

// Call-progress results a carrier announcement on early media gives, for
// the dialler to record before (instead of) an answer.
const (
	// ProgressVacant: the number does not exist (空号).
	ProgressVacant = "vacant"
	// ProgressSwitchedOff: the handset is off (关机).
	ProgressSwitchedOff = "switched_off"
	// ProgressOutOfService: the line is suspended or disconnected (停机,
	// "no longer in service").
	ProgressOutOfService = "out_of_service"
	// ProgressUnreachable: the handset cannot be reached now (无法接通,
	// 不在服务区).
	ProgressUnreachable = "unreachable"
	// ProgressBusy: the called person is on another call (正在通话中).
	ProgressBusy = "busy"
	// ProgressBarred: calls to the number are restricted (呼入限制).
	ProgressBarred = "barred"
)

// progressCues are the words of common Chinese and English carrier
// announcements, the more specific first: "is not in service" and "停机"
// before the general "cannot be connected".
func progressCues() []struct{ result, cue string } {
	return []struct{ result, cue string }{
		{ProgressVacant, "空号"},
		{ProgressVacant, "不存在"},
		{ProgressVacant, "does not exist"},
		{ProgressVacant, "not a working number"},
		{ProgressVacant, "not a valid number"},
		{ProgressVacant, "has not been assigned"},
		{ProgressVacant, "is not assigned"},
		{ProgressSwitchedOff, "关机"},
		{ProgressSwitchedOff, "switched off"},
		{ProgressSwitchedOff, "turned off"},
		{ProgressSwitchedOff, "powered off"},
		{ProgressOutOfService, "停机"},
		{ProgressOutOfService, "not in service"},
		{ProgressOutOfService, "no longer in service"},
		{ProgressOutOfService, "out of service"},
		{ProgressOutOfService, "disconnected"},
		{ProgressOutOfService, "suspended"},
		{ProgressBarred, "呼入限制"},
		{ProgressBarred, "限制呼入"},
		{ProgressBarred, "restricted"},
		{ProgressBarred, "barred"},
		{ProgressBusy, "正在通话"},
		{ProgressBusy, "用户忙"},
		{ProgressBusy, "线路忙"},
		{ProgressBusy, "busy"},
		{ProgressBusy, "another call"},
		{ProgressUnreachable, "无法接通"},
		{ProgressUnreachable, "不在服务区"},
		{ProgressUnreachable, "暂时无法"},
		{ProgressUnreachable, "cannot be reached"},
		{ProgressUnreachable, "can not be reached"},
		{ProgressUnreachable, "not reachable"},
		{ProgressUnreachable, "unreachable"},
		{ProgressUnreachable, "unavailable"},
		{ProgressUnreachable, "cannot be connected"},
		{ProgressUnreachable, "out of coverage"},
	}
}

// AnnouncementProgress maps what a recogniser heard in a carrier
// announcement (dsp's EarlyMediaClassifier says when early media is one) to
// a call-progress result, one of the Progress constants, or "" when the
// words match none. Case, punctuation and spacing do not matter, so a
// recogniser's "The number you dialed is not in service" and "您拨打的电话
// 已关机" both match.
func AnnouncementProgress(text string) string {
	norm := func(s string) string {
		var b strings.Builder
		space := false
		for _, r := range strings.ToLower(s) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				space = false
				b.WriteRune(r)
			default:
				space = true
			}
		}
		return b.String()
	}
	t := " " + norm(text) + " "
	for _, c := range progressCues() {
		cue := norm(c.cue)
		if unicode.Is(unicode.Han, []rune(cue)[0]) {
			if strings.Contains(strings.ReplaceAll(t, " ", ""), cue) {
				return c.result
			}
			continue
		}
		if strings.Contains(t, " "+cue+" ") {
			return c.result
		}
	}
	return ""
}

// AnnouncementPhrases are the English announcement sentences, in words a
// recogniser's dictionary holds, for a grammar-constrained recogniser
// (speech.StreamOptions.Phrases) listening to early media: each maps to a
// result through AnnouncementProgress.
func AnnouncementPhrases() []string {
	return []string{
		"the number you have dialed is not in service",
		"the number you have dialed does not exist",
		"the number you have dialed is not a working number",
		"the mobile phone you have dialed is switched off",
		"the subscriber you have dialed cannot be reached",
		"the subscriber you have dialed is busy",
		"the number you have dialed has been disconnected",
	}
}
