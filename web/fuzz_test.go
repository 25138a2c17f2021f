package web_test

import (
	"strings"
	"testing"
)

// The fuzz targets drive whole requests through the server (handler, store,
// PostgreSQL): whatever the body, the answer is never a 5xx. Each target
// picks one of its routes with the first byte. Seed corpora are checked in
// under testdata/fuzz/<Target>/; `go tool task test` fuzzes each target for a
// few seconds (see Taskfile.yml).

// fuzzRoutes fuzzes the JSON bodies of routes ("METHOD pattern").
func fuzzRoutes(f *testing.F, contentType string, routes []string) {
	fx := newRouteFixture(f)
	for i := range routes {
		f.Add(uint8(i), []byte(`{}`))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		method, pattern, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		if contentType != "application/json" {
			body = append(body, "&_csrf="+fx.csrf...)
		}
		rec := fx.send(method, fx.path(pattern, ""), contentType, body, nil)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", method, pattern, body, rec.Code, rec.Body.String())
		}
	})
}

// FuzzAPIJSON fuzzes the JSON decoder of every API route that takes a body.
// One target (not one per route) keeps the CI fuzzing step short: each
// `go test -fuzz` run pays a link and a server start.
func FuzzAPIJSON(f *testing.F) {
	fuzzRoutes(f, "application/json", []string{
		"POST /api/auth/signup", "POST /api/auth/token", // 0
		"POST /api/orgs", "PATCH /api/orgs/:org", // 2
		"PATCH /api/orgs/:org/members/:user_id", "POST /api/orgs/:org/transfer-ownership", // 4
		"POST /api/orgs/:org/invitations", "POST /api/invitations/accept", // 6
		"POST /api/orgs/:org/teams", "PATCH /api/orgs/:org/teams/:team_id", // 8
		"PUT /api/orgs/:org/teams/:team_id/members/:user_id", "PUT /api/orgs/:org/teams/:team_id/grants", // 10
		"POST /api/agents", "PATCH /api/agents/:id", "POST /api/agents/:id/move-to-org", "POST /api/agents/:id/transfer", // 12
		"POST /api/me/tokens",                                                                   // 16
		"POST /api/orgs/:org/invitations/:id/resend", "POST /api/me/org-invitations/:id/accept", // 17
		"POST /api/me/agent-transfers/:id/accept", "DELETE /api/orgs/:org/teams/:team_id/members/:user_id", // 19
	})
}

// FuzzPageForms fuzzes the form parsers of the page routes that take a form
// (sign-out excepted: it would end the fuzzing session).
func FuzzPageForms(f *testing.F) {
	fuzzRoutes(f, "application/x-www-form-urlencoded", []string{
		"POST /signup", "POST /login", "POST /profile", "POST /profile/password", "POST /orgs", "POST /workspace",
		"POST /settings", "POST /members/invitations", "POST /members/:user_id/role", "POST /members/:user_id/transfer",
		"POST /invitations/:token/signup", "POST /teams", "POST /teams/:team_id", "POST /teams/:team_id/members",
		"POST /teams/:team_id/members/:user_id/role", "POST /teams/:team_id/grants", "POST /teams/:team_id/grants/:grant_id",
		"POST /agents", "POST /agents/:id", "POST /agents/:id/move", "POST /agents/:id/transfer", "POST /tokens",
	})
}
