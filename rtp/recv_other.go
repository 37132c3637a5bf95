//go:build !linux

package rtp

// readRTP is the leg's one goroutine on the RTP socket.
func (l *Leg) readRTP() { l.readRTPLoop() }
