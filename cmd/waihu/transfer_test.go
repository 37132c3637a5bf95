package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/tts"
)

// agent is a person's phone: a UA of its own that answers (or refuses)
// the calls the server's bridge places, each on its own leg.
type agent struct {
	ua      *sip.UA
	engine  *rtp.Engine
	answers chan agentCall
}

type agentCall struct {
	call *sip.Call
	leg  *rtp.Leg
}

func newAgent(t *testing.T, busy bool) *agent {
	t.Helper()
	engine, err := rtp.NewEngine(rtp.Config{BindIP: mustAddr("127.0.0.1"), PortMin: 50000, PortMax: 54999, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sip.NewUA(sip.Config{Listen: []sip.Listener{{Network: "udp", Addr: "127.0.0.1:0"}}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{ua: ua, engine: engine, answers: make(chan agentCall, 4)}
	ua.OnCall(func(ctx context.Context, in *sip.Incoming) {
		if busy {
			in.Reject(486, "Busy Here")
			return
		}
		leg, err := engine.NewLeg(in.CallID())
		if err != nil {
			in.Reject(503, "Service Unavailable")
			return
		}
		defer leg.Close()
		c, err := in.Answer(ctx, leg)
		if err != nil {
			return
		}
		a.answers <- agentCall{call: c, leg: leg}
		<-c.Done()
	})
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ua.Close(ctx)
		engine.Close()
	})
	return a
}

func (a *agent) addr() string { return a.ua.Addr("udp").String() }

// startTransferServer runs the server with script and a trunk "agents"
// pointing at the agent's SIP address. Its inbound handler attaches each call's
// transfer to the context bot.run gets, as answerInbound is to do, and
// sets the warm-transfer summary.
func startTransferServer(t *testing.T, script, agentAddr string, summary []int16) *transferServer {
	t.Helper()
	cfg := defaultConfig()
	cfg.Bot = BotConfig{
		Script: script,
		// The script only transfers: nothing is recognised or synthesised.
		ASR: EngineConfig{Engine: "vosk", Options: map[string]string{"url": "ws://127.0.0.1:9"}},
		TTS: EngineConfig{Engine: "prompts", Options: map[string]string{"dir": t.TempDir()}},
	}
	cfg.Data = t.TempDir()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.Transports = []string{"udp"}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.RTP.PortMin, cfg.RTP.PortMax = 40000, 44999
	cfg.Trunks = []TrunkConfig{{Name: "agents", Address: agentAddr, Username: "waihu"}}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if srv.bot == nil {
		t.Fatal("the transfer script's bot did not start")
	}
	ts := &transferServer{server: srv, xfers: make(chan *transfer, 8), ran: make(chan string, 8)}
	srv.ua.OnCall(func(_ context.Context, in *sip.Incoming) {
		srv.calls.Add(1)
		defer srv.calls.Done()
		id := in.CallID()
		log := srv.log.With("call_id", id)
		leg, err := srv.engine.NewLeg(id)
		if err != nil {
			in.Reject(503, "Service Unavailable")
			return
		}
		defer leg.Close()
		call, err := in.Answer(srv.callCtx, leg)
		if err != nil {
			return
		}
		ctx, cancel := context.WithCancel(srv.callCtx)
		defer cancel()
		go func() {
			select {
			case <-call.Done():
			case <-ctx.Done():
			}
			cancel()
		}()
		xfer := srv.transferFor(call, log)
		xfer.summary = summary
		ts.xfers <- xfer
		srv.bot.run(ctx, log, id, in.From().User, leg, rtpDigits(ctx, leg), nil, xfer, nil)
		ts.ran <- id
		hangupCall(call, log)
	})
	if err := srv.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.close() })
	return ts
}

// transferServer is the server under test with what its calls did.
type transferServer struct {
	*server
	xfers chan *transfer // each call's transfer, when its script starts
	ran   chan string    // the Call-ID of each call whose bot.run returned
}

func TestTransferBridgesTheCallerToAnAgentBothWays(t *testing.T) {
	customerSays := testpeer.Speech(t, "en-us", "Hello, I would like to speak to someone about my loan.")
	agentSays := testpeer.Speech(t, "en-gb", "Good morning, this is the loans desk, how can I help?")
	summary := testpeer.Speech(t, "en-us", "Transferred caller, asks about a loan.")
	cases := []struct {
		name    string
		script  string
		summary []int16
	}{
		{name: "bridge", script: "testdata/transfer_bridge.yaml"},
		{name: "refer refused falls back to bridge", script: "testdata/transfer_refer.yaml"},
		{name: "warm bridge briefs the agent first", script: "testdata/transfer_bridge.yaml", summary: summary},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t, false)
			srv := startTransferServer(t, tc.script, a.addr(), tc.summary)
			c := newCaller(t, srv.server)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			leg, call := c.dial(ctx, t, "customer")
			var ag agentCall
			select {
			case ag = <-a.answers:
			case <-ctx.Done():
				t.Fatal("the agent's phone never rang")
			}
			// The agent listens from the moment it answers: the summary, then
			// the customer, until the customer has finished.
			var wg sync.WaitGroup
			var agentHeard, customerHeard []int16
			agentCtx, stopAgent := context.WithCancel(ctx)
			defer stopAgent()
			wg.Go(func() { agentHeard = hear(agentCtx, ag.leg, time.Minute) })
			// The script ends (its record written) before the relay starts.
			if rec := waitRecord(t, srv.server, call.ID()); rec.Outcome != "transferred" || rec.TransferredTo != "sip:agent@agents.example" {
				t.Fatalf("record outcome %q to %q, want transferred to the agent", rec.Outcome, rec.TransferredTo)
			}
			wg.Go(func() { customerHeard = hear(ctx, leg, testpeer.Duration(agentSays)+2*time.Second) })
			wg.Go(func() {
				say(ctx, leg, customerSays)
				time.Sleep(testpeer.Duration(customerSays) + 2*time.Second)
				stopAgent()
			})
			wg.Go(func() { say(ctx, ag.leg, agentSays) })
			wg.Wait()

			// The customer comes after the summary: allow for it in the lag.
			if cmp := testpeer.Compare(customerSays, agentHeard, 8000+len(tc.summary)); !mostlyMatches(cmp) {
				t.Errorf("the agent did not hear the customer: %v", cmp)
			}
			if cmp := testpeer.Compare(agentSays, customerHeard, 8000); !mostlyMatches(cmp) {
				t.Errorf("the customer did not hear the agent: %v", cmp)
			}
			if tc.summary != nil {
				if cmp := testpeer.Compare(tc.summary, agentHeard, 8000); !mostlyMatches(cmp) {
					t.Errorf("the agent did not hear the summary: %v", cmp)
				}
			}
			// The customer hangs up: the bridge hangs up the agent.
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ag.call.Done():
				if ag.call.Reason() != sip.HangupRemote {
					t.Errorf("agent's call ended by %v, want the server's BYE", ag.call.Reason())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the agent is still connected after the customer hung up")
			}
		})
	}
}

// TestTransferBridgesToASippAgent puts a real peer on the agent's side:
// sipp answers and echoes RTP, so the customer hears their own words only
// if the bridge carries audio both ways; the customer's hang-up must reach
// sipp as a BYE for its scenario to pass.
func TestTransferBridgesToASippAgent(t *testing.T) {
	customerSays := testpeer.Speech(t, "en-us", "Hello, I would like to speak to someone about my loan.")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioUAS, RTPEcho: true, Timeout: 50 * time.Second})
	if err := testpeer.WaitBound(ctx, "udp", sipp.Config.Port); err != nil {
		t.Fatalf("sipp did not bind: %v\n%s", err, sipp.Diagnostics())
	}
	srv := startTransferServer(t, "testdata/transfer_bridge.yaml", sipp.Addr(), nil)
	c := newCaller(t, srv.server)
	leg, call := c.dial(ctx, t, "customer")
	if rec := waitRecord(t, srv.server, call.ID()); rec.Outcome != "transferred" {
		t.Fatalf("outcome %q, want transferred; sipp:\n%s", rec.Outcome, sipp.Diagnostics())
	}
	var heard []int16
	var wg sync.WaitGroup
	wg.Go(func() { heard = hear(ctx, leg, testpeer.Duration(customerSays)+2*time.Second) })
	wg.Go(func() { say(ctx, leg, customerSays) })
	wg.Wait()
	if cmp := testpeer.Compare(customerSays, heard, 8000); !mostlyMatches(cmp) {
		t.Errorf("the customer did not hear their words back through the bridge and sipp's echo: %v", cmp)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if res := sipp.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Errorf("sipp: exit %d, %d successful calls (%v)\n%s", res.ExitCode, res.Successful, res.Err, sipp.Diagnostics())
	}
}

func TestTransferAgentHangupEndsTheCustomersCall(t *testing.T) {
	a := newAgent(t, false)
	srv := startTransferServer(t, "testdata/transfer_bridge.yaml", a.addr(), nil)
	c := newCaller(t, srv.server)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, call := c.dial(ctx, t, "customer")
	ag := <-a.answers
	waitRecord(t, srv.server, call.ID())
	// The script has ended, but the bridge holds the call: bot.run waits.
	select {
	case id := <-srv.ran:
		t.Fatalf("bot.run for %s returned while the bridge was up", id)
	case <-time.After(500 * time.Millisecond):
	}
	if err := ag.call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
		if call.Reason() != sip.HangupRemote {
			t.Errorf("customer's call ended by %v, want the server's BYE", call.Reason())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the customer is still connected after the agent hung up")
	}
	select {
	case <-srv.ran:
	case <-time.After(5 * time.Second):
		t.Fatal("bot.run did not return after the bridge ended")
	}
}

func TestTransferWithoutAnAgentRunsOnFail(t *testing.T) {
	a := newAgent(t, true)
	srv := startTransferServer(t, "testdata/transfer_bridge.yaml", a.addr(), nil)
	c := newCaller(t, srv.server)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, call := c.dial(ctx, t, "customer")
	rec := waitRecord(t, srv.server, call.ID())
	if rec.Outcome != "call_back" || rec.TransferredTo != "" {
		t.Errorf("outcome %q transferred to %q, want the on_fail node's call_back", rec.Outcome, rec.TransferredTo)
	}
	select {
	case <-call.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the script's hangup did not end the call")
	}
}

func TestTransferSendsMessagesInDialogOrThroughTheTrunk(t *testing.T) {
	a := newAgent(t, false)
	srv := startTransferServer(t, "testdata/transfer_bridge.yaml", a.addr(), nil)
	c := newCaller(t, srv.server)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, call := c.dial(ctx, t, "customer")
	xfer := <-srv.xfers
	// Neither the customer's UA nor the agent's takes MESSAGE: each
	// answers 405, and the error says which way the text went.
	cases := []struct {
		name, uri, trunk, want string
	}{
		{name: "empty uri texts the customer in the call", uri: "", trunk: "agents", want: "message on call " + call.ID()},
		{name: "a uri goes out through the trunk", uri: "sip:sms@gateway.example", trunk: "agents", want: `via trunk "agents"`},
		{name: "no trunk, no out-of-dialog text", uri: "13812345678", trunk: "", want: "no trunk configured"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := &transfer{ua: xfer.ua, engine: xfer.engine, call: xfer.call, log: xfer.log, trunk: tc.trunk}
			err := x.SendMessage(ctx, tc.uri, "Your code is 4821")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var re *sip.ResponseError
			if tc.trunk != "" && (!errors.As(err, &re) || re.Code != 405) {
				t.Errorf("error %v, want the receiver's 405", err)
			}
		})
	}
}

// hear reads a leg for d.
func hear(ctx context.Context, leg *rtp.Leg, d time.Duration) []int16 {
	var heard []int16
	frame := make([]int16, rtp.FrameSamples)
	for range int(d / rtp.FrameDuration) {
		if leg.ReadFrame(ctx, frame) != nil {
			break
		}
		heard = append(heard, frame...)
	}
	return heard
}

// say queues pcm on a leg frame by frame.
func say(ctx context.Context, leg *rtp.Leg, pcm []int16) {
	frame := make([]int16, rtp.FrameSamples)
	for off := 0; off < len(pcm); off += rtp.FrameSamples {
		n := copy(frame, pcm[off:])
		clear(frame[n:])
		if leg.WriteFrame(ctx, frame) != nil {
			return
		}
	}
}

// waitRecord waits for the call record the script writes when it ends.
func waitRecord(t *testing.T, srv *server, callID string) dialog.Record {
	t.Helper()
	path := filepath.Join(srv.cfg.Data, "calls", callID+".json")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var rec dialog.Record
		raw, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(raw, &rec) == nil {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call record at %s: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReferRefusalFallsBackToBridgeButATargetsRefusalDoesNot(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"405 not supported", &sip.TransferError{Code: 405, Err: sip.ErrReferNotSupported}, true},
		{"501 wrapped", fmt.Errorf("transfer: %w", &sip.TransferError{Code: 501, Err: sip.ErrReferNotSupported}), true},
		{"carrier declines REFER", &sip.TransferError{Code: 603}, true},
		{"target busy after 202", &sip.TransferError{Code: 486, Accepted: true}, false},
		{"no final NOTIFY", &sip.TransferError{Accepted: true, Err: context.DeadlineExceeded}, false},
		{"REFER unanswered", &sip.TransferError{Err: context.DeadlineExceeded}, false},
		{"success", nil, false},
		{"other error", errors.New("call ended"), false},
	}
	for _, tc := range cases {
		if got := referRefused(tc.err); got != tc.want {
			t.Errorf("%s: referRefused = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// countingLeg hands out frames until n are read, then fails; writes are
// counted and dropped.
type countingLeg struct {
	n, read, written int
}

func (l *countingLeg) ReadFrame(ctx context.Context, dst []int16) error {
	if l.read >= l.n {
		return errors.New("done")
	}
	l.read++
	dst[0] = int16(l.read)
	return nil
}

func (l *countingLeg) WriteFrame(ctx context.Context, src []int16) error {
	l.written++
	return nil
}

// BenchmarkBridgePump measures the relay's per-frame cost without the
// legs: it must allocate nothing per frame.
func BenchmarkBridgePump(b *testing.B) {
	b.ReportAllocs()
	src, dst := &countingLeg{n: b.N}, &countingLeg{}
	b.ResetTimer()
	relayFrames(context.Background(), src, dst, nil)
	if dst.written != b.N {
		b.Fatalf("%d of %d frames relayed", dst.written, b.N)
	}
}

// TestTransferWarmBriefsTheAgentBeforeTheBridge runs the whole warm path:
// the dialog engine summarises the call, the bot's flite speaks it, and
// the agent hears exactly that before the customer is connected.
func TestTransferWarmBriefsTheAgentBeforeTheBridge(t *testing.T) {
	flite, err := tts.NewFlite(tts.FliteConfig{})
	if errors.Is(err, speech.ErrEngineUnavailable) && os.Getenv("CI") == "" {
		t.Skipf("flite unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, false)
	srv := startTransferServer(t, "testdata/transfer_bridge.yaml", a.addr(), nil)
	cfg := srv.cfg
	cfg.Bot.TTS = EngineConfig{Engine: "flite"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := newBot(ctx, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	srv.bot = b // before any call: the handler reads it per call
	c := newCaller(t, srv.server)
	_, call := c.dial(ctx, t, "customer")
	var ag agentCall
	select {
	case ag = <-a.answers:
	case <-ctx.Done():
		t.Fatal("the agent's phone never rang")
	}
	heard := hear(ctx, ag.leg, 4*time.Second)
	rec := waitRecord(t, srv.server, call.ID())
	if rec.Outcome != "transferred" || !strings.HasPrefix(rec.TransferSummary, "Transferred call from ") {
		t.Fatalf("record outcome %q summary %q, want transferred with the built-in summary", rec.Outcome, rec.TransferSummary)
	}
	st, err := flite.Synthesize(ctx, rec.TransferSummary, speech.SynthOptions{Language: "en-US"})
	if err != nil {
		t.Fatal(err)
	}
	var want []int16
	frame := make([]int16, speech.FrameSamples)
	for st.Read(frame) == nil {
		want = append(want, frame...)
	}
	st.Close()
	if cmp := testpeer.Compare(want, heard, 8000); !mostlyMatches(cmp) {
		t.Errorf("the agent did not hear the summary %q: %v", rec.TransferSummary, cmp)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

// messageCatcher is an agent's SIP address that takes MESSAGE (200) and
// refuses calls (486), keeping each MESSAGE's body.
type messageCatcher struct {
	conn   *net.UDPConn
	bodies chan string
}

func newMessageCatcher(t *testing.T) *messageCatcher {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	m := &messageCatcher{conn: conn, bodies: make(chan string, 4)}
	done := make(chan struct{})
	go m.serve(done)
	t.Cleanup(func() { conn.Close(); <-done })
	return m
}

func (m *messageCatcher) addr() string { return m.conn.LocalAddr().String() }

func (m *messageCatcher) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 65535)
	for {
		n, from, err := m.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		head, body, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		method, _, _ := strings.Cut(lines[0], " ")
		status := "200 OK"
		switch method {
		case "ACK":
			continue
		case "INVITE":
			status = "486 Busy Here"
		case "MESSAGE":
			m.bodies <- body
		}
		var resp strings.Builder
		resp.WriteString("SIP/2.0 " + status + "\r\n")
		for _, l := range lines[1:] {
			name, _, _ := strings.Cut(strings.ToLower(l), ":")
			switch strings.TrimSpace(name) {
			case "via", "v", "from", "f", "call-id", "i", "cseq":
				resp.WriteString(l + "\r\n")
			case "to", "t":
				if !strings.Contains(strings.ToLower(l), "tag=") {
					l += ";tag=catcher"
				}
				resp.WriteString(l + "\r\n")
			}
		}
		resp.WriteString("Content-Length: 0\r\n\r\n")
		m.conn.WriteToUDP([]byte(resp.String()), from)
	}
}

// TestTransferWarmReferTextsTheSummaryToTheAgent: a REFER's agent is not
// bridged through us, so the summary goes to them as a SIP MESSAGE.
func TestTransferWarmReferTextsTheSummaryToTheAgent(t *testing.T) {
	m := newMessageCatcher(t)
	srv := startTransferServer(t, "testdata/transfer_refer.yaml", m.addr(), nil)
	c := newCaller(t, srv.server)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, call := c.dial(ctx, t, "customer")
	// The customer's UA refuses REFER and the catcher refuses the bridge's
	// INVITE, so the script ends on its on_fail path; the text went anyway.
	rec := waitRecord(t, srv.server, call.ID())
	if rec.Outcome != "call_back" || !strings.HasPrefix(rec.TransferSummary, "Transferred call from ") {
		t.Fatalf("record outcome %q summary %q, want on_fail's call_back after a warm attempt", rec.Outcome, rec.TransferSummary)
	}
	select {
	case body := <-m.bodies:
		if body != rec.TransferSummary {
			t.Errorf("agent was texted %q, want the summary %q", body, rec.TransferSummary)
		}
	case <-ctx.Done():
		t.Fatal("the agent got no MESSAGE")
	}
}
