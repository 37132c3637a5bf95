package webrtc

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/zaf/g711"
	"go.uber.org/goleak"
)

// chirp is a sweep from f0 to f1 Hz: every 0.5 s stretch of it is unlike
// every other, so cross-correlation finds one clear alignment.
func chirp(f0, f1 float64, seconds float64) []int16 {
	n := int(seconds * sampleRate)
	out := make([]int16, n)
	k := (f1 - f0) / seconds
	for i := range out {
		t := float64(i) / sampleRate
		out[i] = int16(10000 * math.Sin(2*math.Pi*(f0*t+k*t*t/2)))
	}
	return out
}

// bestCorrelation is the highest normalised cross-correlation of ref
// against got at any lag.
func bestCorrelation(got, ref []int16) float64 {
	var refE float64
	for _, v := range ref {
		refE += float64(v) * float64(v)
	}
	best := 0.0
	for lag := 0; lag+len(ref) <= len(got); lag++ {
		var dot, e float64
		for i, r := range ref {
			g := float64(got[lag+i])
			dot += g * float64(r)
			e += g * g
		}
		if e == 0 {
			continue
		}
		if c := dot / math.Sqrt(e*refE); c > best {
			best = c
		}
	}
	return best
}

// browser is a plain pion peer standing in for Chromium: default codecs
// (Opus first), full ICE, a PCMU track of its own.
type browser struct {
	pc    *pion.PeerConnection
	track *pion.TrackLocalStaticSample

	mu   sync.Mutex
	got  []int16
	wg   sync.WaitGroup
	done chan struct{}
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	pc, err := pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(se)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{pc: pc, done: make(chan struct{})}
	b.track, err = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "audio", "browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(b.track); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		b.wg.Go(func() {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				b.mu.Lock()
				for _, s := range p.Payload {
					b.got = append(b.got, g711.DecodeUlawFrame(s))
				}
				b.mu.Unlock()
			}
		})
	})
	return b
}

func (b *browser) offer(t *testing.T) []byte {
	t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return []byte(b.pc.LocalDescription().SDP)
}

// play sends pcm as 20 ms PCMU samples in real time, then silence until stop.
func (b *browser) play(pcm []int16, stop <-chan struct{}) {
	tick := time.NewTicker(FrameDuration)
	defer tick.Stop()
	payload := make([]byte, FrameSamples)
	for off := 0; ; off += FrameSamples {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for i := range payload {
			var s int16
			if off+i < len(pcm) {
				s = pcm[off+i]
			}
			payload[i] = g711.EncodeUlawFrame(s)
		}
		_ = b.track.WriteSample(media.Sample{Data: payload, Duration: FrameDuration})
	}
}

func (b *browser) close() {
	_ = b.pc.Close()
	b.wg.Wait()
}

func TestLegExchangesPCMUWithABrowserPeerBothWays(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	b := newBrowser(t)
	defer b.close()
	leg, err := NewLeg(Config{CallID: "test-call", IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()

	offer := b.offer(t)
	if !strings.Contains(string(offer), "opus") {
		t.Fatalf("the browser stand-in must offer Opus first like Chromium; offer:\n%s", offer)
	}
	answer, err := leg.Answer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a=rtpmap:0 PCMU/8000", "a=fingerprint:", "UDP/TLS/RTP/SAVPF", "a=candidate:"} {
		if !strings.Contains(string(answer), want) {
			t.Errorf("answer lacks %q:\n%s", want, answer)
		}
	}
	if strings.Contains(strings.ToLower(string(answer)), "opus") {
		t.Errorf("answer negotiates Opus, which would need transcoding:\n%s", answer)
	}
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leg.Connected():
	case <-ctx.Done():
		t.Fatal("ICE/DTLS did not connect")
	}

	fromBrowser := chirp(300, 3000, 2)
	fromLeg := chirp(3000, 300, 2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { b.play(fromBrowser, stop) })
	wg.Go(func() {
		for off := 0; off < len(fromLeg); off += FrameSamples {
			if err := leg.WriteFrame(ctx, fromLeg[off:off+FrameSamples]); err != nil {
				t.Errorf("write frame: %v", err)
				return
			}
		}
	})
	var heard []int16
	frame := make([]int16, FrameSamples)
	for range 3 * sampleRate / FrameSamples { // 3 s of playout
		if err := leg.ReadFrame(ctx, frame); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		heard = append(heard, frame...)
	}
	close(stop)
	wg.Wait()
	if last := leg.LastReceived(); time.Since(last) > time.Second {
		t.Errorf("LastReceived %v is stale", last)
	}

	ref := func(pcm []int16) []int16 { return pcm[sampleRate/2 : sampleRate] } // 0.5 s from the middle
	if c := bestCorrelation(heard, ref(fromBrowser)); c < 0.9 {
		t.Errorf("leg heard the browser with correlation %.3f, want ≥ 0.9", c)
	}
	b.mu.Lock()
	got := append([]int16(nil), b.got...)
	b.mu.Unlock()
	if c := bestCorrelation(got, ref(fromLeg)); c < 0.9 {
		t.Errorf("browser heard the leg with correlation %.3f (%d samples), want ≥ 0.9", c, len(got))
	}
	if st := leg.Stats(); st.PacketsReceived == 0 || st.PacketsSent == 0 {
		t.Errorf("stats %+v: want packets both ways", st)
	}
	if !leg.LocalAddr().IsValid() {
		t.Errorf("LocalAddr invalid after connecting")
	}
}

func TestOfferCodecPrefersPCMUAndRejectsOpusOnly(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name    string
		sdp     string
		want    uint8
		wantErr error
	}{
		{"chromium order picks PCMU", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n", PayloadPCMU, nil},
		{"PCMA only", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 8\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:8 PCMA/8000\r\n", PayloadPCMA, nil},
		{"static types without rtpmap", head + "m=audio 9 RTP/AVP 8 0\r\nc=IN IP4 0.0.0.0\r\n", PayloadPCMU, nil},
		{"Opus only", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n", 0, ErrNoCommonCodec},
		{"video only", head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n", 0, ErrNoCommonCodec},
		{"type 0 remapped to another codec", head + "m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 opus/48000/2\r\n", 0, ErrNoCommonCodec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OfferCodec([]byte(tt.sdp))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("codec = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseOfferFindsTheTelephoneEventAt8kHz(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name string
		sdp  string
		want uint8
	}{
		{"chromium offers 48 kHz and 8 kHz events", head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n", 126},
		{"no events", head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n", 0},
		{"events only at 48 kHz", head + "m=audio 9 UDP/TLS/RTP/SAVPF 0 110\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:110 telephone-event/48000\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := parseOffer([]byte(tt.sdp))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("telephone-event PT %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOfferCodecRejectsGarbageWithoutPanicking(t *testing.T) {
	for _, in := range []string{"", "not sdp", "v=0\r\nm=audio x\r\n", "\x00\x01"} {
		if _, err := OfferCodec([]byte(in)); err == nil {
			t.Errorf("OfferCodec(%q) accepted garbage", in)
		}
	}
}

func TestLegAnswerRejectsAnOfferWithoutG711(t *testing.T) {
	leg, err := NewLeg(Config{CallID: "opus-only"})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	offer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	if _, err := leg.Answer(context.Background(), []byte(offer)); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("err = %v, want ErrNoCommonCodec", err)
	}
	if _, err := leg.Answer(context.Background(), []byte(offer)); !errors.Is(err, ErrAnswered) {
		t.Fatalf("second Answer: err = %v, want ErrAnswered", err)
	}
}

func TestLegFramesFailCleanlyOnBadSizesAndAfterClose(t *testing.T) {
	leg, err := NewLeg(Config{CallID: "closed"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := leg.ReadFrame(ctx, make([]int16, 10)); err == nil {
		t.Error("ReadFrame accepted a 10-sample buffer")
	}
	if err := leg.WriteFrame(ctx, make([]int16, 10)); err == nil {
		t.Error("WriteFrame accepted a 10-sample frame")
	}
	leg.Close()
	frame := make([]int16, FrameSamples)
	if err := leg.ReadFrame(ctx, frame); err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame after Close: %v", err)
	}
	if err := leg.ReadFrame(ctx, frame); !errors.Is(err, ErrClosed) {
		t.Errorf("second ReadFrame after Close: err = %v, want ErrClosed", err)
	}
	// Fill the queue: the write that would block must return ErrClosed.
	var werr error
	for range DefaultOutputFrames + 1 {
		if werr = leg.WriteFrame(ctx, frame); werr != nil {
			break
		}
	}
	if !errors.Is(werr, ErrClosed) {
		t.Errorf("WriteFrame after Close: err = %v, want ErrClosed", werr)
	}
}

func TestLegHoldKeepsTheMediaTimeoutAway(t *testing.T) {
	leg, err := NewLeg(Config{CallID: "hold"})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	if !leg.LastReceived().IsZero() {
		t.Fatal("LastReceived before any packet is not zero")
	}
	leg.SetHold(true)
	if time.Since(leg.LastReceived()) > time.Second {
		t.Error("on hold, LastReceived is not now")
	}
	if err := leg.SetRemote(netip.AddrPort{}, 18, 0); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("SetRemote G.729: err = %v, want ErrNoCommonCodec", err)
	}
}

func TestLegThatNeverConnectsFailsAfterTheConnectTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b := newBrowser(t)
	defer b.close()
	leg, err := NewLeg(Config{CallID: "no-ice", IncludeLoopback: true, ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	// The browser never learns the answer, so ICE never starts.
	if _, err := leg.Answer(context.Background(), b.offer(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leg.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("Failed not closed after the connect timeout")
	}
	frame := make([]int16, FrameSamples)
	if err := leg.ReadFrame(context.Background(), frame); err == nil {
		t.Error("ReadFrame on a failed leg returned audio")
	}
	if err := leg.WriteFrame(context.Background(), frame); err == nil {
		// The queue may take this frame; the next that would block must fail.
		for range DefaultOutputFrames + 1 {
			if err = leg.WriteFrame(context.Background(), frame); err != nil {
				break
			}
		}
		if err == nil {
			t.Error("WriteFrame on a failed leg never failed")
		}
	}
}
