package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"guildhall/db/model"
)

const invitationCols = `i.id, i.org_id, o.slug AS org_slug, o.display_name AS org_name, i.email, i.role, i.status,
	i.invited_by, COALESCE(ia.name, '') AS inviter_name, COALESCE(ia.email, '') AS inviter_email,
	i.accepted_by, i.expires_at, i.created_at, i.updated_at`

// invitationFrom looks the org and the inviter up for each invitation
// (LATERAL ... OFFSET 0): joined, a plan could merge the few invitations
// with the whole accounts or orgs index (TestPeopleBehindRowsAreLookedUp).
const invitationFrom = ` FROM invitations i
	CROSS JOIN LATERAL (SELECT * FROM orgs o WHERE o.id = i.org_id OFFSET 0) o
	LEFT JOIN LATERAL (SELECT * FROM accounts ia WHERE ia.id = i.invited_by OFFSET 0) ia ON true `

// invitationTokenPrefix starts every invitation link token.
const invitationTokenPrefix = "inv_"

func invitationTarget(inv model.Invitation) model.Target {
	return model.Target{Kind: "invitation", ID: strconv.FormatInt(inv.ID, 10), Label: inv.Email + " as " + string(inv.Role)}
}

// invitation loads invitation id of org; lock row-locks it (callers hold the
// org lock first).
func (tx *Tx) invitation(orgID, id int64, lock bool) (model.Invitation, error) {
	q := `SELECT ` + invitationCols + invitationFrom + `WHERE i.id = $1 AND i.org_id = $2`
	if lock {
		q += ` FOR UPDATE OF i`
	}
	var inv model.Invitation
	err := tx.GetContext(tx.ctx, &inv, q, id, orgID)
	return inv, notFound(err, "invitation")
}

// CreateInvitation invites email to org at role ("" means member). It
// returns the invitation and the link's secret token, which is shown only in
// the email: the database keeps its SHA-256.
//
// Refusals, in order: not a member (not found); a personal workspace, or a
// role that may not invite (forbidden); a bad email or role (validation); an
// admin inviting an owner (forbidden); an existing member (conflict); a
// pending invitation for the email (conflict, offering resend, with its id in
// the details); the plan's team_members limit, which counts members plus
// pending invitations (plan_limit).
func (s *Store) CreateInvitation(ctx context.Context, actor model.Actor, orgID int64, email, role string) (model.Invitation, string, error) {
	const action = "invitation.created"
	email = model.NormalizeEmail(email)
	var inv model.Invitation
	var token string
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		actorRole, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		tgt := model.Target{Kind: "invitation", Label: email}
		if org.Personal() {
			return tx.Deny(orgID, action, tgt, model.Forbidden("A personal workspace cannot be shared. Create an organization to invite people."))
		}
		if !model.Can(actorRole, model.ActInvite) {
			return tx.Deny(orgID, action, tgt, model.Forbidden("Only owners and admins can invite people to the org."))
		}
		f := model.Fields{}
		if err := model.ValidateEmail(email); err != nil {
			f.Add("email", msgOf(err))
		}
		at, err := model.ParseInviteRole(role)
		if err != nil {
			f.Add("role", msgOf(err))
		}
		if err := f.Err(); err != nil {
			return err
		}
		tgt.Label = email + " as " + string(at)
		if err := model.CanInvite(actorRole, at); err != nil {
			return tx.DenyIf(orgID, action, tgt, err)
		}
		if err := tx.checkNotMember(org, email); err != nil {
			return err
		}
		if err := tx.expireInvitations(orgID); err != nil {
			return err
		}
		var pendingID int64
		err = tx.GetContext(ctx, &pendingID, `SELECT id FROM invitations WHERE org_id = $1 AND email = $2 AND status = 'pending'`, orgID, email)
		if err == nil {
			return pendingConflict(email, pendingID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find pending invitation: %w", err)
		}
		if err := tx.checkSeats(org, 1); err != nil {
			return err
		}
		secret, hash := NewSecret(invitationTokenPrefix)
		var id int64
		err = tx.GetContext(ctx, &id, `INSERT INTO invitations (org_id, email, role, token_hash, status, invited_by, expires_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7) RETURNING id`,
			orgID, email, at, hash, actor.AccountID, tx.Now().Add(model.InvitationTTL), tx.Now())
		if isUniqueViolation(err, "invitations_pending_key") {
			return pendingConflict(email, 0)
		}
		if err != nil {
			return fmt.Errorf("insert invitation: %w", err)
		}
		if inv, err = tx.invitation(orgID, id, false); err != nil {
			return err
		}
		token = secret
		return tx.Record(orgID, action, invitationTarget(inv))
	})
	return inv, token, err
}

func pendingConflict(email string, id int64) error {
	msg := email + " already has a pending invitation. Resend it to send a fresh link."
	e := &model.Error{Code: model.CodeConflict, Message: msg, Fields: map[string]string{"email": msg}}
	if id != 0 {
		e.Details = map[string]any{"invitation_id": id, "resend": true}
	}
	return e
}

// checkNotMember refuses inviting someone who already belongs to org.
func (tx *Tx) checkNotMember(org model.Org, email string) error {
	var member bool
	err := tx.GetContext(tx.ctx, &member, `SELECT EXISTS (SELECT 1 FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.org_id = $1 AND a.email = $2)`, org.ID, email)
	if err != nil {
		return fmt.Errorf("check membership: %w", err)
	}
	if member {
		msg := email + " is already a member of " + org.DisplayName + "."
		return &model.Error{Code: model.CodeConflict, Message: msg, Fields: map[string]string{"email": msg}}
	}
	return nil
}

// expireInvitations marks org's pending invitations whose time ran out as
// expired, so they stop holding a seat and the one-pending-per-email slot.
func (tx *Tx) expireInvitations(orgID int64) error {
	_, err := tx.ExecContext(tx.ctx, `UPDATE invitations SET status = 'expired', updated_at = $2
		WHERE org_id = $1 AND status = 'pending' AND expires_at <= $2`, orgID, tx.Now())
	if err != nil {
		return fmt.Errorf("expire invitations: %w", err)
	}
	return nil
}

// checkSeats checks the plan's team_members limit with adding more people:
// members plus pending invitations plus adding may not exceed it (SPEC 5, 14).
// Callers hold the org lock and have expired stale invitations.
func (tx *Tx) checkSeats(org model.Org, adding int) error {
	var used int
	err := tx.GetContext(tx.ctx, &used, `SELECT
		(SELECT count(*) FROM memberships WHERE org_id = $1) +
		(SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending')`, org.ID)
	if err != nil {
		return fmt.Errorf("count seats: %w", err)
	}
	return model.CheckLimit(model.LimitTeamMembers, used+adding, org.LimitTeamMembers)
}

// PendingInvitations lists org's pending invitations, newest first, for
// owners and admins; ones whose time ran out are included (StateAt says
// expired) so they can be resent.
func (s *Store) PendingInvitations(ctx context.Context, actor model.Actor, orgID int64) ([]model.Invitation, error) {
	role, err := s.RoleIn(ctx, orgID, actor.AccountID)
	if err != nil {
		return nil, err
	}
	if !model.CanSeeInvitations(role) {
		return nil, model.Forbidden("Only owners and admins can see pending invitations.")
	}
	invs := []model.Invitation{}
	err = s.db.SelectContext(ctx, &invs, `SELECT `+invitationCols+invitationFrom+
		`WHERE i.org_id = $1 AND i.status = 'pending' ORDER BY i.created_at DESC, i.id DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return invs, nil
}

// ResendInvitation rotates a pending (or expired) invitation's link and
// restarts its 7 days: the previous link stops working and, when opened, says
// it was replaced. It returns the invitation and the new token.
func (s *Store) ResendInvitation(ctx context.Context, actor model.Actor, orgID, id int64) (model.Invitation, string, error) {
	const action = "invitation.resent"
	var inv model.Invitation
	var token string
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		actorRole, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if inv, err = tx.invitation(orgID, id, true); err != nil {
			return err
		}
		if err := model.CanResendInvitation(actorRole, inv.Role); err != nil {
			return tx.DenyIf(orgID, action, invitationTarget(inv), err)
		}
		switch inv.Status {
		case model.InvitationPending:
		case model.InvitationExpired:
			// Reviving it takes a seat and the email's pending slot again.
			if err := tx.checkNotMember(org, inv.Email); err != nil {
				return err
			}
			if err := tx.expireInvitations(orgID); err != nil {
				return err
			}
			var other bool
			if err := tx.GetContext(ctx, &other, `SELECT EXISTS (SELECT 1 FROM invitations
				WHERE org_id = $1 AND email = $2 AND status = 'pending')`, orgID, inv.Email); err != nil {
				return fmt.Errorf("find pending invitation: %w", err)
			}
			if other {
				return model.Conflict("%s already has a newer pending invitation.", inv.Email)
			}
			if err := tx.checkSeats(org, 1); err != nil {
				return err
			}
		default:
			return model.Conflict("This invitation was already %s, so it cannot be resent. Invite %s again instead.", inv.Status, inv.Email)
		}
		if err := tx.checkNotMember(org, inv.Email); err != nil {
			return err
		}
		secret, hash := NewSecret(invitationTokenPrefix)
		if _, err := tx.ExecContext(ctx, `INSERT INTO invitation_previous_tokens (token_hash, invitation_id, replaced_at)
			SELECT token_hash, id, $2 FROM invitations WHERE id = $1`, id, tx.Now()); err != nil {
			return fmt.Errorf("keep previous link: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invitations SET token_hash = $1, status = 'pending', expires_at = $2, updated_at = $3
			WHERE id = $4`, hash, tx.Now().Add(model.InvitationTTL), tx.Now(), id); err != nil {
			return fmt.Errorf("rotate invitation: %w", err)
		}
		if inv, err = tx.invitation(orgID, id, false); err != nil {
			return err
		}
		token = secret
		return tx.Record(orgID, action, invitationTarget(inv))
	})
	return inv, token, err
}

// CancelInvitation cancels a pending invitation (owners and admins); its link
// then says it was cancelled.
func (s *Store) CancelInvitation(ctx context.Context, actor model.Actor, orgID, id int64) (model.Invitation, error) {
	const action = "invitation.cancelled"
	var inv model.Invitation
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.lockOrg(orgID); err != nil {
			return err
		}
		actorRole, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if inv, err = tx.invitation(orgID, id, true); err != nil {
			return err
		}
		if err := model.CanCancelInvitation(actorRole); err != nil {
			return tx.Deny(orgID, action, invitationTarget(inv), err)
		}
		if inv.Status != model.InvitationPending && inv.Status != model.InvitationExpired {
			return model.Conflict("This invitation was already %s.", inv.Status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'cancelled', updated_at = $1 WHERE id = $2`, tx.Now(), id); err != nil {
			return fmt.Errorf("cancel invitation: %w", err)
		}
		inv.Status, inv.UpdatedAt = model.InvitationCancelled, tx.Now()
		return tx.Record(orgID, action, invitationTarget(inv))
	})
	return inv, err
}

// InvitationByToken resolves an emailed link for the link page: the
// invitation with its org and inviter, and its state (valid, expired,
// accepted, declined, cancelled, rotated by a resend, or unknown). Only a
// database failure is an error.
func (s *Store) InvitationByToken(ctx context.Context, token string) (model.InvitationLink, error) {
	var link model.InvitationLink
	err := s.InTx(ctx, model.Actor{}, func(tx *Tx) error {
		var err error
		link, err = tx.invitationByToken(token)
		return err
	})
	return link, err
}

func (tx *Tx) invitationByToken(token string) (model.InvitationLink, error) {
	if token == "" {
		return model.InvitationLink{State: model.LinkUnknown}, nil
	}
	hash := HashSecret(token)
	var inv model.Invitation
	err := tx.GetContext(tx.ctx, &inv, `SELECT `+invitationCols+invitationFrom+`WHERE i.token_hash = $1`, hash)
	if err == nil {
		return model.InvitationLink{Invitation: inv, State: inv.StateAt(tx.Now())}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return model.InvitationLink{}, fmt.Errorf("load invitation: %w", err)
	}
	err = tx.GetContext(tx.ctx, &inv, `SELECT `+invitationCols+invitationFrom+`
		JOIN invitation_previous_tokens p ON p.invitation_id = i.id WHERE p.token_hash = $1`, hash)
	if err == nil {
		return model.InvitationLink{Invitation: inv, State: model.LinkRotated}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return model.InvitationLink{}, fmt.Errorf("load invitation: %w", err)
	}
	return model.InvitationLink{State: model.LinkUnknown}, nil
}

// invitationRef names the invitation an invitee answers: by the emailed
// link's token, or by id from the banner and /api/me/org-invitations.
type invitationRef struct {
	token string
	id    int64
}

// answerable finds the invitation ref names, takes the org lock and the
// invitation's row lock, and checks that it is still open and that the
// transaction's actor is its invitee (the invited email, verified). By id,
// an invitation for someone else is simply not found.
func (tx *Tx) answerable(ref invitationRef, action string) (model.Invitation, model.Account, error) {
	acc, err := tx.accountByID(tx.actor.AccountID)
	if err != nil {
		return model.Invitation{}, acc, err
	}
	var inv model.Invitation
	if ref.token != "" {
		link, err := tx.invitationByToken(ref.token)
		if err != nil {
			return inv, acc, err
		}
		if link.State == model.LinkUnknown || link.State == model.LinkRotated {
			return inv, acc, model.StateError(link.State, link.Invitation)
		}
		inv = link.Invitation
	} else {
		err := tx.GetContext(tx.ctx, &inv, `SELECT `+invitationCols+invitationFrom+`WHERE i.id = $1`, ref.id)
		if err != nil {
			return inv, acc, notFound(err, "invitation")
		}
		if inv.Email != acc.Email || !acc.Verified() {
			return model.Invitation{}, acc, model.NotFound("invitation")
		}
	}
	if _, err := tx.lockOrg(inv.OrgID); err != nil {
		return inv, acc, err
	}
	if inv, err = tx.invitation(inv.OrgID, inv.ID, true); err != nil {
		return inv, acc, err
	}
	if err := model.StateError(inv.StateAt(tx.Now()), inv); err != nil {
		return inv, acc, err
	}
	if err := model.CheckInvitee(acc.Email, acc.Verified(), inv.Email); err != nil {
		return inv, acc, tx.Deny(inv.OrgID, action, invitationTarget(inv), err)
	}
	return inv, acc, nil
}

// accept joins the invitee to the invitation's org at its role.
func (tx *Tx) accept(inv model.Invitation, acc model.Account) (model.MemberRow, error) {
	if _, err := tx.roleIn(inv.OrgID, acc.ID); err == nil {
		return model.MemberRow{}, model.Conflict("You are already a member of %s.", inv.OrgName)
	} else if !errors.Is(err, model.ErrNotFound) {
		return model.MemberRow{}, err
	}
	if err := tx.insertMembership(inv.OrgID, acc.ID, inv.Role); err != nil {
		return model.MemberRow{}, err
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE invitations SET status = 'accepted', accepted_by = $1, updated_at = $2 WHERE id = $3`,
		acc.ID, tx.Now(), inv.ID); err != nil {
		return model.MemberRow{}, fmt.Errorf("accept invitation: %w", err)
	}
	// Answering an invitation is activity: the members list shows it.
	if _, err := tx.ExecContext(tx.ctx, `UPDATE accounts SET last_active_at = GREATEST(last_active_at, $1) WHERE id = $2`,
		tx.Now(), acc.ID); err != nil {
		return model.MemberRow{}, fmt.Errorf("mark activity: %w", err)
	}
	if err := tx.Record(inv.OrgID, "invitation.accepted", invitationTarget(inv)); err != nil {
		return model.MemberRow{}, err
	}
	return tx.memberRow(inv.OrgID, acc.ID)
}

func (s *Store) acceptRef(ctx context.Context, actor model.Actor, ref invitationRef) (model.MemberRow, error) {
	var m model.MemberRow
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		inv, acc, err := tx.answerable(ref, "invitation.accepted")
		if err != nil {
			return err
		}
		m, err = tx.accept(inv, acc)
		return err
	})
	return m, err
}

// AcceptInvitation accepts the invitation of an emailed link's token as the
// actor, whose verified email must be the invited one; it returns the new
// membership.
func (s *Store) AcceptInvitation(ctx context.Context, actor model.Actor, token string) (model.MemberRow, error) {
	return s.acceptRef(ctx, actor, invitationRef{token: token})
}

// AcceptInvitationByID accepts one of the actor's own pending invitations.
func (s *Store) AcceptInvitationByID(ctx context.Context, actor model.Actor, id int64) (model.MemberRow, error) {
	return s.acceptRef(ctx, actor, invitationRef{id: id})
}

func (s *Store) declineRef(ctx context.Context, actor model.Actor, ref invitationRef) (model.Invitation, error) {
	var out model.Invitation
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		inv, _, err := tx.answerable(ref, "invitation.declined")
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'declined', updated_at = $1 WHERE id = $2`, tx.Now(), inv.ID); err != nil {
			return fmt.Errorf("decline invitation: %w", err)
		}
		inv.Status, inv.UpdatedAt = model.InvitationDeclined, tx.Now()
		out = inv
		return tx.Record(inv.OrgID, "invitation.declined", invitationTarget(inv))
	})
	return out, err
}

// DeclineInvitation declines the invitation of an emailed link's token.
func (s *Store) DeclineInvitation(ctx context.Context, actor model.Actor, token string) (model.Invitation, error) {
	return s.declineRef(ctx, actor, invitationRef{token: token})
}

// DeclineInvitationByID declines one of the actor's own pending invitations.
func (s *Store) DeclineInvitationByID(ctx context.Context, actor model.Actor, id int64) (model.Invitation, error) {
	return s.declineRef(ctx, actor, invitationRef{id: id})
}

// MyInvitations lists the pending, unexpired invitations for the account's
// verified email (none while it is unverified), newest first, with org and
// inviter names: the banner and GET /api/me/org-invitations.
func (s *Store) MyInvitations(ctx context.Context, accountID int64) ([]model.Invitation, error) {
	invs := []model.Invitation{}
	err := s.db.SelectContext(ctx, &invs, `SELECT `+invitationCols+invitationFrom+`
		JOIN accounts me ON me.id = $1 AND me.email = i.email AND me.email_verified_at IS NOT NULL
		WHERE i.status = 'pending' AND i.expires_at > $2
		  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = i.org_id AND m.account_id = $1)
		ORDER BY i.created_at DESC, i.id DESC`, accountID, s.Now())
	if err != nil {
		return nil, fmt.Errorf("list my invitations: %w", err)
	}
	return invs, nil
}

// SignupWithInvitation creates an account for the invited email from an
// emailed link and joins the org, in one transaction: the link proves the
// email, so the account starts verified. The invitation must still be open.
func (s *Store) SignupWithInvitation(ctx context.Context, actor model.Actor, token, name, password string) (model.Account, model.MemberRow, error) {
	var acc model.Account
	var m model.MemberRow
	// Validate name and password before touching the link (the email comes from it).
	in, hash, err := s.prepareSignup(SignupInput{Email: "invitee@example.com", Name: name, Password: password, VerifiedEmail: true})
	if err != nil {
		return acc, m, err
	}
	err = s.InTx(ctx, actor, func(tx *Tx) error {
		link, err := tx.invitationByToken(token)
		if err != nil {
			return err
		}
		if err := model.StateError(link.State, link.Invitation); err != nil {
			return err
		}
		if _, err := tx.lockOrg(link.Invitation.OrgID); err != nil {
			return err
		}
		inv, err := tx.invitation(link.Invitation.OrgID, link.Invitation.ID, true)
		if err != nil {
			return err
		}
		if err := model.StateError(inv.StateAt(tx.Now()), inv); err != nil {
			return err
		}
		in.Email = inv.Email
		if acc, err = tx.signup(in, hash); err != nil {
			return err
		}
		m, err = tx.accept(inv, acc)
		return err
	})
	return acc, m, err
}

// VerifyEmailByInvitation marks the actor's email verified when token is a
// valid invitation to that very address: the emailed link proves the
// mailbox, as a verification link would. It reports whether it verified
// (false when the link is not valid, or for another address, or the email is
// verified already).
func (s *Store) VerifyEmailByInvitation(ctx context.Context, actor model.Actor, token string) (bool, error) {
	verified := false
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		link, err := tx.invitationByToken(token)
		if err != nil || link.State != model.LinkValid {
			return err
		}
		res, err := tx.ExecContext(tx.ctx, `UPDATE accounts SET email_verified_at = $1
			WHERE id = $2 AND email = $3 AND email_verified_at IS NULL`, tx.Now(), actor.AccountID, link.Invitation.Email)
		if err != nil {
			return fmt.Errorf("verify email by invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		acc, err := tx.accountByID(actor.AccountID)
		if err != nil {
			return err
		}
		verified = true
		return tx.Record(acc.PersonalOrgID, "account.email_verified", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
	})
	return verified, err
}
