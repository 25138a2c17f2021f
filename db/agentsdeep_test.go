package db

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/lib/pq"

	"guildhall/db/dbtest"
)

// TestDeepAgentPagesReadOnlyTheirRows: a page of an org's agents typed by
// number (the agents page's ?page=, the API's page= for one org or all of
// the caller's, the resources picker's) skips the agents before it in name order. They must be counted
// in agents_org_name_idx, which carries the name (00021), not read from the
// table one by one: on the large data set page 1,000 read 50,000 agents
// (20 ms through the API, 27-44 ms for the resources picker). Each plan may
// read from the table only about a page of agents, from either end of the
// list.
func TestDeepAgentPagesReadOnlyTheirRows(t *testing.T) {
	sqlDB := dbtest.New(t)
	const n = 4000
	conn := planConn(t, sqlDB, []string{
		`INSERT INTO accounts (email, name) VALUES ('owner@deep.example.com', 'Owner')`,
		`INSERT INTO orgs (kind, slug, display_name) VALUES ('team', 'deep', 'Deep')`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'owner' FROM orgs o, accounts a WHERE o.slug = 'deep'`,
		// The test cluster commits asynchronously, and VACUUM marks a
		// page all-visible only once the commits of its rows are flushed:
		// this one waits for its flush.
		fmt.Sprintf(`BEGIN; SET LOCAL synchronous_commit = on; INSERT INTO agents (org_id, name, description, config, created_by)
			SELECT o.id, 'Agent ' || lpad(i::text, 5, '0'), 'A description long enough to fill the row.', '{}', a.id
			FROM orgs o, accounts a, generate_series(1, %d) i WHERE o.slug = 'deep'; COMMIT`, n),
		// As autovacuum leaves a table that is not being written: its
		// pages marked all-visible, so an index-only scan need not visit
		// them.
		`VACUUM (ANALYZE) agents`,
	})
	var owner, org int64
	if err := conn.QueryRowContext(t.Context(), `SELECT a.id, o.id FROM accounts a, orgs o WHERE o.slug = 'deep'`).Scan(&owner, &org); err != nil {
		t.Fatal(err)
	}
	// heapRows is how many agents a plan read from the table: the rows of
	// its scans on it, and what its index-only scans had to fetch.
	heapRows := func(plan map[string]any) (read float64) {
		planNodes(plan, func(node map[string]any) {
			if node["Relation Name"] != "agents" {
				return
			}
			if node["Node Type"] == "Index Only Scan" {
				f, _ := node["Heap Fetches"].(float64)
				read += f
				return
			}
			read += rowsRead(node)
		})
		return read
	}
	check := func(name string, plan map[string]any, want float64) {
		t.Helper()
		if got, _ := plan["Actual Rows"].(float64); got != want {
			t.Errorf("%s: %v rows, want %v", name, got, want)
		}
		if read := heapRows(plan); read > 2*want+10 {
			b, _ := json.MarshalIndent(plan, "", " ")
			t.Errorf("%s read %v agents from the table for a page of %v: %s", name, read, want, b)
		}
	}
	for _, offset := range []int{1500, 2500} { // before the middle, and counted from the end
		q, args := limitArgs(orgAgentsDeepQuery, AgentsPageSize, []any{owner, org, pq.Array([]int64{})}, DefaultAgentsPerPage, AgentsPageSize)
		q, args = offsetArgs(q, offset, args)
		check(fmt.Sprintf("agents page at %d", offset), explainGeneric(t, conn, "deep", q, args), AgentsPageSize)
	}
	// Every org of the caller: the first offset + limit agents of each org
	// are the candidates, by name from the same index.
	all := strings.Replace(listAgentsQuery, ":reach", strconv.Itoa(agentsReachBucket(1500+DefaultAgentsPerPage)), 1)
	all, args := limitArgs(all, DefaultAgentsPerPage, []any{owner, int64(0), pq.Array([]int64{})}, DefaultAgentsPerPage, AgentsPageSize)
	all, args = offsetArgs(all, 1500, args)
	check("all orgs' agents at 1500", explainGeneric(t, conn, "all", all, args), DefaultAgentsPerPage)
	check("resources page at 3,000", explainGeneric(t, conn, "resources", resourcesPageQuery(ResourcesPerPage), []any{org, 3000}), ResourcesPerPage)
}
