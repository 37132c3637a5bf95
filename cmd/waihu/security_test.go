package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waihu/waihu/internal/vault"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

// cliStep is one waihu command line and what it must print or fail with.
type cliStep struct {
	args    []string
	want    string
	wantErr string
}

// runSteps runs the steps against one data directory in order and returns
// what each printed.
func runSteps(t *testing.T, data string, steps []cliStep) []string {
	t.Helper()
	var outs []string
	for _, s := range steps {
		out, err := waihuCLI(t, append(s.args, "--data", data)...)
		outs = append(outs, out)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("waihu %v: error %v, want one containing %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("waihu %v: %v", s.args, err)
			continue
		}
		if !strings.Contains(out, s.want) {
			t.Errorf("waihu %v printed %q, want %q", s.args, out, s.want)
		}
	}
	return outs
}

var tokenRE = regexp.MustCompile(`wh_[A-Za-z0-9_-]{43}`)

func TestSecurityCommandsManageUsersTokensAndAudit(t *testing.T) {
	t.Setenv(recordingKeyEnv, "")
	data := t.TempDir()
	outs := runSteps(t, data, []cliStep{
		{[]string{"campaign", "create", "spring", "--trunk", "carrier"}, `campaign "spring" created`, ""},
		{[]string{"user", "add", "alice", "--role", "agent", "--campaign", "spring"}, `user "alice" added (id 1, role agent)`, ""},
		{[]string{"user", "add", "alice"}, "", "already exists"},
		{[]string{"user", "add", "bob", "--role", "boss"}, "", `role "boss" is not defined`},
		{[]string{"user", "add", "bob", "--campaign", "autumn"}, "", "not found"},
		{[]string{"role", "define", "qa", "calls:read", "recordings:read"}, `role "qa"`, ""},
		{[]string{"role", "define", "agent", "users:admin"}, "", "built-in"},
		{[]string{"role", "define", "bad", "calls:reed"}, "", `unknown permission "calls:reed"`},
		{[]string{"user", "add", "quinn", "--role", "qa"}, `user "quinn" added (id 2, role qa)`, ""},
		{[]string{"role", "list"}, "qa          custom", ""},
		{[]string{"token", "create", "alice", "--name", "laptop", "--ttl", "90d"}, "it is shown only now", ""},
		{[]string{"token", "create", "alice", "--ttl", "soon"}, "", "--ttl"},
		{[]string{"token", "create", "nobody"}, "", "not found"},
		{[]string{"user", "list"}, "alice  agent  enabled  [1]        1", ""},
		{[]string{"token", "list", "alice"}, "laptop  valid", ""},
	})
	token := tokenRE.FindString(outs[10])
	if token == "" {
		t.Fatalf("no token in %q", outs[10])
	}

	// The printed token authenticates as alice, limited to her campaign.
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.NewAccounts(auth.AccountsConfig{Store: st}).Authenticate(ctx, token)
	st.Close()
	if err != nil || p.User != "alice" || !p.SeesCampaign(1) || p.SeesCampaign(2) || p.Can(auth.PermUnmask) {
		t.Fatalf("token authenticates as %+v, %v", p, err)
	}

	runSteps(t, data, []cliStep{
		{[]string{"token", "revoke", "1"}, "token 1 revoked", ""},
		{[]string{"token", "revoke", "99"}, "", "not found"},
		{[]string{"token", "list"}, "revoked", ""},
		{[]string{"user", "set", "quinn", "--disable"}, "disabled true", ""},
		{[]string{"audit", "search", "--action", "token.*"}, "token.revoke", ""},
		{[]string{"audit", "search", "--user", "cli", "--action", "user.create", "--limit", "1"}, "user:2", ""},
		{[]string{"audit", "search", "--from", "yesterday"}, "", "--from"},
		{[]string{"audit", "verify"}, "audit log intact: 6 rows (1…6)", ""},
	})

	st, err = store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewAccounts(auth.AccountsConfig{Store: st}).Authenticate(ctx, token); err == nil {
		t.Fatal("revoked token still authenticates")
	}
	st.Close()

	// An insider edits a row behind waihu's back: verify names it.
	db, err := sql.Open("sqlite", filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	runSteps(t, data, []cliStep{
		{[]string{"audit", "verify"}, "", "first bad row 3: row 3 content does not match its hash"},
	})
}

func TestKeysCommandsRotateRecordingsToTheNewKey(t *testing.T) {
	t.Setenv(recordingKeyEnv, "")
	data := t.TempDir()
	recs := filepath.Join(data, "recordings")
	if err := os.MkdirAll(recs, 0o750); err != nil {
		t.Fatal(err)
	}
	runSteps(t, data, []cliStep{
		{[]string{"keys", "rotate"}, "", "no recording keys"},
		{[]string{"keys", "generate", "--id", "2026-01"}, `current key is "2026-01"`, ""},
	})
	keys, err := vault.LoadKeyFile(filepath.Join(data, "recording.keys"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(vault.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	audio := []byte(strings.Repeat("RIFF-ish audio ", 10_000))
	for _, name := range []string{"a.wav.enc", "b.wav.enc"} {
		w, err := v.Create(filepath.Join(recs, name))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(audio)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(recs, "old.wav"), []byte("RIFF plain"), 0o640); err != nil {
		t.Fatal(err)
	}
	runSteps(t, data, []cliStep{
		{[]string{"keys", "generate", "--id", "2026-07"}, `current key is "2026-07" (2 keys)`, ""},
		{[]string{"keys", "rotate"}, `current "2026-07": 2 recordings re-encrypted, 0 already current, 1 not encrypted`, ""},
		{[]string{"keys", "rotate"}, "0 recordings re-encrypted, 2 already current", ""},
	})
	for _, name := range []string{"a.wav.enc", "b.wav.enc"} {
		if id, err := vault.KeyIDOf(filepath.Join(recs, name)); err != nil || id != "2026-07" {
			t.Fatalf("%s key %q %v", name, id, err)
		}
	}
	// With only the new key in the environment, the rotated files still open.
	raw, _ := os.ReadFile(filepath.Join(data, "recording.keys"))
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	t.Setenv(recordingKeyEnv, strings.Replace(lines[len(lines)-1], " ", ":", 1))
	cfg := defaultConfig()
	cfg.Data = data
	k, source, err := loadRecordingKeys(cfg, "")
	if err != nil || source != "$"+recordingKeyEnv || k.Current() != "2026-07" || len(k.IDs()) != 1 {
		t.Fatalf("keys from env: %v %s %v", k, source, err)
	}
	v2, _ := vault.New(vault.Config{Keys: k})
	if err := v2.Check(filepath.Join(recs, "a.wav.enc")); err != nil {
		t.Fatal(err)
	}
}

func TestParseTTLAcceptsDaysAndDurations(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"0d", 0, true},
		{"-1h", 0, true},
		{"soon", 0, true},
		{"1.5d", 0, true},
	}
	for _, tc := range cases {
		got, err := parseTTL(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseTTL(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestRecordingVaultSealsAndOpensRecordings(t *testing.T) {
	t.Setenv(recordingKeyEnv, "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	data := t.TempDir()
	cfg := defaultConfig()
	cfg.Data = data
	dir := filepath.Join(data, "recordings")
	os.MkdirAll(dir, 0o750)
	audio := []byte("RIFF....WAVEfmt " + strings.Repeat("x", 5000))
	write := func(id string) string {
		p := filepath.Join(dir, safeFileName(id)+".wav")
		if err := os.WriteFile(p, audio, 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(rv *recordingVault, id string) ([]byte, error) {
		r, err := rv.open(dir, id)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}

	// No key: recordings stay plain and are served as they are.
	none, err := newRecordingVault(cfg, "", log)
	if err != nil || none != nil {
		t.Fatalf("without keys: %v %v", none, err)
	}
	none.seal(write("plain-call"), log)
	if got, err := read(none, "plain-call"); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("plain: %d bytes %v", len(got), err)
	}

	if _, err := waihuCLI(t, "keys", "generate", "--id", "k1", "--data", data); err != nil {
		t.Fatal(err)
	}
	rv, err := newRecordingVault(cfg, "", log)
	if err != nil || rv == nil {
		t.Fatalf("with a key file: %v %v", rv, err)
	}
	p := write("call/1")
	rv.seal(p, log)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("plain recording kept after sealing")
	}
	if raw, _ := os.ReadFile(p + vault.Ext); bytes.Contains(raw, []byte("WAVEfmt")) {
		t.Fatal("sealed recording holds plain audio")
	}
	if got, err := read(rv, "call/1"); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("sealed: %d bytes %v", len(got), err)
	}
	if got, err := read(rv, "plain-call"); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("older plain recording: %d bytes %v", len(got), err)
	}
	if _, err := read(rv, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing recording: %v", err)
	}
	raw, _ := os.ReadFile(p + vault.Ext)
	raw[len(raw)-3] ^= 0x40
	os.WriteFile(p+vault.Ext, raw, 0o640)
	if _, err := read(rv, "call/1"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("tampered recording: %v", err)
	}

	os.Chmod(filepath.Join(data, "recording.keys"), 0o644)
	if _, err := newRecordingVault(cfg, "", log); err == nil {
		t.Fatal("world-readable key file accepted")
	}
}
