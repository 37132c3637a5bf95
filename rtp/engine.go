package rtp

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// Config configures an Engine. The zero value is usable: every field has a
// documented default.
type Config struct {
	// BindIP is the local address RTP and RTCP sockets bind to.
	// Default: 0.0.0.0 (all IPv4 interfaces).
	BindIP netip.Addr
	// ExternalIP, when valid, is the address LocalAddr reports for SDP,
	// for a server behind 1:1 NAT. Default: BindIP, or when that is
	// unspecified the host's first global unicast IPv4 address (loopback
	// if it has none).
	ExternalIP netip.Addr
	// PortMin and PortMax bound the RTP ports; each leg takes an even RTP
	// port and the odd RTCP port above it. Default 10000..20000.
	PortMin, PortMax int
	// JitterMin and JitterMax bound the adaptive playout delay.
	// Default 20 ms..200 ms.
	JitterMin, JitterMax time.Duration
	// RTCPInterval is the mean interval between RTCP reports; each interval
	// is randomised to 0.5–1.5× (RFC 3550 §6.3.1). Default 5 s.
	RTCPInterval time.Duration
	// OutputFrames is how many 20 ms frames WriteFrame may queue before it
	// blocks. Default 10 (200 ms).
	OutputFrames int
	// Logger receives the engine's and legs' logs. Default slog.Default().
	Logger *slog.Logger
}

// Errors of the engine.
var (
	// ErrClosed is returned by operations on a closed leg or engine.
	ErrClosed = errors.New("rtp: closed")
	// ErrNoPorts means every port pair in the range is taken.
	ErrNoPorts = errors.New("rtp: no free port pair in range")
)

func (c Config) withDefaults() (Config, error) {
	if !c.BindIP.IsValid() {
		c.BindIP = netip.IPv4Unspecified()
	}
	if c.PortMin == 0 && c.PortMax == 0 {
		c.PortMin, c.PortMax = 10000, 20000
	}
	if c.PortMin%2 == 1 {
		c.PortMin++
	}
	if c.PortMin < 1 || c.PortMax > 65535 || c.PortMax < c.PortMin+1 {
		return c, fmt.Errorf("rtp: port range %d..%d must hold at least one even/odd pair within 1..65535", c.PortMin, c.PortMax)
	}
	if c.JitterMin <= 0 {
		c.JitterMin = 20 * time.Millisecond
	}
	if c.JitterMax <= 0 {
		c.JitterMax = 200 * time.Millisecond
	}
	if c.JitterMax < c.JitterMin {
		return c, fmt.Errorf("rtp: JitterMax %v below JitterMin %v", c.JitterMax, c.JitterMin)
	}
	if c.RTCPInterval <= 0 {
		c.RTCPInterval = 5 * time.Second
	}
	if c.OutputFrames <= 0 {
		c.OutputFrames = 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Engine allocates ports for legs and paces all of them from a few shared
// goroutines. It is safe for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	ports  map[int]*Leg // RTP port → open leg
	next   int          // next RTP port to try

	defaultIP netip.Addr // advertised when bound to the unspecified address

	shards []*pacerShard
	stop   chan struct{}
	wg     sync.WaitGroup
}

// NewEngine validates cfg, applies defaults and starts the pacer.
func NewEngine(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "rtp"),
		ports: make(map[int]*Leg),
		stop:  make(chan struct{}),
	}
	e.defaultIP = firstUnicastIPv4()
	pairs := (cfg.PortMax - cfg.PortMin + 1) / 2
	// A random first port keeps two processes sharing a range (tests,
	// restarts while old sockets linger) from colliding on every call.
	e.next = cfg.PortMin + 2*rand.IntN(pairs)
	// A few shards spread the per-tick work over cores; each is one
	// goroutine regardless of how many legs it paces.
	n := min(max(runtime.GOMAXPROCS(0), 1), 4)
	for range n {
		s := &pacerShard{}
		e.shards = append(e.shards, s)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			s.run(e.stop)
		}()
	}
	return e, nil
}

// Close closes every open leg and stops the pacer.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	legs := make([]*Leg, 0, len(e.ports))
	for _, l := range e.ports {
		legs = append(legs, l)
	}
	e.mu.Unlock()
	var errs []error
	for _, l := range legs {
		errs = append(errs, l.Close())
	}
	close(e.stop)
	e.wg.Wait()
	return errors.Join(errs...)
}

// NewLeg binds a free even/odd port pair in the range and returns a leg
// whose logs carry callID. The leg sends nothing until SetRemote.
func (e *Engine) NewLeg(callID string) (*Leg, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("new leg for call %q: %w", callID, ErrClosed)
	}
	span := e.cfg.PortMax - e.cfg.PortMin + 1
	for tries := 0; tries < span/2; tries++ {
		port := e.next
		e.next += 2
		if e.next+1 > e.cfg.PortMax {
			e.next = e.cfg.PortMin
		}
		if _, busy := e.ports[port]; busy {
			continue
		}
		rtpConn, rtcpConn, err := bindPair(e.cfg.BindIP, port)
		if err != nil {
			continue // taken by another process: try the next pair
		}
		l := newLeg(e, callID, port, rtpConn, rtcpConn)
		if err := l.start(); err != nil {
			rtpConn.Close()
			rtcpConn.Close()
			return nil, err
		}
		e.ports[port] = l
		e.shardFor().add(l)
		return l, nil
	}
	return nil, fmt.Errorf("new leg for call %q in %v ports %d..%d: %w",
		callID, e.cfg.BindIP, e.cfg.PortMin, e.cfg.PortMax, ErrNoPorts)
}

// shardFor picks the least loaded pacer shard. Called with e.mu held.
func (e *Engine) shardFor() *pacerShard {
	best := e.shards[0]
	for _, s := range e.shards[1:] {
		if s.size() < best.size() {
			best = s
		}
	}
	return best
}

// release forgets a closed leg's ports.
func (e *Engine) release(l *Leg) {
	e.mu.Lock()
	if e.ports[l.port] == l {
		delete(e.ports, l.port)
	}
	e.mu.Unlock()
	l.shard.remove(l)
}

func bindPair(ip netip.Addr, port int) (*net.UDPConn, *net.UDPConn, error) {
	rtpConn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
	if err != nil {
		return nil, nil, fmt.Errorf("bind RTP %v:%d: %w", ip, port, err)
	}
	rtcpConn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port+1))))
	if err != nil {
		rtpConn.Close()
		return nil, nil, fmt.Errorf("bind RTCP %v:%d: %w", ip, port+1, err)
	}
	return rtpConn, rtcpConn, nil
}

// pacerSlots is how many phases a shard spreads its legs over: it wakes
// every FrameDuration/pacerSlots and ticks one slot's legs, so each leg
// still sends every FrameDuration but the shard's sends and the peers'
// receives (and the readers' per-frame work, which runs when a packet
// arrives) come in four small bursts per frame instead of one large one.
const pacerSlots = 4

// pacerShard ticks a set of legs every FrameDuration from one goroutine.
type pacerShard struct {
	mu    sync.Mutex
	slots [pacerSlots][]*Leg
	n     int
	snap  []*Leg // reused each tick so ticking allocates nothing
	rtcp  rtcpReady
}

func (s *pacerShard) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// add puts l in the least loaded slot.
func (s *pacerShard) add(l *Leg) {
	s.mu.Lock()
	best := 0
	for i := range s.slots {
		if len(s.slots[i]) < len(s.slots[best]) {
			best = i
		}
	}
	s.slots[best] = append(s.slots[best], l)
	s.n++
	l.shard, l.slot = s, best
	s.mu.Unlock()
}

func (s *pacerShard) remove(l *Leg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	legs := s.slots[l.slot]
	for i, x := range legs {
		if x == l {
			last := len(legs) - 1
			legs[i] = legs[last]
			legs[last] = nil
			s.slots[l.slot] = legs[:last]
			s.n--
			return
		}
	}
}

// maxCatchUp bounds how many missed ticks are replayed after a stall; past
// it the schedule restarts from now, as late audio is worth less than
// fresh audio.
const maxCatchUp = 5

// run ticks on an absolute schedule so that timer slop does not accumulate:
// a tick that fires late is followed by an early one. Each wake-up ticks
// the next slot.
func (s *pacerShard) run(stop <-chan struct{}) {
	const period = FrameDuration / pacerSlots
	timer := time.NewTimer(period)
	defer timer.Stop()
	next := time.Now().Add(period)
	slot := 0
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		if behind := now.Sub(next); behind > maxCatchUp*FrameDuration {
			// Skip the missed frames but keep every leg's media clock
			// in step with real time.
			s.skip(int(behind / FrameDuration))
			next = now
		}
		s.tickSlot(slot, now)
		slot = (slot + 1) % pacerSlots
		next = next.Add(period)
		timer.Reset(time.Until(next))
	}
}

// tick ticks every slot at once (benchmarks and tests).
func (s *pacerShard) tick(now time.Time) {
	for i := range pacerSlots {
		s.tickSlot(i, now)
	}
}

// tickSlot ticks the legs of one slot: first every send, back to back,
// then playout and RTCP. Playout may wake a reader (concealment when a
// packet is late), and that work would otherwise run between the sends and
// delay the later legs' packets.
func (s *pacerShard) tickSlot(slot int, now time.Time) {
	s.mu.Lock()
	s.snap = append(s.snap[:0], s.slots[slot]...)
	s.mu.Unlock()
	for _, l := range s.snap {
		l.tickSend()
	}
	s.rtcp.mark(s.snap)
	for i, l := range s.snap {
		l.tickRest(now)
		s.snap[i] = nil
	}
}

// firstUnicastIPv4 finds an address to advertise when bound to 0.0.0.0 and
// no ExternalIP is set: the first global unicast IPv4 address of the host,
// else loopback.
func firstUnicastIPv4() netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			if ip := pfx.Addr(); ip.Is4() && ip.IsGlobalUnicast() {
				return ip
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// skip advances every leg's media clock over frames the pacer missed.
func (s *pacerShard) skip(frames int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, legs := range s.slots {
		for _, l := range legs {
			l.skipFrames(frames)
		}
	}
}
