package webhook

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Settings is the webhooks: section of waihu.yaml, for cmd/waihu's Config to
// embed. Every field may be left out; docs/webhooks.md shows an example.
type Settings struct {
	// Endpoints are the receivers; none disables webhooks.
	Endpoints []EndpointSettings `yaml:"endpoints"`
	// PublicURL is the address CRMs reach waihu's HTTP API at, the base of
	// recording links (https://waihu.example.com). Empty leaves links out.
	PublicURL string `yaml:"public_url"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency caps requests in flight. Default 4.
	Concurrency int `yaml:"concurrency"`
	// GiveUpAfter is how long after the first attempt retries stop. Default 24h.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
	// Retention keeps ended deliveries for operators. Default 720h (30 days).
	Retention time.Duration `yaml:"retention"`
}

// EndpointSettings is one receiver in the file. The secret comes from exactly
// one of Secret, SecretFile and SecretEnv.
type EndpointSettings struct {
	URL string `yaml:"url"`
	// Secret is the signing secret inline: "whsec_" + base64, or any string
	// of at least 16 bytes.
	Secret string `yaml:"secret"`
	// SecretFile is a file holding the secret (surrounding white space is
	// ignored), for secrets mounted by an orchestrator.
	SecretFile string `yaml:"secret_file"`
	// SecretEnv names an environment variable holding the secret.
	SecretEnv string `yaml:"secret_env"`
	// Events filters the event types sent; empty sends all.
	Events []string `yaml:"events"`
}

// Config resolves the secrets and returns base with the section's endpoints
// and every value the file sets (a key left out keeps base's value); base
// carries what the file cannot (Store, Logger, Client, Node). An error names
// the endpoint and what is wrong, never the secret.
func (s Settings) Config(base Config) (Config, error) {
	cfg := base
	set(&cfg.PublicURL, s.PublicURL)
	set(&cfg.Timeout, s.Timeout)
	set(&cfg.Concurrency, s.Concurrency)
	set(&cfg.GiveUpAfter, s.GiveUpAfter)
	set(&cfg.Retention, s.Retention)
	cfg.Endpoints = nil
	for i, e := range s.Endpoints {
		what := fmt.Sprintf("webhooks: endpoint %d (%s)", i+1, redact(e.URL))
		if e.URL == "" {
			return Config{}, fmt.Errorf("webhooks: endpoint %d: url is required", i+1)
		}
		secret, err := e.secret()
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", what, err)
		}
		cfg.Endpoints = append(cfg.Endpoints, Endpoint{URL: e.URL, Secret: secret, Events: e.Events})
	}
	return cfg, nil
}

func (e EndpointSettings) secret() (string, error) {
	set := 0
	for _, v := range []string{e.Secret, e.SecretFile, e.SecretEnv} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return "", errors.New("set exactly one of secret, secret_file and secret_env")
	}
	switch {
	case e.SecretFile != "":
		b, err := os.ReadFile(e.SecretFile)
		if err != nil {
			return "", fmt.Errorf("read secret_file: %w", err)
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("secret_file %s is empty", e.SecretFile)
	case e.SecretEnv != "":
		if v := strings.TrimSpace(os.Getenv(e.SecretEnv)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("environment variable %s (secret_env) is unset or empty", e.SecretEnv)
	}
	return e.Secret, nil
}

// set overwrites *dst with v unless v is the zero value (the key was left out).
func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}
