package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/sip"
)

func init() { register(callCommand) }

func callCommand() *cobra.Command {
	var (
		f                 flagOverrides
		trunk, play, recf string
		timeout, tail     time.Duration
		ringTimeout       time.Duration
		listen            string
	)
	cmd := &cobra.Command{
		Use:   "call --trunk NAME --play FILE --record FILE NUMBER",
		Short: "Place one outbound call through a trunk: play a WAV, record the answer",
		Long: `Dial NUMBER through the named trunk of the config file, play FILE once the call
is answered, record what the other side says to the --record file, and hang up when
the prompt has played (plus --tail). The exit status is 0 only for an answered call;
a failed call prints the SIP code and reason.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if trunk == "" {
				return errors.New("--trunk is required")
			}
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.SIP.Listen = listen
			} else if f.config == "" || cfg.SIP.Listen == defaultConfig().SIP.Listen {
				// A one-off call must not collide with a server on 5060.
				cfg.SIP.Listen = "0.0.0.0:0"
			}
			return placeCall(cmd.Context(), cfg, trunk, args[0], play, recf, timeout, ringTimeout, tail)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&trunk, "trunk", "", "trunk name from the config file")
	cmd.Flags().StringVar(&play, "play", "", "WAV file to play when answered (default: the embedded greeting)")
	cmd.Flags().StringVar(&recf, "record", "", "WAV file to record the far end to")
	cmd.Flags().StringVar(&listen, "listen", "", "local SIP address (default: any free port)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "longest the whole call may last")
	cmd.Flags().DurationVar(&ringTimeout, "ring-timeout", 60*time.Second, "CANCEL if not answered within this")
	cmd.Flags().DurationVar(&tail, "tail", time.Second, "keep recording this long after the prompt")
	return cmd
}

func placeCall(ctx context.Context, cfg Config, trunk, number, play, recPath string, timeout, ringTimeout, tail time.Duration) error {
	log := newLogger(os.Stderr, cfg.Log)
	prompt, err := loadPrompt(play)
	if err != nil {
		return fmt.Errorf("--play: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	engine, ua, stop, err := startDialling(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()

	leg, err := engine.NewLeg("outbound")
	if err != nil {
		return err
	}
	defer leg.Close()
	call, err := ua.Dial(ctx, sip.DialRequest{Trunk: trunk, To: number, Media: leg, RingTimeout: ringTimeout})
	if err != nil {
		return err // *sip.CallError names trunk, code and reason
	}
	log = log.With("call_id", call.ID())
	log.Info("call answered", "codec", call.Codec().Name)

	var rec *audiofile.Recorder
	if recPath != "" {
		if rec, err = audiofile.Create(recPath); err != nil {
			call.Hangup(context.Background())
			return err
		}
	}
	callCtx, stop := context.WithCancel(ctx)
	defer stop()
	promptDone := make(chan struct{})
	go func() {
		select {
		case <-promptDone:
			select {
			case <-time.After(tail):
			case <-call.Done():
			case <-callCtx.Done():
			}
		case <-call.Done():
		case <-callCtx.Done():
		}
		stop()
	}()
	playRecord(callCtx, log, leg, prompt, rec, func() { close(promptDone) })
	select {
	case <-call.Done():
	default:
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = call.Hangup(hctx)
		hcancel()
		if err != nil {
			log.Warn("hangup", "err", err)
		}
	}
	if rec != nil {
		if err := rec.Close(); err != nil {
			return err
		}
	}
	log.Info("call ended", "reason", call.Reason().String())
	return nil
}

// startDialling starts the media engine and a SIP UA for placing calls from
// the terminal (call, campaign start); stop un-registers and closes both.
func startDialling(ctx context.Context, cfg Config, log *slog.Logger) (*rtp.Engine, *sip.UA, func(), error) {
	rc := cfg.rtpConfig()
	rc.Logger = log
	engine, err := rtp.NewEngine(rc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("start media engine: %w", err)
	}
	sc := cfg.sipConfig()
	sc.Logger = log
	ua, err := sip.NewUA(sc)
	if err == nil {
		err = ua.Start(ctx)
	}
	if err != nil {
		engine.Close()
		return nil, nil, nil, fmt.Errorf("start SIP: %w", err)
	}
	stop := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(cctx)
		engine.Close()
	}
	return engine, ua, stop, nil
}
