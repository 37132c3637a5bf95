package dialog

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/waihu/waihu/speech"
)

// maxDetours bounds knowledge-base answers within one listen node, so a
// caller asking the same question forever still reaches a no-match.
const maxDetours = 3

// listen runs a listen node: ask, wait for an answer, branch; reprompt on
// silence and on answers no branch takes; answer knowledge questions and
// ask again.
func (c *conv) listen(ctx context.Context, n *Node) (next string, done bool, err error) {
	ls := n.Listen
	retries := ls.Retries
	if retries < 0 {
		retries = 2
	}
	timeout := ls.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	phrases := ls.Grammar
	c.r.phrases.Store(&phrases)
	text, prompt, _ := c.words(n)
	question := c.expand(text)
	say, sayPrompt := question, prompt
	noInput, noMatch, detours := 0, 0, 0
	for {
		in := c.takePending()
		if in == nil && (say != "" || sayPrompt != "") {
			res, err := c.play(ctx, n.ID, say, sayPrompt, n.Interruptible)
			if err != nil {
				return "", false, err
			}
			// Keys pressed during an uninterruptible question answer it.
			if in = res.input; in == nil {
				in = c.takePending()
			}
		}
		if in == nil {
			if in, err = c.wait(ctx, timeout); err != nil {
				return "", false, err
			}
		}
		if in == nil {
			noInput++
			c.log.Info("no input", "node", n.ID, "count", noInput)
			if noInput > retries {
				if ls.OnNoInput != "" {
					return ls.OnNoInput, false, nil
				}
				c.rec.Outcome = "no_input"
				return "", true, nil
			}
			say, sayPrompt = reprompt(ls.NoInput, noInput, question, prompt, c.expand)
			continue
		}
		var und *speech.Understanding
		var cues Cues
		digit := ""
		if in.digit != nil {
			digit = string(in.digit.Digit)
			c.rec.Transcript = append(c.rec.Transcript, Entry{Side: SideCaller, Node: n.ID, At: c.r.now(), DTMF: digit})
		} else {
			cues = in.utt.cues
			if in.utt.text != "" {
				u, err := c.understand(ctx, in.utt.text)
				if err != nil {
					return "", false, err
				}
				und = &u
				c.last = und
				c.emit(Event{Kind: EventIntent, Node: n.ID, Intent: u.Intent, Confidence: u.Confidence})
				c.rec.Turns = append(c.rec.Turns, Turn{Node: n.ID, VADEnd: in.utt.vadEnd, Final: in.utt.final, Understood: c.cfg.Now()})
				c.turn = len(c.rec.Turns) - 1
			}
			c.callerEntry(n.ID, in.utt, "", und)
		}
		for _, b := range ls.Branches {
			if matches(b, digit, und, cues) {
				c.log.Info("branch", "node", n.ID, "goto", b.Goto, "line", b.Line)
				return b.Goto, false, nil
			}
		}
		if c.s.OnMachine != "" && cues.AMD == "machine" {
			c.log.Info("answering machine: script's on_machine", "node", n.ID, "goto", c.s.OnMachine)
			return c.s.OnMachine, false, nil
		}
		if und != nil {
			if ans, ok := c.s.Knowledge[und.Intent]; ok && detours < maxDetours {
				detours++
				c.log.Info("knowledge answer", "node", n.ID, "intent", und.Intent)
				res, err := c.play(ctx, n.ID, c.expand(ans.Text), ans.Prompt, true)
				if err != nil {
					return "", false, err
				}
				if res.input != nil {
					c.carried = res.input
				}
				say, sayPrompt = question, prompt
				continue
			}
		}
		noMatch++
		c.log.Info("no match", "node", n.ID, "count", noMatch)
		if noMatch > retries {
			if ls.OnNoMatch != "" {
				return ls.OnNoMatch, false, nil
			}
			c.rec.Outcome = "no_match"
			return "", true, nil
		}
		say, sayPrompt = reprompt(ls.NoMatch, noMatch, question, prompt, c.expand)
	}
}

// reprompt picks the count-th reprompt (the last repeats), or the question.
func reprompt(list []string, count int, question, prompt string, expand func(string) string) (string, string) {
	if len(list) == 0 {
		return question, prompt
	}
	return expand(list[min(count, len(list))-1]), ""
}

// takePending returns input that arrived before this listen: an answer that
// cut the previous prompt, or keys pressed during an uninterruptible one.
func (c *conv) takePending() *input {
	if in := c.carried; in != nil {
		c.carried = nil
		return in
	}
	if len(c.digits) > 0 {
		d := c.digits[0]
		c.digits = c.digits[1:]
		return &input{digit: &d}
	}
	return nil
}

// wait waits for the caller's answer; nil means the caller stayed silent
// for timeout after the last prompt played out.
func (c *conv) wait(ctx context.Context, timeout time.Duration) (*input, error) {
	from := max(c.r.frameCount.Load(), c.playEnd)
	seq := c.r.setDeadline(from + frames(timeout))
	defer c.r.clearDeadline()
	for {
		select {
		case ev := <-c.r.events:
			switch ev.kind {
			case evUtterance:
				if ev.utt.overGuarded {
					c.callerEntry("", ev.utt, "")
					continue
				}
				return &input{utt: ev.utt}, nil
			case evTimeout:
				if ev.seq == seq {
					return nil, nil
				}
			case evError:
				return nil, ev.err
			}
		case d := <-c.call.DTMF:
			c.emitDigit("", d)
			return &input{digit: &d}, nil
		case <-ctx.Done():
			return nil, errHungUp
		}
	}
}

// drain waits until the last prompt has played out of the leg's queue, so
// a goodbye is heard before the call is hung up.
func (c *conv) drain(ctx context.Context) error {
	if c.r.frameCount.Load() >= c.playEnd {
		return nil
	}
	seq := c.r.setDeadline(c.playEnd)
	defer c.r.clearDeadline()
	for {
		select {
		case ev := <-c.r.events:
			switch ev.kind {
			case evTimeout:
				if ev.seq == seq {
					return nil
				}
			case evUtterance:
				c.callerEntry("", ev.utt, "")
			case evError:
				return ev.err
			}
		case <-ctx.Done():
			return errHungUp
		}
	}
}

func (c *conv) understand(ctx context.Context, text string) (speech.Understanding, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.UnderstandTimeout)
	defer cancel()
	u, err := c.cfg.Understander.Understand(ctx, text)
	if err != nil {
		return u, engineError{fmt.Errorf("understand %q: %w", text, err)}
	}
	return u, nil
}

// callerEntry adds an utterance to the transcript; why marks utterances
// that were not answers ("backchannel").
func (c *conv) callerEntry(node string, u *utterance, why string, und ...*speech.Understanding) {
	e := Entry{
		Side: SideCaller, Node: node, Text: u.text, ASRConfidence: u.confidence,
		At:          time.Duration(u.start) * speech.FrameDuration,
		End:         time.Duration(u.end) * speech.FrameDuration,
		Backchannel: why == "backchannel",
		Emotion:     u.cues.Emotion, Voiceprint: u.cues.Voiceprint, AMD: u.cues.AMD,
	}
	if len(und) > 0 && und[0] != nil {
		e.Intent, e.Confidence, e.Slots = und[0].Intent, und[0].Confidence, und[0].Slots
	}
	c.rec.Transcript = append(c.rec.Transcript, e)
}

// matches reports whether every condition b sets holds for the input.
func matches(b Branch, digit string, und *speech.Understanding, cues Cues) bool {
	if b.DTMF != "" && b.DTMF != digit {
		return false
	}
	if b.Intent != "" && (und == nil || und.Intent != b.Intent || und.Confidence < b.MinConfidence) {
		return false
	}
	if b.Slot != nil && (und == nil || !slotHolds(*b.Slot, und.Slots)) {
		return false
	}
	if b.Emotion != "" && b.Emotion != cues.Emotion {
		return false
	}
	if b.Voiceprint != "" && b.Voiceprint != cues.Voiceprint {
		return false
	}
	if b.AMD != "" && b.AMD != cues.AMD {
		return false
	}
	return true
}

// slotHolds tests a condition against slots found by name or type.
func slotHolds(cond SlotCond, slots []speech.Slot) bool {
	for _, s := range slots {
		if s.Name != cond.Name && s.Type != cond.Name {
			continue
		}
		switch cond.Op {
		case "", "exists":
			return true
		case "==":
			if s.Value == cond.Value {
				return true
			}
		case "!=":
			if s.Value != cond.Value {
				return true
			}
		default:
			v, err1 := strconv.ParseFloat(s.Value, 64)
			w, err2 := strconv.ParseFloat(cond.Value, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			if (cond.Op == "<" && v < w) || (cond.Op == "<=" && v <= w) ||
				(cond.Op == ">" && v > w) || (cond.Op == ">=" && v >= w) {
				return true
			}
		}
	}
	return false
}
