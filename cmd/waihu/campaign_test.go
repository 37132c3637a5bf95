package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/store"
)

// waihuCLI runs one waihu command line in-process and returns what it printed.
func waihuCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := rootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestCampaignCommandsCreateImportAndControlACampaign(t *testing.T) {
	data := t.TempDir()
	csv := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(csv, []byte("phone,name,priority,policy\n13812345678,张三,5,P-1\n13900000000,李四,,P-2\n13700000000,王五,1,P-3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("phone,priority\n13812345678,1\nnot-a-phone,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"campaign", "create", "spring", "--trunk", "carrier:5:20", "--cps", "3"}, `campaign "spring" created`, ""},
		{[]string{"campaign", "create", "spring", "--trunk", "carrier"}, "", "already exists"},
		{[]string{"campaign", "create", "x", "--trunk", "carrier:fast"}, "", `CPS "fast"`},
		{[]string{"campaign", "import", "spring", bad}, "", "bad.csv:3"},
		{[]string{"campaign", "import", "spring", csv}, "3 contacts added", ""},
		{[]string{"campaign", "import", "spring", csv}, "0 contacts added to \"spring\", 3 already there", ""},
		{[]string{"campaign", "dnc", "13700000000", "--reason", "complaint"}, "1 numbers added", ""},
		{[]string{"campaign", "status", "spring"}, "1 of 3 contacts will be skipped: 1 on the do-not-call list; 2 to dial", ""},
		{[]string{"campaign", "status", "spring"}, `campaign "spring" draft: 0/3 finished`, ""},
		{[]string{"campaign", "pause", "spring"}, "", "cannot become paused"},
		{[]string{"campaign", "resume", "spring"}, "", "resume only a paused one"},
		{[]string{"campaign", "stop", "spring"}, `campaign "spring" is stopped`, ""},
		{[]string{"campaign", "start", "spring"}, "", "cannot become running"},
		{[]string{"campaign", "status"}, `campaign "spring" stopped`, ""},
		{[]string{"campaign", "import", "nope", csv}, "", "not found"},
	}
	for _, s := range steps {
		out, err := waihuCLI(t, append(s.args, "--data", data)...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("waihu %v: error %v, want one containing %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("waihu %v: %v", s.args, err)
			continue
		}
		if !strings.Contains(out, s.want) {
			t.Errorf("waihu %v printed %q, want %q", s.args, out, s.want)
		}
	}
}

func TestTrunkFlagParsesNameRateAndConcurrency(t *testing.T) {
	tests := []struct {
		in      string
		want    campaign.TrunkLimit
		wantErr bool
	}{
		{"a", campaign.TrunkLimit{Name: "a"}, false},
		{"a:2.5", campaign.TrunkLimit{Name: "a", CPS: 2.5}, false},
		{"a:2:30", campaign.TrunkLimit{Name: "a", CPS: 2, Concurrency: 30}, false},
		{"", campaign.TrunkLimit{}, true},
		{"a:0", campaign.TrunkLimit{}, true},
		{"a:1:-1", campaign.TrunkLimit{}, true},
		{"a:1:2:3", campaign.TrunkLimit{}, true},
	}
	for _, tc := range tests {
		got, err := parseTrunkFlag(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("parseTrunkFlag(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestSIPFailuresMapToRetryClasses(t *testing.T) {
	tests := map[sip.FailureKind]campaign.Disposition{
		sip.FailureBusy:        campaign.Busy,
		sip.FailureNoAnswer:    campaign.NoAnswer,
		sip.FailureNotFound:    campaign.Invalid,
		sip.FailureCancelled:   campaign.Cancelled,
		sip.FailureRejected:    campaign.Failed,
		sip.FailureUnreachable: campaign.Failed,
		sip.FailureTimeout:     campaign.Failed,
	}
	for k, want := range tests {
		if got := dispositionOf(k); got != want {
			t.Errorf("dispositionOf(%s) = %s, want %s", k, got, want)
		}
	}
}

// TestCampaignBotOutcomeDoNotCallPutsTheNumberOnTheList dials two contacts through
// sipp with --bot's path: the real dialog engine (flite, sphinx) runs a script that
// ends with do_not_call, and the numbers land on the global do-not-call list.
func TestCampaignBotOutcomeDoNotCallPutsTheNumberOnTheList(t *testing.T) {
	testpeer.Need(t, "flite")
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us/en-us/mdef"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pocketsphinx-en-us is not installed")
		}
		t.Skip("pocketsphinx-en-us is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sipp := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioUAS, RTPEcho: true, Calls: 2, Limit: 2})
	cfg := defaultConfig()
	cfg.Data = t.TempDir()
	cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
	base := testpeer.FreeUDPRange(t, 20)
	cfg.RTP.BindIP, cfg.RTP.PortMin, cfg.RTP.PortMax = "127.0.0.1", base, base+19
	cfg.Trunks = []TrunkConfig{{Name: "carrier", Address: sipp.Addr(), Transport: "udp"}}
	cfg.Bot.Script = "../../campaign/testdata/dnc.yaml"
	cfg.Log.Level = "warn"
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	log := newLogger(io.Discard, cfg.Log)
	b, err := newBot(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Config{DataDir: cfg.Data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := campaign.Create(ctx, st, "bot", campaign.Settings{Windows: []campaign.Window{{From: "00:00", To: "24:00"}},
		CPS: 10, Trunks: []campaign.TrunkLimit{{Name: "carrier", CPS: 10}}, CallerIDs: []string{"075512345678"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.Import(ctx, st, c.ID, []store.Contact{{Phone: "13812345678", Name: "Li"}, {Phone: "13912345678", Name: "Wang"}}); err != nil {
		t.Fatal(err)
	}
	if err := campaign.SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d := &sipDialer{bot: b, maxCall: 30 * time.Second, log: log}
	if err := runCampaign(ctx, cfg, st, c.ID, "test", d, time.Second, &out); err != nil {
		t.Fatalf("runCampaign: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `completed: 2/2 finished (done 0, exhausted 0, skipped 2`) {
		t.Errorf("progress: %s", out.String())
	}
	for _, phone := range []string{"13812345678", "13912345678"} {
		if e, ok, err := st.DNC(ctx, phone, c.ID); err != nil || !ok || e.CampaignID != 0 {
			t.Errorf("%s: do-not-call entry %+v %v %v, want a global one", phone, e, ok, err)
		}
	}
	recs, err := st.CallRecords(ctx, c.ID, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records %v %v", recs, err)
	}
	trace, err := os.ReadFile(sipp.MessageFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(trace), "From: <sip:075512345678@"); n < 2 {
		t.Errorf("sipp saw the campaign's caller ID in %d From headers, want 2 INVITEs with it", n)
	}
	for _, r := range recs {
		// AMD runs beside the bot on placed calls; the echo carrier plays the
		// bot's short greeting back, which reads as a person here.
		switch r.AnsweredBy {
		case "human", "machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax", "unknown":
			t.Logf("answered_by %q", r.AnsweredBy)
		default:
			t.Errorf("answered_by %q is not an AMD verdict", r.AnsweredBy)
		}
		if r.CallerID != "075512345678" {
			t.Errorf("record caller ID %q", r.CallerID)
		}
		if r.Outcome != "do_not_call" || r.Disposition != "do_not_call" || r.SIPCode != 200 || r.AnsweredAt.IsZero() ||
			!strings.Contains(string(r.Transcript), "We will not call you again") {
			t.Errorf("record %+v", r)
		}
		if r.OptedOut == nil || !*r.OptedOut || r.Converted == nil || *r.Converted {
			t.Errorf("record opted out %v, converted %v; want opted out, not converted", r.OptedOut, r.Converted)
		}
		if r.GreetedAt.IsZero() || r.GreetedAt.Before(r.AnsweredAt) || r.GreetedAt.After(r.EndedAt) {
			t.Errorf("greeted at %v, answered at %v, ended at %v; want the bot's first words during the call",
				r.GreetedAt, r.AnsweredAt, r.EndedAt)
		}
	}
}
