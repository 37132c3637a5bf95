package testpeer

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

//go:embed scenarios/*.xml
var scenarioFS embed.FS

// Scenarios embedded in this package, by name.
const (
	// ScenarioUAC calls, plays SippConfig.Pcap, holds, hangs up.
	ScenarioUAC = "uac"
	// ScenarioUAS answers (180, 200 PCMU) and waits for BYE; use RTPEcho.
	ScenarioUAS = "uas"
	// ScenarioBusy answers 486 Busy Here.
	ScenarioBusy = "busy"
	// ScenarioRing rings and answers CANCEL with 200 and 487.
	ScenarioRing = "ring"
	// ScenarioAnnounce answers 183 with early media, plays
	// SippConfig.Pcap on it as a carrier's announcement, never answers,
	// and answers CANCEL with 200 and 487.
	ScenarioAnnounce = "announce"
	// ScenarioEarlyAnswer answers 183 with early media, plays
	// SippConfig.Pcap on it, answers after Ring and waits for BYE.
	ScenarioEarlyAnswer = "earlyanswer"
	// ScenarioRegister registers with digest auth (Username, Password).
	ScenarioRegister = "register"
)

// SippConfig describes one sipp run. Zero values pick free ports and safe
// bounds, so a test sets only what its scenario needs.
type SippConfig struct {
	// Scenario is an embedded scenario name (ScenarioUAC, …).
	Scenario string
	// Remote is the host:port a client scenario sends to; empty for a server.
	Remote string
	// Transport is sipp's -t: "u1" (default, UDP one socket) or "t1" (TCP).
	Transport string
	// Port is the local SIP port (-p); 0 picks a free one (never 5060).
	Port int
	// MediaPort is -mp, the local RTP port; 0 picks a free even one.
	MediaPort int
	// RTPEcho turns on -rtp_echo: RTP received on MediaPort is sent back.
	RTPEcho bool
	// Calls is -m, the number of calls before sipp exits; default 1.
	Calls int
	// Rate is -r, new calls per second; default 10.
	Rate float64
	// Limit is -l, the most simultaneous calls; default Calls.
	Limit int
	// Timeout is sipp's own global -timeout (with -timeout_error); default 60 s.
	Timeout time.Duration
	// Username and Password for [authentication] (-au, -ap).
	Username, Password string

	// Pcap is played after the ACK by ScenarioUAC; empty sends no RTP.
	Pcap string
	// Hold is how long ScenarioUAC keeps the call up after the ACK; default 1 s.
	Hold time.Duration
	// AwaitBye makes ScenarioUAC wait for the callee's BYE instead of
	// hanging up itself after Hold.
	AwaitBye bool
	// SDPAddr and SDPPort override what the UAC's offer advertises
	// (default: sipp's real media address and -mp) to test symmetric RTP.
	SDPAddr string
	SDPPort int
	// Offer lists the G.711 payload types (PayloadPCMU, PayloadPCMA) the
	// UAC offers, in order of preference; default both, PCMU first.
	// telephone-event (101) is always offered.
	Offer []uint8
	// User is the user part of the request URI; default "waihu".
	User string
	// Ring is how long ScenarioUAS rings before answering; default 100 ms.
	Ring time.Duration
	// Args are appended to sipp's command line.
	Args []string
}

// scenarioData fills a scenario template.
type scenarioData struct {
	Pcap     string
	HoldMs   int64
	SDPAddr  string
	SDPPort  string
	User     string
	RingMs   int64
	AwaitBye bool
	Offer    []uint8
}

// Sipp is a running sipp.
type Sipp struct {
	*Proc
	// Config is the configuration with defaults and ports filled in.
	Config SippConfig
	// Dir holds the scenario and every log sipp writes.
	Dir string
	// Files sipp writes: statistics CSV, unexpected messages, final screen,
	// <log> actions, and the SIP message trace.
	StatFile, ErrorFile, ScreenFile, LogFile, MessageFile string
}

// SippResult is the outcome of a sipp run.
type SippResult struct {
	// ExitCode is sipp's: 0 all calls succeeded, 1 some failed, 97 exit
	// by command, 99 no call processed, 255 fatal error (-1), 254 bind error.
	ExitCode int
	// Successful and Failed are the cumulative call counts of the last
	// statistics row.
	Successful, Failed int
	// Stats is the last statistics row, by column name.
	Stats map[string]string
	// Err is set when sipp had to be killed at the deadline or its
	// statistics could not be read.
	Err error
}

// StartSipp writes the scenario and starts sipp in the foreground (with
// -nostdin), bounded by ctx and by its own -timeout. The process is stopped
// by PID when the test ends.
func StartSipp(ctx context.Context, t testing.TB, cfg SippConfig) *Sipp {
	t.Helper()
	bin := Need(t, "sipp")
	cfg = cfg.withDefaults(t)
	dir := t.TempDir()
	tmplText, err := scenarioFS.ReadFile("scenarios/" + cfg.Scenario + ".xml")
	if err != nil {
		t.Fatalf("sipp scenario %q: %v", cfg.Scenario, err)
	}
	tmpl, err := template.New(cfg.Scenario).Option("missingkey=error").Parse(string(tmplText))
	if err != nil {
		t.Fatalf("sipp scenario %q: %v", cfg.Scenario, err)
	}
	data := scenarioData{
		Pcap:     cfg.Pcap,
		HoldMs:   cfg.Hold.Milliseconds(),
		SDPAddr:  "[media_ip]",
		SDPPort:  "[media_port]",
		User:     cfg.User,
		RingMs:   cfg.Ring.Milliseconds(),
		AwaitBye: cfg.AwaitBye,
		Offer:    cfg.Offer,
	}
	if cfg.SDPAddr != "" {
		data.SDPAddr = cfg.SDPAddr
	}
	if cfg.SDPPort != 0 {
		data.SDPPort = strconv.Itoa(cfg.SDPPort)
	}
	var xml bytes.Buffer
	if err := tmpl.Execute(&xml, data); err != nil {
		t.Fatalf("sipp scenario %q: %v", cfg.Scenario, err)
	}
	sf := filepath.Join(dir, cfg.Scenario+".xml")
	if err := os.WriteFile(sf, xml.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Sipp{
		Config:      cfg,
		Dir:         dir,
		StatFile:    filepath.Join(dir, "stat.csv"),
		ErrorFile:   filepath.Join(dir, "errors.log"),
		ScreenFile:  filepath.Join(dir, "screen.log"),
		LogFile:     filepath.Join(dir, "actions.log"),
		MessageFile: filepath.Join(dir, "messages.log"),
	}
	args := []string{
		"-sf", sf,
		"-i", "127.0.0.1",
		"-mi", "127.0.0.1",
		"-p", strconv.Itoa(cfg.Port),
		"-mp", strconv.Itoa(cfg.MediaPort),
		"-t", cfg.Transport,
		"-m", strconv.Itoa(cfg.Calls),
		"-r", strconv.FormatFloat(cfg.Rate, 'f', -1, 64),
		"-l", strconv.Itoa(cfg.Limit),
		"-timeout", fmt.Sprintf("%ds", int(cfg.Timeout.Seconds())),
		"-timeout_error",
		"-nostdin",
		"-trace_stat", "-stf", s.StatFile,
		"-trace_err", "-error_file", s.ErrorFile,
		"-trace_screen", "-screen_file", s.ScreenFile,
		"-trace_logs", "-log_file", s.LogFile,
		"-trace_msg", "-message_file", s.MessageFile,
	}
	if cfg.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	if cfg.Username != "" {
		args = append(args, "-au", cfg.Username, "-ap", cfg.Password)
	}
	args = append(args, cfg.Args...)
	if cfg.Remote != "" {
		args = append(args, cfg.Remote)
	}
	s.Proc = Start(ctx, t, dir, bin, args...)
	if cfg.Remote == "" {
		// A server scenario is ready when its SIP port is bound; a
		// request sent earlier would be lost (a raw one is never resent).
		network := "udp"
		if cfg.Transport[0] == 't' {
			network = "tcp"
		}
		ready, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := WaitBound(ready, network, cfg.Port); err != nil {
			t.Fatalf("sipp %s: %v\n%s", cfg.Scenario, err, s.Diagnostics())
		}
	}
	return s
}

func (cfg SippConfig) withDefaults(t testing.TB) SippConfig {
	if cfg.Transport == "" {
		cfg.Transport = "u1"
	}
	if cfg.Port == 0 {
		if cfg.Transport[0] == 't' {
			cfg.Port = FreeTCPPort(t)
		} else {
			cfg.Port = FreeUDPPort(t)
		}
	}
	if cfg.MediaPort == 0 {
		// sipp binds audio RTP/RTCP at -mp and -mp+1 and video at -mp+2
		// and -mp+3, even for audio-only calls: all four must be free.
		cfg.MediaPort = FreeUDPRange(t, 4)
	}
	if cfg.Calls <= 0 {
		cfg.Calls = 1
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 10
	}
	if cfg.Limit <= 0 {
		cfg.Limit = cfg.Calls
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = time.Second
	}
	if cfg.User == "" {
		cfg.User = "waihu"
	}
	if len(cfg.Offer) == 0 {
		cfg.Offer = []uint8{PayloadPCMU, PayloadPCMA}
	}
	if cfg.Ring <= 0 {
		cfg.Ring = 100 * time.Millisecond
	}
	return cfg
}

// Addr is the host:port sipp takes SIP on.
func (s *Sipp) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Config.Port) }

// Wait waits for sipp to finish (stopping it at ctx's deadline) and reads
// its statistics.
func (s *Sipp) Wait(ctx context.Context) SippResult {
	code, err := s.Proc.Wait(ctx)
	res := SippResult{ExitCode: code, Err: err}
	stats, serr := readSippStats(s.StatFile)
	if serr != nil && res.Err == nil {
		res.Err = serr
	}
	res.Stats = stats
	res.Successful, _ = strconv.Atoi(stats["SuccessfulCall(C)"])
	res.Failed, _ = strconv.Atoi(stats["FailedCall(C)"])
	return res
}

// RunSipp starts sipp and waits for it.
func RunSipp(ctx context.Context, t testing.TB, cfg SippConfig) (*Sipp, SippResult) {
	t.Helper()
	s := StartSipp(ctx, t, cfg)
	return s, s.Wait(ctx)
}

// Diagnostics returns what a failing test should print: sipp's unexpected
// messages, its final screen and its stderr.
func (s *Sipp) Diagnostics() string {
	var b strings.Builder
	for _, f := range []string{s.ErrorFile, s.ScreenFile} {
		if data, err := os.ReadFile(f); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "--- sipp %s ---\n%s\n", filepath.Base(f), tail(data, 6000))
		}
	}
	b.WriteString(s.Proc.Output())
	return b.String()
}

// Logs returns the lines sipp's <log> actions wrote.
func (s *Sipp) Logs() []string {
	data, err := os.ReadFile(s.LogFile)
	if err != nil {
		return nil
	}
	return strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' })
}

// readSippStats parses the last row of sipp's -trace_stat CSV, a
// semicolon-separated file whose first line names the columns.
func readSippStats(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return map[string]string{}, fmt.Errorf("sipp statistics: %w", err)
	}
	lines := strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) < 2 {
		return map[string]string{}, fmt.Errorf("sipp statistics %s: no data row", path)
	}
	names := strings.Split(lines[0], ";")
	values := strings.Split(lines[len(lines)-1], ";")
	stats := make(map[string]string, len(names))
	for i, n := range names {
		if i < len(values) && n != "" {
			stats[n] = values[i]
		}
	}
	return stats, nil
}
