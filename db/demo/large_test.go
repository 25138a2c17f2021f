package demo_test

import (
	"testing"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/demo"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Generate makes exactly the asked-for counts, and the reader sees only the
// readers' team's agents.
func TestGenerateCounts(t *testing.T) {
	s := db.New(dbtest.New(t), db.WithFastPasswordHashing())
	size := demo.Size{Members: 300, Teams: 12, Agents: 1000, Grants: 2500, Audit: 5000, BigTeamGrants: 200, ReaderAgents: 20}
	g, err := demo.Generate(t.Context(), s, "big", "o@big.test", "r@big.test", size, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := s.DB().Get(&n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM memberships WHERE org_id = $1`:                                                                                       size.Members,
		`SELECT count(*) FROM teams WHERE org_id = $1`:                                                                                             size.Teams,
		`SELECT count(*) FROM agents WHERE org_id = $1`:                                                                                            size.Agents,
		`SELECT count(*) FROM grants WHERE org_id = $1`:                                                                                            size.Grants,
		`SELECT count(*) FROM audit_events WHERE org_id = $1 AND action NOT IN ('org.created')`:                                                    size.Audit,
		`SELECT count(*) FROM grants WHERE team_id = (SELECT min(id) FROM teams WHERE org_id = $1)`:                                                size.BigTeamGrants,
		`SELECT count(DISTINCT team_id) FROM team_members WHERE org_id = $1 AND account_id = (SELECT id FROM accounts WHERE email = 'r@big.test')`: 1,
	} {
		if got := count(q, g.OrgID); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	if got := count(`SELECT count(*) FROM grants WHERE team_id = $1`, g.ReaderTeam); got != size.ReaderAgents {
		t.Errorf("reader's team has %d grants, want %d", got, size.ReaderAgents)
	}
	if _, err := s.GetAgent(t.Context(), g.Reader.ID, g.AgentID); err != nil {
		t.Errorf("the reader cannot open a granted agent: %v", err)
	}
}
