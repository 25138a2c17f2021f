package db_test

import (
	"reflect"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestAgentDetailMatchesItsParts: the agent page's one hand-scanned
// statement answers field by field what GetAgent, GrantsOnAgent and
// PendingTransferOf answer apart: agents with no grant, one and three
// (team names out of id order), with a pending transfer (shown to admins
// only) and after it expires, for the owner, an admin, the creator, a
// member reading through a team grant and one with no access (not found).
func TestAgentDetailMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	admin, _ := e.user("Admin Person")
	creator, _ := e.user("Creator Person")
	reader, _ := e.user("Reader Person")
	nobody, _ := e.user("Nobody Person")
	org := e.org(owner, "Acme")
	e.join(org, admin, model.RoleAdmin)
	e.join(org, creator, model.RoleMember)
	e.join(org, reader, model.RoleMember)
	e.join(org, nobody, model.RoleMember)
	bare := e.agent(owner, org, "bare")
	one := e.agent(creator, org, "one")
	three := e.agent(owner, org, "three")
	teams := []model.Team{e.team(owner, org, "zeta"), e.team(owner, org, "Alpha"), e.team(owner, org, "mid")}
	e.exec(`INSERT INTO team_members (team_id, org_id, account_id, role) VALUES ($1, $2, $3, 'member')`, teams[0].ID, org, reader.AccountID)
	for i, tm := range teams {
		perm := []string{"read", "write", "admin"}[i]
		if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: three.ID, Permission: perm}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.SetGrant(e.ctx, owner, org, teams[0].ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: one.ID, Permission: "write"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.TransferAgent(e.ctx, owner, three.ID, "someone@elsewhere.example"); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for _, who := range []model.Actor{owner, admin, creator, reader, nobody} {
			for _, ag := range []model.Agent{bare, one, three} {
				got, err := e.s.AgentDetail(e.ctx, who.AccountID, ag.ID)
				a, aerr := e.s.GetAgent(e.ctx, who.AccountID, ag.ID)
				if model.CodeOf(err) != model.CodeOf(aerr) || (err == nil) != (aerr == nil) {
					t.Fatalf("%s on %s: %v, GetAgent %v", who.Email, ag.Name, err, aerr)
				}
				if aerr != nil {
					continue
				}
				if !reflect.DeepEqual(got.Agent, a) {
					t.Errorf("%s on %s: agent\n%+v\nwant %+v", who.Email, ag.Name, got.Agent, a)
				}
				gs, err := e.s.GrantsOnAgent(e.ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Grants, gs) {
					t.Errorf("%s on %s: grants\n%+v\nwant %+v", who.Email, ag.Name, got.Grants, gs)
				}
				tr, err := e.s.PendingTransferOf(e.ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Transfer, tr) {
					t.Errorf("%s on %s: transfer\n%+v\nwant %+v", who.Email, ag.Name, got.Transfer, tr)
				}
			}
		}
	}
	check()
	d, err := e.s.AgentDetail(e.ctx, owner.AccountID, three.ID)
	if err != nil || len(d.Grants) != 3 || d.Transfer == nil || d.Grants[0].TeamName != "Alpha" {
		t.Fatalf("owner on three: %+v (%v): want three grants from Alpha and the transfer", d, err)
	}
	if _, err := e.s.AgentDetail(e.ctx, nobody.AccountID, three.ID); model.CodeOf(err) != model.CodeNotFound {
		t.Errorf("no access: %v, want not found", err)
	}
	e.advance(30 * 24 * time.Hour) // the transfer expires
	check()
}
