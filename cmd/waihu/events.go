package main

import (
	"time"

	"github.com/waihu/waihu/dialog"
)

// callEvents is one call's view of the node's event sink: it stamps every
// event, the dialler's and the conversation engine's alike, with the call's
// id, campaign, contact and number, so that a subscriber filtering by
// campaign sees the bot's words too. A nil sink drops everything.
type callEvents struct {
	sink       dialog.EventSink
	callID     string
	campaignID int64
	contactID  int64
	phone      string
}

// Emit implements dialog.EventSink.
func (c callEvents) Emit(e dialog.Event) {
	if c.sink == nil {
		return
	}
	if e.CallID == "" {
		e.CallID = c.callID
	}
	if e.CampaignID == 0 {
		e.CampaignID = c.campaignID
	}
	if e.ContactID == 0 {
		e.ContactID = c.contactID
	}
	if e.Phone == "" {
		e.Phone = c.phone
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	c.sink.Emit(e)
}

// emit sends an event of kind, filled in by the call's own fields.
func (c callEvents) emit(kind dialog.EventKind, fill func(*dialog.Event)) {
	e := dialog.Event{Kind: kind}
	if fill != nil {
		fill(&e)
	}
	c.Emit(e)
}

// sinks fans one event out to several sinks (the live hub, the webhook
// dispatcher); nil entries are skipped.
type sinks []dialog.EventSink

// Emit implements dialog.EventSink.
func (s sinks) Emit(e dialog.Event) {
	for _, k := range s {
		if k != nil {
			k.Emit(e)
		}
	}
}
