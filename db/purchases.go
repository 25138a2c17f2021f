package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"guildhall/db/model"
)

// BuyInput is a purchase request: the buying org, the package (id or slug),
// the client's idempotency key, and the spend policy of the caller's token.
type BuyInput struct {
	OrgID       int64
	PackageRef  string
	Key         string
	TokenPolicy *int64
}

// PurchaseView is the purchase of a buy answer: completed (with its id and
// ledger transaction) or pending approval (with the approval's id).
type PurchaseView struct {
	ID            *int64    `json:"id"`
	Status        string    `json:"status"`
	OrgID         int64     `json:"org_id"`
	PackageID     int64     `json:"package_id"`
	PackageSlug   string    `json:"package_slug"`
	AmountCents   int64     `json:"amount_cents"`
	ApprovalID    *int64    `json:"approval_id"`
	TransactionID *int64    `json:"transaction_id"`
	BalanceCents  int64     `json:"balance_after_cents"`
	AutoTopUp     bool      `json:"auto_top_up"`
	CreatedAt     time.Time `json:"created_at"`
}

// BuyResult is the answer of Buy and Approve.
type BuyResult struct {
	Status   string       `json:"status"` // completed or pending_approval
	Purchase PurchaseView `json:"purchase"`
}

const (
	StatusCompleted       = "completed"
	StatusPendingApproval = "pending_approval"
)

// Buy buys (or, when free, installs) a package for an org's wallet, checked
// in SPEC 9's order under the wallet's row lock. A refusal is audited as
// purchase.denied with its code and does not use the idempotency key. With
// group commit on (the default), the wallet's writer applies it together
// with the other purchases waiting on the same wallet.
func (s *Store) Buy(ctx context.Context, actor model.Actor, in BuyInput) (BuyResult, bool, error) {
	res, replayed, err := s.buy(ctx, actor, in)
	s.wstats.purchase(res, replayed, err)
	return res, replayed, err
}

func (s *Store) buy(ctx context.Context, actor model.Actor, in BuyInput) (BuyResult, bool, error) {
	if err := ValidateIdempotencyKey(in.Key); err != nil {
		return BuyResult{}, false, err
	}
	if ref := strings.TrimSpace(in.PackageRef); ref == "" || len(ref) > 200 || !model.ValidText(ref) {
		return BuyResult{}, false, model.NotFound("package") // never let one bad name fail a whole batch
	}
	if s.writers == nil {
		return s.buySingle(ctx, actor, in)
	}
	r := &buyRequest{ctx: ctx, actor: actor, in: in, done: make(chan buyAnswer, 1)}
	s.submit(r)
	select {
	case a := <-r.done:
		return a.res, a.replayed, a.err
	case <-ctx.Done():
		// The writer still answers into the buffered channel; the purchase
		// may or may not have happened, as with any lost answer: retry with
		// the same key to learn which.
		return BuyResult{}, false, ctx.Err()
	}
}

// buySingle is one purchase in its own transaction.
func (s *Store) buySingle(ctx context.Context, actor model.Actor, in BuyInput) (BuyResult, bool, error) {
	if err := ValidateIdempotencyKey(in.Key); err != nil {
		return BuyResult{}, false, err
	}
	var res BuyResult
	replayed := false
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		role, err := tx.roleIn(in.OrgID, actor.AccountID)
		if err != nil {
			return err
		}
		pkg, visible, err := tx.packageFor(in.PackageRef, actor.AccountID)
		if err != nil {
			return err
		}
		target := model.Target{Kind: "package", ID: strconv.FormatInt(pkg.ID, 10), Label: pkg.Slug}
		if !visible {
			target.Label = ""
		}
		first, err := claimKey[BuyResult](tx, in.OrgID, in.Key, requestHash("buy", in.OrgID, pkg.ID))
		if err != nil {
			return err
		}
		if first != nil {
			res, replayed = *first, true
			return nil
		}
		w, err := tx.lockWallet(in.OrgID)
		if err != nil {
			return err
		}
		policy, err := tx.governingPolicy(in.OrgID, in.TokenPolicy)
		if err != nil {
			return err
		}
		facts := model.PurchaseFacts{Role: role, Visible: visible, PackageType: pkg.Type, Vendor: pkg.Vendor,
			PriceCents: pkg.PriceCents, Policy: policy, BalanceCents: w.BalanceCents}
		if policy != nil && policy.Active {
			spent, err := tx.policySpent(policy.ID)
			if err != nil {
				return err
			}
			facts.SpentToday, facts.SpentMonth = spent.Today, spent.Month
		}
		outcome, err := model.DecidePurchase(facts)
		if err != nil {
			return tx.denyPurchase(in.OrgID, target, err)
		}
		if err := tx.refuseOwned(in.OrgID, pkg); err != nil {
			return err
		}
		la := actorOf(actor)
		var policyID *int64
		if policy != nil && policy.Active {
			policyID = &policy.ID
		}
		if outcome == model.OutcomePending {
			a, err := tx.requestApproval(in.OrgID, pkg, la, policyID)
			if err != nil {
				return err
			}
			res = BuyResult{Status: StatusPendingApproval, Purchase: PurchaseView{Status: StatusPendingApproval, OrgID: in.OrgID,
				PackageID: pkg.ID, PackageSlug: pkg.Slug, AmountCents: pkg.PriceCents, ApprovalID: &a.ID, BalanceCents: w.BalanceCents, CreatedAt: a.CreatedAt}}
		} else {
			res, err = tx.completePurchase(&w, pkg, pkg.PriceCents, la, policyID, nil, effectKey("buy", in.Key))
			if err != nil {
				return err
			}
		}
		return saveAnswer(tx, in.OrgID, in.Key, 201, res)
	})
	return res, replayed, err
}

// packageFor loads a package by id or slug for a buyer, and whether the
// buyer may see it. A package that does not exist is not found.
func (tx *Tx) packageFor(ref string, viewerID int64) (model.Package, bool, error) {
	var p model.Package
	ref = strings.TrimSpace(ref)
	if !model.ValidText(ref) || ref == "" {
		return p, false, model.NotFound("package")
	}
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		err = tx.GetContext(tx.ctx, &p, `SELECT `+packageCols+packageFrom+` WHERE p.id = $1`, id)
	} else {
		err = tx.GetContext(tx.ctx, &p, `SELECT `+packageCols+packageFrom+` WHERE p.slug = $1`, strings.ToLower(ref))
	}
	if err != nil {
		return p, false, notFound(err, "package")
	}
	var roles []model.Role
	if err := tx.SelectContext(tx.ctx, &roles, `SELECT role FROM memberships WHERE org_id = $1 AND account_id = $2`, p.OrgID, viewerID); err != nil {
		return p, false, fmt.Errorf("publisher membership: %w", err)
	}
	var role model.Role
	if len(roles) == 1 {
		role = roles[0]
	}
	return p, model.CanSeePackage(p.Visibility, role, viewerID, deref(p.PublisherID)), nil
}

// denyPurchase audits a refused purchase with its code, and returns err.
func (tx *Tx) denyPurchase(orgID int64, target model.Target, err error) error {
	target.Label = strings.TrimSpace(target.Label + " (" + string(model.CodeOf(err)) + ")")
	return tx.Deny(orgID, "purchase.denied", target, err)
}

// refuseOwned refuses buying what the org owns already; the wallet lock
// makes the check hold against a concurrent purchase of the same package.
func (tx *Tx) refuseOwned(orgID int64, pkg model.Package) error {
	var n int
	if err := tx.GetContext(tx.ctx, &n, `SELECT count(*) FROM entitlements WHERE org_id = $1 AND package_id = $2`, orgID, pkg.ID); err != nil {
		return fmt.Errorf("check entitlement: %w", err)
	}
	if n > 0 {
		return &model.Error{Code: model.CodeConflict, Message: fmt.Sprintf("This workspace owns %s already.", pkg.Name),
			Details: map[string]any{"package_id": pkg.ID}}
	}
	return nil
}

// completePurchase debits the locked wallet (nothing for a free package),
// counts the spend under the policy, records the purchase and the
// entitlement, and audits it.
func (tx *Tx) completePurchase(w *model.Wallet, pkg model.Package, amount int64, la ledgerActor, policyID, approvalID *int64, key string) (BuyResult, error) {
	var txnID *int64
	auto := false
	if amount > 0 {
		e, a, err := tx.debit(w, amount, &pkg.ID, la, key)
		if err != nil {
			return BuyResult{}, err
		}
		txnID = &e.TxnID
		auto = a != nil
		if policyID != nil {
			if err := tx.addPolicySpend(*policyID, amount); err != nil {
				return BuyResult{}, err
			}
		}
	}
	var p model.Purchase
	err := tx.GetContext(tx.ctx, &p, `INSERT INTO purchases (org_id, package_id, account_id, token_id, policy_id, amount_cents, txn_id, approval_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, org_id, package_id, account_id, token_id, policy_id, amount_cents, txn_id, approval_id, created_at`,
		w.OrgID, pkg.ID, la.AccountID, la.TokenID, policyID, amount, txnID, approvalID, tx.Now())
	if err != nil {
		return BuyResult{}, fmt.Errorf("insert purchase: %w", err)
	}
	_, err = tx.ExecContext(tx.ctx, `INSERT INTO entitlements (org_id, package_id, purchase_id, created_at) VALUES ($1, $2, $3, $4)`,
		w.OrgID, pkg.ID, p.ID, tx.Now())
	if isUniqueViolation(err, "") {
		return BuyResult{}, model.Conflict("This workspace owns %s already.", pkg.Name)
	}
	if err != nil {
		return BuyResult{}, fmt.Errorf("insert entitlement: %w", err)
	}
	label := pkg.Slug + " " + model.FormatCents(amount)
	if err := tx.Record(w.OrgID, "purchase.completed", model.Target{Kind: "package", ID: strconv.FormatInt(pkg.ID, 10), Label: label}); err != nil {
		return BuyResult{}, err
	}
	return BuyResult{Status: StatusCompleted, Purchase: PurchaseView{ID: &p.ID, Status: StatusCompleted, OrgID: w.OrgID, PackageID: pkg.ID,
		PackageSlug: pkg.Slug, AmountCents: amount, ApprovalID: approvalID, TransactionID: txnID, BalanceCents: w.BalanceCents,
		AutoTopUp: auto, CreatedAt: p.CreatedAt}}, nil
}

const approvalCols = `a.id, a.org_id, a.package_id, p.name AS package_name, a.requested_by, COALESCE(ac.email, '') AS buyer_email,
	a.token_id, a.policy_id, a.amount_cents, a.status, a.reason, a.decided_by, a.decided_at, a.expires_at, a.created_at`

// approvalFrom looks the requester up for each approval, as invitationFrom
// does the inviter. (Packages stay a join: a catalogue is small next to the
// accounts, and as a LATERAL lookup a small one is scanned whole per row.)
const approvalFrom = ` FROM approvals a JOIN packages p ON p.id = a.package_id
	LEFT JOIN LATERAL (SELECT * FROM accounts ac WHERE ac.id = a.requested_by OFFSET 0) ac ON true`

func approvalTarget(a model.Approval) model.Target {
	return model.Target{Kind: "approval", ID: strconv.FormatInt(a.ID, 10), Label: a.PackageName + " " + model.FormatCents(a.AmountCents)}
}

// requestApproval creates a pending approval (one per package per org).
func (tx *Tx) requestApproval(orgID int64, pkg model.Package, la ledgerActor, policyID *int64) (model.Approval, error) {
	var id int64
	err := tx.GetContext(tx.ctx, &id, `INSERT INTO approvals (org_id, package_id, requested_by, token_id, policy_id, amount_cents, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		orgID, pkg.ID, la.AccountID, la.TokenID, policyID, pkg.PriceCents, tx.Now().Add(model.ApprovalTTL), tx.Now())
	if isUniqueViolation(err, "approvals_pending_key") {
		return model.Approval{}, model.Conflict("A purchase of %s is already waiting for approval.", pkg.Name)
	}
	if err != nil {
		return model.Approval{}, fmt.Errorf("insert approval: %w", err)
	}
	a, err := tx.approval(orgID, id, false)
	if err != nil {
		return a, err
	}
	return a, tx.Record(orgID, "approval.requested", approvalTarget(a))
}

func (tx *Tx) approval(orgID, id int64, lock bool) (model.Approval, error) {
	q := `SELECT ` + approvalCols + approvalFrom + ` WHERE a.org_id = $1 AND a.id = $2`
	if lock {
		q += ` FOR UPDATE OF a`
	}
	var a model.Approval
	err := tx.GetContext(tx.ctx, &a, q, orgID, id)
	return a, notFound(err, "approval")
}

// ExpireApprovals marks pending approvals of org (0 = every org) older than
// 7 days on the store's clock as expired, audited, and reports how many.
func (s *Store) ExpireApprovals(ctx context.Context, orgID int64) (int, error) {
	if orgID != 0 {
		// Pages and purchases call this on every read: one cached probe
		// instead of a write transaction when nothing is due (the usual case).
		var due bool
		if err := s.db.GetContext(ctx, &due, `SELECT EXISTS (SELECT 1 FROM approvals
			WHERE org_id = $1 AND status = 'pending' AND expires_at <= $2)`, orgID, s.Now()); err != nil {
			return 0, fmt.Errorf("expire approvals: %w", err)
		}
		if !due {
			return 0, nil
		}
	}
	n := 0
	err := s.InTx(ctx, model.Actor{}, func(tx *Tx) error {
		var as []model.Approval
		err := tx.SelectContext(ctx, &as, `UPDATE approvals a SET status = 'expired', decided_at = $1
			FROM packages p WHERE p.id = a.package_id AND a.status = 'pending' AND a.expires_at <= $1 AND ($2::bigint = 0 OR a.org_id = $2::bigint)
			RETURNING a.id, a.org_id, a.package_id, p.name AS package_name, a.amount_cents, a.status, a.expires_at, a.created_at`, tx.Now(), orgID)
		if err != nil {
			return fmt.Errorf("expire approvals: %w", err)
		}
		for _, a := range as {
			if err := tx.Record(a.OrgID, "approval.expired", approvalTarget(a)); err != nil {
				return err
			}
		}
		n = len(as)
		return nil
	})
	return n, err
}

// Approvals lists an org's approvals, newest first: all of them for owners
// and admins, the caller's own for anyone else (the buyer sees the status).
func (s *Store) Approvals(ctx context.Context, actor model.Actor, orgID int64, status string) ([]model.Approval, error) {
	role, err := s.RoleIn(ctx, orgID, actor.AccountID)
	if err != nil {
		return nil, err
	}
	switch status {
	case "", "pending", "approved", "rejected", "expired":
	default:
		return nil, model.InvalidField("status", "Unknown status: use pending, approved, rejected or expired.")
	}
	if _, err := s.ExpireApprovals(ctx, orgID); err != nil {
		return nil, err
	}
	var mine int64
	if !model.Can(role, model.ActManagePolicies) {
		mine = actor.AccountID
	}
	var as []model.Approval
	err = s.db.SelectContext(ctx, &as, `SELECT `+approvalCols+approvalFrom+` WHERE a.org_id = $1 AND ($2::text = '' OR a.status = $2::text)
		AND ($3::bigint = 0 OR a.requested_by = $3::bigint) ORDER BY a.status = 'pending' DESC, a.id DESC LIMIT 200`, orgID, status, mine)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return as, nil
}

// Approval reads one approval as Approvals would show it.
func (s *Store) Approval(ctx context.Context, actor model.Actor, orgID, id int64) (model.Approval, error) {
	as, err := s.Approvals(ctx, actor, orgID, "")
	if err != nil {
		return model.Approval{}, err
	}
	for _, a := range as {
		if a.ID == id {
			return a, nil
		}
	}
	return model.Approval{}, model.NotFound("approval")
}

// decideApproval loads a pending approval under lock for an owner or admin.
func (tx *Tx) decideApproval(orgID, id int64, action string) (model.Approval, error) {
	role, err := tx.roleIn(orgID, tx.actor.AccountID)
	if err != nil {
		return model.Approval{}, err
	}
	a, err := tx.approval(orgID, id, true)
	if err != nil {
		return a, err
	}
	if !model.Can(role, model.ActManagePolicies) {
		return a, tx.Deny(orgID, action, approvalTarget(a), model.Forbidden("Only owners and admins decide approvals."))
	}
	if a.Status == "pending" && !a.ExpiresAt.After(tx.Now()) {
		return a, model.Conflict("This approval expired on %s; the buyer can ask again.", a.ExpiresAt.UTC().Format("Jan 2, 2006"))
	}
	if a.Status != "pending" {
		return a, model.Conflict("This approval is %s already.", a.Status)
	}
	return a, nil
}

// Approve grants a pending approval (owner, admin): every check of the
// purchase runs again for the buyer, except the approval threshold, and then
// the wallet is debited. A refusal leaves the approval pending.
//
// The debit is Buy's: completePurchase -> debit -> purchaseTxn, the same
// code the group-commit writer calls for each purchase of a batch (funds,
// auto top-up crossing, ledger legs) and the writer's own fallback path, with
// the same policy counters, and it counts in the same purchase-outcome
// metric. Approve does not queue on the writer: it must lock and re-read the
// approval row, decide as the approver (its audit actor), and leave the
// approval pending with its own denial event when a check fails, all of
// which a batch of buyers' purchases does not carry; and approvals are a
// person's clicks, so batching them gains nothing. It takes the same wallet
// row lock, so it serializes with the writer's batches on this and every
// other instance.
func (s *Store) Approve(ctx context.Context, actor model.Actor, orgID, id int64) (model.Approval, BuyResult, error) {
	if _, err := s.ExpireApprovals(ctx, orgID); err != nil {
		return model.Approval{}, BuyResult{}, err
	}
	var a model.Approval
	var res BuyResult
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var err error
		if a, err = tx.decideApproval(orgID, id, "approval.approved"); err != nil {
			return err
		}
		w, err := tx.lockWallet(orgID)
		if err != nil {
			return err
		}
		buyer := deref(a.RequestedBy)
		var role model.Role
		if r, err := tx.roleIn(orgID, buyer); err == nil {
			role = r
		}
		pkg, visible, err := tx.packageFor(strconv.FormatInt(a.PackageID, 10), buyer)
		if err != nil {
			return err
		}
		var policy *model.SpendPolicy
		if a.PolicyID != nil {
			policy, err = tx.governingPolicy(orgID, a.PolicyID)
		} else {
			policy, err = tx.governingPolicy(orgID, nil)
		}
		if err != nil {
			return err
		}
		facts := model.PurchaseFacts{Role: role, Visible: visible, PackageType: pkg.Type, Vendor: pkg.Vendor,
			PriceCents: a.AmountCents, Policy: policy, BalanceCents: w.BalanceCents, Approved: true}
		var policyID *int64
		if policy != nil && policy.Active {
			spent, err := tx.policySpent(policy.ID)
			if err != nil {
				return err
			}
			facts.SpentToday, facts.SpentMonth = spent.Today, spent.Month
			policyID = &policy.ID
		}
		if _, err := model.DecidePurchase(facts); err != nil {
			if e, ok := model.AsError(err); ok && e.Code == model.CodeNotFound {
				err = model.Conflict("The buyer can no longer see or buy this package.")
			} else if ok && e.Code == model.CodeForbidden {
				err = model.Conflict("The buyer's role can no longer buy packages.")
			}
			return tx.Deny(orgID, "approval.approved", approvalTarget(a), err)
		}
		if err := tx.refuseOwned(orgID, pkg); err != nil {
			return err
		}
		la := ledgerActor{AccountID: a.RequestedBy, TokenID: a.TokenID}
		res, err = tx.completePurchase(&w, pkg, a.AmountCents, la, policyID, &a.ID, "")
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = 'approved', decided_by = $1, decided_at = $2 WHERE id = $3`,
			actor.AccountID, tx.Now(), a.ID); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if a, err = tx.approval(orgID, a.ID, false); err != nil {
			return err
		}
		return tx.Record(orgID, "approval.approved", approvalTarget(a))
	})
	s.wstats.purchase(res, false, err)
	return a, res, err
}

// Reject refuses a pending approval with a reason (owner, admin).
func (s *Store) Reject(ctx context.Context, actor model.Actor, orgID, id int64, reason string) (model.Approval, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return model.Approval{}, model.InvalidField("reason", "Say why, so the buyer knows.")
	}
	if !model.ValidText(reason) || utf8.RuneCountInString(reason) > 500 {
		return model.Approval{}, model.InvalidField("reason", "Keep the reason to 500 characters of text.")
	}
	if _, err := s.ExpireApprovals(ctx, orgID); err != nil {
		return model.Approval{}, err
	}
	var a model.Approval
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var err error
		if a, err = tx.decideApproval(orgID, id, "approval.rejected"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = 'rejected', reason = $1, decided_by = $2, decided_at = $3 WHERE id = $4`,
			reason, actor.AccountID, tx.Now(), a.ID); err != nil {
			return fmt.Errorf("reject: %w", err)
		}
		if a, err = tx.approval(orgID, a.ID, false); err != nil {
			return err
		}
		return tx.Record(orgID, "approval.rejected", approvalTarget(a))
	})
	return a, err
}

// PackageStatus is what the package page shows a viewer about one package
// in their workspace: owned, waiting for approval, or neither.
type PackageStatus struct {
	Owned    bool
	Approval *model.Approval // the latest approval of this package in the org
}

// PackageStatusIn reads a package's status for org (any member).
func (s *Store) PackageStatusIn(ctx context.Context, orgID, packageID int64) (PackageStatus, error) {
	var st PackageStatus
	owned, err := s.Owns(ctx, orgID, packageID)
	if err != nil {
		return st, err
	}
	st.Owned = owned
	var as []model.Approval
	if err := s.db.SelectContext(ctx, &as, `SELECT `+approvalCols+approvalFrom+` WHERE a.org_id = $1 AND a.package_id = $2 ORDER BY a.id DESC LIMIT 1`, orgID, packageID); err != nil {
		return st, fmt.Errorf("package approval: %w", err)
	}
	if len(as) == 1 {
		st.Approval = &as[0]
	}
	return st, nil
}
