package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"guildhall/db/demo"
	"guildhall/web/webtest"
)

// budgetEnv is a server with a generated org of size, and clients for its
// owner and for its reader (a plain member who sees a few agents).
type budgetEnv struct {
	env                 *webtest.Env
	g                   demo.Generated
	owner, reader       *webtest.Client
	ownerAPI, readerAPI *webtest.API
}

func newBudgetEnv(t *testing.T, size demo.Size) *budgetEnv {
	t.Helper()
	env := webtest.New(t)
	g, err := demo.Generate(t.Context(), env.Store, "budget", "owner@budget.test", "reader@budget.test", size, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &budgetEnv{env: env, g: g}
	signIn := func(email string) (*webtest.Client, *webtest.API) {
		c := env.NewClient()
		if res := c.SignIn(email, demo.Password); res.Status != http.StatusSeeOther {
			t.Fatalf("sign in %s: %d", email, res.Status)
		}
		if res := c.Post("/workspace", url.Values{"org_id": {fmt.Sprint(g.OrgID)}}); res.Status != http.StatusSeeOther {
			t.Fatalf("switch %s to the org: %d", email, res.Status)
		}
		r := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": email, "password": demo.Password, "name": "budget"})
		tok, _ := r.Data()["token"].(string)
		if tok == "" {
			t.Fatalf("token for %s: %d %s", email, r.Status, r.Raw)
		}
		return c, env.NewAPI(tok)
	}
	b.owner, b.ownerAPI = signIn("owner@budget.test")
	b.reader, b.readerAPI = signIn("reader@budget.test")
	return b
}

// route is one counted request: who sends it and where.
type route struct {
	name string // stable across sizes (ids differ)
	who  string // owner or reader
	api  bool
	path string
}

func (b *budgetEnv) routes() []route {
	g := b.g
	o := g.Slug
	var rs []route
	page := func(who, name, path string) { rs = append(rs, route{name: who + " " + name, who: who, path: path}) }
	api := func(who, name, path string) {
		rs = append(rs, route{name: who + " " + name, who: who, api: true, path: path})
	}
	for _, who := range []string{"owner", "reader"} {
		page(who, "GET /", "/")
		page(who, "GET /profile", "/profile")
		page(who, "GET /orgs/new", "/orgs/new")
		page(who, "GET /settings", "/settings")
		page(who, "GET /members", "/members")
		page(who, "GET /members?role=admin", "/members?role=admin")
		page(who, "GET /members?page=2", "/members?page=2")
		page(who, "GET /members/leave", "/members/leave")
		page(who, "GET /teams", "/teams")
		page(who, "GET /teams/:id (big)", fmt.Sprintf("/teams/%d", g.BigTeamID))
		page(who, "GET /teams/:id (readers)", fmt.Sprintf("/teams/%d", g.ReaderTeam))
		page(who, "GET /teams/:id?grants_page=2", fmt.Sprintf("/teams/%d?grants_page=2", g.BigTeamID))
		page(who, "GET /agents", "/agents")
		page(who, "GET /agents?page=2", "/agents?page=2")
		page(who, "GET /agents?page=2&after=", fmt.Sprintf("/agents?page=2&after=%d", g.AgentID))
		page(who, "GET /agents/:id", fmt.Sprintf("/agents/%d", g.AgentID))
		page(who, "GET /agents/:id/access", fmt.Sprintf("/agents/%d/access", g.AgentID))
		page(who, "GET /tokens", "/tokens")
		page(who, "GET /profile/two-factor", "/profile/two-factor")
		page(who, "GET /packages", "/packages")
		page(who, "GET /packages/new", "/packages/new")
		page(who, "GET /entitlements", "/entitlements")
		page(who, "GET /usage", "/usage")
		api(who, "GET /api/me", "/api/me")
		api(who, "GET /api/orgs", "/api/orgs")
		api(who, "GET /api/orgs/:org", "/api/orgs/"+o)
		api(who, "GET /api/orgs/:org/members", "/api/orgs/"+o+"/members")
		api(who, "GET /api/orgs/:org/teams", "/api/orgs/"+o+"/teams")
		api(who, "GET /api/orgs/:org/teams/:id", fmt.Sprintf("/api/orgs/%s/teams/%d", o, g.BigTeamID))
		api(who, "GET /api/orgs/:org/teams/:id/members", fmt.Sprintf("/api/orgs/%s/teams/%d/members?page=2", o, g.BigTeamID))
		api(who, "GET /api/orgs/:org/resources", "/api/orgs/"+o+"/resources")
		api(who, "GET /api/agents", "/api/agents")
		api(who, "GET /api/agents/:id", fmt.Sprintf("/api/agents/%d", g.AgentID))
		api(who, "GET /api/agents/:id/access", fmt.Sprintf("/api/agents/%d/access", g.AgentID))
		api(who, "GET /api/me/org-invitations", "/api/me/org-invitations")
		api(who, "GET /api/me/agent-transfers", "/api/me/agent-transfers")
		api(who, "GET /api/me/tokens", "/api/me/tokens")
		api(who, "GET /api/packages", "/api/packages")
		api(who, "GET /api/orgs/:org/usage", "/api/orgs/"+o+"/usage")
	}
	// Owner-only pages and calls (the reader gets a refusal, counted above
	// where it applies).
	page("owner", "GET /audit", "/audit")
	page("owner", "GET /audit?cursor=", fmt.Sprintf("/audit?cursor=%d", 1<<40))
	page("owner", "GET /audit?action=member.", "/audit?action=member.")
	// A part of an address: resolved to the few that contain it, or to none.
	page("owner", "GET /audit?actor=<part>", "/audit?actor=m00000")
	page("owner", "GET /audit?actor=<no one>", "/audit?actor=zzz")
	page("owner", "GET /audit/export", "/audit/export")
	page("owner", "GET /wallet", "/wallet")
	page("owner", "GET /wallet?cursor=", "/wallet?cursor=1099511627776")
	page("owner", "GET /policies", "/policies")
	page("owner", "GET /approvals", "/approvals")
	page("owner", "GET /sso", "/sso")
	api("owner", "GET /api/orgs/:org/wallet", "/api/orgs/"+o+"/wallet")
	api("owner", "GET /api/orgs/:org/wallet/transactions", "/api/orgs/"+o+"/wallet/transactions")
	page("owner", "GET /members/:id/transfer", fmt.Sprintf("/members/%d/transfer", g.MemberID))
	page("owner", "GET /members/:id/role", fmt.Sprintf("/members/%d/role", g.MemberID))
	api("owner", "GET /api/orgs/:org/audit", "/api/orgs/"+o+"/audit")
	api("owner", "GET /api/orgs/:org/invitations", "/api/orgs/"+o+"/invitations")
	rs = append(rs, route{name: "anon GET /login", who: "anon", path: "/login"}, route{name: "anon GET /signup", who: "anon", path: "/signup"})
	return rs
}

// count runs every route and returns its status and statements.
func (b *budgetEnv) count(t *testing.T) map[string]counted {
	t.Helper()
	out := map[string]counted{}
	anon := b.env.NewClient()
	for _, r := range b.routes() {
		var status int
		var qs []string
		switch {
		case r.api && r.who == "owner":
			res, q := b.ownerAPI.Queries(r.path)
			status, qs = res.Status, q
		case r.api:
			res, q := b.readerAPI.Queries(r.path)
			status, qs = res.Status, q
		case r.who == "owner":
			res, q := b.owner.Queries(r.path)
			status, qs = res.Status, q
		case r.who == "reader":
			res, q := b.reader.Queries(r.path)
			status, qs = res.Status, q
		default:
			res, q := anon.Queries(r.path)
			status, qs = res.Status, q
		}
		if qs == nil {
			t.Fatalf("%s: no statement count came back", r.name)
		}
		if status >= 500 {
			t.Fatalf("%s: status %d", r.name, status)
		}
		out[r.name] = counted{status: status, queries: qs}
	}
	return out
}

type counted struct {
	status  int
	queries []string
}

// budget is the most statements any page or API GET may run. A page pays
// one before its own data when its server has not read the session yet:
// the session with its account, banner sources and workspaces
// (db.BrowserSession); later pages carry that check in their first read
// (db/sessioncheck.go). An API call pays one for its token. The busiest pages (a team, an agent with its explainer) add five of
// their own; none may grow with the data size, which is the guard against
// N+1 queries.
const budget = 6

// TestQueryBudgets counts the SQL statements of every GET page and main API
// GET on a small org (5 of everything) and a larger one (200 members, teams,
// agents and audit events; 400 grants): no route may exceed the budget, and
// none may run more statements on the larger data (an N+1 query).
func TestQueryBudgets(t *testing.T) {
	small := newBudgetEnv(t, demo.Size{Members: 5, Teams: 5, Agents: 5, Grants: 6, Audit: 5, BigTeamGrants: 2, ReaderAgents: 2, Ledger: 5})
	large := newBudgetEnv(t, demo.Size{Members: 200, Teams: 200, Agents: 200, Grants: 400, Audit: 200, BigTeamGrants: 150, ReaderAgents: 20, Ledger: 200})
	s, l := small.count(t), large.count(t)

	// The team page lists grants a page at a time.
	big := fmt.Sprintf("/teams/%d", large.g.BigTeamID)
	res := large.owner.Get(big)
	if !strings.Contains(res.Body, "Page 1 of 6 · 150 total") || strings.Count(res.Body, `id="grant-level-`) != 25 {
		t.Fatalf("team page 1: want 25 of 150 grants and a pager")
	}
	if res = large.owner.Get(big + "?grants_page=6"); strings.Count(res.Body, `id="grant-level-`) != 25 {
		t.Fatalf("team page 6: want the last 25 grants")
	}
	var names []string
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	var report strings.Builder
	for _, n := range names {
		fmt.Fprintf(&report, "%-48s %3d %3d  (status %d)\n", n, len(s[n].queries), len(l[n].queries), l[n].status)
	}
	t.Logf("statements per route, small and larger data:\n%s", report.String())
	for _, n := range names {
		sq, lq := s[n].queries, l[n].queries
		if len(lq) > budget || len(sq) > budget {
			t.Errorf("%s runs %d statements (small %d), over the budget of %d:\n  %s", n, len(lq), len(sq), budget, strings.Join(lq, "\n  "))
		}
		if len(lq) > len(sq) {
			t.Errorf("%s runs %d statements on larger data, %d on small: a query per row?\n  %s", n, len(lq), len(sq), strings.Join(lq, "\n  "))
		}
		if s[n].status != l[n].status {
			t.Errorf("%s answers %d on small data, %d on larger", n, s[n].status, l[n].status)
		}
		// A call naming an org reads it in its token's statement
		// (db.TokenAuthIn), not in a round trip of its own.
		if strings.Contains(n, " /api/orgs/:org") {
			for _, q := range lq {
				if strings.Contains(q, "FROM orgs o JOIN memberships m ON m.org_id = o.id AND m.account_id = $1 WHERE") {
					t.Errorf("%s reads its org in a statement of its own:\n  %s", n, q)
				}
			}
		}
		// No org here enforces SSO, which the token's statement already
		// tells (db.TokenAuthIn): no API call asks again.
		if strings.Contains(n, " /api/") {
			for _, q := range lq {
				if strings.Contains(q, "AS at_domain") {
					t.Errorf("%s reads the SSO gate's facts though no org of the caller enforces SSO:\n  %s", n, q)
				}
			}
		}
	}
}

// TestCachedStatementsKeepOnePlan runs every route on one connection until
// PostgreSQL has settled each cached statement's plan. A cached statement is
// planned per call for its first five runs and then keeps one generic plan,
// unless that plan's estimate is worse: `LIMIT $n` is estimated at a tenth of
// the rows, and statements with one paid up to 1 ms of planning on every call
// on the large data set, many times their execution. So no cached statement a
// page or API read runs at its usual page size may carry a parameter as its
// LIMIT (db.limitArgs writes it in). The statements PostgreSQL still plans
// per call on this data are logged: that depends on the data (a filter whose
// best plan depends on its value), and the load harness's large set is the
// judge.
func TestCachedStatementsKeepOnePlan(t *testing.T) {
	// Enough rows that a tenth of them is well over a page.
	b := newBudgetEnv(t, demo.Size{Members: 1000, Teams: 100, Agents: 2000, Grants: 2000, Audit: 5000, BigTeamGrants: 600, ReaderAgents: 20, Ledger: 2000})
	pool := b.env.Store.DB()
	pool.SetMaxOpenConns(1) // pg_prepared_statements shows this connection's statements only
	for range 7 {
		b.count(t)
	}
	// The usage report's LIMIT is NULL (every agent) or a caller's choice.
	allowed := []string{"ORDER BY requests DESC, agent_id LIMIT $7"}
	limitParam := regexp.MustCompile(`(?i)\bLIMIT\s+\$\d`)
	rows, err := pool.QueryContext(t.Context(), `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// The overview's feed and the audit page's whole log read an org's
	// newest events; on this data (one org with most of them) a plan for
	// the org's id walks the primary key and looks cheaper than the org's
	// index, so PostgreSQL planned them per call until the org went behind
	// a sub-select (db.orgParam). The agents list of all the caller's orgs
	// (GET /api/agents) was planned per call (2 ms of planning, and 44 ms
	// to sort a 100,000-agent org) until each org's share was bounded by the
	// page. They must settle.
	settle := map[string]bool{
		"SELECT x.id, x.sort_name, true AS whole FROM me":                                false,
		"AS actor_name FROM audit_events e":                                              false,
		"FROM audit_events WHERE org_id = (SELECT $1::bigint) ORDER BY id DESC LIMIT 26": false,
	}
	n := 0
	for rows.Next() {
		var stmt string
		var generic, custom int
		if err := rows.Scan(&stmt, &generic, &custom); err != nil {
			t.Fatal(err)
		}
		n++
		stmt = strings.Join(strings.Fields(stmt), " ")
		if custom > 5 {
			t.Logf("planned per call on this data (%d custom plans): %.200s", custom, stmt)
		}
		// A page's first read also runs wrapped with its session check
		// (db/sessioncheck.go), a statement of its own: each text that ran
		// past the five planned runs must have settled.
		for k := range settle {
			if strings.Contains(stmt, k) && custom+generic > 5 {
				settle[k] = true
				if custom > 5 || generic == 0 {
					t.Errorf("planned on every call (%d custom plans, %d generic): %s", custom, generic, stmt)
				}
			}
		}
		ok := !limitParam.MatchString(stmt)
		for _, a := range allowed {
			ok = ok || strings.Contains(stmt, a)
		}
		if !ok {
			t.Errorf("a cached statement takes its LIMIT as a parameter (%d custom plans, %d generic): %s", custom, generic, stmt)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d cached statements: is the statement cache on?", n)
	}
	for k, seen := range settle {
		if !seen {
			t.Errorf("no cached statement with %q ran more than five times: did a route stop running it?", k)
		}
	}
}
