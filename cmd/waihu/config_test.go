package main

import (
	"strings"
	"testing"
	"time"
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
