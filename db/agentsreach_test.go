package db_test

import (
	"reflect"
	"testing"

	"guildhall/db"
	"guildhall/db/model"
)

// TestListAgentsWithKnownRole: a request that already read the caller's
// role and the org's base permission (db.WithKnownRoles) lists the same
// agents, with the same levels and total, as one that did not, for every
// role and base permission, for a member who created an agent and for one
// who reads only what a team was granted.
func TestListAgentsWithKnownRole(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	org := e.org(owner, "Acme")
	people := map[model.Role]model.Actor{model.RoleOwner: owner}
	for _, r := range []model.Role{model.RoleAdmin, model.RoleMember, model.RoleBilling} {
		a, _ := e.user(string(r) + " Person")
		e.join(org, a, r)
		people[r] = a
	}
	var first model.Agent
	for i := range 7 {
		a := e.agent(owner, org, "owner agent "+string(rune('a'+i)))
		if i == 0 {
			first = a
		}
	}
	e.agent(people[model.RoleMember], org, "member agent")
	// A member who created nothing and reads one agent through a team.
	granted, _ := e.user("Granted Person")
	e.join(org, granted, model.RoleMember)
	team := e.team(owner, org, "Readers")
	// The member who created an agent is in the team too: its list is
	// both, which the granted-only statement alone would not give.
	for _, a := range []model.Actor{granted, people[model.RoleMember]} {
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, team.ID, a.AccountID, "member"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.SetGrant(e.ctx, owner, org, team.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: first.ID, Permission: "write"}); err != nil {
		t.Fatal(err)
	}
	type person struct {
		role model.Role
		who  model.Actor
	}
	var everyone []person
	for role, who := range people {
		everyone = append(everyone, person{role, who})
	}
	everyone = append(everyone, person{model.RoleMember, granted})
	for _, base := range []string{"none", "read"} {
		e.exec(`UPDATE orgs SET member_base_permission = $1 WHERE id = $2`, base, org)
		for _, p := range everyone {
			role, who := p.role, p.who
			f := db.AgentFilter{OrgID: org, PerPage: 5}
			want, err := e.s.ListAgents(e.ctx, who.AccountID, f)
			if err != nil {
				t.Fatal(err)
			}
			// The role alone, and the role with the base permission (as
			// the workspace list reads them).
			for _, ws := range []model.Workspace{{Org: model.Org{ID: org}, Role: role},
				{Org: model.Org{ID: org, MemberBasePermission: model.Permission(base)}, Role: role}} {
				ctx := db.WithKnownRoles(e.ctx, who.AccountID, []model.Workspace{ws})
				got, err := e.s.ListAgents(ctx, who.AccountID, f)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) || (role != model.RoleMember || base != "none") && want.Total != 8 ||
					who == granted && base == "none" && (want.Total != 1 || want.Agents[0].Permission != model.PermWrite) ||
					who == people[model.RoleMember] && base == "none" && want.Total != 2 {
					t.Errorf("%s, base %s (known %q): %+v\nwant %+v", role, base, ws.MemberBasePermission, got, want)
				}
			}
		}
	}
}
