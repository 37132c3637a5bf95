package testpeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// sipDefaultPort is never handed out: a stray peer started without -p (or
// sipp with -p 0) may grab it, and tests must not collide with it.
const sipDefaultPort = 5060

// handedOut remembers every port given to a test in this process, so that
// one test's peers never get a port inside another's RTP range: ranges are
// bound only when a call needs them, and the kernel would hand their ports
// out again in the meantime.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// reserve marks ports [first, first+n) as handed out, unless one already is.
func reserve(first, n int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	for p := first; p < first+n; p++ {
		if handedOut.ports[p] {
			return false
		}
	}
	for p := first; p < first+n; p++ {
		handedOut.ports[p] = true
	}
	return true
}

// portAttempts bounds the search for a free port; the kernel's ephemeral
// range is large, so failing this many times means something is wrong.
const portAttempts = 50

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it; tests accept that
// small race because the peers they start want a number, not a socket.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	for range portAttempts {
		port, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		if reserve(port, 1) {
			return port
		}
	}
	t.Fatalf("no unreserved UDP port after %d attempts", portAttempts)
	return 0
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	for range portAttempts {
		port, err := freePort("tcp")
		if err != nil {
			t.Fatal(err)
		}
		if reserve(port, 1) {
			return port
		}
	}
	t.Fatalf("no unreserved TCP port after %d attempts", portAttempts)
	return 0
}

// FreeSIPPort returns a port free for both UDP and TCP on 127.0.0.1, since a
// SIP server listens on both at the same number.
func FreeSIPPort(t testing.TB) int {
	t.Helper()
	for range portAttempts {
		port, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		if portFree("tcp", port) && reserve(port, 1) {
			return port
		}
	}
	t.Fatalf("no port free for both UDP and TCP on 127.0.0.1 after %d attempts", portAttempts)
	return 0
}

// FreeRTPPort returns an even UDP port whose odd neighbour (RTCP, RFC 3550
// §11) is free too: sipp binds -mp and -mp+1, and some peers insist on an
// even RTP port.
func FreeRTPPort(t testing.TB) int {
	t.Helper()
	for range portAttempts {
		port, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		port &^= 1
		if port == sipDefaultPort || port < 1024 {
			continue
		}
		if portFree("udp", port) && portFree("udp", port+1) && reserve(port, 2) {
			return port
		}
	}
	t.Fatalf("no even UDP port pair free on 127.0.0.1 after %d attempts", portAttempts)
	return 0
}

// FreeUDPRange returns the first port of n consecutive free UDP ports
// starting at an even number, for a server's --rtp-ports range.
func FreeUDPRange(t testing.TB, n int) int {
	t.Helper()
	for range portAttempts {
		base := FreeRTPPort(t) // reserves base and base+1
		ok := true
		for p := base + 2; p < base+n && ok; p++ {
			ok = p != sipDefaultPort && p < 65536 && portFree("udp", p)
		}
		if ok && reserve(base+2, max(n-2, 0)) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free UDP ports on 127.0.0.1 after %d attempts", n, portAttempts)
	return 0
}

func freePort(network string) (int, error) {
	for range portAttempts {
		var port int
		switch network {
		case "udp":
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return 0, fmt.Errorf("find free udp port: %w", err)
			}
			port = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		case "tcp":
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				return 0, fmt.Errorf("find free tcp port: %w", err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		default:
			return 0, fmt.Errorf("find free port: unknown network %q", network)
		}
		if port != sipDefaultPort {
			return port, nil
		}
	}
	return 0, errors.New("find free port: kernel kept returning 5060")
}

func portFree(network string, port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	case "tcp":
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	return false
}

// Bound reports whether some process has a socket bound to port on
// 127.0.0.1 or the wildcard address (a listening one, for TCP), read from
// /proc/net without touching the port: probing by binding could steal it
// from the peer that is starting.
func Bound(network string, port int) bool {
	file := "/proc/net/udp"
	if network == "tcp" {
		file = "/proc/net/tcp"
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	want := []string{fmt.Sprintf("0100007F:%04X", port), fmt.Sprintf("00000000:%04X", port)}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || (f[1] != want[0] && f[1] != want[1]) {
			continue
		}
		if network == "tcp" && f[3] != "0A" { // TCP_LISTEN
			continue
		}
		return true
	}
	return false
}

// WaitBound waits until Bound(network, port) or ctx ends.
func WaitBound(ctx context.Context, network string, port int) error {
	for !Bound(network, port) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing bound %s port %d on 127.0.0.1: %w", network, port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
