package main

import (
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/rtp"
)

func feed(c *cues, pcm []int16) {
	frame := make([]int16, rtp.FrameSamples)
	for off := 0; off < len(pcm); off += rtp.FrameSamples {
		n := copy(frame, pcm[off:])
		clear(frame[n:])
		c.Write(frame)
	}
}

func TestCuesLabelEachUtteranceAndDetectAHuman(t *testing.T) {
	testpeer.Need(t, "espeak-ng")
	testpeer.Need(t, "sox")
	c, err := newCues(true)
	if err != nil {
		t.Fatal(err)
	}
	// A person answers with a short greeting and waits: AMD's "human".
	feed(c, testpeer.Silence(500*time.Millisecond))
	feed(c, testpeer.Speech(t, "en-us", "hello?"))
	feed(c, testpeer.Silence(2500*time.Millisecond))
	got := c.Utterance()
	if got.AMD != "human" {
		t.Errorf("AMD = %q, want human", got.AMD)
	}
	switch got.Emotion {
	case "calm", "neutral", "agitated":
	default:
		t.Errorf("emotion label %q", got.Emotion)
	}
	// Inbound calls run no AMD at all.
	in, err := newCues(false)
	if err != nil {
		t.Fatal(err)
	}
	feed(in, testpeer.Speech(t, "en-us", "I would like to pay my bill"))
	if got := in.Utterance(); got.AMD != "" || got.Emotion == "" {
		t.Errorf("inbound cues = %+v, want an emotion and no AMD", got)
	}
}
