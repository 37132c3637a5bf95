package bench

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/waihu/waihu/rtp"
)

// TestProbeTimesTalkAndAnswer plays a scripted "bot" on an rtp.Leg against a
// Probe: the bot talks for 1.2 s, the probe waits for its silence, says
// something, and the bot answers 300 ms after hearing the end of it. The
// probe's answer time minus its end of speech must be about that.
func TestProbeTimesTalkAndAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	eng, err := rtp.NewEngine(rtp.Config{BindIP: lo, PortMin: 37000, PortMax: 37099, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	bot, err := eng.NewLeg("bot")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProbe(lo)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := bot.SetRemote(p.LocalAddr(), rtp.PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.SetRemote(bot.LocalAddr(), rtp.PayloadPCMU, 0); err != nil {
		t.Fatal(err)
	}
	tone := make([]int16, rtp.FrameSamples)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*300*float64(i)/rtp.SampleRate))
	}
	const answerAfter = 300 * time.Millisecond
	go func() {
		for range 60 { // 1.2 s of talk, then silence follows by itself
			if bot.WriteFrame(ctx, tone) != nil {
				return
			}
		}
		// Listen for the caller's words and their end.
		frame := make([]int16, rtp.FrameSamples)
		heard, quiet := 0, 0
		for quiet < 10 || heard < 10 {
			if bot.ReadFrame(ctx, frame) != nil {
				return
			}
			var peak int16
			for _, v := range frame {
				peak = max(peak, v, -v)
			}
			if peak > 1000 {
				heard, quiet = heard+1, 0
			} else if heard > 0 {
				quiet++
			}
		}
		// Ten quiet frames heard: answer after the rest of the pause.
		time.Sleep(answerAfter - 200*time.Millisecond)
		for range 10 {
			if bot.WriteFrame(ctx, tone) != nil {
				return
			}
		}
	}()
	if err := p.WaitTalkEnd(ctx); err != nil {
		t.Fatal(err)
	}
	words := make([]int16, 0, 25*rtp.FrameSamples)
	for range 25 {
		words = append(words, tone...)
	}
	spoke, err := p.Say(ctx, words)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := p.WaitAnswer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The bot's jitter buffer and the probe's ticker add tens of ms.
	if d := answer.Sub(spoke); d < answerAfter || d > answerAfter+250*time.Millisecond {
		t.Errorf("answer %v after the end of speech, want %v plus buffering", d, answerAfter)
	}
	if p.LastReceived().IsZero() {
		t.Error("LastReceived is zero after packets arrived")
	}
}
