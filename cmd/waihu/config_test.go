package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/waihu/waihu/sip"
)

func TestParseConfigAppliesFileOverDefaults(t *testing.T) {
	raw := `
data: /var/lib/waihu
sip:
  listen: 127.0.0.1:5080
  max_inbound: 50
  media_timeout: 45s
  allow_from: [10.0.0.0/8, 192.0.2.7]
rtp:
  port_min: 30000
  port_max: 30100
trunks:
  - name: carrier
    address: 127.0.0.1:5070
    username: "02112345678"
    password: secret
    register: true
    register_expiry: 10m
    p_asserted_identity: "sip:+862112345678@carrier"
log:
  format: json
`
	cfg := defaultConfig()
	if err := parseConfig([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	sc := cfg.sipConfig()
	if len(sc.Listen) != 2 || sc.Listen[0].Addr != "127.0.0.1:5080" || sc.Listen[1].Network != "tcp" {
		t.Errorf("listen = %+v", sc.Listen)
	}
	if sc.MaxInbound != 50 || sc.MediaTimeout != 45*time.Second {
		t.Errorf("limits: %+v", sc)
	}
	if len(sc.AllowFrom) != 2 || sc.AllowFrom[1].Bits() != 32 {
		t.Errorf("allow_from = %v", sc.AllowFrom)
	}
	if len(sc.Trunks) != 1 || !sc.Trunks[0].Register || sc.Trunks[0].RegisterExpiry != 10*time.Minute || sc.Trunks[0].Username != "02112345678" {
		t.Errorf("trunks = %+v", sc.Trunks)
	}
	rc := cfg.rtpConfig()
	if rc.PortMin != 30000 || rc.PortMax != 30100 || rc.BindIP.String() != "0.0.0.0" {
		t.Errorf("rtp = %+v", rc)
	}
	if cfg.Data != "/var/lib/waihu" || cfg.Inbound.MaxDuration != 10*time.Minute {
		t.Errorf("data/inbound defaults: %+v", cfg)
	}
}

func TestParseConfigRejectsMistakesWithTheirLocation(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"unknown key", "sip:\n  lisen: 1.2.3.4:5060\n", "line 2"},
		{"bad yaml", "sip: [\n", "yaml"},
		{"bad duration", "sip:\n  media_timeout: soon\n", "line 2"},
		{"bad listen", "sip:\n  listen: nowhere\n", "sip.listen"},
		{"bad transport", "sip:\n  transports: [sctp]\n", "sctp"},
		{"bad prefix", "sip:\n  allow_from: [10.0.0.0/40]\n", "allow_from"},
		{"bad ip", "rtp:\n  bind_ip: 999.1.1.1\n", "rtp.bind_ip"},
		{"trunk without name", "trunks:\n  - address: 127.0.0.1:5070\n", "name is required"},
		{"duplicate trunk", "trunks:\n  - {name: a, address: x:1}\n  - {name: a, address: y:1}\n", "duplicate"},
		{"trunk without address", "trunks:\n  - name: a\n", "address is required"},
		{"bad log format", "log:\n  format: xml\n", "log.format"},
		{"bad log level", "log:\n  level: loud\n", "log.level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultConfig()
			err := parseConfig([]byte(c.raw), &cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestSafeFileNameKeepsRecordingsInTheirDirectory(t *testing.T) {
	cases := map[string]string{
		"abc123@host":  "abc123@host",
		"../../etc/pw": "call.._.._etc_pw",
		"":             "call",
		".hidden":      "call.hidden",
		"a/b\\c d":     "a_b_c_d",
	}
	for in, want := range cases {
		if got := safeFileName(in); got != want {
			t.Errorf("safeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// secretPassword is the extension password of the config tests: no error
// or printed Config may contain it.
const secretPassword = "hunter2-never-logged"

// sipSecurityYAML is a sip section using every TLS, SRTP, edge and
// registrar key; %[1]s is the PEM directory.
const sipSecurityYAML = `
sip:
  listen: 127.0.0.1:5080
  tls:
    cert: %[1]s/cert.pem
    key: %[1]s/key.pem
    ca: %[1]s/cert.pem
    insecure_skip_verify: true
  srtp: mandatory
  allow_sdes_without_tls: true
  edge:
    trusted: [10.0.0.5, 198.51.100.0/24]
    allow_from_methods: [OPTIONS, register]
    rate_per_second: 5.5
    burst: 12
    limit_loopback: true
    ban_after: 3
    ban_window: 2m
    ban_for: 1h
    max_sources: 500
    block_user_agents: [evil-scanner]
    allow_scanners: true
    digest_algorithms: [MD5, SHA-256]
    nonce_lifetime: 90s
  registrar:
    realm: pbx.example
    min_expires: 30s
    max_expires: 10m
    max_contacts: 3
    extensions:
      - {user: "1001", password: "` + secretPassword + `"}
      - {user: "1002", password_file: %[1]s/pw}
      - {user: "1003", password_env: WAIHU_TEST_EXT_PW}
trunks:
  - name: secure
    address: 127.0.0.1:5061
    transport: tls
    srtp: mandatory
  - name: lan
    address: 10.0.0.9:5060
    srtp: optional
    allow_sdes_without_tls: true
  - name: plain
    address: 10.0.0.8:5060
    srtp: off
`

// sipSecurityDir writes a certificate, its key and a password file.
func sipSecurityDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTestCert(t, dir, "cert", "sip.waihu.test")
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseConfigMapsTLSSRTPEdgeAndRegistrarIntoSIPConfig(t *testing.T) {
	dir := sipSecurityDir(t)
	t.Setenv("WAIHU_TEST_EXT_PW", "from-env")
	cfg := defaultConfig()
	if err := parseConfig([]byte(strings.ReplaceAll(sipSecurityYAML, "%[1]s", dir)), &cfg); err != nil {
		t.Fatal(err)
	}
	sc := cfg.sipConfig()
	want := []sip.Listener{{Network: "udp", Addr: "127.0.0.1:5080"}, {Network: "tcp", Addr: "127.0.0.1:5080"}, {Network: "tls", Addr: "127.0.0.1:5061"}}
	if !slices.Equal(sc.Listen, want) {
		t.Errorf("listen = %+v, want %+v", sc.Listen, want)
	}
	if sc.TLS == nil || len(sc.TLS.Certificates) != 1 || sc.TLSRootCAs == nil || !sc.TLSInsecureSkipVerify {
		t.Errorf("tls = %v, roots = %v, insecure = %v", sc.TLS, sc.TLSRootCAs, sc.TLSInsecureSkipVerify)
	}
	if sc.SRTP != sip.SRTPMandatory || !sc.AllowSDESWithoutTLS {
		t.Errorf("srtp = %q, allow_sdes_without_tls = %v", sc.SRTP, sc.AllowSDESWithoutTLS)
	}
	e := sc.Edge
	wantTrusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("198.51.100.0/24")}
	if !slices.Equal(e.Trusted, wantTrusted) || !slices.Equal(e.AllowFromMethods, []string{"OPTIONS", "register"}) {
		t.Errorf("edge trusted %v, methods %v", e.Trusted, e.AllowFromMethods)
	}
	if e.RatePerSecond != 5.5 || e.Burst != 12 || !e.LimitLoopback || e.BanAfter != 3 || e.BanWindow != 2*time.Minute ||
		e.BanFor != time.Hour || e.MaxSources != 500 || !e.AllowScanners || e.NonceLifetime != 90*time.Second {
		t.Errorf("edge = %+v", e)
	}
	if !slices.Equal(e.BlockUserAgents, []string{"evil-scanner"}) || !slices.Equal(e.DigestAlgorithms, []string{"MD5", "SHA-256"}) {
		t.Errorf("edge user agents %v, algorithms %v", e.BlockUserAgents, e.DigestAlgorithms)
	}
	r := sc.Registrar
	if r == nil {
		t.Fatal("no registrar")
	}
	if r.Realm != "pbx.example" || r.MinExpires != 30*time.Second || r.MaxExpires != 10*time.Minute || r.MaxContacts != 3 {
		t.Errorf("registrar = %+v", r)
	}
	wantExt := []sip.Extension{{User: "1001", Password: secretPassword}, {User: "1002", Password: "from-file"}, {User: "1003", Password: "from-env"}}
	if !slices.Equal(r.Extensions, wantExt) {
		t.Errorf("extensions = %v", r.Extensions)
	}
	trunkSRTP := map[string]sip.SRTPMode{}
	for _, tr := range sc.Trunks {
		trunkSRTP[tr.Name] = tr.SRTP
	}
	if trunkSRTP["secure"] != sip.SRTPMandatory || trunkSRTP["lan"] != sip.SRTPOptional || trunkSRTP["plain"] != sip.SRTPOff ||
		sc.Trunks[0].Transport != "tls" || !sc.Trunks[1].AllowSDESWithoutTLS {
		t.Errorf("trunks = %+v", sc.Trunks)
	}
	for _, printed := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(printed, secretPassword) {
			t.Errorf("a printed Config shows an extension password: %s", printed)
		}
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "extension", cfg.SIP.Registrar.Extensions[0])
	if strings.Contains(logged.String(), secretPassword) || !strings.Contains(logged.String(), "1001") {
		t.Errorf("logged extension: %s", logged.String())
	}
}

func TestSIPConfigTLSListenerFollowsCertAndListen(t *testing.T) {
	dir := sipSecurityDir(t)
	cases := []struct {
		name, yaml string
		want       string // tls listener address; "" = none
	}{
		{"no cert, no tls listener", "sip:\n  listen: 127.0.0.1:5080\n", ""},
		{"cert, default port 5061 on sip.listen's host", "sip:\n  listen: 10.1.2.3:5080\n  tls: {cert: %[1]s/cert.pem, key: %[1]s/key.pem}\n", "10.1.2.3:5061"},
		{"cert, default listen", "sip:\n  tls: {cert: %[1]s/cert.pem, key: %[1]s/key.pem}\n", "0.0.0.0:5061"},
		{"cert, sip.listen on a free port takes a free port", "sip:\n  listen: 127.0.0.1:0\n  tls: {cert: %[1]s/cert.pem, key: %[1]s/key.pem}\n", "127.0.0.1:0"},
		{"cert, explicit listen", "sip:\n  tls: {listen: \"[::1]:6061\", cert: %[1]s/cert.pem, key: %[1]s/key.pem}\n", "[::1]:6061"},
		{"ca alone: trusted roots, no listener", "sip:\n  tls: {ca: %[1]s/cert.pem}\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultConfig()
			if err := parseConfig([]byte(strings.ReplaceAll(c.yaml, "%[1]s", dir)), &cfg); err != nil {
				t.Fatal(err)
			}
			sc := cfg.sipConfig()
			got := ""
			for _, l := range sc.Listen {
				if l.Network == "tls" {
					got = l.Addr
				}
			}
			if got != c.want {
				t.Errorf("tls listener = %q, want %q (listen %+v)", got, c.want, sc.Listen)
			}
			if (sc.TLS != nil) != (c.want != "") {
				t.Errorf("TLS = %v with tls listener %q", sc.TLS, got)
			}
		})
	}
}

func TestSIPConfigLeavesEdgeAndRegistrarDefaultsToSIP(t *testing.T) {
	cfg := defaultConfig()
	if err := parseConfig([]byte("sip:\n  edge:\n    block_user_agents: []\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	sc := cfg.sipConfig()
	if sc.Registrar != nil || sc.SRTP != "" || sc.TLS != nil {
		t.Errorf("registrar %v, srtp %q, tls %v: want none", sc.Registrar, sc.SRTP, sc.TLS)
	}
	// nil keeps sip.DefaultScannerUserAgents; an empty list must not
	// silently turn the blocklist off.
	if sc.Edge.BlockUserAgents != nil || sc.Edge.AllowScanners || sc.Edge.RatePerSecond != 0 || sc.Edge.Trusted != nil {
		t.Errorf("edge = %+v, want the zero (default) EdgeConfig", sc.Edge)
	}
}

func TestParseConfigRejectsBadSIPSecurityValuesNamingTheKey(t *testing.T) {
	dir := sipSecurityDir(t)
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WAIHU_TEST_UNSET", "")
	const tlsOK = "  tls: {cert: %[1]s/cert.pem, key: %[1]s/key.pem}\n"
	reg := func(ext string) string { return "sip:\n  registrar:\n    extensions:\n      - " + ext + "\n" }
	cases := []struct{ name, raw, want string }{
		{"tls listen", "sip:\n  tls: {listen: nowhere}\n", "sip.tls.listen"},
		{"tls cert without key", "sip:\n  tls: {cert: %[1]s/cert.pem}\n", "sip.tls: cert and key"},
		{"tls key without cert", "sip:\n  tls: {key: %[1]s/key.pem}\n", "sip.tls: cert and key"},
		{"tls cert missing", "sip:\n  tls: {cert: %[1]s/none.pem, key: %[1]s/key.pem}\n", "sip.tls"},
		{"tls ca not PEM", "sip:\n  tls: {ca: %[1]s/pw}\n", "sip.tls"},
		{"tls insecure not a bool", "sip:\n  tls: {insecure_skip_verify: maybe}\n", "line 2"},
		{"tls unknown key", "sip:\n  tls: {certificate: x}\n", "line 2"},
		{"tls as a transport", "sip:\n  transports: [udp, tls]\n", "sip.tls.cert"},
		{"srtp mode", "sip:\n  srtp: always\n", "sip.srtp"},
		{"srtp mandatory with no way to key it", "sip:\n  srtp: mandatory\n", "sip.srtp mandatory"},
		{"sdes flag not a bool", "sip:\n  allow_sdes_without_tls: perhaps\n", "line 2"},
		{"trunk transport", "trunks:\n  - {name: a, address: x:1, transport: sctp}\n", `trunk "a": transport "sctp"`},
		{"trunk tls without sip.tls", "trunks:\n  - {name: a, address: x:1, transport: tls}\n", `trunk "a": transport tls needs sip.tls.cert`},
		{"trunk srtp mode", "trunks:\n  - {name: a, address: x:1, srtp: sometimes}\n", `trunk "a": srtp`},
		{"trunk srtp over udp", "trunks:\n  - {name: a, address: x:1, srtp: optional}\n", "allow_sdes_without_tls"},
		{"trunk srtp over tcp", "sip:\n" + tlsOK + "trunks:\n  - {name: a, address: x:1, transport: tcp, srtp: mandatory}\n", "over transport tcp"},
		{"edge unknown key", "sip:\n  edge:\n    rate: 5\n", "line 3"},
		{"edge trusted", "sip:\n  edge: {trusted: [10.0.0.0/33]}\n", "sip.edge.trusted"},
		{"edge method", "sip:\n  edge: {allow_from_methods: [IN VITE]}\n", "sip.edge.allow_from_methods"},
		{"edge rate not a number", "sip:\n  edge: {rate_per_second: fast}\n", "line 2"},
		{"edge rate NaN", "sip:\n  edge: {rate_per_second: .nan}\n", "sip.edge.rate_per_second"},
		{"edge burst", "sip:\n  edge: {burst: -1}\n", "sip.edge.burst"},
		{"edge limit_loopback", "sip:\n  edge: {limit_loopback: sometimes}\n", "line 2"},
		{"edge ban_after", "sip:\n  edge: {ban_after: five}\n", "line 2"},
		{"edge ban_window unitless", "sip:\n  edge: {ban_window: 60}\n", "line 2"},
		{"edge ban_window negative", "sip:\n  edge: {ban_window: -1m}\n", "sip.edge.ban_window"},
		{"edge ban_for", "sip:\n  edge: {ban_for: -10m}\n", "sip.edge.ban_for"},
		{"edge ban_for not a duration", "sip:\n  edge: {ban_for: forever}\n", "line 2"},
		{"edge max_sources", "sip:\n  edge: {max_sources: -5}\n", "sip.edge.max_sources"},
		{"edge empty user agent", "sip:\n  edge: {block_user_agents: [\" \"]}\n", "sip.edge.block_user_agents"},
		{"edge allow_scanners", "sip:\n  edge: {allow_scanners: 2}\n", "line 2"},
		{"edge digest algorithm", "sip:\n  edge: {digest_algorithms: [SHA-512]}\n", "sip.edge.digest_algorithms"},
		{"edge nonce_lifetime", "sip:\n  edge: {nonce_lifetime: -1s}\n", "sip.edge.nonce_lifetime"},
		{"registrar without extensions", "sip:\n  registrar: {realm: x}\n", "sip.registrar.extensions"},
		{"registrar unknown key", "sip:\n  registrar: {users: []}\n", "line 2"},
		{"registrar min_expires", "sip:\n  registrar: {min_expires: -1s, extensions: [{user: a, password: b}]}\n", "sip.registrar.min_expires"},
		{"registrar max_expires", "sip:\n  registrar: {max_expires: -1s, extensions: [{user: a, password: b}]}\n", "sip.registrar.max_expires"},
		{"registrar min above max", "sip:\n  registrar: {min_expires: 2h, extensions: [{user: a, password: b}]}\n", "min_expires 2h0m0s is above max_expires"},
		{"registrar max_contacts", "sip:\n  registrar: {max_contacts: -1, extensions: [{user: a, password: b}]}\n", "sip.registrar.max_contacts"},
		{"extension without user", reg(`{password: "` + secretPassword + `"}`), "sip.registrar.extensions[0].user"},
		{"extension user with @", reg(`{user: "a@b", password: "` + secretPassword + `"}`), "sip.registrar.extensions[0].user"},
		{"extension duplicate", "sip:\n  registrar:\n    extensions: [{user: a, password: x}, {user: a, password: y}]\n", "extensions[1]: duplicate user"},
		{"extension two passwords", reg(`{user: a, password: "` + secretPassword + `", password_env: HOME}`), "exactly one of password"},
		{"extension no password", reg(`{user: a}`), "exactly one of password"},
		{"extension password_file missing", reg(`{user: a, password_file: %[1]s/nope}`), "password_file"},
		{"extension password_file empty", reg(`{user: a, password_file: ` + empty + `}`), "is empty"},
		{"extension password_env empty", reg(`{user: a, password_env: WAIHU_TEST_UNSET}`), "password_env: environment variable WAIHU_TEST_UNSET"},
		{"extension unknown key", reg(`{user: a, pass: x}`), "line 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultConfig()
			err := parseConfig([]byte(strings.ReplaceAll(c.raw, "%[1]s", dir)), &cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), secretPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestConfigurationReferenceNamesOnlyRealKeys decodes the reference example
// of docs/configuration.md with unknown keys refused, so the page cannot
// document a key the binary does not read. (Values are not validated: the
// example names files and variables that exist on no test machine.)
func TestConfigurationReferenceNamesOnlyRealKeys(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/configuration.md has no yaml example")
	}
	dec := yaml.NewDecoder(strings.NewReader(example))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("docs/configuration.md example: %v", err)
	}
	if cfg.SIP.Registrar == nil || len(cfg.SIP.Registrar.Extensions) == 0 || cfg.SIP.Edge.RatePerSecond == 0 || cfg.SIP.TLS.Listen != "" {
		t.Errorf("the example's sip section did not decode as documented: %+v", cfg.SIP)
	}
}
