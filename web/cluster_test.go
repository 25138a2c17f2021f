package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"guildhall/web/webtest"
)

// Two servers on one database behind a round-robin proxy behave as one: a
// session started on one is honoured by the other (and its CSRF token), an
// invitation mail goes out exactly once although both run a mail worker, the
// invitee joins through either, sign-out ends the session on both, and the
// sign-in budget is shared rather than doubled.
//
// TODO(wallet): add a purchase to this walk once the wallet exists.
func TestTwoServersBehindARoundRobinProxy(t *testing.T) {
	cl := webtest.NewCluster(t, 2, webtest.Options{SignInLimit: 4})
	env := cl.Env
	owner := memberOrg(t, env, "olive@example.com", "Olive Owner", "Acme")
	org := orgIDBySlug(t, env, "acme")

	invitees := []string{"bob@example.com", "cy@example.com", "dee@example.com"}
	for _, email := range invitees {
		res := owner.Post("/members/invitations", url.Values{"email": {email}, "role": {"member"}})
		wantStatus(t, res, http.StatusSeeOther)
	}
	// Every page answers on both servers with the one session.
	for i := 0; i < 4; i++ {
		wantStatus(t, owner.Get("/members"), http.StatusOK, "Pending invitations", "bob@example.com")
	}

	// Each invitation is delivered exactly once, though both workers poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := env.Store.MailQueueStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail still queued: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, email := range invitees {
		n := 0
		for _, m := range env.Mail.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(strings.Trim(to, "<>"), email) {
					n++
				}
			}
		}
		if n != 1 {
			t.Fatalf("%s received %d invitation mails, want 1", email, n)
		}
	}

	// Bob signs up through his link (the link points at the proxy).
	link := env.LinkIn("bob@example.com", "/invitations/")
	if !strings.HasPrefix(link, env.URL+"/invitations/") {
		t.Fatalf("link %s does not point at the proxy %s", link, env.URL)
	}
	bob := env.NewClient()
	wantStatus(t, bob.Get(env.Path(link)), http.StatusOK, `id="invite-signup"`)
	res := bob.Post(env.Path(link)+"/signup", url.Values{"name": {"Bob"}, "password": {webtest.Password}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("sign-up via link: %d\n%s", res.Status, res.Body)
	}
	if r := roleOf(t, env, org, "bob@example.com"); r != "member" {
		t.Fatalf("bob's role %q", r)
	}
	for i := 0; i < 2; i++ {
		wantStatus(t, bob.Get("/"), http.StatusOK, "Acme")
	}

	// Sign-out on one server ends the session on both.
	res = owner.Post("/logout", nil)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.Status)
	}
	for i := 0; i < 2; i++ {
		if res := owner.Get("/members"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
			t.Fatalf("after sign-out, request %d: %d %s", i, res.Status, res.Location)
		}
	}

	// Wrong passwords alternate between the servers: the fifth attempt is
	// refused (limit 4), not the ninth.
	c := env.NewClient()
	for i := 0; i < 4; i++ {
		if res := c.Post("/login", url.Values{"email": {"olive@example.com"}, "password": {"wrong-password"}}); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	if res := c.Post("/login", url.Values{"email": {"olive@example.com"}, "password": {webtest.Password}}); res.Status != http.StatusTooManyRequests {
		t.Fatalf("5th attempt across two servers: %d, want 429", res.Status)
	}

	for i := range cl.Servers {
		if n := cl.Hits[i].Load(); n < 10 {
			t.Fatalf("server %d answered only %d requests", i, n)
		}
	}
}
