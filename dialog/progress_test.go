package dialog

import (
	"context"
	"strings"
	"testing"

	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/tts"
)

func TestAnnouncementProgressReadsCarrierAnnouncements(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"您拨打的号码是空号，请查证后再拨。", ProgressVacant},
		{"您拨打的电话已关机。", ProgressSwitchedOff},
		{"您拨打的电话已停机。", ProgressOutOfService},
		{"您拨打的电话暂时无法接通，请稍后再拨。", ProgressUnreachable},
		{"您拨打的用户不在服务区", ProgressUnreachable},
		{"您拨打的电话正在通话中，请稍后再拨。", ProgressBusy},
		{"您拨打的号码已设置呼入限制", ProgressBarred},
		{"您 拨打 的 电话 已 关机", ProgressSwitchedOff}, // a recogniser's spaced words
		{"The number you have dialed is not in service. Please check the number and try again.", ProgressOutOfService},
		{"We're sorry, the number you have reached is no longer in service.", ProgressOutOfService},
		{"THE NUMBER YOU DIALED DOES NOT EXIST", ProgressVacant},
		{"The mobile phone you dialled is switched off.", ProgressSwitchedOff},
		{"The subscriber you have dialled cannot be reached at the moment.", ProgressUnreachable},
		{"the subscriber is busy", ProgressBusy},
		{"您拨打的用户忙，请稍后再拨", ProgressBusy},
		{"有什么可以帮忙的吗", ""}, // 忙 alone is not busy
		{"Hello, who is this?", ""},
		{"my business is mine", ""}, // "busy" only as a word
		{"", ""},
	} {
		if got := AnnouncementProgress(tc.text); got != tc.want {
			t.Errorf("AnnouncementProgress(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	for _, p := range AnnouncementPhrases() {
		if AnnouncementProgress(p) == "" {
			t.Errorf("grammar phrase %q maps to no result", p)
		}
	}
}

// TestEarlyMediaAnnouncementToCallProgress runs the chain the dialler is to
// run on early media: dsp classifies flite's announcement as one, sphinx
// recognises it against AnnouncementPhrases, and the words give the result.
func TestEarlyMediaAnnouncementToCallProgress(t *testing.T) {
	t.Parallel()
	asr := need(t, sphinxRecognizer)
	flite := need(t, func() (*tts.Flite, error) { return tts.NewFlite(tts.FliteConfig{}) })
	for _, tc := range []struct{ said, want string }{
		{"The number you have dialed is not in service.", ProgressOutOfService},
		{"The mobile phone you have dialed is switched off.", ProgressSwitchedOff},
		{"The subscriber you have dialed cannot be reached.", ProgressUnreachable},
	} {
		t.Run(tc.want, func(t *testing.T) {
			audio := clip(t, flite, "en-US", tc.said)
			c, err := dsp.NewEarlyMediaClassifier(dsp.EarlyMediaConfig{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := asr.NewStream(context.Background(), speech.StreamOptions{Phrases: AnnouncementPhrases(), Language: "en-US"})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			announced := false
			for off := 0; off+speech.FrameSamples <= len(audio); off += speech.FrameSamples {
				f := audio[off : off+speech.FrameSamples]
				if r, ok := c.Process(f); ok && r.Kind == dsp.EarlyMediaAnnouncement {
					announced = true
				}
				if err := st.Write(f); err != nil {
					t.Fatal(err)
				}
			}
			if !announced {
				t.Fatalf("early media classed %v, want announcement", c.Result().Kind)
			}
			if err := st.EndUtterance(); err != nil {
				t.Fatal(err)
			}
			var heard []string
			for res := range st.Results() {
				if res.Final {
					heard = append(heard, res.Text)
					break
				}
			}
			text := strings.Join(heard, " ")
			if got := AnnouncementProgress(text); got != tc.want {
				t.Errorf("sphinx heard %q, which gives %q, want %q", text, got, tc.want)
			}
		})
	}
}
