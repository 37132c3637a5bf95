package dialog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/waihu/waihu/speech"
)

// Briefing is what a warm transfer tells the agent before the caller is
// connected: who is calling, what they want, and their last words.
type Briefing struct {
	// Text is the summary in the script's language, for a SIP MESSAGE or a
	// screen.
	Text string
	// Audio is Text spoken by the script's synthesiser in its voice, 8 kHz
	// mono PCM, for the agent's ear before a bridge; nil when synthesis
	// failed (the transfer goes ahead without it).
	Audio []int16
}

// WarmTransferer is a Transferer that can brief the agent. When the call's
// Transferer implements it, transfer nodes with a summary (the default) call
// TransferWarm instead of Transfer: a bridge plays Audio to the agent before
// the caller is connected; a REFER sends Text to the agent by SIP MESSAGE,
// since the agent's call no longer passes through waihu.
type WarmTransferer interface {
	Transferer
	// TransferWarm is Transfer, briefing the agent with b first.
	TransferWarm(ctx context.Context, mode, uri string, b Briefing) error
}

// maxBriefing bounds the spoken summary: an agent waiting longer than this
// to meet the caller is kept from them.
const maxBriefing = 30 * speech.SampleRate

// Summary is the built-in warm-transfer summary of a call so far, in
// English or, for a script whose language is Chinese (zh…), in Chinese: who
// is calling (the name and phone variables), what they want (the last
// intent understood), the details given (slots, the latest value of each),
// the contact's tags, how they sound when it is not neutral, and their last
// words. r is the call's record so far, with its Variables.
func Summary(r Record, language string) string {
	zh := strings.HasPrefix(strings.ToLower(language), "zh")
	var intent, last, emotion string
	type slot struct{ name, value string }
	var slots []slot
	for _, e := range r.Transcript {
		if e.Side != SideCaller || e.Backchannel {
			continue
		}
		if e.Intent != "" {
			intent = e.Intent
		}
		if e.Text != "" {
			last, emotion = e.Text, e.Emotion
		}
		for _, s := range e.Slots {
			name := s.Name
			if name == "" {
				name = s.Type
			}
			if i := slices.IndexFunc(slots, func(x slot) bool { return x.name == name }); i >= 0 {
				slots[i].value = s.Value
			} else {
				slots = append(slots, slot{name, s.Value})
			}
		}
	}
	name := r.Variables["name"]
	phone := r.Variables["phone"]
	if phone == "" {
		phone = r.Variables["caller"]
	}
	words := func(id string) string { return strings.ReplaceAll(id, "_", " ") }

	var b strings.Builder
	if zh {
		b.WriteString("转接来电")
		switch {
		case name != "" && phone != "":
			fmt.Fprintf(&b, "：%s，电话%s。", name, phone)
		case name != "":
			fmt.Fprintf(&b, "：%s。", name)
		case phone != "":
			fmt.Fprintf(&b, "：电话%s。", phone)
		default:
			b.WriteString("。")
		}
		if intent != "" {
			fmt.Fprintf(&b, "意图：%s。", words(intent))
		}
		if len(slots) > 0 {
			b.WriteString("信息：")
			for i, s := range slots {
				if i > 0 {
					b.WriteString("，")
				}
				fmt.Fprintf(&b, "%s %s", words(s.name), s.value)
			}
			b.WriteString("。")
		}
		if len(r.Tags) > 0 {
			fmt.Fprintf(&b, "标签：%s。", strings.Join(r.Tags, "，"))
		}
		if l := zhEmotion(emotion); l != "" {
			fmt.Fprintf(&b, "客户情绪%s。", l)
		}
		if last != "" {
			fmt.Fprintf(&b, "客户最后说：“%s”。", last)
		}
		return b.String()
	}
	b.WriteString("Transferred call")
	switch {
	case name != "" && phone != "":
		fmt.Fprintf(&b, " from %s, %s.", name, phone)
	case name != "":
		fmt.Fprintf(&b, " from %s.", name)
	case phone != "":
		fmt.Fprintf(&b, " from %s.", phone)
	default:
		b.WriteString(".")
	}
	if intent != "" {
		fmt.Fprintf(&b, " Intent: %s.", words(intent))
	}
	if len(slots) > 0 {
		b.WriteString(" Details:")
		for i, s := range slots {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %s", words(s.name), s.value)
		}
		b.WriteString(".")
	}
	if len(r.Tags) > 0 {
		fmt.Fprintf(&b, " Tags: %s.", strings.Join(r.Tags, ", "))
	}
	if emotion != "" && emotion != "neutral" {
		fmt.Fprintf(&b, " The caller sounds %s.", emotion)
	}
	if last != "" {
		fmt.Fprintf(&b, " Last words: %q.", last)
	}
	return b.String()
}

// zhEmotion names dsp's emotion labels in Chinese; neutral (and unknown
// labels) are not worth the agent's time.
func zhEmotion(label string) string {
	switch label {
	case "calm":
		return "平静"
	case "agitated":
		return "激动"
	case "angry":
		return "生气"
	}
	return ""
}

// summaryText is node n's summary of the call so far: its own template,
// expanded, or Summary.
func (c *conv) summaryText(n *Node) string {
	if n.Summary != "" {
		return c.expand(n.Summary)
	}
	r := c.rec
	r.Variables = c.vars
	return Summary(r, c.s.Language)
}

// startBriefing speaks text for the agent while the caller hears the
// transfer node's prompt; the Briefing arrives on the channel. Synthesis
// failing costs the agent the audio, never the caller the transfer.
func (c *conv) startBriefing(ctx context.Context, node, text string) <-chan Briefing {
	out := make(chan Briefing, 1)
	go func() {
		b := Briefing{Text: text}
		audio, err := c.speakAll(ctx, text)
		if err != nil {
			c.log.Warn("warm transfer: the agent gets the summary as text only", "node", node, "err", err)
		}
		b.Audio = audio
		out <- b
	}()
	return out
}

// speakAll synthesises text whole, up to maxBriefing samples.
func (c *conv) speakAll(ctx context.Context, text string) ([]int16, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*c.cfg.SynthTimeout)
	defer cancel()
	opts := speech.SynthOptions{Voice: c.s.Voice, Language: c.s.Language, CallID: c.call.ID}
	st, err := c.cfg.Synthesizer.Synthesize(ctx, text, opts)
	if err != nil {
		return nil, fmt.Errorf("synthesise summary: %w", err)
	}
	defer st.Close()
	var out []int16
	frame := make([]int16, speech.FrameSamples)
	for len(out) < maxBriefing {
		err := st.Read(frame)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("synthesise summary: %w", err)
		}
		out = append(out, frame...)
	}
	if len(out) == 0 {
		return nil, errors.New("synthesise summary: no audio")
	}
	return out, nil
}
