package model

import "testing"

func TestRoleChangeConsequence(t *testing.T) {
	tests := []struct {
		from, to Role
		teams    []string
		want     string
	}{
		{RoleMember, RoleAdmin, []string{"Platform"}, ""},
		{RoleMember, RoleMember, nil, ""},
		{RoleMember, RoleBilling, []string{"Platform", "Research"},
			"Billing members fund the wallet but cannot use agents or packages. They will leave 2 teams: Platform, Research. Changing the role back later does not put them back in those teams."},
		{RoleMember, RoleBilling, []string{"Platform"},
			"Billing members fund the wallet but cannot use agents or packages. They will leave 1 team: Platform. Changing the role back later does not put them back in those teams."},
		{RoleAdmin, RoleMember, nil, "Linus will no longer manage members, teams, policies or the wallet, or read the audit log."},
		{RoleAdmin, RoleOwner, nil, ""},
		{RoleOwner, RoleAdmin, nil, "Linus will no longer be an owner: no deleting the organization, no SSO, no changing owners."},
		{RoleBilling, RoleMember, nil, ""},
	}
	for _, tt := range tests {
		if got := RoleChangeConsequence("Linus", tt.from, tt.to, tt.teams); got != tt.want {
			t.Errorf("%s -> %s with %v:\n got %q\nwant %q", tt.from, tt.to, tt.teams, got, tt.want)
		}
	}
}
