package main

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/server/webhook"
	"github.com/waihu/waihu/sip"
)

// Config is the whole of waihu's configuration file (waihu.yaml). Every field has a
// default, so no file is needed to start; docs/configuration.md describes each key.
type Config struct {
	// Data is the directory for recordings and state. Default ./waihu-data.
	Data string    `yaml:"data"`
	SIP  SIPConfig `yaml:"sip"`
	RTP  RTPConfig `yaml:"rtp"`
	// Trunks are the SIP providers waihu registers to and dials through.
	Trunks  []TrunkConfig `yaml:"trunks"`
	Inbound InboundConfig `yaml:"inbound"`
	Bot     BotConfig     `yaml:"bot"`
	Log     LogConfig     `yaml:"log"`
	// Store is where campaigns, contacts, call records, users and the audit
	// log live.
	Store StoreConfig `yaml:"store"`
	// HTTP is the control plane: REST API, live events, metrics, the
	// dashboard and the softphone page.
	HTTP HTTPConfig `yaml:"http"`
	// Webhooks push each finished call and campaign to CRMs, signed and
	// retried (docs/webhooks.md).
	Webhooks webhook.Settings `yaml:"webhooks"`

	// sipSecrets is what validate loaded from the files and the
	// environment that the SIP section names (certificates, extension
	// passwords), so that sipConfig, which cannot fail, only copies.
	sipSecrets sipSecrets
}

// sipSecrets holds the SIP section's loaded certificates; extension
// passwords are resolved into their ExtensionConfig.
type sipSecrets struct {
	tls   *tls.Config    // sip.tls.cert and key; nil without them
	roots *x509.CertPool // sip.tls.ca; nil: the system's roots
}

// StoreConfig chooses the database.
type StoreConfig struct {
	// DSN, when set, is a PostgreSQL store shared by several nodes
	// (postgres://user@host/db). Default "": SQLite in the data directory.
	DSN string `yaml:"dsn"`
}

// HTTPConfig is the control plane's part of the file.
type HTTPConfig struct {
	// Listen is the HTTP address, host:port. Default 127.0.0.1:8080, so the
	// API is not on the network until someone asks; "off" serves nothing.
	Listen string `yaml:"listen"`
	// OpenMetrics serves /metrics without a token, for a Prometheus on a
	// trusted network. Default false.
	OpenMetrics bool `yaml:"open_metrics"`
	// AllowOrigins are other origins (host patterns) allowed to open the
	// live event WebSocket. Default: the page's own origin only.
	AllowOrigins []string `yaml:"allow_origins"`
	// AdminTokenFile is where the first start writes the admin's API token
	// (mode 0600). Default DATA/admin-token.
	AdminTokenFile string `yaml:"admin_token_file"`
}

// httpOff is the http.listen value that turns the control plane off.
const httpOff = "off"

// SIPConfig is the SIP user agent's part of the file.
type SIPConfig struct {
	// Listen is the SIP address, host:port. Default 0.0.0.0:5060.
	Listen string `yaml:"listen"`
	// Transports bound on Listen. Default [udp, tcp]. SIP over TLS has its
	// own address (TLS); SIP over WebSocket is the --ws flag.
	Transports []string `yaml:"transports"`
	// TLS is SIP over TLS: a tls listener when Cert is set, and the CAs
	// that tls trunks' certificates are checked against.
	TLS SIPTLSConfig `yaml:"tls"`
	// SRTP is the SRTP policy (SDES) of inbound calls from sources that are
	// no configured trunk: off, optional or mandatory. Default off.
	SRTP sip.SRTPMode `yaml:"srtp"`
	// AllowSDESWithoutTLS lets those calls exchange SRTP keys over udp or
	// tcp SIP, in clear text. Default false.
	AllowSDESWithoutTLS bool `yaml:"allow_sdes_without_tls"`
	// Edge is the scanner and brute-force protection (docs/sip-edge.md).
	Edge SIPEdgeConfig `yaml:"edge"`
	// Registrar, when set, accepts REGISTER from its extensions. Default
	// none: REGISTER gets 405.
	Registrar *RegistrarConfig `yaml:"registrar"`
	// ExternalHost is written into Via and Contact when waihu is behind NAT.
	ExternalHost string `yaml:"external_host"`
	UserAgent    string `yaml:"user_agent"`
	// MaxInbound caps concurrent inbound calls; the next gets 486. Default 1000.
	MaxInbound int `yaml:"max_inbound"`
	// InboundAuth challenges inbound INVITEs with digest auth when set.
	InboundAuth *struct {
		Realm    string `yaml:"realm"`
		Username string `yaml:"username"`
		Password string `yaml:"password"`
	} `yaml:"inbound_auth"`
	// AllowFrom lists the prefixes (CIDR) that may send INVITEs; empty allows all.
	AllowFrom      []string      `yaml:"allow_from"`
	SessionExpires time.Duration `yaml:"session_expires"`
	MinSE          time.Duration `yaml:"min_se"`
	MediaTimeout   time.Duration `yaml:"media_timeout"`
	RingTimeout    time.Duration `yaml:"ring_timeout"`
}

// SIPTLSConfig is sip.tls: SIP over TLS (docs/tls-srtp.md).
type SIPTLSConfig struct {
	// Listen is the tls listener's address, host:port. Default the host of
	// sip.listen with port 5061 (port 0 when sip.listen's port is 0, so that
	// tests and one-off `waihu call`s take a free port).
	Listen string `yaml:"listen"`
	// Cert is the PEM certificate chain served on the tls listener and
	// offered to trunks that ask for a client certificate; Key is its PEM
	// private key. Both or neither; with them a tls listener is bound.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// CA is a PEM file of the authorities trusted to sign tls trunks'
	// certificates. Default "": the system's roots.
	CA string `yaml:"ca"`
	// InsecureSkipVerify accepts any certificate from the TLS servers we
	// dial: for labs only, warned at every start. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// defaultTLSPort is the SIP over TLS port (RFC 3261 §19.1.2).
const defaultTLSPort = 5061

// SIPEdgeConfig is sip.edge: the controls every request meets before its
// handler (docs/sip-edge.md). Each key left out keeps sip.EdgeConfig's
// default, given here.
type SIPEdgeConfig struct {
	// Trusted prefixes (CIDR or a bare IP: a carrier, the Kamailio in
	// front) skip the rate limit, bans and the User-Agent blocklist.
	Trusted []string `yaml:"trusted"`
	// AllowFromMethods are the methods sip.allow_from restricts at the
	// edge (dropped unanswered), "*" for all. Default none: only INVITE,
	// answered 403.
	AllowFromMethods []string `yaml:"allow_from_methods"`
	// RatePerSecond and Burst are each source's token bucket. Defaults 20
	// and 50; a negative rate turns the limit off.
	RatePerSecond float64 `yaml:"rate_per_second"`
	Burst         int     `yaml:"burst"`
	// LimitLoopback rate-limits loopback sources too. Default false.
	LimitLoopback bool `yaml:"limit_loopback"`
	// BanAfter failed authentications within BanWindow ban a source for
	// BanFor. Defaults 5, 60s, 10m; a negative ban_after turns bans off.
	BanAfter  int           `yaml:"ban_after"`
	BanWindow time.Duration `yaml:"ban_window"`
	BanFor    time.Duration `yaml:"ban_for"`
	// MaxSources caps per-source state and, separately, bans. Default 10000.
	MaxSources int `yaml:"max_sources"`
	// BlockUserAgents are User-Agent substrings dropped as scanners.
	// Default sip.DefaultScannerUserAgents (friendly-scanner, sipvicious…).
	BlockUserAgents []string `yaml:"block_user_agents"`
	// AllowScanners turns the User-Agent blocklist off. Default false.
	AllowScanners bool `yaml:"allow_scanners"`
	// DigestAlgorithms are the challenges offered, preferred first: SHA-256,
	// MD5. Default [SHA-256, MD5].
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// NonceLifetime bounds how long a challenge can be answered. Default 5m.
	NonceLifetime time.Duration `yaml:"nonce_lifetime"`
}

// RegistrarConfig is sip.registrar: who may REGISTER to waihu.
type RegistrarConfig struct {
	// Realm of the challenges. Default sip.inbound_auth.realm, else the
	// advertised host.
	Realm string `yaml:"realm"`
	// Extensions are the users that may register (at least one).
	Extensions []ExtensionConfig `yaml:"extensions"`
	// MinExpires and MaxExpires bound the registration interval. Defaults
	// 60s and 1h.
	MinExpires time.Duration `yaml:"min_expires"`
	MaxExpires time.Duration `yaml:"max_expires"`
	// MaxContacts caps the bindings of one extension. Default 10.
	MaxContacts int `yaml:"max_contacts"`
}

// ExtensionConfig is one registrar user. Its password is given inline, in a
// file (password_file, surrounding white space ignored) or in an
// environment variable (password_env): exactly one of them.
type ExtensionConfig struct {
	User         string `yaml:"user"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`

	// secret is the password validate resolved from whichever key holds it.
	secret string
}

// LogValue keeps an extension's password out of every log line.
func (e ExtensionConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", e.User))
}

// String keeps the password out of anything that prints a Config with %v
// or %+v (fmt uses it for nested fields too).
func (e ExtensionConfig) String() string { return "{user " + e.User + "}" }

// GoString does the same for %#v.
func (e ExtensionConfig) GoString() string { return fmt.Sprintf("ExtensionConfig{User: %q}", e.User) }

// RTPConfig is the media engine's part of the file.
type RTPConfig struct {
	BindIP       string        `yaml:"bind_ip"`
	ExternalIP   string        `yaml:"external_ip"`
	PortMin      int           `yaml:"port_min"`
	PortMax      int           `yaml:"port_max"`
	JitterMin    time.Duration `yaml:"jitter_min"`
	JitterMax    time.Duration `yaml:"jitter_max"`
	RTCPInterval time.Duration `yaml:"rtcp_interval"`
}

// TrunkConfig is one SIP provider account.
type TrunkConfig struct {
	Name      string `yaml:"name"`
	Address   string `yaml:"address"`
	Transport string `yaml:"transport"`
	// SRTP is the trunk's media encryption: off (default), optional or
	// mandatory. On a udp or tcp trunk it needs AllowSDESWithoutTLS.
	SRTP                sip.SRTPMode  `yaml:"srtp"`
	AllowSDESWithoutTLS bool          `yaml:"allow_sdes_without_tls"`
	Username            string        `yaml:"username"`
	Password            string        `yaml:"password"`
	AuthUser            string        `yaml:"auth_user"`
	Realm               string        `yaml:"realm"`
	Register            bool          `yaml:"register"`
	RegisterExpiry      time.Duration `yaml:"register_expiry"`
	FromUser            string        `yaml:"from_user"`
	FromDisplay         string        `yaml:"from_display"`
	PAssertedIdentity   string        `yaml:"p_asserted_identity"`
	OptionsInterval     time.Duration `yaml:"options_interval"`
	Codecs              []string      `yaml:"codecs"`
	// Tones is the call-progress tone plan of the trunk's network, which
	// early media (183) is classified by on outbound calls: china (default)
	// or north_america (docs/campaigns.md, "Call progress").
	Tones string `yaml:"tones"`
}

// InboundConfig says what waihu does with a call it answers when no bot runs: play
// a prompt and record the caller.
type InboundConfig struct {
	// Prompt is a WAV file played to every caller; default: the embedded greeting.
	Prompt string `yaml:"prompt"`
	// Record writes the caller's audio to DATA/recordings/CALL-ID.wav. Default true.
	Record *bool `yaml:"record"`
	// MaxDuration ends a call after this long. Default (and when 0) 10m.
	MaxDuration time.Duration `yaml:"max_duration"`
}

// LogConfig sets logging.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
	// ShowNumbers logs phone numbers in full; default false masks them (138****5678).
	ShowNumbers bool `yaml:"show_numbers"`
}

// defaultConfig is what waihu runs with when no file is given.
func defaultConfig() Config {
	return Config{
		Data: "./waihu-data",
		SIP:  SIPConfig{Listen: "0.0.0.0:5060", Transports: []string{"udp", "tcp"}},
		RTP:  RTPConfig{BindIP: "0.0.0.0", PortMin: 10000, PortMax: 20000},
		Inbound: InboundConfig{
			MaxDuration: 10 * time.Minute,
		},
		Log:  LogConfig{Level: "info", Format: "text"},
		HTTP: HTTPConfig{Listen: "127.0.0.1:8080"},
	}
}

// loadConfig reads a YAML file over the defaults. Unknown keys are errors, so a typo
// does not silently fall back to a default; errors name the file and line.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := parseConfig(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func parseConfig(raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return cfg.validate()
}

func (c *Config) validate() error {
	if _, _, err := splitHostPort(c.SIP.Listen); err != nil {
		return fmt.Errorf("sip.listen %q: %w", c.SIP.Listen, err)
	}
	for _, t := range c.SIP.Transports {
		switch t {
		case "udp", "tcp":
		case "tls":
			return errors.New(`sip.transports: "tls" is not a transport of sip.listen: set sip.tls.cert and sip.tls.key (it listens on sip.tls.listen)`)
		default:
			return fmt.Errorf("sip.transports: %q is not supported (udp, tcp)", t)
		}
	}
	for _, p := range c.SIP.AllowFrom {
		if _, err := parsePrefix(p); err != nil {
			return fmt.Errorf("sip.allow_from %q: %w", p, err)
		}
	}
	for _, ip := range []struct{ key, v string }{{"rtp.bind_ip", c.RTP.BindIP}, {"rtp.external_ip", c.RTP.ExternalIP}} {
		if ip.v == "" {
			continue
		}
		if _, err := netip.ParseAddr(ip.v); err != nil {
			return fmt.Errorf("%s %q: %w", ip.key, ip.v, err)
		}
	}
	seen := map[string]bool{}
	for i, t := range c.Trunks {
		if t.Name == "" {
			return fmt.Errorf("trunks[%d]: name is required", i)
		}
		if seen[t.Name] {
			return fmt.Errorf("trunks[%d]: duplicate trunk name %q", i, t.Name)
		}
		seen[t.Name] = true
		if t.Address == "" {
			return fmt.Errorf("trunk %q: address is required", t.Name)
		}
		if err := c.validateTrunkSecurity(t); err != nil {
			return fmt.Errorf("trunk %q: %w", t.Name, err)
		}
		if _, err := tonePlan(t.Tones); err != nil {
			return fmt.Errorf("trunk %q: %w", t.Name, err)
		}
	}
	if err := c.validateSIPSecurity(); err != nil {
		return err
	}
	for _, e := range []struct{ key, v string }{{"bot.asr.engine", c.Bot.ASR.Engine}, {"bot.tts.engine", c.Bot.TTS.Engine}} {
		switch e.v {
		case "", "sphinx", "vosk", "whisper", "flite", "espeak", "prompts", "http":
		default:
			return fmt.Errorf("%s %q: unknown engine (docs/speech.md lists them)", e.key, e.v)
		}
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = defaultConfig().HTTP.Listen
	}
	if c.HTTP.Listen != httpOff {
		if _, _, err := splitHostPort(c.HTTP.Listen); err != nil {
			return fmt.Errorf("http.listen %q: %w (or %q)", c.HTTP.Listen, err, httpOff)
		}
	}
	if c.Inbound.MaxDuration <= 0 {
		c.Inbound.MaxDuration = defaultConfig().Inbound.MaxDuration
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return err
	}
	return nil
}

// validateTrunkSecurity checks a trunk's transport and SRTP keys.
func (c *Config) validateTrunkSecurity(t TrunkConfig) error {
	switch t.Transport {
	case "", "udp", "tcp":
	case "tls":
		// The trunk's requests to us (INVITE, BYE) come to our Contact, the
		// tls listener's port: without a certificate there is none.
		if c.SIP.TLS.Cert == "" {
			return errors.New("transport tls needs sip.tls.cert and sip.tls.key (the tls listener the trunk sends to)")
		}
	default:
		return fmt.Errorf("transport %q is not supported (udp, tcp, tls)", t.Transport)
	}
	if err := checkSRTP(t.SRTP); err != nil {
		return fmt.Errorf("srtp: %w", err)
	}
	if srtpOn(t.SRTP) && t.Transport != "tls" && !t.AllowSDESWithoutTLS {
		transport := cmp.Or(t.Transport, "udp")
		return fmt.Errorf("srtp %s over transport %s would send the SRTP keys (SDP a=crypto) in clear text: "+
			"use transport tls, or set allow_sdes_without_tls: true to accept that anyone reading the SIP can decrypt the audio",
			t.SRTP, transport)
	}
	return nil
}

// validateSIPSecurity checks sip.tls, sip.srtp, sip.edge and sip.registrar,
// and loads the files and variables they name into c.sipSecrets and the
// extensions. Errors name the key and the file, never a password.
func (c *Config) validateSIPSecurity() error {
	t := c.SIP.TLS
	if t.Listen != "" {
		if _, _, err := splitHostPort(t.Listen); err != nil {
			return fmt.Errorf("sip.tls.listen %q: %w", t.Listen, err)
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return errors.New("sip.tls: cert and key go together (set both or neither)")
	}
	srv, roots, err := sip.LoadTLSFiles(sip.TLSFiles{Cert: t.Cert, Key: t.Key, CA: t.CA})
	if err != nil {
		return fmt.Errorf("sip.tls: %w", err)
	}
	c.sipSecrets = sipSecrets{tls: srv, roots: roots}
	if err := checkSRTP(c.SIP.SRTP); err != nil {
		return fmt.Errorf("sip.srtp: %w", err)
	}
	if c.SIP.SRTP == sip.SRTPMandatory && t.Cert == "" && !c.SIP.AllowSDESWithoutTLS {
		// Over udp and tcp the keys are refused, so every call from a
		// source that is no trunk would get 488.
		return errors.New("sip.srtp mandatory: inbound calls could never agree SRTP keys without a tls listener: " +
			"set sip.tls.cert and sip.tls.key, or sip.allow_sdes_without_tls: true")
	}
	if err := c.SIP.Edge.validate(); err != nil {
		return err
	}
	if r := c.SIP.Registrar; r != nil {
		if err := r.resolve(); err != nil {
			return err
		}
	}
	return nil
}

// checkSRTP accepts the SRTP modes ("" is off).
func checkSRTP(m sip.SRTPMode) error {
	switch m {
	case "", sip.SRTPOff, sip.SRTPOptional, sip.SRTPMandatory:
		return nil
	}
	return fmt.Errorf("%q is not one of off, optional, mandatory", string(m))
}

func srtpOn(m sip.SRTPMode) bool { return m == sip.SRTPOptional || m == sip.SRTPMandatory }

// validate checks sip.edge; zero values are sip.EdgeConfig's defaults.
func (e *SIPEdgeConfig) validate() error {
	for _, p := range e.Trusted {
		if _, err := parsePrefix(p); err != nil {
			return fmt.Errorf("sip.edge.trusted %q: %w", p, err)
		}
	}
	for _, m := range e.AllowFromMethods {
		if m != "*" && !isSIPToken(m) {
			return fmt.Errorf("sip.edge.allow_from_methods %q: not a SIP method (INVITE, OPTIONS, REGISTER…) or *", m)
		}
	}
	if math.IsNaN(e.RatePerSecond) || math.IsInf(e.RatePerSecond, 0) {
		return fmt.Errorf("sip.edge.rate_per_second %v: want a number (negative turns the limit off)", e.RatePerSecond)
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"sip.edge.burst", e.Burst}, {"sip.edge.max_sources", e.MaxSources}} {
		if n.v < 0 {
			return fmt.Errorf("%s %d: must not be negative (0 is the default)", n.key, n.v)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"sip.edge.ban_window", e.BanWindow}, {"sip.edge.ban_for", e.BanFor}, {"sip.edge.nonce_lifetime", e.NonceLifetime}} {
		if d.v < 0 {
			return fmt.Errorf("%s %s: must not be negative (0 is the default)", d.key, d.v)
		}
	}
	for _, ua := range e.BlockUserAgents {
		if strings.TrimSpace(ua) == "" {
			return errors.New("sip.edge.block_user_agents: an empty entry would match every User-Agent (allow_scanners: true turns the list off)")
		}
	}
	for _, a := range e.DigestAlgorithms {
		if u := strings.ToUpper(a); u != "SHA-256" && u != "MD5" {
			return fmt.Errorf("sip.edge.digest_algorithms %q: not supported (SHA-256, MD5)", a)
		}
	}
	return nil
}

// isSIPToken reports whether s is a SIP method name (RFC 3261 §25.1 token,
// letters only in practice).
func isSIPToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// resolve checks sip.registrar and reads each extension's password from
// wherever its keys say.
func (r *RegistrarConfig) resolve() error {
	if len(r.Extensions) == 0 {
		return errors.New("sip.registrar.extensions: none: list at least one {user, password | password_file | password_env}")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"sip.registrar.min_expires", r.MinExpires}, {"sip.registrar.max_expires", r.MaxExpires}} {
		if d.v < 0 {
			return fmt.Errorf("%s %s: must not be negative (0 is the default)", d.key, d.v)
		}
	}
	minExp := cmp.Or(r.MinExpires, sip.DefaultRegistrarMinExpires)
	maxExp := cmp.Or(r.MaxExpires, sip.DefaultRegistrarMaxExpires)
	if minExp > maxExp {
		return fmt.Errorf("sip.registrar: min_expires %s is above max_expires %s", minExp, maxExp)
	}
	if r.MaxContacts < 0 {
		return fmt.Errorf("sip.registrar.max_contacts %d: must not be negative (0 is the default)", r.MaxContacts)
	}
	seen := map[string]bool{}
	for i := range r.Extensions {
		e := &r.Extensions[i]
		if e.User == "" || strings.ContainsAny(e.User, "@:;<> \t") {
			return fmt.Errorf("sip.registrar.extensions[%d].user %q: want a user name (no @, :, ; or spaces)", i, e.User)
		}
		if seen[e.User] {
			return fmt.Errorf("sip.registrar.extensions[%d]: duplicate user %q", i, e.User)
		}
		seen[e.User] = true
		secret, err := e.resolvePassword()
		if err != nil {
			return fmt.Errorf("sip.registrar.extensions[%d] (user %q): %w", i, e.User, err)
		}
		e.secret = secret
	}
	return nil
}

// resolvePassword returns the password from password, password_file or
// password_env; errors name the key, the file or the variable, never the
// password.
func (e ExtensionConfig) resolvePassword() (string, error) {
	set := 0
	for _, v := range []string{e.Password, e.PasswordFile, e.PasswordEnv} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return "", errors.New("set exactly one of password, password_file and password_env")
	}
	switch {
	case e.PasswordFile != "":
		b, err := os.ReadFile(e.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password_file: %w", err)
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("password_file %s is empty", e.PasswordFile)
	case e.PasswordEnv != "":
		if v := strings.TrimSpace(os.Getenv(e.PasswordEnv)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("password_env: environment variable %s is unset or empty", e.PasswordEnv)
	}
	return e.Password, nil
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, errors.New("want host:port")
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", s[i+1:])
	}
	return strings.Trim(s[:i], "[]"), port, nil
}

// parsePrefix accepts a CIDR or a bare address (one host).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// sipConfig converts the file's SIP and trunk sections into sip.Config. It
// takes the certificates and passwords validate loaded: a Config that was
// never validated has no tls listener's certificate (NewUA says so) and
// empty extension passwords.
func (c *Config) sipConfig() sip.Config {
	sc := sip.Config{
		ExternalHost:   c.SIP.ExternalHost,
		UserAgent:      c.SIP.UserAgent,
		MaxInbound:     c.SIP.MaxInbound,
		SessionExpires: c.SIP.SessionExpires,
		MinSE:          c.SIP.MinSE,
		MediaTimeout:   c.SIP.MediaTimeout,
		RingTimeout:    c.SIP.RingTimeout,
		ShowNumbers:    c.Log.ShowNumbers,
	}
	transports := c.SIP.Transports
	if len(transports) == 0 {
		transports = []string{"udp", "tcp"}
	}
	for _, t := range transports {
		sc.Listen = append(sc.Listen, sip.Listener{Network: t, Addr: c.SIP.Listen})
	}
	if c.SIP.TLS.Cert != "" {
		sc.Listen = append(sc.Listen, sip.Listener{Network: "tls", Addr: c.tlsListen()})
	}
	sc.TLS, sc.TLSRootCAs = c.sipSecrets.tls, c.sipSecrets.roots
	sc.TLSInsecureSkipVerify = c.SIP.TLS.InsecureSkipVerify
	sc.SRTP, sc.AllowSDESWithoutTLS = c.SIP.SRTP, c.SIP.AllowSDESWithoutTLS
	sc.Edge = c.SIP.Edge.sipEdge()
	if r := c.SIP.Registrar; r != nil {
		sc.Registrar = &sip.RegistrarConfig{Realm: r.Realm, MinExpires: r.MinExpires, MaxExpires: r.MaxExpires, MaxContacts: r.MaxContacts}
		for _, e := range r.Extensions {
			sc.Registrar.Extensions = append(sc.Registrar.Extensions, sip.Extension{User: e.User, Password: e.secret})
		}
	}
	if a := c.SIP.InboundAuth; a != nil {
		sc.InboundAuth = &sip.DigestCredentials{Realm: a.Realm, Username: a.Username, Password: a.Password}
	}
	for _, p := range c.SIP.AllowFrom {
		pfx, _ := parsePrefix(p) // validated
		sc.AllowFrom = append(sc.AllowFrom, pfx)
	}
	for _, t := range c.Trunks {
		sc.Trunks = append(sc.Trunks, sip.Trunk{
			Name: t.Name, Address: t.Address, Transport: t.Transport,
			SRTP: t.SRTP, AllowSDESWithoutTLS: t.AllowSDESWithoutTLS,
			Username: t.Username, Password: t.Password, AuthUser: t.AuthUser, Realm: t.Realm,
			Register: t.Register, RegisterExpiry: t.RegisterExpiry,
			FromUser: t.FromUser, FromDisplay: t.FromDisplay, PAssertedIdentity: t.PAssertedIdentity,
			OptionsInterval: t.OptionsInterval, Codecs: t.Codecs,
		})
	}
	return sc
}

// tlsListen is sip.tls.listen, or by default the host of sip.listen on
// port 5061 (port 0 when sip.listen asks for a free port).
func (c *Config) tlsListen() string {
	if c.SIP.TLS.Listen != "" {
		return c.SIP.TLS.Listen
	}
	host, port, err := splitHostPort(c.SIP.Listen)
	if err != nil || host == "" {
		host = "0.0.0.0"
	}
	if err == nil && port == 0 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(defaultTLSPort))
}

// sipEdge converts sip.edge into sip.EdgeConfig (validated).
func (e SIPEdgeConfig) sipEdge() sip.EdgeConfig {
	ec := sip.EdgeConfig{
		AllowFromMethods: e.AllowFromMethods,
		RatePerSecond:    e.RatePerSecond, Burst: e.Burst, LimitLoopback: e.LimitLoopback,
		BanAfter: e.BanAfter, BanWindow: e.BanWindow, BanFor: e.BanFor,
		MaxSources:       e.MaxSources,
		AllowScanners:    e.AllowScanners,
		DigestAlgorithms: e.DigestAlgorithms,
		NonceLifetime:    e.NonceLifetime,
	}
	if len(e.BlockUserAgents) > 0 {
		// An empty list keeps the default blocklist rather than blocking
		// nothing: allow_scanners says that, explicitly.
		ec.BlockUserAgents = e.BlockUserAgents
	}
	for _, p := range e.Trusted {
		pfx, _ := parsePrefix(p) // validated
		ec.Trusted = append(ec.Trusted, pfx)
	}
	return ec
}

// rtpConfig converts the file's RTP section into rtp.Config.
func (c *Config) rtpConfig() rtp.Config {
	rc := rtp.Config{
		PortMin: c.RTP.PortMin, PortMax: c.RTP.PortMax,
		JitterMin: c.RTP.JitterMin, JitterMax: c.RTP.JitterMax,
		RTCPInterval: c.RTP.RTCPInterval,
	}
	rc.BindIP, _ = netip.ParseAddr(c.RTP.BindIP) // validated; empty stays invalid = default
	rc.ExternalIP, _ = netip.ParseAddr(c.RTP.ExternalIP)
	return rc
}
