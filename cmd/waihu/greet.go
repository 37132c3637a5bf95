package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/store"
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

// transferWatch is the call's dialog.Transferer: it passes each transfer to
// the call's transfer and keeps the last one's time, target, mode and result
// for the call record (store.CallRecord.Transfer…), which a script's outcome
// alone cannot tell: a failed transfer leaves whatever outcome on_fail
// reaches.
type transferWatch struct {
	*transfer

	mu     sync.Mutex
	at     time.Time
	target string
	mode   string
	result string
}

// Transfer implements dialog.Transferer.
func (w *transferWatch) Transfer(ctx context.Context, mode, uri string) error {
	w.begin(mode, uri)
	err := w.transfer.Transfer(ctx, mode, uri)
	w.end(err)
	return err
}

// TransferWarm implements dialog.WarmTransferer.
func (w *transferWatch) TransferWarm(ctx context.Context, mode, uri string, b dialog.Briefing) error {
	w.begin(mode, uri)
	err := w.transfer.TransferWarm(ctx, mode, uri, b)
	w.end(err)
	return err
}

func (w *transferWatch) begin(mode, uri string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at, w.target, w.result = time.Now(), uri, ""
	w.mode = store.TransferBridge
	if mode == "refer" {
		w.mode = store.TransferBlind
	}
}

func (w *transferWatch) end(err error) {
	w.transfer.mu.Lock()
	bridged := w.transfer.agent != nil
	w.transfer.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if bridged {
		// A REFER the customer's side refused falls back to a bridge.
		w.mode = store.TransferBridge
	}
	w.result = store.TransferSucceeded
	if err != nil {
		w.result = store.TransferFailed
	}
}

// fill copies the last transfer into res; nothing when none was tried.
func (w *transferWatch) fill(res *campaign.Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res.TransferredAt, res.TransferTarget, res.TransferMode, res.TransferResult = w.at, w.target, w.mode, w.result
}
