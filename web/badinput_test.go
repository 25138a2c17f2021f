package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"guildhall/web/webtest"
)

// TestBadInputNeverA500 sends the members, teams and agents routes input the
// database cannot take: page numbers whose OFFSET overflows, NUL bytes and
// invalid UTF-8 in text, a NUL in an org reference. Each is a 4xx (or an
// empty page), never a 500, and nothing is half written.
func TestBadInputNeverA500(t *testing.T) {
	env := webtest.New(t)
	owner, _ := env.SignUpAPI("owner@example.com", "Olive Owner")
	if r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	teamID := num(owner.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": "Core"}).Data()["id"])
	agentID := num(owner.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Bot", "org": "acme"}).Data()["id"])

	want := func(r webtest.APIResponse, status int, what string) {
		t.Helper()
		if r.Status != status {
			t.Errorf("%s: %d, want %d: %s", what, r.Status, status, r.Raw)
		}
	}
	// Huge page numbers: an empty page, not a negative OFFSET.
	want(owner.Do(http.MethodGet, "/api/orgs/acme/members?page=100000000000000000&per_page=100", nil), 200, "members page overflow")
	want(owner.Do(http.MethodGet, "/api/orgs/acme/members?page=9223372036854775807", nil), 200, "members max page")
	want(owner.Do(http.MethodGet, "/api/agents?page=1000000000000000000", nil), 200, "agents page overflow")
	want(owner.Do(http.MethodGet, "/api/agents?page=99999999999999999999", nil), 422, "agents page beyond int64")

	// A NUL in an org reference.
	want(owner.Do(http.MethodGet, "/api/orgs/%00/members", nil), 404, "org ref with NUL")
	want(owner.Do(http.MethodGet, "/api/orgs/ac%00me/teams", nil), 404, "org ref with NUL inside")
	want(owner.Do(http.MethodGet, "/api/agents?org=%00", nil), 404, "agents org filter with NUL")
	want(owner.Do(http.MethodPost, "/api/agents", `{"name": "x", "org": "\u0000"}`), 404, "create agent in org NUL")

	// NUL bytes in free text.
	want(owner.Do(http.MethodPost, "/api/orgs/acme/teams", `{"name": "T", "description": "a\u0000b"}`), 422, "team description NUL")
	want(owner.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/teams/%d", teamID), `{"description": "a\u0000b"}`), 422, "team patch NUL")
	want(owner.Do(http.MethodPost, "/api/agents", `{"name": "A", "org": "acme", "description": "a\u0000b"}`), 422, "agent description NUL")
	want(owner.Do(http.MethodPost, "/api/agents", `{"name": "A", "org": "acme", "config": "a\u0000b"}`), 422, "agent config NUL")
	want(owner.Do(http.MethodPatch, fmt.Sprintf("/api/agents/%d", agentID), `{"config": "\u0000"}`), 422, "agent patch NUL")
	want(owner.Do(http.MethodPost, "/api/orgs", `{"display_name": "Nul Org", "description": "\u0000"}`), 422, "org description NUL")
	want(owner.Do(http.MethodPatch, "/api/orgs/acme", `{"description": "\u0000"}`), 422, "org patch NUL")

	// The same through the pages, with invalid UTF-8 too.
	web := env.SignUpVerified("web@example.com", "Wes Web")
	if r := web.Post("/orgs", url.Values{"display_name": {"Web Org"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create org: %d", r.Status)
	}
	web.Get("/")
	for _, path := range []string{"/members?page=100000000000000000&per_page=100", "/agents?page=1000000000000000000"} {
		if r := web.Get(path); r.Status != 200 {
			t.Errorf("GET %s: %d", path, r.Status)
		}
	}
	if r := web.Post("/teams", url.Values{"name": {"Web team"}, "description": {"bad \xff text"}}); r.Status != 422 {
		t.Errorf("team with invalid UTF-8: %d", r.Status)
	}
	if r := web.Post("/agents", url.Values{"name": {"Web bot"}, "config": {"a\x00b"}}); r.Status != 422 {
		t.Errorf("agent with NUL config: %d", r.Status)
	}
	r := web.Post("/agents", url.Values{"name": {"Web bot"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create agent: %d", r.Status)
	}
	webAgent, _ := strconv.ParseInt(r.Location[len("/agents/"):], 10, 64)
	if r := web.Post(fmt.Sprintf("/agents/%d", webAgent), url.Values{"name": {"Web bot"}, "description": {"\xff\xfe"}}); r.Status != 422 {
		t.Errorf("agent edit with invalid UTF-8: %d", r.Status)
	}
	var n int
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM teams WHERE name IN ('T', 'Web team')`); err != nil || n != 0 {
		t.Errorf("%d teams written from bad input (%v)", n, err)
	}
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM agents WHERE name = 'A' OR description <> '' AND id = $1`, webAgent); err != nil || n != 0 {
		t.Errorf("%d agents written from bad input (%v)", n, err)
	}
}

// TestOrgBoundTokensStayInTheirOrg: a token bound to one org reaches no
// agent of another org nor of the personal workspace through the /api/agents
// routes (which name no org), cannot move anything into another org, cannot
// take an agent into the personal workspace, and never outranks its owner's
// current role.
func TestOrgBoundTokensStayInTheirOrg(t *testing.T) {
	env := webtest.New(t)
	user, userID := env.SignUpAPI("user@example.com", "Uma User")
	env.VerifyEmail("user@example.com")
	boss, _ := env.SignUpAPI("boss@example.com", "Bo Boss")
	for _, slug := range []string{"alpha", "beta"} {
		if r := boss.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": slug, "slug": slug}); r.Status != 201 {
			t.Fatal(r.Raw)
		}
		tgJoin(t, env, orgIDBySlug(t, env, slug), userID, "admin")
	}
	alpha, beta := orgIDBySlug(t, env, "alpha"), orgIDBySlug(t, env, "beta")
	mk := func(org any) int64 {
		body := map[string]any{"name": "Bot"}
		if org != nil {
			body["org"] = org
		}
		r := user.Do(http.MethodPost, "/api/agents", body)
		if r.Status != 201 {
			t.Fatal(r.Raw)
		}
		return num(r.Data()["id"])
	}
	inAlpha, inBeta, inPersonal := mk("alpha"), mk("beta"), mk(nil)

	token := func(org string) *webtest.API {
		r := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "user@example.com", "password": webtest.Password, "org": org})
		if r.Status != 201 {
			t.Fatal(r.Raw)
		}
		return env.NewAPI(r.Data()["token"].(string))
	}
	tA := token("alpha")
	var personalSlug string
	if err := env.Store.DB().Get(&personalSlug, `SELECT o.slug FROM orgs o JOIN accounts a ON a.personal_org_id = o.id WHERE a.id = $1`, userID); err != nil {
		t.Fatal(err)
	}
	tP := token(personalSlug)

	for _, id := range []int64{inBeta, inPersonal} {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", fmt.Sprintf("/api/agents/%d", id), nil},
			{"PATCH", fmt.Sprintf("/api/agents/%d", id), map[string]any{"name": "hijacked"}},
			{"GET", fmt.Sprintf("/api/agents/%d/access?user_id=%d", id, userID), nil},
			{"POST", fmt.Sprintf("/api/agents/%d/move-to-org", id), map[string]any{"org_id": alpha}},
			{"POST", fmt.Sprintf("/api/agents/%d/transfer", id), map[string]any{"email": "x@example.com"}},
			{"DELETE", fmt.Sprintf("/api/agents/%d", id), nil},
		} {
			if r := tA.Do(c.method, c.path, c.body); r.Status != 404 {
				t.Errorf("alpha token: %s %s = %d %s", c.method, c.path, r.Status, r.Raw)
			}
		}
	}
	if r := tA.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", inAlpha), nil); r.Status != 200 {
		t.Errorf("alpha token reads its org's agent: %d", r.Status)
	}
	if r := tA.Do(http.MethodGet, "/api/agents", nil); len(r.List()) != 1 {
		t.Errorf("alpha token lists %s", r.Raw)
	}
	if r := tA.Do(http.MethodGet, "/api/agents?org=beta", nil); r.Status != 404 {
		t.Errorf("alpha token lists beta: %d", r.Status)
	}
	if r := tA.Do(http.MethodPost, "/api/agents", map[string]any{"name": "x", "org": "beta"}); r.Status != 404 {
		t.Errorf("alpha token creates in beta: %d", r.Status)
	}
	if r := tA.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Bound"}); r.Status != 201 || num(r.Data()["org_id"]) != alpha {
		t.Errorf("alpha token creates by default in alpha: %s", r.Raw)
	}

	// Bound to the personal workspace: its agent cannot be moved into beta.
	if r := tP.Do(http.MethodPost, fmt.Sprintf("/api/agents/%d/move-to-org", inPersonal), map[string]any{"org_id": beta}); r.Status != 422 {
		t.Errorf("personal token moves into beta: %d %s", r.Status, r.Raw)
	}
	if r := user.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", inPersonal), nil); num(r.Data()["org_id"]) == beta {
		t.Error("the personal agent moved into beta")
	}

	// Accepting a transfer puts the agent in the personal workspace: not
	// with a token bound to alpha.
	giftID := num(boss.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Gift", "org": "beta"}).Data()["id"])
	tr := boss.Do(http.MethodPost, fmt.Sprintf("/api/agents/%d/transfer", giftID), map[string]any{"email": "user@example.com"})
	if tr.Status != 201 {
		t.Fatal(tr.Raw)
	}
	if r := tA.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/accept", num(tr.Data()["id"])), nil); r.Status != 403 {
		t.Errorf("alpha token accepts a transfer: %d %s", r.Status, r.Raw)
	}
	if r := tP.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/accept", num(tr.Data()["id"])), nil); r.Status != 200 {
		t.Errorf("personal token accepts a transfer: %d %s", r.Status, r.Raw)
	}

	// The token follows its owner's current role: demoted, it cannot manage.
	env.Store.DB().MustExec(`UPDATE memberships SET role = 'member' WHERE org_id = $1 AND account_id = $2`, alpha, userID)
	if r := tA.Do(http.MethodPost, "/api/orgs/alpha/teams", map[string]any{"name": "Nope"}); r.Status != 403 {
		t.Errorf("demoted token creates a team: %d", r.Status)
	}
	if r := tA.Do(http.MethodPost, "/api/orgs/alpha/invitations", map[string]any{"email": "n@example.com"}); r.Status != 403 {
		t.Errorf("demoted token invites: %d", r.Status)
	}
}
