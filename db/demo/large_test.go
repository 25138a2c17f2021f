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
	size := demo.Size{Members: 300, Teams: 12, Agents: 1000, Grants: 2500, Audit: 5000, BigTeamGrants: 200, ReaderAgents: 20, Ledger: 3000}
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
		`SELECT count(*) FROM ledger_entries WHERE org_id = $1`:                                                                                    size.Ledger,
		`SELECT count(*) FROM ledger_transactions WHERE org_id = $1`:                                                                               size.Ledger,
		`SELECT count(DISTINCT team_id) FROM team_members WHERE org_id = $1 AND account_id = (SELECT id FROM accounts WHERE email = 'r@big.test')`: 1,
	} {
		if got := count(q, g.OrgID); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	if got := count(`SELECT count(*) FROM grants WHERE team_id = $1`, g.ReaderTeam); got != size.ReaderAgents {
		t.Errorf("reader's team has %d grants, want %d", got, size.ReaderAgents)
	}
	// The ledger is balanced and agrees with the stored balance; the newest
	// entry (by id) is the latest in time and its balance is the wallet's.
	if err := s.CheckLedger(t.Context()); err != nil {
		t.Fatal(err)
	}
	var bal, after, neg int64
	if err := s.DB().Get(&bal, `SELECT balance_cents FROM wallets WHERE org_id = $1`, g.OrgID); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Get(&after, `SELECT balance_after_cents FROM postings WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, g.OrgID); err != nil {
		t.Fatal(err)
	}
	if bal <= 0 || after != bal {
		t.Errorf("wallet holds %d, the latest entry says %d", bal, after)
	}
	if err := s.DB().Get(&neg, `SELECT count(*) FROM postings a JOIN postings b ON b.org_id = a.org_id AND b.id > a.id AND b.created_at < a.created_at
		WHERE a.org_id = $1 AND a.id IN (SELECT id FROM postings WHERE org_id = $1 ORDER BY id LIMIT 200)`, g.OrgID); err != nil || neg != 0 {
		t.Errorf("%d entries out of time order (%v)", neg, err)
	}
	if _, err := s.GetAgent(t.Context(), g.Reader.ID, g.AgentID); err != nil {
		t.Errorf("the reader cannot open a granted agent: %v", err)
	}
}
