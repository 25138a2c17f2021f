package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"guildhall/db/demo"
	"guildhall/web/webtest"
)

// TestContentSecurityPolicy: every answer carries the strict policy, and no
// page holds an inline script, an inline event handler or a style attribute
// that the policy would refuse.
func TestContentSecurityPolicy(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUpVerified("ada@example.com", "Ada Lovelace")
	for _, path := range []string{"/", "/login", "/profile", "/tokens", "/settings", "/no-such-page"} {
		res := c.Get(path)
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
			"base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: policy allows unsafe sources: %q", path, csp)
		}
		if m := inlineRe.FindString(res.Body); m != "" {
			t.Errorf("%s: inline code the policy refuses: %q", path, m)
		}
	}
}

// inlineRe finds a <script> without src, an on* handler or a style attribute.
var inlineRe = regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<script>|\son[a-z]+=|\sstyle=`)

// TestStaticAssets: hashed names are immutable for a year, compressed when the
// client accepts gzip, and answer HEAD; the layout links the hashed names.
func TestStaticAssets(t *testing.T) {
	env := webtest.New(t)
	page := env.NewClient().Get("/login")
	m := regexp.MustCompile(`href="(/static/app\.[0-9a-f]{12}\.css)"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("the layout does not link a hashed stylesheet:\n%s", page.Body)
	}
	for _, src := range []string{m[1]} {
		req, _ := http.NewRequest(http.MethodGet, env.URL+src, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" ||
			!strings.Contains(res.Header.Get("Cache-Control"), "max-age=31536000") || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
			t.Fatalf("%s: %d %v", src, res.StatusCode, res.Header)
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(zr)
		res.Body.Close()
		if !strings.Contains(string(body), "--accent") {
			t.Fatal("the gzip body is not the stylesheet")
		}
		// Without gzip: the plain bytes.
		req.Header.Del("Accept-Encoding")
		res, _ = http.DefaultTransport.RoundTrip(req)
		res.Body.Close()
		if res.Header.Get("Content-Encoding") != "" || res.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("identity answer: %v", res.Header)
		}
		// A revalidation with the ETag answers 304.
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res, _ = http.DefaultTransport.RoundTrip(req)
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", res.StatusCode)
		}
	}
	// The plain name still works, revalidated rather than kept for a year.
	res, _ := http.Get(env.URL + "/static/app.css")
	res.Body.Close()
	if res.StatusCode != 200 || strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("plain name: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := http.Get(env.URL + "/static/app.000000000000.css"); res.StatusCode != 404 {
		t.Fatalf("unknown hash: %d", res.StatusCode)
	}
}

// TestHeadWhereverGet: HEAD answers like GET, without a body, on pages, the
// API, health checks and static files.
func TestHeadWhereverGet(t *testing.T) {
	env := webtest.New(t)
	for _, tc := range []struct {
		path string
		want int
	}{{"/login", 200}, {"/signup", 200}, {"/healthz", 200}, {"/", http.StatusSeeOther}, {"/static/app.css", 200}, {"/api/me", 401}} {
		req, _ := http.NewRequest(http.MethodHead, env.URL+tc.path, nil)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, want %d and none", tc.path, res.StatusCode, len(body), tc.want)
		}
	}
}

// TestTokenFormDefaults: the form starts bound to the active workspace with a
// 90-day expiry; a billing member is offered no write scope.
func TestTokenFormDefaults(t *testing.T) {
	env := webtest.New(t)
	if ok, err := demo.Load(t.Context(), env.Store); err != nil || !ok {
		t.Fatalf("demo: %v %v", ok, err)
	}
	var acme int64
	_ = env.Store.DB().Get(&acme, `SELECT id FROM orgs WHERE slug = 'acme'`)
	expiry := env.Store.Now().AddDate(0, 0, 90).Format("2006-01-02")
	for _, tc := range []struct {
		email     string
		wantWrite bool
	}{{"ada@example.com", true}, {"margaret@example.com", false}} {
		c := env.NewClient()
		c.SignIn(tc.email, demo.Password)
		c.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(acme, 10)}})
		res := c.Get("/tokens")
		wantStatus(t, res, 200, `<option value="`+strconv.FormatInt(acme, 10)+`" selected>`, `value="`+expiry+`"`)
		if got := strings.Contains(res.Body, `name="scopes" value="write"`); got != tc.wantWrite {
			t.Errorf("%s: write scope offered = %v, want %v", tc.email, got, tc.wantWrite)
		}
	}
}

// TestAuditDatesAndExportLinks: a From after To is an inline error on the To
// field, and the export links carry the filters shown.
func TestAuditDatesAndExportLinks(t *testing.T) {
	env := webtest.New(t)
	if ok, err := demo.Load(t.Context(), env.Store); err != nil || !ok {
		t.Fatalf("demo: %v %v", ok, err)
	}
	var acme int64
	_ = env.Store.DB().Get(&acme, `SELECT id FROM orgs WHERE slug = 'acme'`)
	c := env.NewClient()
	c.SignIn("ada@example.com", demo.Password)
	c.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(acme, 10)}})
	res := c.Get("/audit?since=2026-02-02&until=2026-02-01")
	wantStatus(t, res, http.StatusUnprocessableEntity, `<p class="field-error" id="e-until" role="alert">To must be on or after From.</p>`)
	res = c.Get("/audit?action=team.created&outcome=success")
	wantStatus(t, res, http.StatusOK, `href="/audit/export?action=team.created&amp;format=csv&amp;outcome=success"`)
}

// TestChangeEmail: the new address gets a link and the old one a notice;
// nothing changes until the link is opened; then the account moves, verified,
// and both steps are audited. An older verification link for the first
// address can never move it back.
func TestChangeEmail(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada Lovelace")
	oldVerify := env.LinkIn("ada@example.com", "/verify/")
	env.SignUpVerified("grace@example.com", "Grace Hopper")

	bad := []struct {
		email, password, want string
	}{
		{"not an email", webtest.Password, "e-new_email"},
		{"grace@example.com", webtest.Password, "Another account uses that email."},
		{"ada@example.com", webtest.Password, "That is already your email."},
		{"ada@new.example.com", "wrong password", "That is not your current password."},
	}
	for _, b := range bad {
		res := c.Post("/profile/email", url.Values{"new_email": {b.email}, "password": {b.password}})
		wantStatus(t, res, http.StatusUnprocessableEntity, b.want)
	}
	res := c.Post("/profile/email", url.Values{"new_email": {"Ada@New.example.com"}, "password": {webtest.Password}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("change email: %d\n%s", res.Status, res.Body)
	}
	link := env.LinkIn("ada@new.example.com", "/verify/")
	env.LinkIn("ada@example.com", "/profile") // the notice to the current address
	if acc, _ := env.Store.AccountByEmail(t.Context(), "ada@example.com"); acc.ID == 0 {
		t.Fatal("the email changed before the link was opened")
	}
	wantStatus(t, c.Get(env.Path(link)), http.StatusOK, "ada@new.example.com is confirmed")
	acc, err := env.Store.AccountByEmail(t.Context(), "ada@new.example.com")
	if err != nil || !acc.Verified() {
		t.Fatalf("after the link: %+v %v", acc, err)
	}
	var actions []string
	_ = env.Store.DB().Select(&actions, `SELECT action FROM audit_events WHERE action LIKE 'account.email_change%' ORDER BY id`)
	if strings.Join(actions, ",") != "account.email_change_requested,account.email_changed" {
		t.Fatalf("audit: %v", actions)
	}
	// The first address's old verification link does not move it back.
	if res := c.Get(env.Path(oldVerify)); res.Status != http.StatusNotFound {
		t.Fatalf("old verification link: %d", res.Status)
	}
	if acc, _ := env.Store.AccountByID(t.Context(), acc.ID); acc.Email != "ada@new.example.com" {
		t.Fatalf("email now %q", acc.Email)
	}
	// The change link works once.
	if res := c.Get(env.Path(link)); res.Status != http.StatusNotFound {
		t.Fatalf("used change link: %d", res.Status)
	}
}

// TestSeatsOneDefinition: Members and Settings count seats the same way
// (members and open invitations); at the limit the invite form says so with
// a link to the plan; a removal updates the count and the badge in place.
func TestSeatsOneDefinition(t *testing.T) {
	env := webtest.New(t)
	if ok, err := demo.Load(t.Context(), env.Store); err != nil || !ok {
		t.Fatalf("demo: %v %v", ok, err)
	}
	var acme, linus int64
	_ = env.Store.DB().Get(&acme, `SELECT id FROM orgs WHERE slug = 'acme'`)
	_ = env.Store.DB().Get(&linus, `SELECT id FROM accounts WHERE email = 'linus@example.com'`)
	c := env.NewClient()
	c.SignIn("ada@example.com", demo.Password)
	c.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(acme, 10)}})
	// The demo org: 4 members and 1 open invitation on a 5-seat plan.
	full := c.Get("/members")
	wantStatus(t, full, 200, `id="seats">5 of 5 seats used`, `id="seat-limit"`, `href="/settings"`)
	if strings.Contains(full.Body, `id="invite-form"`) {
		t.Fatal("the invite form stays open at the seat limit")
	}
	wantStatus(t, c.Get("/settings"), 200, "Seats (members and open invitations)", `id="limit-team_members"`, `5 / 5</span>`)

	res := c.HTMX(http.MethodPost, "/members/"+strconv.FormatInt(linus, 10)+"/remove", nil)
	wantStatus(t, res, 200, `id="members-count" hx-swap-oob="true">3 members`, `id="invitations" hx-swap-oob="true"`,
		`id="seats">4 of 5 seats used`, `id="invite-form"`)
	page := c.Get("/members")
	if strings.Contains(page.Body, `id="seat-limit"`) || !strings.Contains(page.Body, `id="invite-form"`) {
		t.Fatal("the limit notice stays, or the form stays closed, after a seat was freed")
	}
}
