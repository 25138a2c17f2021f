package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
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

// With SMTP down, a request that sends mail still succeeds: the message waits
// in the outbox with its error and is retried later, never a 500.
func TestMailQueueSurvivesSMTPOutage(t *testing.T) {
	store := db.New(dbtest.New(t), db.WithFastPasswordHashing())
	down, err := mail.NewSMTP("smtp://127.0.0.1:1", "Guildhall <no-reply@guildhall.test>")
	if err != nil {
		t.Fatal(err)
	}
	q := mail.NewQueue(store, down)
	q.Logf = t.Logf
	srv := web.New(web.Options{Config: web.Config{BaseURL: "http://guildhall.test"}, Store: store, Mailer: q,
		Secret: "queue-test-secret-0123456789abcdef"})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := (&webtest.Env{T: t, URL: ts.URL}).NewClient()
	c.Get("/signup")
	if res := c.Post("/signup", url.Values{"email": {"q@example.com"}, "name": {"Q"}, "password": {webtest.Password}}); res.Status != http.StatusSeeOther {
		t.Fatalf("signup with SMTP down: %d", res.Status)
	}
	n, err := store.DeliverDue(t.Context(), 10, func(m model.OutboxMail) error {
		return down.Send(t.Context(), model.Mail{To: m.To, Subject: m.Subject, Text: m.Text})
	})
	if err != nil || n != 1 {
		t.Fatalf("deliver: %d %v", n, err)
	}
	ms, _ := store.Outbox(t.Context(), 10)
	if len(ms) != 1 || ms[0].Status != "pending" || ms[0].Attempts != 1 || ms[0].LastError == "" {
		t.Fatalf("after a failed delivery: %+v", ms)
	}
	// Not due again until the backoff passes.
	if n, _ := store.DeliverDue(t.Context(), 10, func(model.OutboxMail) error { t.Fatal("retried too early"); return nil }); n != 0 {
		t.Fatalf("retried %d at once", n)
	}
	// Once SMTP is back (and the backoff passed), it goes out once.
	store.DB().MustExec(`UPDATE outbox SET next_attempt_at = now() - interval '1 second'`)
	sent := 0
	if _, err := store.DeliverDue(t.Context(), 10, func(model.OutboxMail) error { sent++; return nil }); err != nil || sent != 1 {
		t.Fatalf("redelivery: %d %v", sent, err)
	}
	if n, _ := store.DeliverDue(t.Context(), 10, func(model.OutboxMail) error { sent++; return nil }); n != 0 || sent != 1 {
		t.Fatal("a sent message was delivered again")
	}
	ms, _ = store.Outbox(t.Context(), 10)
	if ms[0].Status != "sent" {
		t.Fatalf("status %q", ms[0].Status)
	}
}
