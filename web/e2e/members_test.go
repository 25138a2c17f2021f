package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

// memberBrowser wraps a browser with the steps the members tests repeat.
type memberBrowser struct {
	*browsertest.Browser
	t   *testing.T
	env *webtest.Env
}

func (b memberBrowser) signIn(email string) {
	b.t.Helper()
	b.SignIn(b.env.URL, email, webtest.Password)
}

func (b memberBrowser) signOut() {
	b.t.Helper()
	b.RunResponse(browsertest.SubmitForm(`form[action="/logout"] button`))
}

// switchTo makes the org with slug the active workspace, with the switcher.
func (b memberBrowser) switchTo(slug string) {
	b.t.Helper()
	b.RunResponse(browsertest.SubmitForm(`form[action="/workspace"] button[data-slug="` + slug + `"]`))
}

// waitText waits until the page's text contains s. A poll that a page
// load interrupts ("Cannot find context") is retried.
func (b memberBrowser) waitText(s string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.Ctx(), time.Until(deadline))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body && document.body.innerText.includes(`+strconv.Quote(s)+`)`))
		cancel()
		if err == nil {
			return
		}
		// A navigation in flight (a form post answered by a new page) ends
		// the poll's execution context: poll again on the new page.
		retry := strings.Contains(err.Error(), "context") || strings.Contains(err.Error(), "navigated or closed")
		if time.Now().Before(deadline) && retry && !strings.Contains(err.Error(), "deadline") {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		body, _ := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`document.body.innerText`))
		b.t.Fatalf("page never showed %q: %v\n%s", s, err, body)
	}
}

func (b memberBrowser) attr(selector, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(selector)+`).getAttribute(`+strconv.Quote(name)+`)`))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, selector, err)
	}
	return v
}

func (b memberBrowser) count(selector string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(selector)+`).length`))
	if err != nil {
		b.t.Fatalf("count %s: %v", selector, err)
	}
	return n
}

func (b memberBrowser) dialogOpen(id string) bool {
	b.t.Helper()
	open, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[bool](`!!document.getElementById(`+strconv.Quote(id)+`).open`))
	if err != nil {
		b.t.Fatalf("dialog %s: %v", id, err)
	}
	return open
}

// waitFocus waits until the element with id has the keyboard focus.
func (b memberBrowser) waitFocus(id string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx(), 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.activeElement && document.activeElement.id === `+strconv.Quote(id))); err != nil {
		got, _ := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id || document.activeElement.tagName : ""`))
		b.t.Fatalf("focus never reached #%s (it is on %q): %v", id, got, err)
	}
}

func (b memberBrowser) invite(email, role string) {
	b.t.Helper()
	b.Fill("#invite-form #f-email", email)
	b.Choose("#invite-form #f-role", role)
	b.Submit("#invite-form")
	b.waitText("Invitation sent to " + email)
}

func roleIn(t *testing.T, env *webtest.Env, slug, email string) string {
	t.Helper()
	var r string
	err := env.Store.DB().Get(&r, `SELECT COALESCE((SELECT m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
		JOIN orgs o ON o.id = m.org_id WHERE o.slug = $1 AND a.email = $2), '')`, slug, email)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func idOf(t *testing.T, env *webtest.Env, email string) string {
	t.Helper()
	acc, err := env.Store.AccountByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(acc.ID, 10)
}

// TestMembersBrowser: an owner invites three people from the Members page;
// each opens the emailed link (signed in, signed in as the wrong account, no
// account); the owner changes a role with the htmx select, removes a member,
// transfers ownership; the last owner cannot leave.
func TestMembersBrowser(t *testing.T) {
	env := webtest.New(t)
	env.SignUpVerified("olive@example.com", "Olive Owner")
	env.SignUpVerified("ann@example.com", "Ann Archer")
	env.SignUpVerified("wes@example.com", "Wes Wrong")
	b := memberBrowser{Browser: browsertest.New(t), t: t, env: env}

	// The owner creates the org and opens Members.
	b.signIn("olive@example.com")
	b.Navigate(env.URL + "/orgs/new")
	b.Fill("#f-display_name", "Acme Robotics")
	b.RunResponse(browsertest.SubmitForm("#f-display_name"))
	b.Navigate(env.URL + "/members")
	b.waitText("1 member")
	b.Screenshot("01-members-alone")

	// Inline field error from the htmx form.
	b.Fill("#invite-form #f-email", "not an email")
	b.Submit("#invite-form")
	b.WaitVisible("#e-email")
	b.Screenshot("02-invite-field-error")

	// Three invitations.
	b.invite("ann@example.com", "admin")
	b.invite("bob@example.com", "member")
	b.invite("cy@example.com", "billing")
	b.WaitVisible("#pending-table")
	if got := b.Text("#seats"); !strings.Contains(got, "4 of 5") {
		t.Fatalf("seats: %q", got)
	}
	b.Screenshot("03-three-pending")
	b.signOut()

	// Ann opens her link while signed in with the invited email: accept.
	b.signIn("ann@example.com")
	b.Navigate(env.LinkIn("ann@example.com", "/invitations/"))
	b.WaitVisible("#accept")
	b.Screenshot("04-link-signed-in")
	b.CheckPage(t, "04-link-signed-in")
	b.RunResponse(browsertest.SubmitForm("#accept"))
	b.waitText("Welcome to Acme Robotics")
	b.Screenshot("05-joined")
	if r := roleIn(t, env, "acme-robotics", "ann@example.com"); r != "admin" {
		t.Fatalf("ann's role %q", r)
	}
	b.signOut()

	// Wes opens cy's link: a clear page naming the invited email.
	b.signIn("wes@example.com")
	b.Navigate(env.LinkIn("cy@example.com", "/invitations/"))
	b.WaitVisible("#wrong-account")
	if got := b.Text("#wrong-account"); !strings.Contains(got, "cy@example.com") || !strings.Contains(got, "wes@example.com") {
		t.Fatalf("wrong-account page: %q", got)
	}
	b.Screenshot("06-link-wrong-account")
	b.CheckPage(t, "06-link-wrong-account")
	b.signOut()

	// Bob has no account: sign up with the email fixed, verified, joined.
	b.Navigate(env.LinkIn("bob@example.com", "/invitations/"))
	b.WaitVisible("#invite-signup")
	if ro := b.attr("#invite-signup #f-email", "readonly"); ro == "null" {
		t.Fatal("the email must be fixed")
	}
	b.Fill("#invite-signup #f-name", "Bob Baker")
	b.Fill("#invite-signup #f-password", webtest.Password)
	b.Screenshot("07-link-sign-up")
	b.CheckPage(t, "07-link-sign-up")
	b.RunResponse(browsertest.SubmitForm("#invite-signup"))
	b.waitText("Welcome to Acme Robotics")
	if acc, err := env.Store.AccountByEmail(t.Context(), "bob@example.com"); err != nil || !acc.Verified() {
		t.Fatalf("bob: %+v %v", acc, err)
	}
	b.signOut()

	// The owner changes Bob's role: the row's Change link opens the page's
	// one role dialog (the list renders no role choices), by keyboard.
	b.signIn("olive@example.com")
	b.switchTo("acme-robotics")
	b.Navigate(env.URL + "/members")
	bob, ann := idOf(t, env, "bob@example.com"), idOf(t, env, "ann@example.com")
	if n := b.count("#members-list tbody select, #members-list tbody option"); n != 0 {
		t.Fatalf("the list renders %d selects", n)
	}
	if got := b.attr("#role-"+bob, "href"); !strings.HasSuffix(got, "/members/"+bob+"/role") {
		t.Fatalf("the role link's page without script: %q", got)
	}
	b.Run(chromedp.Focus(chromedp.CSS("#role-"+bob)), chromedp.KeyEvent("\r"))
	b.WaitVisible("#role-dialog #role-select")
	b.waitFocus("role-select")
	if got := b.Text("#role-dialog"); !strings.Contains(got, "Role of Bob Baker") {
		t.Fatalf("role dialog: %q", got)
	}
	b.Screenshot("08a-role-dialog")
	// Choosing alone changes nothing; Save does.
	b.Choose("#role-select", "billing")
	if r := roleIn(t, env, "acme-robotics", "bob@example.com"); r != "member" {
		t.Fatalf("choosing a role changed it before Save: %q", r)
	}
	// Billing takes something away: Save asks first, saying what.
	b.Click("#save-role")
	b.WaitVisible("#confirm-role [data-confirm-choice-ok]")
	if got := b.Text("#confirm-role"); !strings.Contains(got, "cannot use agents or packages") {
		t.Fatalf("role confirmation: %q", got)
	}
	b.Screenshot("08b-role-confirm")
	b.Click("#confirm-role [data-confirm-choice-ok]")
	b.WaitVisible("#member-" + bob + " .row-ok")
	if got := b.attr("#member-"+bob, "data-role"); got != "billing" {
		t.Fatalf("row role after change: %q", got)
	}
	if got := b.Text("#member-" + bob + " .role-cell"); !strings.Contains(got, "Billing") {
		t.Fatalf("the row shows the role %q", got)
	}
	if r := roleIn(t, env, "acme-robotics", "bob@example.com"); r != "billing" {
		t.Fatalf("stored role %q", r)
	}
	if b.dialogOpen("role-dialog") {
		t.Fatal("the role dialog stayed open")
	}
	// Focus is back on the row's Change link.
	b.waitFocus("role-" + bob)
	b.Screenshot("08-role-changed")
	// Escape closes the dialog without a change.
	b.Run(chromedp.KeyEvent("\r"))
	b.WaitVisible("#role-dialog #role-select")
	b.Run(chromedp.KeyEvent("\u001b"))
	b.waitFocus("role-" + bob)
	// On a phone the dialog fits the screen.
	b.Run(chromedp.EmulateViewport(390, 844))
	b.OpenDialog("#role-"+bob, "role-dialog")
	b.WaitVisible("#role-dialog #role-select")
	b.Screenshot("08c-role-dialog-phone")
	b.CheckPage(t, "08c-role-dialog-phone")
	b.CloseDialog("role-dialog")
	b.Run(chromedp.EmulateViewport(390, 844)) // CheckPage ends at 1280
	b.Screenshot("08d-members-phone")
	b.Run(chromedp.EmulateViewport(1280, 900))

	// Without script each row link is a page of its own: the role form and
	// the removal's confirmation.
	b.Navigate(env.URL + "/members/" + ann + "/role")
	b.WaitVisible("#role-form #role-select")
	b.Screenshot("08e-role-page")
	b.CheckPage(t, "08e-role-page")
	// On its own page the form posts (after the same question) and the
	// list comes back with the outcome.
	b.Choose("#role-select", "member")
	b.Click("#save-role")
	b.WaitVisible("#confirm-role [data-confirm-choice-ok]")
	if got := b.Text("#confirm-role"); !strings.Contains(got, "will no longer manage members") {
		t.Fatalf("role page confirmation: %q", got)
	}
	b.Click("#confirm-role [data-confirm-choice-ok]")
	b.waitText("Ann Archer is now Member")
	if r := roleIn(t, env, "acme-robotics", "ann@example.com"); r != "member" {
		t.Fatalf("ann's role after the role page: %q", r)
	}
	b.Navigate(env.URL + "/members/" + ann + "/remove")
	b.WaitVisible("#confirm-button")
	b.CheckPage(t, "08f-remove-page")
	b.Navigate(env.URL + "/members")
	b.WaitVisible("#member-" + bob)

	// Remove Bob, after the inline confirmation.
	// Every row's action shares the page's one dialog, filled from the row.
	if got := b.attr("#remove-"+bob+"-open", "href"); !strings.HasSuffix(got, "/members/"+bob+"/remove") {
		t.Fatalf("the remove trigger's confirmation page without script: %q", got)
	}
	b.Click("#remove-" + bob + "-open")
	b.WaitVisible("#member-dialog [data-row-ok]")
	if txt := b.Text("#member-dialog"); !strings.Contains(txt, "Remove Bob Baker?") || !strings.Contains(txt, "They leave all of its teams.") {
		t.Fatalf("the remove dialog asks: %q", txt)
	}
	b.Screenshot("09-remove-confirm")
	b.CheckPage(t, "09-remove-confirm")
	b.Click("#member-dialog [data-row-ok]")
	b.Run(chromedp.WaitNotPresent(chromedp.CSS("#member-" + bob)))
	b.waitText("Removed Bob Baker from Acme Robotics")
	if r := roleIn(t, env, "acme-robotics", "bob@example.com"); r != "" {
		t.Fatalf("bob still %q", r)
	}

	// Transfer ownership to Ann: the dialog, or without script the
	// confirmation page its link leads to.
	if got := b.attr("#transfer-"+ann+"-open", "href"); !strings.HasSuffix(got, "/members/"+ann+"/transfer") {
		t.Fatalf("the transfer trigger's fallback link: %q", got)
	}
	b.Click("#transfer-" + ann + "-open")
	b.WaitVisible("#member-dialog [data-row-ok]")
	if txt := b.Text("#member-dialog"); !strings.Contains(txt, "Transfer ownership to Ann Archer?") || strings.Contains(txt, "Remove Bob") {
		t.Fatalf("the transfer dialog asks: %q", txt)
	}
	b.Screenshot("10-transfer-confirm")
	b.RunResponse(browsertest.SubmitForm("#member-dialog [data-row-ok]"))
	b.waitText("Ann Archer is now an owner of Acme Robotics")
	b.Screenshot("11-transferred")
	if roleIn(t, env, "acme-robotics", "ann@example.com") != "owner" || roleIn(t, env, "acme-robotics", "olive@example.com") != "admin" {
		t.Fatal("transfer did not swap the roles")
	}
	b.signOut()

	// Ann is now the only owner: she cannot leave.
	b.signIn("ann@example.com")
	b.switchTo("acme-robotics")
	b.Navigate(env.URL + "/members/leave")
	b.waitText("promote another member to owner first")
	b.Screenshot("12-last-owner-cannot-leave")
}

// TestBannerBrowser: a pending invitation shows on every page
// for the verified invitee, who accepts it from the banner.
func TestBannerBrowser(t *testing.T) {
	env := webtest.New(t)
	owner := env.SignUpVerified("olive@example.com", "Olive Owner")
	owner.Post("/orgs", map[string][]string{"display_name": {"Acme Robotics"}})
	owner.Get("/")
	owner.Post("/members/invitations", map[string][]string{"email": {"vera@example.com"}, "role": {"admin"}})
	env.SignUpVerified("vera@example.com", "Vera Vance")

	b := memberBrowser{Browser: browsertest.New(t), t: t, env: env}
	b.signIn("vera@example.com")
	b.Navigate(env.URL + "/")
	b.waitText("Olive Owner invited you to join Acme Robotics as Admin.")
	b.Screenshot("01-banner")
	b.RunResponse(browsertest.SubmitForm(`#banner form[action$="/accept"] button`))
	b.waitText("Welcome to Acme Robotics")
	b.Screenshot("02-accepted")
	if r := roleIn(t, env, "acme-robotics", "vera@example.com"); r != "admin" {
		t.Fatalf("vera's role %q", r)
	}
}

// TestStaleLinkBrowser: an expired link gives a clear page.
func TestStaleLinkBrowser(t *testing.T) {
	env := webtest.New(t)
	owner := env.SignUpVerified("olive@example.com", "Olive Owner")
	owner.Post("/orgs", map[string][]string{"display_name": {"Acme Robotics"}})
	owner.Get("/")
	owner.Post("/members/invitations", map[string][]string{"email": {"late@example.com"}})
	link := env.LinkIn("late@example.com", "/invitations/")
	env.Clock.Advance(8 * 24 * time.Hour)
	b := memberBrowser{Browser: browsertest.New(t), t: t, env: env}
	b.Navigate(link)
	b.waitText("This invitation has expired")
	b.Screenshot("01-expired-link")
}
