package db_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"guildhall/db/model"
)

// TestWorkspaceRefMatchesItsParts: Workspace (scanned by hand) reads the
// org as OrgByID (sqlx) does and the role RoleIn reads, by id, by slug and
// by slug in capitals; an org the account is not in, or no such org, is
// not found.
func TestWorkspaceRefMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	member, _ := e.user("Member Person")
	outsider, _ := e.user("Outside Person")
	org := e.org(owner, "Acme Works")
	e.join(org, member, model.RoleMember)
	e.exec(`UPDATE orgs SET description = 'we make things', require_two_factor = true, member_base_permission = 'read' WHERE id = $1`, org)
	want, err := e.s.OrgByID(e.ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []model.Actor{owner, member} {
		role, err := e.s.RoleIn(e.ctx, org, who.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{strconv.FormatInt(org, 10), want.Slug, strings.ToUpper(want.Slug)} {
			ws, err := e.s.Workspace(e.ctx, who.AccountID, ref)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ws.Org, want) || ws.Role != role {
				t.Errorf("%s %s: %+v %s\nwant %+v %s", who.Email, ref, ws.Org, ws.Role, want, role)
			}
		}
	}
	for _, ref := range []string{strconv.FormatInt(org, 10), want.Slug, "999999", "no-such-org"} {
		if _, err := e.s.Workspace(e.ctx, outsider.AccountID, ref); model.CodeOf(err) != model.CodeNotFound {
			t.Errorf("outsider %s: %v, want not found", ref, err)
		}
	}
}
