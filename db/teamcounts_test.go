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
		ts, _, err := e.s.Teams(e.ctx, owner.AccountID, org, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			if x.ID == tm.ID && (x.MemberCount != wantMembers || x.GrantCount != wantGrants) {
				t.Fatalf("%s: team shows %d members, %d grants; want %d, %d", when, x.MemberCount, x.GrantCount, wantMembers, wantGrants)
			}
		}
		checkCounters(t, e, when)
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

// checkCounters fails when any team or org counter differs from a count.
func checkCounters(t *testing.T, e *tgEnv, when string) {
	t.Helper()
	if n := e.count(`SELECT count(*) FROM teams t WHERE t.member_count <> (SELECT count(*) FROM team_members x WHERE x.team_id = t.id)
		OR t.grant_count <> (SELECT count(*) FROM grants x WHERE x.team_id = t.id)`); n != 0 {
		t.Fatalf("%s: %d teams with a wrong count", when, n)
	}
	if n := e.count(`SELECT count(*) FROM orgs o WHERE o.member_count <> (SELECT count(*) FROM memberships x WHERE x.org_id = o.id)
		OR o.team_count <> (SELECT count(*) FROM teams x WHERE x.org_id = o.id)
		OR o.agent_count <> (SELECT count(*) FROM agents x WHERE x.org_id = o.id)`); n != 0 {
		t.Fatalf("%s: %d orgs with a wrong count", when, n)
	}
	checkMemberOrder(t, e, when)
}

// Orgs keep exact member, team and agent counts through concurrent creates,
// a move between orgs and deletions; the overview reads them.
func TestOrgCountsStayExact(t *testing.T) {
	e := newTG(t)
	owner, acc := e.user("Owner")
	org := e.org(owner, "Busy org")
	e.exec(`UPDATE orgs SET limit_agents = 100, limit_team_members = 100 WHERE id = $1`, org)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			_, err := e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: fmt.Sprintf("Bot %02d", i)})
			errs <- err
		}(i)
		go func(i int) {
			defer wg.Done()
			m, _ := e.user(fmt.Sprintf("Joiner%02d", i))
			e.join(org, m, model.RoleMember)
			errs <- nil
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	e.team(owner, org, "A")
	checkCounters(t, e, "after concurrent creates")
	// An agent moves from the owner's personal workspace into the org.
	mine := e.agent(owner, acc.PersonalOrgID, "Mine")
	if _, err := e.s.MoveAgentToOrg(e.ctx, owner, mine.ID, org); err != nil {
		t.Fatal(err)
	}
	checkCounters(t, e, "after a move")
	ov, err := e.s.Overview(e.ctx, org)
	if err != nil || ov.Members != 21 || ov.Agents != 21 || ov.Teams != 1 {
		t.Fatalf("overview %+v %v; want 21 members, 21 agents, 1 team", ov, err)
	}
}

func grantID(t *testing.T, e *tgEnv, teamID, agentID int64) int64 {
	t.Helper()
	return int64(e.count(`SELECT id FROM grants WHERE team_id = $1 AND resource_id = $2`, teamID, agentID))
}
