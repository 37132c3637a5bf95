package webrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/zaf/g711"
)

// Audio format between packages: 20 ms frames of 8 kHz mono int16.
const (
	// FrameSamples is the number of samples in one 20 ms frame.
	FrameSamples = 160
	// FrameDuration is the length of one frame.
	FrameDuration = 20 * time.Millisecond
	sampleRate    = 8000
)

// Payload types of the two codecs a Leg carries (RFC 3551 table 4).
const (
	PayloadPCMU uint8 = 0
	PayloadPCMA uint8 = 8
)

// Defaults applied by NewLeg to zero-valued Config fields.
const (
	DefaultOutputFrames  = 10 // 200 ms of queued outbound audio
	DefaultPlayoutFrames = 5  // 100 ms of received audio waiting for ReadFrame
)

// Errors returned by a Leg.
var (
	// ErrClosed is returned by ReadFrame and WriteFrame once Close ran.
	ErrClosed = errors.New("webrtc: leg closed")
	// ErrNoCommonCodec means the offer has neither PCMU nor PCMA.
	ErrNoCommonCodec = errors.New("webrtc: offer has no PCMU or PCMA audio")
	// ErrAnswered is returned by a second Answer on the same leg.
	ErrAnswered = errors.New("webrtc: leg already answered an offer")
)

// Config builds a Leg. The zero value works on a machine whose browser
// reaches one of its non-loopback addresses.
type Config struct {
	// CallID tags every log line of the leg (call_id).
	CallID string
	// Logger receives the leg's logs. Default slog.Default().
	Logger *slog.Logger
	// PortMin and PortMax bound the UDP ports of ICE host candidates.
	// Default 0, 0: ephemeral ports.
	PortMin, PortMax uint16
	// IncludeLoopback also offers 127.0.0.1 candidates, for a browser on the
	// same machine with no other interface. Default false.
	IncludeLoopback bool
	// PublicIPs, when set, replace the host candidates' addresses (a server
	// behind 1:1 NAT). Default none.
	PublicIPs []string
	// OutputFrames is how many frames WriteFrame queues before it blocks.
	// Default 10 (200 ms).
	OutputFrames int
	// PlayoutFrames is how many received frames wait for ReadFrame; beyond
	// it the oldest is dropped so a reader that paused hears fresh audio.
	// Default 5 (100 ms).
	PlayoutFrames int
	// ConnectTimeout bounds ICE and DTLS after Answer; a leg that has not
	// connected by then fails and ReadFrame and WriteFrame return an error.
	// Default 15 s.
	ConnectTimeout time.Duration
}

// Leg is the WebRTC media of one call. It is safe for one goroutine calling
// ReadFrame, one calling WriteFrame and others calling the rest.
type Leg struct {
	cfg Config
	log *slog.Logger

	answered atomic.Bool
	pc       *pion.PeerConnection
	track    *pion.TrackLocalStaticSample
	pt       atomic.Uint32 // negotiated payload type
	dtmfPT   uint8         // telephone-event payload type, 0 = none; set by Answer
	dtmf     chan Digit

	out chan [FrameSamples]int16

	// Received frames, oldest first, in a ring guarded by inMu.
	inMu      sync.Mutex
	in        [][FrameSamples]int16
	inHead    int
	inCount   int
	buffering bool // after an underrun, wait for two frames before playing

	// Only touched by the ReadFrame goroutine.
	readNext  time.Time
	readTimer *time.Timer

	lastRecv  atomic.Int64 // unix ns of the last RTP packet
	hold      atomic.Bool
	connected chan struct{}
	connOnce  sync.Once
	failed    chan struct{}
	failOnce  sync.Once
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	packetsSent     atomic.Uint64
	packetsReceived atomic.Uint64
}

// Stats are a leg's packet counters.
type Stats struct {
	PacketsSent     uint64
	PacketsReceived uint64
}

// NewLeg builds a leg; it opens nothing until Answer.
func NewLeg(cfg Config) (*Leg, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OutputFrames <= 0 {
		cfg.OutputFrames = DefaultOutputFrames
	}
	if cfg.PlayoutFrames <= 0 {
		cfg.PlayoutFrames = DefaultPlayoutFrames
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("webrtc leg of call %q: port range %d-%d is empty", cfg.CallID, cfg.PortMin, cfg.PortMax)
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Leg{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "webrtc", "call_id", cfg.CallID),
		out:       make(chan [FrameSamples]int16, cfg.OutputFrames),
		dtmf:      make(chan Digit, 16),
		in:        make([][FrameSamples]int16, cfg.PlayoutFrames),
		buffering: true,
		readTimer: t,
		connected: make(chan struct{}),
		failed:    make(chan struct{}),
		done:      make(chan struct{}),
	}, nil
}

// OfferCodec returns the codec a Leg would answer offer with: PCMU if the
// offer's first audio section carries it, else PCMA. It lets the SIP layer
// reject an unusable offer (488) before building a leg.
func OfferCodec(offer []byte) (uint8, error) {
	pt, _, err := parseOffer(offer)
	return pt, err
}

// parseOffer returns the codec to answer with and the offer's
// telephone-event/8000 payload type (0 when absent).
func parseOffer(offer []byte) (pt, dtmfPT uint8, err error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(offer); err != nil {
		return 0, 0, fmt.Errorf("parse webrtc offer: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md == nil || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		have := map[uint8]bool{}
		names := map[string]string{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, _ := strings.Cut(a.Value, " ")
			names[pt] = strings.ToUpper(strings.TrimSpace(enc))
		}
		for _, f := range md.MediaName.Formats {
			enc, ok := names[f]
			if n, err := strconv.ParseUint(f, 10, 7); err == nil && n >= 96 && strings.HasPrefix(enc, "TELEPHONE-EVENT/8000") && dtmfPT == 0 {
				dtmfPT = uint8(n)
			}
			switch {
			case f == "0" && (!ok || strings.HasPrefix(enc, "PCMU/8000")):
				have[PayloadPCMU] = true
			case f == "8" && (!ok || strings.HasPrefix(enc, "PCMA/8000")):
				have[PayloadPCMA] = true
			}
		}
		switch {
		case have[PayloadPCMU]:
			return PayloadPCMU, dtmfPT, nil
		case have[PayloadPCMA]:
			return PayloadPCMA, dtmfPT, nil
		}
		return 0, 0, fmt.Errorf("audio formats %v: %w", md.MediaName.Formats, ErrNoCommonCodec)
	}
	return 0, 0, fmt.Errorf("no audio section: %w", ErrNoCommonCodec)
}

// Answer applies the browser's SDP offer and returns the answer, with every
// host candidate gathered (no trickle ICE: SIP carries one answer). Media
// starts once ICE and DTLS connect.
func (l *Leg) Answer(ctx context.Context, offer []byte) ([]byte, error) {
	if !l.answered.CompareAndSwap(false, true) {
		return nil, ErrAnswered
	}
	pt, dtmfPT, err := parseOffer(offer)
	if err != nil {
		return nil, fmt.Errorf("answer webrtc offer of call %q: %w", l.cfg.CallID, err)
	}
	l.pt.Store(uint32(pt))
	l.dtmfPT = dtmfPT
	pc, err := l.newPeerConnection(pt, dtmfPT)
	if err != nil {
		return nil, fmt.Errorf("answer webrtc offer of call %q: %w", l.cfg.CallID, err)
	}
	l.pc = pc
	fail := func(what string, err error) ([]byte, error) {
		return nil, fmt.Errorf("answer webrtc offer of call %q: %s: %w", l.cfg.CallID, what, err)
	}
	l.track, err = pion.NewTrackLocalStaticSample(codecCapability(pt), "audio", "waihu")
	if err != nil {
		return fail("track", err)
	}
	sender, err := pc.AddTrack(l.track)
	if err != nil {
		return fail("add track", err)
	}
	// The RTCP interceptors (receiver reports in, sender reports out) only
	// run while someone reads the sender.
	l.wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	})
	pc.OnTrack(func(tr *pion.TrackRemote, recv *pion.RTPReceiver) {
		if tr.Kind() != pion.RTPCodecTypeAudio {
			return
		}
		l.wg.Go(func() { l.receive(tr) })
		// The browser's sender reports reach the receiver-report
		// interceptor only when read: without them our reports carry no
		// LSR/DLSR and the browser cannot measure the round trip.
		l.wg.Go(func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := recv.Read(buf); err != nil {
					return
				}
			}
		})
	})
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		l.log.Info("webrtc connection state", "state", s.String())
		switch s {
		case pion.PeerConnectionStateConnected:
			l.connOnce.Do(func() { close(l.connected) })
		case pion.PeerConnectionStateFailed:
			l.failOnce.Do(func() { close(l.failed) })
		}
	})
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return fail("remote description", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail("create answer", err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail("local description", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail("gather candidates", ctx.Err())
	}
	l.wg.Go(l.send)
	l.wg.Go(l.watchConnect)
	local := pc.LocalDescription()
	l.log.Info("webrtc offer answered", "codec", codecName(pt))
	return []byte(local.SDP), nil
}

func (l *Leg) newPeerConnection(pt, dtmfPT uint8) (*pion.PeerConnection, error) {
	m := &pion.MediaEngine{}
	// Only the codec we answer with: the browser then sends it without
	// transcoding on either side.
	if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: codecCapability(pt), PayloadType: pion.PayloadType(pt)}, pion.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register codec: %w", err)
	}
	if dtmfPT != 0 {
		// RFC 4733 events at the browser's own payload type, so its
		// RTCDTMFSender can send keys in the media.
		te := pion.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: sampleRate}
		if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: te, PayloadType: pion.PayloadType(dtmfPT)}, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register telephone-event: %w", err)
		}
	}
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	se := pion.SettingEngine{}
	if l.cfg.PortMax > 0 {
		if err := se.SetEphemeralUDPPortRange(l.cfg.PortMin, l.cfg.PortMax); err != nil {
			return nil, fmt.Errorf("port range: %w", err)
		}
	}
	se.SetIncludeLoopbackCandidate(l.cfg.IncludeLoopback)
	if len(l.cfg.PublicIPs) > 0 {
		// Host candidates carry the public addresses instead of the local ones.
		rule := pion.ICEAddressRewriteRule{External: l.cfg.PublicIPs, AsCandidateType: pion.ICECandidateTypeHost}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			return nil, fmt.Errorf("public IPs %v: %w", l.cfg.PublicIPs, err)
		}
	}
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	se.LoggerFactory = slogLoggerFactory{log: l.log}
	api := pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("peer connection: %w", err)
	}
	return pc, nil
}

const mimeTelephoneEvent = "audio/telephone-event"

func codecCapability(pt uint8) pion.RTPCodecCapability {
	mime := pion.MimeTypePCMU
	if pt == PayloadPCMA {
		mime = pion.MimeTypePCMA
	}
	return pion.RTPCodecCapability{MimeType: mime, ClockRate: sampleRate, Channels: 1}
}

func codecName(pt uint8) string {
	if pt == PayloadPCMA {
		return "PCMA"
	}
	return "PCMU"
}

// watchConnect fails the leg if ICE and DTLS do not connect in time.
func (l *Leg) watchConnect() {
	t := time.NewTimer(l.cfg.ConnectTimeout)
	defer t.Stop()
	select {
	case <-l.connected:
	case <-l.done:
	case <-t.C:
		l.log.Warn("webrtc did not connect; failing the leg", "timeout", l.cfg.ConnectTimeout.String())
		l.failOnce.Do(func() { close(l.failed) })
	}
}

// receive decodes the browser's RTP into frames for ReadFrame. Packets of
// any length are re-cut into 20 ms frames.
func (l *Leg) receive(tr *pion.TrackRemote) {
	l.log.Info("webrtc audio track received", "codec", tr.Codec().MimeType, "ssrc", uint32(tr.SSRC()))
	buf := make([]byte, 1500)
	var pkt pionrtp.Packet
	var frame [FrameSamples]int16
	var keys dtmfReceiver
	fill := 0
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue // a bad packet only loses itself
		}
		if l.dtmfPT != 0 && pkt.PayloadType == l.dtmfPT {
			l.lastRecv.Store(time.Now().UnixNano())
			if d, ok, err := keys.packet(pkt.Timestamp, pkt.Payload); err == nil && ok {
				select {
				case l.dtmf <- Digit{Digit: d, At: time.Now()}:
				default: // nobody reads digits: drop them, not the audio
				}
			}
			continue
		}
		var decode func(uint8) int16
		switch pkt.PayloadType {
		case PayloadPCMU:
			decode = g711.DecodeUlawFrame
		case PayloadPCMA:
			decode = g711.DecodeAlawFrame
		default:
			continue
		}
		l.lastRecv.Store(time.Now().UnixNano())
		l.packetsReceived.Add(1)
		for _, b := range pkt.Payload {
			frame[fill] = decode(b)
			fill++
			if fill == FrameSamples {
				l.push(&frame)
				fill = 0
			}
		}
	}
}

// push adds a received frame, dropping the oldest when the ring is full.
func (l *Leg) push(f *[FrameSamples]int16) {
	l.inMu.Lock()
	defer l.inMu.Unlock()
	size := len(l.in)
	if l.inCount == size {
		l.inHead = (l.inHead + 1) % size
		l.inCount--
	}
	l.in[(l.inHead+l.inCount)%size] = *f
	l.inCount++
}

// pop copies the next received frame into dst, or silence when none is
// ready. After an underrun it waits for two frames, so network jitter of
// up to one frame does not cut the audio into pieces.
func (l *Leg) pop(dst []int16) {
	l.inMu.Lock()
	defer l.inMu.Unlock()
	if l.buffering && l.inCount >= 2 {
		l.buffering = false
	}
	if l.buffering || l.inCount == 0 {
		l.buffering = true
		clear(dst[:FrameSamples])
		return
	}
	copy(dst, l.in[l.inHead][:])
	l.inHead = (l.inHead + 1) % len(l.in)
	l.inCount--
}

// ReadFrame waits for the next 20 ms playout frame and copies it into dst,
// which must hold FrameSamples samples. Frames come in real time, silence
// when the browser sent nothing.
func (l *Leg) ReadFrame(ctx context.Context, dst []int16) error {
	if len(dst) < FrameSamples {
		return fmt.Errorf("read frame of call %q: buffer of %d samples, need %d", l.cfg.CallID, len(dst), FrameSamples)
	}
	now := time.Now()
	// A reader that paused restarts the clock instead of racing to catch up.
	if l.readNext.IsZero() || now.Sub(l.readNext) > 10*FrameDuration {
		l.readNext = now
	}
	if wait := l.readNext.Sub(now); wait > 0 {
		l.readTimer.Reset(wait)
		select {
		case <-l.readTimer.C:
		case <-ctx.Done():
			l.readTimer.Stop()
			return ctx.Err()
		case <-l.done:
			l.readTimer.Stop()
			return ErrClosed
		}
	}
	select {
	case <-l.done:
		return ErrClosed
	case <-l.failed:
		return fmt.Errorf("read frame of call %q: webrtc connection failed", l.cfg.CallID)
	default:
	}
	l.readNext = l.readNext.Add(FrameDuration)
	l.pop(dst)
	return nil
}

// WriteFrame queues src (FrameSamples samples) for sending. It blocks while
// the queue is full, until ctx ends or the leg closes. When the queue is
// empty the leg sends silence, so the browser sees one continuous stream.
func (l *Leg) WriteFrame(ctx context.Context, src []int16) error {
	if len(src) != FrameSamples {
		return fmt.Errorf("write frame of call %q: %d samples, need %d", l.cfg.CallID, len(src), FrameSamples)
	}
	var f [FrameSamples]int16
	copy(f[:], src)
	select {
	case l.out <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return ErrClosed
	case <-l.failed:
		return fmt.Errorf("write frame of call %q: webrtc connection failed", l.cfg.CallID)
	}
}

// ClearOutput drops all queued outbound audio at once, for barge-in.
func (l *Leg) ClearOutput() {
	for {
		select {
		case <-l.out:
		default:
			return
		}
	}
}

// send paces the outbound track: one frame every 20 ms once connected.
// Queued audio waits for the connection, so a prompt's start is not lost
// while ICE and DTLS finish.
func (l *Leg) send() {
	select {
	case <-l.connected:
	case <-l.done:
		return
	case <-l.failed:
		return
	}
	tick := time.NewTicker(FrameDuration)
	defer tick.Stop()
	var payload [FrameSamples]byte
	var frame [FrameSamples]int16
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		select {
		case frame = <-l.out:
		default:
			clear(frame[:])
		}
		if l.hold.Load() {
			continue
		}
		encode := g711.EncodeUlawFrame
		if uint8(l.pt.Load()) == PayloadPCMA {
			encode = g711.EncodeAlawFrame
		}
		for i, s := range frame {
			payload[i] = encode(s)
		}
		if err := l.track.WriteSample(media.Sample{Data: payload[:], Duration: FrameDuration}); err != nil {
			l.log.Debug("webrtc write failed", "error", err)
			continue
		}
		l.packetsSent.Add(1)
	}
}

// LocalAddr is the local address of the selected ICE candidate pair, the
// zero AddrPort before ICE connects. SDP for a WebRTC leg comes from Answer;
// this is for logs and sip.MediaLeg.
func (l *Leg) LocalAddr() netip.AddrPort {
	if l.pc == nil {
		return netip.AddrPort{}
	}
	for _, tr := range l.pc.GetTransceivers() {
		if s := tr.Sender(); s != nil {
			pair, err := s.Transport().ICETransport().GetSelectedCandidatePair()
			if err != nil || pair == nil || pair.Local == nil {
				continue
			}
			if ip, err := netip.ParseAddr(pair.Local.Address); err == nil {
				return netip.AddrPortFrom(ip, pair.Local.Port)
			}
		}
	}
	return netip.AddrPort{}
}

// SetRemote accepts the codec the SIP layer negotiated. The address is
// ignored: ICE chose the path. Only PCMU and PCMA are carried.
func (l *Leg) SetRemote(_ netip.AddrPort, payloadType uint8, _ uint8) error {
	if payloadType != PayloadPCMU && payloadType != PayloadPCMA {
		return fmt.Errorf("webrtc leg of call %q: payload type %d: %w", l.cfg.CallID, payloadType, ErrNoCommonCodec)
	}
	if l.answered.Load() && uint8(l.pt.Load()) != payloadType {
		return fmt.Errorf("webrtc leg of call %q: codec is fixed at %s by the answer", l.cfg.CallID, codecName(uint8(l.pt.Load())))
	}
	l.pt.Store(uint32(payloadType))
	return nil
}

// SetHold stops (true) or resumes (false) sending.
func (l *Leg) SetHold(onHold bool) { l.hold.Store(onHold) }

// LastReceived is when the last RTP packet arrived, the zero time if none
// did, and the current time while on hold.
func (l *Leg) LastReceived() time.Time {
	if l.hold.Load() {
		return time.Now()
	}
	ns := l.lastRecv.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// DTMF returns the keys the browser sent as RFC 4733 events, each once.
// The channel is closed when the leg closes; keys are dropped if nobody
// reads.
func (l *Leg) DTMF() <-chan Digit { return l.dtmf }

// Connected is closed once ICE and DTLS are up.
func (l *Leg) Connected() <-chan struct{} { return l.connected }

// Failed is closed when ICE or DTLS fail, or do not connect within
// Config.ConnectTimeout: the call has no media and should end.
func (l *Leg) Failed() <-chan struct{} { return l.failed }

// Stats returns the packet counters.
func (l *Leg) Stats() Stats {
	return Stats{PacketsSent: l.packetsSent.Load(), PacketsReceived: l.packetsReceived.Load()}
}

// Close ends the peer connection and waits for the leg's goroutines.
func (l *Leg) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		if l.pc != nil {
			if cerr := l.pc.Close(); cerr != nil {
				err = fmt.Errorf("close webrtc leg of call %q: %w", l.cfg.CallID, cerr)
			}
		}
		l.wg.Wait()
		close(l.dtmf)
		st := l.Stats()
		l.log.Info("webrtc leg closed", "packets_sent", st.PacketsSent, "packets_received", st.PacketsReceived)
	})
	return err
}
