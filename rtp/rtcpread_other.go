//go:build !unix

package rtp

import "time"

// rtcpPoller is unused where sockets cannot be read without blocking; a
// goroutine reads RTCP instead.
type rtcpPoller struct{}

// startRTCP starts the RTCP reader goroutine.
func (l *Leg) startRTCP() error {
	l.wg.Add(1)
	go l.readRTCP()
	return nil
}

// pollRTCP does nothing: readRTCP delivers RTCP as it arrives.
func (l *Leg) pollRTCP(time.Time) {}

// readRTCP is the leg's goroutine on the RTCP socket.
func (l *Leg) readRTCP() {
	defer l.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, src, err := l.rtcpConn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !l.readFailed(err) {
				return
			}
			continue
		}
		l.recv.handleRTCP(buf[:n], src, time.Now(), false)
	}
}

// rtcpReady does nothing where a goroutine reads RTCP.
type rtcpReady struct{}

func (*rtcpReady) mark([]*Leg) {}
