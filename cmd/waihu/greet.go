package main

import (
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/dialog"
)

// greetWatch passes a call's events on and keeps when the bot's first words
// reached the leg: the first bot_said, which the dialog engine emits as a
// prompt's first frame is written. The campaign's abandon cap measures the
// greeting from the answer (campaign.Result.GreetedAt).
type greetWatch struct {
	next dialog.EventSink
	at   atomic.Int64 // Unix ns of the first bot_said; 0 none yet
}

// Emit implements dialog.EventSink.
func (g *greetWatch) Emit(e dialog.Event) {
	if e.Kind == dialog.EventBotSaid && !e.Interrupted {
		t := e.At
		if t.IsZero() {
			t = time.Now()
		}
		g.at.CompareAndSwap(0, t.UnixNano())
	}
	if g.next != nil {
		g.next.Emit(e)
	}
}

// greetedAt is when the greeting started; zero when the bot never spoke.
func (g *greetWatch) greetedAt() time.Time {
	if ns := g.at.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}
