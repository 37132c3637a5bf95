package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestServingLineNamesEachSIPListener checks that the "waihu serving" line
// names the tls listener's bound address when sip.tls has a certificate, and
// no tls address without one.
func TestServingLineNamesEachSIPListener(t *testing.T) {
	for _, tc := range []struct {
		name    string
		withTLS bool
	}{
		{"udp only", false},
		{"udp and tls", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := defaultConfig()
			off := false
			cfg.Bot = BotConfig{Enabled: &off}
			cfg.Data = filepath.Join(dir, "data")
			cfg.SIP.Listen, cfg.SIP.Transports = "127.0.0.1:0", []string{"udp"}
			if tc.withTLS {
				cert, key := writeTestCert(t, dir, "sip", "sip.waihu.test")
				cfg.SIP.TLS = SIPTLSConfig{Cert: cert, Key: key, Listen: "127.0.0.1:0"}
			}
			cfg.RTP.BindIP = "127.0.0.1"
			cfg.RTP.PortMin, cfg.RTP.PortMax = 37000, 37099
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			srv, err := newServer(cfg, slog.New(slog.NewTextHandler(&out, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer srv.close()
			var line string
			for l := range strings.Lines(out.String()) {
				if strings.Contains(l, `msg="waihu serving"`) {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no serving line in:\n%s", out.String())
			}
			tlsAddr := srv.ua.Addr("tls")
			if tc.withTLS != tlsAddr.IsValid() {
				t.Fatalf("tls listener bound = %v, want %v", tlsAddr.IsValid(), tc.withTLS)
			}
			if want := "sip_tls=" + tlsAddr.String(); tc.withTLS && !strings.Contains(line, want) {
				t.Errorf("serving line %q lacks %s", line, want)
			}
			if !tc.withTLS && strings.Contains(line, "sip_tls") {
				t.Errorf("serving line %q names a tls listener there is not", line)
			}
			if want := "sip_udp=" + srv.ua.Addr("udp").String(); !strings.Contains(line, want) {
				t.Errorf("serving line %q lacks %s", line, want)
			}
		})
	}
}
