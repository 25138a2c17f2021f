package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"guildhall/db/model"
)

const policyCols = `id, org_id, name, max_per_purchase_cents, daily_limit_cents, monthly_limit_cents,
	require_approval_above_cents, vendor_allowlist, blocked_types, active, is_default, created_at, updated_at`

type policyRow struct {
	model.SpendPolicy
	Vendors pq.StringArray `db:"vendor_allowlist"`
	Blocked pq.StringArray `db:"blocked_types"`
}

func (r policyRow) policy() model.SpendPolicy {
	p := r.SpendPolicy
	p.VendorAllowlist = append([]string{}, r.Vendors...)
	p.BlockedTypes = append([]string{}, r.Blocked...)
	return p
}

func policyTarget(p model.SpendPolicy) model.Target {
	return model.Target{Kind: "policy", ID: strconv.FormatInt(p.ID, 10), Label: p.Name}
}

// PolicyInput is what creating or editing a policy takes. For an edit, the
// Set* flags say which nullable limits the request named (a null clears).
type PolicyInput struct {
	Name                      *string
	MaxPerPurchaseCents       *int64
	DailyLimitCents           *int64
	MonthlyLimitCents         *int64
	RequireApprovalAboveCents *int64
	SetMaxPerPurchase         bool
	SetDaily                  bool
	SetMonthly                bool
	SetApproval               bool
	VendorAllowlist           *[]string
	BlockedTypes              *[]string
	Active                    *bool
	IsDefault                 *bool
}

func (in PolicyInput) apply(p *model.SpendPolicy) {
	if in.Name != nil {
		p.Name = strings.TrimSpace(*in.Name)
	}
	if in.SetMaxPerPurchase {
		p.MaxPerPurchaseCents = in.MaxPerPurchaseCents
	}
	if in.SetDaily {
		p.DailyLimitCents = in.DailyLimitCents
	}
	if in.SetMonthly {
		p.MonthlyLimitCents = in.MonthlyLimitCents
	}
	if in.SetApproval {
		p.RequireApprovalAboveCents = in.RequireApprovalAboveCents
	}
	if in.VendorAllowlist != nil {
		p.VendorAllowlist = normList(*in.VendorAllowlist, true)
	}
	if in.BlockedTypes != nil {
		p.BlockedTypes = normList(*in.BlockedTypes, false)
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	if in.IsDefault != nil {
		p.IsDefault = *in.IsDefault
	}
}

// normList trims, drops empties and duplicates.
func normList(in []string, lower bool) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if lower {
			s = strings.ToLower(s)
		}
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// requireManagePolicies checks the actor may manage policies in org, and
// denies (audited) otherwise.
func (tx *Tx) requireManagePolicies(orgID int64, action string, target model.Target) error {
	role, err := tx.roleIn(orgID, tx.actor.AccountID)
	if err != nil {
		return err
	}
	if !model.Can(role, model.ActManagePolicies) {
		return tx.Deny(orgID, action, target, model.Forbidden("Only owners and admins can manage spend policies."))
	}
	return nil
}

// CreatePolicy adds a spend policy (owner, admin). The org's first policy
// becomes its default; making a policy default unsets the previous one.
func (s *Store) CreatePolicy(ctx context.Context, actor model.Actor, orgID int64, in PolicyInput) (model.SpendPolicy, error) {
	p := model.SpendPolicy{OrgID: orgID, Active: true, VendorAllowlist: []string{}, BlockedTypes: []string{}}
	in.SetMaxPerPurchase, in.SetDaily, in.SetMonthly, in.SetApproval = true, true, true, true
	in.apply(&p)
	if in.Name == nil {
		p.Name = ""
	}
	if err := model.ValidatePolicy(p); err != nil {
		return p, err
	}
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if err := tx.requireManagePolicies(orgID, "policy.created", model.Target{Kind: "policy", Label: p.Name}); err != nil {
			return err
		}
		if _, err := tx.lockOrg(orgID); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM spend_policies WHERE org_id = $1 AND is_default`, orgID); err != nil {
			return fmt.Errorf("count default policies: %w", err)
		}
		if n == 0 {
			p.IsDefault = true
		}
		if p.IsDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE spend_policies SET is_default = false WHERE org_id = $1 AND is_default`, orgID); err != nil {
				return fmt.Errorf("unset default: %w", err)
			}
		}
		var row policyRow
		err := tx.GetContext(ctx, &row, `INSERT INTO spend_policies (org_id, name, max_per_purchase_cents, daily_limit_cents, monthly_limit_cents,
			require_approval_above_cents, vendor_allowlist, blocked_types, active, is_default, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING `+policyCols,
			orgID, p.Name, p.MaxPerPurchaseCents, p.DailyLimitCents, p.MonthlyLimitCents, p.RequireApprovalAboveCents,
			pq.StringArray(p.VendorAllowlist), pq.StringArray(p.BlockedTypes), p.Active, p.IsDefault, tx.Now())
		if isUniqueViolation(err, "spend_policies_org_name_key") {
			return model.InvalidField("name", fmt.Sprintf("A policy named %q exists already.", p.Name))
		}
		if err != nil {
			return fmt.Errorf("insert policy: %w", err)
		}
		p = row.policy()
		return tx.Record(orgID, "policy.created", policyTarget(p))
	})
	return p, err
}

// UpdatePolicy changes a policy (owner, admin).
func (s *Store) UpdatePolicy(ctx context.Context, actor model.Actor, orgID, id int64, in PolicyInput) (model.SpendPolicy, error) {
	var p model.SpendPolicy
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.roleIn(orgID, actor.AccountID); err != nil {
			return err
		}
		if _, err := tx.lockOrg(orgID); err != nil {
			return err
		}
		var row policyRow
		if err := tx.GetContext(ctx, &row, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id); err != nil {
			return notFound(err, "policy")
		}
		p = row.policy()
		if err := tx.requireManagePolicies(orgID, "policy.updated", policyTarget(p)); err != nil {
			return err
		}
		wasDefault := p.IsDefault
		in.apply(&p)
		if err := model.ValidatePolicy(p); err != nil {
			return err
		}
		if wasDefault && !p.IsDefault {
			return model.InvalidField("is_default", "Make another policy the default instead: an org keeps one default.")
		}
		if p.IsDefault && !wasDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE spend_policies SET is_default = false WHERE org_id = $1 AND is_default`, orgID); err != nil {
				return fmt.Errorf("unset default: %w", err)
			}
		}
		err := tx.GetContext(ctx, &row, `UPDATE spend_policies SET name = $1, max_per_purchase_cents = $2, daily_limit_cents = $3,
			monthly_limit_cents = $4, require_approval_above_cents = $5, vendor_allowlist = $6, blocked_types = $7, active = $8,
			is_default = $9, updated_at = $10 WHERE id = $11 RETURNING `+policyCols,
			p.Name, p.MaxPerPurchaseCents, p.DailyLimitCents, p.MonthlyLimitCents, p.RequireApprovalAboveCents,
			pq.StringArray(p.VendorAllowlist), pq.StringArray(p.BlockedTypes), p.Active, p.IsDefault, tx.Now(), id)
		if isUniqueViolation(err, "spend_policies_org_name_key") {
			return model.InvalidField("name", fmt.Sprintf("A policy named %q exists already.", p.Name))
		}
		if err != nil {
			return fmt.Errorf("update policy: %w", err)
		}
		p = row.policy()
		return tx.Record(orgID, "policy.updated", policyTarget(p))
	})
	return p, err
}

// DeletePolicy removes a policy (owner, admin). Deleting the default makes
// the oldest remaining policy the default, so an org with policies always
// has one.
func (s *Store) DeletePolicy(ctx context.Context, actor model.Actor, orgID, id int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.roleIn(orgID, actor.AccountID); err != nil {
			return err
		}
		if _, err := tx.lockOrg(orgID); err != nil {
			return err
		}
		var row policyRow
		if err := tx.GetContext(ctx, &row, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id); err != nil {
			return notFound(err, "policy")
		}
		p := row.policy()
		if err := tx.requireManagePolicies(orgID, "policy.deleted", policyTarget(p)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM spend_policies WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete policy: %w", err)
		}
		if p.IsDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE spend_policies SET is_default = true WHERE id = (
				SELECT id FROM spend_policies WHERE org_id = $1 ORDER BY id LIMIT 1)`, orgID); err != nil {
				return fmt.Errorf("promote default: %w", err)
			}
		}
		return tx.Record(orgID, "policy.deleted", policyTarget(p))
	})
}

// Policies lists an org's policies (any member sees them, SPEC 2), default first.
func (s *Store) Policies(ctx context.Context, actor model.Actor, orgID int64) ([]model.SpendPolicy, error) {
	if _, err := s.RoleIn(ctx, orgID, actor.AccountID); err != nil {
		return nil, err
	}
	var rows []policyRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 ORDER BY is_default DESC, lower(name), id`, orgID); err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	out := make([]model.SpendPolicy, len(rows))
	for i, r := range rows {
		out[i] = r.policy()
	}
	return out, nil
}

// Policy reads one policy of org.
func (s *Store) Policy(ctx context.Context, actor model.Actor, orgID, id int64) (model.SpendPolicy, error) {
	if _, err := s.RoleIn(ctx, orgID, actor.AccountID); err != nil {
		return model.SpendPolicy{}, err
	}
	var row policyRow
	if err := s.db.GetContext(ctx, &row, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 AND id = $2`, orgID, id); err != nil {
		return model.SpendPolicy{}, notFound(err, "policy")
	}
	return row.policy(), nil
}

// PolicySpend is what has been spent under a policy in the current windows.
type PolicySpend struct {
	Today int64 `json:"today_cents"`
	Month int64 `json:"month_cents"`
}

// governingPolicy picks the policy of a purchase in org: the token's policy
// when it is one of this org's, else the org's default. An org policy
// overrides the buyer's personal one: a token bound to a policy of another
// workspace (the buyer's personal one) falls back to this org's default.
func (tx *Tx) governingPolicy(orgID int64, tokenPolicy *int64) (*model.SpendPolicy, error) {
	var rows []policyRow
	var err error
	if tokenPolicy != nil {
		err = tx.SelectContext(tx.ctx, &rows, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 AND id = $2`, orgID, *tokenPolicy)
		if err != nil {
			return nil, fmt.Errorf("load token policy: %w", err)
		}
	}
	if len(rows) == 0 {
		err = tx.SelectContext(tx.ctx, &rows, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 AND is_default`, orgID)
		if err != nil {
			return nil, fmt.Errorf("load default policy: %w", err)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	p := rows[0].policy()
	return &p, nil
}

// policySpent reads the day and month counters of a policy at the store's now.
func (tx *Tx) policySpent(policyID int64) (PolicySpend, error) {
	now := tx.Now()
	var ps PolicySpend
	err := tx.GetContext(tx.ctx, &ps.Today, `SELECT COALESCE(sum(spent_cents), 0) FROM policy_spend WHERE policy_id = $1 AND window_kind = 'day' AND window_start = $2`,
		policyID, day(now))
	if err != nil {
		return ps, fmt.Errorf("read daily spend: %w", err)
	}
	err = tx.GetContext(tx.ctx, &ps.Month, `SELECT COALESCE(sum(spent_cents), 0) FROM policy_spend WHERE policy_id = $1 AND window_kind = 'month' AND window_start = $2`,
		policyID, month(now))
	if err != nil {
		return ps, fmt.Errorf("read monthly spend: %w", err)
	}
	return ps, nil
}

// addPolicySpend adds amount to the policy's current day and month. The
// caller holds the wallet lock of the policy's org, so counters of one org
// change one purchase at a time.
func (tx *Tx) addPolicySpend(policyID, amount int64) error {
	now := tx.Now()
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO policy_spend (policy_id, window_kind, window_start, spent_cents)
		VALUES ($1, 'day', $2, $4), ($1, 'month', $3, $4)
		ON CONFLICT (policy_id, window_kind, window_start) DO UPDATE SET spent_cents = policy_spend.spent_cents + EXCLUDED.spent_cents`,
		policyID, day(now), month(now), amount)
	if err != nil {
		return fmt.Errorf("count policy spend: %w", err)
	}
	return nil
}

// PolicySpent reads a policy's current spend (for the policies page).
func (s *Store) PolicySpent(ctx context.Context, actor model.Actor, orgID, id int64) (PolicySpend, error) {
	var ps PolicySpend
	if _, err := s.Policy(ctx, actor, orgID, id); err != nil {
		return ps, err
	}
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var err error
		ps, err = tx.policySpent(id)
		return err
	})
	return ps, err
}

// day and month are the UTC windows as dates: a date, not a timestamptz,
// so the server's time zone never shifts them.
func day(t time.Time) string   { return model.DayWindow(t).Format("2006-01-02") }
func month(t time.Time) string { return model.MonthWindow(t).Format("2006-01-02") }
