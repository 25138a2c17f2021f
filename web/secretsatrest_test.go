package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"guildhall/db/model"
	"guildhall/web/webtest"
)

var linkTokenRe = regexp.MustCompile(`/(verify|invitations|agent-transfers)/([A-Za-z0-9_-]{32,})`)

// rowsContaining counts the rows of every table in the public schema whose
// text form contains s.
func rowsContaining(t *testing.T, env *webtest.Env, s string) map[string]int {
	t.Helper()
	var tables []string
	if err := env.Store.DB().Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`); err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, tb := range tables {
		var n int
		if err := env.Store.DB().Get(&n, fmt.Sprintf(`SELECT count(*) FROM %q AS r WHERE strpos(r::text, $1) > 0`, tb), s); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			found[tb] = n
		}
	}
	return found
}

// TestNoLinkSecretsAtRest: once a mail is delivered, the database holds no
// usable link from it (the stored copy has the secret redacted), while the
// link itself still works from the mailbox. Kept (dev, undelivered) mail is
// shown in full.
func TestNoLinkSecretsAtRest(t *testing.T) {
	env := webtest.New(t)
	ada := env.SignUp("ada@example.com", "Ada") // a verification link
	ada.Get(env.Path(env.LinkIn("ada@example.com", "/verify/")))
	ada.Get("/")
	if r := ada.Post("/orgs", url.Values{"display_name": {"Acme"}, "slug": {"acme"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create org: %d", r.Status)
	}
	ada.Get("/")
	if r := ada.Post("/members/invitations", url.Values{"email": {"bob@example.com"}, "role": {"member"}}); r.Status >= 400 {
		t.Fatalf("invite: %d", r.Status)
	}
	api := env.NewAPI(env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password}).Data()["token"].(string))
	agentID := num(api.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Bot", "org": "acme"}).Data()["id"])
	if r := api.Do(http.MethodPost, fmt.Sprintf("/api/agents/%d/transfer", agentID), map[string]any{"email": "carol@example.com"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	links := []string{env.LinkIn("bob@example.com", "/invitations/"), env.LinkIn("carol@example.com", "/agent-transfers/")}
	// Wait until the worker has recorded every delivery.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pending int
		if err := env.Store.DB().Get(&pending, `SELECT count(*) FROM outbox WHERE status <> 'sent'`); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages not delivered", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}

	tokens := 0
	for _, m := range env.Mail.Messages() {
		for _, match := range linkTokenRe.FindAllStringSubmatch(m.Text+m.HTML, -1) {
			tokens++
			if found := rowsContaining(t, env, match[2]); len(found) > 0 {
				t.Errorf("the %s link secret of %q is in the database: %v", match[1], m.Subject, found)
			}
		}
	}
	if tokens < 6 { // verification, invitation, transfer; text and HTML each
		t.Fatalf("only %d link secrets in the delivered mail", tokens)
	}
	var redacted int
	if err := env.Store.DB().Get(&redacted, `SELECT count(*) FROM outbox WHERE strpos(text_body, $1) > 0 AND strpos(html_body, $1) > 0`, model.RedactedSecret); err != nil || redacted < 3 {
		t.Errorf("%d delivered messages kept with redacted links (%v)", redacted, err)
	}
	// The links from the mailbox still work.
	bob := env.SignUp("bob@example.com", "Bob")
	if r := bob.Get(env.Path(links[0])); r.Status != 200 || !strings.Contains(r.Body, "Acme") {
		t.Errorf("invitation link after delivery: %d", r.Status)
	}

	// Kept mail (dev mode without SMTP) is never delivered: shown in full.
	if err := env.Store.SaveOutbox(t.Context(), model.Mail{To: "dev@example.com", Subject: "Dev", Text: links[1], HTML: links[1]}); err != nil {
		t.Fatal(err)
	}
	if ms, err := env.Store.Outbox(t.Context(), 1); err != nil || ms[0].Text != links[1] {
		t.Errorf("kept mail: %v %v", ms, err)
	}
}
