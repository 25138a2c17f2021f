package db_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"guildhall/db"
	"guildhall/db/model"
)

// TestListAgentsAcrossOrgs: the agents list of every org an account is in
// (the API's GET /api/agents without ?org) holds exactly the agents it can
// read, in name order across its orgs, with their total, page after page at
// any page size: whole orgs it owns, administers or reads by the base
// permission, its own agents and its teams' grants where it is a plain
// member, and nothing of an org it is not in.
func TestListAgentsAcrossOrgs(t *testing.T) {
	e := newTG(t)
	viewer, _ := e.user("Viewer Person")
	boss, _ := e.user("Boss Person")
	outsider, _ := e.user("Outsider Person")

	var all []model.Agent // every agent of every org involved
	add := func(who model.Actor, org int64, names ...string) {
		e.exec(`UPDATE orgs SET limit_agents = 100 WHERE id = $1`, org)
		for _, n := range names {
			all = append(all, e.agent(who, org, n))
		}
	}
	owned := e.org(viewer, "Owned")
	add(viewer, owned, "zeta", "Alpha", "alpha", "Mango", "beta", "Émile", "omega", "Kilo", "kilo", "delta", "Echo", "golf", "hotel")
	administered := e.org(boss, "Administered")
	e.join(administered, viewer, model.RoleAdmin)
	add(boss, administered, "alpha", "Bravo", "charlie", "Zulu", "yankee", "x-ray", "whiskey")
	granted := e.org(boss, "Granted") // base none: own agents and grants only
	e.join(granted, viewer, model.RoleMember)
	add(boss, granted, "apple", "banana", "cherry", "date", "elder", "fig", "grape", "honeydew", "kiwi", "lemon")
	add(viewer, granted, "mine one", "Mine two")
	team := e.team(boss, granted, "Readers")
	if _, err := e.s.SetTeamMember(e.ctx, boss, granted, team.ID, viewer.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.OrgID == granted && (a.Name == "banana" || a.Name == "fig" || a.Name == "Mine two") {
			if _, err := e.s.SetGrant(e.ctx, boss, granted, team.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: a.ID, Permission: "write"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An admin in a team with a grant: the grant changes nothing (the role
	// gives admin), and the list must say so as the single read does.
	adminTeam := e.team(boss, administered, "Admins too")
	if _, err := e.s.SetTeamMember(e.ctx, boss, administered, adminTeam.ID, viewer.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.OrgID == administered && a.Name == "charlie" {
			if _, err := e.s.SetGrant(e.ctx, boss, administered, adminTeam.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: a.ID, Permission: "read"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	based := e.org(boss, "Based")
	e.exec(`UPDATE orgs SET member_base_permission = 'read' WHERE id = $1`, based)
	e.join(based, viewer, model.RoleMember)
	add(boss, based, "Based one", "based two", "alpha")
	// A member reading every agent by the base permission, and one above it
	// by a team grant.
	writers := e.team(boss, based, "Writers")
	if _, err := e.s.SetTeamMember(e.ctx, boss, based, writers.ID, viewer.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetGrant(e.ctx, boss, based, writers.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: all[len(all)-2].ID, Permission: "write"}); err != nil {
		t.Fatal(err)
	}
	add(viewer, e.personalOrg(viewer), "personal bot")
	add(outsider, e.org(outsider, "Elsewhere"), "aardvark", "secret")

	// What the viewer reads, by the single read, in the list's order, and
	// at what level from which rule.
	var want []int64
	level := map[int64]string{}
	for _, a := range all {
		if one, err := e.s.GetAgent(e.ctx, viewer.AccountID, a.ID); err == nil {
			want = append(want, a.ID)
			level[a.ID] = fmt.Sprintf("%s by %s (team %d)", one.Permission, one.Source.Rule, one.Source.TeamID)
		}
	}
	// Every list, whole or one org, gives each agent the single read's level.
	checkLevels := func(as []model.Agent) {
		t.Helper()
		for _, a := range as {
			if got := fmt.Sprintf("%s by %s (team %d)", a.Permission, a.Source.Rule, a.Source.TeamID); got != level[a.ID] {
				t.Errorf("%s (org %d): listed at %s, the single read says %s", a.Name, a.OrgID, got, level[a.ID])
			}
		}
	}
	for _, org := range []int64{0, owned, administered, granted, based} {
		p, err := e.s.ListAgents(e.ctx, viewer.AccountID, db.AgentFilter{OrgID: org, PerPage: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Agents) == 0 {
			t.Fatalf("org %d: nothing listed", org)
		}
		checkLevels(p.Agents)
	}
	name := map[int64]string{}
	for _, a := range all {
		name[a.ID] = strings.ToLower(a.Name)
	}
	slices.SortFunc(want, func(a, b int64) int {
		if c := strings.Compare(name[a], name[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	// 13 + 7 + (2 own + 2 granted) + 3 + 1: not the 8 other agents of
	// Granted, nor the outsider's.
	if len(want) != 28 {
		t.Fatalf("the single read gives %d agents, want 28", len(want))
	}
	for _, per := range []int{1, 2, 3, 5, 7, 25, 26, 50, 200} {
		var got []int64
		for page := 1; ; page++ {
			p, err := e.s.ListAgents(e.ctx, viewer.AccountID, db.AgentFilter{Page: page, PerPage: per})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != len(want) {
				t.Errorf("per page %d, page %d: total %d, want %d", per, page, p.Total, len(want))
			}
			for _, a := range p.Agents {
				got = append(got, a.ID)
			}
			if len(p.Agents) == 0 {
				break
			}
			if page > len(want)+1 {
				t.Fatalf("per page %d: no end", per)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("per page %d: listed\n%v\nwant\n%v", per, got, want)
		}
	}

	// One whole org, owned (the fixed query for a viewer who reads all of
	// it): pages past the middle are counted from the end, the last one
	// partial, and a page past the end is empty but still says how many.
	var ownedWant []int64
	for _, id := range want {
		for _, a := range all {
			if a.ID == id && a.OrgID == owned {
				ownedWant = append(ownedWant, id)
			}
		}
	}
	for _, per := range []int{1, 2, 3, 4, 5, 6, 7, 12, 13, 25} {
		var got []int64
		for page := 1; page <= len(ownedWant)+2; page++ {
			p, err := e.s.ListAgents(e.ctx, viewer.AccountID, db.AgentFilter{OrgID: owned, Page: page, PerPage: per})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != len(ownedWant) {
				t.Errorf("owned org, per page %d, page %d: total %d, want %d", per, page, p.Total, len(ownedWant))
			}
			if len(p.Agents) > per {
				t.Errorf("owned org, per page %d, page %d: %d agents", per, page, len(p.Agents))
			}
			for _, a := range p.Agents {
				got = append(got, a.ID)
			}
		}
		if !slices.Equal(got, ownedWant) {
			t.Errorf("owned org, per page %d: listed\n%v\nwant\n%v", per, got, ownedWant)
		}
	}

	// The same org by "Next" and "Previous": each page from the agent
	// before or after it, as the agents page links them, gives the pages
	// by number.
	list := func(f db.AgentFilter) db.AgentPage {
		t.Helper()
		f.OrgID = owned
		p, err := e.s.ListAgents(e.ctx, viewer.AccountID, f)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := func(p db.AgentPage) []int64 {
		var out []int64
		for _, a := range p.Agents {
			out = append(out, a.ID)
		}
		return out
	}
	for _, per := range []int{1, 2, 3, 4, 5, 6, 7, 12, 13, 25} {
		byNumber := map[int][]int64{}
		last := (len(ownedWant) + per - 1) / per
		for page := 1; page <= last; page++ {
			byNumber[page] = ids(list(db.AgentFilter{Page: page, PerPage: per}))
		}
		p := list(db.AgentFilter{Page: 1, PerPage: per})
		if !p.Keyset {
			t.Fatalf("per page %d: the owner's list should page by agent", per)
		}
		for page := 2; page <= last; page++ {
			p = list(db.AgentFilter{Page: page, PerPage: per, After: p.Agents[len(p.Agents)-1].ID})
			if got := ids(p); !slices.Equal(got, byNumber[page]) || p.Total != len(ownedWant) {
				t.Errorf("per page %d, next to page %d: %v (total %d), want %v", per, page, got, p.Total, byNumber[page])
			}
		}
		for page := last - 1; page >= 1; page-- {
			p = list(db.AgentFilter{Page: page, PerPage: per, Before: p.Agents[0].ID})
			if got := ids(p); !slices.Equal(got, byNumber[page]) || p.Total != len(ownedWant) {
				t.Errorf("per page %d, previous to page %d: %v (total %d), want %v", per, page, got, p.Total, byNumber[page])
			}
		}
	}
	// An agent of another org, or one that cannot start or end a page of
	// that number (too few agents after or before it), gives the page by
	// number. Otherwise the page is the agents after or before it, whatever
	// the number says: the number only labels the page.
	elsewhere := all[len(all)-1].ID // the outsider's
	for _, f := range []db.AgentFilter{
		{Page: 2, PerPage: 5, After: elsewhere},
		{Page: 2, PerPage: 5, Before: elsewhere},
		{Page: 3, PerPage: 5, Before: ownedWant[len(ownedWant)-1]}, // 12 before it: not a partial last page
		{Page: 2, PerPage: 5, After: ownedWant[len(ownedWant)-3]},  // 2 after it: not a full page 2
	} {
		want := ids(list(db.AgentFilter{Page: f.Page, PerPage: f.PerPage}))
		if got := ids(list(f)); !slices.Equal(got, want) {
			t.Errorf("%+v: %v, want page %d by number %v", f, got, f.Page, want)
		}
	}
	if got := ids(list(db.AgentFilter{Page: 2, PerPage: 5, After: ownedWant[0]})); !slices.Equal(got, ownedWant[1:6]) {
		t.Errorf("page 2 after the first agent: %v, want the five after it %v", got, ownedWant[1:6])
	}
}
