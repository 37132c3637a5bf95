package testpeer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIPVicious (Debian package sipvicious, binaries svmap, svwar, svcrack)
// is the scanner kit that finds SIP servers on the internet, enumerates
// their extensions and cracks their passwords. Tests run it against a
// server on loopback to prove what an attacker learns.

// ScanResult is one run of a SIPVicious tool.
type ScanResult struct {
	// Rows are the rows of the result table the tool prints (svmap: device
	// and user agent; svwar: extension and authentication; svcrack:
	// extension and password), header excluded.
	Rows [][]string
	// Output is everything the tool printed, for failure messages.
	Output string
	// Elapsed is how long the run took.
	Elapsed time.Duration
}

// Column returns column i of every row.
func (r ScanResult) Column(i int) []string {
	var out []string
	for _, row := range r.Rows {
		if i < len(row) {
			out = append(out, row[i])
		}
	}
	return out
}

// Svmap looks for a SIP device at target (an OPTIONS ping by default).
func Svmap(ctx context.Context, t testing.TB, target netip.AddrPort, args ...string) ScanResult {
	t.Helper()
	args = append(args, "-p", strconv.Itoa(int(target.Port())), target.Addr().String())
	return runSipvicious(ctx, t, "svmap", args...)
}

// Svwar enumerates the extensions in extensions (e.g. "1000-1010") at
// target with method (REGISTER, INVITE or OPTIONS). force keeps scanning
// when an unknown extension is challenged, as a determined attacker does.
func Svwar(ctx context.Context, t testing.TB, target netip.AddrPort, method, extensions string, args ...string) ScanResult {
	t.Helper()
	args = append(args, "-m", method, "-e", extensions, "-p", strconv.Itoa(int(target.Port())), target.Addr().String())
	return runSipvicious(ctx, t, "svwar", args...)
}

// Svcrack tries each of passwords for user at target (REGISTER with
// digest auth).
func Svcrack(ctx context.Context, t testing.TB, target netip.AddrPort, user string, passwords []string, args ...string) ScanResult {
	t.Helper()
	dict := filepath.Join(t.TempDir(), "passwords.txt")
	if err := os.WriteFile(dict, []byte(strings.Join(passwords, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, "-u", user, "-d", dict, "-p", strconv.Itoa(int(target.Port())), target.Addr().String())
	return runSipvicious(ctx, t, "svcrack", args...)
}

// runSipvicious runs one tool until it exits or ctx ends (then it is
// killed and the test fails: every run must be bounded by the tool's own
// options). Each run binds 127.0.0.1 on its own free port: the tools
// default to 5060, where one run would hear the answers a server still
// retransmits to the previous one (a 401 to an INVITE is repeated until
// ACKed, and svwar sends no ACK) and count them as its own. HOME is a
// temporary directory, so no session is saved.
func runSipvicious(ctx context.Context, t testing.TB, tool string, args ...string) ScanResult {
	t.Helper()
	path := Need(t, tool)
	args = append([]string{"-b", "127.0.0.1", "-P", strconv.Itoa(FreeUDPPort(t))}, args...)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	res := ScanResult{Output: string(out), Elapsed: time.Since(start)}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("%s %s: %v (after %s)\n%s", tool, strings.Join(args, " "), err, res.Elapsed.Round(time.Millisecond), out)
	}
	res.Rows = parseTable(res.Output)
	return res
}

// parseTable reads the rows of the ASCII table the tools print:
//
//	+----------------+---------+
//	| Extension      | Password|
//	+================+=========+
//	| 1001           | secret  |
//	+----------------+---------+
func parseTable(out string) [][]string {
	var rows [][]string
	header := true
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "+="):
			header = false
		case strings.HasPrefix(line, "|") && strings.HasSuffix(line, "|"):
			if header {
				continue
			}
			var row []string
			for _, cell := range strings.Split(strings.Trim(line, "|"), "|") {
				row = append(row, strings.TrimSpace(cell))
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// String summarises a result for test logs.
func (r ScanResult) String() string {
	return fmt.Sprintf("%d rows in %s: %v", len(r.Rows), r.Elapsed.Round(time.Millisecond), r.Rows)
}
