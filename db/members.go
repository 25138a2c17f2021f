package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"guildhall/db/model"
)

// Member changes keep one lock order so they never deadlock each other: first
// the org row (lockOrg), then membership and invitation rows. Every
// change that can add, remove or demote an owner takes the org lock, so the
// owner count read under it is exact (SPEC 2: an org always keeps an owner).

// memberCols reads a member. Last active is accounts.last_active_at alone:
// every write of a session's last_seen_at or a token's last_used_at writes it
// too, so the max() over both that this once read per row adds nothing
// (migration 00011 brought older rows up to date).
const memberCols = memberColsNo2FA + `, ` + hasTwoFactorA + ` AS two_factor`

const memberColsNo2FA = `m.org_id, m.account_id, a.name, a.email, m.role, m.created_at, a.last_active_at`

// memberRank is the members list's role order, owners first, then admins,
// members and billing: memberships.sort_rank (migration 00011) in Go.
func memberRank(r model.Role) int {
	switch r {
	case model.RoleOwner:
		return 1
	case model.RoleAdmin:
		return 2
	case model.RoleMember:
		return 3
	}
	return 4
}

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

// MemberQuery asks for one page of an org's members and, for the Members
// page, what it shows around them.
type MemberQuery struct {
	Role          string // only members with this role ("" for all)
	Page, PerPage int
	// Teams asks for each listed member's teams. The members page no
	// longer does: its role form names one member's teams (MemberTeams).
	Teams bool
	// Invitations asks for the org's pending invitations and the seats in
	// use, given only to actors who may see invitations.
	Invitations bool
}

// MemberList is one page of an org's members with the figures the Members
// page shows around it.
type MemberList struct {
	Rows  []model.MemberRow
	Teams map[int64][]string // per listed member (MemberQuery.Teams)
	// Total counts the members the filter matches; Owners the org's owners.
	Total, Owners int
	// Role is the actor's role in the org.
	Role model.Role
	// Invitations and Seats (members plus pending, unexpired invitations)
	// when asked for and the actor may see them.
	Invitations []model.Invitation
	Seats       int
}

// memberListSQL is the whole list in one statement: a head (h) that checks
// the actor ($2) is a member of org $1 and reads the totals from the org's
// counters (member_count, member_role_counts), then one page of members
// after it, each output row carrying the head (an empty page is one row of
// head and NULL member). $3 is the offset; when filtered, $4 the role's
// sort_rank and $5 the role; with seats, the next one is now.
//
// The page is cut from the (org_id, sort_rank, sort_name, account_id)
// index, an index-only scan with no sort, and the members' details are read
// for its rows only. A page past the middle of h.total is counted from the
// end (the second branch), so no page skips more than half the list, and a
// page past the end reads nothing: both branches are in the plan, and the
// head's total decides at run time (one-time filters) which one runs.
//
// The statement is prepared once and run with a generic plan, so its shape
// must not depend on estimates: the limit is written into the text (a
// $-parameter is guessed at a tenth of the org, and the planner then hashes
// all the org's accounts instead of looking up 20), and each row's details
// are a LATERAL lookup (LIMIT 1 keeps it one, not a join to re-plan).
// Only owners see members' two-factor status: for anyone else its two
// lookups per member are not run. With teams, each row carries its team
// names.
func memberListSQL(filtered, seats, teams bool, limit int) string {
	total, where, next := `o.member_count`, `org_id = $1`, 4
	if filtered {
		total = `COALESCE((SELECT c.members FROM member_role_counts c WHERE c.org_id = o.id AND c.role = $5), 0)`
		where += ` AND sort_rank = $4`
		next = 6
	}
	head := `SELECT m.role, ` + total + ` AS total,
		COALESCE((SELECT c.members FROM member_role_counts c WHERE c.org_id = o.id AND c.role = 'owner'), 0) AS owners`
	if seats {
		// pending says whether the invitations list has anything to read
		// (expired ones included): most of the time it has not, and the
		// page skips that statement.
		head += fmt.Sprintf(`, o.member_count + (SELECT count(*) FROM invitations i
			WHERE i.org_id = o.id AND i.status = 'pending' AND i.expires_at > $%d) AS seats,
			EXISTS (SELECT 1 FROM invitations i WHERE i.org_id = o.id AND i.status = 'pending') AS pending`, next)
	} else {
		head += `, 0 AS seats, false AS pending`
	}
	head += ` FROM orgs o JOIN memberships m ON m.org_id = o.id AND m.account_id = $2 WHERE o.id = $1`
	lim := strconv.Itoa(limit)
	// The role and join date come with the page's index range (migration
	// 00023 INCLUDEs them): each row then reads only its account.
	cols := `$1::bigint AS org_id, a.id AS account_id, a.name, a.email, p.role, p.created_at, a.last_active_at,
		CASE WHEN h.role = 'owner' THEN ` + hasTwoFactorA + ` ELSE false END AS two_factor`
	if teams {
		cols += `, ARRAY(SELECT t.name FROM team_members tm JOIN teams t ON t.id = tm.team_id
			WHERE tm.org_id = $1 AND tm.account_id = a.id ORDER BY t.name) AS teams`
	} else {
		cols += `, NULL::text[] AS teams`
	}
	return `WITH h AS MATERIALIZED (` + head + `)
		SELECT h.role AS viewer_role, h.total, h.owners, h.seats, h.pending, x.org_id, x.account_id, x.name, x.email,
			x.role, x.created_at, x.last_active_at, x.two_factor, x.teams
		FROM h LEFT JOIN LATERAL (
			SELECT p.sort_rank, p.sort_name, y.* FROM (
				(SELECT account_id, sort_rank, sort_name, role, created_at FROM memberships WHERE ` + where + ` AND h.total - $3 >= $3
					ORDER BY sort_rank, sort_name, account_id LIMIT ` + lim + ` OFFSET $3)
				UNION ALL
				(SELECT account_id, sort_rank, sort_name, role, created_at FROM memberships WHERE ` + where + ` AND h.total - $3 < $3 AND $3 < h.total
					ORDER BY sort_rank DESC, sort_name DESC, account_id DESC LIMIT ` + lim + ` OFFSET greatest(0, h.total - $3 - ` + lim + `))
			) p
			CROSS JOIN LATERAL (SELECT ` + cols + ` FROM accounts a WHERE a.id = p.account_id) y
		) x ON true
		ORDER BY x.sort_rank, x.sort_name, x.account_id`
}

// memberListShape is what memberListSQL's text depends on.
type memberListShape struct {
	filtered, seats, teams bool
	limit                  int
}

// memberListText is memberListSQL built once per shape (at most 800 of
// them): building the 3 KB text was a sixth of the list's allocations.
func (s *Store) memberListText(k memberListShape) string {
	if q, ok := s.texts.Load(k); ok {
		return q.(string)
	}
	q := memberListSQL(k.filtered, k.seats, k.teams, k.limit)
	s.texts.Store(k, q)
	return q
}

// Members lists an org's members, owners first, optionally only those with
// role, one page at a time (per_page default 20, at most 100). Any member may
// list; anyone else gets not found.
func (s *Store) Members(ctx context.Context, actor model.Actor, orgID int64, role string, page, perPage int) ([]model.MemberRow, int, error) {
	l, err := s.MemberList(ctx, actor, orgID, MemberQuery{Role: role, Page: page, PerPage: perPage})
	return l.Rows, l.Total, err
}

// MemberList is Members with what the Members page shows around the list
// (MemberQuery): one statement, a second when invitations are pending.
func (s *Store) MemberList(ctx context.Context, actor model.Actor, orgID int64, q MemberQuery) (MemberList, error) {
	var filter model.Role
	if strings.TrimSpace(q.Role) != "" {
		r, err := model.ParseRole(q.Role)
		if err != nil {
			// a stranger to the org learns nothing, not even that the role is bad
			if _, rerr := s.RoleIn(ctx, orgID, actor.AccountID); rerr != nil {
				return MemberList{}, rerr
			}
			return MemberList{}, err
		}
		filter = r
	}
	page, perPage := model.MemberPaging(q.Page, q.PerPage)
	filtered := filter != ""
	offset := (page - 1) * perPage
	args := []any{orgID, actor.AccountID, offset}
	if filtered {
		args = append(args, memberRank(filter), string(filter))
	}
	if q.Invitations {
		args = append(args, s.Now())
	}
	rows, err := s.db.QueryContext(ctx, s.memberListText(memberListShape{filtered, q.Invitations, q.Teams, perPage}), args...)
	if err != nil {
		return MemberList{}, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	var (
		out     = MemberList{Rows: make([]model.MemberRow, 0, perPage)}
		teams   = make([][]string, 0, perPage)
		head    bool
		seats   int
		pending bool
		// The member columns are NULL on the one row of an empty page.
		// Declared once: each Scan sets every one (per row they escaped
		// to the heap).
		memberOrg, accountID sql.NullInt64
		name, email, role    sql.NullString
		joined, lastActive   sql.NullTime
		twoFactor            sql.NullBool
		names                pq.StringArray
	)
	for rows.Next() {
		if err := rows.Scan(&out.Role, &out.Total, &out.Owners, &seats, &pending, &memberOrg, &accountID, &name, &email,
			&role, &joined, &lastActive, &twoFactor, &names); err != nil {
			return MemberList{}, fmt.Errorf("list members: %w", err)
		}
		head = true
		if !accountID.Valid {
			continue
		}
		m := model.MemberRow{OrgID: memberOrg.Int64, AccountID: accountID.Int64, Name: name.String, Email: email.String,
			Role: model.Role(role.String), JoinedAt: joined.Time, TwoFactor: twoFactor.Bool}
		if lastActive.Valid {
			t := lastActive.Time
			m.LastActiveAt = &t
		}
		out.Rows = append(out.Rows, m)
		teams = append(teams, names)
	}
	if err := rows.Err(); err != nil {
		return MemberList{}, fmt.Errorf("list members: %w", err)
	}
	if !head {
		return MemberList{}, model.NotFound("organization")
	}
	if out.Total-offset < offset { // read backward
		// The page was read from the end: the last perPage rows up to its
		// end, of which it keeps the ones after its start.
		want := max(0, min(perPage, out.Total-offset))
		if skip := len(out.Rows) - want; skip > 0 {
			out.Rows, teams = out.Rows[skip:], teams[skip:]
		}
	}
	if q.Teams {
		out.Teams = map[int64][]string{}
		for i, m := range out.Rows {
			out.Teams[m.AccountID] = teams[i]
		}
	}
	if q.Invitations && model.CanSeeInvitations(out.Role) {
		// The list statement checked the actor's role: no second look.
		out.Seats, out.Invitations = seats, []model.Invitation{}
		if pending {
			if err := s.db.SelectContext(ctx, &out.Invitations, `SELECT `+invitationCols+invitationFrom+
				`WHERE i.org_id = $1 AND i.status = 'pending' ORDER BY i.created_at DESC, i.id DESC`, orgID); err != nil {
				return MemberList{}, fmt.Errorf("list invitations: %w", err)
			}
		}
	}
	return out, nil
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

// MemberTeams names the teams of org that member accountID is in, by name:
// a role change's answer says which teams a move to billing leaves.
func (s *Store) MemberTeams(ctx context.Context, orgID, accountID int64) ([]string, error) {
	var names []string
	err := s.db.SelectContext(ctx, &names, `SELECT t.name FROM team_members tm
		JOIN teams t ON t.id = tm.team_id AND t.org_id = tm.org_id
		WHERE tm.org_id = $1 AND tm.account_id = $2 ORDER BY t.name`, orgID, accountID)
	if err != nil {
		return nil, fmt.Errorf("member teams: %w", err)
	}
	return names, nil
}
