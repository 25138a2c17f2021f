package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"guildhall/web/sso/ssotest"
	"guildhall/web/webtest"
)

const samPassword = "sam-password-123"

// samlConnect connects org (owner c) to idp by metadata URL and registers
// the org's SP metadata at the IdP.
func samlConnect(t *testing.T, s *ssoEnv, c *webtest.Client, idp *ssotest.IdP, orgID int64, id string) {
	t.Helper()
	wantStatus(t, c.Post("/sso/connection", url.Values{"protocol": {"saml"}, "metadata_url": {idp.MetadataURL()}}), http.StatusSeeOther)
	idp.AddServiceProvider(id, s.URL+"/sso/saml/"+itoa(orgID)+"/metadata")
}

// acs posts an IdP's response to Guildhall's ACS with browser c and, when
// accepted, follows the redirect to the completion page.
func acs(t *testing.T, s *ssoEnv, c *webtest.Client, p ssotest.Posted) webtest.Response {
	t.Helper()
	res := c.PostRaw(s.Path(p.Action), p.Form)
	if res.Status == http.StatusSeeOther && strings.HasPrefix(res.Location, "/sso/saml/complete") {
		return c.Get(res.Location)
	}
	return res
}

// TestSSOSAML runs SAML 2.0 against a real samlidp IdP: SP metadata, a test
// sign-in showing the attributes, JIT sign-in as member, and refusals of a
// forged signature, a replay, an expired assertion, a response meant for
// another SP, and IdP-initiated sign-in unless the org turned it on.
func TestSSOSAML(t *testing.T) {
	s := newSSOEnv(t)
	idp := ssotest.StartIdP(t)
	idp.AddUser("sam", samPassword, "sam@acme.test", "Sam Saml", "staff", "ops")

	meta := s.NewClient().Get("/sso/saml/" + itoa(s.OrgID) + "/metadata")
	wantStatus(t, meta, http.StatusOK, "EntityDescriptor", s.URL+"/sso/saml/"+itoa(s.OrgID)+"/acs", `WantAssertionsSigned="true"`)
	samlConnect(t, s, s.Owner, idp, s.OrgID, "acme")

	// Test sign-in shows what came back.
	p := idp.SignIn(s.Owner.Post("/sso/test", nil).Next(), "sam", samPassword)
	wantStatus(t, acs(t, s, s.Owner, p), http.StatusOK, "Test sign-in succeeded", "sam@acme.test", "Sam Saml", "staff, ops")
	wantStatus(t, s.Owner.Get("/sso"), http.StatusOK, "Passed", "SAML")
	s.verifyDomain(t, "acme.test")

	// A new person signs in through the IdP and lands as a member.
	sam := s.NewClient()
	p = idp.SignIn(sam.Post("/login/sso", url.Values{"org": {"acme"}}).Next(), "sam", samPassword)
	res := acs(t, s, sam, p)
	wantStatus(t, res, http.StatusSeeOther)
	if roleOf(t, s.Env, s.OrgID, "sam@acme.test") != "member" {
		t.Fatal("sam is not a member after SAML sign-in")
	}
	wantStatus(t, sam.Get("/"), http.StatusOK, "Acme")

	refused := func(c *webtest.Client, p ssotest.Posted, want ...string) {
		t.Helper()
		before := s.audited(t, "sso.sign_in", "denied")
		res := acs(t, s, c, p)
		wantStatus(t, res, http.StatusForbidden, append([]string{"Single sign-on refused"}, want...)...)
		if s.audited(t, "sso.sign_in", "denied") != before+1 {
			t.Fatalf("refusal %v not audited", want)
		}
	}
	// Replayed: the same response again, from another browser.
	refused(s.NewClient(), p, "already used")

	// Forged: the email changed after the IdP signed it.
	c := s.NewClient()
	p = idp.SignIn(c.Post("/login/sso", url.Values{"org": {"acme"}}).Next(), "sam", samPassword)
	raw, _ := base64.StdEncoding.DecodeString(p.Form.Get("SAMLResponse"))
	forged := strings.ReplaceAll(string(raw), "sam@acme.test", "boss@acme.test")
	f := ssotest.Posted{Action: p.Action, Form: url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(forged))}, "RelayState": {p.Form.Get("RelayState")}}}
	refused(c, f, "signature")
	if s.count(t, `SELECT count(*) FROM accounts WHERE email = 'boss@acme.test'`) != 0 {
		t.Fatal("a forged response created an account")
	}

	// Expired: posted too late.
	c = s.NewClient()
	p = idp.SignIn(c.Post("/login/sso", url.Values{"org": {"acme"}}).Next(), "sam", samPassword)
	s.Clock.Advance(7 * time.Minute)
	refused(c, p, "expired")
	s.Clock.Advance(-7 * time.Minute)

	// A response meant for another SP (Beta's audience and ACS) is refused at Acme.
	beta := memberOrg(t, s.Env, "bea@beta.test", "Bea", "Beta")
	betaID := orgIDBySlug(t, s.Env, "beta")
	samlConnect(t, s, beta, idp, betaID, "beta")
	wantStatus(t, s.Owner.Post("/sso/idp-initiated", url.Values{"on": {"true"}}), http.StatusSeeOther)
	idp.AddShortcut("beta", s.URL+"/sso/saml/"+itoa(betaID)+"/metadata")
	p = idp.StartAtIdP("beta", "sam", samPassword)
	p.Action = s.URL + "/sso/saml/" + itoa(s.OrgID) + "/acs"
	refused(s.NewClient(), p, "The SAML response was refused")

	// Wrong audience exactly: Acme's ACS, but issued for another entity id.
	other := strings.ReplaceAll(meta.Body, `entityID="`+s.URL+"/sso/saml/"+itoa(s.OrgID)+`/metadata"`, `entityID="https://other.example/sp"`)
	idp.AddServiceProviderXML("other", other)
	idp.AddShortcut("other", "https://other.example/sp")
	refused(s.NewClient(), idp.StartAtIdP("other", "sam", samPassword), "wrong audience")

	// IdP-initiated: accepted only while the org allows it.
	idp.AddShortcut("acme", s.URL+"/sso/saml/"+itoa(s.OrgID)+"/metadata")
	c = s.NewClient()
	res = acs(t, s, c, idp.StartAtIdP("acme", "sam", samPassword))
	wantStatus(t, res, http.StatusSeeOther)
	wantStatus(t, c.Get("/"), http.StatusOK, "Acme")
	wantStatus(t, s.Owner.Post("/sso/idp-initiated", url.Values{"on": {"false"}}), http.StatusSeeOther)
	refused(s.NewClient(), idp.StartAtIdP("acme", "sam", samPassword), "The SAML response was refused")
}
