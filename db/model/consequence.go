package model

import (
	"strconv"
	"strings"
)

// RoleChangeConsequence says what a role change takes away from a member, in
// a sentence for the confirmation dialog, or "" when it takes nothing away
// (a promotion). teams are the member's teams in the org: a billing member
// belongs to none, so moving to billing leaves them, and moving back does not
// restore them.
func RoleChangeConsequence(name string, from, to Role, teams []string) string {
	if from == to {
		return ""
	}
	var parts []string
	switch {
	case from == RoleOwner:
		parts = append(parts, name+" will no longer be an owner: no deleting the organization, no SSO, no changing owners.")
	case from == RoleAdmin && to != RoleOwner:
		parts = append(parts, name+" will no longer manage members, teams, policies or the wallet, or read the audit log.")
	}
	if to == RoleBilling {
		parts = append(parts, "Billing members fund the wallet but cannot use agents or packages.")
		if n := len(teams); n > 0 {
			word := "teams"
			if n == 1 {
				word = "team"
			}
			parts = append(parts, "They will leave "+strconv.Itoa(n)+" "+word+": "+strings.Join(teams, ", ")+
				". Changing the role back later does not put them back in those teams.")
		}
	}
	return strings.Join(parts, " ")
}
