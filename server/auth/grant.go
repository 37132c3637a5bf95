package auth

import "slices"

// SeesAllCampaigns reports whether a user of role with these campaign
// assignments sees every campaign: one with no assignments does, unless the
// role is limited to assignments (agents), who then see none.
func SeesAllCampaigns(role string, campaigns []int64) bool {
	return len(campaigns) == 0 && !restrictedToAssignments(role)
}

// Covers reports whether p's access includes all of q's: every permission q
// holds, and every campaign q sees. The API refuses to give a user, a role or
// a token more than its caller holds, so users:admin alone cannot be used to
// mint a more powerful account.
func (p *Principal) Covers(q *Principal) bool {
	if p == nil || q == nil {
		return q == nil
	}
	for _, perm := range q.Perms {
		if !p.Can(perm) {
			return false
		}
	}
	if p.Campaigns == nil {
		return true
	}
	if q.Campaigns == nil {
		return false
	}
	for _, id := range q.Campaigns {
		if !slices.Contains(p.Campaigns, id) {
			return false
		}
	}
	return true
}
