package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"guildhall/db/model"
)

const orgCols = `o.id, o.kind, o.slug, o.display_name, o.description, o.member_base_permission, o.plan,
	o.limit_team_members, o.limit_api_keys, o.limit_agents, o.limit_monthly_requests, o.created_at, o.updated_at, o.require_two_factor`

// CreateOrgInput is what creating a team org takes.
type CreateOrgInput struct {
	DisplayName             string
	Slug                    string // optional: derived from the display name when empty
	Description             string
	TransferPersonalCredits bool
}

func orgTarget(o model.Org) model.Target {
	return model.Target{Kind: "org", ID: strconv.FormatInt(o.ID, 10), Label: o.Slug}
}

// CreateOrg creates a team org with actor as its sole owner, and optionally
// sweeps the actor's whole personal balance into it in the same transaction.
func (s *Store) CreateOrg(ctx context.Context, actor model.Actor, in CreateOrgInput) (model.Workspace, error) {
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.Slug = strings.TrimSpace(in.Slug)
	in.Description = strings.TrimSpace(in.Description)
	f := model.Fields{}
	if err := model.ValidateName(in.DisplayName, "display_name"); err != nil {
		f.Add("display_name", msgOf(err))
	}
	if in.Slug != "" {
		if err := model.ValidateSlug(in.Slug); err != nil {
			f.Add("slug", msgOf(err))
		}
	}
	if !model.ValidText(in.Description) {
		f.Add("description", "The description is not valid text.")
	} else if len(in.Description) > 500 {
		f.Add("description", "Keep the description under 500 characters.")
	}
	if err := f.Err(); err != nil {
		return model.Workspace{}, err
	}
	var ws model.Workspace
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		slug := in.Slug
		if slug == "" {
			var err error
			if slug, err = tx.freeSlug(model.Slugify(in.DisplayName)); err != nil {
				return err
			}
		}
		org, err := tx.insertOrg(model.OrgTeam, slug, in.DisplayName, in.Description)
		if err != nil {
			return err
		}
		if err := tx.insertMembership(org.ID, actor.AccountID, model.RoleOwner); err != nil {
			return err
		}
		if err := tx.Record(org.ID, "org.created", orgTarget(org)); err != nil {
			return err
		}
		if in.TransferPersonalCredits {
			if err := tx.transferPersonalCredits(org); err != nil {
				return err
			}
		}
		ws = model.Workspace{Org: org, Role: model.RoleOwner}
		return nil
	})
	return ws, err
}

// insertOrg adds an org and its empty wallet.
func (tx *Tx) insertOrg(kind model.OrgKind, slug, name, description string) (model.Org, error) {
	lim := model.PlanLimits(model.PlanFree)
	var o model.Org
	err := tx.GetContext(tx.ctx, &o, `
		INSERT INTO orgs AS o (kind, slug, display_name, description, limit_team_members, limit_api_keys,
			limit_agents, limit_monthly_requests, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		RETURNING `+orgCols, kind, slug, name, description, lim.TeamMembers, lim.APIKeys, lim.Agents, lim.MonthlyRequests, tx.Now())
	if isUniqueViolation(err, "orgs_slug_key") {
		return o, model.ConflictField("slug", fmt.Sprintf("The slug %q is taken. Choose another.", slug))
	}
	if err != nil {
		return o, fmt.Errorf("insert org: %w", err)
	}
	if _, err := tx.ExecContext(tx.ctx, `INSERT INTO wallets (org_id, updated_at) VALUES ($1, $2)`, o.ID, tx.Now()); err != nil {
		return o, fmt.Errorf("create wallet: %w", err)
	}
	return o, nil
}

func (tx *Tx) insertMembership(orgID, accountID int64, role model.Role) error {
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		orgID, accountID, role, tx.Now())
	if isUniqueViolation(err, "") {
		return model.Conflict("Already a member of this org.")
	}
	if err != nil {
		return fmt.Errorf("insert membership: %w", err)
	}
	return nil
}

// freeSlug returns base, or base-2, base-3... whichever is free. The unique
// index still decides under a race; the loser gets a clear conflict.
func (tx *Tx) freeSlug(base string) (string, error) {
	var taken []string
	err := tx.SelectContext(tx.ctx, &taken, `SELECT slug FROM orgs WHERE slug = $1 OR slug LIKE $2`,
		base, strings.TrimRight(base, "-")+"-%")
	if err != nil {
		return "", fmt.Errorf("find free slug: %w", err)
	}
	used := make(map[string]bool, len(taken))
	for _, t := range taken {
		used[t] = true
	}
	for n := 1; ; n++ {
		c := model.SlugCandidate(base, n)
		if !used[c] && model.ValidateSlug(c) == nil {
			return c, nil
		}
	}
}

// transferPersonalCredits moves the actor's whole personal balance into org:
// one ledger transaction with a transfer_out and a transfer_in.
func (tx *Tx) transferPersonalCredits(org model.Org) error {
	acc, err := tx.accountByID(tx.actor.AccountID)
	if err != nil {
		return err
	}
	w, err := tx.lockWallet(acc.PersonalOrgID)
	if err != nil {
		return fmt.Errorf("lock personal wallet: %w", err)
	}
	if w.BalanceCents == 0 {
		return nil
	}
	amt := w.BalanceCents
	if _, err := tx.transfer(acc.PersonalOrgID, org.ID, amt, "", "personal credits to "+org.Slug); err != nil {
		return err
	}
	target := model.Target{Kind: "wallet", ID: strconv.FormatInt(org.ID, 10), Label: model.FormatCents(amt)}
	if err := tx.Record(acc.PersonalOrgID, "wallet.credits_transferred", target); err != nil {
		return err
	}
	return tx.Record(org.ID, "wallet.credits_transferred", target)
}

// Workspaces lists the orgs the account belongs to: personal first, then team
// orgs by name. It drives the switcher and GET /api/orgs.
func (s *Store) Workspaces(ctx context.Context, accountID int64) ([]model.Workspace, error) {
	var ws []model.Workspace
	err := s.db.SelectContext(ctx, &ws, `SELECT `+orgCols+`, m.role FROM orgs o
		JOIN memberships m ON m.org_id = o.id AND m.account_id = $1
		ORDER BY o.kind = 'personal' DESC, lower(o.display_name), o.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return ws, nil
}

// Workspace loads an org by id or slug as seen by accountID. An org the
// account does not belong to is not found, whether or not it exists.
func (s *Store) Workspace(ctx context.Context, accountID int64, ref string) (model.Workspace, error) {
	var ws model.Workspace
	if !model.ValidText(ref) {
		return ws, model.NotFound("organization") // PostgreSQL would refuse it as text
	}
	q := `SELECT ` + orgCols + `, m.role FROM orgs o JOIN memberships m ON m.org_id = o.id AND m.account_id = $1 WHERE `
	var arg any
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		q, arg = q+`o.id = $2`, id
	} else {
		q, arg = q+`o.slug = $2`, strings.ToLower(ref)
	}
	// Scanned by hand, in orgCols order: every API call naming an org reads it.
	o := &ws.Org
	err := s.db.scanRow(ctx, q, []any{accountID, arg}, &o.ID, &o.Kind, &o.Slug, &o.DisplayName, &o.Description, &o.MemberBasePermission,
		&o.Plan, &o.LimitTeamMembers, &o.LimitAPIKeys, &o.LimitAgents, &o.LimitMonthlyRequests, &o.CreatedAt, &o.UpdatedAt,
		&o.RequireTwoFactor, &ws.Role)
	if err != nil {
		return model.Workspace{}, notFound(err, "organization")
	}
	return ws, nil
}

// OrgByID loads an org without any membership check; callers must have
// authorized the read already.
func (s *Store) OrgByID(ctx context.Context, id int64) (model.Org, error) {
	var o model.Org
	err := s.db.GetContext(ctx, &o, `SELECT `+orgCols+` FROM orgs o WHERE o.id = $1`, id)
	return o, notFound(err, "organization")
}

// lockOrg loads org and locks its row against other changes to the org and
// its memberships: every such change takes this lock first (then membership,
// invitation or team rows), so they serialize per org in one order and the
// last-owner and plan-limit counts made under it hold. FOR NO KEY UPDATE
// still lets inserts that merely reference the org (tokens, ledger) proceed.
func (tx *Tx) lockOrg(orgID int64) (model.Org, error) {
	var o model.Org
	err := tx.GetContext(tx.ctx, &o, `SELECT `+orgCols+` FROM orgs o WHERE o.id = $1 FOR NO KEY UPDATE`, orgID)
	return o, notFound(err, "organization")
}

// lockOrgForDelete takes the strongest row lock, which also waits for and
// blocks every insert referencing the org (agents, memberships...), so
// nothing new can appear between the delete guard and the delete.
func (tx *Tx) lockOrgForDelete(orgID int64) (model.Org, error) {
	var o model.Org
	err := tx.GetContext(tx.ctx, &o, `SELECT `+orgCols+` FROM orgs o WHERE o.id = $1 FOR UPDATE`, orgID)
	return o, notFound(err, "organization")
}

// UpdateOrgInput holds the fields PATCH may change; nil means unchanged.
type UpdateOrgInput struct {
	DisplayName          *string
	Slug                 *string
	Description          *string
	MemberBasePermission *string
	RequireTwoFactor     *bool // see model.CanRequireTwoFactor
}

// UpdateOrg renames, re-slugs, describes or sets the base permission of an org
// (admin+). A personal org follows its owner's profile and cannot be renamed
// or re-slugged here.
func (s *Store) UpdateOrg(ctx context.Context, actor model.Actor, orgID int64, in UpdateOrgInput) (model.Org, error) {
	var org model.Org
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		cur, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.Can(role, model.ActUpdateOrg) {
			return tx.Deny(orgID, "org.updated", orgTarget(cur), model.Forbidden("Only owners and admins can change the organization's settings."))
		}
		f := model.Fields{}
		next := cur
		if in.DisplayName != nil {
			name := strings.TrimSpace(*in.DisplayName)
			if cur.Personal() && name != cur.DisplayName {
				f.Add("display_name", "A personal workspace is named after you: change your name on your profile.")
			} else if err := model.ValidateName(name, "display_name"); err != nil {
				f.Add("display_name", msgOf(err))
			}
			next.DisplayName = name
		}
		if in.Slug != nil {
			slug := strings.TrimSpace(*in.Slug)
			if cur.Personal() && slug != cur.Slug {
				f.Add("slug", "A personal workspace's slug cannot be changed.")
			} else if err := model.ValidateSlug(slug); err != nil {
				f.Add("slug", msgOf(err))
			}
			next.Slug = slug
		}
		if in.Description != nil {
			next.Description = strings.TrimSpace(*in.Description)
			if !model.ValidText(next.Description) {
				f.Add("description", "The description is not valid text.")
			} else if len(next.Description) > 500 {
				f.Add("description", "Keep the description under 500 characters.")
			}
		}
		if in.MemberBasePermission != nil {
			p, err := model.ParseBasePermission(strings.TrimSpace(*in.MemberBasePermission))
			if err != nil {
				f.Add("member_base_permission", msgOf(err))
			}
			next.MemberBasePermission = p
		}
		if in.RequireTwoFactor != nil {
			if err := tx.checkRequireTwoFactor(cur, role, *in.RequireTwoFactor); err != nil {
				return err
			}
			next.RequireTwoFactor = *in.RequireTwoFactor
		}
		if err := f.Err(); err != nil {
			return err
		}
		err = tx.GetContext(ctx, &org, `UPDATE orgs o SET display_name = $1, slug = $2, description = $3,
			member_base_permission = $4, updated_at = $5, require_two_factor = $7 WHERE o.id = $6 RETURNING `+orgCols,
			next.DisplayName, next.Slug, next.Description, next.MemberBasePermission, tx.Now(), orgID, next.RequireTwoFactor)
		if isUniqueViolation(err, "orgs_slug_key") {
			return model.ConflictField("slug", fmt.Sprintf("The slug %q is taken. Choose another.", next.Slug))
		}
		if err != nil {
			return fmt.Errorf("update org: %w", err)
		}
		return tx.Record(orgID, "org.updated", orgTarget(org))
	})
	return org, err
}

// Blocker is something an org still owns that stops its deletion.
type Blocker struct {
	Kind        string `json:"kind" db:"kind"`
	ID          int64  `json:"id" db:"id"`
	Label       string `json:"label" db:"label"`
	AmountCents int64  `json:"amount_cents,omitempty" db:"amount_cents"`
	// OfKind is how many of this kind the org owns; only the first
	// BlockerSample of each are listed (an org may own 100,000 agents).
	OfKind int64 `json:"of_kind" db:"of_kind"`
}

// BlockerSample is how many blockers of each kind are named (written into
// deleteGuards as a constant: see limitArgs).
const BlockerSample = 10

// deleteGuards lists what an org still owns, BlockerSample of each kind with
// the kind's total: agents (counted by the org's trigger-kept counter), a
// positive balance, published packages. A new kind of owned thing adds its
// branch here, and deletion refuses while any returns rows.
const deleteGuards = `(SELECT 'agent' AS kind, id, name AS label, 0::bigint AS amount_cents,
		(SELECT agent_count FROM orgs WHERE id = $1)::bigint AS of_kind
	FROM agents WHERE org_id = $1 ORDER BY id LIMIT ` + blockerSampleSQL + `)
UNION ALL
(SELECT 'balance', org_id, balance_cents::text || ' cents', balance_cents, 1
	FROM wallets WHERE org_id = $1 AND balance_cents > 0)
UNION ALL
(SELECT 'package', id, slug, 0, (SELECT count(*) FROM packages WHERE org_id = $1)
	FROM packages WHERE org_id = $1 ORDER BY id LIMIT ` + blockerSampleSQL + `)`

const blockerSampleSQL = "10" // BlockerSample

// DeleteBlockers lists what stops org from being deleted.
func (tx *Tx) deleteBlockers(orgID int64) ([]Blocker, error) {
	var bs []Blocker
	if err := tx.SelectContext(tx.ctx, &bs, deleteGuards, orgID); err != nil {
		return nil, fmt.Errorf("check what the org owns: %w", err)
	}
	return bs, nil
}

// blockerSummary names the blockers for a refusal: each listed one, and how
// many more of its kind there are.
func blockerSummary(bs []Blocker) string {
	var labels []string
	listed := map[string]int64{}
	total := map[string]int64{}
	var kinds []string
	for _, b := range bs {
		labels = append(labels, b.Kind+" "+b.Label)
		if _, seen := total[b.Kind]; !seen {
			kinds = append(kinds, b.Kind)
		}
		listed[b.Kind]++
		total[b.Kind] = b.OfKind
	}
	for _, k := range kinds {
		if more := total[k] - listed[k]; more > 0 {
			labels = append(labels, fmt.Sprintf("%d more %ss", more, k))
		}
	}
	return strings.Join(labels, ", ")
}

// DeleteOrg deletes a team org (owner only), confirmed by its slug, unless it
// still owns something. Its audit events are kept.
func (s *Store) DeleteOrg(ctx context.Context, actor model.Actor, orgID int64, confirmSlug string) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.lockOrgForDelete(orgID)
		if err != nil {
			return err
		}
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.Can(role, model.ActDeleteOrg) {
			return tx.Deny(orgID, "org.deleted", orgTarget(org), model.Forbidden("Only an owner can delete the organization."))
		}
		if org.Personal() {
			return tx.Deny(orgID, "org.deleted", orgTarget(org), model.Forbidden("A personal workspace cannot be deleted."))
		}
		if strings.TrimSpace(confirmSlug) != org.Slug {
			return model.InvalidField("confirm", fmt.Sprintf("Type %q to confirm.", org.Slug))
		}
		blockers, err := tx.deleteBlockers(orgID)
		if err != nil {
			return err
		}
		if len(blockers) > 0 {
			howTo := ""
			for _, b := range blockers {
				if b.Kind == "balance" {
					howTo = " To clear the balance, spend it, or transfer it to another workspace you own (Wallet, Transfer credits)."
				}
			}
			return &model.Error{Code: model.CodeConflict,
				Message: "This organization still owns " + blockerSummary(blockers) + ". Move, transfer or delete them first." + howTo,
				Details: map[string]any{"blockers": blockers}}
		}
		if err := tx.Record(orgID, "org.deleted", orgTarget(org)); err != nil {
			return err
		}
		// Cascades remove memberships, invitations, teams, grants, wallet and
		// tokens bound to the org; audit_events has no foreign key and stays.
		if _, err := tx.ExecContext(ctx, `DELETE FROM orgs WHERE id = $1`, orgID); err != nil {
			return fmt.Errorf("delete org: %w", err)
		}
		return nil
	})
}

// OrgOverview is the numbers the overview page shows.
type OrgOverview struct {
	BalanceCents int64 `db:"balance_cents"`
	Members      int   `db:"members"`
	Teams        int   `db:"teams"`
	Agents       int   `db:"agents"`
	// Pending counts invitations still open (not expired): they hold a seat.
	Pending int `db:"pending"`
}

// Seats is the one seat count shown everywhere: members plus open
// invitations, as the invite limit counts them.
func (o OrgOverview) Seats() int { return o.Members + o.Pending }

// Overview counts what an org holds (counters kept by triggers, 00009).
func (s *Store) Overview(ctx context.Context, orgID int64) (OrgOverview, error) {
	var ov OrgOverview
	err := s.db.GetContext(ctx, &ov, `SELECT
		COALESCE((SELECT balance_cents FROM wallets WHERE org_id = $1), 0) AS balance_cents,
		o.member_count AS members, o.team_count AS teams, o.agent_count AS agents,
		(SELECT count(*) FROM invitations WHERE org_id = o.id AND status = 'pending' AND expires_at > $2) AS pending
		FROM orgs o WHERE o.id = $1`, orgID, s.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return ov, nil // no such org holds nothing
	}
	if err != nil {
		return ov, fmt.Errorf("overview: %w", err)
	}
	return ov, nil
}
