package db

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// TestDeepAgentPagesReadOnlyTheirRows: a page of an org's agents typed by
// number (the agents page's ?page=, the API's page= for one org or all of
// the caller's, the resources picker's) skips the agents before it in name
// order. They must be counted in agents_org_name_idx, whose key is the
// stored lower-case name (00021), not read from the table one by one: on
// the large data set page 1,000 read 50,000 agents
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
	// Next and Previous from an agent in the middle read about a page: the
	// agent's key by its id, then a page from the index. (On the large set,
	// the key looked up by org and id came from a walk of the org's index
	// entries; this data does not draw that plan, the harness's page 2,001
	// case does.)
	var middle int64
	if err := conn.QueryRowContext(t.Context(), `SELECT id FROM agents WHERE org_id = $1 ORDER BY name_key, id OFFSET 2000 LIMIT 1`, org).Scan(&middle); err != nil {
		t.Fatal(err)
	}
	for name, query := range map[string]string{"after": orgAgentsAfterQuery, "before": orgAgentsBeforeQuery} {
		q, args := limitArgs(query, AgentsPageSize, []any{owner, org, pq.Array([]int64{}), middle}, DefaultAgentsPerPage, AgentsPageSize)
		plan := explainGeneric(t, conn, name, q, args)
		if got, _ := plan["Actual Rows"].(float64); got != AgentsPageSize {
			t.Errorf("page %s the middle: %v rows", name, got)
		}
		if read := heapRows(plan) + indexEntries(plan, "agents"); read > 3*AgentsPageSize {
			b, _ := json.MarshalIndent(plan, "", " ")
			t.Errorf("page %s the middle read %v agents: %s", name, read, b)
		}
	}
	// Every org of the caller: the first offset + limit agents of each org
	// are the candidates, by name from the same index.
	all := strings.Replace(listAgentsQuery, ":reach", strconv.Itoa(agentsReachBucket(1500+DefaultAgentsPerPage)), 1)
	all, args := limitArgs(all, DefaultAgentsPerPage, []any{owner, int64(0), pq.Array([]int64{})}, DefaultAgentsPerPage, AgentsPageSize)
	all, args = offsetArgs(all, 1500, args)
	check("all orgs' agents at 1500", explainGeneric(t, conn, "all", all, args), DefaultAgentsPerPage)
	check("resources page at 3,000", explainGeneric(t, conn, "resources", resourcesPageQuery(ResourcesPerPage), []any{org, 3000}), ResourcesPerPage)

	// The usage report names its top agents one lookup each: a way to read
	// an agent's name by org from agents_org_name_idx made the generic plan
	// walk the org's whole index for three names (12 ms on the large set).
	if _, err := conn.ExecContext(t.Context(), `INSERT INTO usage_agent_monthly (org_id, month, agent_id, requests)
		SELECT org_id, date_trunc('month', now())::date, id, id FROM agents WHERE org_id = $1 ORDER BY id LIMIT 3`, org); err != nil {
		t.Fatal(err)
	}
	month := model.MonthStart(time.Now().UTC())
	r := model.UsageRange{From: month, To: month.AddDate(0, 1, -1)}
	months, headTo, tailFrom := usageMonths(r)
	q, args := limitArgs(usageScreenQuery, UsageAgentRows, []any{org, pq.StringArray(months), r.From.Format(time.DateOnly), headTo.Format(time.DateOnly),
		tailFrom.Format(time.DateOnly), r.To.Format(time.DateOnly), owner, time.Now(), false, month.Format(time.DateOnly)}, UsageAgentRows)
	plan := explainGeneric(t, conn, "usage", q, args)
	if read := heapRows(plan) + indexEntries(plan, "agents"); read > 10 {
		b, _ := json.MarshalIndent(plan, "", " ")
		t.Errorf("the usage report read %v agents for 3 names: %s", read, b)
	}
}

// indexEntries is how many entries a plan's index-only scans on table read.
func indexEntries(plan map[string]any, table string) (n float64) {
	planNodes(plan, func(node map[string]any) {
		if node["Relation Name"] == table && node["Node Type"] == "Index Only Scan" {
			n += rowsRead(node)
		}
	})
	return n
}
