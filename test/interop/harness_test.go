//go:build interop

package interop

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// waihuBin is the binary under test, built once by TestMain.
var waihuBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "waihu-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	waihuBin = filepath.Join(dir, "waihu")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", waihuBin, "./cmd/waihu")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: go build ./cmd/waihu: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// serverOptions shape one `waihu serve`.
type serverOptions struct {
	// prompt is played to every caller; nil keeps the embedded greeting.
	prompt []int16
	// extraYAML is appended to the generated config (e.g. trunks).
	extraYAML string
	// rtpPorts is the size of the RTP port range; default 40.
	rtpPorts int
	// bot keeps serve's default demo bot on.
	bot bool
}

// server is a running `waihu serve`.
type server struct {
	*testpeer.Proc
	addr           string
	data           string
	rtpMin, rtpMax int
}

// startServer runs `waihu serve` on a free loopback port with JSON logs and
// waits until it answers OPTIONS. The test's cleanup stops it by PID.
func startServer(ctx context.Context, t *testing.T, opts serverOptions) *server {
	t.Helper()
	dir := t.TempDir()
	if opts.rtpPorts == 0 {
		opts.rtpPorts = 40
	}
	s := &server{
		addr: fmt.Sprintf("127.0.0.1:%d", testpeer.FreeSIPPort(t)),
		data: filepath.Join(dir, "data"),
	}
	s.rtpMin = testpeer.FreeUDPRange(t, opts.rtpPorts)
	s.rtpMax = s.rtpMin + opts.rtpPorts - 1
	var cfg strings.Builder
	cfg.WriteString("rtp:\n  bind_ip: 127.0.0.1\n")
	// Most tests prove the call path (SIP, RTP, prompt, recording, DTMF log)
	// and turn off the bot that serve runs by default; bot_test.go keeps it.
	if !opts.bot {
		cfg.WriteString("bot:\n  enabled: false\n")
	}
	if opts.prompt != nil {
		p := filepath.Join(dir, "prompt.wav")
		if err := testpeer.WriteWAV(p, opts.prompt, testpeer.SampleRate); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "inbound:\n  prompt: %q\n", p)
	}
	cfg.WriteString(opts.extraYAML)
	cfgPath := filepath.Join(dir, "waihu.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Proc = testpeer.Start(ctx, t, dir, waihuBin, "serve",
		"--listen", s.addr,
		"--data", s.data,
		"--rtp-ports", fmt.Sprintf("%d-%d", s.rtpMin, s.rtpMax),
		"--log-format", "json",
		"--config", cfgPath)
	ready, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := testpeer.WaitSIP(ready, s.addr); err != nil {
		t.Fatalf("waihu serve: %v\n%s", err, s.Output())
	}
	return s
}

// recording is the path of a call's recording.
func (s *server) recording(callID string) string {
	return filepath.Join(s.data, "recordings", callID+".wav")
}

// stop sends SIGTERM and expects a clean exit (status 0) in time.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM waihu: %v", err)
	}
	select {
	case <-s.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("waihu still running 15 s after SIGTERM\n%s", s.Output())
	}
	if code := s.Stop(); code != 0 {
		t.Fatalf("waihu exited %d after SIGTERM, want 0\n%s", code, s.Output())
	}
}

// logLine is one JSON log record of waihu's stderr.
type logLine map[string]any

func (l logLine) str(key string) string {
	v, _ := l[key].(string)
	return v
}

// logs parses waihu's JSON log lines so far; other lines are skipped.
func (s *server) logs() []logLine {
	return readLogs(s.Stderr)
}

func readLogs(path string) []logLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// waitLogs polls waihu's log until want holds for the matching lines, or
// ctx ends; it returns the matching lines either way.
func (s *server) waitLogs(ctx context.Context, match func(logLine) bool, want func([]logLine) bool) ([]logLine, error) {
	for {
		var got []logLine
		for _, l := range s.logs() {
			if match(l) {
				got = append(got, l)
			}
		}
		if want(got) {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-s.Done():
			return got, fmt.Errorf("waihu exited: %s", s.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func msgIs(msg string) func(logLine) bool {
	return func(l logLine) bool { return l.str("msg") == msg }
}

func atLeast(n int) func([]logLine) bool {
	return func(l []logLine) bool { return len(l) >= n }
}

// callIDs returns the Call-IDs sipp's uac scenario logged, one per call.
func callIDs(s *testpeer.Sipp) []string {
	var ids []string
	for _, line := range s.Logs() {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "call" && f[2] == "remote_rtp_port" {
			ids = append(ids, f[1])
		}
	}
	return ids
}

// remoteRTPPort returns the media port of the answer sipp's uac logged.
func remoteRTPPort(s *testpeer.Sipp) (string, int) {
	for _, line := range s.Logs() {
		var id string
		var port int
		if n, _ := fmt.Sscanf(line, "call %s remote_rtp_port %d", &id, &port); n == 2 {
			return id, port
		}
	}
	return "", 0
}

// minFound is the share of the voiced 20 ms frames of the audio sent that
// must be found (normalised correlation ≥ 0.9 at a whole-frame offset) in
// what was recorded or heard. On loopback no packet is lost, but waihu
// records its jitter buffer's playout, which drops a frame now and then
// when it shrinks after sender jitter (seen: 2 of 242 under load 5); more
// than 5 % lost is lost speech, not adaptation.
const minFound = 0.95

// matchRecording reads a WAV and compares it with ref (lags up to maxLag);
// it fails t with the detail when the file is missing, not 8 kHz, or does
// not hold (nearly) all of ref's speech in order.
func matchRecording(t *testing.T, path string, ref []int16, maxLag time.Duration) testpeer.Comparison {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitRecording(ctx, path); err != nil {
		t.Errorf("recording: %v", err)
		return testpeer.Comparison{}
	}
	pcm, rate, err := testpeer.ReadWAV(path)
	if err != nil {
		t.Errorf("recording: %v", err)
		return testpeer.Comparison{}
	}
	if rate != testpeer.SampleRate {
		t.Errorf("recording %s is %d Hz, want %d", filepath.Base(path), rate, testpeer.SampleRate)
	}
	return matchAudio(t, filepath.Base(path), path, ref, pcm, maxLag)
}

// waitRecording waits until path is a finished WAV file: its RIFF and data
// sizes agree with its length. A recorder writes a placeholder header and
// fixes it when the call's recording is flushed; reading earlier would
// judge a half-written file. (The SIP layer's "call ended" line comes
// before the flush, so the log is no signal for this.)
func waitRecording(ctx context.Context, path string) error {
	for {
		info, err := os.Stat(path)
		if err == nil && info.Size() > 44 {
			f, err := os.Open(path)
			if err == nil {
				hdr := make([]byte, 44)
				_, rerr := io.ReadFull(f, hdr)
				f.Close()
				riff := int64(binary.LittleEndian.Uint32(hdr[4:]))
				if rerr == nil && riff+8 == info.Size() {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			size := int64(-1)
			if info != nil {
				size = info.Size()
			}
			return fmt.Errorf("%s not finished (size %d): %w", filepath.Base(path), size, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// distinctCalls is a waitLogs goal: lines for n distinct calls. Each call
// may log "call answered" and "call ended" twice: the SIP layer and the
// media layer.
func distinctCalls(n int) func([]logLine) bool {
	return func(ls []logLine) bool {
		ids := map[string]bool{}
		for _, l := range ls {
			ids[l.str("call_id")] = true
		}
		return len(ids) >= n
	}
}

// matchAudio compares received audio with ref, as matchRecording does.
func matchAudio(t *testing.T, what, artifact string, ref, got []int16, maxLag time.Duration) testpeer.Comparison {
	t.Helper()
	c := testpeer.Compare(ref, got, int(maxLag.Seconds()*testpeer.SampleRate))
	if c.FoundRatio() < minFound || c.OutOfOrder*100 > c.Frames {
		load, _ := os.ReadFile("/proc/loadavg")
		t.Errorf("%s (%v) does not hold the audio sent (want ≥ %.0f%% of voiced frames found, ≤ 1%% out of order; load average %s): %v",
			what, testpeer.Duration(got), 100*minFound, strings.TrimSpace(string(load)), c)
		if artifact != "" {
			keepArtifact(t, artifact)
		}
	}
	return c
}

// keepArtifact copies a file into $WAIHU_INTEROP_KEEP/<test name>/ when
// that variable is set, so a failing recording can be listened to.
func keepArtifact(t *testing.T, path string) {
	dir := os.Getenv("WAIHU_INTEROP_KEEP")
	if dir == "" {
		return
	}
	dst := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Logf("keep %s: %v", path, err)
		return
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dst, filepath.Base(path)), data, 0o644)
	}
	if err != nil {
		t.Logf("keep %s: %v", path, err)
		return
	}
	t.Logf("kept %s in %s", filepath.Base(path), dst)
}
