package dialog

import (
	"context"
	"time"

	"github.com/waihu/waihu/speech"
)

// voicemail runs a voicemail node: wait for the answering machine's beep,
// then leave the message, all of it, and hang up. A beep heard before the
// node (while the script listened to the greeting that told it a machine
// answered) counts if the machine has not spoken since, since the recording
// has then begun already. Without a beep by BeepTimeout, the node goes to
// OnNoBeep or, by default, leaves the message anyway.
func (c *conv) voicemail(ctx context.Context, n *Node) (next string, done bool, err error) {
	timeout := n.BeepTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	beep := c.r.beepAt.Load()
	if beep == 0 || c.r.speechAt.Load() > beep {
		from := max(c.r.frameCount.Load(), c.playEnd)
		if beep, err = c.awaitBeep(ctx, n, from+frames(timeout)); err != nil {
			return "", false, err
		}
	}
	if beep == 0 {
		c.log.Info("no beep from the answering machine", "node", n.ID, "waited", timeout)
		if n.OnNoBeep != "" {
			return n.OnNoBeep, false, nil
		}
	} else {
		c.rec.BeepAt = time.Duration(beep) * speech.FrameDuration
		c.log.Info("answering machine beeped; leaving the message", "node", n.ID, "beep_at", c.rec.BeepAt)
	}
	text, prompt, _ := c.words(n)
	// A recorder's own noises must not cut the message short.
	if _, err := c.play(ctx, n.ID, c.expand(text), prompt, false); err != nil {
		return "", false, err
	}
	if err := c.drain(ctx); err != nil {
		return "", false, err
	}
	c.rec.Outcome = c.expand(n.Outcome)
	if c.rec.Outcome == "" {
		c.rec.Outcome = "voicemail"
	}
	return "", true, nil
}

// awaitBeep waits for a beep until the reader's clock reaches frame until,
// noting what the machine says meanwhile; it returns the beep's frame, or
// 0 if none came.
func (c *conv) awaitBeep(ctx context.Context, n *Node, until int64) (int64, error) {
	seq := c.r.setHardDeadline(until)
	defer c.r.clearDeadline()
	for {
		select {
		case ev := <-c.r.events:
			switch ev.kind {
			case evBeep:
				// A beep the machine talked over was not its last.
				if ev.frame > c.r.speechAt.Load() {
					return ev.frame, nil
				}
			case evTimeout:
				if ev.seq == seq {
					return 0, nil
				}
			case evUtterance:
				c.callerEntry(n.ID, ev.utt, "")
			case evError:
				return 0, ev.err
			}
		case d := <-c.call.DTMF:
			c.emitDigit(n.ID, d)
		case <-ctx.Done():
			return 0, errHungUp
		}
	}
}
