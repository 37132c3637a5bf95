// Package auth decides who may do what through waihu's HTTP API: users,
// roles made of permissions, API tokens stored hashed, masking of phone
// numbers for roles without the unmask permission, and the audit trail.
//
// This file is the contract the HTTP server codes against; the
// implementations live beside it.
package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"
)

// Permission is one thing a role may do. The names appear in the API and in
// custom role definitions: add permissions, never rename them.
type Permission string

// The permissions. Reads of personal data (contacts, calls, recordings,
// transcripts) are audited as well as every change.
const (
	PermTrunksRead     Permission = "trunks:read"
	PermScriptsRead    Permission = "scripts:read"
	PermScriptsWrite   Permission = "scripts:write"
	PermCampaignsRead  Permission = "campaigns:read"
	PermCampaignsWrite Permission = "campaigns:write" // create, settings, start/pause/stop
	PermContactsRead   Permission = "contacts:read"
	PermContactsWrite  Permission = "contacts:write" // import, edit, do-not-call
	PermCallsRead      Permission = "calls:read"
	PermCallsWrite     Permission = "calls:write" // place a call
	PermRecordingsRead Permission = "recordings:read"
	PermKPIRead        Permission = "kpis:read" // KPIs, analytics
	PermEventsRead     Permission = "events:read"
	PermWebhooksWrite  Permission = "webhooks:write"
	PermUnmask         Permission = "phones:unmask" // see full phone numbers
	PermUsersAdmin     Permission = "users:admin"   // users, roles, tokens
	PermAuditRead      Permission = "audit:read"
)

// Principal is the authenticated caller of one request.
type Principal struct {
	// UserID and User name the user; TokenID the token used.
	UserID  int64
	User    string
	TokenID int64
	// Role is the role's name; Perms its permissions.
	Role  string
	Perms []Permission
	// Campaigns limits the campaigns the user sees (agents); nil means all.
	Campaigns []int64
}

// Can reports whether p holds perm. A nil Principal holds nothing.
func (p *Principal) Can(perm Permission) bool {
	return p != nil && slices.Contains(p.Perms, perm)
}

// SeesCampaign reports whether p may see campaign id's contacts and calls.
func (p *Principal) SeesCampaign(id int64) bool {
	return p != nil && (p.Campaigns == nil || slices.Contains(p.Campaigns, id))
}

// Errors of authentication and authorisation; the HTTP layer maps them to
// 401 and 403.
var (
	ErrUnauthenticated = errors.New("missing or invalid API token")
	ErrForbidden       = errors.New("permission denied")
)

// Authenticator turns a presented API token into a Principal, or returns
// an error wrapping ErrUnauthenticated.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// AuditEntry is one audited action: who, when, what, from where.
type AuditEntry struct {
	At time.Time
	// UserID and User are who acted (0 and "system" for the server itself).
	UserID int64
	User   string
	// Action is a dotted verb such as "campaign.create", "contact.read",
	// "recording.download", "auth.denied".
	Action string
	// Object names what was acted on ("campaign:7", "call:abc").
	Object string
	// Remote is the client's address.
	Remote netip.Addr
	// Detail is a short, masked description (never a full phone number).
	Detail string
}

// Auditor appends entries to the audit log. Record must not fail silently:
// an error means the action should not be reported as done.
type Auditor interface {
	Record(ctx context.Context, e AuditEntry) error
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored by WithPrincipal, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
