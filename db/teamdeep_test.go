package db

import (
	"encoding/json"
	"fmt"
	"testing"

	"guildhall/db/dbtest"
)

// TestBigTeamPagesReadOnlyTheirRows: the team page lists a page of a team's
// members, in the team's order (maintainers, then name). With the order
// stored on team_members (00022), a page deep in a team of 3,000 counts its
// way there in team_members_order_idx and reads only its own members from
// the tables; before, every member was joined to their account and sorted
// (a 4.8 MB page in 100 ms for 3,000 members). Its generic plan may read
// about a page of team members, accounts and memberships, first page or
// deep.
func TestBigTeamPagesReadOnlyTheirRows(t *testing.T) {
	sqlDB := dbtest.New(t)
	const n = 3000
	conn := planConn(t, sqlDB, []string{
		`INSERT INTO accounts (email, name) VALUES ('owner@team.example.com', 'Owner')`,
		`INSERT INTO orgs (kind, slug, display_name) VALUES ('team', 'bigteam', 'Big team')`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'owner' FROM orgs o, accounts a WHERE o.slug = 'bigteam'`,
		`INSERT INTO teams (org_id, name) SELECT id, 'Everyone' FROM orgs WHERE slug = 'bigteam'`,
		fmt.Sprintf(`INSERT INTO accounts (email, name)
			SELECT 'm' || i || '@team.example.com', 'Member ' || lpad(((i * 7919) %% %d)::text, 5, '0') FROM generate_series(1, %d) i`, n, n),
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'member' FROM orgs o, accounts a WHERE o.slug = 'bigteam' AND a.email LIKE 'm%'`,
		`INSERT INTO team_members (team_id, org_id, account_id, role)
			SELECT t.id, t.org_id, m.account_id, CASE WHEN m.account_id % 100 = 0 THEN 'maintainer' ELSE 'member' END
			FROM teams t JOIN memberships m ON m.org_id = t.org_id`,
		// The test cluster commits asynchronously, and VACUUM marks a page
		// all-visible only once the commits of its rows are flushed (as
		// autovacuum finds a table that is not being written). A commit
		// in flight next to theirs counts too (positions are kept per
		// group of transactions), ANALYZE's included: statistics first,
		// then one commit that waits for the flush of all before it.
		`ANALYZE accounts, memberships, teams, team_members`,
		`BEGIN; SET LOCAL synchronous_commit = on; UPDATE orgs SET description = 'Everyone in one team' WHERE slug = 'bigteam'; COMMIT`,
		`VACUUM accounts, memberships, teams, team_members`,
	})
	var owner, org, team int64
	if err := conn.QueryRowContext(t.Context(), `SELECT a.id, o.id, t.id FROM accounts a, orgs o JOIN teams t ON t.org_id = o.id
		WHERE o.slug = 'bigteam' AND a.email = 'owner@team.example.com'`).Scan(&owner, &org, &team); err != nil {
		t.Fatal(err)
	}
	const perPage = 20
	for _, page := range []int{1, 76, 151} { // the first, the middle, the last
		offset := (page - 1) * perPage
		plan := explainGeneric(t, conn, fmt.Sprintf("members page %d", page), teamScreenQuery(perPage, 25), []any{org, team, owner, offset, 0})
		read := map[string]float64{}
		planNodes(plan, func(node map[string]any) {
			table, _ := node["Relation Name"].(string)
			if table == "" {
				return
			}
			if node["Node Type"] == "Index Only Scan" {
				f, _ := node["Heap Fetches"].(float64)
				read[table] += f
				return
			}
			read[table] += rowsRead(node)
		})
		want := float64(perPage)
		if page == 151 {
			want = float64(n + 1 - offset) // 3,001 members: the last page has one
		}
		if got, _ := plan["Actual Rows"].(float64); got != want {
			t.Errorf("page %d: %v rows, want %v", page, got, want)
		}
		for _, table := range []string{"team_members", "accounts", "memberships"} {
			if read[table] > 2*perPage+5 {
				b, _ := json.MarshalIndent(plan, "", " ")
				t.Errorf("page %d read %v rows of %s for %v members: %s", page, read[table], table, want, b)
			}
		}
	}
}
