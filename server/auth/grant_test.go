package auth

import "testing"

func TestSeesAllCampaignsOnlyWithoutAssignmentsOutsideAgents(t *testing.T) {
	cases := []struct {
		role      string
		campaigns []int64
		want      bool
	}{
		{RoleAdmin, nil, true},
		{RoleViewer, []int64{3}, false},
		{RoleAgent, nil, false},
		{RoleAgent, []int64{1}, false},
		{"qa", nil, true},
	}
	for _, tc := range cases {
		if got := SeesAllCampaigns(tc.role, tc.campaigns); got != tc.want {
			t.Errorf("SeesAllCampaigns(%s, %v) = %t, want %t", tc.role, tc.campaigns, got, tc.want)
		}
	}
}

func TestCoversNeedsEveryPermissionAndCampaign(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	agent, _ := BuiltinRole(RoleAgent)
	cases := []struct {
		name string
		p, q *Principal
		want bool
	}{
		{"admin covers agent", &Principal{Perms: admin}, &Principal{Perms: agent, Campaigns: []int64{1}}, true},
		{"agent does not cover admin", &Principal{Perms: agent}, &Principal{Perms: admin}, false},
		{"same permissions cover", &Principal{Perms: agent}, &Principal{Perms: agent}, true},
		{"limited does not cover unlimited", &Principal{Perms: admin, Campaigns: []int64{1}}, &Principal{Perms: agent}, false},
		{"limited covers its subset", &Principal{Perms: admin, Campaigns: []int64{1, 2}}, &Principal{Perms: agent, Campaigns: []int64{2}}, true},
		{"limited does not cover another campaign", &Principal{Perms: admin, Campaigns: []int64{1}}, &Principal{Perms: agent, Campaigns: []int64{1, 3}}, false},
		{"nil covers nothing", nil, &Principal{}, false},
	}
	for _, tc := range cases {
		if got := tc.p.Covers(tc.q); got != tc.want {
			t.Errorf("%s: Covers = %t, want %t", tc.name, got, tc.want)
		}
	}
}
