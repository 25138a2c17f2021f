package db_test

import (
	"reflect"
	"testing"
	"time"

	"guildhall/db/model"
)

// TestWalletOverviewMatchesItsParts: the wallet page's one hand-scanned
// statement answers field by field what Wallet, Entries and SpendingByDay
// answer apart: with no entries, with purchases over several days (some
// days without spending), through every filter and cursor, at page sizes
// that end exactly and not, for owner, admin and billing; a member is
// refused as Entries refuses.
func TestWalletOverviewMatchesItsParts(t *testing.T) {
	f := newMoneyFix(t)
	compare := func(who model.Actor, ef model.EntryFilter, with bool, days int) {
		t.Helper()
		got, err := f.s.WalletOverview(f.ctx, who, f.org.ID, ef, with, days)
		if err != nil {
			t.Fatalf("overview %+v: %v", ef, err)
		}
		w, err := f.s.Wallet(f.ctx, who, f.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Wallet, w) {
			t.Errorf("wallet %+v, want %+v", got.Wallet, w)
		}
		want, err := f.s.Entries(f.ctx, who, f.org.ID, ef)
		if err != nil {
			t.Fatal(err)
		}
		if !with {
			want.Entries, want.Next = []model.LedgerEntry{}, 0
		}
		if !reflect.DeepEqual(got.Entries, want) {
			t.Errorf("filter %+v: entries\n%+v\nwant %+v", ef, got.Entries, want)
		}
		ds, err := f.s.SpendingByDay(f.ctx, who, f.org.ID, days)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Days, ds) {
			t.Errorf("days\n%+v\nwant %+v", got.Days, ds)
		}
	}
	compare(f.owner, model.EntryFilter{Limit: 25}, true, 30) // no entries yet
	f.topUp(100_00)
	compare(f.owner, model.EntryFilter{Limit: 25}, true, 30)
	p := f.pkg("skill", 1_25)
	for i := range 12 {
		if i%4 == 3 {
			f.advance(48 * time.Hour) // a day without spending
		}
		who := f.owner
		if i%2 == 1 {
			who = f.member
		}
		f.s.DB().MustExec(`DELETE FROM entitlements WHERE org_id = $1`, f.org.ID)
		if _, err := f.buy(who, p); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := f.s.SpendingByDay(f.ctx, f.owner, f.org.ID, 30)
	if err != nil {
		t.Fatal(err)
	}
	spent := 0
	for _, d := range ds {
		if d.Cents > 0 {
			spent++
		}
	}
	if spent < 3 {
		t.Fatalf("spending on %d days, want several: %+v", spent, ds)
	}
	f.advance(40 * 24 * time.Hour / 30) // the window moves: the oldest days fall out of a short series
	for _, who := range []model.Actor{f.owner, f.admin, f.billing} {
		for _, limit := range []int{25, 5, 13, 0} {
			compare(who, model.EntryFilter{Limit: limit}, true, 30)
		}
	}
	first, err := f.s.Entries(f.ctx, f.owner, f.org.ID, model.EntryFilter{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, ef := range []model.EntryFilter{{Kind: "purchase", Limit: 25}, {Kind: "top_up", Limit: 25}, {UserID: f.member.AccountID, Limit: 3},
		{Before: first.Next, Limit: 5}, {Kind: "purchase", UserID: f.owner.AccountID, Before: first.Next, Limit: 2}, {Kind: "refund", Limit: 25}} {
		compare(f.owner, ef, true, 30)
		compare(f.owner, ef, true, 3)
		// Without names (the API's read): the same entries, names empty.
		withNames, err := f.s.Entries(f.ctx, f.owner, f.org.ID, ef)
		if err != nil {
			t.Fatal(err)
		}
		ef.NoNames = true
		bare, err := f.s.Entries(f.ctx, f.owner, f.org.ID, ef)
		if err != nil {
			t.Fatal(err)
		}
		for i := range withNames.Entries {
			withNames.Entries[i].ActorEmail, withNames.Entries[i].PackageName = "", ""
		}
		if !reflect.DeepEqual(bare, withNames) {
			t.Errorf("%+v: entries without names differ:\n%+v\n%+v", ef, bare, withNames)
		}
	}
	compare(f.owner, model.EntryFilter{Limit: 25}, false, 30)
	if _, err := f.s.WalletOverview(f.ctx, f.member, f.org.ID, model.EntryFilter{Limit: 25}, true, 30); model.CodeOf(err) != model.CodeForbidden {
		t.Errorf("member: %v, want forbidden", err)
	}
	if _, err := f.s.WalletOverview(f.ctx, f.owner, f.org.ID, model.EntryFilter{Kind: "nope"}, true, 30); model.CodeOf(err) != model.CodeValidation {
		t.Errorf("bad kind: %v, want validation", err)
	}
}
