package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/server/kpi"
	"github.com/waihu/waihu/store"
)

// campaignRun is one campaign dialled to completion by runCampaign through a
// trunk "carrier" at a test peer.
type campaignRun struct {
	cfg  Config
	st   store.Store
	id   int64
	recs []store.CallRecord
	out  string
}

// campaignCase says what a campaignRun dials: bc is the bot (its script and
// engines), settings the campaign's (trunks and windows are filled in).
type campaignCase struct {
	carrier  string
	bc       BotConfig
	settings campaign.Settings
	contacts []store.Contact
	maxCall  time.Duration
	// promptOnly dials without a bot, as `campaign start` without --bot.
	promptOnly bool
}

// runTestCampaign dials cc's contacts with the real dialler (sipDialer) and
// returns the stored call records once the campaign completed.
func runTestCampaign(ctx context.Context, t *testing.T, cc campaignCase) campaignRun {
	t.Helper()
	cfg := defaultConfig()
	cfg.Data = t.TempDir()
	cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
	base := testpeer.FreeUDPRange(t, 20)
	cfg.RTP.BindIP, cfg.RTP.PortMin, cfg.RTP.PortMax = "127.0.0.1", base, base+19
	cfg.Trunks = []TrunkConfig{{Name: "carrier", Address: cc.carrier, Transport: "udp"}}
	cfg.Bot = cc.bc
	cfg.Log.Level = "warn"
	if os.Getenv("WAIHU_TEST_LOG") != "" {
		cfg.Log.Level = "debug"
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("WAIHU_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := newLogger(logOut, cfg.Log)
	var b *bot
	if !cc.promptOnly {
		var err error
		if b, err = newBot(ctx, cfg, log); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(ctx, store.Config{DataDir: cfg.Data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := cc.settings
	s.Windows = []campaign.Window{{From: "00:00", To: "24:00"}}
	s.CPS, s.Trunks = 10, []campaign.TrunkLimit{{Name: "carrier", CPS: 10}}
	c, err := campaign.Create(ctx, st, "test", s)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.Import(ctx, st, c.ID, cc.contacts); err != nil {
		t.Fatal(err)
	}
	if err := campaign.SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
		t.Fatal(err)
	}
	maxCall := cmpDuration(cc.maxCall, 30*time.Second)
	var out bytes.Buffer
	d := &sipDialer{bot: b, maxCall: maxCall, log: log}
	if err := runCampaign(ctx, cfg, st, c.ID, "test", d, time.Second, &out); err != nil {
		t.Fatalf("runCampaign: %v\n%s", err, out.String())
	}
	recs, err := st.CallRecords(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(cc.contacts) {
		t.Fatalf("%d call records for %d contacts\n%s", len(recs), len(cc.contacts), out.String())
	}
	return campaignRun{cfg: cfg, st: st, id: c.ID, recs: recs, out: out.String()}
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// storedRecord decodes a call record's stored transcript as the whole
// dialog.Record the dialler stores.
func storedRecord(t *testing.T, r store.CallRecord) dialog.Record {
	t.Helper()
	var rec dialog.Record
	if err := json.Unmarshal(r.Transcript, &rec); err != nil {
		t.Fatalf("stored transcript %s is not a dialog record: %v", r.Transcript, err)
	}
	return rec
}

// quietBot is a bot whose script needs no speech engine: the recogniser is
// never reached, prompts come from an empty directory.
func quietBot(t *testing.T, script string) BotConfig {
	return BotConfig{
		Script: script,
		ASR:    EngineConfig{Engine: "vosk", Options: map[string]string{"url": "ws://127.0.0.1:9"}},
		TTS:    EngineConfig{Engine: "prompts", Options: map[string]string{"dir": t.TempDir()}},
	}
}

// TestCampaignCallRunsTheDiallersVariant: the campaign assigns every contact
// the script's rare variant, which a draw by the script's weights would all
// but never pick; each call runs it and its record says so.
func TestCampaignCallRunsTheDiallersVariant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callee := newAgent(t, false)
	go func() {
		for {
			select {
			case a := <-callee.answers:
				_ = a // the script hangs up at once
			case <-ctx.Done():
				return
			}
		}
	}()
	run := runTestCampaign(ctx, t, campaignCase{
		carrier:  callee.addr(),
		bc:       quietBot(t, "testdata/campaign_variants.yaml"),
		settings: campaign.Settings{Variants: []campaign.Variant{{Name: "rare"}}},
		contacts: []store.Contact{{Phone: "13812345678"}, {Phone: "13912345678"}, {Phone: "13712345678"}},
	})
	for _, r := range run.recs {
		if r.Variant != "rare" || r.Outcome != "interested" {
			t.Errorf("contact %d: variant %q, outcome %q; want the dialler's rare and interested", r.ContactID, r.Variant, r.Outcome)
		}
		if rec := storedRecord(t, r); rec.Variant != "rare" || rec.Outcome != "interested" {
			t.Errorf("contact %d: stored dialog record variant %q, outcome %q", r.ContactID, rec.Variant, rec.Outcome)
		}
		// interested is a conversion by the default rule (issue 7); the
		// script hangs up without a word, so no greeting is recorded.
		if r.Converted == nil || !*r.Converted || r.OptedOut == nil || *r.OptedOut || !r.GreetedAt.IsZero() {
			t.Errorf("contact %d: converted %v, opted out %v, greeted at %v; want converted, not opted out, no greeting",
				r.ContactID, r.Converted, r.OptedOut, r.GreetedAt)
		}
	}
}

// TestCampaignCallRecordMeasuresFirstResponseLatency: a campaign call in
// which the callee answers the bot's question stores the whole dialog
// record, so kpi.Compute finds the turn's first-response latency and the
// greeting's time in it.
func TestCampaignCallRecordMeasuresFirstResponseLatency(t *testing.T) {
	testpeer.Need(t, "flite")
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pocketsphinx-en-us is not installed")
		}
		t.Skip("pocketsphinx-en-us is not installed")
	}
	yes := testpeer.Speech(t, "en-us", "yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	callee := newAgent(t, false)
	go func() {
		select {
		case a := <-callee.answers:
			// Let the greeting play, then answer it.
			hear(ctx, a.leg, 1500*time.Millisecond)
			say(ctx, a.leg, yes)
			hear(ctx, a.leg, 5*time.Second)
		case <-ctx.Done():
		}
	}()
	run := runTestCampaign(ctx, t, campaignCase{
		carrier:  callee.addr(),
		bc:       BotConfig{Script: "testdata/campaign_answer.yaml"},
		contacts: []store.Contact{{Phone: "13812345678", Name: "Li"}},
	})
	r := run.recs[0]
	rec := storedRecord(t, r)
	if len(rec.Turns) == 0 {
		t.Fatalf("stored record has no turns (outcome %q, transcript %s)", r.Outcome, r.Transcript)
	}
	if r.GreetedAt.Before(r.AnsweredAt) || r.GreetedAt.Sub(r.AnsweredAt) > 2*time.Second {
		t.Errorf("greeted at %v for an answer at %v; want the greeting within 2 s of the answer", r.GreetedAt, r.AnsweredAt)
	}
	report := kpi.Compute(run.recs, nil, kpi.Query{CampaignID: run.id})
	k := report.Total.KPIs
	if !k.FirstResponseLatencyP50.Defined() || k.FirstResponseLatencyP50.Value <= 0 {
		t.Errorf("first-response latency %+v, want a measured one", k.FirstResponseLatencyP50)
	}
	if !k.TimeToGreetingP50.Defined() {
		t.Errorf("time to greeting %+v, want a measured one", k.TimeToGreetingP50)
	}
	if !k.AbandonRate.Defined() {
		t.Errorf("abandon rate %+v, want it known from the stored record", k.AbandonRate)
	}
}

// TestCampaignCallTransfersToASippAgent: a campaign script's bridge transfer
// dials the agent through the call's trunk (sipp, which answers and echoes)
// and the call record says the call was transferred.
func TestCampaignCallTransfersToASippAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioUAS, RTPEcho: true, Calls: 2, Limit: 2,
		Timeout: 50 * time.Second})
	if err := testpeer.WaitBound(ctx, "udp", sipp.Config.Port); err != nil {
		t.Fatalf("sipp did not bind: %v\n%s", err, sipp.Diagnostics())
	}
	run := runTestCampaign(ctx, t, campaignCase{
		carrier:  sipp.Addr(),
		bc:       quietBot(t, "testdata/transfer_bridge.yaml"),
		contacts: []store.Contact{{Phone: "13812345678"}},
		// The bridge lasts until max-call ends the call.
		maxCall: 3 * time.Second,
	})
	r := run.recs[0]
	rec := storedRecord(t, r)
	if r.Outcome != "transferred" || rec.TransferredTo != "sip:agent@agents.example" {
		t.Fatalf("outcome %q, transferred to %q; want a bridge to the agent\n%s", r.Outcome, rec.TransferredTo, sipp.Diagnostics())
	}
	if r.TransferTarget != "sip:agent@agents.example" || r.TransferMode != store.TransferBridge ||
		r.TransferResult != store.TransferSucceeded || r.TransferredAt.Before(r.AnsweredAt) || r.TransferredAt.After(r.EndedAt) {
		t.Errorf("record transfer at %v to %q, mode %q, result %q; want a successful bridge to the agent during the call",
			r.TransferredAt, r.TransferTarget, r.TransferMode, r.TransferResult)
	}
	trace, err := os.ReadFile(sipp.MessageFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(trace), "INVITE sip:agent@"); n < 1 {
		t.Errorf("sipp saw %d INVITEs for the agent, want the bridge's", n)
	}
	if res := sipp.Wait(ctx); res.ExitCode != 0 || res.Successful != 2 {
		t.Errorf("sipp: exit %d, %d successful calls (%v), want the customer's and the agent's\n%s",
			res.ExitCode, res.Successful, res.Err, sipp.Diagnostics())
	}
}
