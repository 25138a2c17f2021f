package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

// TestTwoFactorPages enrols an owner in TOTP, signs in with a code, turns on
// the org's requirement and shows a member without two-factor the page that
// leads to enrolment; at desktop and phone width.
// Every page is checked at both widths (CheckPage).
func TestTwoFactorPages(t *testing.T) {
	env := webtest.New(t)
	olive, _ := env.SignUpAPI("olive@example.com", "Olive Owner")
	env.VerifyEmail("olive@example.com")
	if r := olive.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme Robotics", "slug": "acme"}); r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	_, bobID := env.SignUpAPI("bob@example.com", "Bob Member")
	env.VerifyEmail("bob@example.com")
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) SELECT id, $1, 'member' FROM orgs WHERE slug = 'acme'`, bobID)

	b := browsertest.New(t)
	b.SignIn(env.URL, "olive@example.com", webtest.Password)
	b.Navigate(env.URL + "/profile")
	b.WaitVisible("#two-factor")
	b.CheckPage(t, "profile-off")

	// Enrol: the QR page, then the first code, then the recovery codes.
	b.RunResponse(browsertest.SubmitForm("#two-factor-start"))
	b.WaitVisible("#two-factor-setup img")
	pollJS(t, b, `document.querySelector("#two-factor-setup img").naturalWidth === 200`)
	b.CheckPage(t, "setup-qr")
	secret := strings.ReplaceAll(evalString(t, b, `document.querySelector("#totp-secret").textContent`), " ", "")
	code, _ := totp.GenerateCode(secret, env.Clock.Now())
	b.Fill("#f-code", code)
	b.RunResponse(browsertest.SubmitForm("#two-factor-confirm"))
	b.WaitVisible("#recovery-codes")
	if n := evalInt(t, b, `document.querySelectorAll(".recovery-codes li").length`); n != 10 {
		t.Fatalf("%d recovery codes shown", n)
	}
	b.CheckPage(t, "recovery-codes")
	b.Navigate(env.URL + "/profile")
	if txt := b.Text("#two-factor h2"); !strings.Contains(txt, "On") {
		t.Fatalf("profile two-factor heading %q", txt)
	}
	b.CheckPage(t, "profile-on")
	// Turning it off and new recovery codes ask first; Cancel changes nothing.
	for _, id := range []string{"two-factor-off", "recovery-confirm"} {
		b.OpenDialog("#"+id+"-open", id)
		b.WaitVisible("#" + id + " button[type=submit]")
		b.CheckPage(t, "profile-"+id+"-dialog")
		b.CloseDialog(id)
	}
	if txt := b.Text("#two-factor h2"); !strings.Contains(txt, "On") {
		t.Fatalf("cancel changed two-factor: %q", txt)
	}

	// Sign in from another browser: password, then the code.
	env.Clock.Advance(30 * time.Second)
	b2 := browsertest.New(t)
	b2.SignIn(env.URL, "olive@example.com", webtest.Password)
	b2.WaitVisible("#second-factor-form")
	if !strings.HasSuffix(b2.Location(), "/login/2fa") {
		t.Fatalf("after the password: %s", b2.Location())
	}
	b2.CheckPage(t, "second-step")
	b2.Fill("#f-code", "000000")
	b2.RunResponse(browsertest.SubmitForm("#second-factor-form"))
	b2.WaitVisible(".flash-error")
	b2.CheckPage(t, "second-step-wrong")
	code, _ = totp.GenerateCode(secret, env.Clock.Now())
	b2.Fill("#f-code", code)
	b2.RunResponse(browsertest.SubmitForm("#second-factor-form"))
	b2.WaitVisible("#main")
	if loc := b2.Location(); !strings.HasSuffix(loc, "/") {
		t.Fatalf("after the code: %s", loc)
	}
	b2.Navigate(env.URL + "/profile#sessions")
	b2.WaitVisible("#sessions")
	if n := evalInt(t, b2, `document.querySelectorAll("#sessions tbody tr").length`); n != 2 {
		t.Fatalf("%d sessions listed, want 2", n)
	}
	b2.CheckPage(t, "sessions")
	// Signing the other browser out asks first; confirm it.
	b2.Click("#sessions-others-open")
	b2.WaitVisible("#sessions-others button[type=submit]")
	b2.CheckPage(t, "sessions-others-dialog")
	b2.RunResponse(browsertest.SubmitForm("#sessions-others button[type=submit]"))
	if n := evalInt(t, b2, `document.querySelectorAll("#sessions tbody tr").length`); n != 1 {
		t.Fatalf("%d sessions after signing out the others, want 1", n)
	}
	b.Navigate(env.URL + "/")
	if !strings.Contains(b.Location(), "/login") {
		t.Fatalf("the other session still works: %s", b.Location())
	}
	b.SignIn(env.URL, "olive@example.com", webtest.Password)
	b.WaitVisible("#second-factor-form")
	env.Clock.Advance(30 * time.Second)
	code, _ = totp.GenerateCode(secret, env.Clock.Now())
	b.Fill("#f-code", code)
	b.RunResponse(browsertest.SubmitForm("#second-factor-form"))
	b.WaitVisible("#main")

	// Require two-factor in Acme.
	b.Navigate(env.URL + "/")
	switchTo(t, b, "acme")
	b.Navigate(env.URL + "/settings")
	b.WaitVisible("#require-two-factor")
	b.Click(`#require-two-factor input[name="require_two_factor"]`)
	// Saving asks first, naming who loses access.
	b.Submit(`#require-two-factor form`)
	b.WaitVisible("#require-two-factor-dialog [data-confirm-choice-ok]")
	if txt := b.Text("#require-two-factor-dialog"); !strings.Contains(txt, "1 member without two-factor loses access") {
		t.Fatalf("require dialog %q", txt)
	}
	b.CheckPage(t, "settings-require-confirm")
	b.RunResponse(chromedp.Click("#require-two-factor-dialog [data-confirm-choice-ok]"))
	b.WaitVisible("#require-two-factor")
	if txt := b.Text("#require-two-factor h2"); !strings.Contains(txt, "Required") {
		t.Fatalf("setting heading %q", txt)
	}
	b.CheckPage(t, "settings-required")
	b.Navigate(env.URL + "/members")
	b.WaitVisible(".members-table")
	b.CheckPage(t, "members-badges")

	// Bob, without two-factor, meets the page that leads him to enrol.
	b3 := browsertest.New(t)
	b3.SignIn(env.URL, "bob@example.com", webtest.Password)
	switchTo(t, b3, "acme")
	b3.Navigate(env.URL + "/members")
	b3.WaitVisible("#two-factor-required")
	if txt := b3.Text("#two-factor-required"); !strings.Contains(txt, "Acme Robotics requires") {
		t.Fatalf("lock page text %q", txt)
	}
	b3.CheckPage(t, "member-locked")
	b3.RunResponse(browsertest.SubmitForm(`#two-factor-required form`))
	b3.WaitVisible("#two-factor-setup")
	b3.CheckPage(t, "member-setup")
}

// switchTo picks the workspace with slug in the header's switcher.
func switchTo(t *testing.T, b *browsertest.Browser, slug string) {
	t.Helper()
	b.RunResponse(browsertest.SubmitForm(`.switcher-item button[data-slug="` + slug + `"]`))
}

func evalString(t *testing.T, b *browsertest.Browser, expr string) string {
	t.Helper()
	s, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

func evalInt(t *testing.T, b interface{ Ctx() context.Context }, expr string) int {
	t.Helper()
	n, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return n
}

// TestPasskeyPages adds a passkey on the profile with Chromium's virtual
// authenticator, then signs in with the password and the passkey.
func TestPasskeyPages(t *testing.T) {
	env := webtest.New(t)
	env.SignUpAPI("ada@example.com", "Ada Lovelace")
	env.VerifyEmail("ada@example.com")
	// Browsers refuse an IP address as the passkey's site: use localhost.
	base := strings.Replace(env.URL, "127.0.0.1", "localhost", 1)

	b := browsertest.New(t)
	b.Run(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
				Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
	b.SignIn(base, "ada@example.com", webtest.Password)
	b.Navigate(base + "/profile")
	b.WaitVisible("#passkey-register")
	b.Fill("#f-passkey-name", "YubiKey 5")
	b.Submit("#passkey-register")
	b.WaitVisible("#passkey-list")
	if txt := b.Text("#passkey-list"); !strings.Contains(txt, "YubiKey 5") {
		t.Fatalf("passkey list %q", txt)
	}
	if txt := b.Text("#two-factor h2"); !strings.Contains(txt, "On") {
		t.Fatalf("two-factor heading %q", txt)
	}
	evalString(t, b, `window.scrollTo(0, 0), ""`)
	b.CheckPage(t, "profile-passkey")

	// Sign out, then in with the password and the passkey.
	b.Navigate(base + "/logout")
	b.RunResponse(browsertest.SubmitForm("#logout-form"))
	b.SignIn(base, "ada@example.com", webtest.Password)
	b.WaitVisible("#passkey-login")
	b.CheckPage(t, "second-step-passkey")
	b.Submit("#passkey-login")
	// The passkey script navigates when the server accepts; wait for the
	// overview to have loaded (a poll across the navigation is cut short).
	for i := 0; ; i++ {
		ok, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[bool](`location.pathname === "/" && document.readyState === "complete" && !!document.querySelector("#main")`))
		if err == nil && ok {
			break
		}
		if i == 150 {
			t.Fatalf("not signed in with the passkey: %v (on %s)", err, b.Location())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.CheckPage(t, "signed-in")
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM webauthn_credentials WHERE last_used_at IS NOT NULL`)
	if n != 1 {
		t.Fatalf("passkey use not recorded: %d", n)
	}
}
