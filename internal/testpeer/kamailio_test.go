package testpeer

import (
	"context"
	"testing"
	"time"
)

// TestKamailioRegistrarChallengesThenAccepts proves the registrar config
// against sipp's register scenario: 401 then 200 with the right password,
// and a failed call (403 after the challenge) with a wrong one.
func TestKamailioRegistrarChallengesThenAccepts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	k := StartKamailio(ctx, t, KamailioConfig{})
	tests := []struct {
		name       string
		password   string
		wantOK     bool
		registered int
	}{
		{name: "right password registers", password: "secret", wantOK: true, registered: 1},
		{name: "wrong password is refused", password: "wrong", wantOK: false, registered: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, res := RunSipp(ctx, t, SippConfig{
				Scenario: ScenarioRegister, Remote: k.Addr(), User: "alice",
				Username: "alice", Password: tc.password, Timeout: 10 * time.Second,
			})
			if ok := res.ExitCode == 0 && res.Successful == 1; ok != tc.wantOK {
				t.Fatalf("register ok=%v (exit %d), want %v\n%s\n%s", ok, res.ExitCode, tc.wantOK, s.Diagnostics(), k.Output())
			}
			Eventually(ctx, 2*time.Second, func() bool { return len(k.Registered()) >= tc.registered })
			if got := len(k.Registered()); got != tc.registered {
				t.Fatalf("kamailio saved %d registrations, want %d\n%s", got, tc.registered, k.Output())
			}
		})
	}
	Eventually(ctx, 2*time.Second, func() bool { return len(k.Requests("REGISTER")) >= 4 })
	if n := len(k.Requests("REGISTER")); n != 4 {
		t.Fatalf("kamailio logged %d REGISTERs, want 4 (two per attempt)\n%s", n, k.Output())
	}
}
