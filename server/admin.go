package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waihu/waihu/server/auth"
	"github.com/waihu/waihu/store"
)

// This file holds the routes that manage users, roles and API tokens: the
// REST equivalents of waihu user, role and token. Two guards apply to every
// change, beyond the users:admin permission:
//
//   - No escalation: a caller cannot create, change or issue a token for a
//     user whose access (permissions and campaigns) is not within their own,
//     nor define a role holding a permission they lack. Otherwise users:admin
//     alone would mint an admin.
//   - No lockout: a change that would leave no enabled user who holds
//     users:admin and a valid token is refused (409), so the API cannot lose
//     its last administrator. The command line remains the way back in.

// meView is the caller as the server sees them.
type meView struct {
	UserID      int64             `json:"user_id"`
	User        string            `json:"user"`
	Role        string            `json:"role"`
	Permissions []auth.Permission `json:"permissions"`
	// AllCampaigns is true when the caller sees every campaign; otherwise
	// Campaigns lists those they see (possibly none).
	AllCampaigns bool    `json:"all_campaigns"`
	Campaigns    []int64 `json:"campaigns"`
	// TokenID is the token the request came with.
	TokenID int64 `json:"token_id,omitempty"`
}

// userView is one user.
type userView struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
	// AllCampaigns is true when the user sees every campaign; otherwise
	// Campaigns lists those assigned (an agent with none sees none).
	AllCampaigns bool    `json:"all_campaigns"`
	Campaigns    []int64 `json:"campaigns"`
	// Tokens counts the user's valid (not revoked, not expired) tokens.
	Tokens    int       `json:"tokens"`
	CreatedAt time.Time `json:"created_at"`
}

// createUserRequest adds a user.
type createUserRequest struct {
	// Name is 1 to 64 letters, digits, '.', '_', '-' or '@'.
	Name string `json:"name"`
	// Role is a built-in or custom role.
	Role string `json:"role"`
	// Campaigns are the campaign ids assigned to the user.
	Campaigns []int64 `json:"campaigns,omitempty"`
}

// patchUserRequest changes the fields it holds.
type patchUserRequest struct {
	Role *string `json:"role,omitempty"`
	// Disabled refuses every token of the user while true.
	Disabled *bool `json:"disabled,omitempty"`
}

// assignRequest replaces a user's campaign assignments; [] clears them.
type assignRequest struct {
	Campaigns []int64 `json:"campaigns"`
}

// roleView is one role.
type roleView struct {
	Name        string   `json:"name"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
}

// rolesBody lists the roles and every permission a custom role may hold.
type rolesBody struct {
	Items       []roleView        `json:"items"`
	Permissions []auth.Permission `json:"permissions"`
}

// putRoleRequest defines a custom role.
type putRoleRequest struct {
	Permissions []string `json:"permissions"`
}

// tokenView is one API token as listed: never its secret nor its hash.
type tokenView struct {
	ID     int64  `json:"id"`
	UserID int64  `json:"user_id"`
	User   string `json:"user"`
	Name   string `json:"name,omitempty"`
	// State is valid, expired or revoked.
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// createTokenRequest issues a token.
type createTokenRequest struct {
	// User names the user the token acts as.
	User string `json:"user"`
	// Name says what the token is for ("crm sync").
	Name string `json:"name,omitempty"`
	// ExpiresIn is the token's lifetime, a duration such as 720h or whole
	// days such as 90d; absent, the token lives until revoked.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// createdToken is a new token with its secret, shown in this response only.
type createdToken struct {
	tokenView
	Token string `json:"token"`
}

// userName is what a user may be called: it shows in the audit log, so it
// holds no spaces or control characters.
var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// roleName is what a custom role may be called.
var roleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// maxTokenName bounds a token's description, in bytes.
const maxTokenName = 200

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	v := meView{UserID: p.UserID, User: p.User, Role: p.Role, Permissions: slices.Clone(p.Perms),
		AllCampaigns: p.Campaigns == nil, Campaigns: append([]int64{}, p.Campaigns...), TokenID: p.TokenID}
	if v.Permissions == nil {
		v.Permissions = []auth.Permission{}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// needAccounts answers 503 when the server manages no accounts.
func (s *Server) needAccounts() error {
	if s.accounts == nil {
		return unavailable("user management")
	}
	return nil
}

// rolePerms returns a role's permissions; known is false for a role that is
// neither built in nor defined.
func (s *Server) rolePerms(ctx context.Context, role string) (perms []auth.Permission, known bool, err error) {
	if perms, ok := auth.BuiltinRole(role); ok {
		return perms, true, nil
	}
	roles, err := s.cfg.Store.Roles(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("read role %q: %w", role, err)
	}
	for _, r := range roles {
		if r.Name == role {
			perms, err := auth.ParsePermissions(r.Perms)
			if err != nil {
				return nil, false, fmt.Errorf("read role %q: %w", role, err)
			}
			return perms, true, nil
		}
	}
	return nil, false, nil
}

// principalOf is what u may do. A user whose role is no longer defined may
// do nothing, as Authenticate decides.
func (s *Server) principalOf(ctx context.Context, u store.User) (*auth.Principal, error) {
	perms, _, err := s.rolePerms(ctx, u.Role)
	if err != nil {
		return nil, err
	}
	p := &auth.Principal{UserID: u.ID, User: u.Name, Role: u.Role, Perms: perms}
	if !auth.SeesAllCampaigns(u.Role, u.Campaigns) {
		p.Campaigns = append([]int64{}, u.Campaigns...)
	}
	return p, nil
}

// knownRole refuses a role that is not defined, naming field.
func (s *Server) knownRole(ctx context.Context, role, field string) error {
	if role == "" {
		return badInput(field, "%s is required: admin, supervisor, agent, viewer or a custom role", field)
	}
	_, known, err := s.rolePerms(ctx, role)
	if err != nil {
		return err
	}
	if !known {
		return badInput(field, "unknown role %q: GET /api/v1/roles lists them", role)
	}
	return nil
}

// campaignIDs checks assigned campaign ids: each exists and the caller sees
// it (one they do not see answers as missing, so ids cannot be probed).
// Repeats are dropped.
func (s *Server) campaignIDs(r *http.Request, field string, ids []int64) ([]int64, error) {
	out := make([]int64, 0, len(ids))
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if id <= 0 {
			return nil, badInput(f, "%s must be a positive campaign id, not %d", f, id)
		}
		if !principal(r).SeesCampaign(id) {
			return nil, notFound(f, "no campaign %d", id)
		}
		if _, err := s.cfg.Store.Campaign(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			return nil, notFound(f, "no campaign %d", id)
		} else if err != nil {
			return nil, fmt.Errorf("read campaign %d: %w", id, err)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// mayGrant refuses, as a 403 naming field, to let the caller act on
// someone whose access exceeds their own. The refusal is audited as
// auth.denied: an attempted escalation is what a review looks for.
func (s *Server) mayGrant(r *http.Request, target *auth.Principal, field, what string) error {
	p := principal(r)
	if p.Covers(target) {
		return nil
	}
	var missing []string
	for _, perm := range target.Perms {
		if !p.Can(perm) {
			missing = append(missing, string(perm))
		}
	}
	why := "sees campaigns you do not"
	if len(missing) > 0 {
		why = "holds permissions you do not: " + strings.Join(missing, ", ")
	}
	msg := fmt.Sprintf("%s %s; no one may grant more than they hold", what, why)
	if err := s.auditReq(r, "auth.denied", r.Method+" "+r.URL.Path, msg); err != nil {
		return err
	}
	return &apiError{Status: http.StatusForbidden, Msg: msg, Field: field}
}

// adminChange is a change the lockout guard weighs before it is made.
type adminChange struct {
	user   *store.User // replaces the stored user of its ID
	role   *store.Role // replaces or adds a custom role
	revoke int64       // a token to be revoked
}

// keepsAnAdmin refuses (409, naming field) a change after which no enabled
// user holds users:admin and a valid token. Callers hold s.adminMu, so two
// requests on this node cannot each remove one of the last two admins.
func (s *Server) keepsAnAdmin(ctx context.Context, ch adminChange, field string) error {
	users, err := s.cfg.Store.Users(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	toks, err := s.cfg.Store.Tokens(ctx, 0)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	roles, err := s.cfg.Store.Roles(ctx)
	if err != nil {
		return fmt.Errorf("list roles: %w", err)
	}
	custom := map[string][]string{}
	for _, r := range roles {
		custom[r.Name] = r.Perms
	}
	if ch.role != nil {
		custom[ch.role.Name] = ch.role.Perms
	}
	now := s.cfg.Now()
	live := map[int64]bool{}
	for _, t := range toks {
		if t.ID != ch.revoke && tokenState(t, now) == "valid" {
			live[t.UserID] = true
		}
	}
	for _, u := range users {
		if ch.user != nil && u.ID == ch.user.ID {
			u = *ch.user
		}
		if u.Disabled || !live[u.ID] {
			continue
		}
		if perms, ok := auth.BuiltinRole(u.Role); ok && slices.Contains(perms, auth.PermUsersAdmin) {
			return nil
		}
		if slices.Contains(custom[u.Role], string(auth.PermUsersAdmin)) {
			return nil
		}
	}
	return &apiError{Status: http.StatusConflict, Field: field,
		Msg: "refused: no enabled user would hold users:admin and a valid token; give another user an admin role and a token first"}
}

// tokenState is valid, expired or revoked.
func tokenState(t store.Token, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "valid"
}

func (s *Server) userViewOf(u store.User, toks []store.Token) userView {
	v := userView{ID: u.ID, Name: u.Name, Role: u.Role, Disabled: u.Disabled,
		AllCampaigns: auth.SeesAllCampaigns(u.Role, u.Campaigns), Campaigns: append([]int64{}, u.Campaigns...), CreatedAt: u.CreatedAt}
	now := s.cfg.Now()
	for _, t := range toks {
		if t.UserID == u.ID && tokenState(t, now) == "valid" {
			v.Tokens++
		}
	}
	return v
}

// userView reads user id afresh with its token count.
func (s *Server) readUserView(ctx context.Context, id int64) (userView, error) {
	u, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return userView{}, fmt.Errorf("read user %d: %w", id, err)
	}
	toks, err := s.cfg.Store.Tokens(ctx, id)
	if err != nil {
		return userView{}, fmt.Errorf("list tokens of user %d: %w", id, err)
	}
	return s.userViewOf(u, toks), nil
}

// pathUser reads the user named by the {id} path parameter.
func (s *Server) pathUser(r *http.Request) (store.User, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.User{}, err
	}
	u, err := s.cfg.Store.User(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("id", "no user %d", id)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("read user %d: %w", id, err)
	}
	return u, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.cfg.Store.Users(r.Context())
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	toks, err := s.cfg.Store.Tokens(r.Context(), 0)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	out := listBody[userView]{Items: []userView{}}
	for _, u := range users {
		out.Items = append(out.Items, s.userViewOf(u, toks))
	}
	if err := s.auditReq(r, "user.list", "users", fmt.Sprintf("%d users", len(out.Items))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.pathUser(r)
	if err != nil {
		return err
	}
	v, err := s.readUserView(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if err := s.auditReq(r, "user.read", fmt.Sprintf("user:%d", u.ID), ""); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	var req createUserRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !userName.MatchString(req.Name) {
		return badInput("name", "name must be 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit, not %q", req.Name)
	}
	if err := s.knownRole(r.Context(), req.Role, "role"); err != nil {
		return err
	}
	ids, err := s.campaignIDs(r, "campaigns", req.Campaigns)
	if err != nil {
		return err
	}
	target, err := s.principalOf(r.Context(), store.User{Name: req.Name, Role: req.Role, Campaigns: ids})
	if err != nil {
		return err
	}
	if err := s.mayGrant(r, target, grantField(r, target, "role", "campaigns"), fmt.Sprintf("a user of role %q", req.Role)); err != nil {
		return err
	}
	u, err := s.accounts.AddUser(r.Context(), req.Name, req.Role, ids)
	if errors.Is(err, store.ErrExists) {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("a user named %q already exists", req.Name), Field: "name"}
	}
	if err != nil {
		return fmt.Errorf("add user %q: %w", req.Name, err)
	}
	if err := s.auditReq(r, "user.create", fmt.Sprintf("user:%d", u.ID),
		fmt.Sprintf("name %s, role %s, campaigns %v", u.Name, u.Role, ids)); err != nil {
		return err
	}
	v, err := s.readUserView(r.Context(), u.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/users/%d", u.ID))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// grantField names the input at fault when the caller may not grant
// target: the role when it holds permissions the caller lacks, else the
// campaigns.
func grantField(r *http.Request, target *auth.Principal, roleField, campaignsField string) string {
	p := principal(r)
	for _, perm := range target.Perms {
		if !p.Can(perm) {
			return roleField
		}
	}
	return campaignsField
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	u, err := s.pathUser(r)
	if err != nil {
		return err
	}
	var req patchUserRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Role == nil && req.Disabled == nil {
		return badInput("", "send role, disabled or both")
	}
	cur, err := s.principalOf(r.Context(), u)
	if err != nil {
		return err
	}
	if err := s.mayGrant(r, cur, "id", fmt.Sprintf("user %q", u.Name)); err != nil {
		return err
	}
	field := "disabled"
	if req.Role != nil {
		if err := s.knownRole(r.Context(), *req.Role, "role"); err != nil {
			return err
		}
		u.Role, field = *req.Role, "role"
	}
	if req.Disabled != nil {
		u.Disabled = *req.Disabled
		if *req.Disabled {
			field = "disabled"
		}
	}
	next, err := s.principalOf(r.Context(), u)
	if err != nil {
		return err
	}
	if err := s.mayGrant(r, next, "role", fmt.Sprintf("role %q", u.Role)); err != nil {
		return err
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.keepsAnAdmin(r.Context(), adminChange{user: &u}, field); err != nil {
		return err
	}
	if err := s.accounts.UpdateUser(r.Context(), u); err != nil {
		return fmt.Errorf("update user %q: %w", u.Name, err)
	}
	if err := s.auditReq(r, "user.update", fmt.Sprintf("user:%d", u.ID),
		fmt.Sprintf("role %s, disabled %t", u.Role, u.Disabled)); err != nil {
		return err
	}
	v, err := s.readUserView(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) assignCampaigns(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	u, err := s.pathUser(r)
	if err != nil {
		return err
	}
	var req assignRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Campaigns == nil {
		return badInput("campaigns", "campaigns is required: a list of campaign ids, [] to clear")
	}
	cur, err := s.principalOf(r.Context(), u)
	if err != nil {
		return err
	}
	if err := s.mayGrant(r, cur, "id", fmt.Sprintf("user %q", u.Name)); err != nil {
		return err
	}
	if u.Campaigns, err = s.campaignIDs(r, "campaigns", req.Campaigns); err != nil {
		return err
	}
	next, err := s.principalOf(r.Context(), u)
	if err != nil {
		return err
	}
	if err := s.mayGrant(r, next, "campaigns", fmt.Sprintf("user %q with these campaigns", u.Name)); err != nil {
		return err
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.accounts.UpdateUser(r.Context(), u); err != nil {
		return fmt.Errorf("assign campaigns to user %q: %w", u.Name, err)
	}
	if err := s.auditReq(r, "user.assign", fmt.Sprintf("user:%d", u.ID), fmt.Sprintf("campaigns %v", u.Campaigns)); err != nil {
		return err
	}
	v, err := s.readUserView(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) error {
	out := rolesBody{Items: []roleView{}, Permissions: auth.AllPermissions()}
	for _, name := range auth.BuiltinRoleNames() {
		perms, _ := auth.BuiltinRole(name)
		out.Items = append(out.Items, roleView{Name: name, Builtin: true, Permissions: permStrings(perms)})
	}
	custom, err := s.cfg.Store.Roles(r.Context())
	if err != nil {
		return fmt.Errorf("list roles: %w", err)
	}
	for _, c := range custom {
		out.Items = append(out.Items, roleView{Name: c.Name, Permissions: append([]string{}, c.Perms...)})
	}
	if err := s.auditReq(r, "role.list", "roles", fmt.Sprintf("%d roles", len(out.Items))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func permStrings(ps []auth.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func (s *Server) putRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !roleName.MatchString(name) {
		return badInput("name", "a role name is 1 to 64 letters, digits, '-' and '_', not %q", name)
	}
	if _, ok := auth.BuiltinRole(name); ok {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("%s is a built-in role and cannot be redefined", name), Field: "name"}
	}
	var req putRoleRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Permissions == nil {
		return badInput("permissions", "permissions is required: a list such as [\"calls:read\", \"kpis:read\"] ([] for none)")
	}
	for i, p := range req.Permissions {
		if _, err := auth.ParsePermissions([]string{p}); err != nil {
			f := fmt.Sprintf("permissions[%d]", i)
			return badInput(f, "%s: unknown permission %q; GET /api/v1/roles lists them", f, p)
		}
	}
	perms, err := auth.ParsePermissions(req.Permissions)
	if err != nil {
		return badInput("permissions", "%v", err)
	}
	if err := s.mayGrant(r, &auth.Principal{Perms: perms}, "permissions", fmt.Sprintf("role %q", name)); err != nil {
		return err
	}
	old, known, err := s.rolePerms(r.Context(), name)
	if err != nil {
		return err
	}
	if known {
		// Redefining a role narrows or widens the access of everyone who
		// holds it: only someone whose access includes it may.
		if err := s.mayGrant(r, &auth.Principal{Perms: old}, "name", fmt.Sprintf("the existing role %q", name)); err != nil {
			return err
		}
	}
	role := store.Role{Name: name, Perms: permStrings(perms)}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.keepsAnAdmin(r.Context(), adminChange{role: &role}, "permissions"); err != nil {
		return err
	}
	if err := s.accounts.PutRole(r.Context(), name, role.Perms); err != nil {
		return fmt.Errorf("define role %q: %w", name, err)
	}
	if err := s.auditReq(r, "role.define", "role:"+name, strings.Join(role.Perms, " ")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, roleView{Name: name, Permissions: role.Perms})
	return nil
}

// parseExpiresIn reads a token lifetime: a Go duration or whole days.
func parseExpiresIn(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return 0, badInput("expires_in", "expires_in %q: want a positive number of days such as 90d", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badInput("expires_in", "expires_in %q: want a positive duration such as 720h or 90d", v)
	}
	return d, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var uid int64
	if name := r.URL.Query().Get("user"); name != "" {
		u, err := s.cfg.Store.UserByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("user", "no user %q", name)
		}
		if err != nil {
			return fmt.Errorf("read user %q: %w", name, err)
		}
		uid = u.ID
	}
	users, err := s.cfg.Store.Users(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	names := map[int64]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	toks, err := s.cfg.Store.Tokens(ctx, uid)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	now := s.cfg.Now()
	out := listBody[tokenView]{Items: []tokenView{}}
	for _, t := range toks {
		out.Items = append(out.Items, tokenViewOf(t, names[t.UserID], now))
	}
	if err := s.auditReq(r, "token.list", "tokens", fmt.Sprintf("%d tokens", len(out.Items))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func tokenViewOf(t store.Token, user string, now time.Time) tokenView {
	return tokenView{ID: t.ID, UserID: t.UserID, User: user, Name: t.Name, State: tokenState(t, now),
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	var req createTokenRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.User == "" {
		return badInput("user", "user is required: the name of the user the token acts as")
	}
	if len(req.Name) > maxTokenName {
		return badInput("name", "name is longer than %d bytes", maxTokenName)
	}
	ttl, err := parseExpiresIn(req.ExpiresIn)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.cfg.Store.UserByName(ctx, req.User)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user", "no user %q", req.User)
	}
	if err != nil {
		return fmt.Errorf("read user %q: %w", req.User, err)
	}
	if u.Disabled {
		return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf("user %q is disabled", u.Name), Field: "user"}
	}
	target, err := s.principalOf(ctx, u)
	if err != nil {
		return err
	}
	// A token acts as its user: issuing one for someone more powerful
	// would be the escalation the role checks forbid.
	if err := s.mayGrant(r, target, "user", fmt.Sprintf("a token for user %q", u.Name)); err != nil {
		return err
	}
	token, t, err := s.accounts.IssueToken(ctx, u.Name, req.Name, ttl)
	if err != nil {
		return fmt.Errorf("issue token for %q: %w", u.Name, err)
	}
	expires := "never"
	if !t.ExpiresAt.IsZero() {
		expires = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if err := s.auditReq(r, "token.create", fmt.Sprintf("token:%d", t.ID),
		fmt.Sprintf("user %s, name %q, expires %s", u.Name, req.Name, expires)); err != nil {
		// A token no audit row accounts for must not stay usable.
		if rerr := s.accounts.RevokeToken(context.WithoutCancel(ctx), t.ID); rerr != nil {
			s.log.Error("revoke unaudited token", "token_id", t.ID, "err", rerr)
		}
		return err
	}
	writeJSON(w, http.StatusCreated, createdToken{tokenView: tokenViewOf(t, u.Name, s.cfg.Now()), Token: token})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	toks, err := s.cfg.Store.Tokens(ctx, 0)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	i := slices.IndexFunc(toks, func(t store.Token) bool { return t.ID == id })
	if i < 0 {
		return notFound("id", "no token %d", id)
	}
	owner, err := s.cfg.Store.User(ctx, toks[i].UserID)
	if err != nil {
		return fmt.Errorf("read the owner of token %d: %w", id, err)
	}
	target, err := s.principalOf(ctx, owner)
	if err != nil {
		return err
	}
	if err := s.mayGrant(r, target, "id", fmt.Sprintf("token %d of user %q", id, owner.Name)); err != nil {
		return err
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.keepsAnAdmin(ctx, adminChange{revoke: id}, "id"); err != nil {
		return err
	}
	if err := s.accounts.RevokeToken(ctx, id); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if err := s.auditReq(r, "token.revoke", fmt.Sprintf("token:%d", id), "user "+owner.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
