package sip

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{Trunks: []Trunk{{Name: "t", Address: "192.0.2.1"}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listen) != 2 || cfg.Listen[0] != (Listener{"udp", "0.0.0.0:5060"}) || cfg.Listen[1] != (Listener{"tcp", "0.0.0.0:5060"}) {
		t.Errorf("Listen = %v", cfg.Listen)
	}
	if cfg.SessionExpires != 1800*time.Second || cfg.MinSE != 90*time.Second || cfg.MediaTimeout != 30*time.Second ||
		cfg.RingTimeout != 60*time.Second || cfg.UserAgent != "waihu" || cfg.MaxInbound != DefaultMaxInbound || cfg.ShowNumbers {
		t.Errorf("defaults: %+v", cfg)
	}
	tr := cfg.Trunks[0]
	if tr.Transport != "udp" || tr.RegisterExpiry != time.Hour || strings.Join(tr.Codecs, ",") != "PCMU,PCMA" || trunkPort(&tr) != 5060 {
		t.Errorf("trunk defaults: %+v", tr)
	}
}

func TestConfigRejectsMistakes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"tls listener without certificate", Config{Listen: []Listener{{Network: "tls", Addr: ":5061"}}}, "no TLS certificate"},
		{"unknown listener network", Config{Listen: []Listener{{Network: "sctp", Addr: ":5061"}}}, "not supported"},
		{"trunk without name", Config{Trunks: []Trunk{{Address: "x"}}}, "empty name"},
		{"duplicate trunk", Config{Trunks: []Trunk{{Name: "a", Address: "x"}, {Name: "a", Address: "y"}}}, "duplicate"},
		{"trunk without address", Config{Trunks: []Trunk{{Name: "a"}}}, "empty address"},
		{"bad trunk transport", Config{Trunks: []Trunk{{Name: "a", Address: "x", Transport: "sctp"}}}, "transport"},
		{"unknown codec", Config{Trunks: []Trunk{{Name: "a", Address: "x", Codecs: []string{"G729"}}}}, "codec"},
		{"session expires below min-se", Config{SessionExpires: 60 * time.Second}, "min-se"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewUA(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
