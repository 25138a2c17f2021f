package db_test

import (
	"fmt"
	"sync"
	"testing"

	"guildhall/db"
	"guildhall/db/model"
)

// Teams keep exact member and grant counts (00009 triggers) through adds,
// removals, cascades and many concurrent grants on one team.
func TestTeamCountsStayExact(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Counters")
	var members []model.Actor
	for i := 0; i < 4; i++ {
		m, _ := e.user(fmt.Sprintf("Member%d", i))
		e.join(org, m, model.RoleMember)
		members = append(members, m)
	}
	tm := e.team(owner, org, "Busy")
	other := e.team(owner, org, "Quiet")
	for _, m := range members {
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, m.AccountID, "member"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.DB().Exec(`UPDATE orgs SET limit_agents = 100 WHERE id = $1`, org); err != nil {
		t.Fatal(err)
	}
	var agents []int64
	for i := 0; i < 30; i++ {
		agents = append(agents, e.agent(owner, org, fmt.Sprintf("Bot %02d", i)).ID)
	}
	// 30 grants on one team from 30 goroutines at once, and re-grants of the
	// same agents on the other team (an update, not a new row).
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for _, id := range agents {
		wg.Add(2)
		go func(id int64) {
			defer wg.Done()
			_, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: id, Permission: "read"})
			errs <- err
		}(id)
		go func(id int64) {
			defer wg.Done()
			_, err := e.s.SetGrant(e.ctx, owner, org, other.ID, db.SetGrantInput{ResourceID: id, Permission: "write"})
			errs <- err
		}(id)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.SetGrant(e.ctx, owner, org, other.ID, db.SetGrantInput{ResourceID: agents[0], Permission: "admin"}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, wantMembers, wantGrants int) {
		t.Helper()
		ts, err := e.s.Teams(e.ctx, owner.AccountID, org)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			if x.ID == tm.ID && (x.MemberCount != wantMembers || x.GrantCount != wantGrants) {
				t.Fatalf("%s: team shows %d members, %d grants; want %d, %d", when, x.MemberCount, x.GrantCount, wantMembers, wantGrants)
			}
		}
		if n := e.count(`SELECT count(*) FROM teams t WHERE t.member_count <> (SELECT count(*) FROM team_members x WHERE x.team_id = t.id)
			OR t.grant_count <> (SELECT count(*) FROM grants x WHERE x.team_id = t.id)`); n != 0 {
			t.Fatalf("%s: %d teams with a wrong count", when, n)
		}
	}
	check("after adding", 4, 30)
	// Leaving the org drops the team membership (a cascade); deleting an
	// agent drops its grants.
	if err := e.s.RemoveMember(e.ctx, owner, org, members[0].AccountID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveTeamMember(e.ctx, owner, org, tm.ID, members[1].AccountID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteAgent(e.ctx, owner, agents[1]); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveGrant(e.ctx, owner, org, tm.ID, grantID(t, e, tm.ID, agents[2])); err != nil {
		t.Fatal(err)
	}
	check("after removals", 2, 28)
	// Deleting a team takes its rows with it, and the others stay right.
	if err := e.s.DeleteTeam(e.ctx, owner, org, other.ID); err != nil {
		t.Fatal(err)
	}
	check("after deleting a team", 2, 28)
}

func grantID(t *testing.T, e *tgEnv, teamID, agentID int64) int64 {
	t.Helper()
	return int64(e.count(`SELECT id FROM grants WHERE team_id = $1 AND resource_id = $2`, teamID, agentID))
}
