package db_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestTeamManagementRights: admins create and delete teams; maintainers
// manage their own team (members, grants, rename) but no other; plain members
// only leave; every refusal is audited.
func TestTeamManagementRights(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	maint, _ := e.user("Maint")
	member, _ := e.user("Member")
	other, _ := e.user("Other")
	bill, _ := e.user("Billing")
	org := e.org(owner, "Teams Inc")
	e.join(org, maint, model.RoleMember)
	e.join(org, member, model.RoleMember)
	e.join(org, other, model.RoleMember)
	e.join(org, bill, model.RoleBilling)
	ag := e.agent(owner, org, "Bot")

	// Only owners and admins create teams.
	_, err := e.s.CreateTeam(e.ctx, member, org, model.TeamInput{Name: "Rogue"})
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "team.created", model.OutcomeDenied, 1)
	_, err = e.s.CreateTeam(e.ctx, owner, org, model.TeamInput{Name: "  "})
	wantCode(t, err, model.CodeValidation)
	core := e.team(owner, org, "Core")
	_, err = e.s.CreateTeam(e.ctx, owner, org, model.TeamInput{Name: "core"})
	wantCode(t, err, model.CodeConflict) // a taken name
	side := e.team(owner, org, "Side")

	if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, maint.AccountID, "maintainer"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.SetTeamMember(e.ctx, owner, org, core.ID, member.AccountID, "boss")
	wantCode(t, err, model.CodeValidation)

	// The maintainer manages Core: members, grants, name.
	m, err := e.s.SetTeamMember(e.ctx, maint, org, core.ID, member.AccountID, "member")
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != model.TeamMember || m.Email != member.Email || m.OrgRole != model.RoleMember {
		t.Errorf("team member = %+v", m)
	}
	// A maintainer who is a plain member grants only what they hold: Bot is
	// invisible to them (404, audited), their own agent they may grant.
	_, err = e.s.SetGrant(e.ctx, maint, org, core.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "write"})
	wantCode(t, err, model.CodeNotFound)
	e.wantAudit(org, "grant.set", model.OutcomeDenied, 1)
	mine := e.agent(maint, org, "Maint bot")
	if _, err := e.s.SetGrant(e.ctx, maint, org, core.ID, db.SetGrantInput{ResourceID: mine.ID, Permission: "write"}); err != nil {
		t.Fatal(err)
	}
	// Read through a team lets them grant read, not more.
	if _, err := e.s.SetGrant(e.ctx, owner, org, side.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "read"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, side.ID, maint.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.SetGrant(e.ctx, maint, org, core.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "admin"})
	wantCode(t, err, model.CodeForbidden)
	if _, err := e.s.SetGrant(e.ctx, maint, org, core.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "read"}); err != nil {
		t.Fatal(err)
	}
	renamed, err := e.s.UpdateTeam(e.ctx, maint, org, core.ID, db.UpdateTeamInput{Name: ptr("Core team"), Description: ptr("The core")})
	if err != nil || renamed.Name != "Core team" || renamed.Description != "The core" {
		t.Fatalf("rename = %+v, %v", renamed, err)
	}
	rs, err := e.s.Resources(e.ctx, maint, org, "agent")
	if err != nil || len(rs) != 2 { // their own agent and Bot (read through Side)
		t.Errorf("maintainer resources = %v, %v", rs, err)
	}
	// The API's pages of the same list: one a page here.
	for page := 1; page <= 3; page++ {
		got, total, err := e.s.ResourcesPage(e.ctx, maint, org, "agent", page, 1)
		if want := rs[min(page-1, len(rs)):min(page, len(rs))]; err != nil || total != 2 || !reflect.DeepEqual(got, want) {
			t.Errorf("maintainer resources page %d = %v of %d, %v; want %v of 2", page, got, total, err, want)
		}
	}
	_, _, err = e.s.ResourcesPage(e.ctx, member, org, "agent", 1, 10)
	wantCode(t, err, model.CodeForbidden)
	// ...but not Side, and cannot create or delete teams.
	_, err = e.s.SetTeamMember(e.ctx, maint, org, side.ID, other.AccountID, "member")
	wantCode(t, err, model.CodeForbidden)
	err = e.s.DeleteTeam(e.ctx, maint, org, core.ID)
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "team.member_added", model.OutcomeDenied, 1)
	e.wantAudit(org, "team.deleted", model.OutcomeDenied, 1)

	// A plain team member cannot manage, and cannot list resources.
	_, err = e.s.SetTeamMember(e.ctx, member, org, core.ID, other.AccountID, "member")
	wantCode(t, err, model.CodeForbidden)
	_, err = e.s.UpdateTeam(e.ctx, member, org, core.ID, db.UpdateTeamInput{Name: ptr("Mine")})
	wantCode(t, err, model.CodeForbidden)
	_, err = e.s.Resources(e.ctx, member, org, "agent")
	wantCode(t, err, model.CodeForbidden)
	_, err = e.s.Resources(e.ctx, bill, org, "agent")
	wantCode(t, err, model.CodeForbidden)
	err = e.s.RemoveTeamMember(e.ctx, member, org, core.ID, maint.AccountID)
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "team.member_removed", model.OutcomeDenied, 1)

	// Detail: any org member sees it; members sorted maintainers first.
	d, err := e.s.Team(e.ctx, bill.AccountID, org, core.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Members) != 2 || d.Members[0].AccountID != maint.AccountID || len(d.Grants) != 2 || d.Grants[0].ResourceName != "Bot" {
		t.Errorf("detail = %+v", d)
	}
	if d.CanManage() {
		t.Error("billing can manage a team")
	}
	if d, _ := e.s.Team(e.ctx, maint.AccountID, org, core.ID); !d.CanManage() {
		t.Error("maintainer cannot manage their team")
	}
	ts, total, err := e.s.Teams(e.ctx, member.AccountID, org, 1, 0)
	if err != nil || len(ts) != 2 || total != 2 || ts[0].Name != "Core team" || ts[0].MemberCount != 2 || ts[0].GrantCount != 2 || ts[0].ViewerRole != model.TeamMember {
		t.Errorf("teams = %+v, %v", ts, err)
	}
	_, _, err = e.s.Teams(e.ctx, e.mustUser("Stranger").AccountID, org, 1, 0)
	wantCode(t, err, model.CodeNotFound)

	// Changing a team role is audited as such.
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, member.AccountID, "maintainer"); err != nil {
		t.Fatal(err)
	}
	e.wantAudit(org, "team.member_role_changed", model.OutcomeSuccess, 1)
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, member.AccountID, "member"); err != nil {
		t.Fatal(err)
	}

	// Leaving is allowed to anyone.
	if err := e.s.RemoveTeamMember(e.ctx, member, org, core.ID, member.AccountID); err != nil {
		t.Fatal(err)
	}
	err = e.s.RemoveTeamMember(e.ctx, member, org, core.ID, member.AccountID)
	wantCode(t, err, model.CodeNotFound)
	e.wantAudit(org, "team.member_removed", model.OutcomeSuccess, 1)

	// Deleting a team drops its memberships and grants.
	if err := e.s.DeleteTeam(e.ctx, owner, org, core.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM grants WHERE team_id = $1`, core.ID) + e.count(`SELECT count(*) FROM team_members WHERE team_id = $1`, core.ID); n != 0 {
		t.Errorf("%d rows left after delete", n)
	}
	e.wantAudit(org, "team.deleted", model.OutcomeSuccess, 1)
	e.wantAudit(org, "team.updated", model.OutcomeSuccess, 1)
	e.wantAudit(org, "team.updated", model.OutcomeDenied, 1)
}

func (e *tgEnv) mustUser(name string) model.Actor {
	a, _ := e.user(name)
	return a
}

// TestRemovingMemberLeavesTeams: leaving or being removed from the org takes
// the account out of every team of the org, and its grants with it.
func TestRemovingMemberLeavesTeams(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	member, _ := e.user("Member")
	org := e.org(owner, "Leavers")
	other := e.org(owner, "Stayers")
	e.join(org, member, model.RoleMember)
	e.join(other, member, model.RoleMember)
	ag := e.agent(owner, org, "Bot")
	for _, name := range []string{"One", "Two"} {
		tm := e.team(owner, org, name)
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, member.AccountID, "maintainer"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	keep := e.team(owner, other, "Elsewhere")
	if _, err := e.s.SetTeamMember(e.ctx, owner, other, keep.ID, member.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	e.wantAccess(member, ag.ID, model.PermAdmin, model.SourceTeamGrant)
	if err := e.s.RemoveMember(e.ctx, owner, org, member.AccountID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM team_members WHERE account_id = $1 AND org_id = $2`, member.AccountID, org); n != 0 {
		t.Errorf("still in %d teams of the org", n)
	}
	if n := e.count(`SELECT count(*) FROM team_members WHERE account_id = $1 AND org_id = $2`, member.AccountID, other); n != 1 {
		t.Errorf("in %d teams of the other org, want 1", n)
	}
	e.wantAccess(member, ag.ID, model.PermNone, model.SourceNoMembership)
	// Rejoining does not bring the teams back.
	e.join(org, member, model.RoleMember)
	e.wantAccess(member, ag.ID, model.PermNone, model.SourceNone)
}

// TestOrgWithAgentsCannotBeDeleted: the refusal is a conflict listing them.
func TestOrgWithAgentsCannotBeDeleted(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Keeper")
	var slug string
	if err := e.s.DB().Get(&slug, `SELECT slug FROM orgs WHERE id = $1`, org); err != nil {
		t.Fatal(err)
	}
	a1 := e.agent(owner, org, "First bot")
	e.agent(owner, org, "Second bot")
	err := e.s.DeleteOrg(e.ctx, owner, org, slug)
	wantCode(t, err, model.CodeConflict)
	me, _ := model.AsError(err)
	bs, ok := me.Details.(map[string]any)["blockers"].([]db.Blocker)
	if !ok || len(bs) != 2 || bs[0].Kind != "agent" || bs[0].Label != "First bot" || bs[0].ID != a1.ID {
		t.Errorf("blockers = %#v", me.Details)
	}
	for _, want := range []string{"First bot", "Second bot"} {
		if !strings.Contains(me.Message, want) {
			t.Errorf("message %q does not name %q", me.Message, want)
		}
	}
	for _, a := range bs {
		if err := e.s.DeleteAgent(e.ctx, owner, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.DeleteOrg(e.ctx, owner, org, slug); err != nil {
		t.Fatalf("delete after removing agents: %v", err)
	}
}

// TestDemotedToBillingLeavesTeams: billing members cannot be in teams, so a
// demotion to billing takes the member out of every team of the org (each
// audited), and promoting them back does not silently restore old grants.
func TestDemotedToBillingLeavesTeams(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	member, _ := e.user("Member")
	org := e.org(owner, "Demoters")
	e.join(org, member, model.RoleMember)
	ag := e.agent(owner, org, "Bot")
	for _, name := range []string{"One", "Two"} {
		tm := e.team(owner, org, name)
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, member.AccountID, "maintainer"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	e.wantAccess(member, ag.ID, model.PermAdmin, model.SourceTeamGrant)
	if _, err := e.s.ChangeRole(e.ctx, owner, org, member.AccountID, "billing"); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM team_members WHERE org_id = $1 AND account_id = $2`, org, member.AccountID); n != 0 {
		t.Errorf("billing member still in %d teams", n)
	}
	e.wantAudit(org, "team.member_removed", model.OutcomeSuccess, 2)
	e.wantAccess(member, ag.ID, model.PermRead, model.SourceBillingRole)
	if _, err := e.s.ChangeRole(e.ctx, owner, org, member.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	e.wantAccess(member, ag.ID, model.PermNone, model.SourceNone)

	// Concurrent add-to-team and demotion never leave a billing member in a team.
	tm := e.team(owner, org, "Race")
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, _ = e.s.SetTeamMember(e.ctx, owner, org, tm.ID, member.AccountID, "member")
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _ = e.s.ChangeRole(e.ctx, owner, org, member.AccountID, "billing")
		}()
		close(start)
		wg.Wait()
		if n := e.count(`SELECT count(*) FROM team_members tm JOIN memberships m ON m.org_id = tm.org_id AND m.account_id = tm.account_id
			WHERE m.role = 'billing'`); n != 0 {
			t.Fatalf("round %d: a billing member is in a team", round)
		}
		if _, err := e.s.ChangeRole(e.ctx, owner, org, member.AccountID, "member"); err != nil {
			t.Fatal(err)
		}
		e.exec(`DELETE FROM team_members WHERE team_id = $1`, tm.ID)
	}
}

// TestTeamGrantsByAgentName: a team's grants are listed by their agent's name
// (any case, then grant id), a page at a time, and follow a renamed agent (the
// name each grant carries, 00012); one grant loads alone; the pickers leave
// out the team's members, billing members and granted agents, and match
// what is typed in a name or an email, in any case.
func TestTeamGrantsByAgentName(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	zed, _ := e.user("Zed")
	amy, _ := e.user("amy")
	bill, _ := e.user("Bill")
	out, _ := e.user("Outsider")
	org := e.org(owner, "Names Inc")
	e.join(org, zed, model.RoleMember)
	e.join(org, amy, model.RoleMember)
	e.join(org, bill, model.RoleBilling)
	core := e.team(owner, org, "Core")
	var ids []int64
	for _, n := range []string{"charlie", "Alpha", "bravo", "Delta"} {
		a := e.agent(owner, org, n)
		ids = append(ids, a.ID)
		if _, err := e.s.SetGrant(e.ctx, owner, org, core.ID, db.SetGrantInput{ResourceID: a.ID, Permission: "read"}); err != nil {
			t.Fatal(err)
		}
	}
	free := e.agent(owner, org, "Echo")
	names := func(page, per int) string {
		d, err := e.s.TeamPage(e.ctx, owner.AccountID, org, core.ID, page, per)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, g := range d.Grants {
			ns = append(ns, g.ResourceName)
			if g.TeamName != "Core" {
				t.Errorf("grant %d team name %q", g.ID, g.TeamName)
			}
		}
		return strings.Join(ns, ",")
	}
	if got := names(1, 0); got != "Alpha,bravo,charlie,Delta" {
		t.Errorf("grants = %s", got)
	}
	if got := names(2, 3); got != "Delta" {
		t.Errorf("page 2 of 3 = %s", got)
	}
	// Renaming an agent moves its grant.
	if _, err := e.s.UpdateAgent(e.ctx, owner, ids[0], db.UpdateAgentInput{Name: ptr("Aardvark")}); err != nil {
		t.Fatal(err)
	}
	if got := names(1, 0); got != "Aardvark,Alpha,bravo,Delta" {
		t.Errorf("after the rename: %s", got)
	}
	d, err := e.s.TeamPage(e.ctx, owner.AccountID, org, core.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	g, td, err := e.s.TeamGrant(e.ctx, owner.AccountID, org, core.ID, d.Grants[0].ID)
	if err != nil || g.ResourceName != "Aardvark" || !td.CanManage() {
		t.Errorf("one grant = %+v %v", g, err)
	}
	_, _, err = e.s.TeamGrant(e.ctx, owner.AccountID, org, core.ID+1000, d.Grants[0].ID)
	wantCode(t, err, model.CodeNotFound)
	_, _, err = e.s.TeamGrant(e.ctx, out.AccountID, org, core.ID, d.Grants[0].ID)
	wantCode(t, err, model.CodeNotFound)

	// The grant picker: only Echo is not granted.
	rs, err := e.s.TeamGrantCandidates(e.ctx, owner.AccountID, td, "", 20)
	if err != nil || len(rs) != 1 || rs[0].ID != free.ID {
		t.Errorf("grant candidates = %+v %v", rs, err)
	}
	if rs, _ := e.s.TeamGrantCandidates(e.ctx, owner.AccountID, td, "CH", 20); len(rs) != 1 {
		t.Errorf("grant candidates matching CH = %+v", rs)
	}
	if rs, _ := e.s.TeamGrantCandidates(e.ctx, owner.AccountID, td, "zzz", 20); len(rs) != 0 {
		t.Errorf("grant candidates matching zzz = %+v", rs)
	}
	// A plain member gets none.
	if zd, err := e.s.TeamHead(e.ctx, zed.AccountID, org, core.ID); err != nil {
		t.Fatal(err)
	} else if _, err := e.s.TeamGrantCandidates(e.ctx, zed.AccountID, zd, "", 20); err == nil {
		t.Error("a plain member lists grant candidates")
	}

	// The member picker: Zed joins Core, so only the owner and amy may join.
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, zed.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	pick := func(who model.Actor, p db.MemberPick) string {
		ms, err := e.s.PickMembers(e.ctx, who.AccountID, org, p)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, m := range ms {
			ns = append(ns, m.Name)
		}
		return strings.Join(ns, ",")
	}
	if got := pick(owner, db.MemberPick{NotTeam: core.ID}); got != "amy,Owner" {
		t.Errorf("may join = %s", got)
	}
	if got := pick(owner, db.MemberPick{}); got != "amy,Bill,Owner,Zed" {
		t.Errorf("members = %s", got)
	}
	if got := pick(owner, db.MemberPick{Query: " ZE "}); got != "Zed" {
		t.Errorf("members matching ZE = %s", got)
	}
	if got := pick(owner, db.MemberPick{Query: strings.ToUpper(bill.Email)}); got != "Bill" {
		t.Errorf("members matching Bill's email = %s", got)
	}
	if got := pick(owner, db.MemberPick{Limit: 2}); got != "amy,Bill" {
		t.Errorf("first 2 = %s", got)
	}
	if got := pick(out, db.MemberPick{}); got != "" {
		t.Errorf("an outsider lists %s", got)
	}

	// A maintainer who is a plain member picks among the agents they read,
	// less those the team holds: only their own.
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, amy.AccountID, "maintainer"); err != nil {
		t.Fatal(err)
	}
	mine := e.agent(amy, org, "Amy bot")
	ad, err := e.s.TeamHead(e.ctx, amy.AccountID, org, core.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := e.s.TeamGrantCandidates(e.ctx, amy.AccountID, ad, "", 20); err != nil || len(rs) != 1 || rs[0].ID != mine.ID {
		t.Errorf("maintainer's grant candidates = %+v %v", rs, err)
	}

	// A part is matched as typed: LIKE's own % and _ are plain characters.
	pct := e.agent(owner, org, "Half 50% off")
	e.agent(owner, org, "Half 50x off")
	if rs, _ := e.s.TeamGrantCandidates(e.ctx, owner.AccountID, td, "50% O", 20); len(rs) != 1 || rs[0].ID != pct.ID {
		t.Errorf("grant candidates matching 50%% O = %+v", rs)
	}
	if rs, _ := e.s.TeamGrantCandidates(e.ctx, owner.AccountID, td, "_", 20); len(rs) != 0 {
		t.Errorf("grant candidates matching _ = %+v", rs)
	}
	if got := pick(owner, db.MemberPick{Query: "%"}); got != "" {
		t.Errorf("members matching %% = %s", got)
	}
}

// TestTeamScreen: the team page's one statement reads what TeamPage and its
// members query read (the same members in the same order, the same page of
// grants), for every page, an empty team, a team of another org and a
// viewer outside the org.
func TestTeamScreen(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	out, _ := e.user("Outsider")
	org := e.org(owner, "Screen Inc")
	other := e.org(out, "Elsewhere")
	core := e.team(owner, org, "Core")
	empty := e.team(owner, org, "Empty")
	theirs := e.team(out, other, "Theirs")
	var adam model.Actor
	for i, n := range []string{"zoe", "Adam", "bea", "Carl"} {
		u, _ := e.user(n)
		if n == "Adam" {
			adam = u
		}
		e.join(org, u, model.RoleMember)
		role := "member"
		if i == 2 {
			role = "maintainer"
		}
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, u.AccountID, role); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"charlie", "Alpha", "bravo", "Delta", "echo"} {
		a := e.agent(owner, org, n)
		if _, err := e.s.SetGrant(e.ctx, owner, org, core.ID, db.SetGrantInput{ResourceID: a.ID, Permission: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	strip := func(d model.TeamDetail) model.TeamDetail {
		d.CreatedAt, d.UpdatedAt, d.GrantsVersion = time.Time{}, time.Time{}, 0
		for i := range d.Members {
			d.Members[i].CreatedAt = time.Time{}
		}
		for i := range d.Grants {
			d.Grants[i].CreatedAt, d.Grants[i].UpdatedAt = time.Time{}, time.Time{}
		}
		return d
	}
	for _, team := range []int64{core.ID, empty.ID} {
		for page := 0; page <= 4; page++ {
			want, err := e.s.TeamPage(e.ctx, owner.AccountID, org, team, page, 2)
			if err != nil {
				t.Fatal(err)
			}
			all := want.Members
			for mp := 0; mp <= 4; mp++ {
				// TeamPage reads every member: the screen's page mp of 2
				// is its slice.
				from := min((max(mp, 1)-1)*2, len(all))
				want.Members = all[from:min(from+2, len(all))]
				got, err := e.s.TeamScreen(e.ctx, owner.AccountID, org, team, mp, 2, page, 2)
				if err != nil {
					t.Fatal(err)
				}
				if w, g := fmt.Sprintf("%+v", strip(want)), fmt.Sprintf("%+v", strip(got)); w != g {
					t.Errorf("team %d members page %d grants page %d:\n got %s\nwant %s", team, mp, page, g, w)
				}
			}
		}
	}
	d, _ := e.s.TeamScreen(e.ctx, owner.AccountID, org, core.ID, 1, 20, 1, 25)
	var names []string
	for _, m := range d.Members {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); len(d.Grants) != 5 || got != "bea,Adam,Carl,Owner,zoe" && got != "bea,Adam,Carl,zoe" {
		t.Errorf("members %s, %d grants", got, len(d.Grants))
	}
	// The order is stored (00022): a rename moves the member, a new
	// maintainer goes first, and both pages agree with TeamPage.
	if _, err := e.s.UpdateProfile(e.ctx, adam, "Yves"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, owner.AccountID, "maintainer"); err != nil {
		t.Fatal(err)
	}
	var pages []string
	for mp := 1; mp <= 3; mp++ {
		d, err := e.s.TeamScreen(e.ctx, owner.AccountID, org, core.ID, mp, 2, 1, 25)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range d.Members {
			names = append(names, m.Name)
		}
		pages = append(pages, strings.Join(names, ","))
	}
	if got := strings.Join(pages, " | "); got != "bea,Owner | Carl,Yves | zoe" {
		t.Errorf("pages of 2 after the rename: %s", got)
	}
	_, err := e.s.TeamScreen(e.ctx, owner.AccountID, org, theirs.ID, 1, 20, 1, 25)
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.TeamScreen(e.ctx, out.AccountID, org, core.ID, 1, 20, 1, 25)
	wantCode(t, err, model.CodeNotFound)
}

// TestTeamAPIHeadMatchesItsParts: the API's one head statement reads, field
// by field (times included), the team and members TeamPage reads through
// sqlx (TeamHead and its members query), for a team with members (a
// maintainer first), an empty team, a viewer in the team and one not, and
// finds neither another org's team nor anything for an outsider.
func TestTeamAPIHeadMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	out, _ := e.user("Outsider")
	org := e.org(owner, "Heads Inc")
	other := e.org(out, "Elsewhere")
	core := e.team(owner, org, "Core")
	empty := e.team(owner, org, "Empty")
	theirs := e.team(out, other, "Theirs")
	var viewers []model.Actor
	for i, n := range []string{"zoe", "Adam", "bea", "Carl"} {
		u, _ := e.user(n)
		e.join(org, u, model.RoleMember)
		viewers = append(viewers, u)
		role := "member"
		if i == 2 {
			role = "maintainer"
		}
		if _, err := e.s.SetTeamMember(e.ctx, owner, org, core.ID, u.AccountID, role); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(time.Minute)
	if _, err := e.s.UpdateTeam(e.ctx, owner, org, core.ID, db.UpdateTeamInput{Description: ptr("the core")}); err != nil {
		t.Fatal(err)
	}
	for _, v := range append([]model.Actor{owner}, viewers[2], viewers[0]) {
		for _, team := range []int64{core.ID, empty.ID} {
			want, err := e.s.TeamPage(e.ctx, v.AccountID, org, team, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			want.Grants = nil
			got, err := e.s.TeamAPIHead(e.ctx, v.AccountID, org, team)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("viewer %d team %d:\n got %+v\nwant %+v", v.AccountID, team, got, want)
			}
			if team == core.ID && (len(got.Members) != 4 || got.Members[0].Name != "bea" || got.Description != "the core") {
				t.Errorf("core read as %+v", got)
			}
		}
	}
	_, err := e.s.TeamAPIHead(e.ctx, owner.AccountID, org, theirs.ID)
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.TeamAPIHead(e.ctx, out.AccountID, org, core.ID)
	wantCode(t, err, model.CodeNotFound)
}

// TestTeamGrantsVersion: every change to a team's grants (a grant, a new
// level, its agent renamed, its removal, the agent deleted) moves the
// team's grants version, read by TeamHead; another team's does not move.
func TestTeamGrantsVersion(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Versions Inc")
	core := e.team(owner, org, "Core")
	other := e.team(owner, org, "Other")
	version := func(team int64) int64 {
		t.Helper()
		d, err := e.s.TeamHead(e.ctx, owner.AccountID, org, team)
		if err != nil {
			t.Fatal(err)
		}
		return d.GrantsVersion
	}
	last, lastOther := version(core.ID), version(other.ID)
	moved := func(what string) {
		t.Helper()
		v := version(core.ID)
		if v == last {
			t.Errorf("%s: the grants version stayed %d", what, v)
		}
		if o := version(other.ID); o != lastOther {
			t.Errorf("%s: the other team's version moved", what)
		}
		last = v
	}
	a := e.agent(owner, org, "Scribe")
	g, err := e.s.SetGrant(e.ctx, owner, org, core.ID, db.SetGrantInput{ResourceID: a.ID, Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	moved("grant")
	if _, err := e.s.SetGrant(e.ctx, owner, org, core.ID, db.SetGrantInput{ResourceID: a.ID, Permission: "admin"}); err != nil {
		t.Fatal(err)
	}
	moved("new level")
	if _, err := e.s.UpdateAgent(e.ctx, owner, a.ID, db.UpdateAgentInput{Name: ptr("Scribe 2")}); err != nil {
		t.Fatal(err)
	}
	moved("agent renamed")
	if err := e.s.RemoveGrant(e.ctx, owner, org, core.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	moved("grant removed")
	if _, err := e.s.SetGrant(e.ctx, owner, org, core.ID, db.SetGrantInput{ResourceID: a.ID}); err != nil {
		t.Fatal(err)
	}
	moved("granted again")
	if err := e.s.DeleteAgent(e.ctx, owner, a.ID); err != nil {
		t.Fatal(err)
	}
	moved("agent deleted")
}

// TestResourcesPages: GET /api/orgs/{org}/resources pages an owner's list
// of every agent in name order, with the org's count as its total, and
// agrees with the whole list at every page size.
func TestResourcesPages(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Many")
	// Names out of id order, some the same, one differing only in case.
	e.exec(`INSERT INTO agents (org_id, created_by, name) SELECT $1::bigint, $2::bigint, 'Agent ' || (i * 7919 % 200) FROM generate_series(1, 250) i
		UNION ALL SELECT $1, $2, 'agent 3'`, org, owner.AccountID)
	all, err := e.s.Resources(e.ctx, owner, org, "agent")
	if err != nil || len(all) != 251 {
		t.Fatalf("resources = %d, %v", len(all), err)
	}
	for _, per := range []int{1, 7, 100} {
		var got []model.Resource
		for page := 1; ; page++ {
			rs, total, err := e.s.ResourcesPage(e.ctx, owner, org, "agent", page, per)
			if err != nil || total != 251 {
				t.Fatalf("per %d page %d: total %d, %v", per, page, total, err)
			}
			if len(rs) > per {
				t.Fatalf("per %d page %d: %d rows", per, page, len(rs))
			}
			if len(rs) == 0 {
				if page != model.TotalPages(total, per)+1 {
					t.Errorf("per %d: empty page %d, want %d", per, page, model.TotalPages(total, per)+1)
				}
				break
			}
			got = append(got, rs...)
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("per %d: pages list %d resources unlike the whole list", per, len(got))
		}
	}
	// Past the most a page holds: the most.
	if rs, _, err := e.s.ResourcesPage(e.ctx, owner, org, "agent", 1, 1000); err != nil || len(rs) != db.ResourcesPerPage {
		t.Errorf("per_page 1000 = %d rows, %v", len(rs), err)
	}
	// None asked: the API's default page.
	if rs, _, err := e.s.ResourcesPage(e.ctx, owner, org, "agent", 1, 0); err != nil || len(rs) != model.DefaultPerPage {
		t.Errorf("per_page 0 = %d rows, %v", len(rs), err)
	}
	if _, _, err := e.s.ResourcesPage(e.ctx, owner, org, "planet", 1, 10); err == nil {
		t.Error("kind planet listed")
	}
}
