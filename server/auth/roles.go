package auth

import (
	"fmt"
	"slices"
)

// AllPermissions lists every permission in a stable order.
func AllPermissions() []Permission {
	return []Permission{
		PermTrunksRead, PermScriptsRead, PermScriptsWrite, PermCampaignsRead, PermCampaignsWrite,
		PermContactsRead, PermContactsWrite, PermCallsRead, PermCallsWrite, PermRecordingsRead,
		PermKPIRead, PermEventsRead, PermWebhooksWrite, PermUnmask, PermUsersAdmin, PermAuditRead,
	}
}

// The built-in roles. Their names cannot be taken by custom roles, and
// docs/security.md explains each.
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleAgent      = "agent"
	RoleViewer     = "viewer"
)

// builtinRoles returns a fresh copy of the built-in roles' permission sets, so
// no caller can change them for another.
func builtinRoles() map[string][]Permission {
	return map[string][]Permission{
		// admin holds everything.
		RoleAdmin: AllPermissions(),
		// supervisor runs the calling operation and sees full numbers, but does
		// not manage users, tokens, webhooks or read the audit log.
		RoleSupervisor: {
			PermTrunksRead, PermScriptsRead, PermScriptsWrite, PermCampaignsRead, PermCampaignsWrite,
			PermContactsRead, PermContactsWrite, PermCallsRead, PermCallsWrite, PermRecordingsRead,
			PermKPIRead, PermEventsRead, PermUnmask,
		},
		// agent works the campaigns assigned to them: reads contacts, calls and
		// recordings there and places calls, with numbers masked.
		RoleAgent: {
			PermScriptsRead, PermCampaignsRead, PermContactsRead, PermCallsRead, PermCallsWrite,
			PermRecordingsRead, PermKPIRead, PermEventsRead,
		},
		// viewer watches dashboards: campaigns, calls (masked), KPIs, live events.
		RoleViewer: {
			PermTrunksRead, PermScriptsRead, PermCampaignsRead, PermCallsRead, PermKPIRead, PermEventsRead,
		},
	}
}

// BuiltinRole returns the permissions of a built-in role; ok is false for
// any other name.
func BuiltinRole(name string) (perms []Permission, ok bool) {
	perms, ok = builtinRoles()[name]
	return perms, ok
}

// BuiltinRoleNames lists the built-in roles, most powerful first.
func BuiltinRoleNames() []string {
	return []string{RoleAdmin, RoleSupervisor, RoleAgent, RoleViewer}
}

// ParsePermissions checks names against the known permissions, so a typo in
// a custom role is an error rather than a silently missing right.
func ParsePermissions(names []string) ([]Permission, error) {
	all := AllPermissions()
	out := make([]Permission, 0, len(names))
	for _, n := range names {
		p := Permission(n)
		if !slices.Contains(all, p) {
			return nil, fmt.Errorf("unknown permission %q", n)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// restrictedToAssignments reports whether a user of role sees only the
// campaigns assigned to them even when none are: agents always do, so an
// agent without assignments sees nothing rather than everything.
func restrictedToAssignments(role string) bool { return role == RoleAgent }
