package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/waihu/waihu/store"
)

// AccountsConfig configures Accounts. Only Store is required.
type AccountsConfig struct {
	// Store keeps users, roles and token hashes.
	Store store.Security
	// CacheTTL is how long a checked token's Principal is reused without a
	// query. A revocation on another node takes effect within it. Default
	// 10 s; negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the cached tokens; the cache is emptied when full.
	// Default 10000.
	CacheSize int
	// TouchEvery limits how often a token's last-used time is written: once
	// per this interval, not on every request. Default 1 min.
	TouchEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives failures to record last use; default slog.Default().
	Log *slog.Logger
}

// Accounts manages users, roles and API tokens, and is the store-backed
// Authenticator.
type Accounts struct {
	st         store.Security
	ttl        time.Duration
	size       int
	touchEvery time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	p        *Principal
	until    time.Time // cache entry's end
	expires  time.Time // the token's own expiry (zero: none)
	lastUsed time.Time
}

// NewAccounts returns Accounts on cfg.Store.
func NewAccounts(cfg AccountsConfig) *Accounts {
	a := &Accounts{st: cfg.Store, ttl: cfg.CacheTTL, size: cfg.CacheSize, touchEvery: cfg.TouchEvery,
		now: cfg.Now, log: cfg.Log, cache: map[[32]byte]cached{}}
	if a.ttl == 0 {
		a.ttl = 10 * time.Second
	}
	if a.size <= 0 {
		a.size = 10000
	}
	if a.touchEvery <= 0 {
		a.touchEvery = time.Minute
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a
}

var _ Authenticator = (*Accounts)(nil)

// Authenticate checks an API token: well formed, known, not revoked, not
// expired, its user enabled and its role defined. Every failure wraps
// ErrUnauthenticated with a reason safe to log (never the token).
func (a *Accounts) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if !wellFormed(token) {
		return nil, fmt.Errorf("%w: not a waihu API token", ErrUnauthenticated)
	}
	hash := HashToken(token)
	now := a.now()
	if p, ok := a.fromCache(hash, now); ok {
		return p, nil
	}
	t, err := a.st.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	// The store found the row by this hash; the constant-time check guards
	// against a store that matched loosely (a prefix, a collation).
	if subtle.ConstantTimeCompare(t.Hash[:], hash[:]) != 1 {
		return nil, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if !t.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: token %d was revoked", ErrUnauthenticated, t.ID)
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nil, fmt.Errorf("%w: token %d expired", ErrUnauthenticated, t.ID)
	}
	u, err := a.st.User(ctx, t.UserID)
	if err != nil {
		return nil, fmt.Errorf("%w: token %d: %w", ErrUnauthenticated, t.ID, err)
	}
	if u.Disabled {
		return nil, fmt.Errorf("%w: user %q is disabled", ErrUnauthenticated, u.Name)
	}
	p, err := a.principal(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	p.TokenID = t.ID
	a.touch(ctx, t.ID, t.LastUsedAt, now)
	if a.ttl > 0 {
		a.mu.Lock()
		if len(a.cache) >= a.size {
			clear(a.cache)
		}
		a.cache[hash] = cached{p: p, until: now.Add(a.ttl), expires: t.ExpiresAt, lastUsed: now}
		a.mu.Unlock()
	}
	return clonePrincipal(p), nil
}

func (a *Accounts) fromCache(hash [32]byte, now time.Time) (*Principal, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cache[hash]
	if !ok {
		return nil, false
	}
	if !now.Before(c.until) || (!c.expires.IsZero() && !now.Before(c.expires)) {
		delete(a.cache, hash)
		return nil, false
	}
	if now.Sub(c.lastUsed) >= a.touchEvery {
		// Fall through to the store, which refreshes the last-used time.
		delete(a.cache, hash)
		return nil, false
	}
	return clonePrincipal(c.p), true
}

// clonePrincipal gives each request its own copy, so a handler that edits
// its Principal cannot change another request's.
func clonePrincipal(p *Principal) *Principal {
	c := *p
	c.Perms = slices.Clone(p.Perms)
	if p.Campaigns != nil {
		c.Campaigns = slices.Clone(p.Campaigns)
	}
	return &c
}

func (a *Accounts) touch(ctx context.Context, id int64, last, now time.Time) {
	if !last.IsZero() && now.Sub(last) < a.touchEvery {
		return
	}
	// A failed last-used write must not refuse a valid token: log and go on.
	if err := a.st.TouchToken(ctx, id, now); err != nil {
		a.log.Warn("record API token use", "token_id", id, "err", err)
	}
}

// principal builds u's Principal (without a token).
func (a *Accounts) principal(ctx context.Context, u store.User) (*Principal, error) {
	perms, err := a.RolePerms(ctx, u.Role)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", u.Name, err)
	}
	p := &Principal{UserID: u.ID, User: u.Name, Role: u.Role, Perms: perms}
	if !SeesAllCampaigns(u.Role, u.Campaigns) {
		p.Campaigns = append([]int64{}, u.Campaigns...)
	}
	return p, nil
}

// RolePerms returns the permissions of a built-in or custom role.
func (a *Accounts) RolePerms(ctx context.Context, role string) ([]Permission, error) {
	if perms, ok := BuiltinRole(role); ok {
		return perms, nil
	}
	roles, err := a.st.Roles(ctx)
	if err != nil {
		return nil, fmt.Errorf("role %q: %w", role, err)
	}
	for _, r := range roles {
		if r.Name == role {
			perms, err := ParsePermissions(r.Perms)
			if err != nil {
				return nil, fmt.Errorf("role %q: %w", role, err)
			}
			return perms, nil
		}
	}
	return nil, fmt.Errorf("role %q is not defined", role)
}

// PutRole defines or redefines a custom role. Built-in names are refused:
// changing what "agent" means would silently widen every agent's access.
func (a *Accounts) PutRole(ctx context.Context, name string, perms []string) error {
	if _, ok := BuiltinRole(name); ok {
		return fmt.Errorf("define role %q: a built-in role cannot be redefined", name)
	}
	if name == "" {
		return errors.New("define role: empty name")
	}
	ps, err := ParsePermissions(perms)
	if err != nil {
		return fmt.Errorf("define role %q: %w", name, err)
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	if err := a.st.PutRole(ctx, store.Role{Name: name, Perms: names}); err != nil {
		return err
	}
	a.flush()
	return nil
}

// AddUser creates a user with a defined role and campaign assignments.
func (a *Accounts) AddUser(ctx context.Context, name, role string, campaigns []int64) (store.User, error) {
	if _, err := a.RolePerms(ctx, role); err != nil {
		return store.User{}, fmt.Errorf("add user %q: %w", name, err)
	}
	return a.st.CreateUser(ctx, store.User{Name: name, Role: role, Campaigns: campaigns})
}

// IssueToken creates an API token for the named user, valid for ttl (0:
// until revoked). The token string is returned once and never stored.
func (a *Accounts) IssueToken(ctx context.Context, user, name string, ttl time.Duration) (string, store.Token, error) {
	u, err := a.st.UserByName(ctx, user)
	if err != nil {
		return "", store.Token{}, fmt.Errorf("issue token: %w", err)
	}
	if u.Disabled {
		return "", store.Token{}, fmt.Errorf("issue token: user %q is disabled", user)
	}
	token, hash, err := NewToken()
	if err != nil {
		return "", store.Token{}, err
	}
	t := store.Token{UserID: u.ID, Name: name, Hash: hash, CreatedAt: a.now()}
	if ttl > 0 {
		t.ExpiresAt = t.CreatedAt.Add(ttl)
	}
	t, err = a.st.CreateToken(ctx, t)
	if err != nil {
		return "", store.Token{}, fmt.Errorf("issue token for user %q: %w", user, err)
	}
	return token, t, nil
}

// RevokeToken revokes token id. This node forgets it at once; other nodes
// within CacheTTL.
func (a *Accounts) RevokeToken(ctx context.Context, id int64) error {
	if err := a.st.RevokeToken(ctx, id, a.now()); err != nil {
		return err
	}
	a.flush()
	return nil
}

// flush empties the cache after a change that may narrow someone's access.
func (a *Accounts) flush() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

// UpdateUser changes a user's role, disabled flag and campaign assignments.
// This node applies it at once; other nodes within CacheTTL.
func (a *Accounts) UpdateUser(ctx context.Context, u store.User) error {
	if _, err := a.RolePerms(ctx, u.Role); err != nil {
		return fmt.Errorf("update user %q: %w", u.Name, err)
	}
	if err := a.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	if err := a.st.SetUserCampaigns(ctx, u.ID, u.Campaigns); err != nil {
		return err
	}
	a.flush()
	return nil
}
