package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"guildhall/db/model"
)

// Member changes keep one lock order so they never deadlock each other: first
// the org row (lockOrg), then membership and invitation rows. Every
// change that can add, remove or demote an owner takes the org lock, so the
// owner count read under it is exact (SPEC 2: an org always keeps an owner).

// memberCols reads a member; last active is the latest of the account's
// recorded activity, its sessions and its tokens' use.
const memberCols = `m.org_id, m.account_id, a.name, a.email, m.role, m.created_at,
	GREATEST(a.last_active_at,
		(SELECT max(s.last_seen_at) FROM sessions s WHERE s.account_id = a.id),
		(SELECT max(t.last_used_at) FROM api_tokens t WHERE t.account_id = a.id)) AS last_active_at,
	` + hasTwoFactorA + ` AS two_factor`

// memberOrder lists owners first, then admins, members, billing; by name within.
const memberOrder = `CASE m.role WHEN 'owner' THEN 1 WHEN 'admin' THEN 2 WHEN 'member' THEN 3 ELSE 4 END, lower(a.name), a.id`

func memberTarget(m model.MemberRow) model.Target {
	return model.Target{Kind: "member", ID: strconv.FormatInt(m.AccountID, 10), Label: m.Email}
}

// roleIn is the account's role in org inside the transaction; not a member is
// not found (so another org's ids answer 404).
func (tx *Tx) roleIn(orgID, accountID int64) (model.Role, error) {
	var r model.Role
	err := tx.GetContext(tx.ctx, &r, `SELECT role FROM memberships WHERE org_id = $1 AND account_id = $2`, orgID, accountID)
	return r, notFound(err, "organization")
}

// memberRow loads one member of org with a row lock.
func (tx *Tx) memberRow(orgID, accountID int64) (model.MemberRow, error) {
	var m model.MemberRow
	err := tx.GetContext(tx.ctx, &m, `SELECT `+memberCols+` FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.org_id = $1 AND m.account_id = $2 FOR UPDATE OF m`, orgID, accountID)
	return m, notFound(err, "Member")
}

// countOwners counts org's owners; callers hold lockOrg.
func (tx *Tx) countOwners(orgID int64) (int, error) {
	var n int
	if err := tx.GetContext(tx.ctx, &n, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, orgID); err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

// Members lists an org's members, owners first, optionally only those with
// role, one page at a time (per_page default 20, at most 100). Any member may
// list; anyone else gets not found.
func (s *Store) Members(ctx context.Context, actor model.Actor, orgID int64, role string, page, perPage int) ([]model.MemberRow, int, error) {
	if _, err := s.RoleIn(ctx, orgID, actor.AccountID); err != nil {
		return nil, 0, err
	}
	var filter model.Role
	if strings.TrimSpace(role) != "" {
		r, err := model.ParseRole(role)
		if err != nil {
			return nil, 0, err
		}
		filter = r
	}
	page, perPage = model.MemberPaging(page, perPage)
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM memberships m
		WHERE m.org_id = $1 AND ($2 = '' OR m.role = $2)`, orgID, string(filter)); err != nil {
		return nil, 0, fmt.Errorf("count members: %w", err)
	}
	rows := []model.MemberRow{}
	// The page is cut first on the cheap sort columns; last active (two
	// subqueries per row) is worked out for its rows only, not for every row
	// the OFFSET skips (9,600 of them on page 500 of a large org).
	err := s.db.SelectContext(ctx, &rows, `SELECT `+memberCols+` FROM (
			SELECT m.account_id FROM memberships m JOIN accounts a ON a.id = m.account_id
			WHERE m.org_id = $1 AND ($2 = '' OR m.role = $2)
			ORDER BY `+memberOrder+` LIMIT $3 OFFSET $4) p
		JOIN memberships m ON m.org_id = $1 AND m.account_id = p.account_id
		JOIN accounts a ON a.id = m.account_id
		ORDER BY `+memberOrder, orgID, string(filter), perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, fmt.Errorf("list members: %w", err)
	}
	return rows, total, nil
}

// Member loads one member of org as seen by actor (any member may look).
func (s *Store) Member(ctx context.Context, actor model.Actor, orgID, userID int64) (model.MemberRow, error) {
	if _, err := s.RoleIn(ctx, orgID, actor.AccountID); err != nil {
		return model.MemberRow{}, err
	}
	var m model.MemberRow
	err := s.db.GetContext(ctx, &m, `SELECT `+memberCols+` FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.org_id = $1 AND m.account_id = $2`, orgID, userID)
	return m, notFound(err, "Member")
}

// OwnerCount counts an org's owners, for pages that hide the actions the
// last-owner rule would refuse.
func (s *Store) OwnerCount(ctx context.Context, orgID int64) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, orgID); err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

// memberChange starts a change to member userID of org: it takes the org
// lock (so owner counts hold), then loads the actor's role and the target
// row. Neither a stranger to the org nor an unknown member gets further.
func (tx *Tx) memberChange(orgID, userID int64) (model.Org, model.Role, model.MemberRow, error) {
	org, err := tx.lockOrg(orgID)
	if err != nil {
		return org, "", model.MemberRow{}, err
	}
	actorRole, err := tx.roleIn(orgID, tx.actor.AccountID)
	if err != nil {
		return org, "", model.MemberRow{}, err
	}
	target, err := tx.memberRow(orgID, userID)
	return org, actorRole, target, err
}

// ChangeRole moves member userID of org to role (SPEC 2): owners and admins
// change non-owners; anything touching owner is the owner's; the last owner is
// never demoted. An unchanged role is a no-op. Refusals are audited as denied.
func (s *Store) ChangeRole(ctx context.Context, actor model.Actor, orgID, userID int64, role string) (model.MemberRow, error) {
	const action = "member.role_changed"
	var out model.MemberRow
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, actorRole, target, err := tx.memberChange(orgID, userID)
		if err != nil {
			return err
		}
		tgt := memberTarget(target)
		if org.Personal() {
			return tx.Deny(orgID, action, tgt, model.Forbidden("A personal workspace has no other members to manage."))
		}
		if !model.Can(actorRole, model.ActManageMembers) {
			return tx.Deny(orgID, action, tgt, model.Forbidden("Only owners and admins can change members' roles."))
		}
		to, err := model.ParseRole(role)
		if err != nil {
			return err
		}
		if err := model.CanChangeRole(actorRole, target.Role, to); err != nil {
			return tx.DenyIf(orgID, action, tgt, err)
		}
		if to == target.Role {
			out = target
			return nil
		}
		owners, err := tx.countOwners(orgID)
		if err != nil {
			return err
		}
		if err := model.CheckLastOwner(target.Role, to, owners); err != nil {
			return tx.Deny(orgID, action, tgt, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE memberships SET role = $1 WHERE org_id = $2 AND account_id = $3`, to, orgID, userID); err != nil {
			return fmt.Errorf("change role: %w", err)
		}
		tgt.Label = fmt.Sprintf("%s: %s → %s", target.Email, target.Role, to)
		target.Role = to
		out = target
		if err := tx.Record(orgID, action, tgt); err != nil {
			return err
		}
		if model.CanJoinTeam(to) != nil {
			// A role that may not be in teams (billing) leaves them all, so
			// no team lists a billing member and a later promotion does not
			// silently bring the old grants back.
			return tx.leaveTeams(orgID, target)
		}
		return nil
	})
	return out, err
}

// leaveTeams takes member m out of every team of org, each audited as
// team.member_removed. Callers hold m's membership row lock.
func (tx *Tx) leaveTeams(orgID int64, m model.MemberRow) error {
	var left []struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
	}
	if err := tx.SelectContext(tx.ctx, &left, `DELETE FROM team_members tm USING teams t
		WHERE t.id = tm.team_id AND tm.org_id = $1 AND tm.account_id = $2 RETURNING t.id, t.name`, orgID, m.AccountID); err != nil {
		return fmt.Errorf("leave teams: %w", err)
	}
	for _, t := range left {
		if err := tx.Record(orgID, "team.member_removed", model.Target{Kind: "team", ID: strconv.FormatInt(t.ID, 10), Label: t.Name + ": " + m.Email}); err != nil {
			return err
		}
	}
	return nil
}

// RemoveMember removes userID from org; removing yourself is leaving
// (member.left), anyone else member.removed. The last owner never goes.
// Team memberships go with the membership (foreign key cascade); the member's
// API tokens bound to the org are revoked; agents they created stay.
func (s *Store) RemoveMember(ctx context.Context, actor model.Actor, orgID, userID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		org, actorRole, target, err := tx.memberChange(orgID, userID)
		if err != nil {
			return err
		}
		tgt := memberTarget(target)
		owners, err := tx.countOwners(orgID)
		if err != nil {
			return err
		}
		action := "member.removed"
		if userID == actor.AccountID {
			action = "member.left"
			if err := model.CanLeave(org.Kind, target.Role, owners); err != nil {
				return tx.Deny(orgID, action, tgt, err)
			}
		} else {
			if org.Personal() {
				return tx.Deny(orgID, action, tgt, model.Forbidden("A personal workspace has no other members to manage."))
			}
			if err := model.CanRemoveMember(actorRole, target.Role); err != nil {
				return tx.Deny(orgID, action, tgt, err)
			}
			if err := model.CheckLastOwner(target.Role, "", owners); err != nil {
				return tx.Deny(orgID, action, tgt, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE org_id = $1 AND account_id = $2`, orgID, userID); err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1
			WHERE account_id = $2 AND org_id = $3 AND revoked_at IS NULL`, tx.Now(), userID, orgID); err != nil {
			return fmt.Errorf("revoke member's tokens: %w", err)
		}
		// Their pending offers of the org's agents go too (accepting one
		// re-checks the sender's rights anyway; this frees the agent for a
		// new transfer at once).
		if _, err := tx.ExecContext(ctx, `UPDATE agent_transfers SET status = 'cancelled', updated_at = $1
			WHERE from_org_id = $2 AND from_account_id = $3 AND status = 'pending'`, tx.Now(), orgID, userID); err != nil {
			return fmt.Errorf("cancel member's agent transfers: %w", err)
		}
		return tx.Record(orgID, action, tgt)
	})
}

// TransferOwnership makes member userID an owner and the actor (an owner) an
// admin, in one transaction. It returns the new owner's and the former
// owner's memberships.
func (s *Store) TransferOwnership(ctx context.Context, actor model.Actor, orgID, userID int64) (newOwner, formerOwner model.MemberRow, err error) {
	const action = "org.ownership_transferred"
	err = s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		me, err := tx.memberRow(orgID, actor.AccountID)
		if errors.Is(err, model.ErrNotFound) {
			return model.NotFound("organization")
		}
		if err != nil {
			return err
		}
		orgTgt := orgTarget(org)
		if org.Personal() {
			return tx.Deny(orgID, action, orgTgt, model.Forbidden("A personal workspace cannot be transferred."))
		}
		if me.Role != model.RoleOwner {
			return tx.Deny(orgID, action, orgTgt, model.Forbidden("Only an owner can transfer ownership."))
		}
		if userID == actor.AccountID {
			return model.InvalidField("user_id", "Choose another member to become the owner.")
		}
		target, err := tx.memberRow(orgID, userID)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return err
		}
		if err := model.CanTransferOwnership(me.Role, target.Role); err != nil {
			if model.CodeOf(err) == model.CodeForbidden {
				return tx.Deny(orgID, action, orgTgt, err)
			}
			return err
		}
		toTarget, toActor := model.TransferOwnershipRoles()
		if _, err := tx.ExecContext(ctx, `UPDATE memberships SET role = CASE account_id WHEN $2 THEN $3 ELSE $4 END
			WHERE org_id = $1 AND account_id IN ($2, $5)`, orgID, userID, toTarget, toActor, actor.AccountID); err != nil {
			return fmt.Errorf("transfer ownership: %w", err)
		}
		target.Role, me.Role = toTarget, toActor
		newOwner, formerOwner = target, me
		tgt := memberTarget(target)
		tgt.Label = fmt.Sprintf("%s → %s", me.Email, target.Email)
		return tx.Record(orgID, action, tgt)
	})
	return newOwner, formerOwner, err
}

// MemberTeams lists, per member of org, the names of the teams they are in:
// the Members page says which teams a move to billing takes them out of.
func (s *Store) MemberTeams(ctx context.Context, orgID int64) (map[int64][]string, error) {
	var rows []struct {
		AccountID int64  `db:"account_id"`
		Name      string `db:"name"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT tm.account_id, t.name FROM team_members tm
		JOIN teams t ON t.id = tm.team_id AND t.org_id = tm.org_id
		WHERE tm.org_id = $1 ORDER BY t.name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("member teams: %w", err)
	}
	out := map[int64][]string{}
	for _, r := range rows {
		out[r.AccountID] = append(out[r.AccountID], r.Name)
	}
	return out, nil
}
