package testpeer

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// RTPPeer is a minimal RTP endpoint on 127.0.0.1: it keeps every packet it
// receives (with the sender's address) and sends paced streams from the same
// socket, as a symmetric-RTP peer does. Tests use it where sipp cannot
// record: to see what a peer really sent, DTMF included.
type RTPPeer struct {
	conn *net.UDPConn
	done chan struct{}

	mu      sync.Mutex
	pkts    []rtp.Packet
	sources map[string]int
	bad     int
	arrived chan struct{} // closed and replaced on each packet
}

// ListenRTP opens an RTPPeer on port (0 picks a free even port) and closes
// it when the test ends.
func ListenRTP(t testing.TB, port int) *RTPPeer {
	t.Helper()
	if port == 0 {
		port = FreeRTPPort(t)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatalf("listen rtp on 127.0.0.1:%d: %v", port, err)
	}
	p := &RTPPeer{conn: conn, done: make(chan struct{}), sources: map[string]int{}, arrived: make(chan struct{})}
	go p.read()
	t.Cleanup(p.Close)
	return p
}

func (p *RTPPeer) read() {
	defer close(p.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		p.mu.Lock()
		if err := pkt.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			p.bad++
		} else {
			p.pkts = append(p.pkts, pkt)
			p.sources[from.String()]++
		}
		close(p.arrived)
		p.arrived = make(chan struct{})
		p.mu.Unlock()
	}
}

// Port is the local UDP port.
func (p *RTPPeer) Port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// Packets returns a copy of the packets received so far, in arrival order.
func (p *RTPPeer) Packets() []rtp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rtp.Packet(nil), p.pkts...)
}

// Sources returns how many packets came from each sender address.
func (p *RTPPeer) Sources() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.sources))
	for k, v := range p.sources {
		out[k] = v
	}
	return out
}

// Malformed counts datagrams that were not parsable RTP.
func (p *RTPPeer) Malformed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bad
}

// WaitFor waits until cond holds for the packets received so far, or ctx ends.
func (p *RTPPeer) WaitFor(ctx context.Context, cond func([]rtp.Packet) bool) error {
	for {
		p.mu.Lock()
		ok := cond(p.pkts)
		arrived := p.arrived
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return fmt.Errorf("rtp peer on port %d: %d packets so far: %w", p.Port(), len(p.Packets()), ctx.Err())
		}
	}
}

// Quiet waits until no packet has arrived for d, or ctx ends: the end of a
// stream, without knowing its length.
func (p *RTPPeer) Quiet(ctx context.Context, d time.Duration) error {
	for {
		p.mu.Lock()
		arrived := p.arrived
		p.mu.Unlock()
		select {
		case <-arrived:
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Send sends pkts to addr from this peer's socket, each at its At offset
// from now, so the far end sees real-time pacing.
func (p *RTPPeer) Send(ctx context.Context, addr *net.UDPAddr, pkts []TimedPacket) error {
	start := time.Now()
	for i, tp := range pkts {
		if wait := time.Until(start.Add(tp.At)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return fmt.Errorf("send rtp to %s: packet %d of %d: %w", addr, i, len(pkts), ctx.Err())
			}
		}
		b, err := tp.Packet.Marshal()
		if err != nil {
			return fmt.Errorf("send rtp: marshal packet %d: %w", i, err)
		}
		if _, err := p.conn.WriteToUDP(b, addr); err != nil {
			return fmt.Errorf("send rtp to %s: %w", addr, err)
		}
	}
	return nil
}

// WriteRaw sends arbitrary bytes from this peer's socket, for malformed input.
func (p *RTPPeer) WriteRaw(addr *net.UDPAddr, b []byte) error {
	_, err := p.conn.WriteToUDP(b, addr)
	return err
}

// Close closes the socket and waits for the reader to stop. It is safe to
// call more than once.
func (p *RTPPeer) Close() {
	p.conn.Close()
	<-p.done
}
