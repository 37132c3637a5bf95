package testpeer

import (
	"os"
	"os/exec"
	"testing"
)

// Need skips t when program is not on PATH, or fails it when the environment
// variable CI is set, because CI installs every peer and a silent skip there
// would hide a broken setup.
func Need(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI but not found: %v", program, err)
		}
		t.Skipf("%s not installed (apt-get install sip-tester baresip kamailio espeak-ng sox); skipping", program)
	}
	return path
}
