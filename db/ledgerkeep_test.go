package db_test

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
	"guildhall/db/querycount"
)

// TestWalletHistoryKeptWhileNothingChanges: a server keeps the first page
// of an org's wallet history (db/ledgerkeep.go), so a wallet page that
// shows what it showed last time is one statement. Whatever the page shows
// is never older than the database: a purchase made through another
// server, an email change and a package rename show on the next page. A
// change the page does not show (an account's name) keeps the page; a
// filtered or later page is always read.
func TestWalletHistoryKeptWhileNothingChanges(t *testing.T) {
	conn, err := querycount.Connector(dbtest.NewDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	pool := sqlx.NewDb(sql.OpenDB(conn), "postgres")
	t.Cleanup(func() { pool.Close() })
	f := newMoneyFixOn(t, pool)
	other := db.New(pool, db.WithFastPasswordHashing()) // a second server on the database
	f.topUp(100_00)
	p := f.pkg("skill", 1_25)
	for range 3 {
		f.s.DB().MustExec(`DELETE FROM entitlements WHERE org_id = $1`, f.org.ID)
		if _, err := f.buy(f.member, p); err != nil {
			t.Fatal(err)
		}
	}
	page := model.EntryFilter{Limit: db.WalletPageEntries}

	// view reads the wallet page's data on s as f.owner; it checks the
	// history against Entries read afresh and answers it with its
	// statement count.
	view := func(s *db.Store, ef model.EntryFilter) (db.EntryPage, int) {
		t.Helper()
		n := &querycount.Counter{}
		// The owner's role as a page knows it (db.WithKnownRoles): the
		// count is the page's own statements.
		ctx := db.WithKnownRoles(querycount.With(f.ctx, n), f.owner.AccountID, []model.Workspace{{Org: f.org, Role: model.RoleOwner}})
		got, err := s.WalletOverview(ctx, f.owner, f.org.ID, ef, true, 30)
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.s.Entries(f.ctx, f.owner, f.org.ID, ef)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Entries, want) {
			t.Fatalf("filter %+v: the page shows\n%+v\nthe database holds\n%+v", ef, got.Entries, want)
		}
		return got.Entries, n.N()
	}
	expect := func(what string, s *db.Store, ef model.EntryFilter, statements int) db.EntryPage {
		t.Helper()
		got, n := view(s, ef)
		if n != statements {
			t.Errorf("%s: %d statements, want %d", what, n, statements)
		}
		return got
	}

	expect("first wallet page on this server", f.s, page, 2)
	first := expect("the same page again", f.s, page, 1)
	if len(first.Entries) != 4 || first.Entries[0].ActorEmail != "member@example.com" || first.Entries[0].PackageName != p.Name {
		t.Fatalf("kept page: %+v", first.Entries)
	}
	expect("first wallet page on the other server", other, page, 2)

	// A purchase made through the other server.
	f.s.DB().MustExec(`DELETE FROM entitlements WHERE org_id = $1`, f.org.ID)
	if _, _, err := other.Buy(f.ctx, f.admin, db.BuyInput{OrgID: f.org.ID, PackageRef: fmt.Sprint(p.ID)}); err != nil {
		t.Fatal(err)
	}
	got := expect("after a purchase through the other server", f.s, page, 2)
	if len(got.Entries) != 5 || got.Entries[0].ActorEmail != "admin@example.com" {
		t.Fatalf("the purchase is not on the page: %+v", got.Entries[0])
	}
	expect("after the purchase, again", f.s, page, 1)

	// An email change (here in SQL: the epoch moves in the database).
	f.s.DB().MustExec(`UPDATE accounts SET email = 'member.new@example.com' WHERE id = $1`, f.member.AccountID)
	got = expect("after an email change", f.s, page, 2)
	if got.Entries[1].ActorEmail != "member.new@example.com" {
		t.Fatalf("the new email is not on the page: %+v", got.Entries[1])
	}
	// A change the page does not show keeps it.
	f.s.DB().MustExec(`UPDATE accounts SET name = 'Someone Else' WHERE id = $1`, f.member.AccountID)
	expect("after a change of name", f.s, page, 1)

	// A package renamed through the store, on the other server.
	name := "Renamed skill"
	if _, err := other.UpdatePackage(f.ctx, f.outsider, f.vendor.ID, p.ID, model.PackageInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	got = expect("after a package rename", f.s, page, 2)
	if got.Entries[0].PackageName != name {
		t.Fatalf("the new name is not on the page: %+v", got.Entries[0])
	}
	expect("after the rename, again", other, page, 2)
	expect("after the rename, again", other, page, 1)

	// Filters and later pages are read every time.
	for _, ef := range []model.EntryFilter{{Kind: "purchase", Limit: db.WalletPageEntries}, {UserID: f.member.AccountID, Limit: db.WalletPageEntries},
		{Before: got.Entries[1].ID, Limit: db.WalletPageEntries}, {Limit: 2}} {
		for range 2 {
			expect("a filtered page", f.s, ef, 2)
		}
	}
	// A page handed out is the caller's: changing it changes no later page.
	handed := expect("the kept page", f.s, page, 1)
	handed.Entries[0].PackageName = "changed by a caller"
	if kept := expect("the kept page, after a caller changed its copy", f.s, page, 1); strings.Contains(kept.Entries[0].PackageName, "caller") {
		t.Fatal("a caller's change reached the kept page")
	}
	hits, misses := f.s.LedgerKeepStats()
	if hits == 0 || misses == 0 {
		t.Errorf("stats: %d hits, %d misses", hits, misses)
	}
}

// TestWalletHistoryKeptUnderConcurrentPurchases: purchases through two
// servers race pages read on both; once the purchases are done, the next
// page on either server is the database's, whatever each server kept while
// they ran (a page kept under a key that a later posting could slip behind
// would stay stale here).
func TestWalletHistoryKeptUnderConcurrentPurchases(t *testing.T) {
	f := newMoneyFix(t)
	other := db.New(f.s.DB(), db.WithFastPasswordHashing())
	stores := []*db.Store{f.s, other}
	f.topUp(1_000_00)
	const buyers, each = 6, 5
	pkgs := make([]model.Package, buyers*each)
	for i := range pkgs {
		pkgs[i] = f.pkg("skill", int64(100+i))
	}
	page := model.EntryFilter{Limit: db.WalletPageEntries}
	ctx := db.WithKnownRoles(f.ctx, f.owner.AccountID, []model.Workspace{{Org: f.org, Role: model.RoleOwner}})
	var wg sync.WaitGroup
	errs := make(chan error, buyers+4)
	done := make(chan struct{})
	for g := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := pkgs[g*each+i]
				if _, _, err := stores[(g+i)%2].Buy(f.ctx, f.member, db.BuyInput{OrgID: f.org.ID, PackageRef: fmt.Sprint(p.ID)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				o, err := stores[r%2].WalletOverview(ctx, f.owner, f.org.ID, page, true, 30)
				if err != nil {
					errs <- err
					return
				}
				// Whatever a page shows is a prefix of the history: newest
				// first, each balance the one after it plus its amount.
				es := o.Entries.Entries
				for i := 0; i+1 < len(es); i++ {
					if es[i].ID <= es[i+1].ID || es[i].BalanceAfterCents != es[i+1].BalanceAfterCents+es[i].AmountCents {
						errs <- fmt.Errorf("a page out of order or with a gap: %+v then %+v", es[i], es[i+1])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want, err := f.s.Entries(f.ctx, f.owner, f.org.ID, page)
	if err != nil {
		t.Fatal(err)
	}
	if want.Entries[0].Kind != "purchase" || len(want.Entries) != db.WalletPageEntries {
		t.Fatalf("history: %+v", want.Entries)
	}
	for i, s := range stores {
		for range 2 {
			o, err := s.WalletOverview(ctx, f.owner, f.org.ID, page, true, 30)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Entries, want) {
				t.Fatalf("server %d after the purchases: the page shows\n%+v\nthe database holds\n%+v", i+1, o.Entries, want)
			}
		}
	}
}
