package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"guildhall/db/demo"
	"guildhall/handlers"
	"guildhall/web/webtest"
)

// tgJoin adds an account to an org directly (invitations have their tests).
func tgJoin(t *testing.T, env *webtest.Env, orgID, userID int64, role string) {
	t.Helper()
	if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, orgID, userID, role); err != nil {
		t.Fatal(err)
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// acmeByAPI signs up an admin through the API and creates the org acme as
// it: the admin's token and the org's id.
func acmeByAPI(t *testing.T, env *webtest.Env) (*webtest.API, int64) {
	t.Helper()
	tok, _ := env.SignUpAPI("admin@example.com", "Ada Admin")
	org := tok.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme"})
	if org.Status != 201 {
		t.Fatalf("create org: %s", org.Raw)
	}
	return tok, num(org.Data()["id"])
}

func idPath(format string, ids ...any) string { return fmt.Sprintf(format, ids...) }

// TestTeamsGrantsAPI is the scenario through the JSON API: two teams
// with read and admin grants, a member in both, billing, a creator, a plain
// member, another org's agent, bad input and cross-org ids.
func TestTeamsGrantsAPI(t *testing.T) {
	env := webtest.New(t)
	admin, _ := env.SignUpAPI("admin@example.com", "Ada Admin")
	both, bothID := env.SignUpAPI("both@example.com", "Bea Both")
	bill, billID := env.SignUpAPI("bill@example.com", "Bill Billing")
	plain, plainID := env.SignUpAPI("plain@example.com", "Pat Plain")
	other, _ := env.SignUpAPI("other@example.com", "Otto Other")

	org := admin.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme"})
	if org.Status != 201 {
		t.Fatalf("create org: %s", org.Raw)
	}
	orgID := num(org.Data()["id"])
	slug := org.Data()["slug"].(string)
	tgJoin(t, env, orgID, bothID, "member")
	tgJoin(t, env, orgID, billID, "billing")
	tgJoin(t, env, orgID, plainID, "member")

	ag := admin.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Support bot", "org": slug})
	if ag.Status != 201 || ag.Data()["permission"] != "admin" {
		t.Fatalf("create agent: %d %s", ag.Status, ag.Raw)
	}
	agentID := num(ag.Data()["id"])

	mk := func(name string) int64 {
		r := admin.Do(http.MethodPost, "/api/orgs/"+slug+"/teams", map[string]any{"name": name})
		if r.Status != 201 {
			t.Fatalf("create team %s: %s", name, r.Raw)
		}
		return num(r.Data()["id"])
	}
	readers, admins := mk("Readers"), mk("Admins")
	for _, tm := range []int64{readers, admins} {
		r := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/members/%d", slug, tm, bothID), map[string]any{"role": "member"})
		if r.Status != 200 || r.Data()["role"] != "member" {
			t.Fatalf("add member: %s", r.Raw)
		}
	}
	g1 := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "read"})
	g2 := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, admins), map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "admin"})
	if g1.Status != 200 || g2.Status != 200 {
		t.Fatalf("grants: %s %s", g1.Raw, g2.Raw)
	}
	// Re-grant: same id, new level.
	g3 := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "write"})
	if num(g3.Data()["id"]) != num(g1.Data()["id"]) || g3.Data()["permission"] != "write" {
		t.Fatalf("re-grant: %s", g3.Raw)
	}
	// Default level is write.
	g4 := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_id": agentID})
	if g4.Data()["permission"] != "write" {
		t.Fatalf("default grant: %s", g4.Raw)
	}
	admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "read"})

	// The member in both teams sees admin, from the Admins team.
	r := both.Do(http.MethodGet, idPath("/api/agents/%d", agentID), nil)
	src, _ := r.Data()["source"].(map[string]any)
	if r.Status != 200 || r.Data()["permission"] != "admin" || src["team_name"] != "Admins" {
		t.Fatalf("member in both: %s", r.Raw)
	}
	// Billing reads, whatever the grants; cannot join teams.
	if r := bill.Do(http.MethodGet, idPath("/api/agents/%d", agentID), nil); r.Data()["permission"] != "read" {
		t.Fatalf("billing: %s", r.Raw)
	}
	if r := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/members/%d", slug, admins, billID), map[string]any{"role": "member"}); r.Status != 422 || r.ErrorCode() != "validation_error" {
		t.Fatalf("billing joins a team: %d %s", r.Status, r.Raw)
	}
	// A plain member: 404, and not listed; a member's own agent is admin.
	if r := plain.Do(http.MethodGet, idPath("/api/agents/%d", agentID), nil); r.Status != 404 {
		t.Fatalf("plain member get: %d", r.Status)
	}
	if r := plain.Do(http.MethodPatch, idPath("/api/agents/%d", agentID), map[string]any{"name": "x"}); r.Status != 404 {
		t.Fatalf("plain member patch: %d", r.Status)
	}
	mine := plain.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Pat's helper", "org": orgID})
	if mine.Status != 201 || mine.Data()["permission"] != "admin" {
		t.Fatalf("member creates: %s", mine.Raw)
	}
	list := plain.Do(http.MethodGet, "/api/agents?org="+slug, nil)
	if list.Status != 200 || len(list.List()) != 1 || list.Body["pagination"].(map[string]any)["total"] != float64(1) {
		t.Fatalf("plain list: %s", list.Raw)
	}
	// Read cannot write; write can; delete needs admin.
	if r := bill.Do(http.MethodPatch, idPath("/api/agents/%d", agentID), map[string]any{"name": "x"}); r.Status != 403 {
		t.Fatalf("billing patch: %d", r.Status)
	}
	// The explainer.
	x := admin.Do(http.MethodGet, idPath("/api/agents/%d/access?user_id=%d", agentID, bothID), nil)
	xs, _ := x.Data()["source"].(map[string]any)
	if x.Status != 200 || x.Data()["permission"] != "admin" || xs["rule"] != "team_grant" || xs["team_name"] != "Admins" {
		t.Fatalf("explain: %s", x.Raw)
	}
	if x := admin.Do(http.MethodGet, idPath("/api/agents/%d/access?user_id=%d", agentID, plainID), nil); x.Data()["permission"] != "none" {
		t.Fatalf("explain plain: %s", x.Raw)
	}
	if x := admin.Do(http.MethodGet, idPath("/api/agents/%d/access?user_id=abc", agentID), nil); x.Status != 422 {
		t.Fatalf("explain bad user: %d", x.Status)
	}

	// Another org's agent cannot be granted; another org's ids are 404.
	oorg := other.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Other Co"})
	oslug := oorg.Data()["slug"].(string)
	theirs := other.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Their bot", "org": oslug})
	theirID := num(theirs.Data()["id"])
	if r := admin.Do(http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_kind": "agent", "resource_id": theirID}); r.Status != 404 {
		t.Fatalf("grant another org's agent: %d %s", r.Status, r.Raw)
	}
	for _, p := range []string{
		idPath("/api/orgs/%s/teams/%d", oslug, readers),
		idPath("/api/orgs/%s/teams/%d", slug, 999999),
		idPath("/api/agents/%d", theirID),
		idPath("/api/agents/%d/access?user_id=%d", theirID, bothID),
		"/api/orgs/" + oslug + "/resources?kind=agent",
	} {
		if r := admin.Do(http.MethodGet, p, nil); r.Status != 404 || r.ErrorCode() != "not_found" {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Raw)
		}
	}
	if r := other.Do(http.MethodGet, idPath("/api/orgs/%s/teams/%d", oslug, readers), nil); r.Status != 404 {
		t.Errorf("team through the wrong org: %d", r.Status)
	}

	// Bad input.
	bad := []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodPost, "/api/orgs/" + slug + "/teams", map[string]any{"name": ""}, 422},
		{http.MethodPost, "/api/orgs/" + slug + "/teams", map[string]any{"name": "readers"}, 409}, // a taken name: conflict
		{http.MethodPost, "/api/orgs/" + slug + "/teams", map[string]any{"name": "X", "color": "red"}, 422},
		{http.MethodPost, "/api/orgs/" + slug + "/teams", "{", 422},
		{http.MethodPut, idPath("/api/orgs/%s/teams/%d/members/%d", slug, readers, plainID), map[string]any{"role": "boss"}, 422},
		{http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_id": agentID, "permission": "owner"}, 422},
		{http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_id": "x"}, 422},
		{http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"permission": "read"}, 422},
		{http.MethodPut, idPath("/api/orgs/%s/teams/%d/grants", slug, readers), map[string]any{"resource_kind": "skill", "resource_id": agentID}, 422},
		{http.MethodPost, "/api/agents", map[string]any{"name": ""}, 422},
		{http.MethodPost, "/api/agents", map[string]any{"name": "x", "org": true}, 422},
		{http.MethodPost, "/api/agents", map[string]any{"name": "x", "org": oslug}, 404},
		{http.MethodPost, idPath("/api/agents/%d/transfer", agentID), map[string]any{"email": "nope"}, 422},
		{http.MethodPost, idPath("/api/agents/%d/move-to-org", agentID), map[string]any{}, 422},
		{http.MethodGet, "/api/orgs/" + slug + "/resources?kind=planet", nil, 422},
		{http.MethodGet, "/api/agents/abc", nil, 404},
		{http.MethodDelete, idPath("/api/orgs/%s/teams/%d/grants/%d", slug, readers, 999999), nil, 404},
	}
	for _, b := range bad {
		if r := admin.Do(b.method, b.path, b.body); r.Status != b.want || r.Body["success"] != false || r.ErrorMessage() == "" {
			t.Errorf("%s %s %v: %d %s, want %d", b.method, b.path, b.body, r.Status, r.Raw, b.want)
		}
	}
	// Plain members cannot create teams or list resources.
	if r := plain.Do(http.MethodPost, "/api/orgs/"+slug+"/teams", map[string]any{"name": "Mine"}); r.Status != 403 {
		t.Errorf("member creates team: %d", r.Status)
	}
	if r := plain.Do(http.MethodGet, "/api/orgs/"+slug+"/resources?kind=agent", nil); r.Status != 403 {
		t.Errorf("member lists resources: %d", r.Status)
	}
	res := admin.Do(http.MethodGet, "/api/orgs/"+slug+"/resources?kind=agent", nil)
	if res.Status != 200 || len(res.List()) != 2 {
		t.Errorf("resources: %s", res.Raw)
	}
	// A page at a time: the second of two, one a page.
	res = admin.Do(http.MethodGet, "/api/orgs/"+slug+"/resources?kind=agent&page=2&per_page=1", nil)
	if p, _ := res.Body["pagination"].(map[string]any); res.Status != 200 || len(res.List()) != 1 ||
		p["page"] != 2.0 || p["per_page"] != 1.0 || p["total"] != 2.0 || p["total_pages"] != 2.0 {
		t.Errorf("resources page 2 of 2: %s", res.Raw)
	}
	if r := admin.Do(http.MethodGet, "/api/orgs/"+slug+"/resources?kind=agent&per_page=0", nil); r.Status != 422 || r.ErrorCode() != "validation_error" {
		t.Errorf("resources per_page=0: %d %s", r.Status, r.Raw)
	}
	// Team detail and list.
	d := both.Do(http.MethodGet, idPath("/api/orgs/%s/teams/%d", slug, admins), nil)
	if d.Status != 200 || len(d.Data()["members"].([]any)) != 1 || len(d.Data()["grants"].([]any)) != 1 {
		t.Fatalf("team detail: %s", d.Raw)
	}
	if l := bill.Do(http.MethodGet, "/api/orgs/"+slug+"/teams", nil); l.Status != 200 || len(l.List()) != 2 {
		t.Fatalf("teams list: %s", l.Raw)
	}
	if u := admin.Do(http.MethodPatch, idPath("/api/orgs/%s/teams/%d", slug, admins), map[string]any{"description": "The admins"}); u.Status != 200 || u.Data()["description"] != "The admins" || u.Data()["name"] != "Admins" {
		t.Fatalf("patch team: %s", u.Raw)
	}
	// Leave a team; remove a grant; delete a team.
	if r := both.Do(http.MethodDelete, idPath("/api/orgs/%s/teams/%d/members/%d", slug, readers, bothID), nil); r.Status != 200 || r.Data()["removed"] != true {
		t.Fatalf("leave team: %s", r.Raw)
	}
	if r := admin.Do(http.MethodDelete, idPath("/api/orgs/%s/teams/%d/grants/%d", slug, admins, num(g2.Data()["id"])), nil); r.Status != 200 {
		t.Fatalf("remove grant: %s", r.Raw)
	}
	if r := both.Do(http.MethodGet, idPath("/api/agents/%d", agentID), nil); r.Status != 404 {
		t.Fatalf("after grant removal: %d", r.Status)
	}
	if r := admin.Do(http.MethodDelete, idPath("/api/orgs/%s/teams/%d", slug, admins), nil); r.Status != 200 || r.Data()["deleted"] != true {
		t.Fatalf("delete team: %s", r.Raw)
	}
	// The org owns agents: deleting it is a 409 naming them.
	del := admin.Do(http.MethodDelete, "/api/orgs/"+slug, map[string]any{"confirm": slug})
	if del.Status != 409 || !strings.Contains(del.Raw, "Support bot") {
		t.Errorf("delete org with agents: %d %s", del.Status, del.Raw)
	}
}

// TestAgentMoveAndTransferAPI: a personal agent moves into the org; another
// is transferred to a colleague who accepts it.
func TestAgentMoveAndTransferAPI(t *testing.T) {
	env := webtest.New(t)
	dev, devID := env.SignUpAPI("dev@example.com", "Dev")
	colleague, _ := env.SignUpAPI("colleague@example.com", "Colleague")
	env.VerifyEmail("colleague@example.com")
	org := dev.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Dev Org"})
	orgID := num(org.Data()["id"])

	side := dev.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Side project"})
	if side.Status != 201 || side.Data()["org_id"] == float64(orgID) {
		t.Fatalf("personal agent: %s", side.Raw)
	}
	moved := dev.Do(http.MethodPost, idPath("/api/agents/%d/move-to-org", num(side.Data()["id"])), map[string]any{"org_id": orgID})
	if moved.Status != 200 || num(moved.Data()["org_id"]) != orgID || num(moved.Data()["created_by"]) != devID || moved.Data()["permission"] != "admin" {
		t.Fatalf("move: %s", moved.Raw)
	}
	if r := colleague.Do(http.MethodPost, idPath("/api/agents/%d/move-to-org", num(side.Data()["id"])), map[string]any{"org_id": orgID}); r.Status != 404 {
		t.Fatalf("stranger moves: %d", r.Status)
	}

	gift := dev.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Gift bot"})
	giftID := num(gift.Data()["id"])
	tr := dev.Do(http.MethodPost, idPath("/api/agents/%d/transfer", giftID), map[string]any{"email": "colleague@example.com"})
	if tr.Status != 201 || tr.Data()["status"] != "pending" || tr.Data()["to_email"] != "colleague@example.com" {
		t.Fatalf("transfer: %s", tr.Raw)
	}
	if !strings.Contains(env.LinkIn("colleague@example.com", "/agent-transfers/"), "/agent-transfers/agt_") {
		t.Fatal("no transfer link mailed")
	}
	if r := dev.Do(http.MethodPost, idPath("/api/agents/%d/transfer", giftID), map[string]any{"email": "x@example.com"}); r.Status != 409 {
		t.Fatalf("second transfer: %d", r.Status)
	}
	mine := colleague.Do(http.MethodGet, "/api/me/agent-transfers", nil)
	if len(mine.List()) != 1 {
		t.Fatalf("incoming: %s", mine.Raw)
	}
	trID := num(tr.Data()["id"])
	if r := dev.Do(http.MethodPost, idPath("/api/me/agent-transfers/%d/accept", trID), nil); r.Status != 404 {
		t.Fatalf("sender accepts: %d", r.Status)
	}
	acc := colleague.Do(http.MethodPost, idPath("/api/me/agent-transfers/%d/accept", trID), nil)
	if acc.Status != 200 || acc.Data()["permission"] != "admin" || acc.Data()["name"] != "Gift bot" {
		t.Fatalf("accept: %s", acc.Raw)
	}
	if r := dev.Do(http.MethodGet, idPath("/api/agents/%d", giftID), nil); r.Status != 404 {
		t.Fatalf("sender still sees it: %d", r.Status)
	}
	if r := colleague.Do(http.MethodPost, idPath("/api/me/agent-transfers/%d/decline", trID), nil); r.Status != 409 {
		t.Fatalf("decline after accept: %d", r.Status)
	}
	if r := colleague.Do(http.MethodDelete, idPath("/api/agents/%d", giftID), nil); r.Status != 200 {
		t.Fatalf("new owner deletes: %d %s", r.Status, r.Raw)
	}
}

// TestTeamPagesHTMX drives the team and agent pages as a browser would with
// htmx: add a member, grant, change the level, the explainer; cross-org ids
// are 404 and bad input a 422 fragment.
func TestTeamPagesHTMX(t *testing.T) {
	env := webtest.New(t)
	admin := env.SignUpVerified("admin@example.com", "Ada Admin")
	env.SignUpVerified("member@example.com", "Mo Member")
	outsider := env.SignUpVerified("out@example.com", "Otto Outsider")
	if r := admin.Post("/orgs", url.Values{"display_name": {"Acme"}}); r.Status != 303 {
		t.Fatalf("create org: %d", r.Status)
	}
	var orgID int64
	if err := env.Store.DB().Get(&orgID, `SELECT id FROM orgs WHERE kind = 'team'`); err != nil {
		t.Fatal(err)
	}
	mo, _ := env.Store.AccountByEmail(t.Context(), "member@example.com")
	tgJoin(t, env, orgID, mo.ID, "member")
	admin.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(orgID, 10)}})
	admin.Get("/teams")

	if r := admin.Post("/agents", url.Values{"name": {""}}); r.Status != 422 || !strings.Contains(r.Body, `id="e-name"`) {
		t.Fatalf("empty agent name: %d", r.Status)
	}
	r := admin.Post("/agents", url.Values{"name": {"Support bot"}, "description": {"Answers tickets"}})
	if r.Status != 303 || !strings.HasPrefix(r.Location, "/agents/") {
		t.Fatalf("create agent: %d %s", r.Status, r.Location)
	}
	agentPath := r.Location
	if r := admin.Post("/teams", url.Values{"name": {""}}); r.Status != 422 || !strings.Contains(r.Body, `id="e-name"`) {
		t.Fatalf("empty team name: %d", r.Status)
	}
	r = admin.Post("/teams", url.Values{"name": {"Platform"}})
	if r.Status != 303 || !strings.HasPrefix(r.Location, "/teams/") {
		t.Fatalf("create team: %d", r.Status)
	}
	teamPath := r.Location
	// The page shows its pickers closed (links that open them): their
	// choices are read only when asked for, with htmx or without.
	page := admin.Get(teamPath)
	if page.Status != 200 || !strings.Contains(page.Body, `id="open-member-picker"`) || !strings.Contains(page.Body, `id="open-grant-picker"`) ||
		strings.Contains(page.Body, `id="f-user_id"`) || strings.Contains(page.Body, `id="f-resource_id"`) || strings.Contains(page.Body, "Mo Member (member@example.com)") {
		t.Fatalf("team page: pickers not closed: %d", page.Status)
	}
	if p := admin.Get(teamPath + "?add=member"); p.Status != 200 || !strings.Contains(p.Body, "Mo Member (member@example.com)") || strings.Contains(p.Body, `id="f-resource_id"`) {
		t.Fatalf("team page with the member picker open: %d", p.Status)
	}
	if p := admin.Get(teamPath + "?add=grant"); p.Status != 200 || !strings.Contains(p.Body, ">Support bot<") || strings.Contains(p.Body, `id="f-user_id"`) {
		t.Fatalf("team page with the grant picker open: %d", p.Status)
	}
	r = admin.HTMX(http.MethodGet, teamPath+"?pick=grant-form", nil)
	if r.Status != 200 || strings.Contains(r.Body, "<html") || !strings.HasPrefix(r.Body, `<div id="grant-picker">`) ||
		!strings.Contains(r.Body, `id="add-grant-form"`) || !strings.Contains(r.Body, ">Support bot<") || !strings.Contains(r.Body, "autofocus") {
		t.Fatalf("grant picker fragment: %d %s", r.Status, r.Body)
	}
	r = admin.HTMX(http.MethodGet, teamPath+"?pick=member-form", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Body, `<div id="member-picker">`) || !strings.Contains(r.Body, "Mo Member (member@example.com)") {
		t.Fatalf("member picker fragment: %d %s", r.Status, r.Body)
	}
	r = admin.HTMX(http.MethodPost, teamPath+"/members", url.Values{"user_id": {strconv.FormatInt(mo.ID, 10)}, "role": {"member"}})
	if r.Status != 200 || !strings.Contains(r.Body, `id="team-members"`) || !strings.Contains(r.Body, `data-email="member@example.com"`) {
		t.Fatalf("add member fragment: %d %s", r.Status, r.Body)
	}
	if r := admin.HTMX(http.MethodPost, teamPath+"/members", url.Values{"user_id": {"abc"}}); r.Status != 422 {
		t.Fatalf("bad member id: %d", r.Status)
	}
	agentID := strings.TrimPrefix(agentPath, "/agents/")
	r = admin.HTMX(http.MethodPost, teamPath+"/grants", url.Values{"resource_kind": {"agent"}, "resource_id": {agentID}, "permission": {"read"}, "picker": {"open"}})
	if r.Status != 200 || !strings.Contains(r.Body, `data-permission="read"`) {
		t.Fatalf("grant fragment: %d %s", r.Status, r.Body)
	}
	// Granted from the open picker, the card keeps it open: here every
	// agent is granted now.
	if !strings.Contains(r.Body, "Every agent of the organization is granted to this team.") {
		t.Errorf("the picker the grant came from closed: %s", r.Body)
	}
	var grantID int64
	if err := env.Store.DB().Get(&grantID, `SELECT id FROM grants`); err != nil {
		t.Fatal(err)
	}
	r = admin.HTMX(http.MethodPost, idPath("%s/grants/%d", teamPath, grantID), url.Values{"permission": {"admin"}})
	if r.Status != 200 || !strings.Contains(r.Body, `data-permission="admin"`) || !strings.Contains(r.Body, "Now Admin") {
		t.Fatalf("level change: %d %s", r.Status, r.Body)
	}
	if r := admin.HTMX(http.MethodPost, idPath("%s/grants/%d", teamPath, grantID), url.Values{"permission": {"owner"}}); r.Status != 422 || !strings.Contains(r.Body, "Choose a permission") {
		t.Fatalf("bad level: %d %s", r.Status, r.Body)
	}
	// The explainer fragment.
	r = admin.HTMX(http.MethodGet, agentPath+"/access?user_id="+strconv.FormatInt(mo.ID, 10), nil)
	if r.Status != 200 || !strings.Contains(r.Body, `data-permission="admin"`) || !strings.Contains(r.Body, "through team Platform") {
		t.Fatalf("explainer: %d %s", r.Status, r.Body)
	}
	// The member sees it with admin in the list.
	mc := env.NewClient()
	mc.SignIn("member@example.com", webtest.Password)
	mc.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(orgID, 10)}})
	if l := mc.Get("/agents"); !strings.Contains(l.Body, `data-agent="Support bot" data-permission="admin"`) {
		t.Fatalf("member's list lacks the agent at admin")
	}
	// Cross-org: the outsider gets 404 for the team and the agent.
	for _, p := range []string{teamPath, agentPath, agentPath + "/access?user_id=1"} {
		if r := outsider.Get(p); r.Status != 404 {
			t.Errorf("outsider GET %s: %d", p, r.Status)
		}
	}
	if r := outsider.Post(agentPath+"/delete", nil); r.Status != 404 {
		t.Errorf("outsider delete: %d", r.Status)
	}
	if r := outsider.Get("/agents/abc"); r.Status != 404 {
		t.Errorf("bad id: %d", r.Status)
	}
}

// TestPickerFragments: the pickers list the first 20 matches by name, their
// search answers htmx with the options alone (filtered on the server, the
// team's members and granted agents and billing members left out), and the
// search is the page's own: a member who cannot manage the team is refused,
// another org's viewer does not find the team or agent.
func TestPickerFragments(t *testing.T) {
	env := webtest.New(t)
	g, err := demo.Generate(t.Context(), env.Store, "pick", "owner@pick.test", "reader@pick.test",
		demo.Size{Members: 120, Teams: 3, Agents: 40, Grants: 6, Audit: 1, BigTeamGrants: 3, ReaderAgents: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(email string) *webtest.Client {
		c := env.NewClient()
		c.SignIn(email, demo.Password)
		c.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(g.OrgID, 10)}})
		return c
	}
	owner, reader := signIn("owner@pick.test"), signIn("reader@pick.test")
	team := idPath("/teams/%d", g.ReaderTeam)
	page := owner.Get(team + "?add=member")
	if n := strings.Count(page.Body[strings.Index(page.Body, `id="f-user_id"`):], `<option value="`); page.Status != 200 || n < 20 {
		t.Fatalf("team page: %d, %d options", page.Status, n)
	}
	sel := page.Body[strings.Index(page.Body, `id="f-user_id"`):]
	sel = sel[:strings.Index(sel, "</select>")]
	if n := strings.Count(sel, "<option"); n != 20 {
		t.Errorf("member picker offers %d, want the first 20", n)
	}
	if strings.Contains(sel, "Rhys Reader") {
		t.Error("member picker offers a member of the team")
	}

	// Member 97 is billing (every 97th account): never offered to join.
	var billing string
	if err := env.Store.DB().Get(&billing, `SELECT a.name FROM accounts a JOIN memberships m ON m.account_id = a.id
		WHERE m.org_id = $1 AND m.role = 'billing' LIMIT 1`, g.OrgID); err != nil {
		t.Fatal(err)
	}
	r := owner.HTMX(http.MethodGet, team+"?pick=members&member_q="+url.QueryEscape(strings.ToUpper(billing)), nil)
	if r.Status != 200 || strings.Contains(r.Body, "<html") || !strings.Contains(r.Body, "No member who can join matches") {
		t.Errorf("billing member search: %d %s", r.Status, r.Body)
	}
	r = owner.HTMX(http.MethodGet, team+"?pick=members&member_q=M000101%40", nil) // by email, any case
	if r.Status != 200 || strings.Count(r.Body, "<option") != 1 || !strings.Contains(r.Body, "Member 101 (m000101@") {
		t.Errorf("member search by email: %d %s", r.Status, r.Body)
	}
	r = owner.HTMX(http.MethodGet, team+"?pick=agents&agent_q=agent+00003", nil)
	if r.Status != 200 || strings.Count(r.Body, "<option") != 10 || strings.Contains(r.Body, "Agent 000040") {
		t.Errorf("agent search: %d %s", r.Status, r.Body)
	}
	// The readers' team holds agents 1 and 2: not offered again.
	r = owner.HTMX(http.MethodGet, team+"?pick=agents&agent_q=agent+00000", nil)
	if strings.Contains(r.Body, ">Agent 000001<") || strings.Contains(r.Body, ">Agent 000002<") || !strings.Contains(r.Body, ">Agent 000003<") {
		t.Errorf("agent search offers granted agents: %s", r.Body)
	}
	// Without htmx, the search is the whole page, filtered.
	if p := owner.Get(team + "?member_q=member+101"); p.Status != 200 || !strings.Contains(p.Body, "Member 101 (") || strings.Contains(p.Body, "Member 1 (") {
		t.Errorf("filtered page: %d", p.Status)
	}
	// A plain member cannot manage the team: no pickers, and no search.
	for _, path := range []string{team, team + "?add=member", team + "?add=grant&agent_q=a"} {
		if p := reader.Get(path); p.Status != 200 || strings.Contains(p.Body, `id="f-user_id"`) || strings.Contains(p.Body, `id="f-member-q"`) ||
			strings.Contains(p.Body, `id="open-member-picker"`) || strings.Contains(p.Body, `id="f-resource_id"`) || strings.Contains(p.Body, `id="open-grant-picker"`) {
			t.Errorf("the reader sees the team's pickers at %s", path)
		}
	}
	for _, pick := range []string{"members&member_q=member", "member-form", "grant-form", "agents"} {
		if r := reader.HTMX(http.MethodGet, team+"?pick="+pick, nil); r.Status != http.StatusForbidden || strings.Contains(r.Body, "Member 1") || strings.Contains(r.Body, "Agent 0") {
			t.Errorf("reader's picker %s: %d", pick, r.Status)
		}
	}

	// The explainer opens on demand: the page reads no members until asked
	// (a link without script, htmx with it), then 20 and the search.
	agent := idPath("/agents/%d", g.AgentID)
	if r := reader.Get(agent); r.Status != 200 || strings.Contains(r.Body, `id="f-explain"`) || !strings.Contains(r.Body, `id="open-explainer"`) ||
		!strings.Contains(r.Body, "?explain=open#explainer") {
		t.Errorf("agent page: the explainer should start closed: %d", r.Status)
	}
	if r := reader.Get(agent + "?explain=open"); strings.Count(r.Body, `<option`) < 21 || !strings.Contains(r.Body, `id="f-explain-q"`) {
		t.Errorf("explainer opened without script: %d options", strings.Count(r.Body, `<option`))
	}
	if r := reader.HTMX(http.MethodGet, agent+"?pick=explainer", nil); r.Status != 200 || strings.Count(r.Body, "<option") != 21 ||
		!strings.HasPrefix(strings.TrimSpace(r.Body), `<div id="explainer-body">`) || strings.Contains(r.Body, "<html") || !strings.Contains(r.Body, "autofocus") {
		t.Errorf("explainer fragment: %d %s", r.Status, r.Body)
	}
	if r := env.NewClient().Get(agent + "?pick=explainer"); r.Status == 200 && strings.Contains(r.Body, `id="f-explain"`) {
		t.Error("the explainer opens signed out")
	}
	r = reader.HTMX(http.MethodGet, agent+"?pick=members&member_q=member+11", nil)
	if r.Status != 200 || strings.Count(r.Body, "<option") != 11 || !strings.Contains(r.Body, "Choose a member") {
		t.Errorf("explainer search: %d %s", r.Status, r.Body)
	}
	// Explaining a member past the first 20 keeps them chosen.
	var m99 int64
	if err := env.Store.DB().Get(&m99, `SELECT id FROM accounts WHERE name = 'Member 99'`); err != nil {
		t.Fatal(err)
	}
	if p := owner.Get(agent + "?user_id=" + strconv.FormatInt(m99, 10)); !strings.Contains(p.Body, `<option value="`+strconv.FormatInt(m99, 10)+`" selected>Member 99`) {
		t.Error("the explained member is not the chosen option")
	}

	// The API's team: every grant by default, a page of them on request.
	tok := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "owner@pick.test", "password": demo.Password, "name": "t"})
	tokText, _ := tok.Data()["token"].(string)
	api := env.NewAPI(tokText)
	apiTeam := idPath("/api/orgs/pick/teams/%d", g.BigTeamID)
	if r := api.Do(http.MethodGet, apiTeam, nil); r.Status != 200 || strings.Count(r.Raw, `"resource_kind":"agent"`) != 3 || strings.Contains(r.Raw, `"pagination"`) {
		t.Errorf("API team: %d %s", r.Status, r.Raw)
	}
	if r := api.Do(http.MethodGet, apiTeam+"?page=2&per_page=2", nil); r.Status != 200 || strings.Count(r.Raw, `"resource_kind":"agent"`) != 1 ||
		!strings.Contains(r.Raw, `"pagination":{"page":2,"per_page":2,"total":3,"total_pages":2}`) || !strings.Contains(r.Raw, `"resource_name":"Agent 000003"`) {
		t.Errorf("API team page 2: %d %s", r.Status, r.Raw)
	}
	if r := api.Do(http.MethodGet, apiTeam+"?per_page=x", nil); r.Status != 422 || !strings.Contains(r.Raw, "per_page") {
		t.Errorf("API team, bad per_page: %d %s", r.Status, r.Raw)
	}

	// Another org's account: not found, with or without the search.
	out := env.SignUpVerified("out@example.com", "Otto Outsider")
	for _, p := range []string{team + "?pick=members&member_q=m", team + "?pick=grant-form", agent + "?pick=members&member_q=m"} {
		if r := out.HTMX(http.MethodGet, p, nil); r.Status != http.StatusNotFound || strings.Contains(r.Body, "Member 1") {
			t.Errorf("outsider %s: %d", p, r.Status)
		}
	}
}

// The teams page lists a page of teams at a time, by name, with the org's
// team count; a page past the end is empty but still counts them.
func TestTeamsPagePages(t *testing.T) {
	env := webtest.New(t)
	admin := env.SignUpVerified("admin@example.com", "Ada Admin")
	if r := admin.Post("/orgs", url.Values{"display_name": {"Acme"}}); r.Status != 303 {
		t.Fatalf("create org: %d", r.Status)
	}
	var orgID int64
	if err := env.Store.DB().Get(&orgID, `SELECT id FROM orgs WHERE kind = 'team'`); err != nil {
		t.Fatal(err)
	}
	env.Store.DB().MustExec(`INSERT INTO teams (org_id, name) SELECT $1, 'Team ' || lpad(g::text, 3, '0') FROM generate_series(1, 60) g`, orgID)
	admin.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(orgID, 10)}})
	p1 := admin.Get("/teams")
	if p1.Status != 200 || strings.Count(p1.Body, "<tr data-team=") != handlers.TeamsPerPage ||
		!strings.Contains(p1.Body, `data-team="Team 001"`) || strings.Contains(p1.Body, `data-team="Team 051"`) ||
		!strings.Contains(p1.Body, "Page 1 of 2 · 60 total") {
		t.Fatalf("page 1: %d, %d rows", p1.Status, strings.Count(p1.Body, "<tr data-team="))
	}
	p2 := admin.Get("/teams?page=2")
	if strings.Count(p2.Body, "<tr data-team=") != 10 || !strings.Contains(p2.Body, `data-team="Team 051"`) || !strings.Contains(p2.Body, "Page 2 of 2") {
		t.Fatalf("page 2: %d rows", strings.Count(p2.Body, "<tr data-team="))
	}
	if p9 := admin.Get("/teams?page=9"); p9.Status != 200 || strings.Contains(p9.Body, "<tr data-team=") || strings.Contains(p9.Body, "No teams yet") {
		t.Fatalf("a page past the end: %d", p9.Status)
	}
	if bad := admin.Get("/teams?page=x"); bad.Status != 200 || !strings.Contains(bad.Body, `data-team="Team 001"`) {
		t.Fatalf("a page that is not a number shows page 1: %d", bad.Status)
	}
	// A page number whose offset would overflow is an empty page, not a 500.
	for _, p := range []string{"9223372036854775807", "-5", "0"} {
		if r := admin.Get("/teams?page=" + p); r.Status != 200 {
			t.Fatalf("/teams?page=%s: %d", p, r.Status)
		}
	}
}

// TestTeamAnswerKept: the API's answer for a team of many grants is kept
// per grants version and served again (compressed or not, the same JSON as
// encoding/json writes with ?pretty), and every change that shows in it
// shows at once: a new level, a renamed agent, a grant removed, a member's
// new role.
func TestTeamAnswerKept(t *testing.T) {
	env := webtest.New(t)
	g, err := demo.Generate(t.Context(), env.Store, "kept", "owner@kept.test", "reader@kept.test",
		demo.Size{Members: 10, Teams: 3, Agents: 150, Grants: 130, Audit: 1, BigTeamGrants: 120, ReaderAgents: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "owner@kept.test", "password": demo.Password, "name": "t"})
	tokText, _ := tok.Data()["token"].(string)
	api := env.NewAPI(tokText)
	team := idPath("/api/orgs/kept/teams/%d", g.BigTeamID)
	get := func(what string) (string, map[string]any) {
		t.Helper()
		gz := api.Do(http.MethodGet, team, nil) // the client asks for gzip and inflates
		plain := api.Do(http.MethodGet, team, nil, "Accept-Encoding", "identity")
		pretty := api.Do(http.MethodGet, team+"?pretty", nil)
		if gz.Status != 200 || plain.Status != 200 || gz.Raw != plain.Raw {
			t.Fatalf("%s: gzip and plain answers differ: %d %d", what, gz.Status, plain.Status)
		}
		var a, b any
		_ = json.Unmarshal([]byte(gz.Raw), &a)
		_ = json.Unmarshal([]byte(pretty.Raw), &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: the answer is not what encoding/json writes", what)
		}
		return gz.Raw, gz.Data()
	}
	first, d := get("first")
	if again, _ := get("again"); again != first {
		t.Fatal("the same team answers differently without a change")
	}
	readsGrants := func() bool {
		t.Helper()
		r, qs := api.Queries(team)
		if r.Status != 200 || r.Raw != first && len(qs) == 0 {
			t.Fatalf("counted call: %d", r.Status)
		}
		return strings.Contains(strings.Join(qs, "\n"), "SELECT g.id, g.resource_kind")
	}
	if readsGrants() {
		t.Error("the kept answer was not served: the grants were read again")
	}
	grants := d["grants"].([]any)
	if len(grants) != 120 {
		t.Fatalf("%d grants", len(grants))
	}
	g0 := grants[0].(map[string]any)
	agentID := int64(g0["resource_id"].(float64))
	grantID := int64(g0["id"].(float64))
	level := func(d map[string]any) string {
		for _, x := range d["grants"].([]any) {
			if m := x.(map[string]any); int64(m["id"].(float64)) == grantID {
				return m["permission"].(string) + " " + m["resource_name"].(string)
			}
		}
		return "gone"
	}
	want := "admin " + g0["resource_name"].(string)
	if g0["permission"] == "admin" {
		want = "read " + g0["resource_name"].(string)
	}
	if r := api.Do(http.MethodPut, idPath("/api/orgs/kept/teams/%d/grants", g.BigTeamID), map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": strings.Fields(want)[0]}); r.Status != 200 {
		t.Fatalf("new level: %d %s", r.Status, r.Raw)
	}
	if !readsGrants() {
		t.Error("a new level did not let go of the kept answer")
	}
	if _, d := get("new level"); level(d) != want {
		t.Errorf("after a new level: %s, want %s", level(d), want)
	}
	if r := api.Do(http.MethodPatch, idPath("/api/agents/%d", agentID), map[string]any{"name": "Renamed agent"}); r.Status != 200 {
		t.Fatalf("rename: %d %s", r.Status, r.Raw)
	}
	if _, d := get("renamed"); level(d) != strings.Fields(want)[0]+" Renamed agent" {
		t.Errorf("after the rename: %s", level(d))
	}
	members := func(d map[string]any) string { b, _ := json.Marshal(d["members"]); return string(b) }
	_, before := get("before the member change")
	m0 := before["members"].([]any)[0].(map[string]any)
	role := "maintainer"
	if m0["role"] == "maintainer" {
		role = "member"
	}
	if r := api.Do(http.MethodPut, idPath("/api/orgs/kept/teams/%d/members/%d", g.BigTeamID, int64(m0["user_id"].(float64))), map[string]any{"role": role}); r.Status != 200 {
		t.Fatalf("member role: %d %s", r.Status, r.Raw)
	}
	if _, d := get("member role"); members(d) == members(before) || !strings.Contains(members(d), `"role":"`+role+`"`) {
		t.Errorf("the member's new role does not show: %s", members(d))
	}
	if r := api.Do(http.MethodDelete, idPath("/api/orgs/kept/teams/%d/grants/%d", g.BigTeamID, grantID), nil); r.Status != 200 {
		t.Fatalf("remove: %d %s", r.Status, r.Raw)
	}
	if _, d := get("removed"); level(d) != "gone" || len(d["grants"].([]any)) != 119 || d["grant_count"].(float64) != 119 {
		t.Errorf("after the removal: %s, %d grants", level(d), len(d["grants"].([]any)))
	}
	// A page of them is kept apart from the whole answer.
	if r := api.Do(http.MethodGet, team+"?page=2&per_page=100", nil); r.Status != 200 || len(r.Data()["grants"].([]any)) != 19 ||
		!strings.Contains(r.Raw, `"pagination":{"page":2,"per_page":100,"total":119,"total_pages":2}`) {
		t.Errorf("page 2: %d %s", r.Status, r.Raw)
	}
}

// The API's teams list has pages too (API.md's list envelope): 100 teams a
// page by default, per_page up to 100, by name, with the org's total; bad
// numbers are a 422 naming the field.
func TestTeamsAPIPages(t *testing.T) {
	env := webtest.New(t)
	tok, orgID := acmeByAPI(t, env)
	env.Store.DB().MustExec(`INSERT INTO teams (org_id, name) SELECT $1, 'Team ' || lpad(g::text, 3, '0') FROM generate_series(1, 130) g`, orgID)
	names := func(r webtest.APIResponse) []string {
		var out []string
		for _, v := range r.List() {
			out = append(out, v.(map[string]any)["name"].(string))
		}
		return out
	}
	pag := func(r webtest.APIResponse) map[string]any { p, _ := r.Body["pagination"].(map[string]any); return p }
	p1 := tok.Do(http.MethodGet, "/api/orgs/acme/teams", nil)
	// 20 a page by default, the members list's (model.DefaultPerPage).
	if n := names(p1); p1.Status != 200 || len(n) != 20 || n[0] != "Team 001" || n[19] != "Team 020" {
		t.Fatalf("page 1: %d %v", p1.Status, n)
	}
	if p := pag(p1); p["page"] != 1.0 || p["per_page"] != 20.0 || p["total"] != 130.0 || p["total_pages"] != 7.0 {
		t.Fatalf("page 1 pagination %v", p)
	}
	if c := p1.List()[0].(map[string]any)["created_at"]; c == nil || c == "" {
		t.Fatalf("a team's created_at is missing: %v", p1.List()[0])
	}
	p2 := tok.Do(http.MethodGet, "/api/orgs/acme/teams?page=2&per_page=100", nil)
	if n := names(p2); len(n) != 30 || n[0] != "Team 101" || n[29] != "Team 130" {
		t.Fatalf("page 2: %v", n)
	}
	p3 := tok.Do(http.MethodGet, "/api/orgs/acme/teams?page=3&per_page=50", nil)
	if n := names(p3); len(n) != 30 || n[0] != "Team 101" || pag(p3)["total_pages"] != 3.0 {
		t.Fatalf("page 3 of 50: %v %v", n, pag(p3))
	}
	if big := tok.Do(http.MethodGet, "/api/orgs/acme/teams?per_page=1000", nil); len(big.List()) != 100 || pag(big)["per_page"] != 100.0 {
		t.Fatalf("per_page is at most 100: %d %v", len(big.List()), pag(big))
	}
	if last := tok.Do(http.MethodGet, "/api/orgs/acme/teams?page=7", nil); len(last.List()) != 10 || names(last)[0] != "Team 121" {
		t.Fatalf("the last page of 20: %v", names(last))
	}
	if past := tok.Do(http.MethodGet, "/api/orgs/acme/teams?page=99", nil); past.Status != 200 || len(past.List()) != 0 || pag(past)["total"] != 130.0 {
		t.Fatalf("a page past the end: %d %v", past.Status, pag(past))
	}
	for _, q := range []string{"page=0", "page=x", "per_page=-1", "page=99999999999999999999"} {
		r := tok.Do(http.MethodGet, "/api/orgs/acme/teams?"+q, nil)
		if r.Status != 422 {
			t.Fatalf("?%s: %d, want 422", q, r.Status)
		}
	}
}

// TestAgentsPagePagesByAgent: "Next" and "Previous" on the agents page name
// the agent the page starts after or ends before (a deep page costs what
// the first does), show the pages by number would, and keep the number; a
// link edited by hand still answers.
func TestAgentsPagePagesByAgent(t *testing.T) {
	env := webtest.New(t)
	admin := env.SignUpVerified("admin@example.com", "Ada Admin")
	if r := admin.Post("/orgs", url.Values{"display_name": {"Acme"}}); r.Status != 303 {
		t.Fatalf("create org: %d", r.Status)
	}
	var orgID, adminID int64
	if err := env.Store.DB().Get(&orgID, `SELECT id FROM orgs WHERE kind = 'team'`); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.DB().Get(&adminID, `SELECT id FROM accounts WHERE email = 'admin@example.com'`); err != nil {
		t.Fatal(err)
	}
	env.Store.DB().MustExec(`UPDATE orgs SET limit_agents = 1000 WHERE id = $1`, orgID)
	env.Store.DB().MustExec(`INSERT INTO agents (org_id, name, description, config, created_by)
		SELECT $1, 'Agent ' || lpad(g::text, 3, '0'), '', '{}', $2 FROM generate_series(1, 60) g`, orgID, adminID)
	admin.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(orgID, 10)}})
	agentID := func(name string) string {
		var id int64
		if err := env.Store.DB().Get(&id, `SELECT id FROM agents WHERE name = $1`, name); err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(id, 10)
	}
	names := func(body string) (first, last string, n int) {
		for _, part := range strings.Split(body, `data-agent="`)[1:] {
			name := part[:strings.IndexByte(part, '"')]
			if first == "" {
				first = name
			}
			last, n = name, n+1
		}
		return first, last, n
	}
	link := func(body, label string) string {
		i := strings.Index(body, label)
		if i < 0 {
			return ""
		}
		j := strings.LastIndex(body[:i], `href="`)
		href := body[j+len(`href="`):]
		return strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	}
	p1 := admin.Get("/agents")
	if first, last, n := names(p1.Body); p1.Status != 200 || first != "Agent 001" || last != "Agent 025" || n != 25 ||
		!strings.Contains(p1.Body, "Page 1 of 3 · 60 total") {
		t.Fatalf("page 1: %d %s..%s (%d)", p1.Status, first, last, n)
	}
	next := link(p1.Body, "Next →")
	if want := "/agents?page=2&after=" + agentID("Agent 025"); next != want {
		t.Fatalf("next from page 1: %q, want %q", next, want)
	}
	p2 := admin.Get(next)
	if first, last, n := names(p2.Body); first != "Agent 026" || last != "Agent 050" || n != 25 || !strings.Contains(p2.Body, "Page 2 of 3") {
		t.Fatalf("page 2: %s..%s (%d)", first, last, n)
	}
	if prev := link(p2.Body, "← Previous"); prev != "/agents?page=1" {
		t.Fatalf("previous from page 2: %q", prev)
	}
	p3 := admin.Get(link(p2.Body, "Next →"))
	if first, last, n := names(p3.Body); first != "Agent 051" || last != "Agent 060" || n != 10 || !strings.Contains(p3.Body, "Page 3 of 3") ||
		strings.Contains(p3.Body, "Next →") {
		t.Fatalf("page 3: %s..%s (%d)", first, last, n)
	}
	prev := link(p3.Body, "← Previous")
	if want := "/agents?page=2&before=" + agentID("Agent 051"); prev != want {
		t.Fatalf("previous from page 3: %q, want %q", prev, want)
	}
	if back := admin.Get(prev); back.Body != p2.Body {
		t.Fatalf("page 2 by its last row's neighbour differs from page 2 by the first")
	}
	// The API pages the same way.
	api := env.NewAPI("")
	tok := api.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "admin@example.com", "password": webtest.Password, "name": "pager", "org": "acme"})
	if tok.Status != 201 {
		t.Fatalf("token: %d %s", tok.Status, tok.Raw)
	}
	api.Token, _ = tok.Data()["token"].(string)
	apiNames := func(r webtest.APIResponse) []string {
		var out []string
		for _, a := range r.Body["data"].([]any) {
			out = append(out, a.(map[string]any)["name"].(string))
		}
		return out
	}
	// Without per_page, 20 a page (model.DefaultPerPage), for one org and
	// for all the caller's orgs.
	for _, path := range []string{"/api/agents?org=acme", "/api/agents"} {
		d := api.Do(http.MethodGet, path, nil)
		if n := apiNames(d); d.Status != 200 || len(n) != 20 || n[0] != "Agent 001" || n[19] != "Agent 020" ||
			!strings.Contains(d.Raw, `"pagination":{"page":1,"per_page":20,"total":60,"total_pages":3}`) {
			t.Fatalf("%s default page: %d %v %s", path, d.Status, n, d.Raw[max(0, len(d.Raw)-120):])
		}
	}
	r := api.Do(http.MethodGet, "/api/agents?org=acme&per_page=5&page=3&after="+agentID("Agent 010"), nil)
	if got := apiNames(r); r.Status != 200 || len(got) != 5 || got[0] != "Agent 011" || got[4] != "Agent 015" {
		t.Fatalf("API page after Agent 010: %d %v", r.Status, got)
	}
	if p := r.Body["pagination"].(map[string]any); p["page"] != 3.0 || p["total"] != 60.0 {
		t.Fatalf("API pagination %v", p)
	}
	r = api.Do(http.MethodGet, "/api/agents?org=acme&per_page=5&page=2&before="+agentID("Agent 011"), nil)
	if got := apiNames(r); len(got) != 5 || got[0] != "Agent 006" || got[4] != "Agent 010" {
		t.Fatalf("API page before Agent 011: %v", got)
	}
	// Asked in a way they cannot place a page, they are a field error, not
	// ignored.
	for path, field := range map[string]string{
		"/api/agents?org=acme&page=2&after=x":                        "after",
		"/api/agents?org=acme&page=2&before=0":                       "before",
		"/api/agents?org=acme&page=2&after=3&before=4":               "before",
		"/api/agents?org=acme&after=" + agentID("Agent 010"):         "page",
		"/api/agents?org=acme&page=1&before=" + agentID("Agent 011"): "page",
	} {
		r := api.Do(http.MethodGet, path, nil)
		e, _ := r.Body["error"].(map[string]any)
		details, _ := e["details"].(map[string]any)
		fields, _ := details["fields"].(map[string]any)
		if r.Status != 422 || fields[field] == nil {
			t.Errorf("%s: %d %s, want a 422 on %s", path, r.Status, r.Raw, field)
		}
	}
	// A token bound to no org names one with org.
	loose, _ := env.SignUpAPI("loose@example.com", "Lou Loose")
	if r := loose.Do(http.MethodGet, "/api/agents?page=2&after="+agentID("Agent 010"), nil); r.Status != 422 || !strings.Contains(r.Raw, `"org"`) {
		t.Errorf("after without org: %d %s", r.Status, r.Raw)
	}

	// Edited by hand: an agent that is not there, or not a number, gives the
	// page by number.
	for _, path := range []string{"/agents?page=2&after=999999", "/agents?page=2&before=-3", "/agents?page=2&after=x"} {
		r := admin.Get(path)
		if first, last, _ := names(r.Body); r.Status != 200 || first != "Agent 026" || last != "Agent 050" {
			t.Fatalf("%s: %d %s..%s", path, r.Status, first, last)
		}
	}
}

// TestTeamMembersAPIPages: GET /api/orgs/{org}/teams/{id}/members answers
// the team's members a page at a time, in the team page's order
// (maintainers first, then by name), with page pagination; every page
// together is the team answer's members list. Any member of the org may
// read it; another org's team, or a caller outside the org, is a 404, and
// a bad page a 422.
func TestTeamMembersAPIPages(t *testing.T) {
	env := webtest.New(t)
	tok, orgID := acmeByAPI(t, env)
	team := tok.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": "Everyone"})
	teamID := num(team.Data()["id"])
	env.Store.DB().MustExec(`UPDATE orgs SET limit_team_members = 1000 WHERE id = $1`, orgID)
	env.Store.DB().MustExec(`INSERT INTO accounts (email, name) SELECT 'p' || g || '@example.com', 'Person ' || lpad(((g * 37) % 45)::text, 2, '0') FROM generate_series(1, 45) g`)
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) SELECT $1, id, 'member' FROM accounts WHERE email LIKE 'p%@example.com'`, orgID)
	env.Store.DB().MustExec(`INSERT INTO team_members (team_id, org_id, account_id, role)
		SELECT $1, $2, account_id, CASE WHEN account_id % 10 = 0 THEN 'maintainer' ELSE 'member' END FROM memberships WHERE org_id = $2
		ON CONFLICT DO NOTHING`, teamID, orgID)
	var total int
	if err := env.Store.DB().Get(&total, `SELECT count(*) FROM team_members WHERE team_id = $1`, teamID); err != nil || total < 45 {
		t.Fatalf("team of %d (%v)", total, err)
	}
	path := fmt.Sprintf("/api/orgs/acme/teams/%d/members", teamID)
	ids := func(r webtest.APIResponse) []string {
		var out []string
		for _, v := range r.List() {
			m := v.(map[string]any)
			out = append(out, fmt.Sprintf("%v:%v", m["role"], m["name"]))
		}
		return out
	}
	pag := func(r webtest.APIResponse) map[string]any { p, _ := r.Body["pagination"].(map[string]any); return p }

	// The team answer's members are the whole list, in the order to page.
	var all []string
	for _, v := range tok.Do(http.MethodGet, fmt.Sprintf("/api/orgs/acme/teams/%d", teamID), nil).Data()["members"].([]any) {
		m := v.(map[string]any)
		all = append(all, fmt.Sprintf("%v:%v", m["role"], m["name"]))
	}
	if len(all) != total || !strings.HasPrefix(all[0], "maintainer:") || !strings.HasPrefix(all[total-1], "member:") {
		t.Fatalf("the team's members: %v", all)
	}
	var paged []string
	pages := (total + 19) / 20
	for p := 1; p <= pages; p++ {
		r := tok.Do(http.MethodGet, fmt.Sprintf("%s?page=%d", path, p), nil)
		if r.Status != 200 {
			t.Fatalf("page %d: %d %s", p, r.Status, r.Raw)
		}
		if got := pag(r); got["page"] != float64(p) || got["per_page"] != 20.0 || got["total"] != float64(total) || got["total_pages"] != float64(pages) {
			t.Fatalf("page %d pagination %v", p, got)
		}
		paged = append(paged, ids(r)...)
	}
	if strings.Join(paged, ",") != strings.Join(all, ",") {
		t.Fatalf("pages of 20:\n%v\nwant\n%v", paged, all)
	}
	if r := tok.Do(http.MethodGet, path+"?per_page=1000", nil); len(r.List()) != min(total, 100) || pag(r)["per_page"] != 100.0 {
		t.Fatalf("per_page is at most 100: %d %v", len(r.List()), pag(r))
	}
	first := tok.Do(http.MethodGet, path+"?per_page=1", nil).List()[0].(map[string]any)
	if first["team_id"] != float64(teamID) || first["user_id"] == nil || first["email"] == "" || first["org_role"] != "member" || first["joined_at"] == "" {
		t.Fatalf("a member: %v", first)
	}
	if past := tok.Do(http.MethodGet, path+"?page=99", nil); past.Status != 200 || len(past.List()) != 0 || pag(past)["total"] != float64(total) {
		t.Fatalf("a page past the end: %d %v", past.Status, pag(past))
	}
	for _, q := range []string{"page=0", "page=x", "per_page=-1"} {
		if r := tok.Do(http.MethodGet, path+"?"+q, nil); r.Status != 422 {
			t.Fatalf("?%s: %d, want 422", q, r.Status)
		}
	}
	// A plain member of the org reads it too; an outsider, or the team
	// under another org, is not found.
	member, _ := env.SignUpAPI("mo@example.com", "Mo Member")
	mo, _ := env.Store.AccountByEmail(t.Context(), "mo@example.com")
	if r := member.Do(http.MethodGet, path, nil); r.Status != 404 {
		t.Fatalf("an outsider: %d", r.Status)
	}
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, orgID, mo.ID)
	if r := member.Do(http.MethodGet, path, nil); r.Status != 200 || len(r.List()) != 20 {
		t.Fatalf("a plain member: %d %d", r.Status, len(r.List()))
	}
	member.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Elsewhere"})
	if r := member.Do(http.MethodGet, fmt.Sprintf("/api/orgs/elsewhere/teams/%d/members", teamID), nil); r.Status != 404 {
		t.Fatalf("the team under another org: %d", r.Status)
	}
}
