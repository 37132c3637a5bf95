//go:build unix

package rtp

import (
	"net/netip"
	"syscall"
	"time"
)

// rtcpPollMax bounds the datagrams taken from the RTCP socket per tick, so
// a flood on one leg cannot stall the pacer for the others.
const rtcpPollMax = 4

// rtcpPoller reads the RTCP socket from the pacer without blocking, so the
// leg keeps to one reading goroutine (RTP). Reports arrive every few
// seconds; reading them up to one tick late costs at most 20 ms of RTT
// accuracy.
type rtcpPoller struct {
	raw  syscall.RawConn
	buf  []byte
	n    int
	from syscall.Sockaddr
	err  error
	read func(fd uintptr) bool // built once: a fresh closure per poll would allocate
}

// startRTCP prepares non-blocking reads of the RTCP socket.
func (l *Leg) startRTCP() error {
	raw, err := l.rtcpConn.SyscallConn()
	if err != nil {
		return err
	}
	p := &l.rtcpPoll
	p.raw = raw
	p.buf = make([]byte, maxPacket)
	p.read = p.recv
	return nil
}

// recv runs on the socket's descriptor. Go keeps sockets in non-blocking
// mode, so an empty socket returns EAGAIN at once; returning true stops
// RawConn.Read from waiting for readiness.
func (p *rtcpPoller) recv(fd uintptr) bool {
	p.n, p.from, p.err = syscall.Recvfrom(int(fd), p.buf, 0)
	return true
}

// pollRTCP handles whatever RTCP is waiting. Called by the pacer only.
func (l *Leg) pollRTCP(now time.Time) {
	p := &l.rtcpPoll
	if p.raw == nil {
		return
	}
	for range rtcpPollMax {
		if err := p.raw.Read(p.read); err != nil || p.err != nil {
			return // closed, or nothing waiting
		}
		l.recv.handleRTCP(p.buf[:p.n], sockaddrToAddrPort(p.from), now, false)
	}
}

func sockaddrToAddrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}
