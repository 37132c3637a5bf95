//go:build interop

package sip

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needPeer finds a real peer program; without it the test skips locally and
// fails in CI.
func needPeer(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (CI): %v", name, err)
		}
		t.Skipf("%s not installed; install it to run this interop test", name)
	}
	return p
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	for {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if port != 5060 {
			return port
		}
	}
}

// syncBuffer collects a subprocess's output for the failure log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPeer runs a peer in its own process group and stops that group (by
// the PID we started) at cleanup.
func startPeer(t *testing.T, bin string, args ...string) (*peer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &peer{done: make(chan struct{})}
	done := p.done
	go func() {
		p.err = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
	return p, out
}

// peer is a running subprocess; err is valid once done is closed.
type peer struct {
	done chan struct{}
	err  error
}

func startKamailio(t *testing.T) string {
	t.Helper()
	bin := needPeer(t, "kamailio")
	cfg, err := filepath.Abs("testdata/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	dir := t.TempDir()
	startPeer(t, bin, "-f", cfg, "-D", "-E", "-w", dir, "-Y", dir, "-l", "udp:127.0.0.1:"+strconv.Itoa(port))
	return "127.0.0.1:" + strconv.Itoa(port)
}

func TestInteropKamailioRegisterAndRefresh(t *testing.T) {
	addr := startKamailio(t)
	ua, err := NewUA(Config{
		Listen:           []Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		Logger:           testLogger(t),
		RegisterRetryMin: 300 * time.Millisecond,
		Trunks:           []Trunk{{Name: "kamailio", Address: addr, Username: "10001", Password: "secret", Register: true, RegisterExpiry: 3 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// kamailio needs a moment to bind: the back-off retries until it does.
	eventually(t, 20*time.Second, "registered with kamailio", func() bool { return ua.Registration("kamailio").Status == Registered })
	first := ua.Registration("kamailio")
	if first.Code != 200 {
		t.Errorf("first registration %+v", first)
	}
	// Expiry 3 s: a refresh lands within 2.4 s and moves the expiry on.
	eventually(t, 10*time.Second, "refresh", func() bool {
		st := ua.Registration("kamailio")
		return st.Status == Registered && st.Expires.After(first.Expires.Add(time.Second))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ua.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := ua.Registration("kamailio"); st.Status != Unregistered || st.Code != 200 {
		t.Errorf("after un-REGISTER: %+v", st)
	}
}

func TestInteropKamailioWrongPasswordIs403WithBackoff(t *testing.T) {
	addr := startKamailio(t)
	ua := startUA(t, Config{
		RegisterRetryMin: 500 * time.Millisecond,
		RegisterRetryMax: 2 * time.Second,
		Trunks:           []Trunk{{Name: "kamailio", Address: addr, Username: "10001", Password: "wrong", Register: true}},
	})
	eventually(t, 20*time.Second, "403 from kamailio", func() bool {
		st := ua.Registration("kamailio")
		return st.Status == RegFailed && st.Code == 403
	})
	st := ua.Registration("kamailio")
	if !strings.Contains(st.Err.Error(), "forbidden") || !strings.Contains(st.Err.Error(), `"kamailio"`) {
		t.Errorf("error not clear: %v", st.Err)
	}
	before := st.Failures
	time.Sleep(4 * time.Second)
	after := ua.Registration("kamailio").Failures
	// 0.5, 1, 2, 2 s (±20 %): at most about 4 more attempts in 4 s.
	if n := after - before; n < 1 || n > 5 {
		t.Errorf("%d attempts in 4 s after the first 403, want back-off (1..5)", n)
	}
	t.Logf("wrong password: %v (failures %d)", st.Err, after)
}

func TestInteropSippUASAnswersDial(t *testing.T) {
	bin := needPeer(t, "sipp")
	port := freeUDPPort(t)
	mport := freeUDPPort(t)
	cmd, out := startPeer(t, bin, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mport),
		"-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin")
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "sipp", Address: "127.0.0.1:" + strconv.Itoa(port), Username: "waihu"}}})
	leg := newFakeLeg(30000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c *Call
	var err error
	// sipp may need a moment to bind its port.
	eventually(t, 10*time.Second, "sipp answers", func() bool {
		c, err = ua.Dial(ctx, DialRequest{Trunk: "sipp", To: "service", Media: leg, RingTimeout: 5 * time.Second})
		return err == nil
	})
	addr, pt, _, _, _ := leg.snapshot()
	if pt != 0 || addr.Port() == 0 {
		t.Errorf("leg got %v pt %d from sipp's answer", addr, pt)
	}
	time.Sleep(200 * time.Millisecond)
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	select {
	case <-cmd.done:
		if cmd.err != nil {
			t.Errorf("sipp: %v\n%s", cmd.err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("sipp did not finish its one call")
	}
}

func TestInteropSippUACCallsIn(t *testing.T) {
	bin := needPeer(t, "sipp")
	answered := make(chan *Call, 1)
	ua := startUAWith(t, Config{}, func(ctx context.Context, in *Incoming) {
		_ = in.Ring()
		c, err := in.Answer(ctx, newFakeLeg(40000))
		if err != nil {
			t.Errorf("Answer sipp: %v", err)
			return
		}
		answered <- c
	})
	port := freeUDPPort(t)
	mport := freeUDPPort(t)
	p, out := startPeer(t, bin, ua.Addr("udp").String(), "-sn", "uac", "-s", "1001", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-mp", strconv.Itoa(mport), "-m", "1", "-d", "500", "-timeout", "30s", "-timeout_error", "-nostdin")
	var c *Call
	select {
	case c = <-answered:
	case <-time.After(20 * time.Second):
		t.Fatalf("sipp call never answered:\n%s", out.String())
	}
	waitDone(t, c, 20*time.Second)
	if c.Reason() != HangupRemote || c.Codec() != CodecPCMU {
		t.Errorf("reason %v codec %v, want remote hangup on PCMU", c.Reason(), c.Codec())
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("sipp uac: %v\n%s", p.err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Error("sipp uac did not finish")
	}
}

func TestInteropDialThroughKamailioAnswers407(t *testing.T) {
	sipp := needPeer(t, "sipp")
	addr := startKamailio(t)
	port := freeUDPPort(t)
	mport := freeUDPPort(t)
	scenario, err := filepath.Abs("testdata/sipp_uas_rr.xml")
	if err != nil {
		t.Fatal(err)
	}
	p, out := startPeer(t, sipp, "-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mport),
		"-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin")
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "kamailio", Address: addr, Username: "10001", Password: "secret"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leg := newFakeLeg(30000)
	var c *Call
	// kamailio and sipp need a moment to bind.
	eventually(t, 20*time.Second, "call through kamailio", func() bool {
		c, err = ua.Dial(ctx, DialRequest{Trunk: "kamailio", To: "sip:service@127.0.0.1:" + strconv.Itoa(port), Media: leg, RingTimeout: 3 * time.Second})
		if err != nil {
			t.Logf("dial: %v", err)
		}
		return err == nil
	})
	if _, pt, _, _, _ := leg.snapshot(); pt != 0 {
		t.Errorf("leg pt %d, want PCMU from sipp", pt)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("sipp: %v\n%s", p.err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Error("sipp did not finish its one call")
	}
}
