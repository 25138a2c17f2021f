package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guildhall/web/browsertest"
	"guildhall/web/sso/ssotest"
	"guildhall/web/webtest"
)

// ssoBrowser is one person's browser in the SSO tour.
type ssoBrowser struct {
	*browsertest.Browser
	t *testing.T
}

func (b ssoBrowser) submit(sel string) int {
	b.t.Helper()
	return int(b.RunResponse(browsertest.SubmitForm(sel)).Status)
}

// noCSP fails on a Content-Security-Policy violation of the current page
// (a form post whose redirect leaves for an IdP is one: form-action 'self').
func (b ssoBrowser) noCSP(where string) {
	b.t.Helper()
	for _, v := range b.CSPViolations() {
		b.t.Errorf("%s: Content-Security-Policy violation: %s", where, v)
	}
}

func (b ssoBrowser) want(sel, text string) {
	b.t.Helper()
	if got := b.Text(sel); !strings.Contains(got, text) {
		b.t.Fatalf("%s: %q does not contain %q (on %s)", sel, got, text, b.Location())
	}
}

var scrollTop = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := chromedp.Evaluate[any](`window.scrollTo(0, 0)`)(ctx, t)
	return err
})

// shot checks the page at 1280 and 390 px (CheckPage: screenshot, no
// sideways overflow, axe-core WCAG 2.1 AA, no CSP violation).
func (b ssoBrowser) shot(name string) {
	b.t.Helper()
	b.Run(scrollTop)
	b.CheckPage(b.t, name)
}

// rawShot only screenshots a page that is not Guildhall's (the test IdP).
func (b ssoBrowser) rawShot(name string) {
	b.t.Helper()
	b.Run(scrollTop)
	b.Screenshot(name + "-desktop")
	b.Run(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.Run(scrollTop)
	b.Screenshot(name + "-phone")
	b.Run(chromedp.EmulateViewport(1280, 900))
}

// confirm opens the confirmation dialog id with its trigger, as a person
// does, checks it, then confirms it and returns the response status.
func (b ssoBrowser) confirm(id, name string) int {
	b.t.Helper()
	b.Click("#" + id + "-open")
	b.WaitVisible("#" + id + " button[type=submit]")
	if name != "" {
		b.shot(name)
	}
	return b.submit("#" + id + " button[type=submit]")
}

// TestSSOTour is the judged path in Chromium: the owner hands a setup link
// to an IT admin without an account, who connects and tests a real OpenID
// provider; the owner verifies the domain through DNS and enforces SSO; a
// new employee signs in email-first through the IdP and lands in the org as
// a member; a member's password sign-in is refused; the owner gets in with
// a password while the IdP is down (break-glass), listed on /sso; an admin
// sees the status only, a member a plain notice.
func TestSSOTour(t *testing.T) {
	dns := ssotest.StartDNS(t)
	op := ssotest.StartOP(t)
	env := webtest.New(t, webtest.Options{DNSResolver: dns.Addr})
	api, _ := env.SignUpAPI("olive@acme.test", "Olive Owner")
	env.VerifyEmail("olive@acme.test")
	if r := api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"}); r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	env.SignUpAPI("adam@acme.test", "Adam Admin")
	env.SignUpAPI("meg@acme.test", "Meg Member")
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role)
		SELECT o.id, a.id, CASE a.email WHEN 'adam@acme.test' THEN 'admin' ELSE 'member' END
		FROM orgs o, accounts a WHERE o.slug = 'acme' AND a.email IN ('adam@acme.test', 'meg@acme.test')`)

	owner := ssoBrowser{browsertest.New(t), t}
	owner.SignIn(env.URL, "olive@acme.test", webtest.Password)
	owner.RunResponse(browsertest.SubmitForm(`form[action="/workspace"] button[data-slug="acme"]`))
	owner.Navigate(env.URL + "/sso")
	owner.WaitVisible("#sso-status")
	owner.want("#sso-state", "Not connected")
	owner.shot("owner-sso-empty")

	// The owner makes a setup link.
	if st := owner.submit("#setup-link-create"); st != http.StatusCreated {
		t.Fatalf("create setup link: %d", st)
	}
	link := strings.TrimSpace(owner.Text("#setup-link"))
	if !strings.HasPrefix(link, env.URL+"/sso/setup/") {
		t.Fatalf("setup link %q", link)
	}
	owner.shot("owner-setup-link")

	// The IT admin (no account) opens it, connects the IdP and tests it.
	it := ssoBrowser{browsertest.New(t), t}
	it.Navigate(link)
	it.want("#setup-open", "olive@acme.test asked you")
	it.shot("it-setup-open")
	it.submit("#setup-start")
	it.WaitVisible("#sso-form")
	it.want("h1", "Connect Acme")
	it.shot("it-setup-page")
	it.Fill("#f-issuer", op.Issuer())
	it.Fill("#f-client_id", op.ClientID)
	it.Fill("#f-client_secret", op.ClientSecret)
	it.submit("#sso-save")
	it.want("#flash", "Connection saved")
	it.want("#sso-tested", "Test needed")
	it.shot("it-connected")
	op.Next(ssotest.User{Subject: "it-1", Email: "ivan@acme.test", EmailVerified: true, Name: "Ivan IT", Groups: []string{"it", "admins"}})
	if st := it.submit("#sso-test"); st != http.StatusOK {
		t.Fatalf("setup test sign-in: %d", st)
	}
	it.WaitVisible("#sso-test-result")
	it.noCSP("setup test result")
	it.want("#test-email", "ivan@acme.test")
	it.want("#test-groups", "it, admins")
	it.shot("it-test-passed")

	// A member signed in with a password works in Acme before enforcement.
	meg := ssoBrowser{browsertest.New(t), t}
	meg.SignIn(env.URL, "meg@acme.test", webtest.Password)
	meg.RunResponse(browsertest.SubmitForm(`form[action="/workspace"] button[data-slug="acme"]`))
	meg.Navigate(env.URL + "/members")
	meg.want("h1", "Members")

	// The owner verifies the domain through DNS and enforces SSO.
	owner.Navigate(env.URL + "/sso")
	owner.want("#sso-tested", "Passed")
	owner.Fill("#f-domain", "acme.test")
	owner.submit("#domain-form button")
	var token string
	if err := env.Store.DB().Get(&token, `SELECT txt_token FROM sso_domains WHERE domain = 'acme.test'`); err != nil {
		t.Fatal(err)
	}
	owner.want("#sso-domains", "guildhall-verification="+token)
	owner.shot("owner-domain-added")
	dns.SetTXT("acme.test", "guildhall-verification="+token)
	owner.submit(`#sso-domains form[action$="/verify"] button`)
	owner.want("#flash", "acme.test is verified")
	owner.confirm("sso-enforce", "owner-enforce-confirm")
	owner.want("#sso-enforced", "Enforced")
	owner.shot("owner-sso-enforced")

	// A new employee: email first, on to the IdP, into Acme as a member.
	nina := ssoBrowser{browsertest.New(t), t}
	nina.Navigate(env.URL + "/login")
	nina.CheckPage(t, "login-email-step")
	nina.Fill("#f-email", "nina@acme.test")
	op.Next(ssotest.User{Subject: "nina-1", Email: "nina@acme.test", EmailVerified: true, Name: "Nina New"})
	nina.submit("#login-form button[type=submit]")
	nina.WaitVisible("#flash .flash")
	nina.noCSP("after the IdP")
	nina.want("#flash", "Signed in to Acme with single sign-on")
	var role string
	if err := env.Store.DB().Get(&role, `SELECT m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
		JOIN orgs o ON o.id = m.org_id WHERE a.email = 'nina@acme.test' AND o.slug = 'acme'`); err != nil || role != "member" {
		t.Fatalf("nina's role %q (%v)", role, err)
	}
	nina.shot("employee-landed")

	// The member's password session has lost Acme.
	meg.Navigate(env.URL + "/")
	meg.want("#flash", "You no longer have access to that workspace")
	meg.shot("member-session-lost")

	// A member's password sign-in is refused with a pointer to SSO.
	meg.RunResponse(browsertest.SubmitForm(`form[action="/logout"] button`))
	// (Email first sends her to the IdP; the password path refuses her.)
	meg.Navigate(env.URL + "/login?password=1")
	meg.Fill("#f-email", "meg@acme.test")
	meg.submit("#login-form button[type=submit]")
	meg.CheckPage(t, "login-password-step")
	meg.Fill("#f-password", webtest.Password)
	if st := meg.submit("#login-form button[type=submit]"); st != http.StatusForbidden {
		t.Fatalf("member password sign-in: %d", st)
	}
	meg.want("main", "requires single sign-on")
	meg.want("#login-sso-link", "Continue with single sign-on")
	meg.shot("member-password-refused")

	// The IdP goes down; the owner still gets in with a password.
	op.Shutdown()
	// Email first goes to the IdP, which is down: its page offers the
	// password path.
	glass := ssoBrowser{browsertest.New(t), t}
	glass.Navigate(env.URL + "/login")
	glass.Fill("#f-email", "olive@acme.test")
	glass.submit("#login-form button[type=submit]")
	glass.WaitVisible(`a[href="/login?password=1"]`)
	glass.want("main", "The identity provider is unavailable")
	glass.shot("owner-idp-down")
	glass.RunResponse(chromedp.Click(chromedp.CSS(`a[href="/login?password=1"]`)))
	glass.Fill("#f-email", "olive@acme.test")
	glass.submit("#login-form button[type=submit]")
	glass.Fill("#f-password", webtest.Password)
	glass.submit("#login-form button[type=submit]")
	glass.RunResponse(browsertest.SubmitForm(`form[action="/workspace"] button[data-slug="acme"]`))
	glass.Navigate(env.URL + "/sso")
	glass.want("#sso-bypasses", "olive@acme.test")
	glass.shot("owner-break-glass")

	// An admin sees the status only; a member gets a plain notice.
	env.Store.DB().MustExec(`UPDATE sso_connections SET enforced = false`)
	adam := ssoBrowser{browsertest.New(t), t}
	adam.SignInWithPassword(env.URL, "adam@acme.test", webtest.Password) // the IdP is down
	adam.RunResponse(browsertest.SubmitForm(`form[action="/workspace"] button[data-slug="acme"]`))
	adam.Navigate(env.URL + "/sso")
	adam.want("#sso-admin-note", "Only owners")
	adam.shot("admin-status")
	meg.SignInWithPassword(env.URL, "meg@acme.test", webtest.Password)
	meg.RunResponse(browsertest.SubmitForm(`form[action="/workspace"] button[data-slug="acme"]`))
	meg.Navigate(env.URL + "/sso")
	meg.want("#sso-notice", "owners and admins")
	meg.shot("member-notice")
}

// TestSSOSAMLTour: in a second org, an IT admin connects a real SAML IdP
// (samlidp) through a setup link and tests it in Chromium; then, with the
// domain verified, a new employee signs in through the IdP's login form and
// lands in the org as a member; another signs in email first on /login.
func TestSSOSAMLTour(t *testing.T) {
	dns := ssotest.StartDNS(t)
	idp := ssotest.StartIdP(t)
	idp.AddUser("sara", "sara-password-1", "sara@beta.test", "Sara SAML", "staff")
	idp.AddUser("ivy", "ivy-password-1", "ivy@beta.test", "Ivy IT", "it")
	idp.AddUser("sol", "sol-password-1", "sol@beta.test", "Sol SAML", "staff")
	env := webtest.New(t, webtest.Options{DNSResolver: dns.Addr})
	api, _ := env.SignUpAPI("bea@beta.test", "Bea Owner")
	env.VerifyEmail("bea@beta.test")
	r := api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Beta", "slug": "beta"})
	if r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	orgID := int64(r.Data()["id"].(float64))
	r = api.Do(http.MethodPost, "/api/orgs/beta/sso/setup-links", nil)
	link, _ := r.Data()["url"].(string)

	it := ssoBrowser{browsertest.New(t), t}
	it.Navigate(link)
	it.submit("#setup-start")
	it.WaitVisible("#sso-form")
	it.Choose("#f-protocol", "saml")
	it.Fill("#f-metadata_url", idp.MetadataURL())
	it.submit("#sso-save")
	it.want("#flash", "Connection saved")
	idp.AddServiceProvider("beta", env.URL+"/sso/saml/"+strconv.FormatInt(orgID, 10)+"/metadata")
	// Test sign-in: the IdP's own login form, then its auto-posted response.
	it.submit("#sso-test")
	it.WaitVisible(`input[name="user"]`)
	it.noCSP("SAML IdP login")
	it.rawShot("saml-idp-login")
	it.Fill(`input[name="user"]`, "ivy")
	it.Fill(`input[name="password"]`, "ivy-password-1")
	it.RunResponse(browsertest.SubmitForm(`input[type="submit"]`))
	it.WaitVisible("#sso-test-result")
	it.noCSP("SAML test result")
	it.want("#test-email", "ivy@beta.test")
	it.want("#test-groups", "it")
	it.shot("saml-test-passed")

	// Domain verified (through the API and DNS), then a new employee.
	r = api.Do(http.MethodPost, "/api/orgs/beta/domains", map[string]any{"domain": "beta.test"})
	dns.SetTXT("beta.test", r.Data()["txt_record"].(string))
	if r := api.Do(http.MethodPost, "/api/orgs/beta/domains/"+strconv.FormatInt(int64(r.Data()["id"].(float64)), 10)+"/verify", nil); r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Raw)
	}
	sara := ssoBrowser{browsertest.New(t), t}
	sara.Navigate(env.URL + "/login/sso")
	sara.Fill("#f-org", "beta")
	sara.shot("saml-sign-in-with-sso")
	sara.submit("#sso-login-form button")
	sara.WaitVisible(`input[name="user"]`)
	sara.Fill(`input[name="user"]`, "sara")
	sara.Fill(`input[name="password"]`, "sara-password-1")
	sara.RunResponse(browsertest.SubmitForm(`input[type="submit"]`))
	sara.WaitVisible("#flash .flash")
	sara.noCSP("after the SAML IdP")
	sara.want("#flash", "Signed in to Beta with single sign-on")
	var role string
	if err := env.Store.DB().Get(&role, `SELECT m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE a.email = 'sara@beta.test' AND m.org_id = $1`, orgID); err != nil || role != "member" {
		t.Fatalf("sara's role %q (%v)", role, err)
	}
	sara.shot("saml-employee-landed")

	// Another employee, email first on /login: on to the SAML IdP.
	sol := ssoBrowser{browsertest.New(t), t}
	sol.Navigate(env.URL + "/login")
	sol.Fill("#f-email", "sol@beta.test")
	sol.submit("#login-form button[type=submit]")
	sol.WaitVisible(`input[name="user"]`)
	sol.noCSP("SAML IdP login, email first")
	sol.Fill(`input[name="user"]`, "sol")
	sol.Fill(`input[name="password"]`, "sol-password-1")
	sol.RunResponse(browsertest.SubmitForm(`input[type="submit"]`))
	sol.WaitVisible("#flash .flash")
	sol.noCSP("after the SAML IdP, email first")
	sol.want("#flash", "Signed in to Beta with single sign-on")
}
