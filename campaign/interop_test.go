//go:build interop

package campaign_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
	"github.com/waihu/waihu/store"
	"github.com/waihu/waihu/store/storetest"
)

// The proof of issue 7: a campaign of 200 contacts dialled by the real waihu
// binary through sipp acting as the carrier (testdata/carrier.xml: the last digit
// of the number decides answer 0-5, busy 6-7, no answer 8-9), killed with
// SIGKILL half-way and started again. sipp's own message trace is the witness:
// it counts the INVITEs per number and their times.

const (
	contacts    = 200
	limitCPS    = 20
	maxAttempts = 3
	retryDelay  = time.Second
)

// fate is what the carrier does with a number.
func fate(phone string) string {
	switch d := phone[len(phone)-1] - '0'; {
	case d >= 8:
		return "no_answer"
	case d >= 6:
		return "busy"
	default:
		return "answered"
	}
}

func TestCampaignOf200AgainstSippSurvivesKill9WithoutDiallingTwice(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		proveCampaign(t, store.Config{DataDir: data}, []string{"--data", data})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.DSN(t)
		proveCampaign(t, store.Config{DSN: dsn}, []string{"--data", t.TempDir(), "--dsn", dsn})
	})
}

// proveCampaign runs the proof on the store that cfg opens and storeArgs name
// to the waihu command line.
func proveCampaign(t *testing.T, cfg store.Config, storeArgs []string) {
	sippBin := testpeer.Need(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	bin := filepath.Join(work, "waihu")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/waihu")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The carrier.
	sippDir := t.TempDir()
	scenario, err := os.ReadFile("testdata/carrier.xml")
	if err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(sippDir, "carrier.xml")
	if err := os.WriteFile(sf, scenario, 0o644); err != nil {
		t.Fatal(err)
	}
	sippPort := testpeer.FreeUDPPort(t)
	messages := filepath.Join(sippDir, "messages.log")
	sipp := testpeer.Start(ctx, t, sippDir, sippBin, "-sf", sf, "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(sippPort), "-mp", strconv.Itoa(testpeer.FreeRTPPort(t)), "-rtp_echo", "-t", "u1",
		"-m", "100000", "-l", "10000", "-nostdin", "-trace_msg", "-message_file", messages,
		"-trace_err", "-error_file", filepath.Join(sippDir, "errors.log"))
	if err := testpeer.WaitBound(ctx, "udp", sippPort); err != nil {
		t.Fatalf("sipp: %v\n%s", err, sipp.Output())
	}

	// waihu's config, campaign and contacts.
	rtpBase := testpeer.FreeUDPRange(t, 200)
	config := filepath.Join(work, "waihu.yaml")
	writeFile(t, config, fmt.Sprintf(`sip:
  transports: [udp]
rtp:
  bind_ip: 127.0.0.1
  port_min: %d
  port_max: %d
trunks:
  - name: carrier
    address: 127.0.0.1:%d
    transport: udp
log:
  level: info
`, rtpBase, rtpBase+199, sippPort))
	settings := filepath.Join(work, "settings.json")
	writeFile(t, settings, fmt.Sprintf(`{
  "windows": [{"from": "00:00", "to": "24:00"}],
  "cps": %d, "concurrency": 30,
  "trunks": [{"name": "carrier", "cps": %d, "concurrency": 30}],
  "retry": {"max_attempts": %d, "busy": "%s", "no_answer": "%s", "failed": "%s"},
  "ring_timeout": "1s"
}`, limitCPS, limitCPS, maxAttempts, retryDelay, retryDelay, retryDelay))
	var csv strings.Builder
	csv.WriteString("phone,name,priority\n")
	for i := range contacts {
		fmt.Fprintf(&csv, "1390000%04d,contact %d,%d\n", i, i, i%3)
	}
	list := filepath.Join(work, "list.csv")
	writeFile(t, list, csv.String())
	prompt := filepath.Join(work, "prompt.wav")
	if err := testpeer.WriteWAV(prompt, testpeer.Silence(300*time.Millisecond), testpeer.SampleRate); err != nil {
		t.Fatal(err)
	}
	common := append([]string{"--config", config}, storeArgs...)
	cli := func(args ...string) string {
		out, err := exec.CommandContext(ctx, bin, append(args, common...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("waihu %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli("campaign", "create", "proof", "--settings", settings)
	t.Log(strings.TrimSpace(cli("campaign", "import", "proof", list)))

	startArgs := append([]string{"campaign", "start", "proof", "--node", "node-a", "--prompt", prompt,
		"--max-call", "5s", "--progress", "1s", "--listen", fmt.Sprintf("127.0.0.1:%d", testpeer.FreeSIPPort(t))}, common...)

	// First run: killed with SIGKILL once about a third of the attempts are recorded.
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.CampaignByName(ctx, "proof")
	if err != nil {
		t.Fatal(err)
	}
	first := testpeer.Start(ctx, t, t.TempDir(), bin, startArgs...)
	if !testpeer.Eventually(ctx, 2*time.Minute, func() bool {
		recs, _ := st.CallRecords(ctx, c.ID, 0)
		return len(recs) >= 120
	}) {
		t.Fatalf("first run placed too few calls\n%s", first.Output())
	}
	if err := first.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait(ctx)
	before, _ := st.CountContacts(ctx, c.ID)
	t.Logf("killed with SIGKILL; contacts by state: %v", before)

	// Second run: recovers node-a's claims and runs to completion.
	second := testpeer.Start(ctx, t, t.TempDir(), bin, startArgs...)
	code, err := second.Wait(ctx)
	if err != nil || code != 0 {
		t.Fatalf("second run: exit %d, %v\n%s", code, err, second.Output())
	}
	stdout, _ := os.ReadFile(second.Stdout)
	stderr, _ := os.ReadFile(second.Stderr)
	t.Logf("last progress line: %s", progressOf(strings.Split(strings.TrimSpace(string(stdout)), "\n")))
	if i := strings.Index(string(stderr), "recovered claims of a previous run"); i < 0 {
		t.Errorf("second run logged no recovery\n%s", second.Output())
	} else {
		t.Logf("second run: %s", strings.SplitN(string(stderr[i:]), "\n", 2)[0])
	}

	// The store's view.
	camp, _ := st.Campaign(ctx, c.ID)
	if camp.State != store.CampaignCompleted {
		t.Errorf("campaign %s, want completed", camp.State)
	}
	all, err := st.Contacts(ctx, c.ID, "")
	if err != nil || len(all) != contacts {
		t.Fatalf("%d contacts, %v", len(all), err)
	}
	recs, _ := st.CallRecords(ctx, c.ID, 0)
	recsByPhone := map[string][]store.CallRecord{}
	for _, r := range recs {
		recsByPhone[r.Phone] = append(recsByPhone[r.Phone], r)
	}

	// sipp's view.
	invites := readInvites(t, messages)
	byPhone := map[string][]time.Time{}
	var starts []time.Time
	for _, inv := range invites {
		byPhone[inv.phone] = append(byPhone[inv.phone], inv.at)
		starts = append(starts, inv.at)
	}
	t.Logf("sipp saw %d INVITEs (distinct Call-IDs) for %d numbers; store has %d call records", len(invites), len(byPhone), len(recs))

	interrupted := 0
	for _, k := range all {
		got := byPhone[k.Phone]
		rs := recsByPhone[k.Phone]
		open := 0
		for _, r := range rs {
			if r.Disposition == store.DispositionInterrupted {
				open++
			}
		}
		// Every INVITE has its record; an interrupted record may or may not
		// have reached the carrier before the kill.
		if len(got) > len(rs) || len(got) < len(rs)-open {
			t.Errorf("%s: %d INVITEs at sipp, %d records (%d interrupted)", k.Phone, len(got), len(rs), open)
		}
		if len(got) > maxAttempts {
			t.Errorf("%s dialled %d times, max %d", k.Phone, len(got), maxAttempts)
		}
		if k.State == store.StateInterrupted {
			interrupted++
			if open != 1 || rs[len(rs)-1].Disposition != store.DispositionInterrupted {
				t.Errorf("%s interrupted but its last record is %+v", k.Phone, rs[len(rs)-1])
			}
			continue
		}
		if open != 0 {
			t.Errorf("%s: dialled again after an interrupted attempt (state %s, %d records)", k.Phone, k.State, len(rs))
		}
		switch fate(k.Phone) {
		case "answered":
			if k.State != store.StateDone || len(got) != 1 || k.LastDisposition != "answered" {
				t.Errorf("%s (answers): %s/%s after %d INVITEs, want done after 1", k.Phone, k.State, k.LastDisposition, len(got))
			}
		case "busy", "no_answer":
			if k.State != store.StateExhausted || len(got) != maxAttempts || k.LastDisposition != fate(k.Phone) {
				t.Errorf("%s (%s): %s/%s after %d INVITEs, want exhausted after %d", k.Phone, fate(k.Phone), k.State, k.LastDisposition, len(got), maxAttempts)
			}
			for i := 1; i < len(got); i++ {
				// The retry delay runs from the end of the previous attempt.
				if gap := got[i].Sub(got[i-1]); gap < retryDelay-50*time.Millisecond {
					t.Errorf("%s retried after %s, delay is %s", k.Phone, gap, retryDelay)
				}
			}
		}
	}
	t.Logf("%d contacts interrupted by the kill (dialled at most once, not retried)", interrupted)
	if interrupted > 30 {
		t.Errorf("%d interrupted contacts: more than the 30 calls that can be in progress", interrupted)
	}

	// CPS as the carrier saw it: INVITEs in any 1 s window.
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	peak := 0
	for i := range starts {
		n := 0
		for j := i; j < len(starts) && starts[j].Sub(starts[i]) < time.Second; j++ {
			n++
		}
		peak = max(peak, n)
	}
	span := starts[len(starts)-1].Sub(starts[0])
	t.Logf("CPS at the carrier: peak %d INVITEs in a 1 s window, mean %.1f/s over %s (limit %d)", peak, float64(len(starts)-1)/span.Seconds(), span.Round(time.Millisecond), limitCPS)
	// One INVITE of slack for scheduling jitter between waihu and sipp's clock.
	if peak > limitCPS+1 {
		t.Errorf("peak %d INVITEs in 1 s, limit %d", peak, limitCPS)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func progressOf(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "campaign ") {
			return lines[i]
		}
	}
	return ""
}

type invite struct {
	phone, callID string
	at            time.Time
}

var (
	traceStamp = regexp.MustCompile(`^-{10,}\s+(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2}\.\d+)`)
	inviteLine = regexp.MustCompile(`^INVITE sip:(\+?\d+)@`)
	callIDLine = regexp.MustCompile(`(?i)^(Call-ID|i):\s*(\S+)`)
)

// readInvites parses sipp's -trace_msg file: one INVITE per distinct Call-ID (a
// retransmission is not a second call), at the time sipp first received it.
func readInvites(t *testing.T, path string) []invite {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []invite
	var stamp time.Time
	var cur *invite
	flush := func() {
		if cur != nil && cur.callID != "" && !seen[cur.callID] {
			seen[cur.callID] = true
			out = append(out, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := traceStamp.FindStringSubmatch(line); m != nil {
			flush()
			if stamp, err = time.ParseInLocation("2006-01-02 15:04:05.999999", m[1]+" "+m[2], time.Local); err != nil {
				t.Fatalf("sipp trace time %q: %v", line, err)
			}
			continue
		}
		if m := inviteLine.FindStringSubmatch(line); m != nil {
			cur = &invite{phone: m[1], at: stamp}
			continue
		}
		if m := callIDLine.FindStringSubmatch(line); m != nil && cur != nil && cur.callID == "" {
			cur.callID = m[2]
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no INVITE in sipp's trace %s", path)
	}
	return out
}
