package web_test

import (
	"net/http"
	"net/url"
	"regexp"
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
	// A GET is redirected; a form post gets a page that moves on (CSP
	// form-action refuses a cross-origin redirect of a form submission).
	to := toIdP.Next()
	if (toIdP.Status != http.StatusSeeOther && toIdP.Status != http.StatusOK) || !strings.HasPrefix(to, s.OP.Issuer()) {
		t.Fatalf("want a way on to the IdP, got %d %q\n%s", toIdP.Status, to, toIdP.Body)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(p) == "" {
			t.Fatalf("authorization request lacks %s: %s", p, to)
		}
	}
	if q.Get("code_challenge_method") != "S256" {
		t.Fatalf("PKCE method %q, want S256", q.Get("code_challenge_method"))
	}
	cb := s.opRedirect(t, to)
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
	wantStatus(t, res, http.StatusOK, "Continuing to single sign-on")
	if !strings.HasPrefix(res.Refresh, "/sso/start?email=") || strings.Contains(res.Body, `name="password"`) {
		t.Fatalf("email-first went to %q", res.Refresh)
	}
	s.OP.Next(ssotest.User{Subject: "nina", Email: "nina@acme.test", EmailVerified: true, Name: "Nina New"})
	res = s.idp(t, nina, nina.Get(res.Refresh))
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
	cb := s.opRedirect(t, start.Next())
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
	wantStatus(t, back, http.StatusOK, "Continuing to single sign-on")
	wantStatus(t, s.idp(t, mia, mia.Get(back.Refresh)), http.StatusSeeOther)
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

// TestLoginEmailFirst: /login asks for the email alone; any email outside
// an SSO domain gets the same password step (known or not, so it tells
// nothing), an SSO domain continues to the IdP, ?password=1 never does, and
// one post with both still signs in.
func TestLoginEmailFirst(t *testing.T) {
	s := newSSOEnv(t)
	s.SignUpVerified("grace@example.com", "Grace")
	s.ready(t, false)

	c := s.NewClient()
	page := c.Get("/login")
	wantStatus(t, page, http.StatusOK, `id="f-email"`, `autocomplete="username"`, "Sign in with SSO")
	if strings.Contains(page.Body, `name="password"`) {
		t.Fatal("the first step asks for the password")
	}
	// Known and unknown emails get the same second step.
	known := c.Post("/login", url.Values{"email": {"Grace@Example.com"}})
	unknown := c.Post("/login", url.Values{"email": {"nobody@example.com"}})
	for _, r := range []webtest.Response{known, unknown} {
		wantStatus(t, r, http.StatusOK, `name="step" value="password"`, `readonly`, `autocomplete="current-password"`, "Use another email")
	}
	strip := func(r webtest.Response, email string) string {
		return csrfField.ReplaceAllString(strings.ReplaceAll(r.Body, email, "EMAIL"), "")
	}
	if strip(known, "grace@example.com") != strip(unknown, "nobody@example.com") {
		t.Fatal("the password step differs for a known and an unknown email")
	}
	// Bad input is a clear 422 on the right step.
	wantStatus(t, c.Post("/login", url.Values{"email": {"not-an-email"}}), http.StatusUnprocessableEntity, "valid email")
	wantStatus(t, c.Post("/login", url.Values{"email": {"grace@example.com"}, "step": {"password"}}), http.StatusUnprocessableEntity, "Enter your password")
	// The second step signs in.
	res := c.Post("/login", url.Values{"email": {"grace@example.com"}, "step": {"password"}, "password": {webtest.Password}, "next": {"/settings"}})
	wantStatus(t, res, http.StatusSeeOther)
	if res.Location != "/settings" {
		t.Fatalf("signed in to %q", res.Location)
	}

	// An SSO domain continues to the IdP, keeping next; ?password=1 does not.
	anon := s.NewClient()
	res = anon.Post("/login", url.Values{"email": {"olive@acme.test"}, "next": {"/members"}})
	wantStatus(t, res, http.StatusOK, "Continuing to single sign-on", `id="sso-continue-link"`)
	if res.Refresh != "/sso/start?email=olive%40acme.test&next=%2Fmembers" {
		t.Fatalf("continues to %q", res.Refresh)
	}
	wantStatus(t, anon.Get("/login?password=1"), http.StatusOK, `name="password_only"`)
	res = anon.Post("/login", url.Values{"email": {"olive@acme.test"}, "password_only": {"1"}})
	wantStatus(t, res, http.StatusOK, `name="step" value="password"`, `name="password_only"`, "/login?password=1")
	wantStatus(t, anon.Post("/login", url.Values{"email": {"olive@acme.test"}, "password_only": {"1"}, "step": {"password"}, "password": {webtest.Password}}), http.StatusSeeOther)
	// One post with both (scripts, password managers) signs in directly.
	wantStatus(t, s.NewClient().Post("/login", url.Values{"email": {"grace@example.com"}, "password": {webtest.Password}}), http.StatusSeeOther)
}

var csrfField = regexp.MustCompile(`[-\w]{43}`)

// TestSSOEnforcementCoversEveryTokenRoute: a token is a password-grade
// credential, so once Acme enforces SSO a member's token loses Acme on every
// route that reaches it, not only /api/orgs/{org}/...: an agent by id, the
// agent list (with and without ?org=), a purchase for the org, a download
// through the org's entitlement, and the org
// lists of /api/orgs and /api/me. Her other orgs stay; the owner's token
// (break-glass) and a partner outside the verified domain keep Acme.
func TestSSOEnforcementCoversEveryTokenRoute(t *testing.T) {
	s := newSSOEnv(t)
	s.SignUpVerified("mia@acme.test", "Mia")
	s.SignUpVerified("ext@partner.test", "Ext")
	addMember(t, s.Env, s.OrgID, "mia@acme.test", "member")
	addMember(t, s.Env, s.OrgID, "ext@partner.test", "member")
	token := func(email string) *webtest.API {
		r := s.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": email, "password": webtest.Password, "name": "t", "scopes": []string{"read", "write", "purchase", "download"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("token for %s: %d %s", email, r.Status, r.Raw)
		}
		return s.NewAPI(r.Data()["token"].(string))
	}
	mia, ext, owner := token("mia@acme.test"), token("ext@partner.test"), token("olive@acme.test")
	r := mia.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Acme bot", "org": "acme"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create agent: %d %s", r.Status, r.Raw)
	}
	agent := "/api/agents/" + itoa(int64(r.Data()["id"].(float64)))
	if r := mia.Do(http.MethodPost, "/api/agents", map[string]any{"name": "My bot"}); r.Status != http.StatusCreated {
		t.Fatalf("create personal agent: %d %s", r.Status, r.Raw)
	}
	// A free package of Acme's, bought for Acme: members download it.
	r = owner.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": "acme-tool", "name": "Acme tool", "type": "tool", "price_cents": 0, "visibility": "org_only"})
	if r.Status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPost, "/api/packages/acme-tool/buy", map[string]any{"org": "acme"}); r.Status != http.StatusCreated {
		t.Fatalf("buy: %d %s", r.Status, r.Raw)
	}
	if r := mia.Do(http.MethodGet, "/api/packages/acme-tool/download", nil); r.Status != http.StatusOK {
		t.Fatalf("download before enforcement: %d %s", r.Status, r.Raw)
	}
	names := func(a *webtest.API, path, key string) []string {
		t.Helper()
		r := a.Do(http.MethodGet, path, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.Status, r.Raw)
		}
		var out []string
		list := r.List()
		if key == "memberships" {
			list, _ = r.Data()["memberships"].([]any)
		}
		for _, x := range list {
			m := x.(map[string]any)
			for _, k := range []string{"name", "slug"} {
				if v, ok := m[k].(string); ok {
					out = append(out, v)
				}
			}
		}
		return out
	}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	if !has(names(mia, "/api/agents", ""), "Acme bot") || !has(names(mia, "/api/orgs", ""), "acme") {
		t.Fatal("before enforcement mia's token reaches Acme")
	}
	// A browser session of mia's from before enforcement, by password.
	miaWeb := s.NewClient()
	if r := miaWeb.SignIn("mia@acme.test", webtest.Password); r.Status != http.StatusSeeOther {
		t.Fatalf("mia's password sign-in before enforcement: %d", r.Status)
	}
	if p := miaWeb.Get("/packages"); !strings.Contains(p.Body, `data-slug="acme-tool"`) {
		t.Fatal("before enforcement mia's catalogue page lists Acme's org-only package")
	}

	s.ready(t, true)

	refused := func(method, path string, body any) {
		t.Helper()
		if r := mia.Do(method, path, body); r.Status != http.StatusForbidden || !strings.Contains(r.ErrorMessage(), "requires single sign-on") {
			t.Fatalf("%s %s with an enforced member's token: %d %s", method, path, r.Status, r.Raw)
		}
	}
	refused(http.MethodGet, agent, nil)
	refused(http.MethodPatch, agent, map[string]any{"name": "Renamed"})
	refused(http.MethodGet, agent+"/access", nil)
	refused(http.MethodDelete, agent, nil)
	refused(http.MethodGet, "/api/agents?org=acme", nil)
	refused(http.MethodPost, "/api/agents", map[string]any{"name": "Another", "org": "acme"})
	refused(http.MethodPost, "/api/packages/1/buy", map[string]any{"org": "acme"})
	if r := mia.Do(http.MethodGet, "/api/packages/acme-tool/download", nil); r.Status != http.StatusForbidden {
		t.Fatalf("download through an enforced org's entitlement: %d %s", r.Status, r.Raw)
	}
	if r := ext.Do(http.MethodGet, "/api/packages/acme-tool/download", nil); r.Status != http.StatusOK {
		t.Fatalf("download for a partner outside the domain: %d %s", r.Status, r.Raw)
	}
	// Acme's org-only listing is gone from the catalogue too, as for an outsider.
	if r := mia.Do(http.MethodGet, "/api/packages/acme-tool", nil); r.Status != http.StatusNotFound {
		t.Fatalf("an enforced org's org-only package for its member's token: %d %s", r.Status, r.Raw)
	}
	if got := names(mia, "/api/packages", ""); has(got, "acme-tool") {
		t.Fatalf("mia's catalogue %v lists Acme's org-only package", got)
	}
	if got := names(ext, "/api/packages", ""); !has(got, "acme-tool") {
		t.Fatalf("a partner outside the domain lost Acme's package: %v", got)
	}
	// The catalogue page hides it from that session too, and counts it not.
	if p := miaWeb.Get("/packages"); p.Status != http.StatusOK || strings.Contains(p.Body, `data-slug="acme-tool"`) {
		t.Fatalf("mia's password session's catalogue page lists Acme's org-only package: %d", p.Status)
	}
	if r := mia.Do(http.MethodGet, "/api/packages", nil); !strings.Contains(r.Raw, `"total":`+strconv.Itoa(len(r.List()))) {
		t.Fatalf("mia's catalogue counts what it hides: %s", r.Raw)
	}
	if got := names(mia, "/api/agents", ""); has(got, "Acme bot") || !has(got, "My bot") {
		t.Fatalf("mia's agent list %v: Acme's agents must be gone, her own stay", got)
	}
	if got := names(mia, "/api/orgs", ""); has(got, "acme") || len(got) != 1 {
		t.Fatalf("mia's orgs %v: Acme must be gone, her personal org stays", got)
	}
	if got := names(mia, "/api/me", "memberships"); has(got, "acme") || len(got) != 1 {
		t.Fatalf("mia's memberships %v: Acme must be gone", got)
	}
	if s.count(t, `SELECT count(*) FROM agents WHERE name = 'Acme bot'`) != 1 {
		t.Fatal("a refused call changed the agent")
	}
	// The owner (break-glass) and a partner outside the domain keep Acme.
	if r := owner.Do(http.MethodGet, agent, nil); r.Status != http.StatusOK {
		t.Fatalf("agent for the owner: %d %s", r.Status, r.Raw)
	}
	if !has(names(owner, "/api/agents", ""), "Acme bot") {
		t.Fatal("enforcement must not hide Acme's agents from its owner")
	}
	for _, a := range []*webtest.API{owner, ext} {
		if !has(names(a, "/api/orgs", ""), "acme") || !has(names(a, "/api/me", "memberships"), "acme") {
			t.Fatal("enforcement must not hide Acme from an owner or a partner outside the domain")
		}
		if r := a.Do(http.MethodGet, "/api/agents?org=acme", nil); r.Status != http.StatusOK {
			t.Fatalf("agents of Acme for an unbound account: %d %s", r.Status, r.Raw)
		}
	}
}
