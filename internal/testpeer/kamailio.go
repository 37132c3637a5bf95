package testpeer

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

//go:embed testdata/kamailio.cfg
var kamailioCfg []byte

// KamailioConfig is the account a Kamailio registrar accepts.
type KamailioConfig struct {
	// Username and Password of the one account; defaults "alice", "secret".
	Username, Password string
	// Port for UDP and TCP on 127.0.0.1; 0 picks a free one.
	Port int
}

// Kamailio is a running Kamailio registrar with digest auth (401 with
// qop=auth, 403 for a wrong password), no database.
type Kamailio struct {
	*Proc
	Config KamailioConfig
}

// StartKamailio starts Kamailio with its main process in the foreground
// (-DD: the creator does not daemonize; it forks its workers and takes them
// down when its PID gets SIGTERM; -E: log to stderr), with working and
// runtime directories in the test's temp dir, and waits until it answers
// OPTIONS.
func StartKamailio(ctx context.Context, t testing.TB, cfg KamailioConfig) *Kamailio {
	t.Helper()
	bin := Need(t, "kamailio")
	if cfg.Username == "" {
		cfg.Username = "alice"
	}
	if cfg.Password == "" {
		cfg.Password = "secret"
	}
	if cfg.Port == 0 {
		cfg.Port = FreeSIPPort(t)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, kamailioCfg, 0o644); err != nil {
		t.Fatal(err)
	}
	modules, _ := filepath.Glob("/usr/lib/*/kamailio/modules")
	if len(modules) == 0 {
		modules, _ = filepath.Glob("/usr/lib*/kamailio/modules")
	}
	if len(modules) == 0 {
		t.Fatal("kamailio is installed but its module directory (/usr/lib/*/kamailio/modules) is not found")
	}
	listen := fmt.Sprintf("127.0.0.1:%d", cfg.Port)
	k := &Kamailio{Config: cfg}
	k.Proc = Start(ctx, t, dir, bin,
		"-f", cfgPath,
		"-L", modules[0],
		"-DD", "-E",
		"-w", dir, "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"),
		"-m", "64", "-M", "8",
		"-l", "udp:"+listen, "-l", "tcp:"+listen,
		"-A", fmt.Sprintf("TESTUSER=%q", cfg.Username),
		"-A", fmt.Sprintf("TESTPASS=%q", cfg.Password),
		"-A", `TESTREALM="127.0.0.1"`,
	)
	ready, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := WaitSIP(ready, listen); err != nil {
		t.Fatalf("kamailio: %v\n%s", err, k.Output())
	}
	return k
}

// Addr is the host:port Kamailio listens on (UDP and TCP).
func (k *Kamailio) Addr() string { return fmt.Sprintf("127.0.0.1:%d", k.Config.Port) }

// Requests returns the logged request lines ("METHOD from ip:port
// user=… call-id=… cseq=…") of the given method, in arrival order.
func (k *Kamailio) Requests(method string) []string {
	data, _ := os.ReadFile(k.Stderr)
	var out []string
	prefix := "testpeer: " + method + " from "
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, prefix); i >= 0 {
			out = append(out, line[i+len("testpeer: "):])
		}
	}
	return out
}

var registeredRE = regexp.MustCompile(`testpeer: registered (\S+)`)

// Registered returns the address-of-record URIs saved to the location
// table so far.
func (k *Kamailio) Registered() []string {
	data, _ := os.ReadFile(k.Stderr)
	var out []string
	for _, m := range registeredRE.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}
