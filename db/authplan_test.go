package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"guildhall/db/dbtest"
)

// explainGeneric runs query with args under its cached generic plan (the
// plan a prepared statement keeps once PostgreSQL judges it as good as a
// custom one) and returns the executed plan's root.
func explainGeneric(t *testing.T, conn *sql.Conn, name, query string, args []any) map[string]any {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan; DEALLOCATE ALL; PREPARE q AS `+query); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case int64:
			lits[i] = strconv.FormatInt(v, 10)
		case string:
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case time.Time:
			lits[i] = "'" + v.Format(time.RFC3339Nano) + "'"
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
	for _, q := range []string{
		`INSERT INTO accounts (email, name) SELECT 'u' || i || '@plan.example.com', 'User ' || i FROM generate_series(1, 5000) i`,
		`INSERT INTO orgs (kind, slug, display_name) VALUES ('team', 'plan', 'Plan')`,
		`INSERT INTO memberships (org_id, account_id, role) SELECT o.id, a.id, 'member' FROM orgs o, accounts a WHERE o.slug = 'plan'`,
		// The first accounts have tokens and sessions when the statistics
		// are taken; the newest account signs in after.
		`INSERT INTO api_tokens (account_id, name, token_hash, prefix) SELECT id, 'early', 'hash-' || id, 'p' FROM accounts ORDER BY id LIMIT 3`,
		`INSERT INTO sessions (id_hash, account_id) SELECT 'session-' || id, id FROM accounts ORDER BY id LIMIT 3`,
		`ANALYZE`,
		`INSERT INTO api_tokens (account_id, name, token_hash, prefix) SELECT max(id), 'last', 'hash-last', 'p' FROM accounts`,
		`INSERT INTO sessions (id_hash, account_id) SELECT 'session-last', max(id) FROM accounts`,
	} {
		if _, err := sqlDB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
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
		{"session with workspaces", browserSessionQuery, []any{"session-last", now}}, // one membership: one row
	}
	for _, r := range reads {
		plan := explainGeneric(t, conn, r.name, r.query, r.args)
		if n, _ := plan["Actual Rows"].(float64); n != 1 {
			t.Errorf("%s: %v rows, want 1", r.name, n)
		}
		planNodes(plan, func(node map[string]any) {
			if n := rowsRead(node); n > 50 {
				t.Errorf("%s: %v on %v read %v rows to authenticate one account", r.name, node["Node Type"], node["Relation Name"], n)
			}
		})
	}
}
