package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/lib/pq"

	"guildhall/db/model"
)

// WalletOverview is what the wallet page shows a manager of the wallet: the
// wallet, a page of its history and its spending per day.
type WalletOverview struct {
	Wallet  model.Wallet
	Entries EntryPage
	Days    []DaySpend
}

// WalletOverview reads Wallet, Entries (f; none when withEntries is false:
// a member filter that matches no account) and SpendingByDay (the last days
// days) in one statement, scanned by hand (owner, admin, billing). The
// history is the statement's rows, each with the wallet's columns; the
// spending series, two arrays, comes on the first row only; an org without
// entries gives one row whose entry id is 0.
func (s *Store) WalletOverview(ctx context.Context, actor model.Actor, orgID int64, f model.EntryFilter, withEntries bool, days int) (WalletOverview, error) {
	var out WalletOverview
	if err := s.requireAction(ctx, actor, orgID, model.ActManageWallet, "Only owners, admins and billing members can read the wallet's transactions."); err != nil {
		return out, err
	}
	if err := validateEntryFilter(f); err != nil {
		return out, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = defaultEntriesLimit
	}
	start := model.DayWindow(s.Now()).AddDate(0, 0, -(days - 1))
	where, args := entryWhere(orgID, f)
	if !withEntries {
		where += " AND false"
	}
	args = append(args, start.Format(time.DateOnly))
	startArg := "$" + strconv.Itoa(len(args)) + "::date"
	query, args := limitArgs(`SELECT w.org_id, w.balance_cents, w.auto_top_up_enabled, w.threshold_cents, w.top_up_amount_cents, w.crossings, w.updated_at,
	CASE WHEN e.n IS NULL OR e.n = 1 THEN s.days END, CASE WHEN e.n IS NULL OR e.n = 1 THEN s.cents END,
	COALESCE(e.id, 0), COALESCE(e.txn_id, 0), COALESCE(e.org_id, 0), COALESCE(e.kind, ''), COALESCE(e.amount_cents, 0),
	COALESCE(e.balance_after_cents, 0), e.account_id, e.token_id, e.package_id, COALESCE(e.note, ''), e.created_at,
	COALESCE(e.actor_email, ''), COALESCE(e.package_name, '')
	FROM wallets w
	CROSS JOIN (SELECT COALESCE(array_agg(d.day - `+startArg+`), '{}') AS days, COALESCE(array_agg(d.cents), '{}') AS cents
		FROM wallet_day_spend d WHERE d.org_id = $1 AND d.day >= `+startArg+`) s
	LEFT JOIN LATERAL (SELECT `+entryCols+`, row_number() OVER (ORDER BY p.id DESC) AS n`+entryFrom+`
		WHERE `+where+` ORDER BY p.id DESC LIMIT :limit) e ON true
	WHERE w.org_id = $1 ORDER BY e.n`, f.Limit+1, args, WalletPageEntries+1, defaultEntriesLimit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return out, fmt.Errorf("wallet overview: %w", err)
	}
	defer rows.Close()
	es := []model.LedgerEntry{}
	var offsets, cents pq.Int64Array
	found := false
	w := &out.Wallet
	for rows.Next() {
		found = true
		var e model.LedgerEntry
		var created sql.NullTime
		dst := []any{&w.OrgID, &w.BalanceCents, &w.Enabled, &w.ThresholdCents, &w.TopUpAmountCents, &w.Crossings, &w.UpdatedAt,
			&offsets, &cents, &e.ID, &e.TxnID, &e.OrgID, &e.Kind, &e.AmountCents, &e.BalanceAfterCents, &e.AccountID,
			&e.TokenID, &e.PackageID, &e.Note, &created, &e.ActorEmail, &e.PackageName}
		if len(es) > 0 {
			dst[7], dst[8] = new(sql.RawBytes), new(sql.RawBytes) // NULL after the first row
		}
		if err := rows.Scan(dst...); err != nil {
			return out, fmt.Errorf("wallet overview: %w", err)
		}
		if e.ID != 0 {
			e.CreatedAt = created.Time
			es = append(es, e)
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("wallet overview: %w", err)
	}
	if !found {
		return out, model.NotFound("wallet")
	}
	out.Entries.Entries = es
	if len(es) > f.Limit {
		out.Entries.Entries = es[:f.Limit]
		out.Entries.Next = es[f.Limit-1].ID
	}
	by := make(map[int64]int64, len(offsets))
	for i, o := range offsets {
		by[o] = cents[i]
	}
	out.Days = make([]DaySpend, days)
	for i := range out.Days {
		out.Days[i] = DaySpend{Day: start.AddDate(0, 0, i), Cents: by[int64(i)]}
	}
	return out, nil
}
