package sip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// SIP over TLS (RFC 3261 §26.3.1, RFC 5630): a "tls" listener takes calls
// and registrations from trunks and phones over TLS, and a trunk with
// Transport "tls" is dialled, registered and pinged over TLS, its server
// certificate verified against Config.TLSRootCAs. TLS protects the SIP
// messages, and with them the SDES keys of SRTP (srtp.go); the audio itself
// is protected by SRTP, not by TLS.
//
// sipgo owns the connections: it dials with one client tls.Config for the
// whole UA, keeps each connection in its pool, and serves a listener we
// hand it already wrapped in TLS (as for wss).

// ErrTLSConfig is wrapped by LoadTLSFiles for unusable files.
var ErrTLSConfig = errors.New("sip tls: bad certificate, key or CA file")

// TLSFiles names the PEM files of SIP over TLS.
type TLSFiles struct {
	// Cert and Key are our certificate chain and its private key, served
	// on "tls" and "wss" listeners. Both empty: no server certificate.
	Cert, Key string
	// CA holds the authorities trusted to sign trunk servers'
	// certificates. Empty: the system's roots.
	CA string
}

// LoadTLSFiles reads f into Config.TLS (nil without Cert and Key) and
// Config.TLSRootCAs (nil without CA). Errors name the file, never its
// contents.
func LoadTLSFiles(f TLSFiles) (*tls.Config, *x509.CertPool, error) {
	var srv *tls.Config
	switch {
	case f.Cert != "" && f.Key != "":
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("load sip tls certificate %s with key %s: %w: %w", f.Cert, f.Key, err, ErrTLSConfig)
		}
		srv = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case f.Cert != "" || f.Key != "":
		return nil, nil, fmt.Errorf("sip tls: certificate and key go together (cert %q, key %q): %w", f.Cert, f.Key, ErrTLSConfig)
	}
	var roots *x509.CertPool
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, nil, fmt.Errorf("read sip tls CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("sip tls CA file %s holds no PEM certificate: %w", f.CA, ErrTLSConfig)
		}
	}
	return srv, roots, nil
}

// listenTLS binds a SIP over TLS listener and returns the function that
// serves it.
func (ua *UA) listenTLS(ctx context.Context, lc net.ListenConfig, l Listener) (func(), error) {
	ln, err := lc.Listen(ctx, "tcp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("sip listen tls %s: %w", l.Addr, err)
	}
	ua.closers = append(ua.closers, ln)
	ua.recordAddr("tls", ln.Addr())
	srv := ua.cfg.TLS.Clone()
	if srv.MinVersion == 0 {
		srv.MinVersion = tls.VersionTLS12 // RFC 8996: nothing older
	}
	tl := tls.NewListener(ln, srv)
	return func() { _ = ua.srv.ServeTLS(tl) }, nil
}

// clientTLS is the one tls.Config sipgo dials every TLS peer with. sipgo
// sets its ServerName to the host dialled (the trunk's DNS name, or its IP
// address), so crypto/tls checks the certificate names that host.
func (ua *UA) clientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		RootCAs:              ua.cfg.TLSRootCAs,
		InsecureSkipVerify:   ua.cfg.TLSInsecureSkipVerify, // labs only, warned at start
		GetClientCertificate: ua.clientCertificate,
	}
}

// clientCertificate offers our listener's certificate to a server that
// asks for one (trunks doing mutual TLS), or none.
func (ua *UA) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c := ua.cfg.TLS; c != nil && len(c.Certificates) > 0 {
		return &c.Certificates[0], nil
	}
	return &tls.Certificate{}, nil
}

// warnInsecure says loudly, once at start, what the configuration leaves
// open because the user allowed it: SRTP keys crossing plain-text SIP, or
// TLS servers whose certificates are not checked.
func (ua *UA) warnInsecure() {
	if ua.cfg.TLSInsecureSkipVerify {
		ua.log.Warn("TLS certificates of SIP servers are NOT verified (TLSInsecureSkipVerify): anyone in the path can read the SIP and its SRTP keys; for labs and tests only")
	}
	for _, t := range ua.cfg.Trunks {
		if t.SRTP.on() && !secureTransport(t.Transport) {
			ua.log.Warn("SRTP keys (SDES a=crypto) will be sent in clear text: anyone who can read this trunk's SIP can decrypt its audio; use transport tls",
				"trunk", t.Name, "transport", t.Transport, "srtp", string(t.SRTP))
		}
	}
	if ua.cfg.SRTP.on() && ua.cfg.AllowSDESWithoutTLS {
		ua.log.Warn("SRTP keys (SDES a=crypto) of inbound calls may be exchanged over udp/tcp/ws SIP in clear text (AllowSDESWithoutTLS)",
			"srtp", string(ua.cfg.SRTP))
	}
}
