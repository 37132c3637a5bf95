package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create databases
)

// Server is a throwaway PostgreSQL cluster: initdb into a temporary directory,
// listening on a free 127.0.0.1 port with its socket in the same directory,
// stopped by pg_ctl stop -m immediate.
type Server struct {
	bin, dir, port, runAs string
	dbs                   int
	mu                    sync.Mutex
}

var (
	shared    sync.Once
	sharedSrv *Server
	sharedErr error
)

// Main runs a package's tests and then stops the shared server that DSN started,
// if any. Call it from TestMain: func TestMain(m *testing.M) { storetest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if sharedSrv != nil {
		sharedSrv.Stop()
	}
	os.Exit(code)
}

// pgBinDir finds initdb and pg_ctl: PATH first, then Debian's versioned directories.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in PATH or /usr/lib/postgresql/*/bin: install Debian package postgresql")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// run runs a PostgreSQL program, as the postgres user when we are root:
// PostgreSQL refuses to run as root.
func (p *Server) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(p.bin, prog)
	var cmd *exec.Cmd
	if p.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", prog, args, err, out)
	}
	return nil
}

// Start initdbs and starts a new server. PostgreSQL refuses to run as root, so
// as root it runs as the postgres user (Debian's package creates it).
func Start() (*Server, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	p := &Server{bin: bin}
	dir, err := os.MkdirTemp("", "waihu-store-pg-")
	if err != nil {
		return nil, err
	}
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		p.runAs = "postgres"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := filepath.Join(dir, "data")
	if err := p.run(ctx, "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return nil, err
	}
	for try := 0; try < 3; try++ {
		if p.port, err = freePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", p.port, dir)
		if err = p.run(ctx, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err == nil {
			return p, nil
		}
	}
	return nil, err
}

// Stop stops the server at once and deletes its files.
func (p *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.run(ctx, "pg_ctl", "-D", filepath.Join(p.dir, "data"), "stop", "-m", "immediate")
	os.RemoveAll(p.dir)
}

// NewDatabase creates a fresh empty database and returns its DSN.
func (p *Server) NewDatabase(t testing.TB) string {
	p.mu.Lock()
	p.dbs++
	name := fmt.Sprintf("t%d", p.dbs)
	p.mu.Unlock()
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", p.port)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/%s?sslmode=disable", p.port, name)
}

// DSN starts the package's shared throwaway server on first use (Main stops it)
// and returns the DSN of a new empty database. Without PostgreSQL's binaries it
// skips the test, or fails it when the environment variable CI is set.
func DSN(t testing.TB) string {
	t.Helper()
	shared.Do(func() { sharedSrv, sharedErr = Start() })
	if sharedErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI (Debian package postgresql): %v", sharedErr)
		}
		t.Skipf("skipping PostgreSQL: %v", sharedErr)
	}
	return sharedSrv.NewDatabase(t)
}
