package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"guildhall/web/sso/ssotest"
	"guildhall/web/webtest"
)

func addMember(t *testing.T, env *webtest.Env, orgID int64, email, role string) {
	t.Helper()
	if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) SELECT $1, id, $3 FROM accounts WHERE email = $2`, orgID, email, role); err != nil {
		t.Fatal(err)
	}
}

// TestSSOAPI follows API.md's SSO, setup-link and domain routes: owners
// write, admins read, members and billing get 404; enforcement is 409 until
// a test sign-in; verification is 409 with what DNS answered; a domain
// verified by one org cannot be verified by another.
func TestSSOAPI(t *testing.T) {
	s := newSSOEnv(t)
	owner := s.NewAPI(apiToken(t, s.Env, "olive@acme.test"))
	for _, e := range []string{"adam@acme.test", "meg@acme.test", "bill@acme.test"} {
		s.SignUp(e, "X")
	}
	addMember(t, s.Env, s.OrgID, "adam@acme.test", "admin")
	addMember(t, s.Env, s.OrgID, "meg@acme.test", "member")
	addMember(t, s.Env, s.OrgID, "bill@acme.test", "billing")
	admin := s.NewAPI(apiToken(t, s.Env, "adam@acme.test"))
	member := s.NewAPI(apiToken(t, s.Env, "meg@acme.test"))
	billing := s.NewAPI(apiToken(t, s.Env, "bill@acme.test"))

	r := owner.Do(http.MethodGet, "/api/orgs/acme/sso", nil)
	if r.Status != 200 || r.Data()["connected"] != false || r.Data()["enforced"] != false || r.Data()["redirect_uri"] != s.URL+"/sso/oidc/callback" {
		t.Fatalf("status: %d %s", r.Status, r.Raw)
	}
	r = owner.Do(http.MethodPut, "/api/orgs/acme/sso", map[string]any{"protocol": "oidc", "issuer": s.OP.Issuer(), "client_id": s.OP.ClientID, "client_secret": s.OP.ClientSecret})
	if r.Status != 200 || r.Data()["connected"] != true || r.Data()["client_secret_set"] != true || strings.Contains(r.Raw, s.OP.ClientSecret) {
		t.Fatalf("put: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPut, "/api/orgs/acme/sso", map[string]any{"protocol": "oidc", "issuer": "ftp://x"}); r.Status != 422 || !strings.Contains(r.ErrorMessage(), "issuer") {
		t.Fatalf("bad put: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPut, "/api/orgs/acme/sso", map[string]any{"protocol": "oidc", "issuer": s.OP.Issuer(), "client_id": "c", "client_secret": "bad\u0000secret"}); r.Status != 422 || !strings.Contains(r.Raw, "client_secret") {
		t.Fatalf("NUL in the secret: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPut, "/api/orgs/acme/sso", map[string]any{"protocol": "oidc", "bogus": 1}); r.Status != 422 {
		t.Fatalf("unknown field: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPost, "/api/orgs/acme/sso/enforce", map[string]any{"enforced": true}); r.Status != 409 || r.ErrorCode() != "conflict" {
		t.Fatalf("enforce before a test: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPost, "/api/orgs/acme/sso/enforce", map[string]any{}); r.Status != 422 {
		t.Fatalf("enforce without a value: %d %s", r.Status, r.Raw)
	}

	// Roles: admin reads and is refused writes; member and billing see nothing.
	if r := admin.Do(http.MethodGet, "/api/orgs/acme/sso", nil); r.Status != 200 || r.Data()["connected"] != true {
		t.Fatalf("admin read: %d %s", r.Status, r.Raw)
	}
	if r := admin.Do(http.MethodPut, "/api/orgs/acme/sso", map[string]any{"protocol": "oidc"}); r.Status != 403 {
		t.Fatalf("admin write: %d %s", r.Status, r.Raw)
	}
	if r := admin.Do(http.MethodPost, "/api/orgs/acme/sso/setup-links", nil); r.Status != 403 {
		t.Fatalf("admin setup link: %d %s", r.Status, r.Raw)
	}
	for _, api := range []*webtest.API{member, billing} {
		for _, call := range [][2]string{{"GET", "/api/orgs/acme/sso"}, {"PUT", "/api/orgs/acme/sso"}, {"POST", "/api/orgs/acme/sso/setup-links"}, {"POST", "/api/orgs/acme/sso/enforce"}, {"GET", "/api/orgs/acme/domains"}, {"POST", "/api/orgs/acme/domains"}} {
			body := map[string]any{}
			if call[0] == "GET" {
				body = nil
			}
			if r := api.Do(call[0], call[1], body); r.Status != 404 {
				t.Fatalf("%s %s as member/billing: %d %s", call[0], call[1], r.Status, r.Raw)
			}
		}
	}

	// Setup links.
	r = owner.Do(http.MethodPost, "/api/orgs/acme/sso/setup-links", nil)
	link, _ := r.Data()["url"].(string)
	if r.Status != 201 || !strings.HasPrefix(link, s.URL+"/sso/setup/sso_") || r.Data()["expires_at"] == nil {
		t.Fatalf("setup link: %d %s", r.Status, r.Raw)
	}
	exp, _ := time.Parse(time.RFC3339, r.Data()["expires_at"].(string))
	if d := time.Until(exp); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("setup link lasts %v, want 24h", d)
	}
	if s.count(t, `SELECT count(*) FROM sso_setup_links WHERE token_hash = $1`, strings.TrimPrefix(link, s.URL+"/sso/setup/")) != 0 {
		t.Fatal("the setup link is stored in clear")
	}
	id := tokenNum(r.Data()["id"])
	if r := owner.Do(http.MethodDelete, "/api/orgs/acme/sso/setup-links/"+itoa(id), nil); r.Status != 200 || r.Data()["revoked"] != true {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	wantStatus(t, s.NewClient().Get(s.Path(link)), http.StatusConflict, "revoked")
	if r := owner.Do(http.MethodDelete, "/api/orgs/acme/sso/setup-links/99999", nil); r.Status != 404 {
		t.Fatalf("revoke unknown: %d", r.Status)
	}

	// Domains.
	if r := owner.Do(http.MethodPost, "/api/orgs/acme/domains", map[string]any{"domain": "https://x"}); r.Status != 422 {
		t.Fatalf("bad domain: %d %s", r.Status, r.Raw)
	}
	r = owner.Do(http.MethodPost, "/api/orgs/acme/domains", map[string]any{"domain": "Acme.test"})
	txt, _ := r.Data()["txt_record"].(string)
	if r.Status != 201 || r.Data()["domain"] != "acme.test" || !strings.HasPrefix(txt, "guildhall-verification=") || r.Data()["verified_at"] != nil {
		t.Fatalf("add domain: %d %s", r.Status, r.Raw)
	}
	did := itoa(tokenNum(r.Data()["id"]))
	if r := owner.Do(http.MethodPost, "/api/orgs/acme/domains", map[string]any{"domain": "acme.test"}); r.Status != 409 {
		t.Fatalf("same domain twice: %d", r.Status)
	}
	s.DNS.SetTXT("acme.test", "guildhall-verification=wrong")
	r = owner.Do(http.MethodPost, "/api/orgs/acme/domains/"+did+"/verify", nil)
	if r.Status != 409 || !strings.Contains(r.ErrorMessage(), `"guildhall-verification=wrong"`) {
		t.Fatalf("verify with a wrong record: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPatch, "/api/orgs/acme/domains/"+did, map[string]any{"auto_join": true}); r.Status != 409 {
		t.Fatalf("auto-join before verification: %d %s", r.Status, r.Raw)
	}
	s.DNS.SetTXT("acme.test", txt)
	r = owner.Do(http.MethodPost, "/api/orgs/acme/domains/"+did+"/verify", nil)
	if r.Status != 200 || r.Data()["verified_at"] == nil {
		t.Fatalf("verify: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPatch, "/api/orgs/acme/domains/"+did, map[string]any{"auto_join": true}); r.Status != 200 || r.Data()["auto_join"] != true {
		t.Fatalf("auto-join: %d %s", r.Status, r.Raw)
	}
	if r := admin.Do(http.MethodGet, "/api/orgs/acme/domains", nil); r.Status != 200 || len(r.List()) != 1 {
		t.Fatalf("admin list domains: %d %s", r.Status, r.Raw)
	}
	if r := admin.Do(http.MethodDelete, "/api/orgs/acme/domains/"+did, nil); r.Status != 403 {
		t.Fatalf("admin delete domain: %d", r.Status)
	}
	if s.audited(t, "domain.verified", "success") != 1 || s.audited(t, "domain.verified", "denied") != 1 || s.audited(t, "domain.added", "success") != 1 {
		t.Fatal("domain events not audited")
	}

	// A second org cannot claim the verified domain, by adding or verifying.
	rival, _ := s.SignUpAPI("rita@rival.test", "Rita")
	if r := rival.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Rival"}); r.Status != 201 {
		t.Fatalf("rival org: %d %s", r.Status, r.Raw)
	}
	r = rival.Do(http.MethodPost, "/api/orgs/rival/domains", map[string]any{"domain": "acme.test"})
	if r.Status != 409 || !strings.Contains(r.ErrorMessage(), "another organization") {
		t.Fatalf("second org claiming: %d %s", r.Status, r.Raw)
	}
	if n := s.count(t, `SELECT count(*) FROM audit_events WHERE action = 'domain.added' AND outcome = 'denied' AND org_id = $1`, orgIDBySlug(t, s.Env, "rival")); n != 1 {
		t.Fatal("the second org's claim was not audited")
	}
	// Claimed before the first verified: the verification race is lost cleanly.
	r = rival.Do(http.MethodPost, "/api/orgs/rival/domains", map[string]any{"domain": "beta.test"})
	rid := itoa(tokenNum(r.Data()["id"]))
	rtxt, _ := r.Data()["txt_record"].(string)
	r = owner.Do(http.MethodPost, "/api/orgs/acme/domains", map[string]any{"domain": "beta.test"})
	atxt, _ := r.Data()["txt_record"].(string)
	aid := itoa(tokenNum(r.Data()["id"]))
	s.DNS.SetTXT("beta.test", rtxt, atxt)
	if r := rival.Do(http.MethodPost, "/api/orgs/rival/domains/"+rid+"/verify", nil); r.Status != 200 {
		t.Fatalf("rival verify: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPost, "/api/orgs/acme/domains/"+aid+"/verify", nil); r.Status != 409 || !strings.Contains(r.ErrorMessage(), "another organization") {
		t.Fatalf("second verification of one domain: %d %s", r.Status, r.Raw)
	}
	// Another org's domain id is 404.
	if r := owner.Do(http.MethodDelete, "/api/orgs/acme/domains/"+rid, nil); r.Status != 404 {
		t.Fatalf("another org's domain: %d", r.Status)
	}
	if r := owner.Do(http.MethodDelete, "/api/orgs/acme/domains/"+aid, nil); r.Status != 200 {
		t.Fatalf("delete domain: %d %s", r.Status, r.Raw)
	}
	// A personal org has no SSO.
	if r := owner.Do(http.MethodGet, "/api/orgs/"+itoa(personalOrg(t, s.Env, "olive@acme.test"))+"/sso", nil); r.Status != 404 {
		t.Fatalf("personal org sso: %d", r.Status)
	}
}

func personalOrg(t *testing.T, env *webtest.Env, email string) int64 {
	t.Helper()
	acc, err := env.Store.AccountByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return acc.PersonalOrgID
}

// TestSSOSetupLink: an owner hands a link to an IT admin with no account,
// who configures and tests the connection and nothing else; every step is
// audited under the owner; the link opens once, and revoking or expiry ends
// the session.
func TestSSOSetupLink(t *testing.T) {
	s := newSSOEnv(t)
	res := s.Owner.Post("/sso/setup-links", nil)
	wantStatus(t, res, http.StatusCreated, "Copy the setup link")
	i := strings.Index(res.Body, s.URL+"/sso/setup/")
	link := res.Body[i : i+strings.IndexByte(res.Body[i:], '<')]
	wantStatus(t, s.Owner.Get("/sso"), http.StatusOK, "active")
	if strings.Contains(s.Owner.Get("/sso").Body, link) {
		t.Fatal("the setup link is shown again")
	}

	it := s.NewClient()
	// Opening asks first: a GET (a chat preview, a mail scanner) does not use the link.
	wantStatus(t, it.Get(s.Path(link)), http.StatusOK, "Start setup", "olive@acme.test")
	wantStatus(t, s.NewClient().Get(s.Path(link)), http.StatusOK, "Start setup")
	res = it.Post(s.Path(link), nil)
	wantStatus(t, res, http.StatusSeeOther)
	wantStatus(t, it.Get("/sso/setup"), http.StatusOK, "Connect Acme", "olive@acme.test", s.URL+"/sso/oidc/callback")
	// Single use: a second browser cannot open it.
	wantStatus(t, s.NewClient().Get(s.Path(link)), http.StatusConflict, "already used")
	late := s.NewClient()
	late.Get("/login")
	wantStatus(t, late.Post(s.Path(link), nil), http.StatusConflict, "already used")
	// Nothing else: the setup session is not a sign-in.
	if r := it.Get("/members"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Fatalf("setup session reached /members: %d %s", r.Status, r.Location)
	}
	if r := it.Get("/sso"); r.Status != http.StatusSeeOther {
		t.Fatalf("setup session reached /sso: %d", r.Status)
	}
	// Configure and test.
	wantStatus(t, it.Post("/sso/setup/connection", url.Values{"protocol": {"oidc"}, "issuer": {"nope"}}), http.StatusUnprocessableEntity)
	s.connect(t, it, "/sso/setup")
	res = s.testSignIn(t, it, "/sso/setup", ssotest.User{Subject: "it", Email: "it@acme.test", EmailVerified: true, Name: "IT Admin", Groups: []string{"it"}})
	wantStatus(t, res, http.StatusOK, "Test sign-in succeeded", "it@acme.test", "/sso/setup")
	wantStatus(t, it.Get("/sso/setup"), http.StatusOK, "Test passed")
	if s.count(t, `SELECT count(*) FROM accounts WHERE email = 'it@acme.test'`) != 0 {
		t.Fatal("a test sign-in created an account")
	}
	// Every step is attributed to the owner.
	var bad int
	if err := s.Store.DB().Get(&bad, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND (action LIKE 'sso.%') AND actor_email <> 'olive@acme.test'`, s.OrgID); err != nil || bad != 0 {
		t.Fatalf("setup steps not attributed to the owner: %d %v", bad, err)
	}
	for _, a := range []string{"sso.setup_link_created", "sso.setup_link_opened", "sso.connected", "sso.tested"} {
		if s.audited(t, a, "success") != 1 {
			t.Fatalf("%s not audited", a)
		}
	}
	// The owner can now enforce (the setup test counts).
	wantStatus(t, s.Owner.Get("/sso"), http.StatusOK, "Passed")

	// Revoking ends the session.
	var id int64
	_ = s.Store.DB().Get(&id, `SELECT id FROM sso_setup_links WHERE org_id = $1`, s.OrgID)
	wantStatus(t, s.Owner.Post("/sso/setup-links/"+itoa(id)+"/revoke", nil), http.StatusSeeOther)
	wantStatus(t, it.Get("/sso/setup"), http.StatusNotFound, "has ended")
	wantStatus(t, it.Post("/sso/setup/connection", url.Values{"protocol": {"oidc"}}), http.StatusNotFound)

	// A fresh link expires after 24 hours, opened or not.
	res = s.Owner.Post("/sso/setup-links", nil)
	i = strings.Index(res.Body, s.URL+"/sso/setup/")
	link2 := res.Body[i : i+strings.IndexByte(res.Body[i:], '<')]
	it2 := s.NewClient()
	it2.Get(s.Path(link2))
	wantStatus(t, it2.Post(s.Path(link2), nil), http.StatusSeeOther)
	s.Clock.Advance(24*time.Hour + time.Minute)
	wantStatus(t, it2.Get("/sso/setup"), http.StatusNotFound)
	wantStatus(t, s.NewClient().Get("/sso/setup/sso_forged"), http.StatusNotFound)
}

// TestSSOAutoJoinBanner: a verified account at an auto-join domain is
// offered membership in the banner and joins as member.
func TestSSOAutoJoinBanner(t *testing.T) {
	s := newSSOEnv(t)
	s.verifyDomain(t, "acme.test")
	var id int64
	_ = s.Store.DB().Get(&id, `SELECT id FROM sso_domains WHERE org_id = $1`, s.OrgID)
	wantStatus(t, s.Owner.Post("/sso/domains/"+itoa(id)+"/auto-join", url.Values{"auto_join": {"true"}}), http.StatusSeeOther)

	unverified := s.SignUp("uma@acme.test", "Uma")
	if strings.Contains(unverified.Get("/").Body, "lets people at acme.test join") {
		t.Fatal("an unverified email was offered auto-join")
	}
	zoe := s.SignUpVerified("zoe@acme.test", "Zoe")
	wantStatus(t, zoe.Get("/"), http.StatusOK, "Acme lets people at acme.test join as Member")
	wantStatus(t, zoe.Post("/me/auto-join/"+itoa(s.OrgID)+"/accept", nil), http.StatusSeeOther)
	if roleOf(t, s.Env, s.OrgID, "zoe@acme.test") != "member" || s.audited(t, "domain.auto_joined", "success") != 1 {
		t.Fatal("auto-join did not make zoe a member")
	}
	if strings.Contains(zoe.Get("/").Body, "lets people at acme.test join") {
		t.Fatal("offer still shown to a member")
	}
	other := s.SignUpVerified("oz@elsewhere.test", "Oz")
	wantStatus(t, other.Post("/me/auto-join/"+itoa(s.OrgID)+"/accept", nil), http.StatusNotFound)
}
