package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/internal/testpeer"
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
	h := phoneHandler("ws", func() uint16 { return 5066 })
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

func TestPhoneConfigPointsAtTheSecureWebSocketOverHTTPS(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/phone/config.json", nil)
	req.Host = "pbx.example"
	phoneHandler("wss", func() uint16 { return 5067 }).ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"ws":"wss://pbx.example:5067"`) {
		t.Errorf("config %s: want wss://pbx.example:5067", rec.Body.String())
	}
}

// TestPhonePageWithoutWebSocketSaysHowToGetOne: serve's HTTP address is on
// by default, --ws is not; the page must explain rather than fail to
// connect.
func TestPhonePageWithoutWebSocketSaysHowToGetOne(t *testing.T) {
	h := phoneHandler("ws", func() uint16 { return 0 })
	for _, path := range []string{"/phone/", "/phone/config.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), "--ws") {
			t.Errorf("GET %s: %d %q, want 503 naming --ws", path, rec.Code, rec.Body.String())
		}
	}
}

func TestPhoneFlagsRefuseABadWebSocketOrCertificate(t *testing.T) {
	srv := startServer(t, "")
	defer srv.close()
	cert, key := writeCert(t)
	tests := []struct {
		name  string
		flags phoneFlags
	}{
		{"--ws without a port", phoneFlags{ws: "no-port"}},
		{"--tls-cert that is not there", phoneFlags{ws: "127.0.0.1:0", tlsCert: cert + ".missing", tlsKey: key}},
		{"--tls-key without --tls-cert", phoneFlags{tlsKey: key}},
		{"--ws after the server started", phoneFlags{ws: "127.0.0.1:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.flags.attach(srv); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files, as --tls-cert and --tls-key take them.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "waihu test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
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

// TestSoftphoneBundleIsBuiltFromItsSource rebuilds web/dist/phone.js with
// the locked esbuild and JsSIP: the embedded bundle must be what the
// committed source builds to (run `npm run build` in web/ after editing).
func TestSoftphoneBundleIsBuiltFromItsSource(t *testing.T) {
	dir := playwright(t) // node_modules, installed from the lock file
	node := peer(t, "node")
	out := filepath.Join(t.TempDir(), "phone.js")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The build script's command, with the output elsewhere.
	pkg, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Scripts struct{ Build string } `json:"scripts"`
	}
	if err := json.Unmarshal(pkg, &manifest); err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(manifest.Scripts.Build)
	if len(args) == 0 || args[0] != "esbuild" {
		t.Fatalf("build script %q does not start with esbuild", manifest.Scripts.Build)
	}
	for i, a := range args {
		if strings.HasPrefix(a, "--outfile=") {
			args[i] = "--outfile=" + out
		}
	}
	// .bin/esbuild is the native binary or its node shim (with a #! line).
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "esbuild"), args[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(dir, "dist", "phone.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, committed) {
		t.Fatalf("web/dist/phone.js (%d bytes) is not what web/src builds to (%d bytes): run npm run build in web/", len(committed), len(built))
	}
}

// speechWAVs writes espeak-ng speech twice: at 48 kHz for Chromium's fake
// microphone, and as the 8 kHz reference the recording is compared with.
func speechWAVs(t *testing.T, dir string) (capture string, ref []int16) {
	t.Helper()
	espeak := peer(t, "espeak-ng")
	src := filepath.Join(dir, "speech.wav")
	// Four seconds: the call outlasts a whole loop of the fake microphone.
	text := "Hello, this is the browser calling waihu, one two three."
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

// driveResult is what web/test/drive.mjs prints.
type driveResult struct {
	Error   string   `json:"error"`
	Console []string `json:"console"`
	Events  []string `json:"events"`
	Digits  string   `json:"digits"`
	Muted   string   `json:"mutedLabel"`
	exitErr error
	Stats   struct {
		PacketsReceived  int     `json:"packetsReceived"`
		PacketsSent      int     `json:"packetsSent"`
		TotalAudioEnergy float64 `json:"totalAudioEnergy"`
		InboundCodec     string  `json:"inboundCodec"`
		OutboundCodec    string  `json:"outboundCodec"`
		AudioPlaying     bool    `json:"audioPlaying"`
		RTCPReceiver     int     `json:"rtcpReceiverReports"`
		RTCPSender       int     `json:"rtcpSenderReports"`
	} `json:"stats"`
}

// chromiumRig is a server with the softphone attached, as `waihu serve
// --ws --http` runs it, and what Chromium needs to call it.
type chromiumRig struct {
	n        *node // the whole `waihu serve`: SIP, media, control plane
	srv      *server
	tmp      string
	capture  string  // 48 kHz WAV Chromium's fake microphone plays
	ref      []int16 // the same speech at 8 kHz
	node     string
	chromium string
	webDir   string
	stopped  bool
	log      *lockedBuffer // the server's log, text format
	scheme   string        // of the page: http (default) or https
}

// lockedBuffer is an io.Writer for a logger shared by goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// digitsLogged lists the keys the server logged as received, in order.
func (r *chromiumRig) digitsLogged() string {
	var out string
	for _, line := range strings.Split(r.log.String(), "\n") {
		if strings.Contains(line, "msg=dtmf ") {
			if _, d, ok := strings.Cut(line, " digit="); ok && d != "" {
				out += d[:1]
			}
		}
	}
	return out
}

func startChromiumRig(t *testing.T, trunks []TrunkConfig) *chromiumRig {
	return startChromiumRigWith(t, trunks, false)
}

// startChromiumRigWith serves the page over HTTPS and signals over wss when
// secure is set, with a self-signed certificate Chromium is told to accept.
func startChromiumRigWith(t *testing.T, trunks []TrunkConfig, secure bool) *chromiumRig {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("Chromium interop runs on Linux")
	}
	r := &chromiumRig{tmp: t.TempDir()}
	r.chromium = peer(t, "chromium", "chromium-browser")
	r.node = peer(t, "node")
	r.webDir = playwright(t)
	r.capture, r.ref = speechWAVs(t, r.tmp)

	cfg := defaultConfig()
	off := false
	cfg.Bot = BotConfig{Enabled: &off}
	cfg.Data = r.tmp
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.Transports = []string{"udp"}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.RTP.PortMin, cfg.RTP.PortMax = 40000, 44999
	cfg.Trunks = trunks
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	r.log = &lockedBuffer{}
	var w io.Writer = r.log
	if os.Getenv("WAIHU_TEST_LOG") != "" {
		w = io.MultiWriter(r.log, os.Stderr)
	}
	cfg.HTTP.Listen = "127.0.0.1:0"
	ph := phoneFlags{ws: "127.0.0.1:0"}
	if secure {
		ph.tlsCert, ph.tlsKey = writeCert(t)
		r.scheme = "https"
	}
	n, err := startNode(context.Background(), cfg, ph, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.n, r.srv = n, n.srv
	t.Cleanup(r.stop)
	return r
}

// stop ends the server, which flushes every recording.
func (r *chromiumRig) stop() {
	if !r.stopped {
		r.stopped = true
		r.n.close()
	}
}

// call runs web/test/drive.mjs: open the page, call target, talk for
// talkSeconds, press digits, mute, hang up.
func (r *chromiumRig) call(t *testing.T, target string, talkSeconds int, digits string, extra ...string) driveResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	scheme := "http"
	if r.scheme != "" {
		scheme = r.scheme
		extra = append(extra, "--insecure", "1") // our self-signed certificate
	}
	url := scheme + "://" + r.n.control.addr.String() + "/phone/?raw=1&target=" + target
	args := []string{filepath.Join(r.webDir, "test", "drive.mjs"),
		"--url", url, "--wav", r.capture, "--talk", strconv.Itoa(talkSeconds), "--digits", digits, "--chromium", r.chromium}
	cmd := exec.CommandContext(ctx, r.node, append(args, extra...)...)
	cmd.Dir = r.webDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var got driveResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &got); err != nil {
		t.Fatalf("driver output %q (%v): %v\nstderr: %s", out, runErr, err, stderr.String())
	}
	got.exitErr = runErr
	t.Logf("page: events %v, stats %+v", got.Events, got.Stats)
	return got
}

// recording returns the one recording the server made.
func (r *chromiumRig) recording(t *testing.T) []int16 {
	t.Helper()
	r.stop()
	recs, _ := filepath.Glob(filepath.Join(r.tmp, "recordings", "*.wav"))
	if len(recs) != 1 {
		t.Fatalf("recordings %v, want one", recs)
	}
	pcm, _, err := audiofile.ReadFile(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// checkHeardSpeech fails t unless pcm carries the speech Chromium captured.
func (r *chromiumRig) checkHeardSpeech(t *testing.T, pcm []int16, what string) {
	t.Helper()
	if len(pcm) < 4*8000 {
		t.Fatalf("%s holds %d samples, want ≥ 4 s", what, len(pcm))
	}
	// Frame by frame, so that a jitter-buffer slip does not hide speech
	// that arrived.
	c := testpeer.Compare(r.ref, pcm, len(pcm))
	if c.FoundRatio() < 0.9 {
		t.Errorf("%s holds %.0f%% of the browser's microphone speech, want ≥ 90%%: %v", what, 100*c.FoundRatio(), c)
	} else {
		t.Logf("%s holds %.0f%% of the speech Chromium captured: %v", what, 100*c.FoundRatio(), c)
	}
}

// checkCall fails t unless the page's call carried PCMU both ways and the
// remote audio played.
func checkCall(t *testing.T, got driveResult, minPackets int) {
	t.Helper()
	if got.Error != "" || got.exitErr != nil {
		t.Fatalf("driver: %s (%v)\nevents: %v\nconsole: %v", got.Error, got.exitErr, got.Events, got.Console)
	}
	st := got.Stats
	if st.InboundCodec != "audio/PCMU" || st.OutboundCodec != "audio/PCMU" {
		t.Errorf("codecs in %q out %q, want audio/PCMU both ways (no transcoding)", st.InboundCodec, st.OutboundCodec)
	}
	if st.PacketsReceived < minPackets || st.PacketsSent < minPackets {
		t.Errorf("packets received %d sent %d: want ≥ %d each way", st.PacketsReceived, st.PacketsSent, minPackets)
	}
	// Energy is only counted while the track plays through the unmuted
	// <audio> element, so this proves the page played what it received.
	if !st.AudioPlaying || st.TotalAudioEnergy <= 0 {
		t.Errorf("remote audio playing %v, energy %g: want audio heard", st.AudioPlaying, st.TotalAudioEnergy)
	}
	// The browser builds these stats from our RTCP receiver and sender
	// reports only.
	if st.RTCPReceiver == 0 || st.RTCPSender == 0 {
		t.Errorf("RTCP from the server: %d receiver reports with round trips, %d sender reports; want both", st.RTCPReceiver, st.RTCPSender)
	}
	if n := len(got.Events); n == 0 || !strings.HasPrefix(got.Events[n-1], "ended") {
		t.Errorf("events %v: want the call to end by our hang-up", got.Events)
	}
}

// TestBrowserSoftphoneCallsTheServerInHeadlessChromium is the proof of the
// softphone: Chromium opens /phone, calls the demo over SIP WebSocket with
// its fake microphone playing espeak speech, and both directions carry
// audio: the server's recording correlates with the speech, the page plays
// the prompt.
func TestBrowserSoftphoneCallsTheServerInHeadlessChromium(t *testing.T) {
	// A WebRTC call leaves nothing running once the server stopped.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := startChromiumRig(t, nil)
	got := r.call(t, demoTarget, 6, "12")
	checkCall(t, got, 100)
	if got.Digits != "12" || got.Muted != "Unmute" {
		t.Errorf("keypad showed %q, mute button %q: want 12 and Unmute", got.Digits, got.Muted)
	}
	if !slices.Contains(got.Events, "dtmf 1 RFC2833") {
		t.Errorf("events %v: want the key sent in the media (RFC 4733)", got.Events)
	}
	if d := r.digitsLogged(); d != "12" {
		t.Errorf("server received keys %q, want 12", d)
	}
	heard := r.recording(t)
	r.checkHeardSpeech(t, heard, "the server's recording")
	// The page was muted for its last 1.5 s: the last second recorded is
	// silence (the fake microphone loops speech, so it would not be).
	if len(heard) > 8000 {
		peak := 0
		for _, v := range heard[len(heard)-8000:] {
			peak = max(peak, int(math.Abs(float64(v))))
		}
		if peak > 300 {
			t.Errorf("last second after mute peaks at %d, want silence", peak)
		}
	}
}

// TestBrowserSoftphoneCallIsBridgedToATrunk calls a number: waihu dials it
// through its trunk (sipp answering and echoing RTP) and relays both ways,
// so the browser's speech goes browser → waihu → sipp → waihu → browser.
func TestBrowserSoftphoneCallIsBridgedToATrunk(t *testing.T) {
	testpeer.Need(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uas := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioUAS, RTPEcho: true, User: "13800138000", Timeout: 90 * time.Second})
	r := startChromiumRig(t, []TrunkConfig{{Name: "carrier", Address: uas.Addr(), Username: "waihu"}})
	got := r.call(t, "13800138000", 6, "3")
	checkCall(t, got, 100)
	if d := r.digitsLogged(); d != "3" || strings.Contains(r.log.String(), "dtmf not forwarded") {
		t.Errorf("server received keys %q (want 3) or failed to forward them:\n%s", d, r.log.String())
	}
	if res := uas.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Errorf("sipp: exit %d, %d successful calls, want the bridged call\n%s", res.ExitCode, res.Successful, uas.Diagnostics())
	}
	// The recording is the browser's side of the bridge.
	r.checkHeardSpeech(t, r.recording(t), "the bridged call's recording")
}

// TestBrowserSoftphoneSeesTheTrunksRefusal passes a busy far end back to
// the page as the call's failure.
func TestBrowserSoftphoneSeesTheTrunksRefusal(t *testing.T) {
	testpeer.Need(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uas := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioBusy, Timeout: 60 * time.Second})
	r := startChromiumRig(t, []TrunkConfig{{Name: "carrier", Address: uas.Addr(), Username: "waihu"}})
	got := r.call(t, "13800138000", 1, "")
	if got.exitErr == nil {
		t.Fatalf("the call to a busy number was answered: events %v", got.Events)
	}
	if !slices.ContainsFunc(got.Events, func(e string) bool { return e == "failed: Busy" }) {
		t.Errorf("events %v: want failed: Busy", got.Events)
	}
}

// TestBrowserSoftphoneHangingUpWhileRingingCancelsTheFarEnd: the page hangs
// up while the trunk's callee rings, and waihu cancels its own INVITE.
func TestBrowserSoftphoneHangingUpWhileRingingCancelsTheFarEnd(t *testing.T) {
	testpeer.Need(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uas := testpeer.StartSipp(ctx, t, testpeer.SippConfig{Scenario: testpeer.ScenarioRing, Timeout: 60 * time.Second})
	r := startChromiumRig(t, []TrunkConfig{{Name: "carrier", Address: uas.Addr(), Username: "waihu"}})
	got := r.call(t, "13800138000", 1, "", "--cancel", "500")
	if got.Error != "" || got.exitErr != nil {
		t.Fatalf("driver: %s (%v)\nevents: %v", got.Error, got.exitErr, got.Events)
	}
	if !slices.Contains(got.Events, "failed: Canceled") {
		t.Errorf("events %v: want failed: Canceled", got.Events)
	}
	if res := uas.Wait(ctx); res.ExitCode != 0 || res.Successful != 1 {
		t.Errorf("sipp: exit %d, %d successful: want its INVITE cancelled\n%s", res.ExitCode, res.Successful, uas.Diagnostics())
	}
}

// TestBrowserSoftphoneWorksOverHTTPSAndSecureWebSocket: with --tls-cert the
// page comes over HTTPS and signals over wss, as a browser off localhost
// requires before it opens the microphone.
func TestBrowserSoftphoneWorksOverHTTPSAndSecureWebSocket(t *testing.T) {
	r := startChromiumRigWith(t, nil, true)
	got := r.call(t, demoTarget, 5, "")
	checkCall(t, got, 100)
	r.checkHeardSpeech(t, r.recording(t), "the recording over wss")
	if !strings.Contains(r.log.String(), "sip_wss=") {
		t.Errorf("server log does not show the wss listener")
	}
}
