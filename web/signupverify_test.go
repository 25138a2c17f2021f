package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"guildhall/web/webtest"
)

// TestAPISignupSendsVerification: POST /api/auth/signup sends the same
// verification email as the sign-up page, and its link verifies the account.
func TestAPISignupSendsVerification(t *testing.T) {
	env := webtest.New(t)
	env.SignUpAPI("api@example.com", "Api User")
	env.SignUp("page@example.com", "Page User")
	link := env.LinkIn("api@example.com", "/verify/")
	env.LinkIn("page@example.com", "/verify/") // waits for the queued mail too
	var subjects = map[string]string{}
	for _, m := range env.Mail.Messages() {
		subjects[strings.Trim(m.To[0], "<>")] = m.Subject
	}
	if subjects["api@example.com"] == "" || subjects["api@example.com"] != subjects["page@example.com"] {
		t.Errorf("subjects: %v", subjects)
	}
	if r := env.NewClient().Get(env.Path(link)); r.Status != 200 {
		t.Fatalf("verify link: %d", r.Status)
	}
	var verified bool
	if err := env.Store.DB().Get(&verified, `SELECT email_verified_at IS NOT NULL FROM accounts WHERE email = 'api@example.com'`); err != nil || !verified {
		t.Errorf("API account not verified by its link: %v", err)
	}
}

// TestTakenEmailOrSlugIsConflict: a taken email (API sign-up) or slug (org
// create and update) or team name is 409 conflict naming the field; the
// pages show it on the field.
func TestTakenEmailOrSlugIsConflict(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	r := env.NewAPI("").Do(http.MethodPost, "/api/auth/signup", map[string]any{"email": "ADA@example.com", "name": "Other", "password": webtest.Password})
	if r.Status != 409 || r.ErrorCode() != "conflict" || !strings.Contains(r.Raw, `"email"`) {
		t.Errorf("taken email: %d %s", r.Status, r.Raw)
	}
	for _, slug := range []string{"acme", "beta"} {
		if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": slug, "slug": slug}); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Again", "slug": "acme"}); r.Status != 409 || r.ErrorCode() != "conflict" {
		t.Errorf("taken slug on create: %d %s", r.Status, r.Raw)
	}
	if r := ada.Do(http.MethodPatch, "/api/orgs/beta", map[string]any{"slug": "acme"}); r.Status != 409 || r.ErrorCode() != "conflict" {
		t.Errorf("taken slug on update: %d %s", r.Status, r.Raw)
	}
	ada.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": "Core"})
	if r := ada.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": "core"}); r.Status != 409 || r.ErrorCode() != "conflict" {
		t.Errorf("taken team name: %d %s", r.Status, r.Raw)
	}
	// The page shows the taken email on its field.
	c := env.NewClient()
	c.Get("/signup")
	res := c.Post("/signup", url.Values{"email": {"ada@example.com"}, "name": {"Ada 2"}, "password": {webtest.Password}})
	if res.Status != 422 || !strings.Contains(res.Body, "already exists") || !strings.Contains(res.Body, `class="field-error"`) {
		t.Errorf("sign-up page with a taken email: %d", res.Status)
	}
}

// TestInvitationLinkVerifiesInvitee: opening a valid invitation link while
// signed in as the invited, unverified address verifies it (the emailed link
// proves the address, audited), so the invitee can accept at once. Someone
// else opening it verifies nothing; the API's accept-by-token does the same.
func TestInvitationLinkVerifiesInvitee(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	env.VerifyEmail("ada@example.com")
	if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	invite := func(email string) string {
		if r := ada.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": email, "role": "member"}); r.Status != 201 {
			t.Fatal(r.Raw)
		}
		return env.LinkIn(email, "/invitations/")
	}
	verified := func(email string) bool {
		var v bool
		if err := env.Store.DB().Get(&v, `SELECT email_verified_at IS NOT NULL FROM accounts WHERE email = $1`, email); err != nil {
			t.Fatal(err)
		}
		return v
	}
	bob := env.SignUp("bob@example.com", "Bob") // never opens the verification email
	carol := env.SignUp("carol@example.com", "Carol")
	link := invite("bob@example.com")

	if r := carol.Get(env.Path(link)); r.Status != 200 || verified("carol@example.com") || verified("bob@example.com") {
		t.Fatalf("someone else opening the link: %d, carol %v, bob %v", r.Status, verified("carol@example.com"), verified("bob@example.com"))
	}
	page := bob.Get(env.Path(link))
	if page.Status != 200 || !verified("bob@example.com") || !strings.Contains(page.Body, `id="accept"`) && !strings.Contains(page.Body, "/accept") {
		t.Fatalf("the invitee opening the link: %d, verified %v", page.Status, verified("bob@example.com"))
	}
	var n int
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'account.email_verified' AND actor_email = 'bob@example.com'`); err != nil || n != 1 {
		t.Errorf("%d email_verified events (%v)", n, err)
	}
	if r := bob.Post(env.Path(link)+"/accept", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}

	// The API: accepting by token verifies too.
	dave, _ := env.SignUpAPI("dave@example.com", "Dave")
	link = invite("dave@example.com")
	tok := link[strings.LastIndex(link, "/")+1:]
	if r := dave.Do(http.MethodPost, "/api/invitations/accept", map[string]any{"token": tok}); r.Status != 200 || !verified("dave@example.com") {
		t.Errorf("API accept by an unverified invitee: %d %s", r.Status, r.Raw)
	}
}
