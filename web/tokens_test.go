package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/webtest"
)

func tokenNum(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// createToken posts /api/me/tokens and returns the secret and the token's id.
func createToken(t *testing.T, api *webtest.API, body map[string]any) (string, int64) {
	t.Helper()
	r := api.Do(http.MethodPost, "/api/me/tokens", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create token %v: %d %s", body, r.Status, r.Raw)
	}
	secret, _ := r.Data()["token"].(string)
	return secret, tokenNum(r.Data()["id"])
}

func TestTokensAPICreateListRevoke(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")

	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	r := ada.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "ci", "scopes": []string{"read"}, "expires_at": expires.Format(time.RFC3339)})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	d := r.Data()
	secret, _ := d["token"].(string)
	id := tokenNum(d["id"])
	if !strings.HasPrefix(secret, "guildhall_") || id == 0 || d["name"] != "ci" || fmt.Sprint(d["scopes"]) != "[read]" ||
		d["status"] != "active" || d["org_id"] != nil || d["expires_at"] != expires.Format(time.RFC3339) || d["token_hash"] != nil {
		t.Fatalf("created token: %s", r.Raw)
	}
	// Only the hash is stored.
	var hash string
	if err := env.Store.DB().Get(&hash, `SELECT token_hash FROM api_tokens WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var clear int
	_ = env.Store.DB().Get(&clear, `SELECT count(*) FROM api_tokens WHERE token_hash = $1 OR prefix = $1 OR name = $1`, secret)
	if hash != db.HashSecret(secret) || clear != 0 {
		t.Fatal("the secret must be stored as its hash only")
	}
	// The secret works as a bearer token, within its scopes.
	ro := env.NewAPI(secret)
	if me := ro.Do(http.MethodGet, "/api/me", nil); me.Status != 200 {
		t.Fatalf("me with the new token: %d %s", me.Status, me.Raw)
	}
	if w := ro.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Nope"}); w.Status != 403 || w.ErrorCode() != "forbidden" {
		t.Fatalf("read-only token POST: %d %s", w.Status, w.Raw)
	}
	if w := ro.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "more"}); w.Status != 403 {
		t.Fatalf("read-only token creating a token: %d %s", w.Status, w.Raw)
	}
	// The list never shows a secret, and shows last use.
	list := ada.Do(http.MethodGet, "/api/me/tokens", nil)
	if list.Status != 200 || strings.Contains(list.Raw, secret) || strings.Contains(list.Raw, `"token"`) || strings.Contains(list.Raw, hash) {
		t.Fatalf("list: %d %s", list.Status, list.Raw)
	}
	if len(list.List()) != 2 || list.Body["pagination"] == nil {
		t.Fatalf("list has %d tokens: %s", len(list.List()), list.Raw)
	}
	var found map[string]any
	for _, it := range list.List() {
		m := it.(map[string]any)
		for _, k := range []string{"last_used_at", "scopes", "org_id", "expires_at", "revoked_at", "prefix", "created_at"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("list item lacks %s: %v", k, m)
			}
		}
		if tokenNum(m["id"]) == id {
			found = m
		}
	}
	if found == nil || found["last_used_at"] == nil || !strings.HasPrefix(secret, found["prefix"].(string)) {
		t.Fatalf("listed token: %v", found)
	}
	// Revoke: 200 twice, then the secret is refused.
	for i := 0; i < 2; i++ {
		del := ada.Do(http.MethodDelete, fmt.Sprintf("/api/me/tokens/%d", id), nil)
		if del.Status != 200 || del.Data()["revoked"] != true || tokenNum(del.Data()["id"]) != id {
			t.Fatalf("revoke #%d: %d %s", i+1, del.Status, del.Raw)
		}
	}
	if me := ro.Do(http.MethodGet, "/api/me", nil); me.Status != 401 || me.ErrorCode() != "unauthorized" {
		t.Fatalf("revoked token: %d %s", me.Status, me.Raw)
	}
	list = ada.Do(http.MethodGet, "/api/me/tokens", nil)
	for _, it := range list.List() {
		m := it.(map[string]any)
		if tokenNum(m["id"]) == id && (m["revoked_at"] == nil || m["status"] != "revoked") {
			t.Fatalf("revoked token listed as %v", m)
		}
	}
	// Another account's token, or no such id, is 404.
	eve, _ := env.SignUpAPI("eve@example.com", "Eve")
	_, eveID := createToken(t, eve, map[string]any{"name": "eve"})
	for _, path := range []string{fmt.Sprintf("/api/me/tokens/%d", eveID), "/api/me/tokens/999999", "/api/me/tokens/abc"} {
		if r := ada.Do(http.MethodDelete, path, nil); r.Status != 404 || r.ErrorCode() != "not_found" {
			t.Fatalf("DELETE %s: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := eve.Do(http.MethodGet, "/api/me/tokens", nil); strings.Contains(r.Raw, `"ci"`) {
		t.Fatalf("eve sees ada's tokens: %s", r.Raw)
	}
}

func TestTokensAPIOrgBinding(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	for _, slug := range []string{"acme", "beta"} {
		if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": strings.ToUpper(slug), "slug": slug}); r.Status != 201 {
			t.Fatalf("create org %s: %d %s", slug, r.Status, r.Raw)
		}
	}
	acme, beta := orgIDBySlug(t, env, "acme"), orgIDBySlug(t, env, "beta")
	// By slug or by id.
	boundSecret, boundID := createToken(t, ada, map[string]any{"name": "acme ci", "org": "acme"})
	r := ada.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "beta ci", "org": beta})
	if r.Status != 201 || tokenNum(r.Data()["org_id"]) != beta {
		t.Fatalf("org by id: %d %s", r.Status, r.Raw)
	}
	bound := env.NewAPI(boundSecret)
	if g := bound.Do(http.MethodGet, "/api/orgs/acme", nil); g.Status != 200 {
		t.Fatalf("bound token, own org: %d %s", g.Status, g.Raw)
	}
	if g := bound.Do(http.MethodGet, "/api/orgs/beta", nil); g.Status != 404 {
		t.Fatalf("bound token, other org: %d %s", g.Status, g.Raw)
	}
	// A bound token cannot mint a token for another org, nor an unbound one.
	if c := bound.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "escape", "org": "beta"}); c.Status != 404 || c.ErrorCode() != "not_found" {
		t.Fatalf("bound token creating for another org: %d %s", c.Status, c.Raw)
	}
	c := bound.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "child"})
	if c.Status != 201 || tokenNum(c.Data()["org_id"]) != acme {
		t.Fatalf("bound token creating without org: %d %s", c.Status, c.Raw)
	}
	// Nor one with more scopes than it has.
	ro, _ := createToken(t, ada, map[string]any{"name": "rw", "scopes": []string{"read", "write"}})
	if c := env.NewAPI(ro).Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "admin", "scopes": []string{"admin"}}); c.Status != 403 {
		t.Fatalf("scope escalation: %d %s", c.Status, c.Raw)
	}
	// It sees and revokes only its org's tokens.
	list := bound.Do(http.MethodGet, "/api/me/tokens", nil)
	for _, it := range list.List() {
		if tokenNum(it.(map[string]any)["org_id"]) != acme {
			t.Fatalf("bound token lists %v", it)
		}
	}
	if len(list.List()) != 2 {
		t.Fatalf("bound token lists %d tokens: %s", len(list.List()), list.Raw)
	}
	if d := bound.Do(http.MethodDelete, fmt.Sprintf("/api/me/tokens/%d", tokenNum(r.Data()["id"])), nil); d.Status != 404 {
		t.Fatalf("bound token revoking another org's token: %d %s", d.Status, d.Raw)
	}
	// Somebody else's org is 404, by slug or by id.
	eve, _ := env.SignUpAPI("eve@example.com", "Eve")
	for _, org := range []any{"acme", acme, "no-such-org"} {
		if c := eve.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "x", "org": org}); c.Status != 404 || c.ErrorCode() != "not_found" {
			t.Fatalf("org %v: %d %s", org, c.Status, c.Raw)
		}
	}
	if d := bound.Do(http.MethodDelete, fmt.Sprintf("/api/me/tokens/%d", boundID), nil); d.Status != 200 {
		t.Fatalf("bound token revoking itself: %d %s", d.Status, d.Raw)
	}
}

func TestTokensAPIBadInput(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"unknown scope", map[string]any{"name": "x", "scopes": []string{"root"}}, "scopes"},
		{"past expiry", map[string]any{"name": "x", "expires_at": past}, "expires_at"},
		{"expiry not RFC 3339", map[string]any{"name": "x", "expires_at": "tomorrow"}, "expires_at"},
		{"bad org type", map[string]any{"name": "x", "org": true}, "org"},
		{"bad org object", map[string]any{"name": "x", "org": map[string]any{}}, "org"},
		{"bad JSON", `{"name":`, "body"},
		{"not an object", `[1,2]`, ""},
		{"unknown field", map[string]any{"name": "x", "admin": true}, "admin"},
		{"scopes wrong type", map[string]any{"name": "x", "scopes": "read"}, "scopes"},
		{"NUL in name", `{"name": "ci\u0000bot"}`, "name"},
		{"blank name", map[string]any{"name": "  "}, "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{"bad policy", map[string]any{"name": "x", "policy_id": -1}, "policy_id"},
	}
	for _, tc := range bad {
		r := ada.Do(http.MethodPost, "/api/me/tokens", tc.body)
		if r.Status != 422 || r.ErrorCode() != "validation_error" || r.ErrorMessage() == "" {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			continue
		}
		if tc.field != "" && !strings.Contains(r.Raw, `"`+tc.field+`"`) {
			t.Errorf("%s: the error does not name %s: %s", tc.name, tc.field, r.Raw)
		}
	}
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM api_tokens`)
	if n != 1 {
		t.Fatalf("%d tokens stored after bad input; want only the sign-up token", n)
	}
}

func TestTokensPlanLimit(t *testing.T) {
	env := webtest.New(t)
	ada, id := env.SignUpAPI("ada@example.com", "Ada")
	env.Store.DB().MustExec(`UPDATE orgs SET limit_api_keys = 3 WHERE id = (SELECT personal_org_id FROM accounts WHERE id = $1)`, id)
	// The sign-up token is the first of three.
	createToken(t, ada, map[string]any{"name": "two"})
	_, third := createToken(t, ada, map[string]any{"name": "three"})
	r := ada.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "four"})
	details, _ := r.Body["error"].(map[string]any)["details"].(map[string]any)
	if r.Status != 403 || r.ErrorCode() != "plan_limit" || details["limit"] != "api_keys" || !strings.Contains(r.ErrorMessage(), "API keys") {
		t.Fatalf("over the limit: %d %s", r.Status, r.Raw)
	}
	// The page says so too.
	env.Store.DB().MustExec(`UPDATE accounts SET email_verified_at = now() WHERE id = $1`, id)
	c := env.NewClient()
	c.SignIn("ada@example.com", webtest.Password)
	res := c.Post("/tokens", url.Values{"name": {"four"}, "scopes": {"read"}})
	wantStatus(t, res, 403, "API keys", `id="token-form"`)
	// A revoked token frees its slot.
	ada.Do(http.MethodDelete, fmt.Sprintf("/api/me/tokens/%d", third), nil)
	createToken(t, ada, map[string]any{"name": "four"})
}

var secretRe = regexp.MustCompile(`<code id="token-secret">(guildhall_[A-Za-z0-9_-]+)</code>`)

func TestTokensPage(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	if r := c.Post("/orgs", url.Values{"display_name": {"Acme"}, "slug": {"acme"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create org: %d %s", r.Status, r.Body)
	}
	acme := orgIDBySlug(t, env, "acme")
	res := c.Get("/tokens")
	wantStatus(t, res, 200, "API tokens", `href="/tokens"`, "No tokens yet", `value="read" checked`, `value="write" checked`, "All workspaces", ">Acme</option>")
	if strings.Contains(res.Body, `value="admin" checked`) {
		t.Fatal("admin is checked by default")
	}
	// Create: the secret shows once.
	res = c.Post("/tokens", url.Values{"name": {"Laptop"}, "scopes": {"read", "write"}, "org": {fmt.Sprint(acme)}, "expires_at": {time.Now().AddDate(0, 1, 0).Format("2006-01-02")}})
	wantStatus(t, res, 200, "Copy your new token", "will not", "Laptop")
	m := secretRe.FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", res.Body)
	}
	secret := m[1]
	api := env.NewAPI(secret)
	if me := api.Do(http.MethodGet, "/api/me", nil); me.Status != 200 {
		t.Fatalf("the page's token: %d %s", me.Status, me.Raw)
	}
	if g := api.Do(http.MethodGet, "/api/orgs/acme", nil); g.Status != 200 {
		t.Fatalf("bound to acme: %d", g.Status)
	}
	var hash string
	_ = env.Store.DB().Get(&hash, `SELECT token_hash FROM api_tokens WHERE name = 'Laptop'`)
	if hash != db.HashSecret(secret) {
		t.Fatal("the page's token is not stored as its hash")
	}
	res = c.Get("/tokens")
	wantStatus(t, res, 200, "Laptop", secret[:16]+"…", "Acme", "badge-scope-read", "active")
	if strings.Contains(res.Body, secret) || strings.Contains(res.Body, "Copy your new token") {
		t.Fatal("the secret shows a second time")
	}
	// Bad input re-renders the form with each message, 422.
	bad := []struct {
		name string
		form url.Values
		want string
	}{
		{"no name", url.Values{"name": {""}, "scopes": {"read"}}, "Name is required"},
		{"no scope", url.Values{"name": {"x"}}, "Choose at least one scope"},
		{"unknown scope", url.Values{"name": {"x"}, "scopes": {"root"}}, "Unknown scope"},
		{"foreign org", url.Values{"name": {"x"}, "scopes": {"read"}, "org": {"999999"}}, "Choose one of your workspaces"},
		{"bad date", url.Values{"name": {"x"}, "scopes": {"read"}, "expires_at": {"soon"}}, "Enter a date"},
		{"past date", url.Values{"name": {"x"}, "scopes": {"read"}, "expires_at": {"2001-01-01"}}, "today or later"},
	}
	// A NUL is refused at the edge (cleanInput), naming the field.
	if res := c.Post("/tokens", url.Values{"name": {"a\x00b"}, "scopes": {"read"}}); res.Status != 422 || !strings.Contains(res.Body, "name is not valid text") {
		t.Errorf("NUL in name: %d", res.Status)
	}
	for _, tc := range bad {
		res := c.Post("/tokens", tc.form)
		if res.Status != 422 || !strings.Contains(res.Body, tc.want) || !strings.Contains(res.Body, `class="field-error"`) || strings.Contains(res.Body, `id="token-secret"`) {
			t.Errorf("%s: %d, want 422 with %q", tc.name, res.Status, tc.want)
		}
	}
	if r := c.Post("/tokens", url.Values{"name": {"", ""}}); r.Status != 422 || !strings.Contains(r.Body, "Name is required") || !strings.Contains(r.Body, "Choose at least one scope") {
		t.Errorf("every problem at once: %d", r.Status)
	}
	// Revoke with htmx: the row comes back revoked, the token stops working.
	var id int64
	_ = env.Store.DB().Get(&id, `SELECT id FROM api_tokens WHERE name = 'Laptop'`)
	res = c.HTMX(http.MethodPost, fmt.Sprintf("/tokens/%d/revoke", id), nil)
	wantStatus(t, res, 200, fmt.Sprintf(`id="token-%d"`, id), `data-status="revoked"`, `hx-swap-oob="true"`, "revoked")
	if me := api.Do(http.MethodGet, "/api/me", nil); me.Status != 401 {
		t.Fatalf("revoked in the page, the API still answers %d", me.Status)
	}
	// A plain form works too, and revoking twice is fine.
	res = c.Post(fmt.Sprintf("/tokens/%d/revoke", id), nil)
	if res.Status != http.StatusSeeOther || res.Location != "/tokens" {
		t.Fatalf("plain revoke: %d %s", res.Status, res.Location)
	}
	// Another account's token is 404.
	eve, _ := env.SignUpAPI("eve@example.com", "Eve")
	_, eveID := createToken(t, eve, map[string]any{"name": "eve"})
	if r := c.Post(fmt.Sprintf("/tokens/%d/revoke", eveID), nil); r.Status != 404 {
		t.Fatalf("revoking eve's token in the page: %d", r.Status)
	}
	if r := c.Post("/tokens/abc/revoke", nil); r.Status != 404 {
		t.Fatalf("bad id: %d", r.Status)
	}
	// Without the CSRF token nothing happens.
	if r := c.PostRaw("/tokens", url.Values{"name": {"csrf"}, "scopes": {"read"}}); r.Status != 403 {
		t.Fatalf("no CSRF: %d", r.Status)
	}
}

// A token bound to one org cannot join another: accepting an invitation
// (by id or by the emailed token) needs an unbound token.
func TestOrgBoundTokenCannotJoinOtherOrgs(t *testing.T) {
	env := webtest.New(t)
	owner, _ := env.SignUpAPI("owner@example.com", "Owner")
	owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Other", "slug": "other"})
	inv := owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "bob@example.com"})
	if inv.Status != http.StatusCreated {
		t.Fatalf("invite: %s", inv.Raw)
	}
	bob, _ := env.SignUpAPI("bob@example.com", "Bob")
	env.VerifyEmail("bob@example.com")
	me := bob.Do(http.MethodGet, "/api/me", nil)
	personal := me.Data()["personal_org"].(map[string]any)["slug"].(string)
	tok := bob.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "bound", "scopes": []string{"read", "write"}, "org": personal})
	if tok.Status != http.StatusCreated {
		t.Fatalf("bound token: %s", tok.Raw)
	}
	bound := env.NewAPI(tok.Data()["token"].(string))
	id := fmt.Sprint(int64(inv.Data()["id"].(float64)))
	if r := bound.Do(http.MethodPost, "/api/me/org-invitations/"+id+"/accept", nil); r.Status != http.StatusForbidden {
		t.Fatalf("bound token accepts by id: %d %s", r.Status, r.Raw)
	}
	link := env.LinkIn("bob@example.com", "/invitations/")
	if r := bound.Do(http.MethodPost, "/api/invitations/accept", map[string]any{"token": link}); r.Status != http.StatusForbidden {
		t.Fatalf("bound token accepts by link: %d %s", r.Status, r.Raw)
	}
	if r := bob.Do(http.MethodGet, "/api/orgs/acme", nil); r.Status != http.StatusNotFound {
		t.Fatalf("bob joined through a bound token: %d", r.Status)
	}
	// The unbound token may.
	if r := bob.Do(http.MethodPost, "/api/me/org-invitations/"+id+"/accept", nil); r.Status != http.StatusOK {
		t.Fatalf("unbound accept: %d %s", r.Status, r.Raw)
	}
}

// TestTokensPageSpendPolicy: the page binds a token to one of the active
// workspace's spend policies, as POST /api/me/tokens does with policy_id; a
// policy of another workspace is a field error and makes no token.
func TestTokensPageSpendPolicy(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	if r := c.Post("/orgs", url.Values{"display_name": {"Acme"}, "slug": {"acme"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create org: %d %s", r.Status, r.Body)
	}
	acme := orgIDBySlug(t, env, "acme")
	ada, err := env.Store.AccountByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	name := "Small buys"
	p, err := env.Store.CreatePolicy(t.Context(), model.Actor{AccountID: ada.ID, Email: ada.Email}, acme, db.PolicyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.Get("/tokens"), 200, `name="policy_id"`, ">Small buys</option>")
	res := c.Post("/tokens", url.Values{"name": {"Buyer"}, "scopes": {"read", "purchase"}, "org": {fmt.Sprint(acme)}, "policy_id": {fmt.Sprint(p.ID)}})
	wantStatus(t, res, 200, "Copy your new token")
	var got *int64
	if err := env.Store.DB().Get(&got, `SELECT policy_id FROM api_tokens WHERE name = 'Buyer'`); err != nil || got == nil || *got != p.ID {
		t.Fatalf("token policy %v (%v), want %d", got, err, p.ID)
	}
	// A policy of the personal workspace does not fit a token bound to Acme.
	other, err := env.Store.CreatePolicy(t.Context(), model.Actor{AccountID: ada.ID, Email: ada.Email}, ada.PersonalOrgID, db.PolicyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	res = c.Post("/tokens", url.Values{"name": {"Wrong"}, "scopes": {"read"}, "org": {fmt.Sprint(acme)}, "policy_id": {fmt.Sprint(other.ID)}})
	wantStatus(t, res, 422, "spend polic")
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM api_tokens WHERE name = 'Wrong'`)
	if n != 0 {
		t.Fatal("a token was made with another workspace's policy")
	}
}
