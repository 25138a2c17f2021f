package db

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db/model"
)

func TestCreateInvitation(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	admin := f.account("adam@example.com")
	member := f.account("mia@example.com")
	stranger := f.account("stranger@example.com")
	org := f.org(owner, "Acme")
	f.join(org, admin, model.RoleAdmin)
	f.join(org, member, model.RoleMember)

	inv, token, err := f.s.CreateInvitation(f.ctx, admin, org, "  New.Person@Example.COM ", "")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Email != "new.person@example.com" || inv.Role != model.RoleMember || inv.Status != model.InvitationPending {
		t.Fatalf("invitation %+v", inv)
	}
	if !inv.ExpiresAt.Equal(f.clock().Add(model.InvitationTTL)) {
		t.Errorf("expires %v, want 7 days from now", inv.ExpiresAt)
	}
	if inv.OrgName != "Acme" || inv.InviterName != "Adam" || inv.InviterEmail != admin.Email {
		t.Errorf("names: %+v", inv)
	}
	if !strings.HasPrefix(token, "inv_") || len(token) < 40 {
		t.Errorf("token %q", token)
	}
	// Only the SHA-256 of the token is stored.
	var stored string
	if err := f.s.DB().GetContext(f.ctx, &stored, `SELECT token_hash FROM invitations WHERE id = $1`, inv.ID); err != nil {
		t.Fatal(err)
	}
	if stored != HashSecret(token) || strings.Contains(stored, token) {
		t.Errorf("stored %q is not the token's hash", stored)
	}
	ev := f.wantEvent(org, "invitation.created", model.OutcomeSuccess, admin)
	if ev.TargetKind != "invitation" || !strings.Contains(ev.TargetLabel, inv.Email) {
		t.Errorf("event %+v", ev)
	}

	// Inviting again while pending: conflict offering resend, with the id.
	_, _, err = f.s.CreateInvitation(f.ctx, owner, org, "new.person@example.com", "admin")
	e := wantErrCode(t, err, model.CodeConflict)
	if !strings.Contains(strings.ToLower(e.Message), "resend") || e.Fields["email"] == "" {
		t.Errorf("pending conflict %+v", e)
	}
	if d, _ := e.Details.(map[string]any); d["invitation_id"] != inv.ID {
		t.Errorf("details %v, want invitation_id %d", e.Details, inv.ID)
	}
	// Already a member: conflict.
	_, _, err = f.s.CreateInvitation(f.ctx, owner, org, "MIA@example.com", "admin")
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Message, "already a member") {
		t.Errorf("member conflict %q", e.Message)
	}
	// Bad input: both fields at once.
	_, _, err = f.s.CreateInvitation(f.ctx, owner, org, "not-an-email", "wizard")
	e = wantErrCode(t, err, model.CodeValidation)
	if e.Fields["email"] == "" || e.Fields["role"] == "" {
		t.Errorf("want email and role field errors: %v", e.Fields)
	}
	_, _, err = f.s.CreateInvitation(f.ctx, owner, org, "", "member")
	wantErrCode(t, err, model.CodeValidation)
	// Admin inviting an owner: forbidden and audited; owner may.
	_, _, err = f.s.CreateInvitation(f.ctx, admin, org, "boss@example.com", "owner")
	wantErrCode(t, err, model.CodeForbidden)
	f.wantEvent(org, "invitation.created", model.OutcomeDenied, admin)
	if _, _, err := f.s.CreateInvitation(f.ctx, owner, org, "boss@example.com", "owner"); err != nil {
		t.Fatal(err)
	}
	// Members cannot invite; strangers do not see the org.
	_, _, err = f.s.CreateInvitation(f.ctx, member, org, "x@example.com", "member")
	wantErrCode(t, err, model.CodeForbidden)
	_, _, err = f.s.CreateInvitation(f.ctx, stranger, org, "x@example.com", "member")
	wantErrCode(t, err, model.CodeNotFound)
	// Personal workspaces are never shared.
	acc, _ := f.s.AccountByID(f.ctx, owner.AccountID)
	_, _, err = f.s.CreateInvitation(f.ctx, owner, acc.PersonalOrgID, "x@example.com", "member")
	wantErrCode(t, err, model.CodeForbidden)

	// Pending list: admins only, newest first.
	list, err := f.s.PendingInvitations(f.ctx, admin, org)
	if err != nil || len(list) != 2 || list[0].Email != "boss@example.com" {
		t.Fatalf("pending list %+v, %v", list, err)
	}
	_, err = f.s.PendingInvitations(f.ctx, member, org)
	wantErrCode(t, err, model.CodeForbidden)
	_, err = f.s.PendingInvitations(f.ctx, stranger, org)
	wantErrCode(t, err, model.CodeNotFound)
}

func TestInvitationPlanLimit(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	org := f.org(owner, "Acme") // free plan: 5 team members
	var ids []int64
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
		inv, _, err := f.s.CreateInvitation(f.ctx, owner, org, e, "member")
		if err != nil {
			t.Fatalf("invite %s: %v", e, err)
		}
		ids = append(ids, inv.ID)
	}
	// 1 member + 4 pending = 5: a sixth seat is over the limit.
	_, _, err := f.s.CreateInvitation(f.ctx, owner, org, "e@example.com", "member")
	e := wantErrCode(t, err, model.CodePlanLimit)
	if !strings.Contains(e.Message, "team members") {
		t.Errorf("limit message %q", e.Message)
	}
	// Cancelling one frees a seat.
	if _, err := f.s.CancelInvitation(f.ctx, owner, org, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.CreateInvitation(f.ctx, owner, org, "e@example.com", "member"); err != nil {
		t.Fatal(err)
	}
	// Expired invitations stop holding seats.
	f.advance(model.InvitationTTL + time.Minute)
	if _, _, err := f.s.CreateInvitation(f.ctx, owner, org, "f@example.com", "member"); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	var expired int
	if err := f.s.DB().GetContext(f.ctx, &expired, `SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'expired'`, org); err != nil {
		t.Fatal(err)
	}
	if expired != 4 {
		t.Errorf("%d invitations marked expired, want 4", expired)
	}
	// A bigger limit lets more in.
	if _, err := f.s.DB().ExecContext(f.ctx, `UPDATE orgs SET limit_team_members = 50 WHERE id = $1`, org); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.CreateInvitation(f.ctx, owner, org, "g@example.com", "member"); err != nil {
		t.Fatal(err)
	}
}

func TestInvitationExpiryResendAndLinks(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	admin := f.account("adam@example.com")
	invitee := f.account("ivy@example.com")
	org := f.org(owner, "Acme")
	f.join(org, admin, model.RoleAdmin)

	inv, tok1, err := f.s.CreateInvitation(f.ctx, owner, org, invitee.Email, "billing")
	if err != nil {
		t.Fatal(err)
	}
	link, err := f.s.InvitationByToken(f.ctx, tok1)
	if err != nil || link.State != model.LinkValid || link.Invitation.ID != inv.ID || link.Invitation.OrgName != "Acme" {
		t.Fatalf("fresh link: %+v, %v", link, err)
	}
	// Just before expiry it works; at 7 days it is expired.
	f.advance(model.InvitationTTL - time.Second)
	if link, _ := f.s.InvitationByToken(f.ctx, tok1); link.State != model.LinkValid {
		t.Fatalf("before expiry: %s", link.State)
	}
	f.advance(time.Second)
	if link, _ := f.s.InvitationByToken(f.ctx, tok1); link.State != model.LinkExpired {
		t.Fatalf("at expiry: %s", link.State)
	}
	_, err = f.s.AcceptInvitation(f.ctx, invitee, tok1)
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Message, "expired") {
		t.Errorf("expired message %q", e.Message)
	}
	if mine, _ := f.s.MyInvitations(f.ctx, invitee.AccountID); len(mine) != 0 {
		t.Errorf("expired invitation in the banner: %+v", mine)
	}

	// Resend rotates the link and restarts the 7 days. An admin may resend a
	// billing invitation.
	re, tok2, err := f.s.ResendInvitation(f.ctx, admin, org, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok1 || !re.ExpiresAt.Equal(f.clock().Add(model.InvitationTTL)) || re.Status != model.InvitationPending {
		t.Fatalf("resent %+v", re)
	}
	f.wantEvent(org, "invitation.resent", model.OutcomeSuccess, admin)
	if link, _ := f.s.InvitationByToken(f.ctx, tok1); link.State != model.LinkRotated || link.Invitation.OrgName != "Acme" {
		t.Fatalf("old link after resend: %+v", link)
	}
	_, err = f.s.AcceptInvitation(f.ctx, invitee, tok1)
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Message, "newer") {
		t.Errorf("rotated message %q", e.Message)
	}
	if link, _ := f.s.InvitationByToken(f.ctx, tok2); link.State != model.LinkValid {
		t.Fatalf("new link: %s", link.State)
	}
	// Unknown and empty links.
	for _, tok := range []string{"", "inv_nope", tok1 + "x"} {
		if link, err := f.s.InvitationByToken(f.ctx, tok); err != nil || link.State != model.LinkUnknown {
			t.Errorf("link %q: %s, %v", tok, link.State, err)
		}
		_, err := f.s.AcceptInvitation(f.ctx, invitee, tok)
		wantErrCode(t, err, model.CodeNotFound)
	}
	// Resend of another org's invitation id: not found.
	other := f.org(invitee, "Other")
	_, _, err = f.s.ResendInvitation(f.ctx, invitee, other, inv.ID)
	wantErrCode(t, err, model.CodeNotFound)

	// Accept with the new link: membership at the invited role.
	m, err := f.s.AcceptInvitation(f.ctx, invitee, tok2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != model.RoleBilling || m.OrgID != org || f.role(org, invitee) != model.RoleBilling {
		t.Fatalf("membership %+v", m)
	}
	f.wantEvent(org, "invitation.accepted", model.OutcomeSuccess, invitee)
	if link, _ := f.s.InvitationByToken(f.ctx, tok2); link.State != model.LinkAccepted {
		t.Fatalf("used link: %s", link.State)
	}
	_, err = f.s.AcceptInvitation(f.ctx, invitee, tok2)
	wantErrCode(t, err, model.CodeConflict)
	// Used invitations are neither resent nor cancelled.
	_, _, err = f.s.ResendInvitation(f.ctx, owner, org, inv.ID)
	wantErrCode(t, err, model.CodeConflict)
	_, err = f.s.CancelInvitation(f.ctx, owner, org, inv.ID)
	wantErrCode(t, err, model.CodeConflict)
}

func TestCancelInvitation(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	admin := f.account("adam@example.com")
	member := f.account("mia@example.com")
	invitee := f.account("ivy@example.com")
	org := f.org(owner, "Acme")
	f.join(org, admin, model.RoleAdmin)
	f.join(org, member, model.RoleMember)
	inv, tok, err := f.s.CreateInvitation(f.ctx, owner, org, invitee.Email, "owner")
	if err != nil {
		t.Fatal(err)
	}
	// An admin cannot resend an owner invitation (only owners invite owners).
	_, _, err = f.s.ResendInvitation(f.ctx, admin, org, inv.ID)
	wantErrCode(t, err, model.CodeForbidden)
	_, err = f.s.CancelInvitation(f.ctx, member, org, inv.ID)
	wantErrCode(t, err, model.CodeForbidden)
	f.wantEvent(org, "invitation.cancelled", model.OutcomeDenied, member)
	c, err := f.s.CancelInvitation(f.ctx, admin, org, inv.ID)
	if err != nil || c.Status != model.InvitationCancelled {
		t.Fatalf("cancel: %+v, %v", c, err)
	}
	f.wantEvent(org, "invitation.cancelled", model.OutcomeSuccess, admin)
	if link, _ := f.s.InvitationByToken(f.ctx, tok); link.State != model.LinkCancelled {
		t.Fatalf("cancelled link: %s", link.State)
	}
	_, err = f.s.AcceptInvitation(f.ctx, invitee, tok)
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Message, "cancelled") {
		t.Errorf("cancelled message %q", e.Message)
	}
	if f.role(org, invitee) != "" {
		t.Fatal("joined through a cancelled invitation")
	}
	// The email can be invited again.
	if _, _, err := f.s.CreateInvitation(f.ctx, owner, org, invitee.Email, "member"); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptAndDeclineAsInvitee(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	wrong := f.account("wrong@example.com")
	unverified := f.account("unverified.ivy@example.com")
	ivy := f.account("ivy@example.com")
	org := f.org(owner, "Acme")

	inv, tok, err := f.s.CreateInvitation(f.ctx, owner, org, ivy.Email, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// Signed in as someone else: forbidden, naming the invited email; audited.
	_, err = f.s.AcceptInvitation(f.ctx, wrong, tok)
	if e := wantErrCode(t, err, model.CodeForbidden); !strings.Contains(e.Message, "ivy@example.com") {
		t.Errorf("wrong account message %q", e.Message)
	}
	f.wantEvent(org, "invitation.accepted", model.OutcomeDenied, wrong)
	_, err = f.s.DeclineInvitation(f.ctx, wrong, tok)
	wantErrCode(t, err, model.CodeForbidden)
	// By id, someone else's invitation is not even found.
	_, err = f.s.AcceptInvitationByID(f.ctx, wrong, inv.ID)
	wantErrCode(t, err, model.CodeNotFound)
	_, err = f.s.DeclineInvitationByID(f.ctx, wrong, inv.ID)
	wantErrCode(t, err, model.CodeNotFound)

	// The banner list: the invitee sees it, with org and inviter names.
	mine, err := f.s.MyInvitations(f.ctx, ivy.AccountID)
	if err != nil || len(mine) != 1 || mine[0].ID != inv.ID || mine[0].OrgName != "Acme" || mine[0].InviterName != "Olive" {
		t.Fatalf("my invitations %+v, %v", mine, err)
	}
	if other, _ := f.s.MyInvitations(f.ctx, wrong.AccountID); len(other) != 0 {
		t.Errorf("someone else sees %+v", other)
	}

	m, err := f.s.AcceptInvitationByID(f.ctx, ivy, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != model.RoleAdmin || m.Email != ivy.Email || f.role(org, ivy) != model.RoleAdmin {
		t.Fatalf("membership %+v", m)
	}
	f.wantEvent(org, "invitation.accepted", model.OutcomeSuccess, ivy)
	if mine, _ := f.s.MyInvitations(f.ctx, ivy.AccountID); len(mine) != 0 {
		t.Errorf("accepted invitation still listed")
	}

	// An unverified email sees no invitations and cannot accept by link.
	uinv, utok, err := f.s.CreateInvitation(f.ctx, owner, org, unverified.Email, "member")
	if err != nil {
		t.Fatal(err)
	}
	if mine, _ := f.s.MyInvitations(f.ctx, unverified.AccountID); len(mine) != 0 {
		t.Errorf("unverified email sees %+v", mine)
	}
	_, err = f.s.AcceptInvitation(f.ctx, unverified, utok)
	if e := wantErrCode(t, err, model.CodeForbidden); !strings.Contains(e.Message, "Verify") {
		t.Errorf("unverified message %q", e.Message)
	}
	_, err = f.s.AcceptInvitationByID(f.ctx, unverified, uinv.ID)
	wantErrCode(t, err, model.CodeNotFound)
	// After verifying, the invitation appears and resolves.
	if _, err := f.s.DB().ExecContext(f.ctx, `UPDATE accounts SET email_verified_at = now() WHERE id = $1`, unverified.AccountID); err != nil {
		t.Fatal(err)
	}
	if mine, _ := f.s.MyInvitations(f.ctx, unverified.AccountID); len(mine) != 1 {
		t.Fatalf("verified email sees %d invitations", len(mine))
	}
	d, err := f.s.DeclineInvitationByID(f.ctx, unverified, uinv.ID)
	if err != nil || d.Status != model.InvitationDeclined {
		t.Fatalf("decline: %+v, %v", d, err)
	}
	f.wantEvent(org, "invitation.declined", model.OutcomeSuccess, unverified)
	if f.role(org, unverified) != "" {
		t.Fatal("declined but joined")
	}
	if link, _ := f.s.InvitationByToken(f.ctx, utok); link.State != model.LinkDeclined {
		t.Fatalf("declined link: %s", link.State)
	}
	_, err = f.s.AcceptInvitation(f.ctx, unverified, utok)
	wantErrCode(t, err, model.CodeConflict)

	// Already a member (joined another way while the invitation was pending).
	late := f.account("late@example.com")
	_, ltok, err := f.s.CreateInvitation(f.ctx, owner, org, late.Email, "member")
	if err != nil {
		t.Fatal(err)
	}
	f.join(org, late, model.RoleBilling)
	_, err = f.s.AcceptInvitation(f.ctx, late, ltok)
	wantErrCode(t, err, model.CodeConflict)
	if f.role(org, late) != model.RoleBilling {
		t.Fatal("role changed by a conflicting accept")
	}
}

func TestSignupWithInvitation(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	org := f.org(owner, "Acme")
	_, tok, err := f.s.CreateInvitation(f.ctx, owner, org, "Newbie@Example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	// Bad input: field errors, nothing created, link still valid.
	_, _, err = f.s.SignupWithInvitation(f.ctx, model.Actor{}, tok, "", "short")
	e := wantErrCode(t, err, model.CodeValidation)
	if e.Fields["name"] == "" || e.Fields["password"] == "" {
		t.Errorf("fields %v", e.Fields)
	}
	if _, err := f.s.AccountByEmail(f.ctx, "newbie@example.com"); !strings.Contains(err.Error(), "not found") {
		t.Fatalf("account created on bad input: %v", err)
	}

	acc, m, err := f.s.SignupWithInvitation(f.ctx, model.Actor{IP: "10.0.0.1"}, tok, "Newbie", "a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if acc.Email != "newbie@example.com" || !acc.Verified() || acc.PersonalOrgID == 0 {
		t.Fatalf("account %+v", acc)
	}
	if m.Role != model.RoleAdmin || m.AccountID != acc.ID || m.OrgID != org {
		t.Fatalf("membership %+v", m)
	}
	f.wantEvent(org, "invitation.accepted", model.OutcomeSuccess, model.Actor{AccountID: acc.ID, Email: acc.Email})
	if _, err := f.s.Authenticate(f.ctx, "newbie@example.com", "a long enough password"); err != nil {
		t.Fatalf("cannot sign in: %v", err)
	}
	// The link is used now.
	_, _, err = f.s.SignupWithInvitation(f.ctx, model.Actor{}, tok, "Again", "a long enough password")
	wantErrCode(t, err, model.CodeConflict)
	_, _, err = f.s.SignupWithInvitation(f.ctx, model.Actor{}, "inv_unknown", "Again", "a long enough password")
	wantErrCode(t, err, model.CodeNotFound)

	// An email that already has an account must sign in instead; nothing joins.
	existing := f.account("exists@example.com")
	_, etok, err := f.s.CreateInvitation(f.ctx, owner, org, existing.Email, "member")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.s.SignupWithInvitation(f.ctx, model.Actor{}, etok, "Dup", "a long enough password")
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Fields["email"], "Sign in") {
		t.Errorf("existing account: %v", e)
	}
	if f.role(org, existing) != "" {
		t.Fatal("joined through a failed sign-up")
	}
	// Expired link: no account.
	_, xtok, err := f.s.CreateInvitation(f.ctx, owner, org, "late@example.com", "member")
	if err != nil {
		t.Fatal(err)
	}
	f.advance(model.InvitationTTL)
	_, _, err = f.s.SignupWithInvitation(f.ctx, model.Actor{}, xtok, "Late", "a long enough password")
	wantErrCode(t, err, model.CodeConflict)
	if _, err := f.s.AccountByEmail(f.ctx, "late@example.com"); err == nil {
		t.Fatal("account created from an expired link")
	}
}

// TestInvitationSeatsUnderConcurrency: many owners inviting at once never
// take more seats than the plan's team_members, and every refusal is a clean
// plan_limit.
func TestInvitationSeatsUnderConcurrency(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	org := f.org(owner, "Acme") // free plan: 5 team members, 1 used
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := f.s.CreateInvitation(f.ctx, owner, org, fmt.Sprintf("p%d@example.com", i), "member")
			if err != nil && model.CodeOf(err) != model.CodePlanLimit {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected error %v", err)
	}
	var pending int
	if err := f.s.DB().GetContext(f.ctx, &pending, `SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending'`, org); err != nil {
		t.Fatal(err)
	}
	if pending != 4 {
		t.Errorf("%d pending invitations, want 4 (5 seats, 1 member)", pending)
	}
}
