package testpeer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BaresipConfig shapes a headless baresip softphone.
type BaresipConfig struct {
	// Source is the audio baresip sends (8 kHz), padded with silence to
	// SourceLength because baresip hangs up when its source file ends
	// (PEERS.md). Empty means silence.
	Source []int16
	// SourceLength is the total length of the source file; default 60 s.
	SourceLength time.Duration
	// SIPPort is baresip's local SIP port; 0 picks a free one.
	SIPPort int
	// CtrlPort is the ctrl_tcp port; 0 picks a free one.
	CtrlPort int
	// RTPPort is the first of baresip's RTP ports (it gets ten); 0 picks.
	RTPPort int
	// Codecs is the account's audio_codecs list; default "PCMU,PCMA".
	Codecs string
	// TLSCertificate is a PEM file holding baresip's certificate followed
	// by its private key (sip_certificate). baresip serves SIP over TLS on
	// SIPPort+1 (TLSPort) whether or not it is set, but without it the
	// handshake fails.
	TLSCertificate string
	// TLSCAFile is the PEM file of authorities baresip trusts when it dials
	// a TLS server (sip_cafile).
	TLSCAFile string
	// MediaEnc is the account's media encryption, which loads baresip's
	// srtp module: "srtp" (best effort: RTP/AVP with a=crypto), "srtp-mand"
	// (RTP/SAVP, calls without SRTP fail) or "srtp-mandf". Empty: plain RTP.
	MediaEnc string
	// Record writes each call's audio, sent and received, to WAV files in
	// Dir (module sndfile); Recordings lists them.
	Record bool
}

// BaresipEvent is one event baresip reports over ctrl_tcp.
type BaresipEvent struct {
	Type  string `json:"type"`
	Class string `json:"class"`
	Param string `json:"param"`
	Peer  string `json:"peeruri"`
	ID    string `json:"id"`
}

// Baresip is a running baresip 1.0.0 driven over ctrl_tcp (netstring JSON).
type Baresip struct {
	*Proc
	Config BaresipConfig
	// Dir is baresip's config directory (-f).
	Dir string

	conn      net.Conn
	events    chan BaresipEvent
	mu        sync.Mutex
	responses map[string]chan baresipResponse
	token     int
}

type baresipResponse struct {
	OK   bool   `json:"ok"`
	Data string `json:"data"`
}

// StartBaresip writes a config directory (modules g711, aufile, alsa with
// the null device, account, menu, ctrl_tcp), starts baresip bound to
// 127.0.0.1 and connects to its control port. baresip is stopped by PID
// when the test ends.
func StartBaresip(ctx context.Context, t testing.TB, cfg BaresipConfig) *Baresip {
	t.Helper()
	// Ports are picked free, but other test processes run beside this one
	// and may take one before baresip binds it; baresip then exits at once.
	// Retry with fresh ports rather than fail the test on that race.
	const attempts = 3
	var last string
	for i := 0; i < attempts; i++ {
		b, output := startBaresip(ctx, t, cfg)
		if b != nil {
			return b
		}
		last = output
		if ctx.Err() != nil {
			break
		}
	}
	t.Fatalf("baresip did not start in %d attempts; last output:\n%s", attempts, last)
	return nil
}

// startBaresip makes one attempt; it returns nil and baresip's output when
// baresip exits or its control port does not open.
func startBaresip(ctx context.Context, t testing.TB, cfg BaresipConfig) (*Baresip, string) {
	t.Helper()
	bin := Need(t, "baresip")
	if cfg.SourceLength <= 0 {
		cfg.SourceLength = 60 * time.Second
	}
	if cfg.SIPPort == 0 {
		cfg.SIPPort = freeBaresipSIPPort(t)
	}
	if cfg.CtrlPort == 0 {
		cfg.CtrlPort = FreeTCPPort(t)
	}
	if cfg.RTPPort == 0 {
		cfg.RTPPort = FreeUDPRange(t, 10)
	}
	if cfg.Codecs == "" {
		cfg.Codecs = "PCMU,PCMA"
	}
	dir := t.TempDir()
	src := append([]int16(nil), cfg.Source...)
	if pad := int(cfg.SourceLength.Seconds()*SampleRate) - len(src); pad > 0 {
		src = append(src, make([]int16, pad)...)
	}
	wav := filepath.Join(dir, "source.wav")
	if err := WriteWAV(wav, src, SampleRate); err != nil {
		t.Fatal(err)
	}
	// The account module reads the accounts file as it loads, so the
	// media encryption it names must be loaded before it.
	srtpModule := ""
	if cfg.MediaEnc != "" {
		srtpModule = "module\tsrtp.so\n"
	}
	config := fmt.Sprintf(`poll_method	epoll
sip_listen	127.0.0.1:%d
sip_transports	udp
audio_source	aufile,%s
audio_player	alsa,null
audio_alert	alsa,null
rtp_ports	%d-%d
module_path	/usr/lib/baresip/modules
module	g711.so
module	aufile.so
module	alsa.so
%smodule	account.so
module	menu.so
module	ctrl_tcp.so
ctrl_tcp_listen	127.0.0.1:%d
`, cfg.SIPPort, wav, cfg.RTPPort, cfg.RTPPort+9, srtpModule, cfg.CtrlPort)
	if cfg.TLSCertificate != "" {
		config += "sip_certificate\t" + cfg.TLSCertificate + "\n"
	}
	if cfg.TLSCAFile != "" {
		config += "sip_cafile\t" + cfg.TLSCAFile + "\n"
	}
	if cfg.Record {
		config += "module\tsndfile.so\nsnd_path\t" + dir + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	account := fmt.Sprintf("<sip:baresip@127.0.0.1:%d>;regint=0;audio_codecs=%s", cfg.SIPPort, cfg.Codecs)
	if cfg.MediaEnc != "" {
		account += ";mediaenc=" + cfg.MediaEnc
	}
	account += "\n"
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &Baresip{Config: cfg, Dir: dir, events: make(chan BaresipEvent, 64), responses: map[string]chan baresipResponse{}}
	b.Proc = Start(ctx, t, dir, bin, "-f", dir, "-n", "127.0.0.1")
	ctrl := fmt.Sprintf("127.0.0.1:%d", cfg.CtrlPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp4", ctrl, time.Second)
		if err == nil {
			b.conn = conn
			break
		}
		select {
		case <-b.Proc.Done():
			return nil, fmt.Sprintf("baresip exited before ctrl_tcp %s opened:\n%s", ctrl, b.Output())
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			out := fmt.Sprintf("baresip ctrl_tcp %s: %v\n%s", ctrl, err, b.Output())
			b.Proc.Stop()
			return nil, out
		}
		time.Sleep(100 * time.Millisecond)
	}
	go b.read()
	t.Cleanup(func() { b.conn.Close() })
	return b, ""
}

// freeBaresipSIPPort finds a port for baresip's sip_listen: baresip 1.0.0
// binds UDP and TCP there and its TLS transport on the next port, with no
// setting to turn TLS off, so both numbers must be free.
func freeBaresipSIPPort(t testing.TB) int {
	t.Helper()
	for range portAttempts {
		p := FreeSIPPort(t)
		if p < 65535 && portFree("tcp", p+1) && reserve(p+1, 1) {
			return p
		}
	}
	t.Fatalf("no SIP port with a free TLS neighbour after %d attempts", portAttempts)
	return 0
}

// read splits ctrl_tcp's netstrings into responses and events.
func (b *Baresip) read() {
	r := bufio.NewReader(b.conn)
	defer close(b.events)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			return
		}
		var head struct {
			Response bool   `json:"response"`
			Event    bool   `json:"event"`
			Token    string `json:"token"`
		}
		if json.Unmarshal(msg, &head) != nil {
			continue
		}
		switch {
		case head.Response:
			var resp baresipResponse
			json.Unmarshal(msg, &resp)
			b.mu.Lock()
			ch := b.responses[head.Token]
			delete(b.responses, head.Token)
			b.mu.Unlock()
			if ch != nil {
				ch <- resp
			}
		case head.Event:
			var ev BaresipEvent
			json.Unmarshal(msg, &ev)
			select {
			case b.events <- ev:
			default: // nobody is listening: drop rather than stall baresip
			}
		}
	}
}

func readNetstring(r *bufio.Reader) ([]byte, error) {
	lenText, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(lenText[:len(lenText)-1])
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", lenText)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring without trailing comma")
	}
	return buf[:n], nil
}

// Command runs a menu command (e.g. "dial", "hangup", "sndcode") with
// params and returns its response text.
func (b *Baresip) Command(ctx context.Context, command, params string) (string, error) {
	b.mu.Lock()
	b.token++
	token := strconv.Itoa(b.token)
	ch := make(chan baresipResponse, 1)
	b.responses[token] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(msg), msg); err != nil {
		return "", fmt.Errorf("baresip %s %s: %w", command, params, err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			return r.Data, fmt.Errorf("baresip %s %s: failed: %s", command, params, r.Data)
		}
		return r.Data, nil
	case <-ctx.Done():
		return "", fmt.Errorf("baresip %s %s: no response: %w", command, params, ctx.Err())
	}
}

// WaitEvent waits for an event of the given type (e.g. "CALL_ESTABLISHED",
// "CALL_CLOSED"), discarding others; it fails early if the call closes
// while waiting for something else.
func (b *Baresip) WaitEvent(ctx context.Context, typ string) (BaresipEvent, error) {
	for {
		select {
		case ev, ok := <-b.events:
			if !ok {
				return BaresipEvent{}, fmt.Errorf("baresip: control connection closed waiting for %s", typ)
			}
			if ev.Type == typ {
				return ev, nil
			}
			if ev.Type == "CALL_CLOSED" {
				return ev, fmt.Errorf("baresip: call closed (%s) waiting for %s", ev.Param, typ)
			}
		case <-ctx.Done():
			return BaresipEvent{}, fmt.Errorf("baresip: waiting for %s: %w", typ, ctx.Err())
		}
	}
}

// Dial calls uri and waits until the call is established.
func (b *Baresip) Dial(ctx context.Context, uri string) error {
	if _, err := b.Command(ctx, "dial", uri); err != nil {
		return err
	}
	_, err := b.WaitEvent(ctx, "CALL_ESTABLISHED")
	return err
}

// SendDTMF sends digits in the current call. baresip 1.0.0's "sndcode"
// queues them as RFC 4733 events when the peer offered telephone-event.
func (b *Baresip) SendDTMF(ctx context.Context, digits string) error {
	_, err := b.Command(ctx, "sndcode", digits)
	return err
}

// TLSPort is where baresip serves SIP over TLS: baresip 1.0.0 binds its
// TLS transport on the port after sip_listen's.
func (b *Baresip) TLSPort() int { return b.Config.SIPPort + 1 }

// Accept waits for an incoming call and answers it.
func (b *Baresip) Accept(ctx context.Context) error {
	if _, err := b.WaitEvent(ctx, "CALL_INCOMING"); err != nil {
		return err
	}
	if _, err := b.Command(ctx, "accept", ""); err != nil {
		return err
	}
	_, err := b.WaitEvent(ctx, "CALL_ESTABLISHED")
	return err
}

// Recordings lists the WAV files sndfile wrote (BaresipConfig.Record):
// per call one of the audio baresip sent ("-enc.wav") and one of the
// audio it received and decoded ("-dec.wav").
func (b *Baresip) Recordings() (sent, received []string) {
	sent, _ = filepath.Glob(filepath.Join(b.Dir, "*-enc.wav"))
	received, _ = filepath.Glob(filepath.Join(b.Dir, "*-dec.wav"))
	return sent, received
}

// Hangup ends the current call and waits for it to close.
func (b *Baresip) Hangup(ctx context.Context) error {
	if _, err := b.Command(ctx, "hangup", ""); err != nil {
		return err
	}
	_, err := b.WaitEvent(ctx, "CALL_CLOSED")
	return err
}
