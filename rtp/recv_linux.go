//go:build linux

package rtp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvBatch is how many datagrams one recvmmsg(2) may take. A leg gets one
// packet per frame, so two suffice: a call that returns fewer than asked
// proves the socket empty, and the reader parks without the extra read
// that finds nothing — one system call per packet instead of two.
const recvBatch = 2

// batchReader holds one leg's recvmmsg buffers, reused for every call.
type batchReader struct {
	leg   *Leg
	msgs  [recvBatch]unix.Mmsghdr
	iovs  [recvBatch]unix.Iovec
	names [recvBatch]unix.RawSockaddrAny
	bufs  [recvBatch][maxPacket]byte
	err   error
	recv  func(fd uintptr) bool // built once: a fresh closure per read would allocate
}

// readRTP is the leg's one goroutine on the RTP socket. It stays inside one
// RawConn.Read whose callback drains the socket with recvmmsg and asks to
// wait for readiness once it is empty; Read returns only on errors.
func (l *Leg) readRTP() {
	raw, err := l.rtpConn.SyscallConn()
	if err != nil {
		l.readRTPLoop()
		return
	}
	defer l.wg.Done()
	r := &batchReader{leg: l}
	for i := range r.msgs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(maxPacket)
		r.msgs[i].Hdr.Iov = &r.iovs[i]
		r.msgs[i].Hdr.SetIovlen(1)
		r.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	r.recv = r.drain
	for {
		r.err = nil
		err := raw.Read(r.recv)
		if err == nil {
			err = r.err
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			l.deliverClockFrames() // woken by the playout clock
			continue
		}
		if err != nil && !l.readFailed(err) {
			return
		}
	}
}

// drain reads until the socket is empty (false: wait for readiness) or a
// socket error ends the Read (true, with r.err set).
func (r *batchReader) drain(fd uintptr) bool {
	for {
		for i := range r.msgs {
			r.msgs[i].Hdr.Namelen = unix.SizeofSockaddrAny
			r.msgs[i].Hdr.Flags = 0
			r.msgs[i].Len = 0
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), recvBatch, unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		default:
			r.err = errno
			return true
		}
		now := time.Now()
		for i := range int(n) {
			m := &r.msgs[i]
			r.leg.recv.handlePacket(r.bufs[i][:m.Len], sockaddrAddrPort(&r.names[i]), now)
		}
		r.leg.deliverFrames()
		if int(n) < recvBatch {
			return false
		}
	}
}

// sockaddrAddrPort decodes a source address filled in by the kernel.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), portFromNetwork(in.Port))
	case syscall.AF_INET6:
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom16(in.Addr).Unmap(), portFromNetwork(in.Port))
	}
	return netip.AddrPort{}
}

// portFromNetwork converts a port stored in network byte order.
func portFromNetwork(p uint16) uint16 {
	var b [2]byte
	*(*uint16)(unsafe.Pointer(&b[0])) = p
	return binary.BigEndian.Uint16(b[:])
}
