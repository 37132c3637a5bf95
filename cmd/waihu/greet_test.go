package main

import (
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
)

func TestGreetWatchKeepsTheFirstBotSpeechAndPassesEveryEventOn(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var passed []dialog.EventKind
	g := &greetWatch{next: dialog.EventFunc(func(e dialog.Event) { passed = append(passed, e.Kind) })}
	if !g.greetedAt().IsZero() {
		t.Fatal("greeted before any event")
	}
	for _, e := range []dialog.Event{
		{Kind: dialog.EventAnswered, At: t0},
		{Kind: dialog.EventCallerSaid, At: t0.Add(time.Second)},
		{Kind: dialog.EventBotSaid, At: t0.Add(1500 * time.Millisecond)},
		{Kind: dialog.EventBotSaid, At: t0.Add(1700 * time.Millisecond), Interrupted: true},
		{Kind: dialog.EventBotSaid, At: t0.Add(4 * time.Second)},
	} {
		g.Emit(e)
	}
	if got := g.greetedAt(); !got.Equal(t0.Add(1500 * time.Millisecond)) {
		t.Fatalf("greeted at %v, want the first bot_said at +1.5 s", got)
	}
	if len(passed) != 5 {
		t.Fatalf("passed on %d events, want 5", len(passed))
	}
}
