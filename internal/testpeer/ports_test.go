package testpeer

import (
	"net"
	"testing"
)

func TestFreePortsAvoid5060AndRTPPortsAreEvenPairs(t *testing.T) {
	tests := []struct {
		name string
		get  func(testing.TB) int
		even bool
	}{
		{name: "udp", get: FreeUDPPort},
		{name: "tcp", get: FreeTCPPort},
		{name: "sip udp and tcp", get: FreeSIPPort},
		{name: "rtp pair", get: FreeRTPPort, even: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				p := tc.get(t)
				if p == 5060 || p < 1024 || p > 65535 {
					t.Fatalf("port %d", p)
				}
				if tc.even && (p%2 != 0 || !portFree("udp", p+1)) {
					t.Fatalf("rtp port %d: want even with a free neighbour", p)
				}
			}
		})
	}
}

func TestBoundSeesAListeningSocket(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	if !Bound("udp", port) {
		t.Fatalf("udp port %d bound but not seen", port)
	}
	c.Close()
	if Bound("udp", port) {
		t.Fatalf("udp port %d closed but still seen", port)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !Bound("tcp", l.Addr().(*net.TCPAddr).Port) {
		t.Fatal("listening tcp port not seen")
	}
}
