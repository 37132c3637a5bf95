//go:build interop

package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/testpeer"
)

// isRegistration matches waihu's registration log lines for a trunk. The
// contract names the message "registration"; the sip package logs
// "registration state changed" and "registration failed", so the prefix
// is what is matched, with the trunk and state attributes.
func isRegistration(trunk string) func(logLine) bool {
	return func(l logLine) bool {
		return strings.HasPrefix(l.str("msg"), "registration") && l.str("trunk") == trunk && l.str("state") != ""
	}
}

func stateIs(states ...string) func([]logLine) bool {
	return func(ls []logLine) bool {
		for _, l := range ls {
			for _, s := range states {
				if l.str("state") == s {
					return true
				}
			}
		}
		return false
	}
}

// TestTrunkRegistersWithKamailio runs `waihu serve` with a trunk that
// registers to a Kamailio registrar with digest auth: the right password
// gives the state "registered" and a binding in Kamailio; a wrong one (403)
// gives the state "failed" naming the code, and waihu backs off instead of
// retrying in a tight loop.
func TestTrunkRegistersWithKamailio(t *testing.T) {
	const window = 12 * time.Second
	tests := []struct {
		name     string
		password string
		want     string
	}{
		{name: "right password registers", password: "secret", want: "registered"},
		{name: "wrong password fails and backs off", password: "wrong", want: "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			k := testpeer.StartKamailio(ctx, t, testpeer.KamailioConfig{Username: "alice", Password: "secret"})
			srv := startServer(ctx, t, serverOptions{extraYAML: fmt.Sprintf(`trunks:
  - name: kam
    address: %q
    transport: udp
    username: alice
    password: %q
    register: true
`, k.Addr(), tc.password)})
			regs, err := srv.waitLogs(ctx, isRegistration("kam"), stateIs("registered", "failed"))
			if err != nil {
				t.Fatalf("no registration outcome logged: %v\n%s\n%s", err, srv.Output(), k.Output())
			}
			last := regs[len(regs)-1]
			if got := last.str("state"); got != tc.want {
				t.Fatalf("registration state %q, want %q: %v\n%s", got, tc.want, last, k.Output())
			}
			switch tc.want {
			case "registered":
				testpeer.Eventually(ctx, 2*time.Second, func() bool { return len(k.Registered()) > 0 })
				if got := k.Registered(); len(got) != 1 || !strings.Contains(got[0], "alice@") {
					t.Fatalf("kamailio's bindings %v, want one for alice\n%s", got, k.Output())
				}
			case "failed":
				if code, _ := last["code"].(float64); code != 403 {
					t.Errorf("failed registration logged code %v, want Kamailio's 403: %v", last["code"], last)
				}
				first := len(k.Requests("REGISTER"))
				time.Sleep(window)
				n := len(k.Requests("REGISTER")) - first
				// Two REGISTERs (challenge, answer) per attempt; a back-off
				// starting at seconds allows a few attempts in the window,
				// a tight loop hundreds.
				if n > 8 {
					t.Fatalf("%d REGISTERs in %v after the failure: no back-off\n%s", n, window, strings.Join(k.Requests("REGISTER"), "\n"))
				}
				t.Logf("%d REGISTERs in the %v after the first failure", n, window)
				if len(k.Registered()) != 0 {
					t.Fatalf("kamailio saved a binding for a wrong password: %v", k.Registered())
				}
			}
			srv.stop(t)
		})
	}
}
