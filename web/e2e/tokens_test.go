package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

// pollJS waits until the JavaScript expression is true on the page.
func pollJS(t *testing.T, b *browsertest.Browser, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx(), 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr)); err != nil {
		body, _ := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\n%s", expr, err, body)
	}
}

// bearerStatus calls the API with a plain Go client and the token.
func bearerStatus(t *testing.T, env *webtest.Env, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestTokensPageCreateUseRevoke(t *testing.T) {
	env := webtest.New(t)
	const email = "ada@example.com"
	api, _ := env.SignUpAPI(email, "Ada Lovelace")
	env.VerifyEmail(email)
	if r := api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme Robotics", "slug": "acme"}); r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	// Some history for the list: a revoked token and an expired one.
	old := api.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "Old laptop", "scopes": []string{"read"}})
	api.Do(http.MethodDelete, fmt.Sprintf("/api/me/tokens/%v", old.Data()["id"]), nil)
	nightly := api.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "Nightly export", "scopes": []string{"read", "download"}, "org": "acme"})
	env.Store.DB().MustExec(`UPDATE api_tokens SET expires_at = now() - interval '1 day' WHERE id = $1`, nightly.Data()["id"])

	b := browsertest.New(t)
	b.SignIn(env.URL, email, webtest.Password)
	b.Navigate(env.URL + "/tokens")
	b.WaitVisible("#tokens-table")
	// Tokens belong to the account: reached from the account menu, not the
	// workspace's sidebar.
	where, _ := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`(document.querySelector('#sidebar a[href="/tokens"]') ? "sidebar " : "") + (document.querySelector('#usermenu a[href="/tokens"]') ? "menu" : "")`))
	if where != "menu" {
		t.Fatalf("API tokens link in %q, want the account menu only", where)
	}
	b.Screenshot("list")

	// Create a token bound to Acme with read, write and purchase.
	var acme int64
	if err := env.Store.DB().Get(&acme, `SELECT id FROM orgs WHERE slug = 'acme'`); err != nil {
		t.Fatal(err)
	}
	b.Fill("#f-name", "Deploy bot")
	b.Click(`input[name="scopes"][value="purchase"]`)
	b.Choose("#f-org", strconv.FormatInt(acme, 10))
	b.RunResponse(browsertest.SubmitForm("#token-form"))
	b.WaitVisible("#token-secret")
	secret := strings.TrimSpace(b.Text("#token-secret"))
	if !strings.HasPrefix(secret, "guildhall_") || len(secret) < 40 {
		t.Fatalf("shown secret %q", secret)
	}
	if note := b.Text("#new-token"); !strings.Contains(note, "will not be shown again") {
		t.Fatalf("no warning with the secret: %q", note)
	}
	b.Click("#copy-token")
	pollJS(t, b, `document.getElementById("copy-token").textContent === "Copied"`)
	b.Screenshot("secret")

	if s := bearerStatus(t, env, secret); s != 200 {
		t.Fatalf("the new token: GET /api/me = %d", s)
	}

	// Revoke it in the page: htmx swaps the row.
	var id int64
	if err := env.Store.DB().Get(&id, `SELECT id FROM api_tokens WHERE name = 'Deploy bot'`); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf("#token-%d", id)
	dlg := fmt.Sprintf("#revoke-%d", id)
	b.Click(dlg + "-open")
	b.WaitVisible(dlg + ` button[type="submit"]`)
	// The dialog is in the top layer: no scroll box clips it.
	pollJS(t, b, `document.querySelector(`+strconv.Quote(dlg)+`).matches(":modal")`)
	b.Screenshot("confirm")
	// While the request is in flight its button is disabled and busy.
	pollJS(t, b, `(window.__busy = null, document.addEventListener("htmx:beforeSend", e => {
		const btn = e.detail.elt.querySelector("button[type=submit]");
		window.__busy = !!(btn && btn.disabled && btn.getAttribute("aria-busy") === "true");
	}), true)`)
	b.Click(dlg + ` button[type="submit"]`)
	pollJS(t, b, `window.__busy === true`)
	pollJS(t, b, `document.querySelector(`+strconv.Quote(row)+`)?.dataset.status === "revoked"`)
	pollJS(t, b, `document.getElementById("flash").innerText.includes("revoked")`)
	pollJS(t, b, `!document.getElementById("token-secret")`)
	if loc := b.Location(); !strings.HasSuffix(loc, "/tokens") {
		t.Fatalf("htmx revoke navigated to %s", loc)
	}
	b.Screenshot("revoked")

	if s := bearerStatus(t, env, secret); s != 401 {
		t.Fatalf("revoked token: GET /api/me = %d", s)
	}
	// Reloading never shows the secret again.
	b.Navigate(env.URL + "/tokens")
	b.WaitVisible("#tokens-table")
	ok, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[bool](`!document.body.innerHTML.includes(`+strconv.Quote(secret)+`) && !document.getElementById("token-secret")`))
	if err != nil || !ok {
		t.Fatalf("the secret shows after a reload (%v)", err)
	}
}
