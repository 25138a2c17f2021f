package db_test

import (
	"context"
	"os"
	"testing"

	"github.com/pressly/goose/v3"

	"guildhall/db"
	"guildhall/db/dbtest"
)

// TestLedgerMigration: 00006 turns the old single-entry ledger_entries into
// balanced transactions, and its Down gives the entries back.
func TestLedgerMigration(t *testing.T) {
	ctx := context.Background()
	sqlDB := dbtest.New(t)
	s := db.New(sqlDB, db.WithFastPasswordHashing())
	acc, actor := signup(t, s, "ada@example.com")
	if _, _, err := s.TopUp(ctx, actor, acc.PersonalOrgID, 2500, ""); err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB.DB, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	// Down to before the ledger: the entry comes back as a row of the old table.
	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = sqlDB.Get(&n, `SELECT count(*) FROM ledger_entries WHERE org_id = $1 AND kind = 'top_up' AND amount_cents = 2500 AND balance_after_cents = 2500`, acc.PersonalOrgID)
	if n != 1 {
		t.Fatalf("after Down: %d entries", n)
	}
	// Old data: a purchase and a transfer pair written as single entries.
	sqlDB.MustExec(`INSERT INTO ledger_entries (org_id, kind, amount_cents, balance_after_cents, account_id, note)
		VALUES ($1, 'purchase', -500, 2000, $2, 'old purchase'), ($1, 'transfer_out', -2000, 0, $2, 'old transfer')`, acc.PersonalOrgID, acc.ID)
	sqlDB.MustExec(`UPDATE wallets SET balance_cents = 0 WHERE org_id = $1`, acc.PersonalOrgID)
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckLedger(ctx); err != nil {
		t.Fatal(err)
	}
	var legs []struct {
		Account string `db:"account"`
		Amount  int64  `db:"amount_cents"`
	}
	if err := sqlDB.Select(&legs, `SELECT account, amount_cents FROM postings ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	want := []string{"wallet:", "funding:migrated", "wallet:", "sales", "wallet:", "funding:migrated"}
	if len(legs) != len(want) {
		t.Fatalf("postings after Up: %+v", legs)
	}
	for i, l := range legs {
		if len(l.Account) < len(want[i]) || l.Account[:len(want[i])] != want[i] {
			t.Fatalf("posting %d: %+v, want account %s", i, l, want[i])
		}
	}
	// The migrated wallet keeps working.
	if _, _, err := s.TopUp(ctx, actor, acc.PersonalOrgID, 100, "after"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckLedger(ctx); err != nil {
		t.Fatal(err)
	}
}
