package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

// TestSignUpAndVerifyEmail: a bad password is refused inline, a good one
// lands on the overview with the verify notice, and the emailed link
// verifies the address.
func TestSignUpAndVerifyEmail(t *testing.T) {
	env, p := openServer(t)

	p.visit("/signup")
	p.wantText("h1", "Create your account")
	p.shot("signup")

	p.Fill("#f-name", "Ada Lovelace")
	p.Fill("#f-email", "ada@example.com")
	p.Fill("#f-password", "short")
	if status := p.submit("#signup-form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("bad password: status %d, want 422", status)
	}
	p.wantText("#e-password", "at least 10 characters")
	if got := p.value("#f-name"); got != "Ada Lovelace" {
		t.Fatalf("name not kept after the error: %q", got)
	}
	if got := p.value("#f-email"); got != "ada@example.com" {
		t.Fatalf("email not kept after the error: %q", got)
	}
	p.shot("signup-bad-password")

	p.Fill("#f-password", webtest.Password)
	if status := p.submit("#signup-form button[type=submit]"); status != http.StatusOK {
		t.Fatalf("sign up: status %d", status)
	}
	p.wantPath("/")
	p.wantText("#flash", "Welcome to Guildhall")
	p.wantText("#verify-notice", "Please verify your email")
	p.wantText(".page-head h1", "Personal workspace")
	p.shot("overview-unverified")

	link := env.LinkIn("ada@example.com", "/verify/")
	if status := p.visitURL(link); status != http.StatusOK {
		t.Fatalf("verification link: status %d", status)
	}
	p.wantText("h1", "Email verified")
	p.wantText("main", "ada@example.com is confirmed")
	p.shot("email-verified")

	p.clickAndWait("main a.btn-primary")
	p.wantPath("/")
	if p.exists("#verify-notice") {
		t.Fatal("the verify notice is still shown after verifying")
	}
	p.shot("overview-verified")

	// The link works once.
	if status := p.visitURL(link); status != http.StatusNotFound {
		t.Fatalf("used verification link: status %d, want 404", status)
	}
	p.wantText("h1", "This link does not work")
	p.shot("verify-link-used")
}

// TestSignOutAndSignIn: sign out from the user menu, a wrong password is
// refused with a message, the right one signs in.
func TestSignOutAndSignIn(t *testing.T) {
	env, p := openServer(t)
	p.signUp("grace@example.com", "Grace Hopper")
	env.VerifyEmail("grace@example.com")

	p.Click(".usermenu summary")
	p.WaitVisible(".usermenu .switcher-menu")
	p.wantText(".usermenu .menu-label", "grace@example.com")
	p.shot("user-menu-open")

	p.submit(".usermenu button[type=submit]")
	p.wantPath("/login")
	p.wantText("#flash", "You are signed out.")
	p.shot("signed-out")

	// A signed-out visitor is sent to the sign-in page.
	p.visit("/settings")
	p.wantPath("/login")

	// Email first: the password step keeps the email, fixed.
	p.Fill("#f-email", "grace@example.com")
	if status := p.submit("#login-form button[type=submit]"); status != http.StatusOK {
		t.Fatalf("email step: status %d, want 200", status)
	}
	p.shot("login-password-step")
	p.Fill("#f-password", "not-my-password")
	if status := p.submit("#login-form button[type=submit]"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", status)
	}
	p.wantText("main [role=alert]", "Incorrect email or password.")
	if got := p.value("#f-email"); got != "grace@example.com" {
		t.Fatalf("email not kept: %q", got)
	}
	p.shot("login-wrong-password")

	p.Fill("#f-password", webtest.Password)
	p.submit("#login-form button[type=submit]")
	p.wantPath("/settings")
	p.wantText(".usermenu .menu-label", "grace@example.com")
	p.wantText("h1", "Settings")
	p.shot("signed-in-settings")
}

// TestCreateOrgsAndSwitch: two orgs from /orgs/new (the second derives its
// slug), the switcher lists them, and switching re-renders the page.
func TestCreateOrgsAndSwitch(t *testing.T) {
	env, p := openServer(t)
	p.signUp("ada@example.com", "Ada Lovelace")
	env.VerifyEmail("ada@example.com")
	p.visit("/")
	if p.exists("#switcher") {
		t.Fatal("the switcher shows before the account belongs to a team org")
	}
	p.shot("overview-personal")

	p.clickAndWait(".page-head a[href='/orgs/new']")
	p.wantPath("/orgs/new")
	p.shot("new-org")

	// A reserved slug is refused inline.
	p.Fill("#f-display_name", "Acme")
	p.Fill("#f-slug", "settings")
	if status := p.submit("#new-org-form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("reserved slug: status %d", status)
	}
	p.wantText("#e-slug", "reserved")
	p.shot("new-org-reserved-slug")

	p.Fill("#f-slug", "acme")
	p.Fill("#f-description", "Rockets, anvils and giant magnets.")
	p.submit("#new-org-form button[type=submit]")
	p.wantPath("/")
	p.wantText("#flash", "Created Acme (acme)")
	p.wantText(".page-head h1", "Acme")
	p.wantText(".page-head", "Rockets, anvils and giant magnets.")
	p.wantText("#switcher summary", "Acme")
	p.shot("overview-acme")

	// The second one without a slug: derived from the name, made unique.
	p.visit("/orgs/new")
	p.Fill("#f-display_name", "Acme")
	p.submit("#new-org-form button[type=submit]")
	p.wantPath("/")
	p.wantText("#flash", "Created Acme (acme-2)")
	p.wantText(".page-head", "guildhall/acme-2")
	p.shot("overview-acme-2")
	p.visit("/settings")
	if got := p.value("#f-slug"); got != "acme-2" {
		t.Fatalf("settings slug = %q, want acme-2", got)
	}

	// The switcher: Personal first, then each org with its role, then New.
	p.visit("/")
	p.Click("#switcher summary")
	p.WaitVisible("#switcher .switcher-menu")
	items := p.texts("#switcher .switcher-item button")
	if len(items) != 3 || !strings.Contains(items[0], "Personal") || !strings.Contains(items[1], "Acme") || !strings.Contains(items[1], "Owner") {
		t.Fatalf("switcher items = %q", items)
	}
	p.wantText("#switcher .menu-new", "New organization")
	p.shot("switcher-open")

	p.submit("#switcher .switcher-item:first-of-type button")
	p.wantPath("/")
	p.wantText(".page-head h1", "Personal workspace")
	p.wantText("#switcher summary", "Personal")
	p.wantText(".sidebar", "Overview")
	if p.exists(".sidebar a[href='/members']") {
		t.Fatal("the personal workspace shows Members in the navigation")
	}
	p.shot("switched-to-personal")

	// Back to acme from the settings page: the settings re-render in scope.
	p.visit("/settings")
	p.wantText("main", "personal workspace is named after you")
	p.Click("#switcher summary")
	p.WaitVisible("#switcher .switcher-menu")
	p.submit("#switcher button[data-slug='acme']")
	p.wantPath("/settings")
	if got := p.value("#f-slug"); got != "acme" {
		t.Fatalf("settings after switching: slug %q, want acme", got)
	}
	p.wantText("#switcher summary", "Acme")
	p.shot("switched-to-acme-settings")
}

// TestOrgSettingsAndDelete: rename, a bad slug, the base permission, and
// deleting with the typed slug.
func TestOrgSettingsAndDelete(t *testing.T) {
	env, p := openServer(t)
	p.signUp("ada@example.com", "Ada Lovelace")
	env.VerifyEmail("ada@example.com")
	p.createOrg("Acme", "acme")

	p.clickAndWait(".sidebar a[href='/settings']")
	p.wantPath("/settings")
	p.wantText("h1", "Settings")
	p.shot("settings")

	p.Fill("#f-display_name", "Acme Robotics")
	p.Fill("#f-slug", "Acme Robotics!")
	if status := p.submit("#settings-form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("bad slug: status %d", status)
	}
	p.wantText("#e-slug", "lowercase letters, digits and hyphens")
	if got := p.value("#f-display_name"); got != "Acme Robotics" {
		t.Fatalf("display name not kept: %q", got)
	}
	p.shot("settings-bad-slug")

	p.Fill("#f-slug", "acme-robotics")
	p.Choose("#f-member_base_permission", "read")
	p.submit("#settings-form button[type=submit]")
	p.wantPath("/settings")
	p.wantText("#flash", "Settings saved.")
	p.wantText("#switcher summary", "Acme Robotics")
	if got := p.value("#f-slug"); got != "acme-robotics" {
		t.Fatalf("slug after save = %q", got)
	}
	if got := p.value("#f-member_base_permission"); got != "read" {
		t.Fatalf("base permission after save = %q, want read", got)
	}
	p.shot("settings-saved")

	// The dialog: focus in the field, the button disabled until the slug
	// matches, Escape returns focus to the trigger.
	p.Click("#delete-org-open")
	p.waitFor(`document.activeElement.id === "delete-org-confirm"`)
	p.Fill("#delete-org-confirm", "acme")
	if !p.evalBool(`document.querySelector("#delete-org button[type=submit]").disabled`) {
		t.Fatal("delete is enabled before the slug matches")
	}
	p.shot("delete-dialog-wrong-slug")
	p.Run(chromedp.KeyEvent("\u001b"))
	p.waitFor(`!document.querySelector("#delete-org").open && document.activeElement.id === "delete-org-open"`)

	// Without script the form still posts, and the server checks the slug.
	p.eval(`document.querySelector("#delete-org-open").removeAttribute("data-confirm"); true`)
	if status := p.submit("#delete-org-open"); status != http.StatusUnprocessableEntity {
		t.Fatalf("delete with the wrong slug: status %d", status)
	}
	p.wantText("#delete-error", `Type "acme-robotics" to confirm.`)
	p.shot("delete-wrong-slug")

	p.Click("#delete-org-open")
	p.Fill("#delete-org-confirm", "acme-robotics")
	if p.evalBool(`document.querySelector("#delete-org button[type=submit]").disabled`) {
		t.Fatal("delete stays disabled after the slug matches")
	}
	p.submit("#delete-org button[type=submit]")
	p.wantPath("/")
	p.wantText("#flash", "Deleted Acme Robotics. Its audit log is kept.")
	p.wantText(".page-head h1", "Personal workspace")
	if p.exists("#switcher") {
		t.Fatal("the switcher still shows with no team org left")
	}
	p.shot("deleted-back-to-personal")
}

// TestAuditLogFilters: the events of the org appear; the filters swap the
// table with htmx without reloading the page.
func TestAuditLogFilters(t *testing.T) {
	env, p := openServer(t)
	p.signUp("ada@example.com", "Ada Lovelace")
	env.VerifyEmail("ada@example.com")
	p.createOrg("Acme", "acme")
	for _, d := range []string{"Rockets.", "Rockets and anvils."} {
		p.visit("/settings")
		p.Fill("#f-description", d)
		p.submit("#settings-form button[type=submit]")
		p.wantText("#flash", "Settings saved.")
	}
	// A member who may not change settings or read the log: both refusals
	// are audited as denied.
	bob, bobID := env.SignUpAPI("bob@example.com", "Bob")
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) SELECT id, $1, 'member' FROM orgs WHERE slug = 'acme'`, bobID)
	if r := bob.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"description": "mine"}); r.Status != http.StatusForbidden {
		t.Fatalf("member updates org: %d %s", r.Status, r.Raw)
	}
	if r := bob.Do(http.MethodGet, "/api/orgs/acme/audit", nil); r.Status != http.StatusForbidden {
		t.Fatalf("member reads audit: %d %s", r.Status, r.Raw)
	}

	p.visit("/")
	p.wantText(".activity", "Ada Lovelace changed the organization's settings")
	p.shot("overview-activity")

	p.clickAndWait(".sidebar a[href='/audit']")
	p.wantPath("/audit")
	actions := p.texts("#audit-results tbody code.action")
	if want := []string{"audit.read", "org.updated", "org.updated", "org.updated", "org.created"}; strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("audit actions = %q, want %q", actions, want)
	}
	p.wantText("#audit-results tbody tr:first-child", "bob@example.com")
	p.wantText("#audit-results tbody tr:first-child", "denied")
	p.shot("audit")

	// Filter by action through the form: htmx swaps #audit-results in place.
	p.eval(`window.__e2eMarker = "still here"; true`)
	p.Fill("#f-action", "org.updated")
	p.Submit("form.filters")
	p.waitRows(3)
	for _, a := range p.texts("#audit-results tbody code.action") {
		if a != "org.updated" {
			t.Fatalf("action filter shows %q", a)
		}
	}
	if got := p.evalString(`String(window.__e2eMarker)`); got != "still here" {
		t.Fatalf("the filter reloaded the page (marker %q)", got)
	}
	if loc := p.Location(); !strings.Contains(loc, "action=org.updated") {
		t.Fatalf("the filter did not push its URL: %s", loc)
	}
	p.shot("audit-filter-action")

	// Outcome from the select (htmx on change): only bob's denied update.
	p.Choose("#f-outcome", "denied")
	p.waitRows(1)
	p.wantText("#audit-results tbody", "bob@example.com")
	p.wantText("#audit-results tbody", "denied")

	// Every denied event once the action filter is cleared.
	p.Fill("#f-action", "")
	p.Submit("form.filters")
	p.waitRows(2)
	for _, o := range p.texts("#audit-results tbody .badge-denied") {
		if o != "denied" {
			t.Fatalf("outcome filter shows %q", o)
		}
	}
	if got := p.evalString(`String(window.__e2eMarker)`); got != "still here" {
		t.Fatalf("the outcome filter reloaded the page (marker %q)", got)
	}
	p.shot("audit-filter-denied")

	// A part of an address, in any case: none of Ada's events was refused,
	// both of Bob's were.
	p.Fill("#f-actor", "ada@")
	p.Submit("form.filters")
	p.waitFor(`document.querySelector("#audit-results .empty") !== null`)
	p.Fill("#f-actor", "BOB@EXA")
	p.Submit("form.filters")
	p.waitRows(2)
	if got := p.evalString(`document.querySelector("#audit-results tbody").textContent`); !strings.Contains(got, "bob@example.com") || strings.Contains(got, "ada@example.com") {
		t.Fatalf("actor part BOB@EXA shows %q", got)
	}
	p.shot("audit-filter-actor-part")
	p.Fill("#f-actor", "")

	// Nothing matches: the friendly empty state.
	p.Fill("#f-action", "sso.")
	p.Submit("form.filters")
	p.waitFor(`document.querySelector("#audit-results .empty") !== null`)
	p.wantText("#audit-results", "No events match these filters.")
	p.shot("audit-empty")

	// The export links carry the filters.
	href := p.evalString(`document.querySelector(".head-actions a").getAttribute("href")`)
	if !strings.HasPrefix(href, "/audit/export?") || !strings.Contains(href, "format=csv") {
		t.Fatalf("export link = %q", href)
	}
}

// TestProfileNameAndPassword: the name (the personal workspace follows) and
// the password, with a wrong current password first.
func TestProfileNameAndPassword(t *testing.T) {
	env, p := openServer(t)
	p.signUp("ada@example.com", "Ada")
	env.VerifyEmail("ada@example.com")

	p.Click(".usermenu summary")
	p.clickAndWait(".usermenu a[href='/profile']")
	p.wantPath("/profile")
	p.wantText("h1", "Profile")
	p.wantText("main", "Verified")
	p.shot("profile")

	p.Fill("#f-name", "Ada Lovelace")
	p.submit("#profile-form button[type=submit]")
	p.wantPath("/profile")
	p.wantText("#flash", "Profile saved.")
	if got := p.value("#f-name"); got != "Ada Lovelace" {
		t.Fatalf("name after save = %q", got)
	}
	p.shot("profile-saved")

	// The personal workspace is named after the account.
	p.visit("/settings")
	p.wantText("#settings-form", "Ada Lovelace")
	p.wantText(".usermenu .menu-label", "Ada Lovelace")
	p.shot("personal-settings")

	p.visit("/profile")
	p.Fill("#f-current_password", "not-my-password")
	p.Fill("#f-new_password", "a-brand-new-password")
	if status := p.submit("#password-form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong current password: status %d", status)
	}
	p.wantText("#e-current_password", "That is not your current password.")
	p.shot("password-wrong-current")

	// Ticking "revoke all my API tokens" revokes the account's tokens too.
	tok := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password})
	if tok.Status != http.StatusCreated {
		t.Fatalf("token: %d", tok.Status)
	}
	p.Fill("#f-current_password", webtest.Password)
	p.Fill("#f-new_password", "a-brand-new-password")
	p.Click("input[name=revoke_tokens]")
	p.shot("password-revoke-tokens")
	p.submit("#password-form button[type=submit]")
	p.wantPath("/profile")
	p.wantText("#flash", "Password changed.")
	p.wantText("#flash", "every API token was revoked")
	p.shot("password-changed")
	if r := env.NewAPI(tok.Data()["token"].(string)).Do(http.MethodGet, "/api/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("token after revoke-all: %d", r.Status)
	}
	p.Run(chromedp.EmulateViewport(390, 844))
	p.visit("/profile")
	p.shot("profile-phone")
	p.Run(chromedp.EmulateViewport(1280, 900))

	// The new password signs in; the old one no longer does.
	p.Click(".usermenu summary")
	p.submit(".usermenu button[type=submit]")
	p.wantPath("/login")
	p.Fill("#f-email", "ada@example.com")
	p.submit("#login-form button[type=submit]")
	p.Fill("#f-password", webtest.Password)
	if status := p.submit("#login-form button[type=submit]"); status != http.StatusUnauthorized {
		t.Fatalf("old password: status %d, want 401", status)
	}
	p.Fill("#f-password", "a-brand-new-password")
	p.submit("#login-form button[type=submit]")
	p.wantPath("/")
}

// TestNotFoundPage: an unknown page while signed in is a friendly page
// inside the layout.
func TestNotFoundPage(t *testing.T) {
	env, p := openServer(t)
	p.signUp("ada@example.com", "Ada Lovelace")
	env.VerifyEmail("ada@example.com")
	p.createOrg("Acme", "acme")

	if status := p.visit("/no-such-page"); status != http.StatusNotFound {
		t.Fatalf("status %d, want 404", status)
	}
	p.wantText("h1", "Page not found")
	p.wantText(".error-page .error-code", "404")
	p.wantText("#switcher summary", "Acme")
	p.wantText(".sidebar", "Settings")
	p.shot("not-found")

	p.clickAndWait(".error-page a.btn-primary")
	p.wantPath("/")
	p.wantText(".page-head h1", "Acme")

	// Signed out, the same page has no workspace chrome.
	p.Click(".usermenu summary")
	p.submit(".usermenu button[type=submit]")
	if status := p.visit("/no-such-page"); status != http.StatusNotFound {
		t.Fatalf("signed out: status %d, want 404", status)
	}
	p.wantText("h1", "Page not found")
	if p.exists(".sidebar") {
		t.Fatal("the signed-out 404 page shows the workspace navigation")
	}
	p.shot("not-found-signed-out")
}

// browserPage is one browser tab on one running server.
type browserPage struct {
	*browsertest.Browser
	t   *testing.T
	env *webtest.Env
}

func openServer(t *testing.T) (*webtest.Env, *browserPage) {
	t.Helper()
	env := webtest.New(t)
	return env, &browserPage{Browser: browsertest.New(t), t: t, env: env}
}

// visit loads a path of the server and returns the document's status.
func (p *browserPage) visit(path string) int {
	p.t.Helper()
	return p.visitURL(p.env.URL + path)
}

func (p *browserPage) visitURL(url string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx(), browsertest.Timeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		p.t.Fatalf("open %s: %v", url, err)
	}
	return int(resp.Status)
}

// submit submits the form of a button (as a click does, with the button as
// submitter), waits for the next page and returns its status.
func (p *browserPage) submit(button string) int {
	p.t.Helper()
	return int(p.RunResponse(browsertest.SubmitForm(button)).Status)
}

// clickAndWait clicks a link and waits for the page it opens.
func (p *browserPage) clickAndWait(sel string) int {
	p.t.Helper()
	return int(p.RunResponse(chromedp.Click(chromedp.CSS(sel))).Status)
}

// signUp creates an account through the sign-up form.
func (p *browserPage) signUp(email, name string) {
	p.t.Helper()
	p.visit("/signup")
	p.Fill("#f-name", name)
	p.Fill("#f-email", email)
	p.Fill("#f-password", webtest.Password)
	if status := p.submit("#signup-form button[type=submit]"); status != http.StatusOK {
		p.t.Fatalf("sign up %s: status %d", email, status)
	}
	p.wantPath("/")
}

// createOrg creates a team org through /orgs/new; it becomes active.
func (p *browserPage) createOrg(name, slug string) {
	p.t.Helper()
	p.visit("/orgs/new")
	p.Fill("#f-display_name", name)
	p.Fill("#f-slug", slug)
	p.submit("#new-org-form button[type=submit]")
	p.wantPath("/")
	p.wantText("#flash", "Created "+name)
}

// shot saves a full-page screenshot. It scrolls to the top first: an
// autofocused field lower down scrolls the page, and the sticky header would
// then be drawn in the middle of the full-page image.
func (p *browserPage) shot(name string) {
	p.t.Helper()
	p.eval(`window.scrollTo(0, 0); true`)
	p.Screenshot(name)
}

// wantText waits for sel and fails unless its visible text contains want.
func (p *browserPage) wantText(sel, want string) {
	p.t.Helper()
	got := p.evalString(`(() => { const el = document.querySelector(` + strconv.Quote(sel) + `); return el ? (el.innerText || el.textContent.replace(/\s+/g, " ").trim()) : "<no element " + ` + strconv.Quote(sel) + ` + ">"; })()`)
	if !strings.Contains(got, want) {
		p.t.Fatalf("%s: text %q does not contain %q\n  on %s", sel, got, want, p.Location())
	}
}

// wantPath fails unless the current URL's path is path.
func (p *browserPage) wantPath(path string) {
	p.t.Helper()
	if got := p.evalString(`location.pathname`); got != path {
		p.t.Fatalf("path = %s, want %s (page: %s)", got, path, p.evalString(`document.title`))
	}
}

func (p *browserPage) exists(sel string) bool {
	p.t.Helper()
	return p.evalBool(`document.querySelector(` + strconv.Quote(sel) + `) !== null`)
}

// value is the current value of an input or select.
func (p *browserPage) value(sel string) string {
	p.t.Helper()
	return p.evalString(`(document.querySelector(` + strconv.Quote(sel) + `) || {}).value ?? "<no element>"`)
}

// texts lists the visible texts of every element matching sel.
func (p *browserPage) texts(sel string) []string {
	p.t.Helper()
	return evalJS[[]string](p, `Array.from(document.querySelectorAll(`+strconv.Quote(sel)+`), el => el.innerText.trim())`)
}

// waitRows waits until the audit table shows n rows and htmx has settled.
func (p *browserPage) waitRows(n int) {
	p.t.Helper()
	p.waitFor(`document.querySelectorAll("#audit-results tbody tr").length === ` + strconv.Itoa(n) +
		` && !document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping")`)
}

// waitFor waits until a JavaScript expression is true.
func (p *browserPage) waitFor(expr string) {
	p.t.Helper()
	p.Run(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50e6))(ctx, t)
		return err
	}))
}

func (p *browserPage) eval(js string)              { p.t.Helper(); evalJS[any](p, js) }
func (p *browserPage) evalString(js string) string { p.t.Helper(); return evalJS[string](p, js) }
func (p *browserPage) evalBool(js string) bool     { p.t.Helper(); return evalJS[bool](p, js) }

func evalJS[T any](p *browserPage, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx(), browsertest.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}
