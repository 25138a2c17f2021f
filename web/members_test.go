package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"guildhall/db/model"
	"guildhall/web/webtest"
)

// memberOrg signs up a verified owner and creates a team org from the form;
// the org becomes the owner's active workspace.
func memberOrg(t *testing.T, env *webtest.Env, email, name, org string) *webtest.Client {
	t.Helper()
	c := env.SignUpVerified(email, name)
	res := c.Post("/orgs", url.Values{"display_name": {org}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create org: %d\n%s", res.Status, res.Body)
	}
	c.Get("/")
	return c
}

func accountID(t *testing.T, env *webtest.Env, email string) int64 {
	t.Helper()
	acc, err := env.Store.AccountByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	return acc.ID
}

func orgIDBySlug(t *testing.T, env *webtest.Env, slug string) int64 {
	t.Helper()
	var id int64
	if err := env.Store.DB().Get(&id, `SELECT id FROM orgs WHERE slug = $1`, slug); err != nil {
		t.Fatalf("org %s: %v", slug, err)
	}
	return id
}

func roleOf(t *testing.T, env *webtest.Env, orgID int64, email string) string {
	t.Helper()
	var r string
	err := env.Store.DB().Get(&r, `SELECT COALESCE((SELECT m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.org_id = $1 AND a.email = $2), '')`, orgID, email)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantStatus(t *testing.T, res webtest.Response, status int, contains ...string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d\n%s", res.Status, status, res.Body)
	}
	for _, s := range contains {
		if !strings.Contains(res.Body, s) {
			t.Fatalf("body lacks %q\n%s", s, res.Body)
		}
	}
}

// TestInviteAndAcceptEveryKindOfInvitee follows the judged path: the owner
// invites three people from the Members page; one opens the link signed in,
// one signed in as the wrong account, one with no account.
func TestInviteAndAcceptEveryKindOfInvitee(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "olive@example.com", "Olive Owner", "Acme")
	org := orgIDBySlug(t, env, "acme")

	page := owner.Get("/members")
	wantStatus(t, page, http.StatusOK, "olive@example.com", `id="invite-form"`, "1 member")

	// Bad input: inline field errors, nothing created.
	res := owner.Post("/members/invitations", url.Values{"email": {"not-an-email"}, "role": {"member"}})
	wantStatus(t, res, http.StatusUnprocessableEntity, `id="e-email"`)
	res = owner.Post("/members/invitations", url.Values{"email": {"x@example.com"}, "role": {"wizard"}})
	wantStatus(t, res, http.StatusUnprocessableEntity, `id="e-role"`)
	res = owner.HTMX(http.MethodPost, "/members/invitations", url.Values{"email": {""}})
	wantStatus(t, res, http.StatusUnprocessableEntity, `id="invitations"`, `id="e-email"`)
	if strings.Contains(res.Body, "<html") {
		t.Fatal("htmx invite answer should be the section, not a page")
	}

	// Three invitations at three roles.
	env.SignUpVerified("ann@example.com", "Ann")          // will be signed in with the invited email
	wrong := env.SignUpVerified("wes@example.com", "Wes") // signed in as someone else
	for email, role := range map[string]string{"ann@example.com": "admin", "bob@example.com": "member", "cy@example.com": "billing"} {
		res := owner.Post("/members/invitations", url.Values{"email": {email}, "role": {role}})
		wantStatus(t, res, http.StatusSeeOther)
	}
	page = owner.Get("/members")
	wantStatus(t, page, http.StatusOK, "Pending invitations", "ann@example.com", "bob@example.com", "cy@example.com", "4 of 5 seats used")

	// The email: text and HTML, both with BASE_URL/invitations/TOKEN.
	msg := env.Mail.WaitFor(t, "bob@example.com", 5*time.Second)
	if !strings.Contains(msg.Subject, "Acme") || !strings.Contains(msg.Text, env.URL+"/invitations/inv_") ||
		!strings.Contains(msg.HTML, env.URL+"/invitations/inv_") || !strings.Contains(msg.Text, "Member") {
		t.Fatalf("invitation mail: %q\n%s\n%s", msg.Subject, msg.Text, msg.HTML)
	}

	// Inviting again while pending: 409 with a resend offer.
	res = owner.Post("/members/invitations", url.Values{"email": {"BOB@example.com"}, "role": {"admin"}})
	wantStatus(t, res, http.StatusConflict, "already has a pending invitation", `id="resend-pending"`)
	// Inviting the owner: already a member.
	res = owner.Post("/members/invitations", url.Values{"email": {"olive@example.com"}})
	wantStatus(t, res, http.StatusConflict, "already a member")

	// 1. Ann, signed in with the invited email: accept.
	ann := env.NewClient()
	ann.SignIn("ann@example.com", webtest.Password)
	annLink := env.Path(env.LinkIn("ann@example.com", "/invitations/"))
	res = ann.Get(annLink)
	wantStatus(t, res, http.StatusOK, "Join Acme", `id="accept"`, `id="decline"`, "Admin")
	res = ann.Post(annLink+"/accept", nil)
	if res.Status != http.StatusSeeOther || res.Location != "/" {
		t.Fatalf("accept: %d %s\n%s", res.Status, res.Location, res.Body)
	}
	if r := roleOf(t, env, org, "ann@example.com"); r != "admin" {
		t.Fatalf("ann's role %q", r)
	}
	wantStatus(t, ann.Get("/"), http.StatusOK, "Welcome to Acme", "Acme")
	// The link is used now; Ann, who used it, is told she already joined,
	// and anyone else that it was used.
	wantStatus(t, ann.Get(annLink), http.StatusOK, "You already joined Acme")
	wantStatus(t, env.NewClient().Get(annLink), http.StatusGone, "already used")

	// 2. Wes is signed in but bob's link was not sent to him.
	bobLink := env.Path(env.LinkIn("bob@example.com", "/invitations/"))
	res = wrong.Get(bobLink)
	wantStatus(t, res, http.StatusOK, `id="wrong-account"`, "bob@example.com", "wes@example.com")
	res = wrong.Post(bobLink+"/accept", nil)
	wantStatus(t, res, http.StatusForbidden, "sent to bob@example.com")
	if r := roleOf(t, env, org, "wes@example.com"); r != "" {
		t.Fatalf("wes joined as %q", r)
	}

	// 3. Bob has no account: sign up with the email fixed.
	bob := env.NewClient()
	res = bob.Get(bobLink)
	wantStatus(t, res, http.StatusOK, `id="invite-signup"`, `value="bob@example.com"`, "readonly")
	res = bob.Post(bobLink+"/signup", url.Values{"name": {"Bob"}, "password": {"short"}, "email": {"evil@example.com"}})
	wantStatus(t, res, http.StatusUnprocessableEntity, `id="e-password"`)
	res = bob.Post(bobLink+"/signup", url.Values{"name": {"Bob"}, "password": {webtest.Password}, "email": {"evil@example.com"}})
	if res.Status != http.StatusSeeOther || res.Location != "/" {
		t.Fatalf("sign-up via link: %d %s\n%s", res.Status, res.Location, res.Body)
	}
	acc, err := env.Store.AccountByEmail(t.Context(), "bob@example.com")
	if err != nil || !acc.Verified() {
		t.Fatalf("bob's account: %+v %v; want verified", acc, err)
	}
	if _, err := env.Store.AccountByEmail(t.Context(), "evil@example.com"); err == nil {
		t.Fatal("the posted email must be ignored")
	}
	if r := roleOf(t, env, org, "bob@example.com"); r != "member" {
		t.Fatalf("bob's role %q", r)
	}
	wantStatus(t, bob.Get("/"), http.StatusOK, "Acme", "Bob")

	// An existing account signed out: asked to sign in.
	cyLink := env.Path(env.LinkIn("cy@example.com", "/invitations/"))
	env.SignUpVerified("cy@example.com", "Cy")
	res = env.NewClient().Get(cyLink)
	wantStatus(t, res, http.StatusOK, `id="signin"`, "/login?next=/invitations/")

	// Audit: created and accepted events.
	var n int
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'invitation.accepted' AND outcome = 'success'`, org); err != nil || n != 2 {
		t.Fatalf("accepted events %d %v", n, err)
	}
	if err := env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'invitation.accepted' AND outcome = 'denied'`, org); err != nil || n != 1 {
		t.Fatalf("denied accept events %d %v", n, err)
	}
}

// TestInvitationLinkStates checks the clear page of every stale link.
func TestInvitationLinkStates(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "olive@example.com", "Olive", "Acme")
	visitor := env.NewClient()

	wantStatus(t, visitor.Get("/invitations/inv_nonsense"), http.StatusNotFound, "not valid")

	// Rotated by a resend.
	owner.Post("/members/invitations", url.Values{"email": {"rita@example.com"}})
	old := env.Path(env.LinkIn("rita@example.com", "/invitations/"))
	inv, err := env.Store.InvitationByToken(t.Context(), strings.TrimPrefix(old, "/invitations/"))
	if err != nil || inv.State != model.LinkValid {
		t.Fatalf("fresh link %+v %v", inv, err)
	}
	res := owner.HTMX(http.MethodPost, "/members/invitations/"+strconv.FormatInt(inv.Invitation.ID, 10)+"/resend", nil)
	wantStatus(t, res, http.StatusOK, "Sent a new link to rita@example.com")
	// The mail worker delivers in the background: wait for the new link
	// (NewLinkIn fails the test when none comes).
	fresh := env.Path(env.NewLinkIn("rita@example.com", "/invitations/", old))
	wantStatus(t, visitor.Get(old), http.StatusGone, "This link was replaced")
	wantStatus(t, visitor.Get(fresh), http.StatusOK, `id="invite-signup"`)
	res = visitor.Post(old+"/signup", url.Values{"name": {"Rita"}, "password": {webtest.Password}})
	wantStatus(t, res, http.StatusGone, "This link was replaced")

	// Cancelled.
	owner.Post("/members/invitations", url.Values{"email": {"carl@example.com"}})
	carl := env.Path(env.LinkIn("carl@example.com", "/invitations/"))
	cinv, _ := env.Store.InvitationByToken(t.Context(), strings.TrimPrefix(carl, "/invitations/"))
	res = owner.Post("/members/invitations/"+strconv.FormatInt(cinv.Invitation.ID, 10)+"/cancel", nil)
	wantStatus(t, res, http.StatusSeeOther)
	wantStatus(t, visitor.Get(carl), http.StatusGone, "This invitation was cancelled")

	// Expired after 7 days.
	env.Clock.Advance(model.InvitationTTL + time.Minute)
	res = visitor.Get(fresh)
	wantStatus(t, res, http.StatusGone, "This invitation has expired", "Olive")
	res = visitor.Post(fresh+"/signup", url.Values{"name": {"Rita"}, "password": {webtest.Password}})
	wantStatus(t, res, http.StatusGone, "expired")
	if _, err := env.Store.AccountByEmail(t.Context(), "rita@example.com"); err == nil {
		t.Fatal("account created from an expired link")
	}
	// The pending list shows it expired, with resend.
	wantStatus(t, owner.Get("/members"), http.StatusOK, "Expired", "Resend")
}

// TestMemberRoleChangesAndRemoval covers the htmx role select, refusals,
// removal, transfer and the last owner on the Members page.
func TestMemberRoleChangesAndRemoval(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "olive@example.com", "Olive", "Acme")
	org := orgIDBySlug(t, env, "acme")
	join := func(email, name string, role model.Role) *webtest.Client {
		c := env.SignUpVerified(email, name)
		if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, org, accountID(t, env, email), role); err != nil {
			t.Fatal(err)
		}
		c.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(org, 10)}})
		c.Get("/members")
		return c
	}
	admin := join("adam@example.com", "Adam", model.RoleAdmin)
	member := join("mia@example.com", "Mia", model.RoleMember)
	join("bill@example.com", "Bill", model.RoleBilling)
	ownerID, miaID, billID := accountID(t, env, "olive@example.com"), accountID(t, env, "mia@example.com"), accountID(t, env, "bill@example.com")
	path := func(id int64, action string) string { return fmt.Sprintf("/members/%d/%s", id, action) }

	// A member sees the list but no controls.
	res := member.Get("/members")
	wantStatus(t, res, http.StatusOK, "olive@example.com", "4 members")
	for _, s := range []string{`data-member-role`, "Remove…", `id="invite-form"`, "Make owner"} {
		if strings.Contains(res.Body, s) {
			t.Fatalf("member sees %q", s)
		}
	}
	// The server refuses anyway.
	res = member.HTMX(http.MethodPost, path(billID, "role"), url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusForbidden, "Only owners and admins")
	res = member.Post("/members/invitations", url.Values{"email": {"x@example.com"}})
	wantStatus(t, res, http.StatusForbidden)

	// The role form refuses as the change would, with the reason.
	res = member.Get(path(billID, "role"))
	wantStatus(t, res, http.StatusForbidden, "Only owners and admins")
	if strings.Contains(res.Body, `id="role-form"`) {
		t.Fatal("a member gets a role form")
	}
	// The admin sees role selects for non-owners only, and no owner option.
	res = admin.Get("/members")
	wantStatus(t, res, http.StatusOK, `id="role-`+strconv.FormatInt(miaID, 10)+`"`)
	if strings.Contains(res.Body, `id="role-`+strconv.FormatInt(ownerID, 10)+`"`) {
		t.Fatal("admin gets a role select on the owner")
	}
	// Admin grants owner: 403 in the row; demotes the owner: 403.
	res = admin.HTMX(http.MethodPost, path(miaID, "role"), url.Values{"role": {"owner"}})
	wantStatus(t, res, http.StatusForbidden, `id="member-`+strconv.FormatInt(miaID, 10)+`"`, "Only an owner", `data-role="member"`)
	res = admin.HTMX(http.MethodPost, path(ownerID, "role"), url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusForbidden, "Only an owner")
	res = admin.HTMX(http.MethodGet, path(ownerID, "role"), nil)
	wantStatus(t, res, http.StatusForbidden, "Only an owner")
	res = admin.Get(path(miaID, "role"))
	wantStatus(t, res, http.StatusOK, `<option value="billing"`, `<option value="member" selected`)
	if strings.Contains(res.Body, `<option value="owner"`) {
		t.Fatal("an admin is offered owner")
	}
	if roleOf(t, env, org, "olive@example.com") != "owner" || roleOf(t, env, org, "mia@example.com") != "member" {
		t.Fatal("refused changes changed something")
	}
	// Admin promotes Mia to admin with the htmx select: the row comes back.
	res = admin.HTMX(http.MethodPost, path(miaID, "role"), url.Values{"role": {"billing"}})
	wantStatus(t, res, http.StatusOK, `data-role="billing"`, "Now Billing")
	if strings.Contains(res.Body, "<html") {
		t.Fatal("htmx role change should answer the row only")
	}
	// Unknown role.
	res = owner.HTMX(http.MethodPost, path(miaID, "role"), url.Values{"role": {"wizard"}})
	wantStatus(t, res, http.StatusUnprocessableEntity, "Choose a role")
	// Another org's member id: 404.
	stranger := env.SignUpVerified("sam@example.com", "Sam")
	stranger.Post("/orgs", url.Values{"display_name": {"Other"}})
	res = owner.HTMX(http.MethodPost, path(accountID(t, env, "sam@example.com"), "role"), url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusNotFound)
	// Plain form post (no JavaScript): redirect with a flash.
	res = owner.Post(path(miaID, "role"), url.Values{"role": {"member"}})
	if res.Status != http.StatusSeeOther || roleOf(t, env, org, "mia@example.com") != "member" {
		t.Fatalf("plain role change: %d", res.Status)
	}

	// The last owner cannot demote themself or leave.
	wantStatus(t, owner.Get(path(ownerID, "role")), http.StatusConflict, "promote another member to owner first")
	wantStatus(t, owner.HTMX(http.MethodGet, path(accountID(t, env, "sam@example.com"), "role"), nil), http.StatusNotFound)
	res = owner.HTMX(http.MethodPost, path(ownerID, "role"), url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusConflict, "promote another member to owner first")
	res = owner.Post("/members/leave", nil)
	wantStatus(t, res, http.StatusConflict, "promote another member to owner first")
	wantStatus(t, owner.Get("/members/leave"), http.StatusOK, "promote another member")

	// The removal's confirmation page (the Remove link without script).
	wantStatus(t, member.Get(path(billID, "remove")), http.StatusForbidden, "Only owners and admins")
	wantStatus(t, admin.Get(path(ownerID, "remove")), http.StatusForbidden)
	res = admin.Get(path(billID, "remove"))
	wantStatus(t, res, http.StatusOK, "Remove Bill?", `id="confirm-button"`, `action="`+path(billID, "remove")+`"`, "loses access to Acme")
	if res = admin.Get(path(accountID(t, env, "adam@example.com"), "remove")); res.Status != http.StatusSeeOther {
		t.Fatalf("removing yourself is leaving: %d", res.Status)
	}
	// Remove Bill (htmx): the row goes, a flash says so.
	res = admin.HTMX(http.MethodPost, path(billID, "remove"), nil)
	wantStatus(t, res, http.StatusOK, `hx-swap-oob="true"`, "Removed Bill from Acme")
	if roleOf(t, env, org, "bill@example.com") != "" {
		t.Fatal("bill still a member")
	}
	// Admin cannot remove the owner.
	res = admin.HTMX(http.MethodPost, path(ownerID, "remove"), nil)
	wantStatus(t, res, http.StatusForbidden)

	// Transfer ownership to Mia, with a confirmation page.
	res = owner.Get(path(miaID, "transfer"))
	wantStatus(t, res, http.StatusOK, "Transfer ownership of Acme?", `id="confirm-button"`, "you become an admin")
	res = admin.Post(path(miaID, "transfer"), nil)
	wantStatus(t, res, http.StatusForbidden, "Only an owner can transfer ownership")
	res = owner.Post(path(miaID, "transfer"), nil)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("transfer: %d\n%s", res.Status, res.Body)
	}
	if roleOf(t, env, org, "mia@example.com") != "owner" || roleOf(t, env, org, "olive@example.com") != "admin" {
		t.Fatal("transfer did not swap owner and admin")
	}
	// Olive (now admin) may leave; she lands on Personal.
	res = owner.Post("/members/leave", nil)
	if res.Status != http.StatusSeeOther || roleOf(t, env, org, "olive@example.com") != "" {
		t.Fatalf("leave: %d", res.Status)
	}
	wantStatus(t, owner.Get("/"), http.StatusOK, "You left Acme", "Personal workspace")
	// Audit events of all this.
	for _, a := range []string{"member.role_changed", "member.removed", "member.left", "org.ownership_transferred"} {
		var n int
		if err := env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2 AND outcome = 'success'`, org, a); err != nil || n == 0 {
			t.Errorf("no %s event (%v)", a, err)
		}
	}
}

func TestMembersPagingAndFilter(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "olive@example.com", "Olive", "Acme")
	org := orgIDBySlug(t, env, "acme")
	for i := 0; i < 24; i++ {
		var id int64
		err := env.Store.DB().Get(&id, `INSERT INTO accounts (email, name) VALUES ($1, $2) RETURNING id`, fmt.Sprintf("p%02d@example.com", i), fmt.Sprintf("Person %02d", i))
		if err != nil {
			t.Fatal(err)
		}
		role := "member"
		if i < 3 {
			role = "billing"
		}
		if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, org, id, role); err != nil {
			t.Fatal(err)
		}
	}
	res := owner.Get("/members")
	wantStatus(t, res, http.StatusOK, "25 members", "Page 1 of 2", "Next →")
	if n := strings.Count(res.Body, `<tr id="member-`); n != 20 {
		t.Fatalf("%d rows on page 1, want 20", n)
	}
	res = owner.Get("/members?page=2")
	if n := strings.Count(res.Body, `<tr id="member-`); n != 5 {
		t.Fatalf("%d rows on page 2, want 5", n)
	}
	res = owner.Get("/members?per_page=500")
	if n := strings.Count(res.Body, `<tr id="member-`); n != 25 {
		t.Fatalf("%d rows with per_page 500 (capped at 100), want 25", n)
	}
	res = owner.Get("/members?role=billing")
	wantStatus(t, res, http.StatusOK, "3 members")
	if n := strings.Count(res.Body, `<tr id="member-`); n != 3 {
		t.Fatalf("%d billing rows, want 3", n)
	}
	// Garbage parameters fall back to defaults, never a 500; a NUL is
	// refused at the edge.
	wantStatus(t, owner.Get("/members?role=x&page=x&per_page=-4"), http.StatusOK, "25 members")
	wantStatus(t, owner.Get("/members?role=%00"), http.StatusUnprocessableEntity, "role is not valid text")
}

// TestInvitationBanner shows pending invitations on every page for verified
// emails only, with accept and decline.
func TestInvitationBanner(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "olive@example.com", "Olive", "Acme")
	owner.Post("/members/invitations", url.Values{"email": {"vera@example.com"}, "role": {"admin"}})
	owner.Post("/members/invitations", url.Values{"email": {"uma@example.com"}})

	uma := env.SignUp("uma@example.com", "Uma") // unverified
	// In a personal workspace the page explains there is nobody to invite.
	wantStatus(t, uma.Get("/members"), http.StatusOK, "Your personal workspace is yours alone", "uma@example.com")
	if res := uma.Get("/members"); strings.Contains(res.Body, `id="invite-form"`) {
		t.Fatal("invite form in a personal workspace")
	}
	if res := uma.Get("/"); strings.Contains(res.Body, "invited you to join Acme") {
		t.Fatal("an unverified email sees the invitation")
	}
	vera := env.SignUpVerified("vera@example.com", "Vera")
	res := vera.Get("/profile")
	wantStatus(t, res, http.StatusOK, "Olive invited you to join Acme as Admin.")
	inv, err := env.Store.MyInvitations(t.Context(), accountID(t, env, "vera@example.com"))
	if err != nil || len(inv) != 1 {
		t.Fatalf("my invitations %v %v", inv, err)
	}
	id := strconv.FormatInt(inv[0].ID, 10)
	// Someone else cannot answer it by id.
	res = uma.HTMX(http.MethodPost, "/me/invitations/"+id+"/accept", nil)
	wantStatus(t, res, http.StatusNotFound)
	res = vera.HTMX(http.MethodPost, "/me/invitations/"+id+"/accept", nil)
	if res.Status != http.StatusOK || res.Header.Get("HX-Redirect") != "/" {
		t.Fatalf("banner accept: %d %v", res.Status, res.Header)
	}
	org := orgIDBySlug(t, env, "acme")
	if roleOf(t, env, org, "vera@example.com") != "admin" {
		t.Fatal("vera did not join")
	}
	res = vera.Get("/")
	wantStatus(t, res, http.StatusOK, "Welcome to Acme")
	if strings.Contains(res.Body, "invited you to join Acme") {
		t.Fatal("banner still shows the accepted invitation")
	}
	// Decline from the banner once uma verifies.
	env.VerifyEmail("uma@example.com")
	inv, _ = env.Store.MyInvitations(t.Context(), accountID(t, env, "uma@example.com"))
	if len(inv) != 1 {
		t.Fatalf("uma's invitations after verifying: %d", len(inv))
	}
	res = uma.HTMX(http.MethodPost, "/me/invitations/"+strconv.FormatInt(inv[0].ID, 10)+"/decline", nil)
	wantStatus(t, res, http.StatusOK, "banner-done", "You declined the invitation to join Acme.")
	if roleOf(t, env, org, "uma@example.com") != "" {
		t.Fatal("declined but joined")
	}
}

// TestMembersAPI drives the members and invitations routes of API.md with
// good and bad input.
func TestMembersAPI(t *testing.T) {
	env := webtest.New(t)
	owner, ownerID := env.SignUpAPI("olive@example.com", "Olive")
	r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	other, _ := env.SignUpAPI("sam@example.com", "Sam")
	if r := other.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Other", "slug": "other"}); r.Status != http.StatusCreated {
		t.Fatal(r.Raw)
	}
	want := func(r webtest.APIResponse, status int, code string) {
		t.Helper()
		if r.Status != status || (code != "" && r.ErrorCode() != code) {
			t.Fatalf("status %d code %q, want %d %q: %s", r.Status, r.ErrorCode(), status, code, r.Raw)
		}
		if code != "" && r.ErrorMessage() == "" {
			t.Fatalf("error without a message: %s", r.Raw)
		}
		if code != "" && r.Body["success"] != false {
			t.Fatalf("error envelope without success false: %s", r.Raw)
		}
	}

	// Invitations: bad input.
	want(owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "nope"}), 422, "validation_error")
	want(owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "a@example.com", "role": "wizard"}), 422, "validation_error")
	want(owner.Do(http.MethodPost, "/api/orgs/acme/invitations", `{"email": 5}`), 422, "validation_error")
	want(owner.Do(http.MethodPost, "/api/orgs/acme/invitations", `{"email": "a@example.com", "extra": 1}`), 422, "validation_error")
	want(owner.Do(http.MethodPost, "/api/orgs/other/invitations", map[string]any{"email": "a@example.com"}), 404, "not_found")
	want(owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "olive@example.com"}), 409, "conflict")

	// Create: default role member; 201 {id, email, role, expires_at}.
	r = owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "Ann@Example.com"})
	want(r, 201, "")
	d := r.Data()
	if d["email"] != "ann@example.com" || d["role"] != "member" || d["id"] == nil {
		t.Fatalf("invitation answer %s", r.Raw)
	}
	if exp, err := time.Parse(time.RFC3339, d["expires_at"].(string)); err != nil || exp.Sub(env.Clock.Now()) < 6*24*time.Hour {
		t.Fatalf("expires_at %v %v", d["expires_at"], err)
	}
	annInv := int64(d["id"].(float64))
	r = owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "ann@example.com", "role": "admin"})
	want(r, 409, "conflict")
	if det, _ := r.Body["error"].(map[string]any)["details"].(map[string]any); det["invitation_id"] != float64(annInv) {
		t.Fatalf("pending conflict details %s", r.Raw)
	}
	// Pending list, resend (new expiry), and another org's invitation id.
	r = owner.Do(http.MethodGet, "/api/orgs/acme/invitations", nil)
	if r.Status != 200 || len(r.List()) != 1 {
		t.Fatalf("pending: %s", r.Raw)
	}
	firstLink := env.LinkIn("ann@example.com", "/invitations/")
	env.Clock.Advance(time.Hour)
	r = owner.Do(http.MethodPost, fmt.Sprintf("/api/orgs/acme/invitations/%d/resend", annInv), nil)
	want(r, 200, "")
	if r.Data()["expires_at"] == d["expires_at"] {
		t.Fatal("resend must restart the expiry")
	}
	want(other.Do(http.MethodPost, fmt.Sprintf("/api/orgs/other/invitations/%d/resend", annInv), nil), 404, "not_found")
	want(other.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/other/invitations/%d", annInv), nil), 404, "not_found")
	want(owner.Do(http.MethodPost, "/api/orgs/acme/invitations/abc/resend", nil), 404, "not_found")

	// The invitee: signs up by API (unverified: sees nothing), verifies, accepts.
	ann, annID := env.SignUpAPI("ann@example.com", "Ann")
	r = ann.Do(http.MethodGet, "/api/me/org-invitations", nil)
	if r.Status != 200 || len(r.List()) != 0 {
		t.Fatalf("unverified sees invitations: %s", r.Raw)
	}
	// A stale (rotated) link and an unknown token.
	want(ann.Do(http.MethodPost, "/api/invitations/accept", map[string]any{"token": strings.TrimPrefix(env.Path(firstLink), "/invitations/")}), 409, "conflict")
	want(ann.Do(http.MethodPost, "/api/invitations/accept", map[string]any{"token": "inv_unknown"}), 404, "not_found")
	want(ann.Do(http.MethodPost, "/api/invitations/accept", map[string]any{}), 422, "validation_error")
	env.VerifyEmail("ann@example.com")
	r = ann.Do(http.MethodGet, "/api/me/org-invitations", nil)
	if r.Status != 200 || len(r.List()) != 1 {
		t.Fatalf("verified invitations: %s", r.Raw)
	}
	item := r.List()[0].(map[string]any)
	if org, _ := item["org"].(map[string]any); org["slug"] != "acme" {
		t.Fatalf("invitation lacks its org: %s", r.Raw)
	}
	// Sam cannot accept Ann's invitation by id.
	want(other.Do(http.MethodPost, fmt.Sprintf("/api/me/org-invitations/%d/accept", annInv), nil), 404, "not_found")
	r = ann.Do(http.MethodPost, fmt.Sprintf("/api/me/org-invitations/%d/accept", annInv), nil)
	want(r, 200, "")
	if r.Data()["role"] != "member" || r.Data()["user_id"] != float64(annID) {
		t.Fatalf("membership %s", r.Raw)
	}
	want(ann.Do(http.MethodPost, fmt.Sprintf("/api/me/org-invitations/%d/accept", annInv), nil), 409, "conflict")

	// Members list, pagination, filter, bad params.
	r = owner.Do(http.MethodGet, "/api/orgs/acme/members?per_page=1", nil)
	want(r, 200, "")
	p, _ := r.Body["pagination"].(map[string]any)
	if len(r.List()) != 1 || p["total"] != float64(2) || p["total_pages"] != float64(2) || p["per_page"] != float64(1) {
		t.Fatalf("members page: %s", r.Raw)
	}
	first := r.List()[0].(map[string]any)
	for _, k := range []string{"user_id", "name", "email", "role", "joined_at", "last_active_at"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("member lacks %s: %s", k, r.Raw)
		}
	}
	r = owner.Do(http.MethodGet, "/api/orgs/acme/members?per_page=1000", nil)
	if p, _ := r.Body["pagination"].(map[string]any); p["per_page"] != float64(100) {
		t.Fatalf("per_page not capped: %s", r.Raw)
	}
	r = owner.Do(http.MethodGet, "/api/orgs/acme/members?role=member", nil)
	if len(r.List()) != 1 {
		t.Fatalf("role filter: %s", r.Raw)
	}
	want(owner.Do(http.MethodGet, "/api/orgs/acme/members?role=wizard", nil), 422, "validation_error")
	want(owner.Do(http.MethodGet, "/api/orgs/acme/members?page=zero", nil), 422, "validation_error")
	want(other.Do(http.MethodGet, "/api/orgs/acme/members", nil), 404, "not_found")

	// Role changes: admin granting owner 403; last owner 409; unknown role 422.
	want(owner.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", annID), map[string]any{"role": "admin"}), 200, "")
	want(ann.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", annID), map[string]any{"role": "owner"}), 403, "forbidden")
	want(ann.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", ownerID), map[string]any{"role": "member"}), 403, "forbidden")
	want(owner.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", ownerID), map[string]any{"role": "admin"}), 409, "conflict")
	want(owner.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", annID), map[string]any{"role": "wizard"}), 422, "validation_error")
	want(owner.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", annID), map[string]any{}), 422, "validation_error")
	want(owner.Do(http.MethodPatch, "/api/orgs/acme/members/999999", map[string]any{"role": "admin"}), 404, "not_found")
	want(other.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/members/%d", annID), map[string]any{"role": "member"}), 404, "not_found")
	want(owner.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/acme/members/%d", ownerID), nil), 409, "conflict")

	// Invite at owner: an admin may not.
	want(ann.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "boss@example.com", "role": "owner"}), 403, "forbidden")

	// Transfer ownership: the two memberships.
	want(ann.Do(http.MethodPost, "/api/orgs/acme/transfer-ownership", map[string]any{"user_id": ownerID}), 403, "forbidden")
	want(owner.Do(http.MethodPost, "/api/orgs/acme/transfer-ownership", map[string]any{}), 422, "validation_error")
	r = owner.Do(http.MethodPost, "/api/orgs/acme/transfer-ownership", map[string]any{"user_id": annID})
	want(r, 200, "")
	if no, _ := r.Data()["new_owner"].(map[string]any); no["role"] != "owner" || no["user_id"] != float64(annID) {
		t.Fatalf("transfer answer %s", r.Raw)
	}
	if fo, _ := r.Data()["former_owner"].(map[string]any); fo["role"] != "admin" {
		t.Fatalf("transfer answer %s", r.Raw)
	}

	// Leave (delete yourself) and remove.
	r = owner.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/acme/members/%d", ownerID), nil)
	want(r, 200, "")
	if r.Data()["removed"] != true || r.Data()["user_id"] != float64(ownerID) {
		t.Fatalf("leave answer %s", r.Raw)
	}
	want(owner.Do(http.MethodGet, "/api/orgs/acme/members", nil), 404, "not_found")

	// Decline and cancel.
	r = ann.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "sam@example.com", "role": "billing"})
	want(r, 201, "")
	samInv := int64(r.Data()["id"].(float64))
	env.VerifyEmail("sam@example.com")
	r = other.Do(http.MethodPost, fmt.Sprintf("/api/me/org-invitations/%d/decline", samInv), nil)
	want(r, 200, "")
	if r.Data()["status"] != "declined" {
		t.Fatalf("decline answer %s", r.Raw)
	}
	r = ann.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "zed@example.com"})
	zed := int64(r.Data()["id"].(float64))
	r = ann.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/acme/invitations/%d", zed), nil)
	want(r, 200, "")
	if r.Data()["status"] != "cancelled" {
		t.Fatalf("cancel answer %s", r.Raw)
	}
	want(ann.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/acme/invitations/%d", zed), nil), 409, "conflict")
	want(env.NewAPI("").Do(http.MethodGet, "/api/me/org-invitations", nil), 401, "unauthorized")
}

// TestInvitationPlanLimitAPI enforces team_members (members plus pending).
func TestInvitationPlanLimitAPI(t *testing.T) {
	env := webtest.New(t)
	owner, _ := env.SignUpAPI("olive@example.com", "Olive")
	owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	for i := 0; i < 4; i++ {
		r := owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": fmt.Sprintf("p%d@example.com", i)})
		if r.Status != 201 {
			t.Fatalf("invite %d: %s", i, r.Raw)
		}
	}
	r := owner.Do(http.MethodPost, "/api/orgs/acme/invitations", map[string]any{"email": "p9@example.com"})
	if r.ErrorCode() != "plan_limit" || !strings.Contains(r.ErrorMessage(), "team members") {
		t.Fatalf("over the limit: %d %s", r.Status, r.Raw)
	}
}

// The role menus' billing choice names the teams the member would leave,
// from the page's own list statement (only the listed members' teams) and in
// the row an htmx role change answers with.
func TestMembersRoleMenuNamesTeams(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "olive@example.com", "Olive", "Acme")
	org := orgIDBySlug(t, env, "acme")
	env.SignUpVerified("mia@example.com", "Mia")
	miaID := accountID(t, env, "mia@example.com")
	for _, q := range []string{
		`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`,
		`INSERT INTO teams (org_id, name) SELECT $1, x FROM unnest(ARRAY['Beta', 'Alpha']) x WHERE $2 > 0`,
		`INSERT INTO team_members (team_id, org_id, account_id, role) SELECT id, org_id, $2, 'member' FROM teams WHERE org_id = $1`,
	} {
		if _, err := env.Store.DB().Exec(q, org, miaID); err != nil {
			t.Fatal(err)
		}
	}
	const leave = "They will leave 2 teams: Alpha, Beta."
	// The list renders no role choices (nor anyone's teams): a row links
	// to its role form, which names them.
	rolePath := fmt.Sprintf("/members/%d/role", miaID)
	for _, p := range []string{"/members", "/members?role=member"} {
		res := owner.Get(p)
		wantStatus(t, res, http.StatusOK, `href="`+rolePath+`"`, `data-member-role`)
		if strings.Contains(res.Body, "They will leave") || strings.Contains(res.Body, `<option value="billing" data-consequence`) {
			t.Fatalf("%s renders role choices", p)
		}
	}
	// Without script: the role page, with the form and the confirmation.
	res := owner.Get(rolePath)
	wantStatus(t, res, http.StatusOK, "<html", "Role of Mia", `id="role-select"`, leave, `data-confirm-choice="confirm-role"`, `id="confirm-role"`)
	if strings.Contains(res.Body, `hx-post="`+rolePath+`"`) {
		t.Fatal("the role page's form answers into a row that is not on it")
	}
	// htmx (the page's role dialog): the form alone.
	res = owner.HTMX(http.MethodGet, rolePath, nil)
	wantStatus(t, res, http.StatusOK, `id="role-form"`, leave, `hx-target="#member-`+strconv.FormatInt(miaID, 10)+`"`)
	if strings.Contains(res.Body, "<html") {
		t.Fatal("the role dialog's form came as a whole page")
	}
	res = owner.HTMX(http.MethodPost, rolePath, url.Values{"role": {"admin"}})
	wantStatus(t, res, http.StatusOK, `data-role="admin"`, "Now Admin", `href="`+rolePath+`"`)
	wantStatus(t, owner.Get(rolePath), http.StatusOK, leave)
	// Owners only are listed on this page.
	res = owner.Get("/members?role=owner")
	wantStatus(t, res, http.StatusOK, "1 member")
	if strings.Contains(res.Body, rolePath) {
		t.Fatal("a page without Mia links her role")
	}
}
