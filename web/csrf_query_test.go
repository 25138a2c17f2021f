package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"guildhall/web/webtest"
)

// TestCSRFTokenInQueryRefused: the CSRF token counts only in the form body
// or the X-CSRF-Token header. A token in the URL leaks through logs, history
// and Referer, so a post carrying it there alone is refused and changes
// nothing.
func TestCSRFTokenInQueryRefused(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ann@example.com", "Ann")
	res := c.PostRaw("/orgs?_csrf="+url.QueryEscape(c.CSRF()), url.Values{"display_name": {"Acme"}})
	if res.Status != http.StatusForbidden {
		t.Fatalf("post with the token in the query only: %d", res.Status)
	}
	var n int
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM orgs WHERE kind = 'team'`); err != nil || n != 0 {
		t.Fatalf("%d orgs created (%v)", n, err)
	}
	if res := c.Post("/orgs", url.Values{"display_name": {"Acme"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("post with the token in the body: %d", res.Status)
	}
}
