package sip

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
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testPKI is a throwaway CA and one server certificate it signed, made
// fresh for each test: no private key is ever committed.
type testPKI struct {
	Roots           *x509.CertPool
	CAPEM           []byte
	Cert            tls.Certificate
	CertPEM, KeyPEM []byte
}

// newTestPKI makes an ECDSA CA and a leaf for 127.0.0.1 and the given DNS
// names, valid for server and client authentication.
func newTestPKI(t testing.TB, dnsNames ...string) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "waihu test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    dnsNames,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{Roots: x509.NewCertPool()}
	p.Roots.AddCert(ca)
	p.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	p.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if p.Cert, err = tls.X509KeyPair(p.CertPEM, p.KeyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverTLS is a Config.TLS serving p's certificate.
func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Cert}}
}

// writeFiles puts the PEMs in dir as cert.pem, key.pem and ca.pem.
func (p *testPKI) writeFiles(t testing.TB, dir string) TLSFiles {
	t.Helper()
	f := TLSFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), CA: filepath.Join(dir, "ca.pem")}
	for path, data := range map[string][]byte{f.Cert: p.CertPEM, f.Key: p.KeyPEM, f.CA: p.CAPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

var tlsListen = []Listener{{Network: "tls", Addr: "127.0.0.1:0"}}

// tlsPair starts a callee listening on TLS with pki's certificate and a
// caller whose trunk "callee" dials it over TLS trusting pki's CA; trunk
// adjusts the caller's trunk.
func tlsPair(t testing.TB, pki *testPKI, calleeCfg, callerCfg Config, trunk func(*Trunk), h func(context.Context, *Incoming)) (caller, callee *UA) {
	t.Helper()
	calleeCfg.Listen, calleeCfg.TLS = tlsListen, pki.serverTLS()
	if calleeCfg.TLSRootCAs == nil {
		// The callee's BYE goes to the caller's Contact over a new TLS
		// connection, so it verifies the caller's certificate.
		calleeCfg.TLSRootCAs = pki.Roots
	}
	if calleeCfg.Logger == nil {
		calleeCfg.Logger = testLogger(t).With("ua", "callee")
	}
	callee = startUAWith(t, calleeCfg, h)
	tr := Trunk{Name: "callee", Address: callee.Addr("tls").String(), Transport: "tls", Username: "waihu"}
	if trunk != nil {
		trunk(&tr)
	}
	callerCfg.Listen, callerCfg.TLS = tlsListen, pki.serverTLS()
	if callerCfg.TLSRootCAs == nil {
		callerCfg.TLSRootCAs = pki.Roots
	}
	callerCfg.Trunks = append(callerCfg.Trunks, tr)
	if callerCfg.Logger == nil {
		callerCfg.Logger = testLogger(t).With("ua", "caller")
	}
	caller = startUA(t, callerCfg)
	return caller, callee
}

// answerAll answers every call on a fresh fake leg and reports the
// Incoming and the answered Call.
func answerAll(t testing.TB, legs func() MediaLeg) (func(context.Context, *Incoming), <-chan *Incoming, <-chan *Call) {
	ins := make(chan *Incoming, 4)
	calls := make(chan *Call, 4)
	return func(ctx context.Context, in *Incoming) {
		ins <- in
		c, err := in.Answer(ctx, legs())
		if err != nil {
			return
		}
		calls <- c
		<-c.Done()
	}, ins, calls
}

func TestTLSTrunkCallsInBothDirections(t *testing.T) {
	pki := newTestPKI(t)
	h, ins, calls := answerAll(t, func() MediaLeg { return newFakeLeg(31000) })
	caller, callee := tlsPair(t, pki, Config{}, Config{}, nil, h)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "13812345678", Media: newFakeLeg(30000), RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial over TLS: %v", err)
	}
	in := <-ins
	if via := in.Header("Via"); !strings.Contains(via, "SIP/2.0/TLS") {
		t.Errorf("INVITE Via %q: not sent over TLS", via)
	}
	if ct := in.Header("Contact"); !strings.Contains(ct, "transport=tls") {
		t.Errorf("caller Contact %q lacks transport=tls", ct)
	}
	in2 := <-calls
	// The callee hangs up: its BYE reaches the caller over TLS too.
	if err := in2.Hangup(ctx); err != nil {
		t.Fatalf("callee BYE over TLS: %v", err)
	}
	waitDone(t, c, 5*time.Second)
	if c.Reason() != HangupRemote {
		t.Errorf("caller saw %v, want remote hang-up", c.Reason())
	}
	_ = callee
}

func TestTLSTrunkCertificateIsVerified(t *testing.T) {
	named := newTestPKI(t, "localhost") // IP SAN 127.0.0.1 and DNS localhost
	ipOnly := newTestPKI(t)
	other := newTestPKI(t)
	byName := func(tr *Trunk) { tr.Address = strings.Replace(tr.Address, "127.0.0.1", "localhost", 1) }
	for _, tc := range []struct {
		name     string
		pki      *testPKI
		roots    *x509.CertPool
		insecure bool
		trunk    func(*Trunk)
		wantOK   bool
	}{
		{"trusted CA, trunk by IP, IP SAN", ipOnly, ipOnly.Roots, false, nil, true},
		{"trusted CA, trunk by name in the certificate", named, named.Roots, false, byName, true},
		{"unknown CA is refused", ipOnly, other.Roots, false, nil, false},
		{"system roots do not know a private CA", ipOnly, nil, false, nil, false},
		{"trunk name not in the certificate is refused", ipOnly, ipOnly.Roots, false, byName, false},
		{"insecure skip verify accepts an unknown CA", ipOnly, other.Roots, true, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, _ := answerAll(t, func() MediaLeg { return newFakeLeg(31000) })
			cfg := Config{TLSRootCAs: tc.roots, TLSInsecureSkipVerify: tc.insecure}
			if tc.roots == nil {
				cfg.TLSRootCAs = x509.NewCertPool() // empty: trusts nothing, like system roots for a private CA
			}
			caller, _ := tlsPair(t, tc.pki, Config{}, cfg, tc.trunk, h)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "100", Media: newFakeLeg(30000), RingTimeout: 3 * time.Second})
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				_ = c.Hangup(ctx)
				return
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Kind != FailureUnreachable {
				t.Fatalf("Dial = %v, want an unreachable CallError", err)
			}
			if !strings.Contains(err.Error(), "certificate") {
				t.Errorf("error %q does not say the certificate was refused", err)
			}
		})
	}
}

func TestTLSListenerNeedsACertificate(t *testing.T) {
	_, err := NewUA(Config{Listen: tlsListen, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "no TLS certificate") {
		t.Errorf("NewUA with a tls listener and no certificate: %v", err)
	}
}

func TestTLSTrunkWithoutTLSListenerIsReported(t *testing.T) {
	ua := startUA(t, Config{Trunks: []Trunk{{Name: "t", Address: "127.0.0.1:5999", Transport: "tls"}}})
	_, err := ua.Dial(context.Background(), DialRequest{Trunk: "t", To: "1", Media: newFakeLeg(30000)})
	if err == nil || !strings.Contains(err.Error(), "no tls listener") {
		t.Errorf("Dial on a tls trunk without a tls listener: %v", err)
	}
}

func TestLoadTLSFiles(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	f := pki.writeFiles(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, roots, err := LoadTLSFiles(f)
	if err != nil || srv == nil || len(srv.Certificates) != 1 || roots == nil {
		t.Fatalf("LoadTLSFiles(good) = %v, %v, %v", srv, roots, err)
	}
	if srv, roots, err := LoadTLSFiles(TLSFiles{}); err != nil || srv != nil || roots != nil {
		t.Errorf("LoadTLSFiles(empty) = %v, %v, %v; want all nil (system roots, no listener cert)", srv, roots, err)
	}
	for _, tc := range []struct {
		name string
		f    TLSFiles
		want string
	}{
		{"cert without key", TLSFiles{Cert: f.Cert}, "go together"},
		{"key is not a key", TLSFiles{Cert: f.Cert, Key: garbage}, "garbage.pem"},
		{"missing cert file", TLSFiles{Cert: filepath.Join(dir, "nope.pem"), Key: f.Key}, "nope.pem"},
		{"CA file without PEM", TLSFiles{CA: garbage}, "no PEM certificate"},
		{"missing CA file", TLSFiles{CA: filepath.Join(dir, "nope-ca.pem")}, "nope-ca.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadTLSFiles(tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadTLSFiles = %v, want error naming %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestTLSTrunkRegistersWithDigestAuth(t *testing.T) {
	pki := newTestPKI(t)
	registrar := &RegistrarConfig{Extensions: []Extension{{User: "10001", Password: "secret"}}}
	caller, callee := tlsPair(t, pki, Config{Registrar: registrar}, Config{}, func(tr *Trunk) {
		tr.Username, tr.Password, tr.Register, tr.RegisterExpiry = "10001", "secret", true, time.Minute
	}, func(context.Context, *Incoming) {})
	eventually(t, 10*time.Second, "registered over TLS", func() bool { return caller.Registration("callee").Status == Registered })
	if st := caller.Registration("callee"); st.Code != 200 {
		t.Errorf("registration %+v, want 200", st)
	}
	var binding, transport string
	for _, b := range callee.Lookup("sip:10001@127.0.0.1") {
		binding, transport = b.Contact, b.Transport
	}
	if !strings.Contains(binding, "transport=tls") || !strings.EqualFold(transport, "tls") {
		t.Errorf("registrar's binding %q came over %q: want a TLS REGISTER with a TLS contact", binding, transport)
	}
}

func TestInsecureSettingsAreWarnedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"srtp keys over udp", Config{Trunks: []Trunk{{Name: "t", Address: "127.0.0.1:5099", SRTP: SRTPOptional, AllowSDESWithoutTLS: true}}},
			`level=WARN msg="SRTP keys (SDES a=crypto) will be sent in clear text`},
		{"inbound srtp keys over udp", Config{SRTP: SRTPMandatory, AllowSDESWithoutTLS: true}, `level=WARN msg="SRTP keys (SDES a=crypto) of inbound calls`},
		{"unverified tls", Config{TLSInsecureSkipVerify: true}, `level=WARN msg="TLS certificates of SIP servers are NOT verified`},
		{"nothing insecure", Config{Trunks: []Trunk{{Name: "t", Address: "127.0.0.1:5099", Transport: "tls", SRTP: SRTPMandatory}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf strings.Builder
			tc.cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
			if _, err := NewUA(tc.cfg); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if strings.Contains(buf.String(), "level=WARN") {
					t.Errorf("unexpected warning:\n%s", buf.String())
				}
				return
			}
			if !strings.Contains(buf.String(), tc.want) {
				t.Errorf("log does not warn %q:\n%s", tc.want, buf.String())
			}
		})
	}
}

func TestTLSTrunkAnswersOptionsPing(t *testing.T) {
	pki := newTestPKI(t)
	caller, _ := tlsPair(t, pki, Config{}, Config{}, nil, func(context.Context, *Incoming) {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := caller.ping(ctx, caller.trunks["callee"])
	if err != nil || code != 200 {
		t.Fatalf("OPTIONS over TLS: %d %v", code, err)
	}
}

func TestManyTLSSRTPCallsLeakNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("50 calls: skipped in -short")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		pki := newTestPKI(t)
		calls := make(chan *Call, 8)
		callee, err := NewUA(Config{Listen: tlsListen, TLS: pki.serverTLS(), TLSRootCAs: pki.Roots, SRTP: SRTPMandatory, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		callee.OnCall(func(ctx context.Context, in *Incoming) {
			c, err := in.Answer(ctx, newSRTPLeg(40000))
			if err != nil {
				return
			}
			calls <- c
			<-c.Done()
		})
		if err := callee.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		caller, err := NewUA(Config{Listen: tlsListen, TLS: pki.serverTLS(), TLSRootCAs: pki.Roots, Logger: testLogger(t),
			Trunks: []Trunk{{Name: "callee", Address: callee.Addr("tls").String(), Transport: "tls", SRTP: SRTPMandatory, Username: "waihu"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := caller.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		for i := range 50 {
			c, err := caller.Dial(ctx, DialRequest{Trunk: "callee", To: "1001", Media: newSRTPLeg(30000)})
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			remote := <-calls
			if i%2 == 0 {
				err = c.Hangup(ctx)
			} else {
				err = remote.Hangup(ctx)
			}
			if err != nil {
				t.Fatalf("call %d hangup: %v", i, err)
			}
			waitDone(t, c, 10*time.Second)
			waitDone(t, remote, 10*time.Second)
		}
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancelClose()
		if err := caller.Close(closeCtx); err != nil {
			t.Errorf("close caller: %v", err)
		}
		if err := callee.Close(closeCtx); err != nil {
			t.Errorf("close callee: %v", err)
		}
	}()
}
