package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	sipgosip "github.com/emiago/sipgo/sip"
)

// AddListener adds a socket to bind, for callers that learn of it after
// NewUA (a command-line flag for the softphone's WebSocket). It must be
// called before Start.
func (ua *UA) AddListener(l Listener) error {
	if ua.started {
		return fmt.Errorf("sip listener %s %s: UA already started", l.Network, l.Addr)
	}
	if err := l.check(ua.cfg.TLS); err != nil {
		return err
	}
	ua.cfg.Listen = append(ua.cfg.Listen, l)
	return nil
}

// SetTLS sets the server certificate of "wss" listeners, for callers that
// learn of it after NewUA. It must be called before Start.
func (ua *UA) SetTLS(c *tls.Config) error {
	if ua.started {
		return errors.New("sip tls: UA already started")
	}
	ua.cfg.TLS = c
	return nil
}

// check validates a listener's network, and for "wss" the UA's TLS
// configuration.
func (l Listener) check(tlsCfg *tls.Config) error {
	switch l.Network {
	case "udp", "tcp", "ws":
	case "wss", "tls":
		if tlsCfg == nil || (len(tlsCfg.Certificates) == 0 && tlsCfg.GetCertificate == nil) {
			return fmt.Errorf("listener %s %s: no TLS certificate", l.Network, l.Addr)
		}
	default:
		return fmt.Errorf("listener %s %s: network %q not supported (udp, tcp, tls, ws, wss)", l.Network, l.Addr, l.Network)
	}
	return nil
}

// listenWS binds a SIP over WebSocket listener (RFC 7118) and returns the
// function that serves it. sipgo does the HTTP upgrade (subprotocol "sip")
// and keeps each browser's connection in its pool, so responses and
// in-dialog requests go back over the socket the browser opened.
//
// A "wss" listener does the same inside TLS: browsers allow pages served
// over HTTPS (anything but localhost that uses a microphone) only secure
// WebSockets.
func (ua *UA) listenWS(ctx context.Context, lc net.ListenConfig, l Listener) (func(), error) {
	ln, err := lc.Listen(ctx, "tcp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("sip listen %s %s: %w", l.Network, l.Addr, err)
	}
	ua.closers = append(ua.closers, ln)
	ua.recordAddr(l.Network, ln.Addr())
	if l.Network == "wss" {
		tl := tls.NewListener(ln, ua.cfg.TLS)
		return func() { _ = ua.srv.ServeWSS(tl) }, nil
	}
	return func() { _ = ua.srv.ServeWS(ln) }, nil
}

// routeContactToSource points the Contact of a request that came over a
// WebSocket at the connection it came on. A browser cannot accept
// connections, so its Contact host is a made-up name ending in ".invalid"
// (RFC 7118 §5.2); requests to it must reuse the browser's socket, which
// sipgo's pool finds by the source address.
func routeContactToSource(req *sipgosip.Request) {
	if !strings.EqualFold(req.Transport(), "ws") && !strings.EqualFold(req.Transport(), "wss") {
		return
	}
	c := req.Contact()
	if c == nil {
		return
	}
	host, portStr, err := net.SplitHostPort(req.Source())
	if err != nil {
		return
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return
	}
	c.Address.Host, c.Address.Port = host, port
}
