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

// Without SMTP_URL mail is kept in the outbox, shown at /dev/outbox only in
// dev mode.
func TestDevOutbox(t *testing.T) {
	store := db.New(dbtest.New(t), db.WithFastPasswordHashing())
	for _, dev := range []bool{true, false} {
		srv := web.New(web.Options{Config: web.Config{BaseURL: "http://guildhall.test", Dev: dev}, Store: store,
			Mailer: mail.OutboxMailer{Store: store}, Secret: "outbox-test-secret-0123456789abcdef"})
		ts := httptest.NewServer(srv.Handler())
		c := (&webtest.Env{T: t, URL: ts.URL}).NewClient()
		email := "dev@example.com"
		if !dev {
			email = "prod@example.com"
		}
		c.Get("/signup")
		if res := c.Post("/signup", url.Values{"email": {email}, "name": {"Dev"}, "password": {webtest.Password}}); res.Status != http.StatusSeeOther {
			t.Fatalf("signup: %d", res.Status)
		}
		res := c.Get("/dev/outbox")
		if dev {
			if res.Status != 200 || !strings.Contains(res.Body, "Verify your email") || !strings.Contains(res.Body, "http://guildhall.test/verify/") {
				t.Fatalf("dev outbox: %d", res.Status)
			}
		} else if res.Status != http.StatusNotFound {
			t.Fatalf("outbox without dev mode: %d, want 404", res.Status)
		}
		ts.Close()
	}
	ms, err := store.Outbox(t.Context(), 10)
	if err != nil || len(ms) != 2 || ms[0].HTML == "" {
		t.Fatalf("outbox rows: %d %v", len(ms), err)
	}
}
