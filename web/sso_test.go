package web_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"guildhall/web/sso/ssotest"
	"guildhall/web/webtest"
)

// ssoEnv is a server with a real DNS server and OpenID provider on loopback,
// and an owner (olive@acme.test) of the team org Acme.
type ssoEnv struct {
	*webtest.Env
	OP    *ssotest.OP
	DNS   *ssotest.DNS
	Owner *webtest.Client
	OrgID int64
}

func newSSOEnv(t *testing.T) *ssoEnv {
	t.Helper()
	d := ssotest.StartDNS(t)
	env := webtest.New(t, webtest.Options{DNSResolver: d.Addr})
	s := &ssoEnv{Env: env, OP: ssotest.StartOP(t), DNS: d}
	s.Owner = memberOrg(t, env, "olive@acme.test", "Olive Owner", "Acme")
	s.OrgID = orgIDBySlug(t, env, "acme")
	return s
}

// connect saves the OP as the org's OIDC connection from the /sso page.
func (s *ssoEnv) connect(t *testing.T, c *webtest.Client, prefix string) {
	t.Helper()
	res := c.Post(prefix+"/connection", url.Values{"protocol": {"oidc"}, "issuer": {s.OP.Issuer()},
		"client_id": {s.OP.ClientID}, "client_secret": {s.OP.ClientSecret}})
	wantStatus(t, res, http.StatusSeeOther)
}

// idp follows a redirect to the OP (which signs in the queued user at once)
// and brings its answer back to Guildhall's callback with the browser c.
func (s *ssoEnv) idp(t *testing.T, c *webtest.Client, toIdP webtest.Response) webtest.Response {
	t.Helper()
	if toIdP.Status != http.StatusSeeOther || !strings.HasPrefix(toIdP.Location, s.OP.Issuer()) {
		t.Fatalf("want a redirect to the IdP, got %d %q\n%s", toIdP.Status, toIdP.Location, toIdP.Body)
	}
	u, _ := url.Parse(toIdP.Location)
	q := u.Query()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(p) == "" {
			t.Fatalf("authorization request lacks %s: %s", p, toIdP.Location)
		}
	}
	if q.Get("code_challenge_method") != "S256" {
		t.Fatalf("PKCE method %q, want S256", q.Get("code_challenge_method"))
	}
	cb := s.opRedirect(t, toIdP.Location)
	return c.Get(s.Path(cb))
}

// opRedirect asks the OP to authorize and returns where it sends the browser.
func (s *ssoEnv) opRedirect(t *testing.T, authURL string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.URL+"/sso/oidc/callback") {
		t.Fatalf("OP answered %d %q", res.StatusCode, loc)
	}
	return loc
}

func (s *ssoEnv) testSignIn(t *testing.T, c *webtest.Client, prefix string, u ssotest.User) webtest.Response {
	t.Helper()
	s.OP.Next(u)
	return s.idp(t, c, c.Post(prefix+"/test", nil))
}

func (s *ssoEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Store.DB().Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// audited counts events of action with outcome in the org.
func (s *ssoEnv) audited(t *testing.T, action, outcome string) int {
	return s.count(t, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2 AND outcome = $3`, s.OrgID, action, outcome)
}

// verifyDomain adds domain, publishes its TXT record in DNS and verifies it.
func (s *ssoEnv) verifyDomain(t *testing.T, domain string) {
	t.Helper()
	wantStatus(t, s.Owner.Post("/sso/domains", url.Values{"domain": {domain}}), http.StatusSeeOther)
	var id int64
	var token string
	row := s.Store.DB().QueryRow(`SELECT id, txt_token FROM sso_domains WHERE org_id = $1 AND domain = $2`, s.OrgID, domain)
	if err := row.Scan(&id, &token); err != nil {
		t.Fatal(err)
	}
	s.DNS.SetTXT(domain, "v=spf1 -all", "guildhall-verification="+token)
	wantStatus(t, s.Owner.Post("/sso/domains/"+itoa(id)+"/verify", nil), http.StatusSeeOther)
}

// ready connects, tests, verifies acme.test and, with enforce, enforces.
func (s *ssoEnv) ready(t *testing.T, enforce bool) {
	t.Helper()
	s.connect(t, s.Owner, "/sso")
	wantStatus(t, s.testSignIn(t, s.Owner, "/sso", ssotest.User{Subject: "olive", Email: "olive@acme.test", EmailVerified: true, Name: "Olive"}), http.StatusOK)
	s.verifyDomain(t, "acme.test")
	if enforce {
		wantStatus(t, s.Owner.Post("/sso/enforce", url.Values{"enforced": {"true"}}), http.StatusSeeOther)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// apiToken issues a read/write token by password.
func apiToken(t *testing.T, env *webtest.Env, email string) string {
	t.Helper()
	r := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": email, "password": webtest.Password, "name": "t", "scopes": []string{"read", "write"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("token for %s: %d %s", email, r.Status, r.Raw)
	}
	tok, _ := r.Data()["token"].(string)
	return tok
}

// TestSSOOwnerConfiguresAndTests: the owner connects a real OpenID provider,
// enforcement is refused until a test sign-in passes on the current
// settings, the test shows the claims, and the secret never comes back.
func TestSSOOwnerConfiguresAndTests(t *testing.T) {
	s := newSSOEnv(t)
	page := s.Owner.Get("/sso")
	wantStatus(t, page, http.StatusOK, "Not connected", s.URL+"/sso/oidc/callback", "Copy")

	s.connect(t, s.Owner, "/sso")
	page = s.Owner.Get("/sso")
	wantStatus(t, page, http.StatusOK, "Needed", s.OP.ClientID)
	if strings.Contains(page.Body, s.OP.ClientSecret) {
		t.Fatal("the client secret is shown again")
	}
	if n := s.count(t, `SELECT count(*) FROM sso_connections WHERE position($1::bytea IN client_secret_enc) > 0`, []byte(s.OP.ClientSecret)); n != 0 {
		t.Fatal("the client secret is stored in clear")
	}
	if n := s.count(t, `SELECT count(*) FROM audit_events WHERE target_label LIKE '%' || $1 || '%'`, s.OP.ClientSecret); n != 0 {
		t.Fatal("the client secret reached the audit log")
	}

	// Enforcement before a test: refused and audited.
	wantStatus(t, s.Owner.Post("/sso/enforce", url.Values{"enforced": {"true"}}), http.StatusSeeOther)
	if s.count(t, `SELECT count(*) FROM sso_connections WHERE enforced`) != 0 || s.audited(t, "sso.enforced", "denied") != 1 {
		t.Fatal("enforcement without a test must be refused and audited")
	}

	res := s.testSignIn(t, s.Owner, "/sso", ssotest.User{Subject: "u1", Email: "Olive@Acme.test", EmailVerified: true, Name: "Olive O.", Groups: []string{"eng", "admins"}})
	wantStatus(t, res, http.StatusOK, "Test sign-in succeeded", "olive@acme.test", "Olive O.", "eng, admins")
	if s.audited(t, "sso.tested", "success") != 1 {
		t.Fatal("test not audited")
	}
	wantStatus(t, s.Owner.Get("/sso"), http.StatusOK, "Passed")

	wantStatus(t, s.Owner.Post("/sso/enforce", url.Values{"enforced": {"true"}}), http.StatusSeeOther)
	if s.count(t, `SELECT count(*) FROM sso_connections WHERE enforced`) != 1 || s.audited(t, "sso.enforced", "success") != 1 {
		t.Fatal("enforcement after a test must succeed")
	}
	// While enforced, the connection cannot change.
	res = s.Owner.Post("/sso/connection", url.Values{"protocol": {"oidc"}, "issuer": {s.OP.Issuer()}, "client_id": {"other"}})
	wantStatus(t, res, http.StatusConflict, "turn enforcement off")
	// Off, changed: a new test is needed before enforcing again.
	wantStatus(t, s.Owner.Post("/sso/enforce", url.Values{"enforced": {"false"}}), http.StatusSeeOther)
	wantStatus(t, s.Owner.Post("/sso/connection", url.Values{"protocol": {"oidc"}, "issuer": {s.OP.Issuer()}, "client_id": {s.OP.ClientID}, "client_secret": {s.OP.ClientSecret}}), http.StatusSeeOther)
	wantStatus(t, s.Owner.Get("/sso"), http.StatusOK, "Needed")
	s.Owner.Post("/sso/enforce", url.Values{"enforced": {"true"}})
	if s.count(t, `SELECT count(*) FROM sso_connections WHERE enforced`) != 0 {
		t.Fatal("a changed configuration must need a new test")
	}
	// A bad form is a 422 with the field named, never a half-saved connection.
	wantStatus(t, s.Owner.Post("/sso/connection", url.Values{"protocol": {"oidc"}, "issuer": {"http://evil.example.com"}, "client_id": {"x"}}), http.StatusUnprocessableEntity, "must use https")
}

// TestSSOSignInJITAndLinking: email-first sign-in routes a verified domain to
// the IdP; a new person is provisioned as a member with a personal org; a
// known account is linked; refusals get a page and an audit event.
func TestSSOSignInJITAndLinking(t *testing.T) {
	s := newSSOEnv(t)
	s.ready(t, false)

	// A new employee, email first.
	nina := s.NewClient()
	res := nina.Post("/login", url.Values{"email": {"nina@acme.test"}})
	wantStatus(t, res, http.StatusSeeOther)
	if !strings.HasPrefix(res.Location, "/sso/start?email=") {
		t.Fatalf("email-first went to %q", res.Location)
	}
	s.OP.Next(ssotest.User{Subject: "nina", Email: "nina@acme.test", EmailVerified: true, Name: "Nina New"})
	res = s.idp(t, nina, nina.Get(res.Location))
	wantStatus(t, res, http.StatusSeeOther)
	if got := roleOf(t, s.Env, s.OrgID, "nina@acme.test"); got != "member" {
		t.Fatalf("nina's role %q, want member", got)
	}
	home := nina.Get("/")
	wantStatus(t, home, http.StatusOK, "Acme", "Signed in to Acme with single sign-on")
	if s.count(t, `SELECT count(*) FROM accounts a JOIN orgs o ON o.id = a.personal_org_id
		WHERE a.email = 'nina@acme.test' AND a.email_verified_at IS NOT NULL AND a.password_hash = '' AND o.kind = 'personal'`) != 1 {
		t.Fatal("nina should have a verified account with a personal org and no password")
	}
	if s.audited(t, "sso.provisioned", "success") != 1 || s.audited(t, "sso.member_joined", "success") != 1 {
		t.Fatal("provisioning not audited")
	}
	if s.count(t, `SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.email = 'nina@acme.test' AND s.auth_method = 'sso' AND s.sso_org_id = $1`, s.OrgID) != 1 {
		t.Fatal("the session must record the SSO sign-in")
	}

	// A known account (password sign-up) with the same email is linked.
	bob := s.SignUp("bob@acme.test", "Bob")
	bobID := accountID(t, s.Env, "bob@acme.test")
	bob.Post("/logout", nil)
	bob.Get("/login/sso") // a new CSRF token after sign-out
	s.OP.Next(ssotest.User{Subject: "bob", Email: "bob@acme.test", EmailVerified: true, Name: "Robert"})
	res = s.idp(t, bob, bob.Post("/login/sso", url.Values{"org": {"acme"}}))
	wantStatus(t, res, http.StatusSeeOther)
	if accountID(t, s.Env, "bob@acme.test") != bobID || roleOf(t, s.Env, s.OrgID, "bob@acme.test") != "member" {
		t.Fatal("bob should be linked, not duplicated")
	}

	// Refusals.
	anon := s.NewClient()
	refuse := func(u ssotest.User, want string) {
		t.Helper()
		before := s.audited(t, "sso.sign_in", "denied")
		s.OP.Next(u)
		res := s.idp(t, anon, anon.Post("/login/sso", url.Values{"org": {"acme"}}))
		wantStatus(t, res, http.StatusForbidden, "Single sign-on refused", want)
		if s.audited(t, "sso.sign_in", "denied") != before+1 {
			t.Fatalf("refusal %q not audited", want)
		}
	}
	refuse(ssotest.User{Subject: "x", Email: "eve@acme.test", EmailVerified: false}, "did not confirm")
	refuse(ssotest.User{Subject: "x", Email: "ceo@other.test", EmailVerified: true}, "not at a domain this organization has verified")
	refuse(ssotest.User{Subject: "x", Email: "eve@acme.test", EmailVerified: true, Nonce: "forged"}, "nonce")
	if s.count(t, `SELECT count(*) FROM accounts WHERE email IN ('eve@acme.test', 'ceo@other.test')`) != 0 {
		t.Fatal("a refused sign-in created an account")
	}

	// Mismatched state: a callback whose state is not this browser's.
	s.OP.Next(ssotest.User{Subject: "x", Email: "eve@acme.test", EmailVerified: true})
	start := anon.Post("/login/sso", url.Values{"org": {"acme"}})
	cb := s.opRedirect(t, start.Location)
	other := s.NewClient()
	wantStatus(t, other.Get(s.Path(cb)), http.StatusForbidden, "does not match")
	// Replayed: the same callback again (its flow is used up).
	wantStatus(t, anon.Get(s.Path(cb)), http.StatusForbidden, "unknown, used or expired")
	// Forged state.
	wantStatus(t, anon.Get("/sso/oidc/callback?state=forged&code=x"), http.StatusForbidden, "unknown, used or expired")

	// "Sign in with SSO" with an unknown slug: a clear 404 on the form.
	wantStatus(t, anon.Post("/login/sso", url.Values{"org": {"nope"}}), http.StatusNotFound, "No organization with single sign-on")
}

// TestSSOEnforcementAndBreakGlass: once enforced, a member's password session
// loses the org, password sign-in is refused with a pointer to SSO, tokens
// lose the org, an SSO session keeps it, and the owner still gets in with a
// password (audited sso.bypassed and listed on /sso).
func TestSSOEnforcementAndBreakGlass(t *testing.T) {
	s := newSSOEnv(t)
	mia := s.SignUpVerified("mia@acme.test", "Mia")
	ext := s.SignUpVerified("ext@partner.test", "Ext")
	for _, e := range []string{"mia@acme.test", "ext@partner.test"} {
		if _, err := s.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) SELECT $1, id, 'member' FROM accounts WHERE email = $2`, s.OrgID, e); err != nil {
			t.Fatal(err)
		}
	}
	miaAPI := s.NewAPI(apiToken(t, s.Env, "mia@acme.test"))
	wantStatus(t, mia.Post("/workspace", url.Values{"org": {"acme"}}), http.StatusSeeOther)
	wantStatus(t, mia.Get("/members"), http.StatusOK, "Acme")

	s.ready(t, true)

	// Mia's password session no longer has Acme; her token neither.
	wantStatus(t, mia.Get("/"), http.StatusOK, "You no longer have access to that workspace", "Acme requires single sign-on.")
	mia.Post("/workspace", url.Values{"org": {"acme"}})
	wantStatus(t, mia.Get("/"), http.StatusOK, "You no longer have access to that workspace")
	// The banner's way back in goes to the IdP.
	s.OP.Next(ssotest.User{Subject: "mia", Email: "mia@acme.test", EmailVerified: true})
	back := mia.Post("/me/sso/"+itoa(s.OrgID)+"/signin", nil)
	wantStatus(t, back, http.StatusSeeOther)
	wantStatus(t, s.idp(t, mia, mia.Get(back.Location)), http.StatusSeeOther)
	wantStatus(t, mia.Get("/members"), http.StatusOK, "Mia")
	if strings.Contains(mia.Get("/").Body, "requires single sign-on") {
		t.Fatal("the SSO notice stays after signing in through the IdP")
	}
	if r := miaAPI.Do(http.MethodGet, "/api/orgs/acme", nil); r.Status != http.StatusForbidden {
		t.Fatalf("token of an enforced member: %d %s", r.Status, r.Raw)
	}
	// The banner's way back in is only for a session the org shut out:
	// for anyone else the org's number is not found (it must not map ids
	// to slugs), and so is an org without SSO.
	wantStatus(t, ext.Post("/me/sso/"+itoa(s.OrgID)+"/signin", nil), http.StatusNotFound)
	wantStatus(t, s.Owner.Post("/me/sso/"+itoa(s.OrgID)+"/signin", nil), http.StatusNotFound)
	wantStatus(t, mia.Post("/me/sso/"+itoa(s.OrgID)+"/signin", nil), http.StatusNotFound) // signed in through the IdP now
	// The partner outside the verified domain keeps password access.
	wantStatus(t, ext.Post("/workspace", url.Values{"org": {"acme"}}), http.StatusSeeOther)
	wantStatus(t, ext.Get("/members"), http.StatusOK, "Mia")

	// Password sign-in is refused with a pointer to SSO.
	fresh := s.NewClient()
	res := fresh.Post("/login", url.Values{"email": {"mia@acme.test"}, "password": {webtest.Password}})
	wantStatus(t, res, http.StatusForbidden, "requires single sign-on", "sign in with SSO")
	if s.audited(t, "sso.password_refused", "denied") != 1 {
		t.Fatal("refused password sign-in not audited")
	}
	// Through the IdP she gets Acme back.
	s.OP.Next(ssotest.User{Subject: "mia", Email: "mia@acme.test", EmailVerified: true})
	wantStatus(t, s.idp(t, fresh, fresh.Post("/login/sso", url.Values{"org": {"acme"}})), http.StatusSeeOther)
	wantStatus(t, fresh.Get("/members"), http.StatusOK, "Mia", "Olive")

	// The owner's break-glass, even with the IdP down.
	s.OP.Shutdown()
	owner := s.NewClient()
	res = owner.Post("/login", url.Values{"email": {"olive@acme.test"}, "password": {webtest.Password}})
	wantStatus(t, res, http.StatusSeeOther)
	owner.Get("/")
	if s.audited(t, "sso.bypassed", "success") != 1 {
		t.Fatal("break-glass not audited")
	}
	wantStatus(t, owner.Post("/workspace", url.Values{"org": {"acme"}}), http.StatusSeeOther)
	wantStatus(t, owner.Get("/sso"), http.StatusOK, "Break-glass sign-ins", "olive@acme.test")
	// Email-first with the IdP down explains and offers the password path.
	wantStatus(t, s.NewClient().Get("/sso/start?email=olive@acme.test"), http.StatusBadGateway, "Owners can still sign in with their password")
}

// TestSSODisableEndsEnforcement: disabling the connection ends enforcement
// (audited), sign-in through it is refused, and password sessions get the
// org back.
func TestSSODisableEndsEnforcement(t *testing.T) {
	s := newSSOEnv(t)
	mia := s.SignUpVerified("mia@acme.test", "Mia")
	addMember(t, s.Env, s.OrgID, "mia@acme.test", "member")
	s.ready(t, true)
	mia.Post("/workspace", url.Values{"org": {"acme"}})
	wantStatus(t, mia.Get("/"), http.StatusOK, "requires single sign-on")

	wantStatus(t, s.Owner.Post("/sso/enabled", url.Values{"enabled": {"false"}}), http.StatusSeeOther)
	if s.audited(t, "sso.disabled", "success") != 1 || s.audited(t, "sso.unenforced", "success") != 1 {
		t.Fatal("disabling an enforced connection must audit both")
	}
	wantStatus(t, s.Owner.Get("/sso"), http.StatusOK, "Disabled", "Off")
	mia.Post("/workspace", url.Values{"org": {"acme"}})
	wantStatus(t, mia.Get("/members"), http.StatusOK, "Mia")
	wantStatus(t, s.NewClient().Post("/login/sso", url.Values{"org": {"acme"}}), http.StatusNotFound, "No organization with single sign-on")
	// Enforcing a disabled connection is refused.
	s.Owner.Post("/sso/enforce", url.Values{"enforced": {"true"}})
	if s.count(t, `SELECT count(*) FROM sso_connections WHERE enforced`) != 0 {
		t.Fatal("a disabled connection was enforced")
	}
}

// TestSSOPageRoles: the /sso page shows the status to owners and admins
// only (SPEC 2); members and billing get a notice that tells nothing of it
// (the security suite lets every member open the page, so this pins what
// they see).
func TestSSOPageRoles(t *testing.T) {
	s := newSSOEnv(t)
	s.connect(t, s.Owner, "/sso")
	for _, role := range []string{"admin", "member", "billing"} {
		email := role + "@acme.test"
		c := s.SignUpVerified(email, "X")
		addMember(t, s.Env, s.OrgID, email, role)
		wantStatus(t, c.Post("/workspace", url.Values{"org": {"acme"}}), http.StatusSeeOther)
		page := c.Get("/sso")
		if role == "admin" {
			wantStatus(t, page, http.StatusOK, s.OP.Issuer())
			continue
		}
		wantStatus(t, page, http.StatusOK, "Single sign-on is managed by this organization")
		for _, secret := range []string{s.OP.Issuer(), s.OP.ClientID, "/acs"} {
			if strings.Contains(page.Body, secret) {
				t.Errorf("%s sees %q on /sso", role, secret)
			}
		}
	}
}

// TestSSOBrowserContinuesToIdP: a navigating browser is not redirected
// across origins (the strict form-action 'self' would stop a sign-in form's
// redirect to the IdP); it gets a page that moves on by itself, with a link.
// Other clients keep the plain 303.
func TestSSOBrowserContinuesToIdP(t *testing.T) {
	s := newSSOEnv(t)
	s.ready(t, false)
	c := s.NewClient()
	res := c.Get("/sso/start?email=nina@acme.test")
	wantStatus(t, res, http.StatusSeeOther)
	idp := res.Location
	if !strings.HasPrefix(idp, s.OP.Issuer()) {
		t.Fatalf("303 to %q, want the IdP", idp)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/sso/start?email=nina@acme.test", nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	hres, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hres.Body)
	hres.Body.Close()
	page := string(body)
	if hres.StatusCode != http.StatusOK || !strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, `href="`+html.EscapeString(s.OP.Issuer())) {
		t.Fatalf("navigating browser got %d:\n%s", hres.StatusCode, page)
	}
	if csp := hres.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Fatalf("policy %q", csp)
	}
}
