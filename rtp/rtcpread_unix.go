//go:build unix

package rtp

import (
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rtcpPollMax bounds the datagrams taken from the RTCP socket per tick, so
// a flood on one leg cannot stall the pacer for the others.
const rtcpPollMax = 4

// rtcpPoller reads the RTCP socket from the pacer without blocking, so the
// leg keeps to one reading goroutine (RTP). Reports arrive every few
// seconds; reading them up to one tick late costs at most 20 ms of RTT
// accuracy.
type rtcpPoller struct {
	raw syscall.RawConn
	fd  int32 // descriptor for the shard's readiness poll, -1 if unknown
	// ready is set by the shard's poll when the socket has data; the
	// pacer is its only reader and writer.
	ready bool
	buf   []byte
	n     int
	from  syscall.Sockaddr
	err   error
	read  func(fd uintptr) bool // built once: a fresh closure per poll would allocate
}

// startRTCP prepares non-blocking reads of the RTCP socket.
func (l *Leg) startRTCP() error {
	raw, err := l.rtcpConn.SyscallConn()
	if err != nil {
		return err
	}
	p := &l.rtcpPoll
	p.raw = raw
	p.fd = -1
	if err := raw.Control(func(fd uintptr) { p.fd = int32(fd) }); err != nil {
		return err
	}
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

// pollRTCP handles whatever RTCP is waiting. Called by the pacer only,
// after the shard's readiness poll: a leg whose socket is empty costs no
// system call.
func (l *Leg) pollRTCP(now time.Time) {
	p := &l.rtcpPoll
	if p.raw == nil || !p.ready {
		return
	}
	p.ready = false
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

// rtcpReady finds, in one poll(2) over every leg of a tick, the RTCP sockets
// with data waiting. Reports come every few seconds, so nearly every socket
// is empty nearly every tick: asking each one with its own recvfrom cost a
// system call per leg per tick, a third of the pacer's calls.
type rtcpReady struct {
	fds []unix.PollFd // reused each tick
}

// mark sets ready on the legs whose RTCP socket is readable. A descriptor
// closed (and perhaps reused) since the snapshot only causes a read attempt
// that fails harmlessly. If poll itself fails every leg is marked, falling
// back to a read per leg.
func (r *rtcpReady) mark(legs []*Leg) {
	r.fds = r.fds[:0]
	for _, l := range legs {
		fd := l.rtcpPoll.fd
		if l.rtcpPoll.raw == nil {
			fd = -1 // poll ignores negative descriptors
		}
		r.fds = append(r.fds, unix.PollFd{Fd: fd, Events: unix.POLLIN})
	}
	if len(r.fds) == 0 {
		return
	}
	for {
		_, err := unix.Poll(r.fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			for _, l := range legs {
				l.rtcpPoll.ready = true
			}
			return
		}
		break
	}
	for i, l := range legs {
		if r.fds[i].Revents&(unix.POLLIN|unix.POLLERR) != 0 {
			l.rtcpPoll.ready = true
		}
	}
}
