package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zaf/g711"
)

// Probe is a caller's media for timing a bot: a sip.MediaLeg on its own UDP
// socket that sends 20 ms G.711 frames from a ticker and timestamps every
// received packet as it arrives, with no jitter buffer in between, so that
// "the caller stopped speaking" and "the bot's answer arrived" are the
// times on the wire.
type Probe struct {
	conn  *net.UDPConn
	local netip.AddrPort

	mu       sync.Mutex
	remote   netip.AddrPort
	pt       uint8
	hold     bool
	queue    [][]int16 // frames to send before silence
	lastSent time.Time // send time of the last queued frame
	sentAll  chan struct{}

	// Receive side, owned by the reader goroutine but for the
	// fields under mu.
	voiced     int // voiced packets in the current talkspurt
	quiet      int // quiet packets since the last voiced one
	talkEnded  chan struct{}
	talkOnce   bool
	answerFrom time.Time // look for the first voiced packet after this
	answerAt   time.Time
	answered   chan struct{}

	lastRecv atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{}
}

// voicedPeak is the sample peak above which a packet counts as speech.
const voicedPeak = 1000

// NewProbe binds a loopback-or-given UDP port and starts sending silence
// once SetRemote names the peer.
func NewProbe(bind netip.Addr) (*Probe, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(bind, 0)))
	if err != nil {
		return nil, fmt.Errorf("probe socket on %v: %w", bind, err)
	}
	p := &Probe{
		conn:      conn,
		local:     conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		talkEnded: make(chan struct{}),
		answered:  make(chan struct{}),
		stop:      make(chan struct{}),
	}
	p.wg.Add(2)
	go p.send()
	go p.read()
	return p, nil
}

// LocalAddr is the probe's RTP address for SDP.
func (p *Probe) LocalAddr() netip.AddrPort { return p.local }

// SetRemote points the probe at the peer's media.
func (p *Probe) SetRemote(addr netip.AddrPort, payloadType, _ uint8) error {
	if payloadType != 0 && payloadType != 8 {
		return fmt.Errorf("probe: payload type %d is not G.711", payloadType)
	}
	p.mu.Lock()
	p.remote, p.pt = addr, payloadType
	p.mu.Unlock()
	return nil
}

// SetHold stops or resumes sending.
func (p *Probe) SetHold(onHold bool) {
	p.mu.Lock()
	p.hold = onHold
	p.mu.Unlock()
}

// LastReceived is when the last packet arrived.
func (p *Probe) LastReceived() time.Time {
	ns := p.lastRecv.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Close stops the probe and releases its socket.
func (p *Probe) Close() error {
	select {
	case <-p.stop:
		return nil
	default:
	}
	close(p.stop)
	err := p.conn.Close()
	p.wg.Wait()
	return err
}

// WaitTalkEnd waits until the peer spoke at least minSpeech and then was
// quiet for quietAfter: the end of the bot's question.
func (p *Probe) WaitTalkEnd(ctx context.Context) error {
	select {
	case <-p.talkEnded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the bot to finish speaking: %w", ctx.Err())
	}
}

// Say queues speech and returns the wire time of its last packet, once sent.
func (p *Probe) Say(ctx context.Context, speech []int16) (time.Time, error) {
	done := make(chan struct{})
	p.mu.Lock()
	for off := 0; off < len(speech); off += 160 {
		f := make([]int16, 160)
		copy(f, speech[off:])
		p.queue = append(p.queue, f)
	}
	p.sentAll = done
	p.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("say: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answerFrom = p.lastSent
	return p.lastSent, nil
}

// WaitAnswer returns the arrival time of the first voiced packet after the
// end of the last Say.
func (p *Probe) WaitAnswer(ctx context.Context) (time.Time, error) {
	select {
	case <-p.answered:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.answerAt, nil
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("wait for the bot's answer: %w", ctx.Err())
	}
}

func (p *Probe) send() {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var (
		pkt  [12 + 160]byte
		seq  uint16
		ts   uint32
		ssrc = uint32(time.Now().UnixNano())
	)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		remote, pt, hold := p.remote, p.pt, p.hold
		var frame []int16
		if len(p.queue) > 0 {
			frame, p.queue = p.queue[0], p.queue[1:]
		}
		p.mu.Unlock()
		ts += 160
		if !remote.IsValid() || hold {
			continue
		}
		pkt[0], pkt[1] = 0x80, pt
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		binary.BigEndian.PutUint32(pkt[8:], ssrc)
		seq++
		for i := range 160 {
			var s int16
			if frame != nil {
				s = frame[i]
			}
			if pt == 8 {
				pkt[12+i] = g711.EncodeAlawFrame(s)
			} else {
				pkt[12+i] = g711.EncodeUlawFrame(s)
			}
		}
		if _, err := p.conn.WriteToUDPAddrPort(pkt[:], remote); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
		if frame != nil {
			now := time.Now()
			p.mu.Lock()
			p.lastSent = now
			if len(p.queue) == 0 && p.sentAll != nil {
				close(p.sentAll)
				p.sentAll = nil
			}
			p.mu.Unlock()
		}
	}
}

// The bot's question is over after this many quiet packets following at
// least talkMin voiced ones.
const (
	talkMin   = 50 // 1 s of speech
	quietTalk = 30 // 600 ms of silence
)

func (p *Probe) read() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		if n < 12 || buf[0]>>6 != 2 {
			continue
		}
		p.lastRecv.Store(now.UnixNano())
		pt := buf[1] & 0x7f
		if pt != 0 && pt != 8 {
			continue
		}
		var peak int16
		for _, b := range buf[12:n] {
			var s int16
			if pt == 8 {
				s = g711.DecodeAlawFrame(b)
			} else {
				s = g711.DecodeUlawFrame(b)
			}
			peak = max(peak, s, -s)
		}
		p.mu.Lock()
		if peak > voicedPeak {
			p.voiced++
			p.quiet = 0
			if !p.answerFrom.IsZero() && now.After(p.answerFrom) && p.answerAt.IsZero() {
				p.answerAt = now
				close(p.answered)
			}
		} else if p.voiced > 0 {
			p.quiet++
		}
		if !p.talkOnce && p.voiced >= talkMin && p.quiet >= quietTalk {
			p.talkOnce = true
			close(p.talkEnded)
		}
		p.mu.Unlock()
	}
}
