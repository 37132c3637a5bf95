package sip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipgosip "github.com/emiago/sipgo/sip"
)

// MediaLeg is the RTP side of a call as the SIP layer sees it. The
// application owns the leg: it creates it before Dial or Answer and closes
// it after the call is done.
type MediaLeg interface {
	// LocalAddr is the address/port advertised in SDP c=/m=.
	LocalAddr() netip.AddrPort
	// SetRemote applies negotiated media: payloadType 0=PCMU 8=PCMA, dtmf 0 =
	// none. It is called again when a re-INVITE or UPDATE changes the media.
	SetRemote(addr netip.AddrPort, payloadType uint8, dtmfPayloadType uint8) error
	// SetHold stops (true) or resumes (false) sending while the peer holds.
	SetHold(onHold bool)
	// LastReceived is the arrival time of the last valid RTP packet, for the
	// media timeout.
	LastReceived() time.Time
}

// allowed lists the methods we handle, for Allow headers and 405s.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"

// UA is waihu's SIP user agent: it listens, registers trunks, dials and
// answers calls. Build it with NewUA, then Start it; Close ends everything.
type UA struct {
	cfg    Config
	log    *slog.Logger
	codecs []Codec // inbound preference

	sua *sipgo.UserAgent
	srv *sipgo.Server

	// Set by Start, read-only afterwards.
	started   bool
	host      string
	addrs     map[string]netip.AddrPort
	clients   map[string]*sipgo.Client
	closers   []io.Closer
	nonceKey  []byte
	trunks    map[string]*Trunk
	regs      map[string]*registration
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	calls   map[string]*Call // by dialog key: Call-ID|local tag|remote tag
	inbound int              // offered + answered inbound calls
	onCall  func(context.Context, *Incoming)
	// webrtcOffers holds the SDP of INVITEs being offered whose media is
	// WebRTC, by Call-ID, for Incoming.WebRTCOffer (see rawsdp.go).
	webrtcOffers sync.Map
	// offers counts INVITE handlers between admission and final response;
	// Close lets them answer before it closes the sockets.
	offers sync.WaitGroup
	// dials counts Dial calls in flight; Close waits for their CANCELs.
	dials sync.WaitGroup
	// edge applies the scanner and brute-force controls (edge.go);
	// registrar is nil unless Config.Registrar is set (registrar.go).
	edge      *edge
	registrar *registry
}

// NewUA validates cfg and builds a UA. It binds nothing until Start.
func NewUA(cfg Config) (*UA, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new sip ua: %w", err)
	}
	log := cfg.Logger.With("component", "sip")
	ua := &UA{
		cfg:    cfg,
		log:    log,
		addrs:  map[string]netip.AddrPort{},
		calls:  map[string]*Call{},
		trunks: map[string]*Trunk{},
		regs:   map[string]*registration{},
	}
	for _, n := range cfg.Codecs {
		c, _ := codecByName(n)
		ua.codecs = append(ua.codecs, c)
	}
	for i := range ua.cfg.Trunks {
		t := &ua.cfg.Trunks[i]
		ua.trunks[t.Name] = t
	}
	// The edge sees every datagram before sipgo parses it (edge.go).
	ua.edge = newEdge(cfg.Edge, cfg.AllowFrom, cfg.Trunks, log)
	if cfg.Registrar != nil {
		ua.registrar = newRegistrar(cfg.Registrar, cfg.Edge.Now)
	}
	sipLog := log.With("layer", "sipgo")
	ua.warnInsecure() // SRTP keys over plain-text SIP, unverified TLS: see tls.go
	ua.sua, err = sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgenTLSConfig(ua.clientTLS()), // dialling tls trunks, see tls.go
		sipgo.WithUserAgentTransportLayerOptions(sipgosip.WithTransportLayerLogger(sipLog), sipgosip.WithTransportLayerReadFilter(ua.edge.readFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sipgosip.WithTransactionLayerLogger(sipLog),
			sipgosip.WithTransactionLayerUnhandledResponseHandler(func(r *sipgosip.Response) {
				sipLog.Debug("response matches no transaction (retransmission?)", "status", r.StatusCode, "source", r.Source())
			}),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("new sip ua: %w", err)
	}
	ua.srv, err = sipgo.NewServer(ua.sua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		return nil, fmt.Errorf("new sip server: %w", err)
	}
	// guard applies the edge to TCP and WS requests (edge.go).
	ua.srv.OnInvite(ua.guard(ua.routeInvite)) // WebRTC offers first, see rawsdp.go
	ua.srv.OnAck(ua.guard(ua.handleAck))
	ua.srv.OnBye(ua.guard(ua.handleBye))
	ua.srv.OnUpdate(ua.guard(ua.handleUpdate))
	ua.srv.OnCancel(ua.guard(ua.handleStrayCancel))
	ua.srv.OnOptions(ua.guard(ua.handleOptions))
	ua.srv.OnInfo(ua.guard(ua.handleInfo))
	ua.srv.OnNotify(ua.guard(ua.handleNotify)) // REFER progress, see refer.go
	if ua.registrar != nil {
		ua.srv.OnRegister(ua.guard(ua.handleRegister))
	}
	return ua, nil
}

// OnCall sets the handler for new inbound calls; without one, inbound
// INVITEs are answered 480. Each call runs the handler in its own goroutine.
// Its ctx ends on CANCEL before the answer, when the answered call ends, or
// on Close; the handler must return by then, as Close waits for it.
func (ua *UA) OnCall(f func(ctx context.Context, in *Incoming)) {
	ua.mu.Lock()
	ua.onCall = f
	ua.mu.Unlock()
}

// Start binds the listeners, then starts trunk registrations and keep-alives
// in the background. They run until Close; ctx only bounds Start itself.
func (ua *UA) Start(ctx context.Context) error {
	if ua.started {
		return errors.New("sip ua: already started")
	}
	ua.started = true
	ua.ctx, ua.cancel = context.WithCancel(context.Background())
	ua.nonceKey = []byte(sipgosip.GenerateTagN(32))
	lc := net.ListenConfig{}
	// Serving starts only once host and clients are set: handlers read them.
	var serve []func()
	for _, l := range ua.cfg.Listen {
		switch l.Network {
		case "udp":
			pc, err := lc.ListenPacket(ctx, "udp", l.Addr)
			if err != nil {
				ua.closeListeners()
				return fmt.Errorf("sip listen udp %s: %w", l.Addr, err)
			}
			ua.closers = append(ua.closers, pc)
			ua.recordAddr("udp", pc.LocalAddr())
			serve = append(serve, func() { _ = ua.srv.ServeUDP(pc) })
		case "tcp":
			ln, err := lc.Listen(ctx, "tcp", l.Addr)
			if err != nil {
				ua.closeListeners()
				return fmt.Errorf("sip listen tcp %s: %w", l.Addr, err)
			}
			ua.closers = append(ua.closers, ln)
			ua.recordAddr("tcp", ln.Addr())
			serve = append(serve, func() { _ = ua.srv.ServeTCP(ln) })
		case "tls":
			f, err := ua.listenTLS(ctx, lc, l)
			if err != nil {
				ua.closeListeners()
				return err
			}
			serve = append(serve, f)
		case "ws", "wss":
			f, err := ua.listenWS(ctx, lc, l)
			if err != nil {
				ua.closeListeners()
				return err
			}
			serve = append(serve, f)
		}
	}
	var udpLaddr sipgosip.Addr
	if len(ua.closers) > 0 {
		for _, c := range ua.closers {
			if pc, ok := c.(net.PacketConn); ok {
				host, port, _ := sipgosip.ParseAddr(pc.LocalAddr().String())
				udpLaddr = sipgosip.Addr{IP: net.ParseIP(host), Port: port, Hostname: host}
				break
			}
		}
	}
	ua.host = ua.advertisedHost()
	ua.clients = map[string]*sipgo.Client{}
	for network, ap := range ua.addrs {
		opts := []sipgo.ClientOption{
			sipgo.WithClientHostname(ua.host),
			sipgo.WithClientPort(int(ap.Port())),
			sipgo.WithClientLogger(ua.log.With("layer", "sipgo")),
		}
		c, err := sipgo.NewClient(ua.sua, opts...)
		if err != nil {
			ua.closeListeners()
			return fmt.Errorf("sip client %s: %w", network, err)
		}
		if network == "udp" {
			c.TxRequester = newListenerRequester(ua.sua, udpLaddr)
		}
		ua.clients[network] = c
	}
	for _, f := range serve {
		ua.wg.Go(f)
	}
	// sipgo registers the UDP socket in its pool from the serving goroutine;
	// requests sent before that would open a second socket on the same port.
	if ap, ok := ua.addrs["udp"]; ok {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if c, _ := ua.sua.TransportLayer().GetConnection("udp", ap.String()); c != nil {
				break
			}
			if time.Now().After(deadline) {
				ua.closeListeners()
				return fmt.Errorf("sip listen udp %s: transport did not start", ap)
			}
			time.Sleep(time.Millisecond)
		}
	}
	attrs := []any{"host", ua.host, "trunks", len(ua.cfg.Trunks)}
	for network, ap := range ua.addrs {
		attrs = append(attrs, network, ap.String())
	}
	ua.log.Info("sip ua started", attrs...)
	for _, t := range ua.cfg.Trunks {
		if _, ok := ua.clients[t.Transport]; !ok {
			err := fmt.Errorf("trunk %q: no %s listener configured", t.Name, t.Transport)
			ua.log.Warn("trunk unusable", "trunk", t.Name, "error", err)
			if t.Register {
				r := newRegistration(ua, ua.trunks[t.Name])
				r.state.Status, r.state.Err = RegFailed, err
				close(r.done)
				ua.regs[t.Name] = r
			}
			continue
		}
		if t.Register {
			r := newRegistration(ua, ua.trunks[t.Name])
			ua.regs[t.Name] = r
			ua.wg.Go(func() { r.run(ua.ctx) })
		}
		if t.OptionsInterval > 0 {
			tr := ua.trunks[t.Name]
			ua.wg.Go(func() { ua.keepAlive(ua.ctx, tr) })
		}
	}
	return nil
}

// recordAddr keeps the first bound address per network, with the wildcard
// kept as is (Addr reports what was bound).
func (ua *UA) recordAddr(network string, a net.Addr) {
	if _, ok := ua.addrs[network]; ok {
		return
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return
	}
	ua.addrs[network] = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (ua *UA) advertisedHost() string {
	if ua.cfg.ExternalHost != "" {
		return ua.cfg.ExternalHost
	}
	for _, ap := range ua.addrs {
		if !ap.Addr().IsUnspecified() {
			return ap.Addr().String()
		}
	}
	// Listening on the wildcard: learn the outbound interface address. A UDP
	// "connect" sends nothing.
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
			return ap.Addr().String()
		}
	}
	return "127.0.0.1"
}

// Addr returns the bound address of the first listener of network ("udp"
// or "tcp"), useful with port 0. It is the zero AddrPort before Start.
func (ua *UA) Addr(network string) netip.AddrPort {
	return ua.addrs[network]
}

// Host is the host advertised in Via and Contact.
func (ua *UA) Host() string { return ua.host }

func (ua *UA) closeListeners() {
	for _, c := range ua.closers {
		_ = c.Close()
	}
}

// Close hangs up live calls (BYE), un-registers trunks, stops listeners and
// waits for every goroutine of the UA. ctx bounds the BYEs and un-REGISTERs.
func (ua *UA) Close(ctx context.Context) error {
	var err error
	ua.closeOnce.Do(func() { err = ua.close(ctx) })
	return err
}

func (ua *UA) close(ctx context.Context) error {
	ua.mu.Lock()
	ua.closed = true
	calls := make([]*Call, 0, len(ua.calls))
	for _, c := range ua.calls {
		calls = append(calls, c)
	}
	ua.mu.Unlock()
	if !ua.started {
		return ua.sua.Close()
	}
	ua.log.Info("sip ua closing", "calls", len(calls))
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { _ = c.hangup(ctx, HangupShutdown) })
	}
	wg.Wait()
	// Stops registrations (each un-registers with ctx), keep-alives and
	// pending inbound handlers.
	ua.cancel()
	for _, r := range ua.regs {
		r.unregister(ctx)
	}
	ua.offers.Wait()
	ua.dials.Wait()
	ua.closeListeners()
	err := ua.sua.Close()
	ua.wg.Wait()
	ua.log.Info("sip ua closed")
	if err != nil {
		return fmt.Errorf("close sip transport: %w", err)
	}
	return nil
}

// client returns the sipgo client for a transport.
func (ua *UA) client(network string) (*sipgo.Client, error) {
	c, ok := ua.clients[strings.ToLower(network)]
	if !ok {
		return nil, fmt.Errorf("no %s listener configured", network)
	}
	return c, nil
}

// contact is our Contact header for a transport and user part.
func (ua *UA) contact(network, user string) sipgosip.ContactHeader {
	network = strings.ToLower(network)
	uri := sipgosip.Uri{Scheme: "sip", User: user, Host: ua.host, Port: int(ua.addrs[network].Port())}
	if network != "udp" {
		uri.UriParams = sipgosip.NewParams()
		uri.UriParams.Add("transport", network)
	}
	return sipgosip.ContactHeader{Address: uri}
}

func (ua *UA) addCall(c *Call) bool {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.closed {
		return false
	}
	ua.calls[c.key] = c
	return true
}

func (ua *UA) removeCall(c *Call) {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.calls[c.key] == c {
		delete(ua.calls, c.key)
	}
}

// findCall matches an in-dialog request to its call: To tag is ours, From
// tag theirs, whichever side sent the INVITE.
func (ua *UA) findCall(req *sipgosip.Request) *Call {
	key, err := sipgosip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.calls[key]
}

// Calls returns the number of established calls.
func (ua *UA) Calls() int {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return len(ua.calls)
}

func (ua *UA) handleAck(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	if c := ua.findCall(req); c != nil {
		c.handleAck(req, tx)
	}
}

func (ua *UA) handleBye(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	c := ua.findCall(req)
	if c == nil {
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.onBye(req, tx)
}

func (ua *UA) handleUpdate(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	c := ua.findCall(req)
	if c == nil {
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.onReinvite(req, tx)
}

// handleInfo accepts in-dialog INFO (SIP INFO DTMF, carrier keep-alives)
// so the peer does not tear the call down over a 405; DTMF is carried by
// RFC 4733 in the media leg, so the body is only logged.
func (ua *UA) handleInfo(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	c := ua.findCall(req)
	if c == nil {
		ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.log.Debug("INFO received", "content_type", headerValue(req, "Content-Type"), "bytes", len(req.Body()))
	ua.respond(tx, req, 200, "OK")
}

// handleStrayCancel sees only CANCELs that matched no INVITE transaction.
func (ua *UA) handleStrayCancel(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (ua *UA) handleOptions(req *sipgosip.Request, tx sipgosip.ServerTransaction) {
	res := sipgosip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sipgosip.NewHeader("Allow", allowed))
	res.AppendHeader(sipgosip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sipgosip.NewHeader("Supported", "timer"))
	res.AppendHeader(sipgosip.NewHeader("Server", ua.cfg.UserAgent))
	if err := tx.Respond(res); err != nil {
		ua.log.Debug("respond to OPTIONS failed", "error", err, "source", req.Source())
	}
}

// respond sends a final or provisional response without extra headers.
func (ua *UA) respond(tx sipgosip.ServerTransaction, req *sipgosip.Request, code int, reason string, hdrs ...sipgosip.Header) {
	res := sipgosip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if code >= 200 {
		res.AppendHeader(sipgosip.NewHeader("Server", ua.cfg.UserAgent))
	}
	if err := tx.Respond(res); err != nil {
		ua.log.Debug("respond failed", "code", code, "method", req.Method.String(), "error", err)
	}
}

// keepAlive pings a trunk with OPTIONS and logs when it stops or starts
// answering.
func (ua *UA) keepAlive(ctx context.Context, t *Trunk) {
	tick := time.NewTicker(t.OptionsInterval)
	defer tick.Stop()
	up := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		code, err := ua.ping(ctx, t)
		ok := err == nil && code < 500 && code != 408
		if ok != up {
			up = ok
			if ok {
				ua.log.Info("trunk answers OPTIONS again", "trunk", t.Name, "code", code)
			} else {
				ua.log.Warn("trunk stopped answering OPTIONS", "trunk", t.Name, "code", code, "error", err)
			}
		}
	}
}

func (ua *UA) ping(ctx context.Context, t *Trunk) (int, error) {
	cl, err := ua.client(t.Transport)
	if err != nil {
		return 0, err
	}
	uri := sipgosip.Uri{Scheme: "sip", Host: t.host(), Port: trunkPort(t)}
	req := sipgosip.NewRequest(sipgosip.OPTIONS, uri)
	req.SetTransport(strings.ToUpper(t.Transport))
	from := sipgosip.FromHeader{Address: sipgosip.Uri{Scheme: "sip", User: t.Username, Host: t.host()}, Params: sipgosip.NewParams()}
	from.Params.Add("tag", sipgosip.GenerateTagN(16))
	req.AppendHeader(&from)
	req.AppendHeader(&sipgosip.ToHeader{Address: uri})
	req.AppendHeader(sipgosip.NewHeader("User-Agent", ua.cfg.UserAgent))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := cl.Do(cctx, req)
	if err != nil {
		return 0, fmt.Errorf("options to trunk %q: %w", t.Name, err)
	}
	return res.StatusCode, nil
}

func trunkPort(t *Trunk) int {
	_, p, ok := strings.Cut(t.Address, ":")
	if !ok {
		return 5060
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 5060
	}
	return n
}

// listenerRequester sends every UDP request, including those sipgo's dialog
// sessions build (BYE, ACK, re-INVITE), from the listening socket: a peer or
// a NAT that saw our INVITE from that port sees the rest of the dialog from
// it too, instead of from a fresh ephemeral socket.
type listenerRequester struct {
	tx    *sipgosip.TransactionLayer
	tp    *sipgosip.TransportLayer
	laddr sipgosip.Addr
}

func newListenerRequester(sua *sipgo.UserAgent, laddr sipgosip.Addr) *listenerRequester {
	return &listenerRequester{tx: sua.TransactionLayer(), tp: sua.TransportLayer(), laddr: laddr}
}

// Request implements sipgo.ClientTransactionRequester.
func (r *listenerRequester) Request(ctx context.Context, req *sipgosip.Request) (sipgosip.ClientTransaction, error) {
	if req.Laddr.IP == nil && r.laddr.IP != nil && strings.EqualFold(req.Transport(), "udp") {
		r.laddr.Copy(&req.Laddr)
	}
	if req.IsAck() {
		// ACK has no transaction: sipgo's Client.WriteRequest comes here.
		return nil, r.tp.WriteMsg(req)
	}
	tx, err := r.tx.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return tx, nil
}
