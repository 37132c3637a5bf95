package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	// Transports bound on Listen. Default [udp, tcp]. (tls and ws: later releases.)
	Transports []string `yaml:"transports"`
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
	Name              string        `yaml:"name"`
	Address           string        `yaml:"address"`
	Transport         string        `yaml:"transport"`
	Username          string        `yaml:"username"`
	Password          string        `yaml:"password"`
	AuthUser          string        `yaml:"auth_user"`
	Realm             string        `yaml:"realm"`
	Register          bool          `yaml:"register"`
	RegisterExpiry    time.Duration `yaml:"register_expiry"`
	FromUser          string        `yaml:"from_user"`
	FromDisplay       string        `yaml:"from_display"`
	PAssertedIdentity string        `yaml:"p_asserted_identity"`
	OptionsInterval   time.Duration `yaml:"options_interval"`
	Codecs            []string      `yaml:"codecs"`
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
		if t != "udp" && t != "tcp" {
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
		if t.Transport != "" && t.Transport != "udp" && t.Transport != "tcp" {
			return fmt.Errorf("trunk %q: transport %q is not supported (udp, tcp)", t.Name, t.Transport)
		}
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

// sipConfig converts the file's SIP and trunk sections into sip.Config.
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
			Username: t.Username, Password: t.Password, AuthUser: t.AuthUser, Realm: t.Realm,
			Register: t.Register, RegisterExpiry: t.RegisterExpiry,
			FromUser: t.FromUser, FromDisplay: t.FromDisplay, PAssertedIdentity: t.PAssertedIdentity,
			OptionsInterval: t.OptionsInterval, Codecs: t.Codecs,
		})
	}
	return sc
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
