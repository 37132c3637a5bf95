package sip

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Defaults applied by NewUA to zero-valued Config fields.
const (
	DefaultSessionExpires = 1800 * time.Second // RFC 4028 §4 recommends 30 min
	DefaultMinSE          = 90 * time.Second   // RFC 4028 §5: Min-SE floor
	DefaultMediaTimeout   = 30 * time.Second
	DefaultRingTimeout    = 60 * time.Second
	DefaultAckTimeout     = 32 * time.Second // 64*T1, RFC 3261 §13.3.1.4
	DefaultRegisterExpiry = 3600 * time.Second
	DefaultMaxInbound     = 1000
	DefaultUserAgent      = "waihu"
)

// Listener is one SIP transport socket the UA binds.
type Listener struct {
	// Network is "udp", "tcp", "tls" (SIP over TLS for trunks, see tls.go),
	// "ws" or "wss" (SIP over WebSocket, plain or over TLS, RFC 7118, for
	// browser softphones; see ws.go). "tls" and "wss" need Config.TLS.
	Network string
	// Addr is "host:port"; port 0 picks a free port, see UA.Addr.
	Addr string
}

// DigestCredentials is a realm/user/password triple for inbound digest auth.
type DigestCredentials struct {
	// Realm sent in challenges; empty means the UA's advertised host.
	Realm    string
	Username string
	Password string
}

// Config builds a UA. The zero value is usable: every field documents its
// default.
type Config struct {
	// Listen lists the sockets to bind. Default: udp and tcp on 0.0.0.0:5060.
	Listen []Listener
	// TLS holds the server certificate of "tls" and "wss" listeners; its
	// certificate is also offered to trunks that ask for a client
	// certificate. Default none: a "tls" or "wss" listener is an error.
	// LoadTLSFiles builds it from PEM files.
	TLS *tls.Config
	// TLSRootCAs are the authorities trusted to sign the certificates of
	// TLS servers we dial ("tls" trunks, and callers' Contact addresses for
	// in-dialog requests). Default nil: the system's roots.
	TLSRootCAs *x509.CertPool
	// TLSInsecureSkipVerify accepts any certificate from TLS servers we
	// dial: the SIP is encrypted but the peer unauthenticated, so a machine
	// in the middle can read it, SRTP keys included. For labs and tests
	// only; logged as a warning at start. Default false.
	TLSInsecureSkipVerify bool
	// SRTP is the SRTP policy (SDES, RFC 4568) of inbound calls whose
	// source is no configured trunk; calls from a trunk follow the trunk's.
	// Default off.
	SRTP SRTPMode
	// AllowSDESWithoutTLS lets those calls exchange SRTP keys over udp, tcp
	// or ws SIP. Default false: there, SRTP is refused as if off. See
	// Trunk.AllowSDESWithoutTLS for why.
	AllowSDESWithoutTLS bool
	// ExternalHost is the host (IP or name) put in Via and Contact. Default:
	// the listen IP, or the machine's outbound IP when listening on 0.0.0.0.
	ExternalHost string
	// UserAgent is sent in User-Agent and Server headers. Default "waihu".
	UserAgent string
	// MaxInbound caps concurrent inbound calls (offered or answered); the next
	// INVITE gets 486 Busy Here. Default 1000; negative means no inbound calls.
	MaxInbound int
	// InboundAuth, when set, challenges every new inbound INVITE with digest
	// auth (401). Default: no authentication.
	InboundAuth *DigestCredentials
	// AllowFrom restricts inbound INVITEs to these source prefixes (403
	// otherwise). Default empty: any source.
	AllowFrom []netip.Prefix
	// Edge holds the scanner and brute-force controls applied to every
	// request before its handler runs (see edge.go, docs/sip-edge.md).
	// Default: the zero EdgeConfig, whose fields document their defaults.
	Edge EdgeConfig
	// Registrar, when set, accepts REGISTER from its extensions with digest
	// auth (see registrar.go). Default nil: REGISTER gets 405.
	Registrar *RegistrarConfig
	// SessionExpires is the RFC 4028 session interval we ask for. Default 30 min.
	// Negative disables session timers.
	SessionExpires time.Duration
	// MinSE is the smallest session interval we accept (422 below it). Default
	// 90 s. RFC 4028 forbids less than 90 s on the wire; tests may set less to
	// run fast.
	MinSE time.Duration
	// MediaTimeout hangs up a call that received no RTP for this long (not
	// counted while on hold). Default 30 s; negative disables the check.
	MediaTimeout time.Duration
	// MediaCheckInterval is how often MediaLeg.LastReceived is polled.
	// Default 1 s.
	MediaCheckInterval time.Duration
	// RingTimeout is the default for DialRequest.RingTimeout. Default 60 s.
	RingTimeout time.Duration
	// AckTimeout bounds the wait for the ACK of our 200 OK. Default 32 s.
	AckTimeout time.Duration
	// ShowNumbers disables masking of phone numbers in logs. Default false:
	// numbers are logged as 138****5678.
	ShowNumbers bool
	// Logger receives structured logs; every line carries component=sip.
	// Default slog.Default().
	Logger *slog.Logger
	// RegisterRetryMin and RegisterRetryMax bound the back-off between failed
	// REGISTERs: it starts at RegisterRetryMin, doubles per failure up to
	// RegisterRetryMax, and is jittered ±20 %. Defaults 5 s and 5 min.
	RegisterRetryMin time.Duration
	RegisterRetryMax time.Duration
	// Codecs is our preference for inbound calls, by name ("PCMU", "PCMA").
	// Default PCMU, PCMA.
	Codecs []string
	// Trunks are the SIP providers the UA can dial through and register to.
	Trunks []Trunk
}

// Trunk is one SIP provider account.
type Trunk struct {
	// Name identifies the trunk in DialRequest, logs and errors.
	Name string
	// Address is the provider's "host:port" (port default 5060).
	Address string
	// Transport is "udp" (default), "tcp" or "tls". A "tls" trunk needs a
	// "tls" listener (its port goes in our Contact), and its certificate
	// must be signed by Config.TLSRootCAs and name the host of Address: a
	// DNS name, or for an IP address an IP SAN.
	Transport string
	// SRTP is the trunk's media encryption policy: off (default),
	// optional or mandatory (see SRTPMode).
	SRTP SRTPMode
	// AllowSDESWithoutTLS permits SRTP with SDES keys on a udp or tcp
	// trunk. The a=crypto keys travel inside the SDP in clear text, so
	// anyone who can read the SIP can decrypt the audio: SRTP then only
	// hides the media from those who see RTP but not SIP. Default false:
	// SRTP on a non-TLS trunk is a configuration error.
	AllowSDESWithoutTLS bool
	// Username is the account user, used in From, Contact and digest auth.
	Username string
	// Password for digest auth; empty means challenges fail the request.
	Password string
	// AuthUser overrides Username in digest credentials.
	AuthUser string
	// Realm, when set, is the only realm REGISTER answers challenges for
	// (INVITE challenges are answered by sipgo for any realm).
	Realm string
	// Register makes the UA keep a registration with the trunk.
	Register bool
	// RegisterExpiry is the Expires we ask for. Default 3600 s.
	RegisterExpiry time.Duration
	// FromUser is the caller number in From. Default Username.
	FromUser string
	// FromDisplay is the display name in From. Default empty.
	FromDisplay string
	// PAssertedIdentity, when set, is sent as P-Asserted-Identity, e.g.
	// "sip:+8675512345678@trunk" (the number the customer sees).
	PAssertedIdentity string
	// OptionsInterval sends keep-alive OPTIONS to the trunk; 0 disables.
	OptionsInterval time.Duration
	// Codecs is the preference order by name ("PCMA", "PCMU"). Default PCMU, PCMA.
	Codecs []string
}

// authUser is the user name put in digest credentials.
func (t *Trunk) authUser() string {
	if t.AuthUser != "" {
		return t.AuthUser
	}
	return t.Username
}

func (t *Trunk) fromUser() string {
	if t.FromUser != "" {
		return t.FromUser
	}
	return t.Username
}

func (t *Trunk) host() string {
	h, _, ok := strings.Cut(t.Address, ":")
	if !ok {
		return t.Address
	}
	return h
}

// withDefaults returns cfg with zero fields filled and validates it.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Listen) == 0 {
		cfg.Listen = []Listener{{Network: "udp", Addr: "0.0.0.0:5060"}, {Network: "tcp", Addr: "0.0.0.0:5060"}}
	}
	for _, l := range cfg.Listen {
		if err := l.check(cfg.TLS); err != nil {
			return cfg, err
		}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.MaxInbound == 0 {
		cfg.MaxInbound = DefaultMaxInbound
	}
	// SIP edge and registrar (edge.go, registrar.go).
	var err error
	if cfg.Edge, err = cfg.Edge.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.Registrar, err = cfg.Registrar.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.SessionExpires == 0 {
		cfg.SessionExpires = DefaultSessionExpires
	}
	if cfg.MinSE == 0 {
		cfg.MinSE = DefaultMinSE
	}
	if cfg.SessionExpires > 0 && cfg.SessionExpires < cfg.MinSE {
		return cfg, fmt.Errorf("session expires %s below min-se %s", cfg.SessionExpires, cfg.MinSE)
	}
	if cfg.MediaTimeout == 0 {
		cfg.MediaTimeout = DefaultMediaTimeout
	}
	if cfg.MediaCheckInterval <= 0 {
		cfg.MediaCheckInterval = time.Second
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = DefaultRingTimeout
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.RegisterRetryMin <= 0 {
		cfg.RegisterRetryMin = registerRetryMin
	}
	if cfg.RegisterRetryMax < cfg.RegisterRetryMin {
		cfg.RegisterRetryMax = max(registerRetryMax, cfg.RegisterRetryMin)
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []string{"PCMU", "PCMA"}
	}
	for _, c := range cfg.Codecs {
		if _, ok := codecByName(c); !ok {
			return cfg, fmt.Errorf("codec %q not supported (PCMU, PCMA)", c)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.SRTP.check(); err != nil {
		return cfg, err
	}
	if cfg.SRTP == "" {
		cfg.SRTP = SRTPOff
	}
	trunks := make([]Trunk, len(cfg.Trunks))
	seen := map[string]bool{}
	for i, t := range cfg.Trunks {
		if t.Name == "" {
			return cfg, fmt.Errorf("trunk %d: empty name", i)
		}
		if seen[t.Name] {
			return cfg, fmt.Errorf("trunk %q: duplicate name", t.Name)
		}
		seen[t.Name] = true
		if t.Address == "" {
			return cfg, fmt.Errorf("trunk %q: empty address", t.Name)
		}
		if t.Transport == "" {
			t.Transport = "udp"
		}
		if t.Transport != "udp" && t.Transport != "tcp" && t.Transport != "tls" {
			return cfg, fmt.Errorf("trunk %q: transport %q not supported (udp, tcp, tls)", t.Name, t.Transport)
		}
		if err := t.SRTP.check(); err != nil {
			return cfg, fmt.Errorf("trunk %q: %w", t.Name, err)
		}
		if t.SRTP == "" {
			t.SRTP = SRTPOff
		}
		if t.SRTP.on() && t.Transport != "tls" && !t.AllowSDESWithoutTLS {
			return cfg, fmt.Errorf("trunk %q: srtp %s over transport %s would send the SRTP keys (SDP a=crypto) in clear text: "+
				"use transport tls, or set AllowSDESWithoutTLS to accept that anyone reading the SIP can decrypt the audio",
				t.Name, t.SRTP, t.Transport)
		}
		if t.RegisterExpiry <= 0 {
			t.RegisterExpiry = DefaultRegisterExpiry
		}
		if len(t.Codecs) == 0 {
			t.Codecs = []string{"PCMU", "PCMA"}
		}
		for _, c := range t.Codecs {
			if _, ok := codecByName(c); !ok {
				return cfg, fmt.Errorf("trunk %q: codec %q not supported (PCMU, PCMA)", t.Name, c)
			}
		}
		trunks[i] = t
	}
	cfg.Trunks = trunks
	return cfg, nil
}
