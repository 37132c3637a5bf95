package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/dsp"
	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/speech"
	"github.com/waihu/waihu/speech/tts"
	"github.com/waihu/waihu/store"
)

func TestTrunkTonesNameATonePlan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		want    dsp.TonePlan
		wantErr bool
	}{
		{"", dsp.ChinaTones(), false},
		{"china", dsp.ChinaTones(), false},
		{"north_america", dsp.NorthAmericaTones(), false},
		{"klingon", dsp.TonePlan{}, true},
	} {
		got, err := tonePlan(tc.name)
		if (err != nil) != tc.wantErr {
			t.Errorf("tonePlan(%q) error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && got.Name != tc.want.Name {
			t.Errorf("tonePlan(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	cfg := defaultConfig()
	cfg.Data = t.TempDir()
	cfg.Trunks = []TrunkConfig{{Name: "carrier", Address: "127.0.0.1:5060", Tones: "klingon"}}
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "klingon") {
		t.Errorf("validate accepted trunk tones klingon: %v", err)
	}
}

func TestAnnouncementsThatCancelTheDial(t *testing.T) {
	for _, tc := range []struct {
		progress string
		want     bool
	}{
		{dialog.ProgressVacant, true},
		{dialog.ProgressOutOfService, true},
		{dialog.ProgressSwitchedOff, false},
		{dialog.ProgressUnreachable, false},
		{dialog.ProgressBusy, false},
		{"announcement", false},
		{"", false},
	} {
		if got := cancels(tc.progress); got != tc.want {
			t.Errorf("cancels(%q) = %v, want %v", tc.progress, got, tc.want)
		}
	}
}

// synth says text with flite at 8 kHz.
func synth(t *testing.T, text string) []int16 {
	t.Helper()
	testpeer.Need(t, "flite")
	f, err := tts.NewFlite(tts.FliteConfig{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Synthesize(context.Background(), text, speech.SynthOptions{Language: "en-US"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []int16
	buf := make([]int16, speech.FrameSamples)
	for {
		err := st.Read(buf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf...)
	}
}

// TestCampaignCallCancelledOnAVacantNumberAnnouncement: the carrier (sipp)
// answers 183 and plays "the number you have dialed is not in service" on
// early media and never answers. The dialler reads the announcement,
// cancels the INVITE long before the ring timeout, and the contact's record
// says out_of_service, invalid.
func TestCampaignCallCancelledOnAVacantNumberAnnouncement(t *testing.T) {
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pocketsphinx-en-us is not installed")
		}
		t.Skip("pocketsphinx-en-us is not installed")
	}
	said := synth(t, "The number you have dialed is not in service. Please check the number and try again.")
	pcap := filepath.Join(t.TempDir(), "announcement.pcap")
	if _, err := testpeer.WritePCMUPcap(pcap, append(testpeer.Silence(300*time.Millisecond), said...), testpeer.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioAnnounce, Pcap: pcap, Timeout: 50 * time.Second})
	if err := testpeer.WaitBound(ctx, "udp", sipp.Config.Port); err != nil {
		t.Fatalf("sipp did not bind: %v\n%s", err, sipp.Diagnostics())
	}
	const ringTimeout = 40 * time.Second
	run := runTestCampaign(ctx, t, campaignCase{
		carrier:    sipp.Addr(),
		promptOnly: true,
		settings:   campaign.Settings{RingTimeout: campaign.Duration(ringTimeout)},
		contacts:   []store.Contact{{Phone: "13812345678"}},
	})
	r := run.recs[0]
	if r.CallProgress != dialog.ProgressOutOfService || r.Outcome != "" || r.Disposition != string(campaign.Invalid) {
		t.Errorf("record call progress %q, outcome %q, disposition %q; want %s, no outcome, invalid\n%s", r.CallProgress,
			r.Outcome, r.Disposition, dialog.ProgressOutOfService, sipp.Diagnostics())
	}
	if r.Converted == nil || *r.Converted || r.OptedOut == nil || *r.OptedOut {
		t.Errorf("record converted %v, opted out %v; want both false", r.Converted, r.OptedOut)
	}
	if !r.AnsweredAt.IsZero() {
		t.Errorf("the call was answered at %v", r.AnsweredAt)
	}
	// The announcement is ~5 s; it is read after its first sentence.
	if took := r.EndedAt.Sub(r.AttemptAt); took > 12*time.Second {
		t.Errorf("the dial took %v to end, want it cancelled soon after the announcement", took)
	}
	trace, err := os.ReadFile(sipp.MessageFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(trace), "CANCEL sip:") {
		t.Errorf("sipp received no CANCEL")
	}
	if res := sipp.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Errorf("sipp: exit %d, %d successful calls (%v)\n%s", res.ExitCode, res.Successful, res.Err, sipp.Diagnostics())
	}
}

func TestSentencesSplitEarlyMediaAtPauses(t *testing.T) {
	loud := func(d time.Duration) []int16 {
		out := make([]int16, int(d/time.Millisecond)*8)
		for i := range out {
			out[i] = int16(8000 * sinTable(i))
		}
		return out
	}
	quiet := testpeer.Silence
	cat := func(parts ...[]int16) []int16 {
		var out []int16
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		audio []int16
		want  int
	}{
		{"one sentence with a pause between words", cat(quiet(200*time.Millisecond), loud(800*time.Millisecond), quiet(100*time.Millisecond), loud(700*time.Millisecond)), 1},
		{"two sentences", cat(loud(time.Second), quiet(400*time.Millisecond), loud(time.Second), quiet(time.Second)), 2},
		{"a click is no sentence", cat(quiet(time.Second), loud(100*time.Millisecond), quiet(time.Second)), 0},
		{"silence", quiet(2 * time.Second), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sentences(tc.audio); len(got) != tc.want {
				t.Errorf("%d sentences, want %d", len(got), tc.want)
			}
		})
	}
}

// TestCampaignCallAnsweredAfterEarlyMediaRunsItsScript: a carrier plays a
// voice on early media (a colour ringback tone) and then answers. The
// dialler does not cancel the call, hands the leg to the script once
// answered, and the record keeps the script's outcome, not the early media's.
func TestCampaignCallAnsweredAfterEarlyMediaRunsItsScript(t *testing.T) {
	said := synth(t, "Please hold while we connect your call. Thank you for waiting.")
	pcap := filepath.Join(t.TempDir(), "ringback.pcap")
	if _, err := testpeer.WritePCMUPcap(pcap, said, testpeer.PcapOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioEarlyAnswer, Pcap: pcap,
		Ring: testpeer.Duration(said) + 500*time.Millisecond, Timeout: 50 * time.Second})
	if err := testpeer.WaitBound(ctx, "udp", sipp.Config.Port); err != nil {
		t.Fatalf("sipp did not bind: %v\n%s", err, sipp.Diagnostics())
	}
	run := runTestCampaign(ctx, t, campaignCase{
		carrier:  sipp.Addr(),
		bc:       quietBot(t, "testdata/campaign_variants.yaml"),
		settings: campaign.Settings{Variants: []campaign.Variant{{Name: "rare"}}},
		contacts: []store.Contact{{Phone: "13812345678"}},
	})
	r := run.recs[0]
	if r.Disposition != string(campaign.Answered) || r.SIPCode != 200 || r.Outcome != "interested" {
		t.Errorf("record disposition %q, code %d, outcome %q; want answered, 200, the script's interested\n%s",
			r.Disposition, r.SIPCode, r.Outcome, sipp.Diagnostics())
	}
	if res := sipp.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Errorf("sipp: exit %d, %d successful calls (%v)\n%s", res.ExitCode, res.Successful, res.Err, sipp.Diagnostics())
	}
}
