package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/internal/audiofile"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/web"
	"github.com/waihu/waihu/webrtc"
)

// phoneFlags are serve's flags for browser softphones: SIP over WebSocket
// for signalling, and the certificate that secures it and the HTTP address.
type phoneFlags struct {
	ws      string // SIP over WebSocket address; "" = none
	tlsCert string // PEM certificate: HTTPS and secure WebSocket
	tlsKey  string // its PEM private key

	tls *tls.Config // loaded by attach
}

func (p *phoneFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.ws, "ws", "", "SIP over WebSocket address host:port for browser softphones (default off)")
	cmd.Flags().StringVar(&p.tlsCert, "tls-cert", "", "PEM certificate: serve HTTP (dashboard, API, softphone) over HTTPS and SIP over secure WebSocket (browsers allow the microphone off localhost only then)")
	cmd.Flags().StringVar(&p.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
}

// attach loads the certificate and adds the WebSocket listener to srv's UA;
// it runs before srv.start.
func (p *phoneFlags) attach(srv *server) error {
	if p.tlsCert != "" || p.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(p.tlsCert, p.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert %q, --tls-key %q: %w", p.tlsCert, p.tlsKey, err)
		}
		p.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if p.ws == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(p.ws); err != nil {
		return fmt.Errorf("--ws %q: %w", p.ws, err)
	}
	network := "ws"
	if p.tls != nil {
		if err := srv.ua.SetTLS(p.tls); err != nil {
			return fmt.Errorf("--tls-cert: %w", err)
		}
		network = "wss"
	}
	if err := srv.ua.AddListener(sip.Listener{Network: network, Addr: p.ws}); err != nil {
		return fmt.Errorf("--ws: %w", err)
	}
	return nil
}

// wsScheme is the softphone's signalling scheme, ws or wss.
func (p *phoneFlags) wsScheme() string {
	if p.tls != nil {
		return "wss"
	}
	return "ws"
}

// phonePort reports the port of srv's SIP WebSocket, 0 without --ws.
func (p *phoneFlags) phonePort(srv *server) func() uint16 {
	return func() uint16 {
		if p.ws == "" {
			return 0
		}
		return srv.ua.Addr(p.wsScheme()).Port()
	}
}

// phoneConfig tells the page where to signal. The host is the one the
// browser used to reach the page, so the same URL works on loopback, on the
// LAN and behind a name.
type phoneConfig struct {
	WS     string `json:"ws"`
	Domain string `json:"domain"`
	Target string `json:"target"`
}

// phoneHandler serves /phone/ (the page), /phone/phone.js (the JsSIP
// bundle) and /phone/config.json, which points at wsScheme ("ws" or "wss")
// on the port ws reports. Without a SIP WebSocket (ws reports 0) the page
// says how to get one instead of failing to connect.
func phoneHandler(wsScheme string, ws func() uint16) http.Handler {
	mux := http.NewServeMux()
	page, _ := fs.ReadFile(web.Phone, "phone.html")
	script, _ := fs.ReadFile(web.Phone, "dist/phone.js")
	mux.Handle("GET /phone", http.RedirectHandler("/phone/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /phone/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if ws() == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(noSoftphonePage))
			return
		}
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /phone/phone.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(script)
	})
	mux.HandleFunc("GET /phone/config.json", func(w http.ResponseWriter, r *http.Request) {
		port := ws()
		if port == 0 {
			http.Error(w, "the softphone needs SIP over WebSocket: start waihu serve with --ws HOST:PORT", http.StatusServiceUnavailable)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		cfg := phoneConfig{
			WS:     wsScheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(port))),
			Domain: host,
			Target: "demo",
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(cfg)
	})
	return mux
}

// noSoftphonePage stands in for the softphone when serve runs without --ws.
const noSoftphonePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>waihu phone</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto">
<h1>waihu phone</h1>
<p id="status">The softphone signals with SIP over WebSocket, which this server does not offer.
Start it with <code>waihu serve --ws 127.0.0.1:5066</code> (and <code>--tls-cert</code>/<code>--tls-key</code>
for browsers off this machine).</p>
<p lang="zh-CN">软电话需要 SIP over WebSocket：请用 <code>waihu serve --ws 127.0.0.1:5066</code> 启动。</p>
<p><a href="/">Dashboard / 看板</a></p>
</body></html>
`

// answerWebRTC runs one call whose INVITE carried a WebRTC offer (a browser
// softphone): the media leg is pion's, and the SDP answer is the leg's. The
// call then plays the prompt and records the caller, as an RTP call does
// without a bot (the bot drives an *rtp.Leg).
//
// A number other than the demo's is dialled through the first trunk and
// bridged (bridgeWebRTC).
func (s *server) answerWebRTC(ctx context.Context, in *sip.Incoming, offer []byte) {
	id := in.CallID()
	log := s.log.With("call_id", id, "media", "webrtc")
	leg, answer, ok := s.webrtcLeg(ctx, log, in, offer)
	if !ok {
		return
	}
	defer leg.Close()
	if trunk := s.phoneTrunk(in.To().User); trunk != "" {
		s.bridgeWebRTC(ctx, log, in, leg, answer, trunk)
		return
	}
	call, err := in.AnswerSDP(ctx, answer, leg)
	if err != nil {
		log.Warn("answer failed", "err", err)
		return
	}
	start := time.Now()
	rec := s.openRecording(id, log)
	callCtx, cancelCall := context.WithTimeout(ctx, s.cfg.Inbound.MaxDuration)
	defer cancelCall()
	ev := s.inboundAnswered(id, in.From().User, cancelCall)
	defer s.live.remove(id)
	go func() {
		select {
		case <-call.Done():
		case <-leg.Failed():
			log.Warn("webrtc media failed; hanging up")
			hangupCall(call, log)
		case <-callCtx.Done():
			hangupCall(call, log)
		}
		cancelCall()
	}()
	outcome := "completed"
	if s.bot != nil {
		// The dialog engine cannot tell a browser from a phone: same frames,
		// same keys, same script.
		digits := dialog.DigitsFrom(callCtx, leg.DTMF(), func(d webrtc.Digit) (rune, time.Time) { return d.Digit, d.At })
		outcome = s.bot.run(callCtx, log, id, in.From().User, leg, digits, rec, s.transferFor(call, log), ev).Outcome
		hangupCall(call, log)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { logDigits(callCtx, log, leg.DTMF(), nil) })
		playAndRecord(callCtx, log, leg, s.prompt, rec, nil)
		wg.Wait()
	}
	<-call.Done()
	s.closeRecording(rec, id, log)
	s.inboundEnded(ev, outcome, call)
	st := leg.Stats()
	log.Info("call finished", "reason", call.Reason().String(), "duration", time.Since(start).Round(time.Millisecond).String(),
		"recorded", rec != nil, "rtp_received", st.PacketsReceived, "rtp_sent", st.PacketsSent)
}

// webrtcLeg builds the call's WebRTC leg and its SDP answer; on failure it
// has rejected the call.
func (s *server) webrtcLeg(ctx context.Context, log *slog.Logger, in *sip.Incoming, offer []byte) (*webrtc.Leg, []byte, bool) {
	lc := webrtc.Config{CallID: in.CallID(), Logger: s.log}
	if s.cfg.RTP.ExternalIP != "" {
		lc.PublicIPs = []string{s.cfg.RTP.ExternalIP}
	}
	// A browser on this machine may have nothing but loopback to reach us by.
	lc.IncludeLoopback = in.Source().Addr().IsLoopback()
	leg, err := webrtc.NewLeg(lc)
	if err != nil {
		log.Error("no webrtc leg: rejecting call", "err", err)
		in.Reject(500, "Server Internal Error")
		return nil, nil, false
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	answer, err := leg.Answer(actx, offer)
	cancel()
	if err != nil {
		leg.Close()
		log.Warn("webrtc offer not answerable: rejecting call", "err", err)
		in.Reject(488, "Not Acceptable Here")
		return nil, nil, false
	}
	return leg, answer, true
}

// demoTarget is the number the softphone calls by default: this server's
// own prompt (or, later, script).
const demoTarget = "demo"

// phoneTrunk is the trunk a softphone call to number goes out through: the
// first configured one, unless number is the demo's (or no trunk exists,
// when every number reaches the demo).
func (s *server) phoneTrunk(number string) string {
	if number == "" || number == demoTarget || len(s.cfg.Trunks) == 0 {
		return ""
	}
	return s.cfg.Trunks[0].Name
}

// bridgeWebRTC dials number through trunk on an RTP leg and, once it
// answers, answers the browser and relays audio both ways without
// transcoding beyond G.711 law conversion, until either side hangs up.
// The browser hears ringing (180) meanwhile; a failed dial is passed back
// with its status code.
func (s *server) bridgeWebRTC(ctx context.Context, log *slog.Logger, in *sip.Incoming, leg *webrtc.Leg, answer []byte, trunk string) {
	id := in.CallID()
	number := in.To().User
	log = log.With("trunk", trunk, "bridge_to", number)
	out, err := s.engine.NewLeg(id + "-out")
	if err != nil {
		log.Error("no media port for the outbound leg: rejecting call", "err", err)
		in.Reject(503, "Service Unavailable")
		return
	}
	defer out.Close()
	in.Ring()
	// The browser hanging up while the far end rings (CANCEL) cancels the
	// dial in turn; the watch ends with the dial.
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer cancelDial()
	dialed := make(chan struct{})
	go func() {
		select {
		case <-in.Settled():
			cancelDial()
		case <-dialed:
		}
	}()
	far, err := s.ua.Dial(dialCtx, sip.DialRequest{Trunk: trunk, To: number, Media: out})
	close(dialed)
	if err != nil {
		select {
		case <-in.Settled():
			log.Info("bridge: browser cancelled while the far end rang; dial cancelled", "err", err)
			return
		default:
		}
		code, reason := 502, "Bad Gateway"
		var ce *sip.CallError
		if errors.As(err, &ce) && ce.Code >= 400 && ce.Code <= 699 {
			code, reason = ce.Code, ce.Reason
		}
		log.Warn("bridge: dial failed", "err", err, "code", code)
		in.Reject(code, reason)
		return
	}
	log = log.With("far_call_id", far.ID())
	call, err := in.AnswerSDP(ctx, answer, leg)
	if err != nil {
		// The browser gave up (CANCEL) while the far end rang.
		log.Warn("bridge: browser leg not answered; hanging up the far end", "err", err)
		hangupCall(far, log)
		return
	}
	start := time.Now()
	rec := s.openRecording(id, log)
	relayCtx, cancel := context.WithTimeout(ctx, s.cfg.Inbound.MaxDuration)
	var wg sync.WaitGroup
	wg.Go(func() { relayFrames(relayCtx, leg, out, rec) })
	wg.Go(func() { relayFrames(relayCtx, out, leg, nil) })
	wg.Go(func() {
		// Keys pressed on the page reach the far end as RFC 4733 events,
		// for IVRs behind the trunk.
		logDigits(relayCtx, log, leg.DTMF(), func(d rune) {
			if err := out.SendDTMF(relayCtx, string(d), 0, 0); err != nil && relayCtx.Err() == nil {
				log.Warn("bridge: dtmf not forwarded", "digit", string(d), "err", err)
			}
		})
	})
	who := "server"
	select {
	case <-call.Done():
		who = "browser"
	case <-far.Done():
		who = "far end"
	case <-leg.Failed():
		who = "webrtc failure"
	case <-relayCtx.Done():
	}
	hangupCall(call, log)
	hangupCall(far, log)
	cancel()
	wg.Wait()
	s.closeRecording(rec, id, log)
	log.Info("bridged call finished", "hung_up_by", who, "duration", time.Since(start).Round(time.Millisecond).String(),
		"webrtc_received", leg.Stats().PacketsReceived, "rtp_received", out.Stats().PacketsReceived)
}

// relayFrames copies src's frames to dst, paced by src's playout (one frame
// per 20 ms), and records them when rec is set, until ctx ends or a leg
// fails. Bridges to trunks and to agents both use it.
func relayFrames(ctx context.Context, src, dst frameLeg, rec *audiofile.Recorder) {
	frame := make([]int16, webrtc.FrameSamples)
	for {
		if src.ReadFrame(ctx, frame) != nil || dst.WriteFrame(ctx, frame) != nil {
			return
		}
		if rec != nil && rec.Write(frame) != nil {
			rec = nil
		}
	}
}

// hangupCall ends c with a bounded BYE; c may be over already.
func hangupCall(c *sip.Call, log *slog.Logger) {
	select {
	case <-c.Done():
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Hangup(ctx); err != nil {
		log.Warn("hang up", "call_id", c.ID(), "err", err)
	}
}

// logDigits logs each key the browser sends, hands it to forward when set,
// and returns when ctx ends or the leg closes.
func logDigits(ctx context.Context, log *slog.Logger, digits <-chan webrtc.Digit, forward func(rune)) {
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-digits:
			if !ok {
				return
			}
			log.Info("dtmf", "digit", string(d.Digit))
			if forward != nil {
				forward(d.Digit)
			}
		}
	}
}
