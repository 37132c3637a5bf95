package webhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/waihu/waihu/store"
)

// decode reads a webhooks: section as cmd/waihu's loader does: unknown keys
// are errors.
func decode(t *testing.T, doc string) (Settings, error) {
	t.Helper()
	var file struct {
		Webhooks Settings `yaml:"webhooks"`
	}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	err := dec.Decode(&file)
	return file.Webhooks, err
}

func TestSettingsResolveEverySecretSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "crm.secret")
	if err := os.WriteFile(file, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WAIHU_TEST_HOOK_SECRET", "an-env-secret-of-enough-bytes")
	s, err := decode(t, `
webhooks:
  public_url: https://waihu.example.com
  timeout: 5s
  concurrency: 2
  give_up_after: 12h
  retention: 168h
  endpoints:
    - url: https://crm.example.com/hooks/waihu
      secret: `+testSecret+`
    - url: https://bi.example.com/in
      secret_file: `+file+`
      events: [campaign.finished]
    - url: https://ops.example.com/in
      secret_env: WAIHU_TEST_HOOK_SECRET
`)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, store.Config{DataDir: t.TempDir()})
	cfg, err := s.Config(Config{Store: st, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != st || cfg.Node != "n1" || cfg.PublicURL != "https://waihu.example.com" || cfg.Timeout != 5*time.Second ||
		cfg.Concurrency != 2 || cfg.GiveUpAfter != 12*time.Hour || cfg.Retention != 168*time.Hour {
		t.Fatalf("config %+v", cfg)
	}
	want := []Endpoint{
		{URL: "https://crm.example.com/hooks/waihu", Secret: testSecret},
		{URL: "https://bi.example.com/in", Secret: testSecret, Events: []string{TypeCampaignFinished}},
		{URL: "https://ops.example.com/in", Secret: "an-env-secret-of-enough-bytes"},
	}
	if len(cfg.Endpoints) != len(want) {
		t.Fatalf("endpoints %+v", cfg.Endpoints)
	}
	for i, e := range cfg.Endpoints {
		if e.URL != want[i].URL || e.Secret != want[i].Secret || strings.Join(e.Events, ",") != strings.Join(want[i].Events, ",") {
			t.Fatalf("endpoint %d: %+v, want %+v", i+1, e, want[i])
		}
	}
	if _, err := New(cfg); err != nil {
		t.Fatalf("New from the settings: %v", err)
	}
	// Keys left out keep what the program set.
	empty, err := decode(t, "webhooks: {}\n")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := empty.Config(Config{Timeout: 3 * time.Second, PublicURL: "http://127.0.0.1:8080"})
	if err != nil || kept.Timeout != 3*time.Second || kept.PublicURL != "http://127.0.0.1:8080" || len(kept.Endpoints) != 0 {
		t.Fatalf("empty section: %+v, %v", kept, err)
	}
}

func TestSettingsNameTheEndpointAndNeverTheSecret(t *testing.T) {
	t.Setenv("WAIHU_TEST_EMPTY", "")
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"no secret", "endpoints: [{url: 'https://crm.example.com/x?token=t0ps3cret'}]", "endpoint 1 (https://crm.example.com/x): set exactly one"},
		{"two secrets", "endpoints: [{url: 'https://a.example/', secret: 's3cr3t-value-0123456789', secret_env: X}]", "set exactly one"},
		{"unreadable file", "endpoints: [{url: 'https://a.example/', secret_file: '" + missing + "'}]", "read secret_file"},
		{"unset variable", "endpoints: [{url: 'https://a.example/', secret_env: WAIHU_TEST_EMPTY}]", "WAIHU_TEST_EMPTY"},
		{"no url", "endpoints: [{secret: 's3cr3t-value-0123456789'}]", "url is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := decode(t, "webhooks:\n  "+tc.doc+"\n")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Config(Config{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			for _, secret := range []string{"s3cr3t-value", "t0ps3cret"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a secret: %v", err)
				}
			}
		})
	}
	if _, err := decode(t, "webhooks:\n  endpoint: []\n"); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
}
