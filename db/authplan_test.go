package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"guildhall/db/dbtest"
	"guildhall/db/model"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// explainGeneric runs query with args under its cached generic plan (the
// plan a prepared statement keeps once PostgreSQL judges it as good as a
// custom one) and returns the executed plan's root.
func explainGeneric(t *testing.T, conn *sql.Conn, name, query string, args []any) map[string]any {
	t.Helper()
	return explainAs(t, conn, "force_generic_plan", name, query, args)
}

// explainCustom is explainGeneric for a statement planned per call
// (handle.PerCall), with its arguments' values known to the planner.
func explainCustom(t *testing.T, conn *sql.Conn, name, query string, args []any) map[string]any {
	t.Helper()
	return explainAs(t, conn, "force_custom_plan", name, query, args)
}

func explainAs(t *testing.T, conn *sql.Conn, mode, name, query string, args []any) map[string]any {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = `+mode+`; DEALLOCATE ALL; PREPARE q AS `+query); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case int64:
			lits[i] = strconv.FormatInt(v, 10)
		case int:
			lits[i] = strconv.Itoa(v)
		case string:
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case bool:
			lits[i] = strconv.FormatBool(v)
		case time.Time:
			lits[i] = "'" + v.Format(time.RFC3339Nano) + "'"
		case driver.Valuer: // pq.Array
			text, err := v.Value()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			lits[i] = "'" + text.(string) + "'"
		default:
			t.Fatalf("%s: argument %T", name, a)
		}
	}
	var plan []byte
	if err := conn.QueryRowContext(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE q(`+strings.Join(lits, ", ")+`)`).Scan(&plan); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []struct {
		Plan map[string]any `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) != 1 {
		t.Fatalf("plan %s: %v", plan, err)
	}
	return out[0].Plan
}

// planNodes calls visit for every node of a plan, root first.
func planNodes(node map[string]any, visit func(map[string]any)) {
	visit(node)
	children, _ := node["Plans"].([]any)
	for _, c := range children {
		if m, ok := c.(map[string]any); ok {
			planNodes(m, visit)
		}
	}
}

// rowsRead is what a plan node produced over all its loops, plus what its
// filter threw away.
func rowsRead(node map[string]any) float64 {
	rows, _ := node["Actual Rows"].(float64)
	loops, _ := node["Actual Loops"].(float64)
	removed, _ := node["Rows Removed by Filter"].(float64)
	return rows*loops + removed
}

// planConn runs the statements that build a plan test's data, then holds
// one connection for its EXPLAINs (closed with the test).
func planConn(t *testing.T, sqlDB *sqlx.DB, steps []string) *sql.Conn {
	t.Helper()
	for _, q := range steps {
		if _, err := sqlDB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn, err := sqlDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestAuthLookupsReadOneAccount: every API call starts with its token's
// statement and every page with its session's. Both look a secret up in a
// table that is small next to accounts, and the cached generic plan of the
// token's statement merge-joined the token with the accounts' primary key:
// it read every account up to the token's owner, so on the large data set an
// API call of account 10,000 spent 2 ms there (the owner's, account 2, did
// not show it). Each must read a handful of rows whoever signs in.
func TestAuthLookupsReadOneAccount(t *testing.T) {
	sqlDB := dbtest.New(t)
	ctx := context.Background()
	conn := planConn(t, sqlDB, []string{
		// 5,000 people, each with a personal org, 3,000 of them in a team
		// org; the first have tokens and sessions when the statistics are
		// taken. The newest person signs up after, and signs in.
		`INSERT INTO orgs (kind, slug, display_name) VALUES ('team', 'plan', 'Plan')`,
		`INSERT INTO accounts (email, name) SELECT 'u' || i || '@plan.example.com', 'User ' || i FROM generate_series(1, 5000) i`,
		`INSERT INTO orgs (kind, slug, display_name) SELECT 'personal', 'p' || id, name FROM accounts ORDER BY id`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'owner' FROM orgs o JOIN accounts a ON o.slug = 'p' || a.id`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'member' FROM orgs o, accounts a WHERE o.slug = 'plan' AND a.id <= (SELECT min(id) + 2999 FROM accounts)`,
		`INSERT INTO api_tokens (account_id, name, token_hash, prefix) SELECT id, 'early', 'hash-' || id, 'p' FROM accounts ORDER BY id LIMIT 3`,
		`INSERT INTO sessions (id_hash, account_id) SELECT 'session-' || id, id FROM accounts ORDER BY id LIMIT 3`,
		`ANALYZE`,
		`INSERT INTO accounts (email, name) VALUES ('late@plan.example.com', 'Late')`,
		`INSERT INTO orgs (kind, slug, display_name) VALUES ('personal', 'late', 'Late')`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'owner' FROM orgs o, accounts a WHERE o.slug = 'late' AND a.email = 'late@plan.example.com'`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'member' FROM orgs o, accounts a WHERE o.slug = 'plan' AND a.email = 'late@plan.example.com'`,
		`INSERT INTO api_tokens (account_id, name, token_hash, prefix) SELECT max(id), 'last', 'hash-last', 'p' FROM accounts`,
		`INSERT INTO sessions (id_hash, account_id) SELECT 'session-last', max(id) FROM accounts`,
	})
	var orgID int64
	if err := conn.QueryRowContext(ctx, `SELECT id FROM orgs WHERE slug = 'plan'`).Scan(&orgID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	reads := []struct {
		name  string
		query string
		args  []any
	}{
		{"token", tokenSessionQuery, []any{"hash-last"}},
		{"token with org by id", tokenSessionSelect + tokenOrgCols + tokenSessionFrom + tokenOrgJoin(true) + tokenSessionWhere, []any{"hash-last", orgID}},
		{"token with org by slug", tokenSessionSelect + tokenOrgCols + tokenSessionFrom + tokenOrgJoin(false) + tokenSessionWhere, []any{"hash-last", "plan"}},
		{"session", sessionQuery, []any{"session-last", now}},
		{"session check", sessionCheckQuery, []any{"session-last"}},
		{"session with workspaces", browserSessionQuery, []any{"session-last", now}},
	}
	for _, r := range reads {
		plan := explainGeneric(t, conn, r.name, r.query, r.args)
		want := 1.0
		if r.query == browserSessionQuery {
			want = 2 // a row per workspace
		}
		if n, _ := plan["Actual Rows"].(float64); n != want {
			t.Errorf("%s: %v rows, want %v", r.name, n, want)
		}
		planNodes(plan, func(node map[string]any) {
			if n := rowsRead(node); n > 50 {
				t.Errorf("%s: %v on %v read %v rows to authenticate one account", r.name, node["Node Type"], node["Relation Name"], n)
			}
		})
	}
}

// TestPeopleBehindRowsAreLookedUp: a list of pending invitations, approvals
// or transfers names the person behind each row. Those tables are small next
// to accounts, and when their statistics only knew early accounts, a merge
// join with the accounts' primary key looked cheap to the planner (it stops
// at the largest id it expects) and read every account up to a newer one's.
// Each list must read about as many accounts (and agents) as it shows.
func TestPeopleBehindRowsAreLookedUp(t *testing.T) {
	sqlDB := dbtest.New(t)
	ctx := context.Background()
	future := time.Now().Add(24 * time.Hour)
	rows := func(by string, n int, approval string) []string {
		// n rows of each small table, made by the accounts `by` picks.
		ns := strconv.Itoa(n)
		return []string{
			`INSERT INTO invitations (org_id, email, role, token_hash, status, expires_at, invited_by)
				SELECT o.id, 'new' || a.id || '@x.example.com', 'member', 'inv-' || a.id, 'pending', now() + interval '1 day', a.id
				FROM orgs o, accounts a WHERE o.slug = 'plan' AND a.id IN (` + by + `) LIMIT ` + ns,
			`INSERT INTO approvals (org_id, package_id, requested_by, amount_cents, expires_at, status)
				SELECT o.id, p.id, a.id, 100, now() + interval '1 day', '` + approval + `'
				FROM orgs o JOIN packages p ON p.org_id = o.id, accounts a WHERE o.slug = 'plan' AND a.id IN (` + by + `) LIMIT ` + ns,
			`INSERT INTO agent_transfers (agent_id, from_org_id, from_account_id, to_email, token_hash, status, expires_at)
				SELECT g.id, g.org_id, a.id, 'to' || a.id || '@x.example.com', 'tr-' || a.id, 'pending', now() + interval '1 day'
				FROM agents g, accounts a WHERE g.name = 'agent-' || a.id AND a.id IN (` + by + `) LIMIT ` + ns,
			`INSERT INTO ledger_transactions (org_id, kind, actor_account_id)
				SELECT o.id, 'top_up', a.id FROM orgs o, accounts a WHERE o.slug = 'plan' AND a.id IN (` + by + `) LIMIT ` + ns,
		}
	}
	steps := []string{
		`INSERT INTO accounts (email, name) SELECT 'u' || i || '@plan.example.com', 'User ' || i FROM generate_series(1, 5000) i`,
		`INSERT INTO orgs (kind, slug, display_name) VALUES ('team', 'plan', 'Plan')`,
		`INSERT INTO packages (org_id, slug, name, type, description, price_cents, visibility, manifest)
			SELECT id, 'pkg', 'Package', 'skill', '', 100, 'private', '{}' FROM orgs WHERE slug = 'plan'`,
		// 5,000 vendors, the first three of them publishing when the
		// statistics are taken, the newest after.
		`INSERT INTO orgs (kind, slug, display_name) SELECT 'team', 'v' || i, 'Vendor ' || i FROM generate_series(1, 5000) i`,
		`INSERT INTO packages (org_id, slug, name, type, description, price_cents, visibility, manifest)
			SELECT id, 'pkg-' || slug, 'Package of ' || slug, 'skill', '', 100, 'public', '{}' FROM orgs WHERE slug IN ('v1', 'v2', 'v3')`,
		`INSERT INTO agents (org_id, name, description, config, created_by)
			SELECT o.id, 'agent-' || a.id, '', '{}', a.id FROM orgs o, accounts a WHERE o.slug = 'plan'`,
	}
	// The first 20 people are in the plan org and its first team.
	steps = append(steps, `INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'member' FROM orgs o, accounts a WHERE o.slug = 'plan' AND a.id < (SELECT min(id) + 20 FROM accounts)`,
		`INSERT INTO teams (org_id, name) SELECT id, 'early' FROM orgs WHERE slug = 'plan'`,
		`INSERT INTO team_members (team_id, org_id, account_id, role) SELECT t.id, t.org_id, m.account_id, 'member' FROM teams t JOIN memberships m ON m.org_id = t.org_id`)
	steps = append(steps, `INSERT INTO sso_domains (org_id, domain, txt_token, verified_at, auto_join)
		SELECT id, slug || '.example.com', 't', now(), true FROM orgs WHERE slug IN ('v1', 'v2', 'v3')`)
	steps = append(steps, rows(`SELECT id FROM accounts ORDER BY id LIMIT 3`, 3, "expired")...)
	steps = append(steps, `ANALYZE`)
	steps = append(steps, rows(`SELECT max(id) FROM accounts`, 1, "pending")...)
	steps = append(steps, `INSERT INTO packages (org_id, slug, name, type, description, price_cents, visibility, manifest)
		SELECT id, 'pkg-' || slug, 'Package of ' || slug, 'skill', '', 100, 'public', '{}' FROM orgs WHERE slug = 'v5000'`)
	// The newest person joins the plan org and a new team.
	steps = append(steps, `INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'member' FROM orgs o, accounts a WHERE o.slug = 'plan' AND a.id = (SELECT max(id) FROM accounts)`,
		`INSERT INTO teams (org_id, name) SELECT id, 'late' FROM orgs WHERE slug = 'plan'`,
		`INSERT INTO team_members (team_id, org_id, account_id, role) SELECT t.id, t.org_id, a.id, 'maintainer' FROM teams t, accounts a WHERE t.name = 'late' AND a.id = (SELECT max(id) FROM accounts)`)
	steps = append(steps, `INSERT INTO sso_domains (org_id, domain, txt_token, verified_at, auto_join)
		SELECT id, 'new.example.com', 't', now(), true FROM orgs WHERE slug = 'v5000'`)
	// The newest vendor's owner, and its agents.
	steps = append(steps, `INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'owner' FROM orgs o, accounts a WHERE o.slug = 'v5000' AND a.id = (SELECT max(id) FROM accounts)`,
		`INSERT INTO agents (org_id, name, description, config, created_by) SELECT o.id, 'late-' || i, '', '{}', (SELECT max(id) FROM accounts) FROM orgs o, generate_series(1, 3) i WHERE o.slug = 'v5000'`)
	steps = append(steps, `INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents)
		SELECT t.id, 'wallet:' || t.org_id, t.org_id, 'top_up', 100, 100 * t.id FROM ledger_transactions t
		UNION ALL SELECT t.id, 'funding:test', NULL, 'top_up', -100, NULL FROM ledger_transactions t`)
	conn := planConn(t, sqlDB, steps)
	var orgID, lastAgent int64
	if err := conn.QueryRowContext(ctx, `SELECT o.id, max(g.id) FROM orgs o JOIN agents g ON g.org_id = o.id WHERE o.slug = 'plan' GROUP BY o.id`).Scan(&orgID, &lastAgent); err != nil {
		t.Fatal(err)
	}
	var lastAccount, vendor int64
	if err := conn.QueryRowContext(ctx, `SELECT (SELECT max(id) FROM accounts), (SELECT id FROM orgs WHERE slug = 'v5000')`).Scan(&lastAccount, &vendor); err != nil {
		t.Fatal(err)
	}
	var lateTeam int64
	if err := conn.QueryRowContext(ctx, `SELECT max(id) FROM teams`).Scan(&lateTeam); err != nil {
		t.Fatal(err)
	}
	var lateAgent int64
	if err := conn.QueryRowContext(ctx, `SELECT max(id) FROM agents`).Scan(&lateAgent); err != nil {
		t.Fatal(err)
	}
	agentsArgs := []any{lastAccount, vendor, pq.Array([]int64{})}
	orgAgents, orgAgentsArgs := limitArgs(orgAgentsQuery, AgentsPageSize, agentsArgs, DefaultAgentsPerPage, AgentsPageSize)
	orgAgents, orgAgentsArgs = offsetArgs(orgAgents, 0, orgAgentsArgs)
	allAgents := strings.Replace(listAgentsQuery, ":reach", strconv.Itoa(agentsReachBucket(DefaultAgentsPerPage)), 1)
	allAgents, allAgentsArgs := limitArgs(allAgents, DefaultAgentsPerPage, []any{lastAccount, int64(0), pq.Array([]int64{})}, DefaultAgentsPerPage, AgentsPageSize)
	allAgents, allAgentsArgs = offsetArgs(allAgents, 0, allAgentsArgs)
	entries, entryArgs := entriesQuery(orgID, model.EntryFilter{Limit: WalletPageEntries})
	where, catArgs, err := packageWhere(0, PackageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	catalogue, catArgs := limitArgs(`SELECT `+packageCols+packageFrom+` WHERE `+where+
		` ORDER BY lower(p.name), p.id LIMIT :limit`, 24, catArgs, defaultPackagesLimit)
	reads := []struct {
		name  string
		query string
		args  []any
		want  float64
	}{
		{"pending invitations", `SELECT ` + invitationCols + invitationFrom +
			`WHERE i.org_id = $1 AND i.status = 'pending' ORDER BY i.created_at DESC, i.id DESC`, []any{orgID}, 4},
		{"approvals", `SELECT ` + approvalCols + approvalFrom + ` WHERE a.org_id = $1 ORDER BY a.status = 'pending' DESC, a.id DESC LIMIT 200`, []any{orgID}, 4},
		{"an agent's pending transfer", transferSelect + ` WHERE tr.agent_id = $1 AND tr.status = 'pending' AND tr.expires_at > $2`, []any{lastAgent, future.Add(-23 * time.Hour)}, 1},
		{"wallet entries", entries, entryArgs, 4},
		{"catalogue", catalogue, catArgs, 4},
		{"a new vendor's agents", orgAgents, orgAgentsArgs, 3},
		{"agents of every org", allAgents, allAgentsArgs, 4}, // and one of its own in the plan org
		{"a new vendor's agent", agentAccessQuery, []any{lastAccount, lateAgent}, 1},
		{"a new org's auto-join domain", autoJoinOffersQuery, []any{"new.example.com", int64(1)}, 1},
		{"a new team's members", teamMemberSelect + ` WHERE tm.team_id = $1 ORDER BY tm.role = 'maintainer' DESC, lower(a.name), a.id`, []any{lateTeam}, 1},
	}
	for _, r := range reads {
		plan := explainGeneric(t, conn, r.name, r.query, r.args)
		if n, _ := plan["Actual Rows"].(float64); n != r.want {
			t.Errorf("%s: %v rows, want %v", r.name, n, r.want)
		}
		planNodes(plan, func(node map[string]any) {
			if n := rowsRead(node); n > 100 {
				t.Errorf("%s: %v on %v read %v rows", r.name, node["Node Type"], node["Relation Name"], n)
			}
		})
	}
}
