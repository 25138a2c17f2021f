package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

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

	// A NUL in an org reference: refused at the edge (cleanInput).
	want(owner.Do(http.MethodGet, "/api/orgs/%00/members", nil), 422, "org ref with NUL")
	want(owner.Do(http.MethodGet, "/api/orgs/ac%00me/teams", nil), 422, "org ref with NUL inside")
	want(owner.Do(http.MethodGet, "/api/agents?org=%00", nil), 422, "agents org filter with NUL")
	want(owner.Do(http.MethodPost, "/api/agents", `{"name": "x", "org": "\u0000"}`), 422, "create agent in org NUL")

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

	// Issue 7 item 4, the strict rule: no org-bound token accepts a transfer,
	// not even one bound to the personal workspace where the agent lands.
	giftID := num(boss.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Gift", "org": "beta"}).Data()["id"])
	tr := boss.Do(http.MethodPost, fmt.Sprintf("/api/agents/%d/transfer", giftID), map[string]any{"email": "user@example.com"})
	if tr.Status != 201 {
		t.Fatal(tr.Raw)
	}
	if r := tA.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/accept", num(tr.Data()["id"])), nil); r.Status != 403 {
		t.Errorf("alpha token accepts a transfer: %d %s", r.Status, r.Raw)
	}
	if r := tP.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/accept", num(tr.Data()["id"])), nil); r.Status != 403 {
		t.Errorf("personal token accepts a transfer: %d %s", r.Status, r.Raw)
	}
	if r := user.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/accept", num(tr.Data()["id"])), nil); r.Status != 200 {
		t.Errorf("unbound token accepts a transfer: %d %s", r.Status, r.Raw)
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

// routeFixture is a signed-in owner (browser and API) of org "acme" with a
// team and an agent, and a way to send any request straight to the handler
// (so bytes an HTTP client refuses to send, such as a NUL in a header, still
// arrive).
type routeFixture struct {
	env     *webtest.Env
	token   string
	cookies []*http.Cookie
	csrf    string
	ids     map[string]string
}

func newRouteFixture(t testing.TB) *routeFixture {
	env := webtest.New(t)
	owner, _ := env.SignUpAPI("owner@example.com", "Olive Owner")
	env.VerifyEmail("owner@example.com")
	if r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	team := num(owner.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": "Core"}).Data()["id"])
	agent := num(owner.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Bot", "org": "acme"}).Data()["id"])
	web := env.NewClient()
	web.SignIn("owner@example.com", webtest.Password)
	u, _ := url.Parse(env.URL)
	return &routeFixture{env: env, token: owner.Token, cookies: web.HTTP.Jar.Cookies(u), csrf: web.CSRF(), ids: map[string]string{
		"org": "acme", "id": strconv.FormatInt(agent, 10), "team_id": strconv.FormatInt(team, 10),
		"user_id": "1", "grant_id": "1", "token": "no-such-token", "*": "x",
	}}
}

// path fills a route pattern's params; bad, if set, replaces the first one.
func (f *routeFixture) path(pattern, bad string) string {
	parts := strings.Split(pattern, "/")
	used := false
	for i, p := range parts {
		name := ""
		switch {
		case strings.HasPrefix(p, ":"):
			name = p[1:]
		case p == "*":
			name = "*"
		default:
			continue
		}
		v, ok := f.ids[name]
		if !ok {
			v = "1"
		}
		if bad != "" && !used {
			v, used = bad, true
		}
		parts[i] = v
	}
	return strings.Join(parts, "/")
}

// send calls the server's handler directly with the owner's credentials.
func (f *routeFixture) send(method, target, contentType string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://example.test/", rd)
	req.URL, _ = url.Parse(target)
	if req.URL == nil { // a target the URL parser refuses: send it raw
		req.URL = &url.URL{Path: target}
	}
	req.RequestURI = target
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasPrefix(target, "/api") {
		req.Header.Set("Authorization", "Bearer "+f.token)
	} else {
		for _, c := range f.cookies {
			req.AddCookie(c)
		}
		req.Header.Set("X-CSRF-Token", f.csrf)
	}
	for k, v := range header {
		req.Header[k] = []string{v}
	}
	rec := httptest.NewRecorder()
	f.env.Server.Handler().ServeHTTP(rec, req)
	return rec
}

// TestEveryRouteRefusesBadBytes sends the classic bad bytes (NUL, invalid
// UTF-8, an overlong encoding, a huge value) in each place text enters (path
// params, query, headers we read, form and JSON bodies) to every route in the
// route table: each is a clean 4xx, never a 5xx.
func TestEveryRouteRefusesBadBytes(t *testing.T) {
	f := newRouteFixture(t)
	bad := map[string]string{"NUL": "a\x00b", "invalid UTF-8": "a\xffb", "overlong": "\xc0\xaf", "surrogate": "\xed\xa0\x80"}
	escaped := map[string]string{"NUL": "a%00b", "invalid UTF-8": "a%FFb", "overlong": "%C0%AF", "surrogate": "%ED%A0%80"}
	huge := strings.Repeat("日", 1<<20) // 3 MB: beyond the body limit

	routes := f.env.Server.Echo().Routes()
	if len(routes) < 100 {
		t.Fatalf("only %d routes", len(routes))
	}
	seen := 0
	for _, rt := range routes {
		if rt.Method == echo.RouteNotFound || strings.HasPrefix(rt.Method, "PROPFIND") || rt.Method == http.MethodConnect || rt.Method == http.MethodTrace {
			continue
		}
		seen++
		hasParam := strings.ContainsAny(rt.Path, ":*")
		withBody := rt.Method != http.MethodGet && rt.Method != http.MethodHead
		for name, raw := range bad {
			esc := escaped[name]
			check := func(where string, rec *httptest.ResponseRecorder, want int) {
				t.Helper()
				if rec.Code >= 500 || (want != 0 && rec.Code != want) {
					t.Errorf("%s %s with %s in %s: %d, want %d: %.200s", rt.Method, rt.Path, name, where, rec.Code, want, rec.Body.String())
				}
			}
			if hasParam {
				check("a path param", f.send(rt.Method, f.path(rt.Path, esc), "", nil, nil), 422)
			}
			target := f.path(rt.Path, "")
			check("the query", f.send(rt.Method, target+"?page="+esc+"&q="+esc, "", nil, nil), 422)
			check("a query key", f.send(rt.Method, target+"?"+esc+"=1", "", nil, nil), 422)
			check("User-Agent", f.send(rt.Method, target, "", nil, map[string]string{"User-Agent": raw}), 422)
			check("X-Forwarded-For", f.send(rt.Method, target, "", nil, map[string]string{"X-Forwarded-For": raw}), 422)
			if !withBody {
				continue
			}
			if strings.HasPrefix(rt.Path, "/api") {
				js, _ := json.Marshal(raw) // NUL as \u0000; invalid bytes become U+FFFD here…
				check("a JSON string", f.send(rt.Method, target, "application/json", []byte(`{"name": `+string(js)+`, "description": `+string(js)+`}`), nil), 0)
				// …so send the raw bytes too.
				check("raw JSON bytes", f.send(rt.Method, target, "application/json", []byte(`{"name": "`+raw+`"}`), nil), 422)
				check("a JSON key", f.send(rt.Method, target, "application/json", []byte(`{"`+raw+`": 1}`), nil), 422)
			} else {
				form := "_csrf=" + url.QueryEscape(f.csrf) + "&name=" + esc + "&description=" + esc + "&display_name=" + esc + "&email=" + esc
				want := 0 // net/http reads a form body only for POST, PUT and PATCH
				if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodPatch {
					want = 422
				}
				check("a form value", f.send(rt.Method, target, "application/x-www-form-urlencoded", []byte(form), nil), want)
			}
		}
		if withBody {
			ct := "application/x-www-form-urlencoded"
			body := "name=" + url.QueryEscape(huge)
			if strings.HasPrefix(rt.Path, "/api") {
				ct, body = "application/json", `{"name": "`+huge+`"}`
			}
			if rec := f.send(rt.Method, f.path(rt.Path, ""), ct, []byte(body), nil); rec.Code >= 500 {
				t.Errorf("%s %s with a huge body: %d", rt.Method, rt.Path, rec.Code)
			}
		}
		if rec := f.send(rt.Method, f.path(rt.Path, "")+"?q="+url.QueryEscape(huge[:30000]), "", nil, map[string]string{"User-Agent": huge[:60000]}); rec.Code >= 500 {
			t.Errorf("%s %s with a huge query and user agent: %d", rt.Method, rt.Path, rec.Code)
		}
	}
	t.Logf("%d routes", seen)
	// The NUL variant of "a JSON string" is refused at the edge.
	if rec := f.send(http.MethodPost, "/api/orgs", "application/json", []byte(`{"display_name": "x\u0000"}`), nil); rec.Code != 422 {
		t.Errorf("escaped NUL in JSON: %d", rec.Code)
	}
}

// TestAPIJSONSentAsForm: curl -d sends JSON with a form content type; the
// edge check must not eat the body, and a NUL in it is still refused.
func TestAPIJSONSentAsForm(t *testing.T) {
	f := newRouteFixture(t)
	rec := f.send(http.MethodPost, "/api/orgs", "application/x-www-form-urlencoded", []byte(`{"display_name": "Curl Org", "slug": "curl-org"}`), nil)
	if rec.Code != 201 {
		t.Fatalf("JSON as a form: %d %s", rec.Code, rec.Body.String())
	}
	rec = f.send(http.MethodPost, "/api/orgs", "application/x-www-form-urlencoded", []byte(`{"display_name": "a\u0000b"}`), nil)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "display_name") {
		t.Fatalf("NUL in JSON sent as a form: %d %s", rec.Code, rec.Body.String())
	}
}
