package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

// adminUser is the user the first start creates.
const adminUser = "admin"

// adminTokenFile is where the first start writes the admin's token.
func adminTokenFile(cfg Config) string {
	if cfg.HTTP.AdminTokenFile != "" {
		return cfg.HTTP.AdminTokenFile
	}
	return filepath.Join(cfg.Data, "admin-token")
}

// bootstrapAdmin makes sure someone can log in: on a store with no users it
// creates the admin user and an API token for it, and writes the token to
// a file only its owner can read (0600). The log names the file, never the
// token. A store that has users is left alone; so is one where another node
// won the race to create the admin.
func bootstrapAdmin(ctx context.Context, st store.Store, acc *auth.Accounts, cfg Config, log *slog.Logger) error {
	users, err := st.Users(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	if len(users) > 0 {
		return nil
	}
	path := adminTokenFile(cfg)
	// The file is made first, so that an unwritable path fails before a
	// user exists whose token no one could read.
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	defer f.Close()
	// An existing file keeps its old mode through O_CREATE.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("admin token file %s: %w", path, err)
	}
	if _, err := acc.AddUser(ctx, adminUser, auth.RoleAdmin, nil); err != nil {
		os.Remove(path)
		if errors.Is(err, store.ErrExists) {
			return nil // another node bootstrapped the same store
		}
		return fmt.Errorf("create admin user: %w", err)
	}
	token, _, err := acc.IssueToken(ctx, adminUser, "bootstrap", 0)
	if err != nil {
		return fmt.Errorf("issue admin token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		return fmt.Errorf("admin token file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("admin token file %s: %w", path, err)
	}
	log.Warn("first start: created the admin user; its API token is in the file (mode 0600) — log in to the dashboard with it, then keep it safe",
		"user", adminUser, "token_file", path)
	return nil
}
