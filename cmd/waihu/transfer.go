package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/sip"
)

// agentRingTimeout bounds how long an agent may ring before the bridge
// gives up and the script's on_fail path runs.
const agentRingTimeout = 30 * time.Second

// transfer hands one answered call to a person, and sends texts for it: the
// call's dialog.Transferer and dialog.Messenger.
//
// "refer" asks the customer's side to call the agent (SIP REFER) and falls
// back to a bridge when it cannot. "bridge" dials the agent itself and,
// once the dialog engine has let go of the customer's leg, relays audio both
// ways (relay) until either side hangs up. Transfer returns as soon as the
// agent answered, because the engine must stop reading the customer's leg
// before the relay may: the caller of the engine runs relay after Run.
type transfer struct {
	ua     *sip.UA
	engine *rtp.Engine
	call   *sip.Call
	log    *slog.Logger
	// trunk dials agents and sends out-of-dialog texts: the call's trunk, or
	// the first configured one. Empty means neither works.
	trunk string
	// summary, when set, is played to the agent before the customer is
	// connected (warm transfer), e.g. a synthesised "caller wants a loan".
	summary []int16
	// ringTimeout bounds the agent's ringing; default agentRingTimeout.
	ringTimeout time.Duration

	mu       sync.Mutex
	agent    *sip.Call // set once the agent answered
	agentLeg *rtp.Leg
}

// newTransfer prepares transfers for call; trunks are the configured trunk
// names in order, used when the call came in from none of them.
func newTransfer(ua *sip.UA, engine *rtp.Engine, call *sip.Call, trunks []string, log *slog.Logger) *transfer {
	trunk := call.Trunk()
	if trunk == "" && len(trunks) > 0 {
		trunk = trunks[0]
	}
	return &transfer{ua: ua, engine: engine, call: call, log: log, trunk: trunk, ringTimeout: agentRingTimeout}
}

// Transfer implements dialog.Transferer: mode "refer" or "bridge", uri the
// agent (a SIP URI or a number). An error means the customer is still with
// us, so the script's on_fail path can run.
func (t *transfer) Transfer(ctx context.Context, mode, uri string) error {
	switch mode {
	case "refer":
		err := t.call.Refer(ctx, uri)
		if !referRefused(err) {
			return err
		}
		t.log.Info("peer refused REFER; bridging to the agent instead", "err", err)
		return t.bridge(ctx, uri)
	case "bridge":
		return t.bridge(ctx, uri)
	}
	return fmt.Errorf("transfer call %s to %s: mode %q is not refer or bridge", t.call.ID(), uri, mode)
}

// briefMessageTimeout bounds the SIP MESSAGE that briefs the agent of a
// REFER: a target that does not answer MESSAGE must not delay the transfer.
const briefMessageTimeout = 5 * time.Second

// TransferWarm implements dialog.WarmTransferer. A bridge plays b.Audio to
// the agent before the customer is connected (a summary set on the
// transfer beforehand wins when b has no audio). A REFER first sends b.Text
// to the agent by SIP MESSAGE through the trunk, beside the REFER, since the
// agent's call will not pass through us; the text is a courtesy, so its
// failure is logged and the transfer goes on. If the REFER falls back to a
// bridge, the agent hears the summary as well.
func (t *transfer) TransferWarm(ctx context.Context, mode, uri string, b dialog.Briefing) error {
	if len(b.Audio) > 0 {
		t.summary = b.Audio
	}
	if mode != "refer" || b.Text == "" {
		return t.Transfer(ctx, mode, uri)
	}
	sent := make(chan error, 1)
	go func() {
		mctx, cancel := context.WithTimeout(ctx, briefMessageTimeout)
		defer cancel()
		sent <- t.SendMessage(mctx, uri, b.Text)
	}()
	err := t.Transfer(ctx, mode, uri)
	if merr := <-sent; merr != nil {
		t.log.Warn("warm transfer: summary message to the agent failed", "to", uri, "err", merr)
	}
	return err
}

// referRefused says the customer's side would not transfer (405/501, or
// any refusal of the REFER itself, e.g. a carrier's 603 by policy), so
// bridging through our own trunk may still reach the agent. A transfer the
// peer attempted and the target refused (busy, no answer) is not retried.
func referRefused(err error) bool {
	var te *sip.TransferError
	if !errors.As(err, &te) {
		return false
	}
	return errors.Is(err, sip.ErrReferNotSupported) || (!te.Accepted && te.Code >= 300)
}

// bridge dials the agent on a fresh leg and plays the summary to them. The
// relay starts later, in relay.
func (t *transfer) bridge(ctx context.Context, uri string) error {
	fail := func(err error) error {
		return fmt.Errorf("bridge call %s to agent %s via trunk %q: %w", t.call.ID(), uri, t.trunk, err)
	}
	t.mu.Lock()
	busy := t.agent != nil
	t.mu.Unlock()
	if busy {
		return fail(errors.New("already bridged"))
	}
	if t.trunk == "" {
		return fail(errors.New("no trunk configured to dial the agent through"))
	}
	leg, err := t.engine.NewLeg(t.call.ID() + "-agent")
	if err != nil {
		return fail(err)
	}
	agent, err := t.ua.Dial(ctx, sip.DialRequest{Trunk: t.trunk, To: uri, Media: leg, RingTimeout: t.ringTimeout})
	if err != nil {
		leg.Close()
		return fail(err)
	}
	log := t.log.With("agent_call_id", agent.ID())
	if err := t.brief(ctx, agent, leg); err != nil {
		hangupCall(agent, log)
		leg.Close()
		return fail(err)
	}
	t.mu.Lock()
	t.agent, t.agentLeg = agent, leg
	t.mu.Unlock()
	log.Info("agent answered; bridging")
	return nil
}

// brief plays the summary to the agent and waits until it was heard.
func (t *transfer) brief(ctx context.Context, agent *sip.Call, leg *rtp.Leg) error {
	if len(t.summary) == 0 {
		return nil
	}
	frame := make([]int16, rtp.FrameSamples)
	for off := 0; off < len(t.summary); off += rtp.FrameSamples {
		n := copy(frame, t.summary[off:])
		clear(frame[n:])
		if err := leg.WriteFrame(ctx, frame); err != nil {
			return fmt.Errorf("play summary to agent: %w", err)
		}
	}
	// WriteFrame only queues: let the last frames play out (the leg's queue
	// holds well under 250 ms, as playRecord also assumes).
	drain := time.NewTimer(250 * time.Millisecond)
	defer drain.Stop()
	select {
	case <-drain.C:
		return nil
	case <-agent.Done():
		return errors.New("agent hung up during the summary")
	case <-ctx.Done():
		return fmt.Errorf("play summary to agent: %w", ctx.Err())
	}
}

// relay connects customer and agent, if Transfer bridged, and returns once
// either side hung up (the other is hung up then) or ctx ended; without a
// bridge it returns at once. The customer's leg must have no other reader.
func (t *transfer) relay(ctx context.Context, customer frameLeg) {
	t.mu.Lock()
	agent, leg := t.agent, t.agentLeg
	t.mu.Unlock()
	if agent == nil {
		return
	}
	defer leg.Close()
	log := t.log.With("agent_call_id", agent.ID())
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { relayFrames(ctx, customer, leg, nil) })
	wg.Go(func() { relayFrames(ctx, leg, customer, nil) })
	who := "customer"
	select {
	case <-t.call.Done():
	case <-agent.Done():
		who = "agent"
	case <-ctx.Done():
		who = "server"
	}
	select {
	case <-t.call.Done():
		// The customer's BYE also ends ctx: name the customer, not the server.
		who = "customer"
		hangupCall(agent, log)
	default:
		hangupCall(agent, log)
		hangupCall(t.call, log)
	}
	cancel()
	wg.Wait()
	log.Info("bridge ended", "hung_up_by", who, "duration", time.Since(start).Round(time.Millisecond).String())
}

// SendMessage implements dialog.Messenger: an empty uri texts the person on
// the call in its SIP dialog, any other goes out of dialog via the trunk.
func (t *transfer) SendMessage(ctx context.Context, uri, text string) error {
	if uri == "" {
		return t.call.SendMessage(ctx, text)
	}
	if t.trunk == "" {
		return fmt.Errorf("message for call %s: no trunk configured to send through", t.call.ID())
	}
	return t.ua.SendMessage(ctx, t.trunk, uri, text)
}

// transferFor builds the transfer of an answered inbound call, with the
// server's UA, media engine and trunks, for bot.run.
func (s *server) transferFor(call *sip.Call, log *slog.Logger) *transfer {
	trunks := make([]string, 0, len(s.cfg.Trunks))
	for _, tc := range s.cfg.Trunks {
		trunks = append(trunks, tc.Name)
	}
	return newTransfer(s.ua, s.engine, call, trunks, log)
}
