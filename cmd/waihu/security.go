package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/internal/vault"
	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

func init() {
	register(userCommand)
	register(roleCommand)
	register(tokenCommand)
	register(auditCommand)
	register(keysCommand)
}

// cliUser is who the audit log names for changes made from the command line:
// whoever can run it can read the store directly anyway.
const cliUser = "cli"

// withSecurity runs fn with the store, Accounts and the audit log open.
func withSecurity(cmd *cobra.Command, f *campaignFlags, fn func(ctx context.Context, st store.Store, acc *auth.Accounts, al *auth.AuditLog) error) error {
	return withStore(cmd, f, func(ctx context.Context, _ Config, st store.Store) error {
		acc := auth.NewAccounts(auth.AccountsConfig{Store: st})
		al := auth.NewAuditLog(auth.AuditConfig{Store: st})
		return fn(ctx, st, acc, al)
	})
}

// cliAudit records a command-line change; failing to record fails the command.
func cliAudit(ctx context.Context, al *auth.AuditLog, action, object, detail string) error {
	return al.Record(ctx, auth.AuditEntry{User: cliUser, Action: action, Object: object, Detail: detail})
}

func userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Add and list the users of the REST API (docs/security.md)"}
	cmd.AddCommand(userAddCommand(), userListCommand(), userSetCommand())
	return cmd
}

// resolveCampaigns turns campaign IDs or names into IDs.
func resolveCampaigns(ctx context.Context, st store.Store, refs []string) ([]int64, error) {
	var ids []int64
	for _, r := range refs {
		if id, err := strconv.ParseInt(r, 10, 64); err == nil {
			if _, err := st.Campaign(ctx, id); err != nil {
				return nil, fmt.Errorf("--campaign %s: %w", r, err)
			}
			ids = append(ids, id)
			continue
		}
		c, err := st.CampaignByName(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("--campaign %q: %w", r, err)
		}
		ids = append(ids, c.ID)
	}
	return ids, nil
}

func userAddCommand() *cobra.Command {
	var (
		f         campaignFlags
		role      string
		campaigns []string
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user with a role",
		Long: `Add a user. --role is admin, supervisor, agent, viewer or a custom role (waihu role
define). Agents see only the campaigns given with --campaign (ID or name, repeatable).
Give the user a token with: waihu token create NAME.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSecurity(cmd, &f, func(ctx context.Context, st store.Store, acc *auth.Accounts, al *auth.AuditLog) error {
				ids, err := resolveCampaigns(ctx, st, campaigns)
				if err != nil {
					return err
				}
				u, err := acc.AddUser(ctx, args[0], role, ids)
				if err != nil {
					return err
				}
				if err := cliAudit(ctx, al, "user.create", fmt.Sprintf("user:%d", u.ID),
					fmt.Sprintf("name %s, role %s, campaigns %v", u.Name, u.Role, ids)); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %q added (id %d, role %s)\n", u.Name, u.ID, u.Role)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&role, "role", auth.RoleViewer, "role: admin, supervisor, agent, viewer or a custom role")
	cmd.Flags().StringArrayVar(&campaigns, "campaign", nil, "campaign the user works (ID or name, repeatable)")
	return cmd
}

func userSetCommand() *cobra.Command {
	var (
		f                campaignFlags
		role             string
		campaigns        []string
		disable, enable  bool
		clearAssignments bool
	)
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Change a user's role, campaigns, or disable them",
		Long: `Change a user. Only the flags given change. --disable refuses all the user's tokens
(this node at once, other nodes within seconds); --campaign replaces the assignments,
--no-campaigns clears them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if disable && enable {
				return errors.New("--disable and --enable exclude each other")
			}
			return withSecurity(cmd, &f, func(ctx context.Context, st store.Store, acc *auth.Accounts, al *auth.AuditLog) error {
				u, err := st.UserByName(ctx, args[0])
				if err != nil {
					return err
				}
				if role != "" {
					u.Role = role
				}
				if disable || enable {
					u.Disabled = disable
				}
				if clearAssignments {
					u.Campaigns = nil
				}
				if len(campaigns) > 0 {
					if u.Campaigns, err = resolveCampaigns(ctx, st, campaigns); err != nil {
						return err
					}
				}
				if err := acc.UpdateUser(ctx, u); err != nil {
					return err
				}
				if err := cliAudit(ctx, al, "user.update", fmt.Sprintf("user:%d", u.ID),
					fmt.Sprintf("role %s, disabled %t, campaigns %v", u.Role, u.Disabled, u.Campaigns)); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %q: role %s, disabled %t, campaigns %v\n", u.Name, u.Role, u.Disabled, u.Campaigns)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&role, "role", "", "new role")
	cmd.Flags().StringArrayVar(&campaigns, "campaign", nil, "assigned campaign (ID or name, repeatable; replaces the list)")
	cmd.Flags().BoolVar(&clearAssignments, "no-campaigns", false, "clear the campaign assignments")
	cmd.Flags().BoolVar(&disable, "disable", false, "refuse the user's tokens")
	cmd.Flags().BoolVar(&enable, "enable", false, "accept the user's tokens again")
	return cmd
}

func userListCommand() *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users, their roles, campaigns and tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSecurity(cmd, &f, func(ctx context.Context, st store.Store, _ *auth.Accounts, _ *auth.AuditLog) error {
				users, err := st.Users(ctx)
				if err != nil {
					return err
				}
				toks, err := st.Tokens(ctx, 0)
				if err != nil {
					return err
				}
				live := map[int64]int{}
				now := time.Now()
				for _, t := range toks {
					if tokenState(t, now) == "valid" {
						live[t.UserID]++
					}
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tROLE\tSTATE\tCAMPAIGNS\tTOKENS")
				for _, u := range users {
					state := "enabled"
					if u.Disabled {
						state = "disabled"
					}
					camps := "all"
					if len(u.Campaigns) > 0 || u.Role == auth.RoleAgent {
						camps = fmt.Sprint(u.Campaigns)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\n", u.ID, u.Name, u.Role, state, camps, live[u.ID])
				}
				return tw.Flush()
			})
		},
	}
	f.bind(cmd)
	return cmd
}

func roleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Define custom roles from permissions and list all roles"}
	var f campaignFlags
	define := &cobra.Command{
		Use:   "define NAME PERMISSION...",
		Short: "Define (or redefine) a custom role",
		Long:  "Define a custom role from permissions; waihu role list shows them all.",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSecurity(cmd, &f, func(ctx context.Context, _ store.Store, acc *auth.Accounts, al *auth.AuditLog) error {
				if err := acc.PutRole(ctx, args[0], args[1:]); err != nil {
					return err
				}
				if err := cliAudit(ctx, al, "role.define", "role:"+args[0], strings.Join(args[1:], " ")); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "role %q: %s\n", args[0], strings.Join(args[1:], " "))
				return nil
			})
		},
	}
	f.bind(define)
	var lf campaignFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the built-in and custom roles and every permission",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSecurity(cmd, &lf, func(ctx context.Context, st store.Store, _ *auth.Accounts, _ *auth.AuditLog) error {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ROLE\tKIND\tPERMISSIONS")
				for _, name := range auth.BuiltinRoleNames() {
					perms, _ := auth.BuiltinRole(name)
					fmt.Fprintf(tw, "%s\tbuilt-in\t%s\n", name, joinPerms(perms))
				}
				custom, err := st.Roles(ctx)
				if err != nil {
					return err
				}
				for _, r := range custom {
					fmt.Fprintf(tw, "%s\tcustom\t%s\n", r.Name, strings.Join(r.Perms, " "))
				}
				return tw.Flush()
			})
		},
	}
	lf.bind(list)
	cmd.AddCommand(define, list)
	return cmd
}

func joinPerms(ps []auth.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}

func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	cmd.AddCommand(tokenCreateCommand(), tokenListCommand(), tokenRevokeCommand())
	return cmd
}

// parseTTL reads a duration that may also be whole days ("90d").
func parseTTL(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days such as 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration such as 720h or 90d", s)
	}
	return d, nil
}

func tokenCreateCommand() *cobra.Command {
	var (
		f        campaignFlags
		name     string
		ttl, out string
	)
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Create an API token for a user; it is shown once",
		Long: `Create an API token ("wh_" and 43 characters). It is printed once — or written to
--out with mode 0600 — and only its SHA-256 hash is stored: a lost token cannot be
recovered, only revoked and replaced. --ttl sets an expiry (720h, 90d; default never).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseTTL(ttl)
			if err != nil {
				return fmt.Errorf("--ttl %w", err)
			}
			return withSecurity(cmd, &f, func(ctx context.Context, _ store.Store, acc *auth.Accounts, al *auth.AuditLog) error {
				token, t, err := acc.IssueToken(ctx, args[0], name, d)
				if err != nil {
					return err
				}
				if out != "" {
					if err := os.WriteFile(out, []byte(token+"\n"), 0o600); err != nil {
						acc.RevokeToken(ctx, t.ID)
						return fmt.Errorf("--out: %w (token %d revoked)", err, t.ID)
					}
				}
				if err := cliAudit(ctx, al, "token.create", fmt.Sprintf("token:%d", t.ID),
					fmt.Sprintf("user %s, name %q, expires %s", args[0], name, fmtTime(t.ExpiresAt, "never"))); err != nil {
					acc.RevokeToken(ctx, t.ID)
					return err
				}
				w := cmd.OutOrStdout()
				if out != "" {
					fmt.Fprintf(w, "token %d for %q written to %s (expires %s)\n", t.ID, args[0], out, fmtTime(t.ExpiresAt, "never"))
					return nil
				}
				fmt.Fprintf(w, "token %d for %q (expires %s); it is shown only now:\n%s\n", t.ID, args[0], fmtTime(t.ExpiresAt, "never"), token)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&name, "name", "", "what the token is for (\"crm sync\")")
	cmd.Flags().StringVar(&ttl, "ttl", "", "lifetime, e.g. 720h or 90d (default: until revoked)")
	cmd.Flags().StringVar(&out, "out", "", "write the token to this file (mode 0600) instead of printing it")
	return cmd
}

func fmtTime(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

func tokenState(t store.Token, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "valid"
}

func tokenListCommand() *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   "list [USER]",
		Short: "List tokens (never their secret): state, expiry, last use",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSecurity(cmd, &f, func(ctx context.Context, st store.Store, _ *auth.Accounts, _ *auth.AuditLog) error {
				var uid int64
				if len(args) == 1 {
					u, err := st.UserByName(ctx, args[0])
					if err != nil {
						return err
					}
					uid = u.ID
				}
				users, err := st.Users(ctx)
				if err != nil {
					return err
				}
				names := map[int64]string{}
				for _, u := range users {
					names[u.ID] = u.Name
				}
				toks, err := st.Tokens(ctx, uid)
				if err != nil {
					return err
				}
				now := time.Now()
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tNAME\tSTATE\tCREATED\tEXPIRES\tLAST USED")
				for _, t := range toks {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, names[t.UserID], t.Name, tokenState(t, now),
						fmtTime(t.CreatedAt, "-"), fmtTime(t.ExpiresAt, "never"), fmtTime(t.LastUsedAt, "never"))
				}
				return tw.Flush()
			})
		},
	}
	f.bind(cmd)
	return cmd
}

func tokenRevokeCommand() *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token (running servers refuse it within seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("token id %q: not a number (waihu token list shows them)", args[0])
			}
			return withSecurity(cmd, &f, func(ctx context.Context, _ store.Store, acc *auth.Accounts, al *auth.AuditLog) error {
				if err := acc.RevokeToken(ctx, id); err != nil {
					return err
				}
				if err := cliAudit(ctx, al, "token.revoke", fmt.Sprintf("token:%d", id), ""); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %d revoked\n", id)
				return nil
			})
		},
	}
	f.bind(cmd)
	return cmd
}

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify, search and prune the hash-chained audit log"}
	cmd.AddCommand(auditVerifyCommand(), auditSearchCommand(), auditPruneCommand())
	return cmd
}

func auditVerifyCommand() *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit row was edited, deleted or reordered",
		Long: `Walk the whole audit chain. On success print the rows checked and the head hash —
note it somewhere outside the database: a later head that does not descend from it
means the history was rewritten wholesale. On failure name the first bad row and exit 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSecurity(cmd, &f, func(ctx context.Context, _ store.Store, _ *auth.Accounts, al *auth.AuditLog) error {
				rep, err := al.Verify(ctx)
				if err != nil {
					return err
				}
				if !rep.OK {
					if rep.BadSeq > 0 {
						return fmt.Errorf("audit log tampered: first bad row %d: %s", rep.BadSeq, rep.Problem)
					}
					return fmt.Errorf("audit log tampered: %s", rep.Problem)
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "audit log intact: %d rows (%d…%d)\nhead %s\n", rep.Rows, rep.First, rep.Last, hex.EncodeToString(rep.Head[:]))
				if rep.AnchorSeq > 0 {
					fmt.Fprintf(w, "rows up to %d pruned by retention; anchor %s\n", rep.AnchorSeq, hex.EncodeToString(rep.Anchor[:]))
				}
				return nil
			})
		},
	}
	f.bind(cmd)
	return cmd
}

// parseWhen reads an RFC 3339 time or a date (YYYY-MM-DD, UTC).
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want 2026-11-25 or 2026-11-25T09:00:00+08:00", s)
	}
	return t, nil
}

func auditSearchCommand() *cobra.Command {
	var (
		f                      campaignFlags
		from, to, user, action string
		before                 int64
		limit                  int
	)
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search the audit log by time, user and action, newest first",
		Long: `Search the audit log, newest first. --action matches exactly or, ending in * or .,
as a prefix (contact.*). For the next page pass --before with the last SEQ printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var q store.AuditQuery
			var err error
			if q.From, err = parseWhen(from); err != nil {
				return fmt.Errorf("--from %w", err)
			}
			if q.To, err = parseWhen(to); err != nil {
				return fmt.Errorf("--to %w", err)
			}
			q.User, q.Action, q.Before, q.Limit = user, action, before, limit
			return withSecurity(cmd, &f, func(ctx context.Context, _ store.Store, _ *auth.Accounts, al *auth.AuditLog) error {
				rows, err := al.Search(ctx, q)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tTIME\tUSER\tACTION\tOBJECT\tFROM\tDETAIL")
				for _, r := range rows {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.At.Format(time.RFC3339), r.User, r.Action, r.Object, r.Remote, r.Detail)
				}
				return tw.Flush()
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&from, "from", "", "from this time on (2026-11-01 or RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "before this time")
	cmd.Flags().StringVar(&user, "user", "", "only this user's actions")
	cmd.Flags().StringVar(&action, "action", "", "action, or prefix ending in * (contact.*)")
	cmd.Flags().Int64Var(&before, "before", 0, "page: rows older than this SEQ")
	cmd.Flags().IntVar(&limit, "limit", 50, "rows per page (at most 1000)")
	return cmd
}

func auditPruneCommand() *cobra.Command {
	var (
		f         campaignFlags
		retention string
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete audit rows past the retention now (serve does it every 6 hours)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := parseTTL(retention)
			if err != nil || d == 0 {
				return fmt.Errorf("--retention %q: want a duration such as 180d", retention)
			}
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				n, err := auth.NewAuditLog(auth.AuditConfig{Store: st, Retention: d}).Prune(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d audit rows older than %s deleted; the chain stays verifiable\n", n, retention)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&retention, "retention", "180d", "keep rows this long")
	return cmd
}

// recordingKeyEnv names the environment variable that may hold the recording
// keys instead of a key file ("ID:HEX,ID:HEX", the last current).
const recordingKeyEnv = "WAIHU_RECORDING_KEY"

// defaultKeyFile is where the recording keys live unless told otherwise.
func defaultKeyFile(cfg Config) string { return filepath.Join(cfg.Data, "recording.keys") }

// loadRecordingKeys finds the recording keys: keyFile if given, else the
// environment variable, else DATA/recording.keys. A nil keyring and no
// error means none is configured (recordings are then written in the clear);
// source names where the keys came from, for logs.
func loadRecordingKeys(cfg Config, keyFile string) (k *vault.Keyring, source string, err error) {
	if keyFile == "" {
		if v := os.Getenv(recordingKeyEnv); v != "" {
			k, err := vault.ParseKeyEnv(v)
			return k, "$" + recordingKeyEnv, err
		}
		keyFile = defaultKeyFile(cfg)
		if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
	}
	k, err = vault.LoadKeyFile(keyFile)
	return k, keyFile, err
}

func keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the keys that encrypt recordings (AES-256-GCM)"}
	cmd.AddCommand(keysGenerateCommand(), keysRotateCommand())
	return cmd
}

func keysGenerateCommand() *cobra.Command {
	var (
		f           campaignFlags
		keyFile, id string
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Add a new random key to the key file; it becomes the current key",
		Long: `Append a new random 256-bit key to the key file (default DATA/recording.keys, created
with mode 0600). New recordings use it at once after a restart; older recordings keep
naming their key, which must stay in the file until waihu keys rotate has moved them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if keyFile == "" {
				keyFile = defaultKeyFile(cfg)
				if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
					return fmt.Errorf("data directory: %w", err)
				}
			}
			if id == "" {
				id = time.Now().UTC().Format("2006-01-02T150405")
			}
			k, err := vault.AppendKey(keyFile, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %q added to %s; current key is %q (%d keys)\n", id, keyFile, k.Current(), len(k.IDs()))
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&keyFile, "key-file", "", "key file (default DATA/recording.keys)")
	cmd.Flags().StringVar(&id, "id", "", "the new key's id (default: the UTC time)")
	return cmd
}

func keysRotateCommand() *cobra.Command {
	var (
		f            campaignFlags
		keyFile, dir string
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every recording with the current key",
		Long: `Re-encrypt every encrypted recording under the recordings directory (default
DATA/recordings) whose key is not the current one, one file at a time and atomically:
each file is decrypted in full first, so a damaged file is reported and left as it was.
Keys come from --key-file, else $WAIHU_RECORDING_KEY, else DATA/recording.keys. When
it reports no file left on an old key, that key may be removed from the key file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			keys, source, err := loadRecordingKeys(cfg, keyFile)
			if err != nil {
				return err
			}
			if keys == nil {
				return fmt.Errorf("no recording keys: create %s with waihu keys generate, or set $%s", defaultKeyFile(cfg), recordingKeyEnv)
			}
			v, err := vault.New(vault.Config{Keys: keys})
			if err != nil {
				return err
			}
			if dir == "" {
				dir = filepath.Join(cfg.Data, "recordings")
			}
			res, err := rotateRecordings(cmd.Context(), v, dir)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "keys from %s, current %q: %d recordings re-encrypted, %d already current, %d not encrypted\n",
				source, v.CurrentKey(), res.rotated, res.current, res.plain)
			for _, e := range res.failed {
				fmt.Fprintln(w, "failed:", e)
			}
			if err != nil {
				return err
			}
			if len(res.failed) > 0 {
				return fmt.Errorf("%d recordings could not be re-encrypted (listed above)", len(res.failed))
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&keyFile, "key-file", "", "key file (default $WAIHU_RECORDING_KEY, else DATA/recording.keys)")
	cmd.Flags().StringVar(&dir, "dir", "", "recordings directory (default DATA/recordings)")
	return cmd
}

type rotation struct {
	rotated, current, plain int
	failed                  []error
}

// rotateRecordings re-encrypts the encrypted files under dir; one bad file
// does not stop the others.
func rotateRecordings(ctx context.Context, v *vault.Vault, dir string) (rotation, error) {
	var res rotation
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if _, err := vault.KeyIDOf(path); errors.Is(err, vault.ErrNotEncrypted) {
			res.plain++
			return nil
		}
		done, err := v.Rotate(path)
		switch {
		case err != nil:
			res.failed = append(res.failed, err)
		case done:
			res.rotated++
		default:
			res.current++
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("rotate recordings in %s: %w", dir, err)
	}
	return res, nil
}

// recordingVault is what serve needs to keep recordings encrypted: nil
// when no key is configured, and then every method passes plain files
// through, so callers need no branch of their own.
type recordingVault struct{ v *vault.Vault }

// newRecordingVault loads the recording keys as loadRecordingKeys finds them
// and logs where they came from and the current key id (never a key).
func newRecordingVault(cfg Config, keyFile string, log *slog.Logger) (*recordingVault, error) {
	keys, source, err := loadRecordingKeys(cfg, keyFile)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		log.Warn("recordings are stored unencrypted: no recording key (waihu keys generate, docs/security.md)")
		return nil, nil
	}
	v, err := vault.New(vault.Config{Keys: keys})
	if err != nil {
		return nil, fmt.Errorf("recording keys from %s: %w", source, err)
	}
	log.Info("recordings encrypted at rest", "keys_from", source, "current_key", v.CurrentKey())
	return &recordingVault{v: v}, nil
}

// seal encrypts a finished recording (path is the closed WAV) and removes
// the plain file; on failure the plain file stays, so the audio is not lost,
// and the error is logged.
func (rv *recordingVault) seal(path string, log *slog.Logger) {
	if rv == nil {
		return
	}
	if _, err := rv.v.SealFile(path); err != nil {
		log.Error("recording left unencrypted", "err", err)
	}
}

// open opens call id's recording in dir, decrypting it if it is encrypted.
// The encrypted file is preferred; a plain one (from before keys were set,
// or whose sealing failed) is served as it is.
func (rv *recordingVault) open(dir, callID string) (io.ReadCloser, error) {
	path := filepath.Join(dir, safeFileName(callID)+".wav")
	if rv != nil {
		r, err := rv.v.Open(path + vault.Ext)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
	}
	return os.Open(path)
}
