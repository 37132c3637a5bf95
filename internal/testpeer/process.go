package testpeer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a peer gets to exit after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// Proc is a peer process started by Start: its output goes to files in a
// test's temporary directory, and it is stopped by its PID, never by name.
type Proc struct {
	// Name is the program's base name, for messages.
	Name string
	// Stdout and Stderr are the paths of the files holding its output.
	Stdout, Stderr string

	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	err  error
}

// Start runs program with args in dir, with output to dir/<name>.stdout and
// .stderr. ctx bounds its life: when ctx ends the process gets SIGTERM, then
// SIGKILL after a grace period. The test's cleanup stops it too, so no peer
// outlives its test.
func Start(ctx context.Context, t testing.TB, dir, program string, args ...string) *Proc {
	t.Helper()
	p, err := start(ctx, dir, program, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func start(ctx context.Context, dir, program string, args ...string) (*Proc, error) {
	name := filepath.Base(program)
	p := &Proc{
		Name:   name,
		Stdout: filepath.Join(dir, name+".stdout"),
		Stderr: filepath.Join(dir, name+".stderr"),
		done:   make(chan struct{}),
	}
	stdout, err := os.Create(p.Stdout)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stderr, err := os.Create(p.Stderr)
	if err != nil {
		stdout.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		return nil, fmt.Errorf("start %s %s: %w", name, strings.Join(args, " "), err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit on its own, or for ctx to end (then it
// stops the process). It returns the exit code (-1 if killed by a signal).
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Stop()
		return p.exitCode(), fmt.Errorf("%s (pid %d) still running at deadline: %w", p.Name, p.PID(), ctx.Err())
	}
	return p.exitCode(), nil
}

func (p *Proc) exitCode() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// Signal sends sig to the process by its PID.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	return syscall.Kill(p.PID(), sig)
}

// Stop sends SIGTERM, waits up to a grace period, then SIGKILLs, and
// returns the exit code. Safe to call more than once.
func (p *Proc) Stop() int {
	p.once.Do(func() {
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			p.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	<-p.done
	return p.exitCode()
}

// Output returns the process's stderr and stdout so far, for a failure message.
func (p *Proc) Output() string {
	var b strings.Builder
	for _, f := range []string{p.Stderr, p.Stdout} {
		data, _ := os.ReadFile(f)
		if len(data) > 0 {
			fmt.Fprintf(&b, "--- %s ---\n%s\n", filepath.Base(f), tail(data, 8000))
		}
	}
	return b.String()
}

// tail keeps the last n bytes of a log: the end is where a failure shows.
func tail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return "…" + string(b[len(b)-n:])
}

// Eventually polls cond every 50 ms until it holds or d (or ctx) runs out,
// for facts that a peer logs a moment after it answers (Kamailio writes its
// log line after sending the reply).
func Eventually(ctx context.Context, d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
