package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waihu/waihu/rtp"
	"github.com/waihu/waihu/sip"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and the DNS
// names to dir/NAME.pem and its key to dir/key.pem (dir/NAME-key.pem for
// another name than "cert"); being self-signed it is its own CA file.
func writeTestCert(t *testing.T, dir, name string, dnsNames ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     dnsNames,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, "key.pem")
	if name != "cert" {
		keyFile = filepath.Join(dir, name+"-key.pem")
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// servedCertificate is the common name of the certificate a TLS server
// with cfg shows a client asking for serverName ("" sends no SNI).
func servedCertificate(t *testing.T, cfg *tls.Config, serverName string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: serverName, InsecureSkipVerify: true}) //nolint:gosec // reads the served certificate only
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestMergeTLSServesEachCertificateByNameAndSIPsWithout(t *testing.T) {
	dir := t.TempDir()
	sipCert, sipKey := writeTestCert(t, dir, "sip", "sip.waihu.test")
	phoneCert, phoneKey := writeTestCert(t, dir, "phone", "phone.waihu.test")
	load := func(c, k string) *tls.Config {
		pair, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	sipTLS, phoneTLS := load(sipCert, sipKey), load(phoneCert, phoneKey)
	merged := mergeTLS(sipTLS, phoneTLS)
	cases := []struct{ sni, want string }{
		{"sip.waihu.test", "sip"},
		{"phone.waihu.test", "phone"},
		{"", "sip"}, // a trunk dialling our IP sends no name
		{"other.example", "sip"},
	}
	for _, c := range cases {
		if got := servedCertificate(t, merged, c.sni); got != c.want {
			t.Errorf("SNI %q: served %q, want %q", c.sni, got, c.want)
		}
	}
	if len(sipTLS.Certificates) != 1 {
		t.Errorf("mergeTLS changed sip.tls's own configuration: %d certificates", len(sipTLS.Certificates))
	}
}

// gathered is one scrape of reg: metric name (with its labels) → value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

// serveSecureYAML is a `waihu serve` config with SIP over TLS, SRTP
// mandatory for unknown callers and a registrar; DIR is the PEM directory.
const serveSecureYAML = `
data: DIR/data
sip:
  listen: 127.0.0.1:0
  transports: [udp]
  tls:
    cert: DIR/cert.pem
    key: DIR/key.pem
    ca: DIR/cert.pem
  srtp: mandatory
  registrar:
    realm: waihu.test
    extensions:
      - {user: "1001", password_file: DIR/pw}
      - {user: "1002", password: other}
rtp:
  bind_ip: 127.0.0.1
  port_min: 38000
  port_max: 38999
inbound:
  record: false
bot:
  enabled: false
http:
  listen: "off"
`

// TestServeConfigWithTLSSRTPAndRegistrarStartsAndServes starts a server
// from a config file the way `waihu serve --config` does; a second UA
// registers to it over TLS as extension 1001, an INVITE offering plain RTP
// is refused (srtp mandatory) and one offering SRTP is answered; the edge
// collector shows the registration.
func TestServeConfigWithTLSSRTPAndRegistrarStartsAndServes(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir, "cert", "sip.waihu.test")
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret-1001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "waihu.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(serveSecureYAML, "DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := (&flagOverrides{config: path}).load()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.start(ctx); err != nil {
		srv.engine.Close()
		t.Fatal(err)
	}
	defer srv.close()
	tlsAddr := srv.ua.Addr("tls")
	if !tlsAddr.IsValid() || tlsAddr.Port() == 0 {
		t.Fatalf("no tls listener bound: %v", tlsAddr)
	}

	// The client trusts the server's self-signed certificate and serves the
	// same one on its own tls listener (a tls trunk needs one).
	srvTLS, roots, err := sip.LoadTLSFiles(sip.TLSFiles{Cert: certFile, Key: keyFile, CA: certFile})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := rtp.NewEngine(rtp.Config{BindIP: mustAddr("127.0.0.1"), PortMin: 39000, PortMax: 39999, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	trunk := sip.Trunk{Address: tlsAddr.String(), Transport: "tls", Username: "1001", Password: "s3cret-1001"}
	registering, plain, secure := trunk, trunk, trunk
	registering.Name, registering.Register, registering.RegisterExpiry = "register", true, time.Minute
	plain.Name, plain.SRTP = "plain", sip.SRTPOff
	secure.Name, secure.SRTP = "secure", sip.SRTPMandatory
	client, err := sip.NewUA(sip.Config{
		Listen: []sip.Listener{{Network: "tls", Addr: "127.0.0.1:0"}},
		TLS:    srvTLS, TLSRootCAs: roots,
		Logger: testLogger(),
		Trunks: []sip.Trunk{registering, plain, secure},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())

	for client.Registration("register").Status != sip.Registered {
		if ctx.Err() != nil {
			t.Fatalf("extension 1001 never registered over TLS: %+v", client.Registration("register"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b := srv.ua.Lookup("1001"); len(b) != 1 {
		t.Fatalf("server's bindings of 1001 = %+v, want one", b)
	}

	dial := func(trunkName string) (*sip.Call, error) {
		leg, err := engine.NewLeg(trunkName)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { leg.Close() })
		return client.Dial(ctx, sip.DialRequest{Trunk: trunkName, To: "bot", Media: leg})
	}
	var ce *sip.CallError
	if _, err := dial("plain"); !errors.As(err, &ce) || ce.Code != 488 {
		t.Errorf("plain RTP offer to srtp mandatory: err = %v, want 488", err)
	}
	call, err := dial("secure")
	if err != nil {
		t.Fatalf("SRTP offer over TLS: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hang up: %v", err)
	}

	reg := prometheus.NewRegistry()
	if err := reg.Register(newEdgeCollector(srv.ua, cfg.SIP.Registrar)); err != nil {
		t.Fatal(err)
	}
	got := gathered(t, reg)
	if got["waihu_sip_registered_extensions"] != 1 || got["waihu_sip_registrar_bindings"] != 1 {
		t.Errorf("registration gauges: %v", got)
	}
	if got["waihu_sip_edge_admitted_total"] < 3 || got["waihu_sip_banned"] != 0 || got["waihu_sip_auth_failures_total"] != 0 {
		t.Errorf("edge figures: %v", got)
	}
}

func TestEdgeCollectorCountsBansAndDropsByReason(t *testing.T) {
	ua, err := sip.NewUA(sip.Config{
		Listen: []sip.Listener{{Network: "udp", Addr: "127.0.0.1:0"}},
		Logger: testLogger(),
		// One failure bans: a scanner User-Agent counts as one.
		Edge: sip.EdgeConfig{BanAfter: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ua.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ua.Close(context.Background())
	reg := prometheus.NewRegistry()
	if err := reg.Register(newEdgeCollector(ua, nil)); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg); got["waihu_sip_banned"] != 0 || got["waihu_sip_edge_dropped_total{reason=scanner}"] != 0 {
		t.Fatalf("before any request: %v", got)
	}
	if _, ok := gathered(t, reg)["waihu_sip_registered_extensions"]; ok {
		t.Error("registration gauge without a registrar")
	}

	conn, err := net.Dial("udp", ua.Addr("udp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	options := func(n int) string {
		return "OPTIONS sip:waihu@" + ua.Addr("udp").String() + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-edge-" + string(rune('a'+n)) + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:scan@example>;tag=1\r\nTo: <sip:waihu@example>\r\n" +
			"Call-ID: edge-collector-" + string(rune('a'+n)) + "\r\nCSeq: 1 OPTIONS\r\n" +
			"User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
	}
	for i := range 3 {
		if _, err := conn.Write([]byte(options(i))); err != nil {
			t.Fatal(err)
		}
	}
	// The first is dropped as a scanner and bans; the rest as banned.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := gathered(t, reg)
		if got["waihu_sip_bans_total"] == 1 && got["waihu_sip_banned"] == 1 &&
			got["waihu_sip_edge_dropped_total{reason=scanner}"] == 1 && got["waihu_sip_edge_dropped_total{reason=banned}"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a scanner's three OPTIONS: %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ua.Unban(mustAddr("127.0.0.1")) {
		t.Fatal("127.0.0.1 was not banned")
	}
	if got := gathered(t, reg); got["waihu_sip_banned"] != 0 || got["waihu_sip_bans_total"] != 1 {
		t.Errorf("after unban: banned gauge %v, bans total %v", got["waihu_sip_banned"], got["waihu_sip_bans_total"])
	}
}

// TestServeGivesSIPTLSAndSoftphoneEachTheirCertificateAndEdgeMetrics runs
// a whole node with sip.tls and --tls-cert/--ws: the tls listener keeps
// sip.tls.cert (for trunks, which dial an IP and send no name), the
// softphone's name gets --tls-cert on both listeners, and /metrics shows
// the edge and the registrar.
func TestServeGivesSIPTLSAndSoftphoneEachTheirCertificateAndEdgeMetrics(t *testing.T) {
	dir := t.TempDir()
	sipCert, sipKey := writeTestCert(t, dir, "sip", "sip.waihu.test")
	phoneCert, phoneKey := writeTestCert(t, dir, "phone", "phone.waihu.test")
	cfg := defaultConfig()
	off := false
	cfg.Bot = BotConfig{Enabled: &off}
	cfg.Data = filepath.Join(dir, "data")
	cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
	cfg.SIP.TLS = SIPTLSConfig{Cert: sipCert, Key: sipKey}
	cfg.SIP.Registrar = &RegistrarConfig{Extensions: []ExtensionConfig{{User: "1001", Password: "pw-1001"}}}
	cfg.RTP.BindIP = "127.0.0.1"
	cfg.RTP.PortMin, cfg.RTP.PortMax = 38000, 38999
	cfg.HTTP.Listen = "127.0.0.1:0"
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ph := phoneFlags{ws: "127.0.0.1:0", tlsCert: phoneCert, tlsKey: phoneKey}
	n, err := startNode(context.Background(), cfg, ph, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	ua := n.srv.ua
	cases := []struct {
		network, sni, want string
	}{
		{"tls", "", "sip"},
		{"tls", "sip.waihu.test", "sip"},
		{"tls", "phone.waihu.test", "phone"},
		{"wss", "phone.waihu.test", "phone"},
	}
	for _, c := range cases {
		conn, err := tls.Dial("tcp", ua.Addr(c.network).String(), &tls.Config{ServerName: c.sni, InsecureSkipVerify: true}) //nolint:gosec // reads the served certificate only
		if err != nil {
			t.Fatalf("%s: %v", c.network, err)
		}
		if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != c.want {
			t.Errorf("%s listener, SNI %q: served %q, want %q", c.network, c.sni, got, c.want)
		}
		conn.Close()
	}

	raw, err := os.ReadFile(filepath.Join(cfg.Data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", n.control.url("/metrics"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(raw)))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test's self-signed HTTPS
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{`waihu_sip_edge_dropped_total{reason="banned"} 0`, "waihu_sip_banned 0",
		"waihu_sip_bans_total 0", "waihu_sip_registered_extensions 0", "waihu_sip_edge_admitted_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}
