package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"guildhall/web/webtest"
)

// TestTokensNeverExceedTheirCreator: a token-created token is a subset of
// the creator's scopes with the same org binding, or a 403; the account's own
// (signed-in) token is not narrowed.
func TestTokensNeverExceedTheirCreator(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	env.VerifyEmail("ada@example.com")
	for _, slug := range []string{"alpha", "beta"} {
		if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": slug, "slug": slug}); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	rwSecret, _ := createToken(t, ada, map[string]any{"name": "rw", "scopes": []string{"read", "write"}})
	rw := env.NewAPI(rwSecret)
	for _, scopes := range [][]string{{"admin"}, {"read", "purchase"}, {"download"}} {
		if r := rw.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "more", "scopes": scopes}); r.Status != 403 || r.ErrorCode() != "forbidden" {
			t.Errorf("read/write token creating %v: %d %s", scopes, r.Status, r.Raw)
		}
	}
	r := rw.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "sub", "scopes": []string{"read"}})
	if r.Status != 201 || fmt.Sprint(r.Data()["scopes"]) != "[read]" {
		t.Errorf("subset: %d %s", r.Status, r.Raw)
	}
	// A write-only creator with no scopes asked: write only, not read and write.
	wSecret, _ := createToken(t, ada, map[string]any{"name": "w", "scopes": []string{"write"}})
	if r := env.NewAPI(wSecret).Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "dflt"}); r.Status != 201 || fmt.Sprint(r.Data()["scopes"]) != "[write]" {
		t.Errorf("default scopes from a write-only token: %d %s", r.Status, r.Raw)
	}

	// Bound to alpha: the new token is bound to alpha; another org is not
	// found (outside the binding, as for every route).
	alphaSecret, _ := createToken(t, ada, map[string]any{"name": "alpha", "org": "alpha", "scopes": []string{"read", "write"}})
	alpha := env.NewAPI(alphaSecret)
	alphaID := orgIDBySlug(t, env, "alpha")
	if r := alpha.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "child"}); r.Status != 201 || num(r.Data()["org_id"]) != alphaID {
		t.Errorf("child of an alpha token: %d %s", r.Status, r.Raw)
	}
	if r := alpha.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "child", "org": "alpha"}); r.Status != 201 || num(r.Data()["org_id"]) != alphaID {
		t.Errorf("child naming alpha: %d %s", r.Status, r.Raw)
	}
	if r := alpha.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "child", "org": "beta"}); r.Status != 404 {
		t.Errorf("alpha token creating a beta token: %d %s", r.Status, r.Raw)
	}
	// An expiring creator: the child cannot outlive it.
	soon := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	expSecret, _ := createToken(t, ada, map[string]any{"name": "exp", "expires_at": soon.Format(time.RFC3339)})
	exp := env.NewAPI(expSecret)
	if r := exp.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "later", "expires_at": soon.Add(time.Hour).Format(time.RFC3339)}); r.Status != 403 {
		t.Errorf("child outliving its creator: %d %s", r.Status, r.Raw)
	}
	if r := exp.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "same"}); r.Status != 201 || r.Data()["expires_at"] != soon.Format(time.RFC3339) {
		t.Errorf("child inherits the expiry: %d %s", r.Status, r.Raw)
	}
	var n int
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM api_tokens WHERE name IN ('more', 'later') OR (name = 'child' AND org_id IS DISTINCT FROM $1)`, alphaID); err != nil || n != 0 {
		t.Errorf("%d tokens beyond their creator were stored (%v)", n, err)
	}
}

// TestOrgBoundTokenStaysInItsOrg: an org-bound token creates no org, sees
// and acts on no other org's invitations or agent transfers, and /api/me
// shows only its org.
func TestOrgBoundTokenStaysInItsOrg(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	env.VerifyEmail("ada@example.com")
	bob, _ := env.SignUpAPI("bob@example.com", "Bob")
	env.VerifyEmail("bob@example.com")
	for _, org := range []struct {
		api  *webtest.API
		slug string
	}{{ada, "alpha"}, {bob, "beta"}} {
		if r := org.api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": org.slug, "slug": org.slug}); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	alphaSecret, _ := createToken(t, ada, map[string]any{"name": "alpha", "org": "alpha"})
	alpha := env.NewAPI(alphaSecret)

	if r := alpha.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Gamma"}); r.Status != 403 {
		t.Errorf("org-bound token creates an org: %d %s", r.Status, r.Raw)
	}
	// Bob invites Ada to beta and offers her an agent.
	inv := bob.Do(http.MethodPost, "/api/orgs/beta/invitations", map[string]any{"email": "ada@example.com", "role": "member"})
	if inv.Status != 201 {
		t.Fatal(inv.Raw)
	}
	invID := num(inv.Data()["id"])
	agentID := num(bob.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Gift", "org": "beta"}).Data()["id"])
	tr := bob.Do(http.MethodPost, fmt.Sprintf("/api/agents/%d/transfer", agentID), map[string]any{"email": "ada@example.com"})
	if tr.Status != 201 {
		t.Fatal(tr.Raw)
	}
	trID := num(tr.Data()["id"])

	if r := alpha.Do(http.MethodGet, "/api/me/org-invitations", nil); r.Status != 200 || len(r.List()) != 0 {
		t.Errorf("alpha token lists beta's invitation: %s", r.Raw)
	}
	if r := alpha.Do(http.MethodPost, fmt.Sprintf("/api/me/org-invitations/%d/decline", invID), nil); r.Status != 403 {
		t.Errorf("alpha token declines beta's invitation: %d %s", r.Status, r.Raw)
	}
	if r := alpha.Do(http.MethodPost, fmt.Sprintf("/api/me/org-invitations/%d/accept", invID), nil); r.Status != 403 {
		t.Errorf("alpha token accepts beta's invitation: %d %s", r.Status, r.Raw)
	}
	var status string
	if r := alpha.Do(http.MethodGet, "/api/me/agent-transfers", nil); r.Status != 200 || len(r.List()) != 0 {
		t.Errorf("alpha token lists a transfer: %s", r.Raw)
	}
	if r := alpha.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/decline", trID), nil); r.Status != 403 {
		t.Errorf("alpha token declines a transfer: %d %s", r.Status, r.Raw)
	}
	if r := alpha.Do(http.MethodPost, fmt.Sprintf("/api/me/agent-transfers/%d/accept", trID), nil); r.Status != 403 {
		t.Errorf("alpha token accepts a transfer: %d %s", r.Status, r.Raw)
	}
	// Issue 7 item 4, the strict rule: a token bound to the personal
	// workspace (where an accepted agent would land) is bound too, so it
	// neither lists nor answers beta's transfer or invitation.
	personal := num(ada.Do(http.MethodGet, "/api/me", nil).Data()["personal_org"].(map[string]any)["id"])
	personalSecret, _ := createToken(t, ada, map[string]any{"name": "personal", "org": personal})
	mine := env.NewAPI(personalSecret)
	if r := mine.Do(http.MethodGet, "/api/me/agent-transfers", nil); r.Status != 200 || len(r.List()) != 0 {
		t.Errorf("personal-bound token lists beta's transfer: %s", r.Raw)
	}
	if r := mine.Do(http.MethodGet, "/api/me/org-invitations", nil); r.Status != 200 || len(r.List()) != 0 {
		t.Errorf("personal-bound token lists beta's invitation: %s", r.Raw)
	}
	for _, path := range []string{"/api/me/agent-transfers/%d/decline", "/api/me/agent-transfers/%d/accept"} {
		if r := mine.Do(http.MethodPost, fmt.Sprintf(path, trID), nil); r.Status != 403 {
			t.Errorf("personal-bound token: POST %s: %d %s", fmt.Sprintf(path, trID), r.Status, r.Raw)
		}
	}
	for _, path := range []string{"/api/me/org-invitations/%d/decline", "/api/me/org-invitations/%d/accept"} {
		if r := mine.Do(http.MethodPost, fmt.Sprintf(path, invID), nil); r.Status != 403 {
			t.Errorf("personal-bound token: POST %s: %d %s", fmt.Sprintf(path, invID), r.Status, r.Raw)
		}
	}
	if err := env.Store.DB().Get(&status, `SELECT status FROM agent_transfers WHERE id = $1`, trID); err != nil || status != "pending" {
		t.Errorf("transfer after the bound tokens' tries: %q %v", status, err)
	}
	if err := env.Store.DB().Get(&status, `SELECT status FROM invitations WHERE id = $1`, invID); err != nil || status != "pending" {
		t.Errorf("invitation after the bound token's tries: %q %v", status, err)
	}
	// The unbound token still sees both.
	if r := ada.Do(http.MethodGet, "/api/me/org-invitations", nil); len(r.List()) != 1 {
		t.Errorf("unbound token lists %s", r.Raw)
	}
	if r := ada.Do(http.MethodGet, "/api/me/agent-transfers", nil); len(r.List()) != 1 {
		t.Errorf("unbound token lists transfers %s", r.Raw)
	}

	me := alpha.Do(http.MethodGet, "/api/me", nil)
	ms, _ := me.Data()["memberships"].([]any)
	if me.Status != 200 || len(ms) != 1 || ms[0].(map[string]any)["slug"] != "alpha" || me.Data()["personal_org"] != nil {
		t.Errorf("/api/me with an alpha token: %s", me.Raw)
	}
	if full := ada.Do(http.MethodGet, "/api/me", nil); len(full.Data()["memberships"].([]any)) != 2 || full.Data()["personal_org"] == nil {
		t.Errorf("/api/me unbound: %s", full.Raw)
	}
}

// TestPasswordChangeRevokesTokens: the password form offers to revoke every
// API token; ticked, they stop working, each revocation audited; unticked,
// they keep working.
func TestPasswordChangeRevokesTokens(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	page := c.Get("/profile")
	if !strings.Contains(page.Body, `name="revoke_tokens"`) {
		t.Fatal("the password form has no revoke-tokens checkbox")
	}
	tok := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password})
	if tok.Status != 201 {
		t.Fatal(tok.Raw)
	}
	api := env.NewAPI(tok.Data()["token"].(string))
	second, _ := createToken(t, api, map[string]any{"name": "ci"})

	// Unticked: tokens survive.
	r := c.Post("/profile/password", url.Values{"current_password": {webtest.Password}, "new_password": {"another-long-password"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("change password: %d", r.Status)
	}
	if r := api.Do(http.MethodGet, "/api/me", nil); r.Status != 200 {
		t.Fatalf("token after a plain password change: %d", r.Status)
	}
	// Ticked: every token is revoked.
	c.Get("/profile")
	r = c.Post("/profile/password", url.Values{"current_password": {"another-long-password"}, "new_password": {"a-third-long-password"}, "revoke_tokens": {"true"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("change password and revoke: %d", r.Status)
	}
	for _, s := range []string{api.Token, second} {
		if r := env.NewAPI(s).Do(http.MethodGet, "/api/me", nil); r.Status != 401 {
			t.Errorf("token after revoke-all: %d", r.Status)
		}
	}
	var n int
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'token.revoked' AND actor_email = 'ada@example.com'`); err != nil || n != 2 {
		t.Errorf("%d token.revoked events (%v)", n, err)
	}
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'account.tokens_revoked'`); err != nil || n != 1 {
		t.Errorf("%d account.tokens_revoked events (%v)", n, err)
	}
	// A wrong current password revokes nothing.
	api2 := env.NewAPI(env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": "a-third-long-password"}).Data()["token"].(string))
	c.Get("/profile")
	if r := c.Post("/profile/password", url.Values{"current_password": {"wrong-password!"}, "new_password": {"a-fourth-long-password"}, "revoke_tokens": {"true"}}); r.Status != 422 {
		t.Fatalf("wrong current password: %d", r.Status)
	}
	if r := api2.Do(http.MethodGet, "/api/me", nil); r.Status != 200 {
		t.Errorf("a failed password change revoked a token: %d", r.Status)
	}
}
