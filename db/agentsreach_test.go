package db_test

import (
	"reflect"
	"testing"

	"guildhall/db"
	"guildhall/db/model"
)

// TestListAgentsWithKnownRole: a request that already read the caller's
// role (db.WithKnownRoles) lists the same agents, with the same levels and
// total, as one that did not, for every role and base permission.
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
	for i := range 7 {
		e.agent(owner, org, "owner agent "+string(rune('a'+i)))
	}
	e.agent(people[model.RoleMember], org, "member agent")
	for _, base := range []string{"none", "read"} {
		e.exec(`UPDATE orgs SET member_base_permission = $1 WHERE id = $2`, base, org)
		for role, who := range people {
			f := db.AgentFilter{OrgID: org, PerPage: 5}
			want, err := e.s.ListAgents(e.ctx, who.AccountID, f)
			if err != nil {
				t.Fatal(err)
			}
			ctx := db.WithKnownRoles(e.ctx, who.AccountID, []model.Workspace{{Org: model.Org{ID: org}, Role: role}})
			got, err := e.s.ListAgents(ctx, who.AccountID, f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || (role != model.RoleMember || base != "none") && want.Total != 8 {
				t.Errorf("%s, base %s: %+v\nwant %+v", role, base, got, want)
			}
		}
	}
}
