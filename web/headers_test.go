package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/web"
	"guildhall/web/mail"
	"guildhall/web/webtest"
)

// TestSecurityHeaders: every dynamic answer is no-store (pages carry CSRF
// tokens and account data; the new-token page and API answer show a secret),
// with nosniff and a same-origin referrer policy; static files cache; HSTS only
// for an https base URL.
func TestSecurityHeaders(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	want := func(what string, h http.Header) {
		t.Helper()
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, h.Get("Cache-Control"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: X-Content-Type-Options %q, Referrer-Policy %q", what, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over http", what)
		}
	}
	want("sign-in page", env.NewClient().Get("/login").Header)
	want("overview", c.Get("/").Header)
	res := c.Post("/tokens", url.Values{"name": {"Laptop"}, "scopes": {"read"}})
	if res.Status != 200 || secretRe.FindStringSubmatch(res.Body) == nil {
		t.Fatalf("new token page: %d", res.Status)
	}
	want("new token page", res.Header)
	res = c.HTMX(http.MethodPost, "/tokens", url.Values{"name": {"Desk"}, "scopes": {"read"}})
	want("new token fragment", res.Header)
	want("error page", c.Get("/no-such-page").Header)

	api, _ := env.SignUpAPI("bob@example.com", "Bob")
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/me/tokens", strings.NewReader(`{"name": "ci"}`))
	req.Header.Set("Authorization", "Bearer "+api.Token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 201 {
		t.Fatalf("api token: %d", r.StatusCode)
	}
	want("API token answer", r.Header)

	st := c.Get("/static/app.css")
	// A plain name revalidates (static.go); fingerprinted names are
	// immutable (TestFingerprintedAssets' territory in layout_test.go).
	if st.Status != 200 || st.Header.Get("Cache-Control") != "public, max-age=300, must-revalidate" {
		t.Errorf("static: %d %q", st.Status, st.Header.Get("Cache-Control"))
	}

	// An https base URL: HSTS on every answer.
	store := db.New(dbtest.New(t), db.WithFastPasswordHashing())
	srv := web.New(web.Options{Config: web.Config{BaseURL: "https://guildhall.example"}, Store: store,
		Mailer: mail.OutboxMailer{Store: store}, Secret: "headers-test-secret-0123456789abcdef"})
	for _, p := range []string{"/login", "/api/me", "/static/app.css"} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if got := rec.Header().Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
			t.Errorf("https %s: HSTS %q", p, got)
		}
	}
}
