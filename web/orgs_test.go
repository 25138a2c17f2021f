package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"guildhall/db/model"
	"guildhall/web/webtest"
)

func TestAPISignupTokenMe(t *testing.T) {
	env := webtest.New(t)
	pub := env.NewAPI("")
	bad := []struct {
		name string
		body any
		code string
		want int
	}{
		{"bad email", map[string]any{"email": "nope", "password": webtest.Password, "name": "A"}, "validation_error", 422},
		{"short password", map[string]any{"email": "a@example.com", "password": "123", "name": "A"}, "validation_error", 422},
		{"not json", "{", "validation_error", 422},
		{"unknown field", map[string]any{"email": "a@example.com", "password": webtest.Password, "name": "A", "admin": true}, "validation_error", 422},
		{"wrong type", map[string]any{"email": 12}, "validation_error", 422},
	}
	for _, tc := range bad {
		r := pub.Do(http.MethodPost, "/api/auth/signup", tc.body)
		if r.Status != tc.want || r.ErrorCode() != tc.code || r.Body["success"] != false || r.ErrorMessage() == "" {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
		}
	}
	api, id := env.SignUpAPI("ada@example.com", "Ada")
	me := api.Do(http.MethodGet, "/api/me", nil)
	if me.Status != 200 || me.Body["success"] != true {
		t.Fatalf("me: %d %s", me.Status, me.Raw)
	}
	user := me.Data()["user"].(map[string]any)
	if int64(user["id"].(float64)) != id || user["email"] != "ada@example.com" || user["password_hash"] != nil {
		t.Fatalf("me.user = %v", user)
	}
	po := me.Data()["personal_org"].(map[string]any)
	if po["kind"] != "personal" || po["role"] != "owner" {
		t.Fatalf("personal_org = %v", po)
	}
	if ms := me.Data()["memberships"].([]any); len(ms) != 1 {
		t.Fatalf("memberships = %v", ms)
	}
	// Tokens: wrong password and unknown email answer alike.
	w := pub.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": "wrong-password"})
	u := pub.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "zed@example.com", "password": "wrong-password"})
	if w.Status != 401 || u.Status != 401 || w.ErrorMessage() != u.ErrorMessage() {
		t.Fatalf("token refusals differ: %s / %s", w.Raw, u.Raw)
	}
	tok := pub.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password, "name": "ci", "scopes": []string{"read"}})
	if tok.Status != 201 || tok.Data()["token"] == "" || tok.Data()["id"] == nil {
		t.Fatalf("token: %d %s", tok.Status, tok.Raw)
	}
	// Only the hash is stored.
	secret := tok.Data()["token"].(string)
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM api_tokens WHERE token_hash = $1 OR prefix = $1`, secret)
	if n != 0 {
		t.Fatal("the token secret is stored in clear")
	}
	ro := env.NewAPI(secret)
	if r := ro.Do(http.MethodGet, "/api/orgs", nil); r.Status != 200 {
		t.Fatalf("read-only token GET: %d", r.Status)
	}
	if r := ro.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "X"}); r.Status != 403 || r.ErrorCode() != "forbidden" {
		t.Fatalf("read-only token POST: %d %s", r.Status, r.Raw)
	}
	for _, h := range []string{"", "Bearer nonsense"} {
		a := env.NewAPI(strings.TrimPrefix(h, "Bearer "))
		if r := a.Do(http.MethodGet, "/api/me", nil); r.Status != 401 || r.ErrorCode() != "unauthorized" {
			t.Fatalf("auth %q: %d %s", h, r.Status, r.Raw)
		}
	}
	// Cookies do not authenticate the API.
	c := env.SignUp("cookie@example.com", "Cookie")
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/me", nil)
	res, err := c.HTTP.Do(req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("API with a session cookie: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
}

func TestAPIOrgsCreateSlugRules(t *testing.T) {
	env := webtest.New(t)
	api, _ := env.SignUpAPI("ada@example.com", "Ada")
	r := api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme Inc", "slug": "acme"})
	if r.Status != 201 || r.Data()["slug"] != "acme" || r.Data()["kind"] != "team" || r.Data()["role"] != "owner" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	r = api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme"})
	if r.Status != 201 || r.Data()["slug"] != "acme-2" {
		t.Fatalf("derived slug: %d %s, want acme-2", r.Status, r.Raw)
	}
	r = api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "ACME!!"})
	if r.Status != 201 || r.Data()["slug"] != "acme-3" {
		t.Fatalf("second derived slug: %s, want acme-3", r.Raw)
	}
	bad := map[string]map[string]any{
		"reserved slug":  {"display_name": "Other", "slug": "settings"},
		"one char":       {"display_name": "Other", "slug": "a"},
		"40 chars":       {"display_name": "Other", "slug": strings.Repeat("a", 40)},
		"uppercase":      {"display_name": "Other", "slug": "Acme"},
		"leading hyphen": {"display_name": "Other", "slug": "-acme"},
		"trailing":       {"display_name": "Other", "slug": "acme-"},
		"underscore":     {"display_name": "Other", "slug": "ac_me"},
		"no name":        {"display_name": "  "},
	}
	for name, body := range bad {
		r := api.Do(http.MethodPost, "/api/orgs", body)
		if r.Status != 422 || r.ErrorCode() != "validation_error" {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	// A taken slug is a conflict (API.md), naming the field.
	if r := api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Other", "slug": "acme"}); r.Status != 409 || r.ErrorCode() != "conflict" || !strings.Contains(r.Raw, `"slug"`) {
		t.Errorf("taken slug: %d %s", r.Status, r.Raw)
	}
	// A validation answer names the fields in its message and in details.fields.
	r = api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "", "slug": "x"})
	fields, _ := r.Body["error"].(map[string]any)["details"].(map[string]any)["fields"].(map[string]any)
	if !strings.Contains(r.ErrorMessage(), "display_name: ") || !strings.Contains(r.ErrorMessage(), "slug: ") || fields["slug"] == nil || fields["display_name"] == nil {
		t.Fatalf("validation answer: %s", r.Raw)
	}
	list := api.Do(http.MethodGet, "/api/orgs", nil)
	if len(list.List()) != 4 {
		t.Fatalf("orgs: %s, want personal + 3", list.Raw)
	}
	first := list.List()[0].(map[string]any)
	if first["kind"] != "personal" {
		t.Fatalf("personal org must come first: %v", first)
	}
	get := api.Do(http.MethodGet, "/api/orgs/acme", nil)
	if get.Status != 200 || get.Data()["plan"] != "free" {
		t.Fatalf("get: %s", get.Raw)
	}
	lim := get.Data()["limits"].(map[string]any)
	if lim["team_members"].(float64) != 5 || lim["agents"].(float64) != 10 || lim["monthly_requests"].(float64) != 50000 {
		t.Fatalf("free plan limits: %v", lim)
	}
	if get.Data()["usage"] == nil || get.Data()["settings"] == nil {
		t.Fatalf("get lacks usage or settings: %s", get.Raw)
	}
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'org.created' AND outcome = 'success'`)
	if n != 3 {
		t.Fatalf("org.created events: %d, want 3", n)
	}
}

func TestAPIOrgsOtherPeoplesAre404(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	eve, _ := env.SignUpAPI("eve@example.com", "Eve")
	r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	id := fmt.Sprint(int64(r.Data()["id"].(float64)))
	for _, ref := range []string{"acme", id, "999999", "nope"} {
		for _, req := range []struct{ m, p string }{
			{http.MethodGet, "/api/orgs/" + ref},
			{http.MethodPatch, "/api/orgs/" + ref},
			{http.MethodDelete, "/api/orgs/" + ref},
			{http.MethodGet, "/api/orgs/" + ref + "/audit"},
		} {
			res := eve.Do(req.m, req.p, map[string]any{"display_name": "Mine"})
			if res.Status != 404 || res.ErrorCode() != "not_found" {
				t.Errorf("%s %s as a stranger: %d %s", req.m, req.p, res.Status, res.Raw)
			}
		}
	}
	org, _ := env.Store.OrgByID(t.Context(), mustInt(id))
	if org.DisplayName != "Acme" {
		t.Fatalf("a stranger renamed the org to %q", org.DisplayName)
	}
}

func mustInt(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

func TestAPIOrgsUpdateAndRoles(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	bob, bobID := env.SignUpAPI("bob@example.com", "Bob")
	r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	orgID := int64(r.Data()["id"].(float64))
	if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, orgID, bobID); err != nil {
		t.Fatal(err)
	}
	if r := bob.Do(http.MethodGet, "/api/orgs/acme", nil); r.Status != 200 || r.Data()["role"] != "member" {
		t.Fatalf("member reads the org: %s", r.Raw)
	}
	if r := bob.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"display_name": "Bob's"}); r.Status != 403 || r.ErrorCode() != "forbidden" {
		t.Fatalf("member renames: %d %s", r.Status, r.Raw)
	}
	if r := bob.Do(http.MethodDelete, "/api/orgs/acme", nil); r.Status != 403 {
		t.Fatalf("member deletes: %d", r.Status)
	}
	var denied int
	_ = env.Store.DB().Get(&denied, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND outcome = 'denied' AND actor_id = $2`, orgID, bobID)
	if denied != 2 {
		t.Fatalf("denied events: %d, want 2 (rename, delete)", denied)
	}
	r = ada.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"display_name": "Acme Corp", "slug": "acme-corp", "description": "Anvils", "member_base_permission": "read"})
	if r.Status != 200 || r.Data()["slug"] != "acme-corp" || r.Data()["display_name"] != "Acme Corp" {
		t.Fatalf("owner update: %d %s", r.Status, r.Raw)
	}
	if r.Data()["settings"].(map[string]any)["member_base_permission"] != "read" {
		t.Fatalf("base permission not saved: %s", r.Raw)
	}
	for name, body := range map[string]map[string]any{
		"bad slug":        {"slug": "x"},
		"bad permission":  {"member_base_permission": "admin"},
		"empty name":      {"display_name": ""},
		"unknown field":   {"colour": "red"},
		"slug wrong type": {"slug": 5},
	} {
		if r := ada.Do(http.MethodPatch, "/api/orgs/acme-corp", body); r.Status != 422 {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Taken", "slug": "taken"})
	if r := ada.Do(http.MethodPatch, "/api/orgs/acme-corp", map[string]any{"slug": "taken"}); r.Status != 409 || r.ErrorCode() != "conflict" || !strings.Contains(r.Raw, "taken") {
		t.Fatalf("re-slug to a taken slug: %d %s", r.Status, r.Raw)
	}
	// The personal org cannot be renamed or re-slugged, nor deleted.
	me := ada.Do(http.MethodGet, "/api/me", nil)
	pslug := me.Data()["personal_org"].(map[string]any)["slug"].(string)
	if r := ada.Do(http.MethodPatch, "/api/orgs/"+pslug, map[string]any{"display_name": "Renamed"}); r.Status != 422 {
		t.Fatalf("rename personal: %d %s", r.Status, r.Raw)
	}
	if r := ada.Do(http.MethodDelete, "/api/orgs/"+pslug, nil); r.Status != 403 {
		t.Fatalf("delete personal: %d %s", r.Status, r.Raw)
	}
}

func TestAPIOrgDeleteGuardAndCreditTransfer(t *testing.T) {
	env := webtest.New(t)
	ada, adaID := env.SignUpAPI("ada@example.com", "Ada")
	// Fund the personal wallet with a top-up.
	acc, _ := env.Store.AccountByID(t.Context(), adaID)
	if _, _, err := env.Store.TopUp(t.Context(), model.Actor{AccountID: adaID, Email: acc.Email}, acc.PersonalOrgID, 2500, ""); err != nil {
		t.Fatal(err)
	}
	r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Funded", "transfer_personal_credits": true})
	if r.Status != 201 {
		t.Fatalf("create with transfer: %s", r.Raw)
	}
	orgID := int64(r.Data()["id"].(float64))
	balance := func(org int64) (b, sum int64) {
		_ = env.Store.DB().Get(&b, `SELECT balance_cents FROM wallets WHERE org_id = $1`, org)
		_ = env.Store.DB().Get(&sum, `SELECT COALESCE(sum(amount_cents), 0) FROM ledger_entries WHERE org_id = $1`, org)
		return
	}
	if b, s := balance(acc.PersonalOrgID); b != 0 || s != 0 {
		t.Fatalf("personal wallet after the sweep: balance %d, ledger sum %d", b, s)
	}
	if b, s := balance(orgID); b != 2500 || s != 2500 {
		t.Fatalf("org wallet after the sweep: balance %d, ledger sum %d", b, s)
	}
	var kinds []string
	_ = env.Store.DB().Select(&kinds, `SELECT kind FROM ledger_entries WHERE kind LIKE 'transfer_%' ORDER BY kind`)
	if strings.Join(kinds, ",") != "transfer_in,transfer_out" {
		t.Fatalf("transfer entries: %v", kinds)
	}
	// Holding a balance blocks deletion, and the refusal says so.
	del := ada.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/%d", orgID), nil)
	if del.Status != 409 || del.ErrorCode() != "conflict" || !strings.Contains(del.Raw, `"blockers"`) || !strings.Contains(del.Raw, "balance") {
		t.Fatalf("delete with balance: %d %s", del.Status, del.Raw)
	}
	// An empty org is deleted; its audit log stays.
	r = ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Empty", "slug": "empty"})
	emptyID := int64(r.Data()["id"].(float64))
	if del := ada.Do(http.MethodDelete, "/api/orgs/empty", nil); del.Status != 200 || del.Data()["deleted"] != true {
		t.Fatalf("delete empty: %d %s", del.Status, del.Raw)
	}
	if r := ada.Do(http.MethodGet, "/api/orgs/empty", nil); r.Status != 404 {
		t.Fatalf("deleted org still answers: %d", r.Status)
	}
	var kept int
	_ = env.Store.DB().Get(&kept, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action IN ('org.created', 'org.deleted')`, emptyID)
	if kept != 2 {
		t.Fatalf("audit events of the deleted org: %d, want 2", kept)
	}
	// The slug is free again.
	if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Empty again", "slug": "empty"}); r.Status != 201 {
		t.Fatalf("reuse slug: %s", r.Raw)
	}
}

func TestWorkspaceSwitcherAndFallback(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	if res := c.Get("/"); strings.Contains(res.Body, `id="switcher"`) {
		t.Fatal("the switcher shows before the account belongs to a team org")
	}
	res := c.Post("/orgs", url.Values{"display_name": {"Acme Inc"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create org: %d %s", res.Status, res.Body)
	}
	home := c.Get("/")
	if !strings.Contains(home.Body, `id="switcher"`) || !strings.Contains(home.Body, "<h1>Acme Inc</h1>") && !strings.Contains(home.Body, "Acme Inc") {
		t.Fatal("after creating an org, it is active and the switcher shows")
	}
	// Personal comes first in the switcher, then the org with its role label.
	i, j := strings.Index(home.Body, `data-slug="ada"`), strings.Index(home.Body, `data-slug="acme-inc"`)
	if i < 0 || j < 0 || i > j {
		t.Fatalf("switcher order: personal at %d, org at %d", i, j)
	}
	acc, _ := env.Store.AccountByEmail(t.Context(), "ada@example.com")
	res = c.Post("/workspace", url.Values{"org_id": {fmt.Sprint(acc.PersonalOrgID)}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("switch: %d", res.Status)
	}
	if home := c.Get("/"); !strings.Contains(home.Body, "Personal workspace") {
		t.Fatal("switching to Personal did not re-scope the overview")
	}
	// Switching to someone else's org is a 404 and changes nothing.
	other, _ := env.SignUpAPI("eve@example.com", "Eve")
	r := other.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Eve Co", "slug": "eve-co"})
	if res := c.Post("/workspace", url.Values{"org_id": {fmt.Sprint(int64(r.Data()["id"].(float64)))}}); res.Status != http.StatusNotFound {
		t.Fatalf("switch to a stranger's org: %d", res.Status)
	}
	// Losing access falls back to Personal with a notice.
	c.Post("/workspace", url.Values{"org_id": {"acme-inc"}})
	var orgID int64
	_ = env.Store.DB().Get(&orgID, `SELECT id FROM orgs WHERE slug = 'acme-inc'`)
	if res := c.Get("/"); !strings.Contains(res.Body, "Acme Inc") {
		t.Fatal("switch by slug failed")
	}
	if _, err := env.Store.DB().Exec(`DELETE FROM memberships WHERE org_id = $1`, orgID); err != nil {
		t.Fatal(err)
	}
	home = c.Get("/")
	if home.Status != 200 || !strings.Contains(home.Body, "no longer have access") || !strings.Contains(home.Body, "Personal workspace") {
		t.Fatalf("fallback: %d", home.Status)
	}
}

func TestSettingsPage(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	c.Post("/orgs", url.Values{"display_name": {"Acme"}, "slug": {"acme"}})
	res := c.Post("/settings", url.Values{"display_name": {"Acme"}, "slug": {"-bad-"}, "description": {""}, "member_base_permission": {"none"}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, `id="e-slug"`) || !strings.Contains(res.Body, `value="-bad-"`) {
		t.Fatalf("bad slug: %d, want the form re-rendered with the error and the typed value", res.Status)
	}
	res = c.Post("/settings", url.Values{"display_name": {"Acme Rockets"}, "slug": {"acme-rockets"}, "description": {"We fly"}, "member_base_permission": {"write"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", res.Status, res.Body)
	}
	var o struct {
		Name string `db:"display_name"`
		Slug string `db:"slug"`
		Perm string `db:"member_base_permission"`
	}
	_ = env.Store.DB().Get(&o, `SELECT display_name, slug, member_base_permission FROM orgs WHERE kind = 'team'`)
	if o.Name != "Acme Rockets" || o.Slug != "acme-rockets" || o.Perm != "write" {
		t.Fatalf("saved %+v", o)
	}
	res = c.Post("/settings/delete", url.Values{"confirm": {"acme"}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "acme-rockets") {
		t.Fatalf("delete with the wrong slug: %d", res.Status)
	}
	if res := c.Post("/settings/delete", url.Values{"confirm": {"acme-rockets"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.Status)
	}
	if home := c.Get("/"); !strings.Contains(home.Body, "Deleted Acme Rockets") || !strings.Contains(home.Body, "Personal workspace") {
		t.Fatal("after deleting, the overview is Personal with a notice")
	}
	// A personal org has no delete form and its name is not editable here.
	if s := c.Get("/settings"); strings.Contains(s.Body, "/settings/delete") || strings.Contains(s.Body, `name="display_name"`) {
		t.Fatal("personal settings offer rename or delete")
	}
}
