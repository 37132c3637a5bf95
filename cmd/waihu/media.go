package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/webrtc"
)

// frameLeg is what playing and recording need of a media leg; rtp.Leg and
// webrtc.Leg both satisfy it.
type frameLeg interface {
	ReadFrame(ctx context.Context, dst []int16) error
	WriteFrame(ctx context.Context, src []int16) error
}

// playRecord is what waihu does with an RTP call when no script runs it: play a
// prompt, record what the other side says, report DTMF. It returns when ctx ends
// (the call hung up, or the process is stopping).
// onPromptDone, if set, runs once the prompt has been queued in full and played.
func playRecord(ctx context.Context, log *slog.Logger, leg *rtp.Leg, prompt []int16, rec *audiofile.Recorder, onPromptDone func()) {
	var wg sync.WaitGroup
	wg.Go(func() { // DTMF
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
	})
	playAndRecord(ctx, log, leg, prompt, rec, onPromptDone)
	wg.Wait()
}

// playAndRecord plays prompt to leg and records what comes back until ctx ends.
func playAndRecord(ctx context.Context, log *slog.Logger, leg frameLeg, prompt []int16, rec *audiofile.Recorder, onPromptDone func()) {
	var wg sync.WaitGroup
	wg.Go(func() { // sender
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
	})
	wg.Go(func() { // receiver
		frame := make([]int16, rtp.FrameSamples)
		for {
			if err := leg.ReadFrame(ctx, frame); err != nil {
				if ctx.Err() == nil && !errors.Is(err, rtp.ErrClosed) && !errors.Is(err, webrtc.ErrClosed) {
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
	})
	wg.Wait()
}

// openRecording starts the recording of call id, or returns nil when recording
// is off or the file cannot be made (the call goes on without it).
func (s *server) openRecording(id string, log *slog.Logger) *audiofile.Recorder {
	return openRecording(s.recDir, id, log)
}

// openRecording starts dir/CALL-ID.wav; nil when dir is "" (recording off)
// or the file cannot be made.
func openRecording(dir, id string, log *slog.Logger) *audiofile.Recorder {
	if dir == "" {
		return nil
	}
	rec, err := audiofile.Create(filepath.Join(dir, safeFileName(id)+".wav"))
	if err != nil {
		log.Error("recording disabled for this call", "err", err)
		return nil
	}
	return rec
}

// closeRecording flushes a recording; nil is fine.
func closeRecording(rec *audiofile.Recorder, log *slog.Logger) {
	if rec == nil {
		return
	}
	if err := rec.Close(); err != nil {
		log.Error("recording", "err", err)
	}
}

// finishRecording flushes call id's recording in dir and, when recording
// keys are configured, encrypts it at rest (the plain file is removed once
// the sealed one is on disk). nil rec and nil rv are fine.
func finishRecording(rec *audiofile.Recorder, dir, id string, rv *recordingVault, log *slog.Logger) {
	if rec == nil {
		return
	}
	closeRecording(rec, log)
	rv.seal(filepath.Join(dir, safeFileName(id)+".wav"), log)
}

// closeRecording finishes call id's recording: flushed, then sealed.
func (s *server) closeRecording(rec *audiofile.Recorder, id string, log *slog.Logger) {
	finishRecording(rec, s.recDir, id, s.vault, log)
}
