package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"guildhall/web/webtest"
)

func TestSignupValidation(t *testing.T) {
	env := webtest.New(t)
	cases := []struct {
		name, email, display, password, field, msg string
	}{
		{"bad email", "not-an-email", "Ann", webtest.Password, "email", "email"},
		{"short password", "ann@example.com", "Ann", "short", "password", "at least 10"},
		{"missing name", "ann@example.com", "", webtest.Password, "name", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.NewClient()
			res := c.Post("/signup", url.Values{"email": {tc.email}, "name": {tc.display}, "password": {tc.password}})
			if res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", res.Status)
			}
			if !strings.Contains(res.Body, `id="e-`+tc.field+`"`) || !strings.Contains(strings.ToLower(res.Body), tc.msg) {
				t.Fatalf("no %s field error mentioning %q in the re-rendered form", tc.field, tc.msg)
			}
			var n int
			if err := env.Store.DB().Get(&n, `SELECT count(*) FROM accounts`); err != nil || n != 0 {
				t.Fatalf("accounts after a refused sign-up: %d (%v)", n, err)
			}
		})
	}
	t.Run("taken email", func(t *testing.T) {
		env.SignUp("taken@example.com", "First")
		c := env.NewClient()
		res := c.Post("/signup", url.Values{"email": {"TAKEN@example.com"}, "name": {"Second"}, "password": {webtest.Password}})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "already exists") {
			t.Fatalf("status %d, want 422 saying the email exists", res.Status)
		}
	})
}

func TestSignupVerifyAndSession(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("Ada@Example.com", "Ada Lovelace")
	home := c.Get("/")
	if home.Status != http.StatusOK || !strings.Contains(home.Body, "Personal workspace") || !strings.Contains(home.Body, "verify your email") {
		t.Fatalf("overview after sign-up: %d, want the personal workspace with a verify notice", home.Status)
	}
	acc, err := env.Store.AccountByEmail(t.Context(), "ada@example.com")
	if err != nil || acc.Verified() || acc.PersonalOrgID == 0 {
		t.Fatalf("account: %+v %v; want unverified with a personal org", acc, err)
	}
	org, err := env.Store.OrgByID(t.Context(), acc.PersonalOrgID)
	if err != nil || org.Kind != "personal" || org.DisplayName != "Ada Lovelace" {
		t.Fatalf("personal org %+v %v", org, err)
	}
	msg := env.Mail.WaitFor(t, "ada@example.com", 5e9)
	if !strings.Contains(msg.HTML, "/verify/") || !strings.Contains(msg.Text, "/verify/") {
		t.Fatal("verification mail lacks the link in text or HTML")
	}
	link := env.Path(env.LinkIn("ada@example.com", "/verify/"))
	if res := c.Get(link); res.Status != http.StatusOK || !strings.Contains(res.Body, "Email verified") {
		t.Fatalf("verify: %d", res.Status)
	}
	if acc, _ = env.Store.AccountByEmail(t.Context(), "ada@example.com"); !acc.Verified() {
		t.Fatal("email not verified after the link")
	}
	if res := c.Get(link); res.Status != http.StatusNotFound || !strings.Contains(res.Body, "already used") {
		t.Fatalf("reused link: %d, want a clear 404 page", res.Status)
	}
	if res := c.Get("/verify/ver_nonsense"); res.Status != http.StatusNotFound {
		t.Fatalf("unknown link: %d", res.Status)
	}
	// GET /logout only asks; it never signs out by itself.
	if res := c.Get("/logout"); res.Status != http.StatusOK || !strings.Contains(res.Body, "Sign out of Guildhall?") {
		t.Fatalf("GET /logout: %d", res.Status)
	}
	if res := c.Get("/"); res.Status != http.StatusOK {
		t.Fatalf("signed out by a GET: %d", res.Status)
	}
	// Sign out: the old cookie is dead even if replayed.
	jarCookies := c.HTTP.Jar.Cookies(mustURL(env.URL))
	if res := c.Post("/logout", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.Status)
	}
	replay := env.NewClient()
	replay.HTTP.Jar.SetCookies(mustURL(env.URL), jarCookies)
	if res := replay.Get("/"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
		t.Fatalf("replayed cookie after sign-out: %d %s, want a redirect to sign in", res.Status, res.Location)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestLoginOneMessageAndNewSession(t *testing.T) {
	env := webtest.New(t)
	env.SignUp("grace@example.com", "Grace")
	wrong := env.NewClient().Post("/login", url.Values{"email": {"grace@example.com"}, "password": {"wrong-password-1"}})
	unknown := env.NewClient().Post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong-password-1"}})
	if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Fatalf("statuses %d %d, want 401", wrong.Status, unknown.Status)
	}
	const msg = "Incorrect email or password."
	if !strings.Contains(wrong.Body, msg) || !strings.Contains(unknown.Body, msg) {
		t.Fatal("wrong password and unknown email must give the same message")
	}
	c := env.NewClient()
	c.Get("/login")
	before := sessionCookie(c, env)
	res := c.Post("/login", url.Values{"email": {"GRACE@example.com"}, "password": {webtest.Password}, "next": {"/settings"}})
	if res.Status != http.StatusSeeOther || res.Location != "/settings" {
		t.Fatalf("login: %d %q", res.Status, res.Location)
	}
	if after := sessionCookie(c, env); after == before || after == "" {
		t.Fatal("the session cookie must change at sign-in")
	}
	// An open redirect is refused.
	c2 := env.NewClient()
	if res := c2.Post("/login", url.Values{"email": {"grace@example.com"}, "password": {webtest.Password}, "next": {"//evil.example/x"}}); res.Location != "/" {
		t.Fatalf("next=//evil: redirected to %q", res.Location)
	}
}

func sessionCookie(c *webtest.Client, env *webtest.Env) string {
	for _, ck := range c.HTTP.Jar.Cookies(mustURL(env.URL)) {
		if ck.Name == "guildhall" {
			return ck.Value
		}
	}
	return ""
}

func TestLoginRateLimited(t *testing.T) {
	env := webtest.New(t, webtest.Options{SignInLimit: 3})
	env.SignUp("linus@example.com", "Linus")
	c := env.NewClient()
	for i := 0; i < 3; i++ {
		if res := c.Post("/login", url.Values{"email": {"linus@example.com"}, "password": {"not-the-password"}}); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	res := c.Post("/login", url.Values{"email": {"linus@example.com"}, "password": {webtest.Password}})
	if res.Status != http.StatusTooManyRequests || !strings.Contains(res.Body, "Too many attempts") {
		t.Fatalf("4th attempt: %d, want 429 even with the right password", res.Status)
	}
	// The per-account limit holds from another IP-less client too (same account key).
	api := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "linus@example.com", "password": webtest.Password})
	if api.Status != http.StatusTooManyRequests || api.ErrorCode() != "rate_limited" {
		t.Fatalf("API token after the limit: %d %s", api.Status, api.Raw)
	}
}

func TestCSRFRequired(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ann@example.com", "Ann")
	res := c.PostRaw("/orgs", url.Values{"display_name": {"Acme"}})
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "form expired") {
		t.Fatalf("post without CSRF: %d", res.Status)
	}
	res = c.PostRaw("/orgs", url.Values{"display_name": {"Acme"}, "_csrf": {"forged"}})
	if res.Status != http.StatusForbidden {
		t.Fatalf("post with a forged CSRF token: %d", res.Status)
	}
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM orgs WHERE kind = 'team'`)
	if n != 0 {
		t.Fatalf("%d orgs created without a valid CSRF token", n)
	}
	// htmx sends the token in a header.
	if res := c.HTMX(http.MethodPost, "/orgs", url.Values{"display_name": {"Acme"}}); res.Status != http.StatusOK || res.Header.Get("HX-Redirect") != "/" {
		t.Fatalf("htmx post with header token: %d %v", res.Status, res.Header)
	}
}

func TestProfileAndPassword(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("mary@example.com", "Mary")
	other := env.NewClient()
	if res := other.Post("/login", url.Values{"email": {"mary@example.com"}, "password": {webtest.Password}}); res.Status != http.StatusSeeOther {
		t.Fatalf("second session: %d", res.Status)
	}
	if res := c.Post("/profile", url.Values{"name": {"Mary Shelley"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("rename: %d", res.Status)
	}
	acc, _ := env.Store.AccountByEmail(t.Context(), "mary@example.com")
	org, _ := env.Store.OrgByID(t.Context(), acc.PersonalOrgID)
	if acc.Name != "Mary Shelley" || org.DisplayName != "Mary Shelley" {
		t.Fatalf("name %q, personal org %q: both must follow the profile", acc.Name, org.DisplayName)
	}
	if res := c.Post("/profile", url.Values{"name": {"  "}}); res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("blank name: %d", res.Status)
	}
	res := c.Post("/profile/password", url.Values{"current_password": {"wrong-one-123"}, "new_password": {"another-long-password"}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "not your current password") {
		t.Fatalf("wrong current password: %d", res.Status)
	}
	res = c.Post("/profile/password", url.Values{"current_password": {webtest.Password}, "new_password": {"another-long-password"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("change password: %d", res.Status)
	}
	if res := c.Get("/"); res.Status != http.StatusOK {
		t.Fatalf("own session after the change: %d, want still signed in", res.Status)
	}
	if res := other.Get("/"); res.Status != http.StatusSeeOther {
		t.Fatalf("other session after the change: %d, want signed out", res.Status)
	}
	if _, err := env.Store.Authenticate(t.Context(), "mary@example.com", "another-long-password"); err != nil {
		t.Fatalf("new password does not work: %v", err)
	}
}

func TestHealth(t *testing.T) {
	env := webtest.New(t)
	c := env.NewClient()
	for _, p := range []string{"/healthz", "/readyz"} {
		if res := c.Get(p); res.Status != http.StatusOK || res.Body != "ok" {
			t.Fatalf("%s: %d %q", p, res.Status, res.Body)
		}
	}
	if res := c.Get("/no/such/page"); res.Status != http.StatusNotFound || !strings.Contains(res.Body, "Page not found") {
		t.Fatalf("unknown page: %d", res.Status)
	}
	if r := env.NewAPI("").Do(http.MethodGet, "/api/nope", nil); r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" {
		t.Fatalf("unknown API path: %d %s", r.Status, r.Raw)
	}
}
