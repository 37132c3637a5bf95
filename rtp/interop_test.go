//go:build interop

package rtp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// freeUDPPort finds a loopback UDP port (and, with pair, the one two above)
// that is free right now.
func freeUDPPort(t *testing.T, pair bool) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if !pair {
			return port
		}
		if port%2 == 1 || port > 65000 {
			continue
		}
		c2, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(port+2))))
		if err != nil {
			continue
		}
		c2.Close()
		return port
	}
	t.Fatal("no free UDP port")
	return 0
}

// TestInteropSippEchoesAudioAndDTMF runs sipp with -rtp_echo as the peer: it
// echoes every RTP packet it receives, so the leg must hear its own audio
// and its own digits back through a program it did not write.
func TestInteropSippEchoesAudioAndDTMF(t *testing.T) {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sipp not installed (Debian package sip-tester)")
		}
		t.Skip("sipp not installed (Debian package sip-tester)")
	}
	mediaPort := freeUDPPort(t, true)
	sipPort := freeUDPPort(t, false)
	cmd := exec.Command(sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(sipPort),
		"-mp", strconv.Itoa(mediaPort), "-rtp_echo", "-nostdin", "-timeout", "60s")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	time.Sleep(500 * time.Millisecond) // sipp opens its media sockets

	e := newTestEngine(t, Config{})
	l := openLeg(t, e)
	if err := l.SetRemote(netip.AddrPortFrom(loopback, uint16(mediaPort)), PayloadPCMU, 101); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := chirp(100*FrameSamples, 25*FrameSamples)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i+FrameSamples <= len(src); i += FrameSamples {
			if err := l.WriteFrame(ctx, src[i:i+FrameSamples]); err != nil {
				t.Errorf("WriteFrame: %v", err)
				return
			}
		}
		if err := l.SendDTMF(ctx, "42#", 80*time.Millisecond, 60*time.Millisecond); err != nil {
			t.Errorf("SendDTMF: %v", err)
		}
	}()
	var got []int16
	frame := make([]int16, FrameSamples)
	for range 100 {
		if err := l.ReadFrame(ctx, frame); err != nil {
			t.Fatal(err)
		}
		got = append(got, frame...)
	}
	wg.Wait()
	ref := src[:25*FrameSamples]
	if corr, lag := bestCorrelation(ref, got, len(got)-len(ref)); corr < 0.9 {
		t.Errorf("echoed audio correlation %.3f at lag %d, want > 0.9 (stats %+v)", corr, lag, l.Stats())
	}
	var digits []rune
	for len(digits) < 3 {
		select {
		case ev := <-l.DTMF():
			digits = append(digits, ev.Digit)
		case <-ctx.Done():
			t.Fatalf("echoed digits %q, want \"42#\"", string(digits))
		}
	}
	if string(digits) != "42#" {
		t.Errorf("echoed digits %q, want \"42#\"", string(digits))
	}
}
