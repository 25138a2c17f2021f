package db

import (
	"context"
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

// WalletOverview reads Wallet and SpendingByDay (the last days days) in one
// statement, and Entries (f; none when withEntries is false: a member filter
// that matches no account) in another, both scanned by hand (owner, admin,
// billing). Merging the history into the first statement too (a LATERAL
// page, the series on its first row) cost PostgreSQL its sort and window
// what the round trip saved. The unfiltered first page of history is kept
// by the server instead (ledgerkeep.go): the first statement also reads the
// org's newest posting and names_epoch, and while they match the kept page,
// the page is one statement.
func (s *Store) WalletOverview(ctx context.Context, actor model.Actor, orgID int64, f model.EntryFilter, withEntries bool, days int) (WalletOverview, error) {
	var out WalletOverview
	if err := s.requireAction(ctx, actor, orgID, model.ActManageWallet, "Only owners, admins and billing members can read the wallet's transactions."); err != nil {
		return out, err
	}
	if err := validateEntryFilter(f); err != nil {
		return out, err
	}
	start := model.DayWindow(s.Now()).AddDate(0, 0, -(days - 1))
	var offsets, cents pq.Int64Array
	var newest, epoch int64
	w := &out.Wallet
	// The two arrays aggregate the same rows in the same order.
	err := s.db.scanRow(ctx, `SELECT w.org_id, w.balance_cents, w.auto_top_up_enabled, w.threshold_cents, w.top_up_amount_cents, w.crossings,
		w.updated_at, s.days, s.cents,
		COALESCE((SELECT p.id FROM postings p WHERE p.org_id = $1 ORDER BY p.id DESC LIMIT 1), 0) AS newest, (SELECT v FROM names_epoch) AS names
		FROM wallets w CROSS JOIN (SELECT COALESCE(array_agg(d.day - $2::date), '{}') AS days, COALESCE(array_agg(d.cents), '{}') AS cents
			FROM wallet_day_spend d WHERE d.org_id = $1 AND d.day >= $2::date) s
		WHERE w.org_id = $1`, []any{orgID, start.Format(time.DateOnly)},
		&w.OrgID, &w.BalanceCents, &w.Enabled, &w.ThresholdCents, &w.TopUpAmountCents, &w.Crossings, &w.UpdatedAt, &offsets, &cents, &newest, &epoch)
	if err != nil {
		return out, notFound(err, "wallet")
	}
	by := make(map[int64]int64, len(offsets))
	for i, o := range offsets {
		by[o] = cents[i]
	}
	out.Days = make([]DaySpend, days)
	for i := range out.Days {
		out.Days[i] = DaySpend{Day: start.AddDate(0, 0, i), Cents: by[int64(i)]}
	}
	out.Entries.Entries = []model.LedgerEntry{}
	if !withEntries {
		return out, nil
	}
	keep := keepsLedgerPage(f)
	if keep {
		if page, ok := s.ledger.get(orgID, newest, epoch); ok {
			out.Entries = page
			return out, nil
		}
	}
	if out.Entries, err = s.entryPage(ctx, orgID, f); err != nil {
		return out, err
	}
	if keep {
		s.ledger.put(orgID, newest, epoch, out.Entries)
	}
	return out, nil
}
