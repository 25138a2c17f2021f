package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"guildhall/web/webtest"
)

// contractRow is one call of the API.md contract: who calls, the method and
// path (built when the row runs, from ids made by earlier rows), the body,
// the status, and the keys the answer's data must carry. list rows answer a
// JSON array with numbered pagination.
type contractRow struct {
	name   string
	who    func() *webtest.API
	method string
	path   func() string
	body   any // a value, raw JSON, or a func() any run when the row runs
	status int
	code   string   // error code, for refusals
	keys   []string // keys of data (or of each list item)
	list   bool
	check  func(t *testing.T, r webtest.APIResponse)
}

func runContract(t *testing.T, rows []contractRow) {
	t.Helper()
	for _, row := range rows {
		path := row.path()
		body := row.body
		if f, ok := body.(func() any); ok {
			body = f() // built when the row runs, from ids made by earlier rows
		}
		r := row.who().Do(row.method, path, body)
		if r.Status != row.status {
			t.Fatalf("%s: %s %s = %d, want %d\n%s", row.name, row.method, path, r.Status, row.status, r.Raw)
		}
		if r.Body == nil {
			t.Fatalf("%s: %s %s: not JSON: %s", row.name, row.method, path, r.Raw)
		}
		if row.code != "" {
			if r.Body["success"] != false || r.ErrorCode() != row.code || r.ErrorMessage() == "" {
				t.Fatalf("%s: %s %s: want error %s with a message: %s", row.name, row.method, path, row.code, r.Raw)
			}
			continue
		}
		if r.Body["success"] != true {
			t.Fatalf("%s: %s %s: success is not true: %s", row.name, row.method, path, r.Raw)
		}
		var items []map[string]any
		if row.list {
			p, ok := r.Body["pagination"].(map[string]any)
			if !ok {
				t.Fatalf("%s: list without pagination: %s", row.name, r.Raw)
			}
			for _, k := range []string{"page", "per_page", "total", "total_pages"} {
				if _, ok := p[k]; !ok {
					t.Fatalf("%s: pagination lacks %s: %s", row.name, k, r.Raw)
				}
			}
			list, ok := r.Body["data"].([]any)
			if !ok {
				t.Fatalf("%s: data is not a list: %s", row.name, r.Raw)
			}
			for _, it := range list {
				m, _ := it.(map[string]any)
				items = append(items, m)
			}
		} else {
			d := r.Data()
			if d == nil {
				t.Fatalf("%s: data is not an object: %s", row.name, r.Raw)
			}
			items = []map[string]any{d}
		}
		for _, it := range items {
			for _, k := range row.keys {
				if _, ok := it[k]; !ok {
					t.Fatalf("%s: %s %s: answer lacks %q: %s", row.name, row.method, path, k, r.Raw)
				}
			}
		}
		if row.check != nil {
			row.check(t, r)
		}
	}
}

// TestAPIContractMembersTeamsAgents walks every route of API.md's "Members
// and invitations" and "Teams, resources, grants, agents" sections with the
// exact method, path and body fields, checks the answer shapes and the
// refusal codes of SPEC 11; then checks every route without a token (401),
// from a stranger (404), and with another org's ids under the caller's own
// org (404).
func TestAPIContractMembersTeamsAgents(t *testing.T) {
	env := webtest.New(t)
	owner, ownerID := env.SignUpAPI("owner@example.com", "Olive Owner")
	admin, adminID := env.SignUpAPI("admin@example.com", "Ada Admin")
	member, memberID := env.SignUpAPI("member@example.com", "Mo Member")
	bill, billID := env.SignUpAPI("bill@example.com", "Bill Billing")
	invitee, inviteeID := env.SignUpAPI("invitee@example.com", "Ivy Invitee")
	linkUser, linkUserID := env.SignUpAPI("link@example.com", "Lin Link")
	stranger, _ := env.SignUpAPI("stranger@example.com", "Sam Stranger")
	for _, e := range []string{"invitee@example.com", "link@example.com", "stranger@example.com", "member@example.com"} {
		env.VerifyEmail(e)
	}
	r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	if r.Status != http.StatusCreated {
		t.Fatal(r.Raw)
	}
	orgID := num(r.Data()["id"])
	env.Store.DB().MustExec(`UPDATE orgs SET limit_team_members = 20, limit_agents = 50 WHERE id = $1`, orgID)
	tgJoin(t, env, orgID, adminID, "admin")
	tgJoin(t, env, orgID, memberID, "member")
	tgJoin(t, env, orgID, billID, "billing")

	// The stranger's own org, with one of everything, for cross-org ids.
	r = stranger.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Other", "slug": "other"})
	if r.Status != http.StatusCreated {
		t.Fatal(r.Raw)
	}
	otherTeam := num(stranger.Do(http.MethodPost, "/api/orgs/other/teams", map[string]any{"name": "Theirs"}).Data()["id"])
	otherAgent := num(stranger.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Their bot", "org": "other"}).Data()["id"])
	otherInv := num(stranger.Do(http.MethodPost, "/api/orgs/other/invitations", map[string]any{"email": "x@example.com"}).Data()["id"])
	otherGrant := num(stranger.Do(http.MethodPut, fmt.Sprintf("/api/orgs/other/teams/%d/grants", otherTeam),
		map[string]any{"resource_kind": "agent", "resource_id": otherAgent}).Data()["id"])
	strangerID := accountID(t, env, "stranger@example.com")

	var inv1, inv2, inv3, teamID, grantID, agentID, transferID, transfer2ID int64
	var inv1Expiry string
	who := func(a *webtest.API) func() *webtest.API { return func() *webtest.API { return a } }
	p := func(format string, ids ...*int64) func() string {
		return func() string {
			args := make([]any, len(ids))
			for i, id := range ids {
				args[i] = *id
			}
			return fmt.Sprintf(format, args...)
		}
	}
	fixed := func(s string) func() string { return func() string { return s } }
	ownerPtr, memberPtr, billPtr, inviteePtr, linkPtr := &ownerID, &memberID, &billID, &inviteeID, &linkUserID
	memberKeys := []string{"user_id", "name", "email", "role", "joined_at", "last_active_at"}
	invKeys := []string{"id", "email", "role", "expires_at"}
	teamKeys := []string{"id", "name", "description"}
	agentKeys := []string{"id", "org_id", "name", "description", "permission"}

	rows := []contractRow{
		// --- Members and invitations ---
		{name: "list members", who: who(owner), method: "GET", path: fixed("/api/orgs/acme/members?role=&page=1&per_page=2"),
			status: 200, list: true, keys: memberKeys, check: func(t *testing.T, r webtest.APIResponse) {
				pg := r.Body["pagination"].(map[string]any)
				if len(r.List()) != 2 || pg["total"] != float64(4) || pg["total_pages"] != float64(2) {
					t.Fatalf("members page: %s", r.Raw)
				}
			}},
		{name: "list members by role", who: who(bill), method: "GET", path: fixed("/api/orgs/acme/members?role=billing"),
			status: 200, list: true, keys: memberKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if len(r.List()) != 1 {
					t.Fatalf("role filter: %s", r.Raw)
				}
			}},
		{name: "list members bad role", who: who(owner), method: "GET", path: fixed("/api/orgs/acme/members?role=wizard"), status: 422, code: "validation_error"},
		{name: "change role", who: who(admin), method: "PATCH", path: p("/api/orgs/acme/members/%d", memberPtr),
			body: map[string]any{"role": "billing"}, status: 200, keys: []string{"user_id", "role"}, check: func(t *testing.T, r webtest.APIResponse) {
				if r.Data()["role"] != "billing" || num(r.Data()["user_id"]) != memberID {
					t.Fatalf("membership: %s", r.Raw)
				}
			}},
		{name: "change role back", who: who(admin), method: "PATCH", path: p("/api/orgs/acme/members/%d", memberPtr),
			body: map[string]any{"role": "member"}, status: 200, keys: []string{"user_id", "role"}},
		{name: "change role unknown", who: who(admin), method: "PATCH", path: p("/api/orgs/acme/members/%d", memberPtr),
			body: map[string]any{"role": "king"}, status: 422, code: "validation_error"},
		{name: "change role wrong type", who: who(admin), method: "PATCH", path: p("/api/orgs/acme/members/%d", memberPtr),
			body: `{"role": 3}`, status: 422, code: "validation_error"},
		{name: "admin demotes owner", who: who(admin), method: "PATCH", path: p("/api/orgs/acme/members/%d", ownerPtr),
			body: map[string]any{"role": "admin"}, status: 403, code: "forbidden"},
		{name: "member changes roles", who: who(member), method: "PATCH", path: p("/api/orgs/acme/members/%d", billPtr),
			body: map[string]any{"role": "member"}, status: 403, code: "forbidden"},
		{name: "last owner demoted", who: who(owner), method: "PATCH", path: p("/api/orgs/acme/members/%d", ownerPtr),
			body: map[string]any{"role": "admin"}, status: 409, code: "conflict"},
		{name: "invite", who: who(admin), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "invitee@example.com", "role": "member"}, status: 201, keys: invKeys,
			check: func(t *testing.T, r webtest.APIResponse) {
				inv1 = num(r.Data()["id"])
				inv1Expiry, _ = r.Data()["expires_at"].(string)
				if _, err := time.Parse(time.RFC3339, inv1Expiry); err != nil || r.Data()["role"] != "member" {
					t.Fatalf("invitation: %s", r.Raw)
				}
			}},
		{name: "invite default role", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "link@example.com"}, status: 201, keys: invKeys, check: func(t *testing.T, r webtest.APIResponse) {
				inv2 = num(r.Data()["id"])
				if r.Data()["role"] != "member" {
					t.Fatalf("default role: %s", r.Raw)
				}
			}},
		{name: "invite to decline", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "stranger@example.com", "role": "billing"}, status: 201, keys: invKeys,
			check: func(t *testing.T, r webtest.APIResponse) { inv3 = num(r.Data()["id"]) }},
		{name: "invite again while pending", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "invitee@example.com"}, status: 409, code: "conflict"},
		{name: "invite a member", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "member@example.com"}, status: 409, code: "conflict"},
		{name: "invite bad email", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "nope"}, status: 422, code: "validation_error"},
		{name: "invite missing email", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: nil, status: 422, code: "validation_error"},
		{name: "invite unknown role", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "a@example.com", "role": "emperor"}, status: 422, code: "validation_error"},
		{name: "admin invites owner", who: who(admin), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "a@example.com", "role": "owner"}, status: 403, code: "forbidden"},
		{name: "member invites", who: who(member), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "a@example.com"}, status: 403, code: "forbidden"},
		{name: "pending invitations", who: who(admin), method: "GET", path: fixed("/api/orgs/acme/invitations"),
			status: 200, list: true, keys: invKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if len(r.List()) != 3 {
					t.Fatalf("pending: %s", r.Raw)
				}
				env.Clock.Advance(time.Minute) // so the resend's new expiry differs
			}},
		{name: "member lists invitations", who: who(member), method: "GET", path: fixed("/api/orgs/acme/invitations"), status: 403, code: "forbidden"},
		{name: "resend", who: who(owner), method: "POST", path: p("/api/orgs/acme/invitations/%d/resend", &inv1),
			status: 200, keys: invKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if r.Data()["expires_at"] == inv1Expiry {
					t.Fatalf("resend kept the expiry: %s", r.Raw)
				}
			}},
		{name: "my invitations", who: who(invitee), method: "GET", path: fixed("/api/me/org-invitations"),
			status: 200, list: true, keys: append(invKeys, "org"), check: func(t *testing.T, r webtest.APIResponse) {
				if len(r.List()) != 1 {
					t.Fatalf("mine: %s", r.Raw)
				}
			}},
		{name: "accept someone else's", who: who(member), method: "POST", path: p("/api/me/org-invitations/%d/accept", &inv1), status: 404, code: "not_found"},
		{name: "accept mine", who: who(invitee), method: "POST", path: p("/api/me/org-invitations/%d/accept", &inv1),
			status: 200, keys: []string{"user_id", "org_id", "role"}, check: func(t *testing.T, r webtest.APIResponse) {
				if num(r.Data()["org_id"]) != orgID || num(r.Data()["user_id"]) != inviteeID || r.Data()["role"] != "member" {
					t.Fatalf("membership: %s", r.Raw)
				}
			}},
		{name: "accept twice", who: who(invitee), method: "POST", path: p("/api/me/org-invitations/%d/accept", &inv1), status: 409, code: "conflict"},
		{name: "decline mine", who: who(stranger), method: "POST", path: p("/api/me/org-invitations/%d/decline", &inv3),
			status: 200, keys: []string{"declined", "id", "status"}},
		{name: "accept by token, no token", who: who(linkUser), method: "POST", path: fixed("/api/invitations/accept"),
			body: map[string]any{}, status: 422, code: "validation_error"},
	}
	runContract(t, rows)

	linkToken := strings.TrimPrefix(env.Path(env.LinkIn("link@example.com", "/invitations/")), "/invitations/")
	rows = []contractRow{
		{name: "accept by token, wrong type", who: who(linkUser), method: "POST", path: fixed("/api/invitations/accept"),
			body: `{"token": ["x"]}`, status: 422, code: "validation_error"},
		{name: "accept by token, someone else", who: who(member), method: "POST", path: fixed("/api/invitations/accept"),
			body: map[string]any{"token": linkToken}, status: 403, code: "forbidden"},
		{name: "accept by token", who: who(linkUser), method: "POST", path: fixed("/api/invitations/accept"),
			body: map[string]any{"token": linkToken}, status: 200, keys: []string{"user_id", "org_id", "role"}},
		{name: "accept a used token", who: who(linkUser), method: "POST", path: fixed("/api/invitations/accept"),
			body: map[string]any{"token": linkToken}, status: 409, code: "conflict"},
		{name: "cancel", who: who(owner), method: "POST", path: fixed("/api/orgs/acme/invitations"),
			body: map[string]any{"email": "late@example.com"}, status: 201, keys: invKeys,
			check: func(t *testing.T, r webtest.APIResponse) { inv2 = num(r.Data()["id"]) }},
		{name: "cancel it", who: who(admin), method: "DELETE", path: p("/api/orgs/acme/invitations/%d", &inv2),
			status: 200, keys: []string{"cancelled", "id"}},
		{name: "remove member", who: who(admin), method: "DELETE", path: p("/api/orgs/acme/members/%d", linkPtr),
			status: 200, keys: []string{"removed", "user_id"}, check: func(t *testing.T, r webtest.APIResponse) {
				if r.Data()["removed"] != true || num(r.Data()["user_id"]) != linkUserID {
					t.Fatalf("removed: %s", r.Raw)
				}
			}},
		{name: "leave", who: who(invitee), method: "DELETE", path: p("/api/orgs/acme/members/%d", inviteePtr),
			status: 200, keys: []string{"removed", "user_id"}},
		{name: "admin removes owner", who: who(admin), method: "DELETE", path: p("/api/orgs/acme/members/%d", ownerPtr), status: 403, code: "forbidden"},
		{name: "last owner leaves", who: who(owner), method: "DELETE", path: p("/api/orgs/acme/members/%d", ownerPtr), status: 409, code: "conflict"},

		// --- Teams, resources, grants, agents ---
		{name: "create agent", who: who(owner), method: "POST", path: fixed("/api/agents"),
			body: map[string]any{"name": "Support bot", "description": "answers", "org": "acme"}, status: 201, keys: agentKeys,
			check: func(t *testing.T, r webtest.APIResponse) {
				agentID = num(r.Data()["id"])
				if num(r.Data()["org_id"]) != orgID || r.Data()["permission"] != "admin" {
					t.Fatalf("agent: %s", r.Raw)
				}
			}},
		{name: "billing creates agent", who: who(bill), method: "POST", path: fixed("/api/agents"),
			body: map[string]any{"name": "Nope", "org": orgID}, status: 403, code: "forbidden"},
		{name: "create agent no name", who: who(owner), method: "POST", path: fixed("/api/agents"),
			body: map[string]any{"org": "acme"}, status: 422, code: "validation_error"},
		{name: "create agent bad org type", who: who(owner), method: "POST", path: fixed("/api/agents"),
			body: map[string]any{"name": "x", "org": true}, status: 422, code: "validation_error"},
		{name: "create team", who: who(admin), method: "POST", path: fixed("/api/orgs/acme/teams"),
			body: map[string]any{"name": "Support", "description": "front line"}, status: 201, keys: teamKeys,
			check: func(t *testing.T, r webtest.APIResponse) { teamID = num(r.Data()["id"]) }},
		{name: "member creates team", who: who(member), method: "POST", path: fixed("/api/orgs/acme/teams"),
			body: map[string]any{"name": "Rogue"}, status: 403, code: "forbidden"},
		{name: "team no name", who: who(admin), method: "POST", path: fixed("/api/orgs/acme/teams"), body: "", status: 422, code: "validation_error"},
		{name: "list teams", who: who(bill), method: "GET", path: fixed("/api/orgs/acme/teams"), status: 200, list: true, keys: teamKeys},
		{name: "rename team", who: who(admin), method: "PATCH", path: p("/api/orgs/acme/teams/%d", &teamID),
			body: map[string]any{"name": "Support desk"}, status: 200, keys: teamKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if r.Data()["name"] != "Support desk" || r.Data()["description"] != "front line" {
					t.Fatalf("patch: %s", r.Raw)
				}
			}},
		{name: "add team member", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/members/%d", &teamID, memberPtr),
			body: map[string]any{"role": "maintainer"}, status: 200, keys: []string{"team_id", "user_id", "role"}},
		{name: "add billing to team", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/members/%d", &teamID, billPtr),
			body: map[string]any{"role": "member"}, status: 422, code: "validation_error"},
		{name: "add non-member to team", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/members/%d", &teamID, &strangerID),
			body: map[string]any{"role": "member"}, status: 422, code: "validation_error"},
		{name: "unknown team role", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/members/%d", &teamID, memberPtr),
			body: map[string]any{"role": "captain"}, status: 422, code: "validation_error"},
		{name: "maintainer grants an agent they cannot see", who: who(member), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: func() any {
				return map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "read"}
			}, status: 404, code: "not_found"},
		{name: "grant", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: func() any {
				return map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "read"}
			}, status: 200,
			keys:  []string{"id", "team_id", "resource_kind", "resource_id", "permission"},
			check: func(t *testing.T, r webtest.APIResponse) { grantID = num(r.Data()["id"]) }},
		{name: "re-grant keeps the id", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: func() any {
				return map[string]any{"resource_kind": "agent", "resource_id": agentID, "permission": "write"}
			}, status: 200,
			keys: []string{"id", "permission"}, check: func(t *testing.T, r webtest.APIResponse) {
				if num(r.Data()["id"]) != grantID || r.Data()["permission"] != "write" {
					t.Fatalf("re-grant: %s", r.Raw)
				}
			}},
		{name: "re-grant back to read", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: func() any { return map[string]any{"resource_id": agentID, "permission": "read"} }, status: 200, keys: []string{"id"}},
		{name: "grant without resource", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: `{"resource_kind": "agent"}`, status: 422, code: "validation_error"},
		{name: "grant resource 0", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: `{"resource_kind": "agent", "resource_id": 0}`, status: 422, code: "validation_error"},
		{name: "grant unknown permission", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: map[string]any{"resource_kind": "agent", "resource_id": 1, "permission": "god"}, status: 422, code: "validation_error"},
		{name: "grant unknown kind", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: map[string]any{"resource_kind": "planet", "resource_id": 1}, status: 422, code: "validation_error"},
		{name: "grant huge id", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: `{"resource_id": 1e40}`, status: 422, code: "validation_error"},
		{name: "grant another org's agent", who: who(admin), method: "PUT", path: p("/api/orgs/acme/teams/%d/grants", &teamID),
			body: map[string]any{"resource_id": otherAgent}, status: 404, code: "not_found"},
		{name: "resources", who: who(admin), method: "GET", path: fixed("/api/orgs/acme/resources?kind=agent"),
			status: 200, list: true, keys: []string{"kind", "id", "name"}},
		{name: "resources bad kind", who: who(admin), method: "GET", path: fixed("/api/orgs/acme/resources?kind=planet"), status: 422, code: "validation_error"},
		{name: "team detail", who: who(bill), method: "GET", path: p("/api/orgs/acme/teams/%d", &teamID),
			status: 200, keys: append(teamKeys, "members", "grants"), check: func(t *testing.T, r webtest.APIResponse) {
				if ms, _ := r.Data()["members"].([]any); len(ms) != 1 {
					t.Fatalf("members: %s", r.Raw)
				}
				if gs, _ := r.Data()["grants"].([]any); len(gs) != 1 {
					t.Fatalf("grants: %s", r.Raw)
				}
			}},
		{name: "list agents", who: who(member), method: "GET", path: fixed("/api/agents?org=acme"),
			status: 200, list: true, keys: agentKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if len(r.List()) != 1 || r.List()[0].(map[string]any)["permission"] != "read" {
					t.Fatalf("agents: %s", r.Raw)
				}
			}},
		{name: "get agent", who: who(member), method: "GET", path: p("/api/agents/%d", &agentID), status: 200, keys: agentKeys},
		{name: "patch needs write", who: who(member), method: "PATCH", path: p("/api/agents/%d", &agentID),
			body: map[string]any{"name": "x"}, status: 403, code: "forbidden"},
		{name: "patch agent", who: who(admin), method: "PATCH", path: p("/api/agents/%d", &agentID),
			body: map[string]any{"name": "Support bot 2", "description": "d", "config": "c"}, status: 200, keys: agentKeys},
		{name: "patch agent wrong type", who: who(admin), method: "PATCH", path: p("/api/agents/%d", &agentID),
			body: `{"config": {"a": 1}}`, status: 422, code: "validation_error"},
		{name: "access explainer", who: who(owner), method: "GET", path: p("/api/agents/%d/access?user_id=%d", &agentID, memberPtr),
			status: 200, keys: []string{"permission", "source"}, check: func(t *testing.T, r webtest.APIResponse) {
				src, _ := r.Data()["source"].(map[string]any)
				if r.Data()["permission"] != "read" || src["rule"] != "team_grant" || src["team_name"] != "Support desk" {
					t.Fatalf("explainer: %s", r.Raw)
				}
			}},
		{name: "access explainer bad user", who: who(owner), method: "GET", path: p("/api/agents/%d/access?user_id=abc", &agentID), status: 422, code: "validation_error"},
		{name: "access explainer outsider", who: who(owner), method: "GET", path: p("/api/agents/%d/access?user_id=%d", &agentID, &strangerID), status: 404, code: "not_found"},
		{name: "remove grant", who: who(member), method: "DELETE", path: p("/api/orgs/acme/teams/%d/grants/%d", &teamID, &grantID),
			status: 200, keys: []string{"removed", "id"}},
		{name: "member gone from agent", who: who(member), method: "GET", path: p("/api/agents/%d", &agentID), status: 404, code: "not_found"},
		{name: "remove team member", who: who(admin), method: "DELETE", path: p("/api/orgs/acme/teams/%d/members/%d", &teamID, memberPtr),
			status: 200, keys: []string{"removed", "user_id"}},
		{name: "delete team", who: who(admin), method: "DELETE", path: p("/api/orgs/acme/teams/%d", &teamID), status: 200, keys: []string{"deleted", "id"}},
		{name: "personal agent", who: who(member), method: "POST", path: fixed("/api/agents"),
			body: map[string]any{"name": "Side project"}, status: 201, keys: agentKeys,
			check: func(t *testing.T, r webtest.APIResponse) { agentID = num(r.Data()["id"]) }},
		{name: "move needs org_id", who: who(member), method: "POST", path: p("/api/agents/%d/move-to-org", &agentID), body: "{}", status: 422, code: "validation_error"},
		{name: "move to org", who: who(member), method: "POST", path: p("/api/agents/%d/move-to-org", &agentID),
			body: map[string]any{"org_id": orgID}, status: 200, keys: agentKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if num(r.Data()["org_id"]) != orgID || r.Data()["permission"] != "admin" {
					t.Fatalf("moved: %s", r.Raw)
				}
			}},
		{name: "transfer bad email", who: who(member), method: "POST", path: p("/api/agents/%d/transfer", &agentID),
			body: map[string]any{"email": "nope"}, status: 422, code: "validation_error"},
		{name: "transfer", who: who(member), method: "POST", path: p("/api/agents/%d/transfer", &agentID),
			body: map[string]any{"email": "stranger@example.com"}, status: 201, keys: []string{"id", "agent_id", "to_email", "status", "expires_at"},
			check: func(t *testing.T, r webtest.APIResponse) { transferID = num(r.Data()["id"]) }},
		{name: "incoming transfers", who: who(stranger), method: "GET", path: fixed("/api/me/agent-transfers"),
			status: 200, list: true, keys: []string{"id", "agent_id", "status"}},
		{name: "decline transfer", who: who(stranger), method: "POST", path: p("/api/me/agent-transfers/%d/decline", &transferID),
			status: 200, keys: []string{"declined", "id", "status"}},
		{name: "transfer again", who: who(member), method: "POST", path: p("/api/agents/%d/transfer", &agentID),
			body: map[string]any{"email": "stranger@example.com"}, status: 201, keys: []string{"id"},
			check: func(t *testing.T, r webtest.APIResponse) { transfer2ID = num(r.Data()["id"]) }},
		{name: "accept transfer", who: who(stranger), method: "POST", path: p("/api/me/agent-transfers/%d/accept", &transfer2ID),
			status: 200, keys: agentKeys, check: func(t *testing.T, r webtest.APIResponse) {
				if r.Data()["permission"] != "admin" || num(r.Data()["org_id"]) == orgID {
					t.Fatalf("accepted: %s", r.Raw)
				}
			}},
		{name: "delete agent", who: who(stranger), method: "DELETE", path: p("/api/agents/%d", &agentID), status: 200, keys: []string{"deleted", "id"}},
	}
	runContract(t, rows)

	// Every route: no token is 401; a stranger to acme gets 404 for acme's
	// ids; acme's owner gets 404 for the other org's ids under acme's path.
	agentID = num(owner.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Kept", "org": "acme"}).Data()["id"])
	teamID = num(owner.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": "Kept"}).Data()["id"])
	grantID = num(owner.Do(http.MethodPut, fmt.Sprintf("/api/orgs/acme/teams/%d/grants", teamID), map[string]any{"resource_id": agentID}).Data()["id"])
	inv1 = num(owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "kept@example.com"}).Data()["id"])
	type route struct {
		method, path string
		body         any
	}
	acmeRoutes := []route{
		{"GET", "/api/orgs/acme/members", nil},
		{"PATCH", fmt.Sprintf("/api/orgs/acme/members/%d", memberID), map[string]any{"role": "admin"}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/members/%d", memberID), nil},
		{"POST", "/api/orgs/acme/invitations", map[string]any{"email": "z@example.com"}},
		{"GET", "/api/orgs/acme/invitations", nil},
		{"POST", fmt.Sprintf("/api/orgs/acme/invitations/%d/resend", inv1), nil},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/invitations/%d", inv1), nil},
		{"POST", "/api/orgs/acme/teams", map[string]any{"name": "Mine now"}},
		{"GET", "/api/orgs/acme/teams", nil},
		{"GET", fmt.Sprintf("/api/orgs/acme/teams/%d", teamID), nil},
		{"PATCH", fmt.Sprintf("/api/orgs/acme/teams/%d", teamID), map[string]any{"name": "x"}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d", teamID), nil},
		{"PUT", fmt.Sprintf("/api/orgs/acme/teams/%d/members/%d", teamID, memberID), map[string]any{"role": "member"}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d/members/%d", teamID, memberID), nil},
		{"PUT", fmt.Sprintf("/api/orgs/acme/teams/%d/grants", teamID), map[string]any{"resource_id": agentID}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d/grants/%d", teamID, grantID), nil},
		{"GET", "/api/orgs/acme/resources?kind=agent", nil},
		{"GET", fmt.Sprintf("/api/agents/%d", agentID), nil},
		{"PATCH", fmt.Sprintf("/api/agents/%d", agentID), map[string]any{"name": "x"}},
		{"DELETE", fmt.Sprintf("/api/agents/%d", agentID), nil},
		{"GET", fmt.Sprintf("/api/agents/%d/access?user_id=%d", agentID, ownerID), nil},
		{"POST", fmt.Sprintf("/api/agents/%d/move-to-org", agentID), map[string]any{"org_id": "other"}},
		{"POST", fmt.Sprintf("/api/agents/%d/transfer", agentID), map[string]any{"email": "stranger@example.com"}},
	}
	anon := env.NewAPI("")
	for _, rt := range append(acmeRoutes,
		route{"GET", "/api/agents?org=acme", nil}, route{"POST", "/api/agents", map[string]any{"name": "x"}},
		route{"GET", "/api/me/org-invitations", nil}, route{"POST", "/api/me/org-invitations/1/accept", nil},
		route{"POST", "/api/me/org-invitations/1/decline", nil}, route{"POST", "/api/invitations/accept", map[string]any{"token": "x"}},
		route{"GET", "/api/me/agent-transfers", nil}, route{"POST", "/api/me/agent-transfers/1/accept", nil},
		route{"POST", "/api/me/agent-transfers/1/decline", nil}) {
		if r := anon.Do(rt.method, rt.path, rt.body); r.Status != 401 || r.ErrorCode() != "unauthorized" {
			t.Errorf("no token: %s %s = %d %s", rt.method, rt.path, r.Status, r.Raw)
		}
	}
	for _, rt := range acmeRoutes {
		if r := stranger.Do(rt.method, rt.path, rt.body); r.Status != 404 || r.ErrorCode() != "not_found" {
			t.Errorf("stranger: %s %s = %d %s", rt.method, rt.path, r.Status, r.Raw)
		}
	}
	foreign := []route{
		{"PATCH", fmt.Sprintf("/api/orgs/acme/members/%d", strangerID), map[string]any{"role": "member"}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/members/%d", strangerID), nil},
		{"POST", fmt.Sprintf("/api/orgs/acme/invitations/%d/resend", otherInv), nil},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/invitations/%d", otherInv), nil},
		{"POST", fmt.Sprintf("/api/me/org-invitations/%d/accept", otherInv), nil},
		{"GET", fmt.Sprintf("/api/orgs/acme/teams/%d", otherTeam), nil},
		{"PATCH", fmt.Sprintf("/api/orgs/acme/teams/%d", otherTeam), map[string]any{"name": "x"}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d", otherTeam), nil},
		{"PUT", fmt.Sprintf("/api/orgs/acme/teams/%d/members/%d", otherTeam, memberID), map[string]any{"role": "member"}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d/members/%d", otherTeam, strangerID), nil},
		{"PUT", fmt.Sprintf("/api/orgs/acme/teams/%d/grants", otherTeam), map[string]any{"resource_id": agentID}},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d/grants/%d", teamID, otherGrant), nil},
		{"DELETE", fmt.Sprintf("/api/orgs/acme/teams/%d/grants/%d", otherTeam, otherGrant), nil},
		{"PUT", fmt.Sprintf("/api/orgs/acme/teams/%d/grants", teamID), map[string]any{"resource_id": otherAgent}},
		{"GET", fmt.Sprintf("/api/agents/%d", otherAgent), nil},
		{"PATCH", fmt.Sprintf("/api/agents/%d", otherAgent), map[string]any{"name": "x"}},
		{"DELETE", fmt.Sprintf("/api/agents/%d", otherAgent), nil},
		{"GET", fmt.Sprintf("/api/agents/%d/access", otherAgent), nil},
		{"POST", fmt.Sprintf("/api/agents/%d/move-to-org", otherAgent), map[string]any{"org_id": orgID}},
		{"POST", fmt.Sprintf("/api/agents/%d/transfer", otherAgent), map[string]any{"email": "owner@example.com"}},
		{"GET", "/api/orgs/other/members", nil},
		{"GET", "/api/agents?org=other", nil},
	}
	for _, rt := range foreign {
		if r := owner.Do(rt.method, rt.path, rt.body); r.Status != 404 || r.ErrorCode() != "not_found" {
			t.Errorf("another org's id: %s %s = %d %s", rt.method, rt.path, r.Status, r.Raw)
		}
	}
}
