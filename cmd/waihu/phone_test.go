package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/webrtc"
)

// A WebRTC leg is an audio leg like rtp's for the dialog engine, and a media
// leg for the SIP layer's timers.
var (
	_ dialog.Leg   = (*webrtc.Leg)(nil)
	_ sip.MediaLeg = (*webrtc.Leg)(nil)
)

func TestPhonePageServesTheBundleAndWhereToSignal(t *testing.T) {
	h := phoneHandler(5066)
	tests := []struct {
		name, method, path, host string
		wantCode                 int
		wantType, wantBody       string
	}{
		{"page", "GET", "/phone/", "127.0.0.1:8080", 200, "text/html", `<script src="phone.js"></script>`},
		{"bundle", "GET", "/phone/phone.js", "127.0.0.1:8080", 200, "text/javascript", "JsSIP"},
		{"config uses the page's host", "GET", "/phone/config.json", "pbx.example:8080", 200, "application/json", `"ws":"ws://pbx.example:5066"`},
		{"config on IPv6", "GET", "/phone/config.json", "[::1]:8080", 200, "application/json", `"ws":"ws://[::1]:5066"`},
		{"bare path redirects", "GET", "/phone", "127.0.0.1:8080", 301, "", ""},
		{"unknown file", "GET", "/phone/secret", "127.0.0.1:8080", 404, "", ""},
		{"writes refused", "POST", "/phone/", "127.0.0.1:8080", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body lacks %q", tt.wantBody)
			}
		})
	}
}

func TestPhoneFlagsNeedTheWebSocketForThePage(t *testing.T) {
	srv := startServer(t, "")
	defer srv.close()
	if err := (phoneFlags{http: "127.0.0.1:0"}).attach(srv); err == nil {
		t.Error("--http without --ws accepted")
	}
	if err := (phoneFlags{ws: "no-port"}).attach(srv); err == nil {
		t.Error("--ws without a port accepted")
	}
	if err := (phoneFlags{ws: "127.0.0.1:0"}).attach(srv); err == nil {
		t.Error("--ws accepted after the server started")
	}
}

// peer finds a program the Chromium test needs: missing, it skips the test
// on a developer machine and fails it in CI.
func peer(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed (CI is set: scripts/test must install it)", names[0])
	}
	t.Skipf("%s not installed", names[0])
	return ""
}

// playwright returns web/'s directory with playwright-core installed,
// running `npm ci` there once if node_modules is missing.
func playwright(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err == nil {
		return dir
	}
	npm := peer(t, "npm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
		t.Skipf("npm ci in %s failed: %v", dir, err)
	}
	return dir
}

// speechWAVs writes espeak-ng speech twice: at 48 kHz for Chromium's fake
// microphone, and as the 8 kHz reference the recording is compared with.
func speechWAVs(t *testing.T, dir string) (capture string, ref []int16) {
	t.Helper()
	espeak := peer(t, "espeak-ng")
	src := filepath.Join(dir, "speech.wav")
	text := "Hello, this is the browser calling waihu. One two three four five. The quick brown fox jumps over the lazy dog."
	if out, err := exec.Command(espeak, "-v", "en-us", "-s", "150", "-w", src, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	ref, _, err := audiofile.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	raw, rate := readPCM16(t, src)
	capture = filepath.Join(dir, "speech48k.wav")
	if err := os.WriteFile(capture, wav48k(raw, rate), 0o600); err != nil {
		t.Fatal(err)
	}
	return capture, ref
}

// readPCM16 reads a mono 16-bit PCM WAV as written by espeak-ng.
func readPCM16(t *testing.T, path string) ([]int16, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" {
		t.Fatalf("%s: not a WAV", path)
	}
	rate := int(binary.LittleEndian.Uint32(b[24:28]))
	// Find the data chunk; espeak writes it right after fmt.
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		off += 8
		if id == "data" {
			size = min(size, len(b)-off)
			pcm := make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[off+2*i:]))
			}
			return pcm, rate
		}
		off += size + size%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil, 0
}

// wav48k upsamples pcm to 48 kHz (linear interpolation: only images far
// above the telephone band appear, which the browser's G.711 path filters)
// and wraps it in a WAV header, padded with 0.5 s of silence each side.
func wav48k(pcm []int16, rate int) []byte {
	const outRate = 48000
	n := int(int64(len(pcm)) * outRate / int64(rate))
	pad := outRate / 2
	out := make([]int16, n+2*pad)
	for i := range n {
		pos := float64(i) * float64(rate) / outRate
		j := int(pos)
		frac := pos - float64(j)
		a, b := float64(pcm[j]), float64(pcm[min(j+1, len(pcm)-1)])
		out[pad+i] = int16(math.Round(a + (b-a)*frac))
	}
	var buf bytes.Buffer
	data := len(out) * 2
	buf.WriteString("RIFF")
	_ = binary.Write(&buf, binary.LittleEndian, uint32(36+data))
	buf.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(outRate), uint32(outRate * 2), uint16(2), uint16(16)} {
		_ = binary.Write(&buf, binary.LittleEndian, v) // a bytes.Buffer never fails
	}
	buf.WriteString("data")
	_ = binary.Write(&buf, binary.LittleEndian, uint32(data))
	_ = binary.Write(&buf, binary.LittleEndian, out)
	return buf.Bytes()
}

// loudestSecond is the one-second stretch of pcm with the most energy.
func loudestSecond(pcm []int16) []int16 {
	const win = 8000
	best, at := -1.0, 0
	for off := 0; off+win <= len(pcm); off += 800 {
		var e float64
		for _, v := range pcm[off : off+win] {
			e += float64(v) * float64(v)
		}
		if e > best {
			best, at = e, off
		}
	}
	return pcm[at : at+win]
}

// bestCorrelation is the highest normalised cross-correlation of ref
// against got at any lag.
func bestCorrelation(got, ref []int16) float64 {
	var refE float64
	for _, v := range ref {
		refE += float64(v) * float64(v)
	}
	best := 0.0
	for lag := 0; lag+len(ref) <= len(got); lag++ {
		var dot, e float64
		for i, r := range ref {
			g := float64(got[lag+i])
			dot += g * float64(r)
			e += g * g
		}
		if e > 0 {
			best = max(best, dot/math.Sqrt(e*refE))
		}
	}
	return best
}

// driveResult is what web/test/drive.mjs prints.
type driveResult struct {
	Error   string   `json:"error"`
	Console []string `json:"console"`
	Events  []string `json:"events"`
	Digits  string   `json:"digits"`
	Muted   string   `json:"mutedLabel"`
	Stats   struct {
		PacketsReceived  int     `json:"packetsReceived"`
		PacketsSent      int     `json:"packetsSent"`
		TotalAudioEnergy float64 `json:"totalAudioEnergy"`
		InboundCodec     string  `json:"inboundCodec"`
		OutboundCodec    string  `json:"outboundCodec"`
		AudioPlaying     bool    `json:"audioPlaying"`
	} `json:"stats"`
}

// TestBrowserSoftphoneCallsTheServerInHeadlessChromium is the proof of the
// softphone: Chromium opens /phone, calls over SIP WebSocket with its fake
// microphone playing espeak speech, and both directions carry audio: the
// server's recording correlates with the speech, the page plays the prompt.
func TestBrowserSoftphoneCallsTheServerInHeadlessChromium(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Chromium interop runs on Linux")
	}
	chromium := peer(t, "chromium", "chromium-browser")
	node := peer(t, "node")
	webDir := playwright(t)
	tmp := t.TempDir()
	capture, ref := speechWAVs(t, tmp)

	// A server with the softphone attached before it starts, as serve does.
	cfg := defaultConfig()
	off := false
	cfg.Bot = BotConfig{Enabled: &off}
	cfg.Data = tmp
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.Transports = []string{"udp"}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.RTP.PortMin, cfg.RTP.PortMax = 40000, 44999
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ph := phoneFlags{ws: "127.0.0.1:0", http: "127.0.0.1:0"}
	if err := ph.attach(srv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.start(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := ph.start(ctx, srv)
	if err != nil {
		srv.close()
		t.Fatal(err)
	}
	closed := false
	stop := func() {
		if !closed {
			closed = true
			page.close()
			srv.close()
		}
	}
	defer stop()

	url := "http://" + page.addr.String() + "/phone/?raw=1"
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	cmd := exec.CommandContext(ctx, node, filepath.Join(webDir, "test", "drive.mjs"),
		"--url", url, "--wav", capture, "--talk", "6", "--digits", "12", "--chromium", chromium)
	cmd.Dir = webDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var got driveResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &got); err != nil {
		t.Fatalf("driver output %q (%v): %v\nstderr: %s", out, runErr, err, stderr.String())
	}
	if got.Error != "" || runErr != nil {
		t.Fatalf("driver: %s (%v)\nevents: %v\nconsole: %v\nstderr: %s", got.Error, runErr, got.Events, got.Console, stderr.String())
	}
	t.Logf("page: events %v, stats %+v", got.Events, got.Stats)

	st := got.Stats
	if st.InboundCodec != "audio/PCMU" || st.OutboundCodec != "audio/PCMU" {
		t.Errorf("codecs in %q out %q, want audio/PCMU both ways (no transcoding)", st.InboundCodec, st.OutboundCodec)
	}
	if st.PacketsReceived < 100 || st.PacketsSent < 100 {
		t.Errorf("packets received %d sent %d: want ≥ 100 each way in 6 s", st.PacketsReceived, st.PacketsSent)
	}
	// Energy is only counted while the track plays through the unmuted
	// <audio> element, so this proves the greeting was heard.
	if !st.AudioPlaying || st.TotalAudioEnergy <= 0 {
		t.Errorf("remote audio playing %v, energy %g: want the greeting heard", st.AudioPlaying, st.TotalAudioEnergy)
	}
	if got.Digits != "12" || got.Muted != "Unmute" {
		t.Errorf("keypad showed %q, mute button %q: want 12 and Unmute", got.Digits, got.Muted)
	}
	if n := len(got.Events); n == 0 || !strings.HasPrefix(got.Events[n-1], "ended") {
		t.Errorf("events %v: want the call to end by our hang-up", got.Events)
	}

	stop() // flushes the recording
	recs, _ := filepath.Glob(filepath.Join(tmp, "recordings", "*.wav"))
	if len(recs) != 1 {
		t.Fatalf("recordings %v, want one", recs)
	}
	heard, _, err := audiofile.ReadFile(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(heard) < 4*8000 {
		t.Fatalf("recording holds %d samples, want ≥ 4 s", len(heard))
	}
	peak := 0
	for _, v := range heard {
		peak = max(peak, int(math.Abs(float64(v))))
	}
	t.Logf("recording: %d samples, peak %d", len(heard), peak)
	if c := bestCorrelation(heard, loudestSecond(ref)); c < 0.7 {
		t.Errorf("recording correlates %.3f with the browser's microphone speech, want ≥ 0.7", c)
	} else {
		t.Logf("recording correlates %.3f with the speech Chromium captured", c)
	}
}
