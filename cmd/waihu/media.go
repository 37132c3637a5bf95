package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/rtp"
)

// playRecord is what waihu does with a call until a dialog script runs it: play a
// prompt, record what the other side says, report DTMF. It returns when ctx ends
// (the call hung up, or the process is stopping) and the recording is flushed.
// onPromptDone, if set, runs once the prompt has been queued in full and played.
func playRecord(ctx context.Context, log *slog.Logger, leg *rtp.Leg, prompt []int16, rec *audiofile.Recorder, onPromptDone func()) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // sender
		defer wg.Done()
		frame := make([]int16, rtp.FrameSamples)
		for off := 0; off < len(prompt); off += rtp.FrameSamples {
			n := copy(frame, prompt[off:])
			clear(frame[n:])
			if err := leg.WriteFrame(ctx, frame); err != nil {
				return
			}
		}
		// WriteFrame queues; wait for the queue to drain so "done" means heard.
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
		log.Info("prompt played", "samples", len(prompt))
		if onPromptDone != nil {
			onPromptDone()
		}
	}()
	go func() { // receiver
		defer wg.Done()
		frame := make([]int16, rtp.FrameSamples)
		for {
			if err := leg.ReadFrame(ctx, frame); err != nil {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, rtp.ErrClosed) {
					log.Warn("media read stopped", "err", err)
				}
				return
			}
			if rec != nil {
				if err := rec.Write(frame); err != nil {
					log.Error("recording stopped", "err", err)
					rec = nil
				}
			}
		}
	}()
	go func() { // DTMF
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-leg.DTMF():
				if !ok {
					return
				}
				log.Info("dtmf", "digit", string(ev.Digit), "duration_ms", ev.Duration.Milliseconds())
			}
		}
	}()
	wg.Wait()
}
