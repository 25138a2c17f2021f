package db_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// moneyFix is an org "acme" with one member of each role, a vendor org that
// publishes packages, and a clock the test moves.
type moneyFix struct {
	t                             *testing.T
	s                             *db.Store
	ctx                           context.Context
	now                           atomic.Int64 // unix nanoseconds
	org                           model.Org
	vendor                        model.Org
	owner, admin, member, billing model.Actor
	outsider                      model.Actor
	seq                           int
}

func newMoneyFix(t *testing.T, opts ...db.Option) *moneyFix {
	t.Helper()
	return newMoneyFixOn(t, dbtest.New(t), opts...)
}

// newMoneyFixOn is newMoneyFix on pool (one that counts statements, say).
func newMoneyFixOn(t *testing.T, pool *sqlx.DB, opts ...db.Option) *moneyFix {
	t.Helper()
	f := &moneyFix{t: t, ctx: context.Background()}
	f.now.Store(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC).UnixNano())
	opts = append([]db.Option{db.WithFastPasswordHashing(), db.WithClock(func() time.Time { return time.Unix(0, f.now.Load()).UTC() })}, opts...)
	f.s = db.New(pool, opts...)
	_, f.owner = signup(t, f.s, "owner@example.com")
	_, f.admin = signup(t, f.s, "admin@example.com")
	_, f.member = signup(t, f.s, "member@example.com")
	_, f.billing = signup(t, f.s, "billing@example.com")
	_, f.outsider = signup(t, f.s, "outsider@example.com")
	ws, err := f.s.CreateOrg(f.ctx, f.owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	f.org = ws.Org
	for _, m := range []struct {
		a    model.Actor
		role string
	}{{f.admin, "admin"}, {f.member, "member"}, {f.billing, "billing"}} {
		f.s.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, f.org.ID, m.a.AccountID, m.role)
	}
	vs, err := f.s.CreateOrg(f.ctx, f.outsider, db.CreateOrgInput{DisplayName: "Trusted Vendor", Slug: "trusted"})
	if err != nil {
		t.Fatal(err)
	}
	f.vendor = vs.Org
	return f
}

func (f *moneyFix) advance(d time.Duration) { f.now.Add(int64(d)) }

// pkg publishes a public package of the vendor org.
func (f *moneyFix) pkg(typ string, price int64) model.Package {
	f.t.Helper()
	return f.pkgBy(f.outsider, f.vendor.ID, typ, price, "public")
}

func (f *moneyFix) pkgBy(a model.Actor, orgID int64, typ string, price int64, vis string) model.Package {
	f.t.Helper()
	f.seq++
	slug := fmt.Sprintf("pkg-%d", f.seq)
	p, err := f.s.PublishPackage(f.ctx, a, orgID, model.PackageInput{Slug: &slug, Name: &slug, Type: &typ, PriceCents: &price, Visibility: &vis})
	if err != nil {
		f.t.Fatalf("publish: %v", err)
	}
	return p
}

func (f *moneyFix) topUp(amount int64) {
	f.t.Helper()
	if _, _, err := f.s.TopUp(f.ctx, f.owner, f.org.ID, amount, ""); err != nil {
		f.t.Fatalf("top up: %v", err)
	}
}

func (f *moneyFix) buy(a model.Actor, p model.Package) (db.BuyResult, error) {
	r, _, err := f.s.Buy(f.ctx, a, db.BuyInput{OrgID: f.org.ID, PackageRef: fmt.Sprint(p.ID)})
	return r, err
}

func (f *moneyFix) balance() int64 {
	f.t.Helper()
	w, err := f.s.Wallet(f.ctx, f.owner, f.org.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return w.BalanceCents
}

func (f *moneyFix) check() {
	f.t.Helper()
	if err := f.s.CheckLedger(f.ctx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *moneyFix) auditCount(action, outcome, labelLike string) int {
	var n int
	_ = f.s.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE action = $1 AND outcome = $2 AND target_label LIKE $3`, action, outcome, labelLike)
	return n
}

func TestLedgerIsDoubleEntryAndAppendOnly(t *testing.T) {
	f := newMoneyFix(t)
	f.topUp(5000)
	f.check()
	var legs []struct {
		Account string `db:"account"`
		Amount  int64  `db:"amount_cents"`
	}
	if err := f.s.DB().Select(&legs, `SELECT account, amount_cents FROM postings ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(legs) != 2 || legs[0].Account != fmt.Sprintf("wallet:%d", f.org.ID) || legs[0].Amount != 5000 || legs[1].Account != "funding:manual" || legs[1].Amount != -5000 {
		t.Fatalf("postings of a top-up: %+v", legs)
	}
	for _, q := range []string{`UPDATE postings SET amount_cents = 1`, `DELETE FROM postings`, `UPDATE ledger_transactions SET note = 'x'`, `DELETE FROM ledger_transactions`, `TRUNCATE postings CASCADE`} {
		if _, err := f.s.DB().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// An unbalanced transaction cannot commit.
	tx := f.s.DB().MustBegin()
	var id int64
	if err := tx.Get(&id, `INSERT INTO ledger_transactions (org_id, kind) VALUES ($1, 'top_up') RETURNING id`, f.org.ID); err != nil {
		t.Fatal(err)
	}
	tx.MustExec(`INSERT INTO postings (txn_id, account, kind, amount_cents) VALUES ($1, 'sales', 'purchase', 10), ($1, 'funding:manual', 'purchase', -9)`, id)
	if err := tx.Commit(); err == nil || !strings.Contains(err.Error(), "not balanced") {
		t.Fatalf("unbalanced commit: %v", err)
	}
	// The balance can never go below 0.
	if _, err := f.s.DB().Exec(`UPDATE wallets SET balance_cents = -1 WHERE org_id = $1`, f.org.ID); err == nil {
		t.Fatal("negative balance accepted")
	}
	// The old table's readers keep working through the view.
	var sum int64
	_ = f.s.DB().Get(&sum, `SELECT sum(amount_cents) FROM ledger_entries WHERE org_id = $1`, f.org.ID)
	if sum != 5000 {
		t.Fatalf("ledger_entries view sums %d", sum)
	}
}

func TestTopUpIdempotency(t *testing.T) {
	f := newMoneyFix(t)
	r1, rep1, err := f.s.TopUp(f.ctx, f.billing, f.org.ID, 2500, "key-1")
	if err != nil || rep1 || r1.Status != "completed" || r1.BalanceCents != 2500 || r1.Entry == nil || r1.Provider != "manual" {
		t.Fatalf("first: %+v %v %v", r1, rep1, err)
	}
	r2, rep2, err := f.s.TopUp(f.ctx, f.billing, f.org.ID, 2500, "key-1")
	if err != nil || !rep2 || r2.Entry.ID != r1.Entry.ID || r2.BalanceCents != 2500 {
		t.Fatalf("replay: %+v %v %v", r2, rep2, err)
	}
	if b := f.balance(); b != 2500 {
		t.Fatalf("charged twice: %d", b)
	}
	_, _, err = f.s.TopUp(f.ctx, f.billing, f.org.ID, 9999, "key-1")
	wantCode(t, err, model.CodeIdempotencyConflict)
	// Refused requests do not use their key: validation, and a forbidden role.
	_, _, err = f.s.TopUp(f.ctx, f.billing, f.org.ID, 0, "key-2")
	wantCode(t, err, model.CodeValidation)
	_, _, err = f.s.TopUp(f.ctx, f.member, f.org.ID, 100, "key-2")
	wantCode(t, err, model.CodeForbidden)
	if _, rep, err := f.s.TopUp(f.ctx, f.billing, f.org.ID, 100, "key-2"); err != nil || rep {
		t.Fatalf("key-2 after refusals: %v %v", rep, err)
	}
	// Concurrent same-key requests move money once.
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := f.s.TopUp(f.ctx, f.billing, f.org.ID, 700, "race"); err != nil {
				t.Errorf("race: %v", err)
			}
		}()
	}
	wg.Wait()
	if b := f.balance(); b != 2500+100+700 {
		t.Fatalf("balance after racing same key: %d", b)
	}
	if n := f.auditCount("wallet.top_up", "success", "%"); n != 3 {
		t.Fatalf("%d top-up events", n)
	}
	if n := f.auditCount("wallet.top_up", "denied", "%"); n != 1 {
		t.Fatalf("%d denied top-up events", n)
	}
	// Keys are kept at least 30 days.
	if n, _ := f.s.PurgeIdempotencyKeys(f.ctx, time.Hour); n != 0 {
		t.Fatalf("purged %d young keys", n)
	}
	f.advance(31 * 24 * time.Hour)
	if n, _ := f.s.PurgeIdempotencyKeys(f.ctx, time.Hour); n != 3 {
		t.Fatalf("purged %d old keys", n)
	}
	// Even after the purge, an old key never moves money twice.
	_, _, err = f.s.TopUp(f.ctx, f.billing, f.org.ID, 2500, "key-1")
	wantCode(t, err, model.CodeIdempotencyConflict)
	f.check()
}

func limit(v int64) *int64 { return &v }

// TestBuyFollowsThePolicy walks SPEC 9's steps with one policy, through the
// group-commit writer and through one transaction per purchase.
func TestBuyFollowsThePolicy(t *testing.T) {
	t.Run("group commit", func(t *testing.T) { testBuyFollowsThePolicy(t) })
	t.Run("one transaction each", func(t *testing.T) { testBuyFollowsThePolicy(t, db.WithGroupCommit(false)) })
}

func testBuyFollowsThePolicy(t *testing.T, opts ...db.Option) {
	f := newMoneyFix(t, opts...)
	f.topUp(100000)
	name := "Engineering"
	pol, err := f.s.CreatePolicy(f.ctx, f.admin, f.org.ID, db.PolicyInput{Name: &name,
		MaxPerPurchaseCents: limit(1000), DailyLimitCents: limit(2000), MonthlyLimitCents: limit(20000), RequireApprovalAboveCents: limit(500),
		VendorAllowlist: &[]string{"trusted"}, BlockedTypes: &[]string{"mcp_server"}})
	if err != nil || !pol.IsDefault {
		t.Fatalf("policy: %+v %v", pol, err)
	}
	_, err = f.s.CreatePolicy(f.ctx, f.member, f.org.ID, db.PolicyInput{Name: &name})
	wantCode(t, err, model.CodeForbidden)

	under := f.pkg("skill", 400)
	r, err := f.buy(f.member, under)
	if err != nil || r.Status != db.StatusCompleted || r.Purchase.BalanceCents != 99600 {
		t.Fatalf("under the limits: %+v %v", r, err)
	}
	_, err = f.buy(f.member, under)
	wantCode(t, err, model.CodeConflict) // owned already
	_, err = f.buy(f.billing, f.pkg("skill", 100))
	wantCode(t, err, model.CodeForbidden)
	_, err = f.buy(f.member, f.pkg("mcp_server", 100))
	wantCode(t, err, model.CodeBlockedType)
	own := f.pkgBy(f.owner, f.org.ID, "skill", 100, "public") // vendor acme, not allowed
	_, err = f.buy(f.member, own)
	wantCode(t, err, model.CodeVendorNotAllowed)
	_, err = f.buy(f.member, f.pkg("skill", 5000))
	wantCode(t, err, model.CodeOverMaxPerPurchase)
	// Pending approval needs no funds yet, and does not count toward limits.
	pend, err := f.buy(f.member, f.pkg("skill", 900))
	if err != nil || pend.Status != db.StatusPendingApproval || pend.Purchase.ApprovalID == nil || pend.Purchase.ID != nil {
		t.Fatalf("above the threshold: %+v %v", pend, err)
	}
	for i := 0; i < 4; i++ { // 400 + 4*400 = 2000, the daily limit exactly
		if _, err := f.buy(f.member, f.pkg("skill", 400)); err != nil {
			t.Fatalf("buy %d: %v", i, err)
		}
	}
	_, err = f.buy(f.member, f.pkg("skill", 1))
	wantCode(t, err, model.CodeOverDailyLimit)
	// The next UTC day the daily window is fresh.
	f.advance(12 * time.Hour)
	if _, err := f.buy(f.member, f.pkg("skill", 500)); err != nil {
		t.Fatalf("next day: %v", err)
	}
	if n := f.auditCount("purchase.denied", "denied", "%(over_daily_limit)"); n != 1 {
		t.Fatalf("denied purchases audited with their code: %d", n)
	}
	if n := f.auditCount("purchase.denied", "denied", "%(blocked_type)"); n != 1 {
		t.Fatalf("blocked_type audited: %d", n)
	}
	// Insufficient funds: a fresh org with no money and no policy.
	poor, _ := f.s.CreateOrg(f.ctx, f.owner, db.CreateOrgInput{DisplayName: "Poor"})
	_, _, err = f.s.Buy(f.ctx, f.owner, db.BuyInput{OrgID: poor.ID, PackageRef: fmt.Sprint(f.pkg("skill", 10).ID)})
	wantCode(t, err, model.CodeInsufficientFunds)
	// Free packages install with no money.
	if r, _, err := f.s.Buy(f.ctx, f.owner, db.BuyInput{OrgID: poor.ID, PackageRef: fmt.Sprint(f.pkg("skill", 0).ID)}); err != nil || r.Status != db.StatusCompleted || r.Purchase.TransactionID != nil {
		t.Fatalf("install free: %+v %v", r, err)
	}
	// Outsiders cannot buy for the org; invisible packages are not found.
	_, err = f.buy(f.outsider, under)
	wantCode(t, err, model.CodeNotFound)
	private := f.pkgBy(f.outsider, f.vendor.ID, "skill", 10, "private")
	_, err = f.buy(f.member, private)
	wantCode(t, err, model.CodeNotFound)
	f.check()
}

// TestMonthlyLimitAtWindowEdges: the monthly counter resets at 00:00 UTC on
// the 1st, not before.
func TestMonthlyLimitAtWindowEdges(t *testing.T) {
	f := newMoneyFix(t)
	f.now.Store(time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC).UnixNano())
	f.topUp(100000)
	name := "Monthly"
	if _, err := f.s.CreatePolicy(f.ctx, f.owner, f.org.ID, db.PolicyInput{Name: &name, MonthlyLimitCents: limit(1000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.buy(f.member, f.pkg("skill", 1000)); err != nil {
		t.Fatal(err)
	}
	_, err := f.buy(f.member, f.pkg("skill", 1))
	wantCode(t, err, model.CodeOverMonthlyLimit)
	f.advance(time.Minute) // April 1st, 00:00 UTC
	if _, err := f.buy(f.member, f.pkg("skill", 1000)); err != nil {
		t.Fatalf("new month: %v", err)
	}
}

func TestTokenPolicyAndOrgOverride(t *testing.T) {
	f := newMoneyFix(t)
	f.topUp(10000)
	strictName, openName := "Strict", "Open"
	open, _ := f.s.CreatePolicy(f.ctx, f.owner, f.org.ID, db.PolicyInput{Name: &openName})
	strict, err := f.s.CreatePolicy(f.ctx, f.owner, f.org.ID, db.PolicyInput{Name: &strictName, MaxPerPurchaseCents: limit(100)})
	if err != nil || !open.IsDefault || strict.IsDefault {
		t.Fatalf("policies: %+v %+v %v", open, strict, err)
	}
	p := f.pkg("skill", 500)
	// A token bound to the strict policy uses it.
	_, _, err = f.s.Buy(f.ctx, f.member, db.BuyInput{OrgID: f.org.ID, PackageRef: p.Slug, TokenPolicy: &strict.ID})
	wantCode(t, err, model.CodeOverMaxPerPurchase)
	// The member's personal policy does not apply in the org: the org's default does.
	personalName := "Personal cap"
	mine, err := f.s.CreatePolicy(f.ctx, f.member, mustPersonal(t, f, f.member), db.PolicyInput{Name: &personalName, MaxPerPurchaseCents: limit(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.Buy(f.ctx, f.member, db.BuyInput{OrgID: f.org.ID, PackageRef: p.Slug, TokenPolicy: &mine.ID}); err != nil {
		t.Fatalf("org default must override the personal policy: %v", err)
	}
	// Making strict the default applies it to browser purchases.
	yes := true
	if _, err := f.s.UpdatePolicy(f.ctx, f.admin, f.org.ID, strict.ID, db.PolicyInput{IsDefault: &yes}); err != nil {
		t.Fatal(err)
	}
	_, err = f.buy(f.member, f.pkg("skill", 500))
	wantCode(t, err, model.CodeOverMaxPerPurchase)
	ps, _ := f.s.Policies(f.ctx, f.member, f.org.ID)
	if len(ps) != 2 || ps[0].ID != strict.ID || !ps[0].IsDefault || ps[1].IsDefault {
		t.Fatalf("one default: %+v", ps)
	}
	// Deleting the default promotes another.
	if err := f.s.DeletePolicy(f.ctx, f.owner, f.org.ID, strict.ID); err != nil {
		t.Fatal(err)
	}
	ps, _ = f.s.Policies(f.ctx, f.member, f.org.ID)
	if len(ps) != 1 || !ps[0].IsDefault {
		t.Fatalf("after deleting the default: %+v", ps)
	}
	// Another org's policy is not found.
	_, err = f.s.Policy(f.ctx, f.owner, f.org.ID, mine.ID)
	wantCode(t, err, model.CodeNotFound)
}

func mustPersonal(t *testing.T, f *moneyFix, a model.Actor) int64 {
	acc, err := f.s.AccountByID(f.ctx, a.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	return acc.PersonalOrgID
}

func TestAutoTopUpFiresOncePerCrossing(t *testing.T) {
	t.Run("group commit", func(t *testing.T) { testAutoTopUp(t) })
	t.Run("one transaction each", func(t *testing.T) { testAutoTopUp(t, db.WithGroupCommit(false)) })
}

func testAutoTopUp(t *testing.T, opts ...db.Option) {
	f := newMoneyFix(t, opts...)
	f.topUp(3000)
	if _, err := f.s.SetAutoTopUp(f.ctx, f.billing, f.org.ID, model.AutoTopUp{Enabled: true, ThresholdCents: 2000, TopUpAmountCents: 5000}); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.SetAutoTopUp(f.ctx, f.member, f.org.ID, model.AutoTopUp{})
	wantCode(t, err, model.CodeForbidden)
	r, err := f.buy(f.member, f.pkg("skill", 500)) // 3000 -> 2500: no crossing
	if err != nil || r.Purchase.AutoTopUp {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = f.buy(f.member, f.pkg("skill", 1000)) // 2500 -> 1500: crossing 1
	if err != nil || !r.Purchase.AutoTopUp || r.Purchase.BalanceCents != 6500 {
		t.Fatalf("crossing: %+v %v", r, err)
	}
	r, err = f.buy(f.member, f.pkg("skill", 100)) // 6500 -> 6400: no crossing
	if err != nil || r.Purchase.AutoTopUp {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = f.buy(f.member, f.pkg("skill", 4500)) // 6400 -> 1900: crossing 2
	if err != nil || !r.Purchase.AutoTopUp || r.Purchase.BalanceCents != 6900 {
		t.Fatalf("second crossing: %+v %v", r, err)
	}
	var keys []string
	_ = f.s.DB().Select(&keys, `SELECT effect_key FROM ledger_transactions WHERE kind = 'auto_top_up' ORDER BY id`)
	if strings.Join(keys, ",") != "crossing:1,crossing:2" {
		t.Fatalf("auto top-ups: %v", keys)
	}
	if n := f.auditCount("wallet.auto_top_up", "success", "%"); n != 2 {
		t.Fatalf("auto top-up events: %d", n)
	}
	f.check()
}

func TestApprovals(t *testing.T) {
	f := newMoneyFix(t)
	f.topUp(1000)
	name := "Approve big"
	if _, err := f.s.CreatePolicy(f.ctx, f.owner, f.org.ID, db.PolicyInput{Name: &name, RequireApprovalAboveCents: limit(100)}); err != nil {
		t.Fatal(err)
	}
	big, bigger, biggest := f.pkg("skill", 800), f.pkg("skill", 300), f.pkg("skill", 5000)
	a1, _ := f.buy(f.member, big)
	a2, _ := f.buy(f.member, bigger)
	a3, _ := f.buy(f.member, biggest)
	if a1.Status != db.StatusPendingApproval || a2.Status != db.StatusPendingApproval || a3.Status != db.StatusPendingApproval {
		t.Fatalf("pending: %+v %+v %+v", a1, a2, a3)
	}
	_, err := f.buy(f.member, big)
	wantCode(t, err, model.CodeConflict) // already waiting
	// Members see only their own; admins see all.
	if as, _ := f.s.Approvals(f.ctx, f.admin, f.org.ID, "pending"); len(as) != 3 {
		t.Fatalf("admin sees %d", len(as))
	}
	if as, _ := f.s.Approvals(f.ctx, f.billing, f.org.ID, ""); len(as) != 0 {
		t.Fatalf("billing sees %d", len(as))
	}
	_, _, err = f.s.Approve(f.ctx, f.member, f.org.ID, *a1.Purchase.ApprovalID)
	wantCode(t, err, model.CodeForbidden)
	// Approve: checks run again, then the debit.
	ap, res, err := f.s.Approve(f.ctx, f.admin, f.org.ID, *a1.Purchase.ApprovalID)
	if err != nil || ap.Status != "approved" || res.Status != db.StatusCompleted || res.Purchase.BalanceCents != 200 || ap.BuyerEmail != "member@example.com" {
		t.Fatalf("approve: %+v %+v %v", ap, res, err)
	}
	_, _, err = f.s.Approve(f.ctx, f.admin, f.org.ID, *a1.Purchase.ApprovalID)
	wantCode(t, err, model.CodeConflict)
	// Approving without funds is refused and leaves it pending.
	_, _, err = f.s.Approve(f.ctx, f.owner, f.org.ID, *a3.Purchase.ApprovalID)
	wantCode(t, err, model.CodeInsufficientFunds)
	// Reject needs a reason.
	_, err = f.s.Reject(f.ctx, f.admin, f.org.ID, *a2.Purchase.ApprovalID, "  ")
	wantCode(t, err, model.CodeValidation)
	rj, err := f.s.Reject(f.ctx, f.admin, f.org.ID, *a2.Purchase.ApprovalID, "Not in this quarter's budget")
	if err != nil || rj.Status != "rejected" || rj.Reason != "Not in this quarter's budget" {
		t.Fatalf("reject: %+v %v", rj, err)
	}
	// Another org's approval is not found.
	_, err = f.s.Reject(f.ctx, f.outsider, f.org.ID, *a3.Purchase.ApprovalID, "x")
	wantCode(t, err, model.CodeNotFound)
	// After 7 days the last one expires.
	f.advance(7*24*time.Hour + time.Second)
	_, _, err = f.s.Approve(f.ctx, f.owner, f.org.ID, *a3.Purchase.ApprovalID)
	wantCode(t, err, model.CodeConflict)
	as, _ := f.s.Approvals(f.ctx, f.owner, f.org.ID, "expired")
	if len(as) != 1 || as[0].ID != *a3.Purchase.ApprovalID {
		t.Fatalf("expired: %+v", as)
	}
	for _, act := range []string{"approval.requested", "approval.approved", "approval.rejected", "approval.expired"} {
		if f.auditCount(act, "success", "%") == 0 {
			t.Fatalf("no %s event", act)
		}
	}
	// The buyer can buy again after an expiry.
	if r, err := f.buy(f.member, biggest); err != nil || r.Status != db.StatusPendingApproval {
		t.Fatalf("again: %+v %v", r, err)
	}
	f.check()
}

func TestPackagesVisibilityAndDownload(t *testing.T) {
	f := newMoneyFix(t)
	pub := f.pkgBy(f.admin, f.org.ID, "skill", 0, "public")
	orgOnly := f.pkgBy(f.admin, f.org.ID, "mcp_server", 100, "org_only")
	private := f.pkgBy(f.admin, f.org.ID, "prompt", 100, "private")
	typ, vis, price := "skill", "public", int64(1)
	_, err := f.s.PublishPackage(f.ctx, f.member, f.org.ID, model.PackageInput{Slug: ptr("nope"), Name: ptr("Nope"), Type: &typ, Visibility: &vis, PriceCents: &price})
	wantCode(t, err, model.CodeForbidden)
	_, err = f.s.PublishPackage(f.ctx, f.admin, f.org.ID, model.PackageInput{Slug: &pub.Slug, Name: ptr("Dup"), Type: &typ, Visibility: &vis})
	wantCode(t, err, model.CodeValidation)
	sees := func(viewer int64) []string {
		ps, err := f.s.Packages(f.ctx, viewer, db.PackageFilter{OrgID: f.org.ID})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.Visibility)
		}
		return out
	}
	if got := strings.Join(sees(0), ","); got != "public" {
		t.Fatalf("signed out sees %s", got)
	}
	if got := strings.Join(sees(f.outsider.AccountID), ","); got != "public" {
		t.Fatalf("outsider sees %s", got)
	}
	if got := len(sees(f.member.AccountID)); got != 2 {
		t.Fatalf("member sees %d", got)
	}
	if got := len(sees(f.owner.AccountID)); got != 3 {
		t.Fatalf("owner sees %d", got)
	}
	_, err = f.s.Package(f.ctx, f.outsider.AccountID, fmt.Sprint(orgOnly.ID))
	wantCode(t, err, model.CodeNotFound)
	_, err = f.s.Package(f.ctx, f.member.AccountID, private.Slug)
	wantCode(t, err, model.CodeNotFound)
	// Search and type filter.
	if ps, _ := f.s.Packages(f.ctx, f.owner.AccountID, db.PackageFilter{Type: "mcp_server"}); len(ps) != 1 || ps[0].ID != orgOnly.ID {
		t.Fatalf("type filter: %+v", ps)
	}
	if ps, _ := f.s.Packages(f.ctx, f.owner.AccountID, db.PackageFilter{Query: private.Slug}); len(ps) != 1 {
		t.Fatalf("search: %+v", ps)
	}
	_, err = f.s.Packages(f.ctx, 0, db.PackageFilter{Type: "rocket"})
	wantCode(t, err, model.CodeValidation)
	// Visibility changes are audited; only admins edit.
	_, err = f.s.UpdatePackage(f.ctx, f.member, f.org.ID, orgOnly.ID, model.PackageInput{Visibility: ptr("public")})
	wantCode(t, err, model.CodeForbidden)
	up, err := f.s.UpdatePackage(f.ctx, f.admin, f.org.ID, orgOnly.ID, model.PackageInput{Visibility: ptr("public")})
	if err != nil || up.Visibility != "public" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if f.auditCount("package.visibility_changed", "success", "%org_only -> public") != 1 {
		t.Fatal("visibility change not audited")
	}
	_, err = f.s.UpdatePackage(f.ctx, f.outsider, f.vendor.ID, orgOnly.ID, model.PackageInput{Name: ptr("x")})
	wantCode(t, err, model.CodeNotFound)
	// Download needs an entitlement or being the publisher.
	_, err = f.s.Download(f.ctx, f.outsider, pub.Slug, nil)
	wantCode(t, err, model.CodeForbidden)
	if _, err := f.s.Download(f.ctx, f.admin, pub.Slug, nil); err != nil {
		t.Fatalf("publisher download: %v", err)
	}
	if _, _, err := f.s.Buy(f.ctx, f.outsider, db.BuyInput{OrgID: f.vendor.ID, PackageRef: pub.Slug}); err != nil {
		t.Fatalf("install free: %v", err)
	}
	if _, err := f.s.Download(f.ctx, f.outsider, pub.Slug, nil); err != nil {
		t.Fatalf("download with entitlement: %v", err)
	}
	ents, _ := f.s.Entitlements(f.ctx, f.outsider, f.vendor.ID)
	if len(ents) != 1 || ents[0].PackageID != pub.ID || ents[0].Vendor != "acme" {
		t.Fatalf("entitlements: %+v", ents)
	}
	// An org with packages cannot be deleted, and says why.
	err = f.s.DeleteOrg(f.ctx, f.owner, f.org.ID, "acme")
	wantCode(t, err, model.CodeConflict)
	if !strings.Contains(err.Error(), "package") {
		t.Fatalf("refusal: %v", err)
	}
}

func TestTransferCredits(t *testing.T) {
	f := newMoneyFix(t)
	f.topUp(3000)
	other, _ := f.s.CreateOrg(f.ctx, f.owner, db.CreateOrgInput{DisplayName: "Other"})
	_, _, err := f.s.TransferCredits(f.ctx, f.admin, f.org.ID, other.ID, 100, "")
	wantCode(t, err, model.CodeForbidden)
	_, _, err = f.s.TransferCredits(f.ctx, f.owner, f.org.ID, f.vendor.ID, 100, "")
	wantCode(t, err, model.CodeValidation)
	_, _, err = f.s.TransferCredits(f.ctx, f.owner, f.org.ID, other.ID, 3001, "")
	wantCode(t, err, model.CodeInsufficientFunds)
	res, _, err := f.s.TransferCredits(f.ctx, f.owner, f.org.ID, other.ID, 3000, "t1")
	if err != nil || res.Out.Kind != "transfer_out" || res.In.Kind != "transfer_in" || res.Out.BalanceAfterCents != 0 || res.In.BalanceAfterCents != 3000 || res.Out.TxnID != res.In.TxnID {
		t.Fatalf("transfer: %+v %v", res, err)
	}
	if _, rep, err := f.s.TransferCredits(f.ctx, f.owner, f.org.ID, other.ID, 3000, "t1"); err != nil || !rep {
		t.Fatalf("replay: %v %v", rep, err)
	}
	// Now the org can be deleted.
	if err := f.s.DeleteOrg(f.ctx, f.owner, f.org.ID, "acme"); err != nil {
		t.Fatalf("delete after emptying: %v", err)
	}
	f.check()
}

func TestEntriesPagesAndFilters(t *testing.T) {
	f := newMoneyFix(t)
	for i := 0; i < 5; i++ {
		f.topUp(1000)
	}
	for i := 0; i < 3; i++ {
		if _, err := f.buy(f.member, f.pkg("skill", 100)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.s.Entries(f.ctx, f.member, f.org.ID, model.EntryFilter{})
	wantCode(t, err, model.CodeForbidden)
	p1, err := f.s.Entries(f.ctx, f.billing, f.org.ID, model.EntryFilter{Limit: 5})
	if err != nil || len(p1.Entries) != 5 || p1.Next == 0 || p1.Entries[0].Kind != "purchase" || p1.Entries[0].ActorEmail != "member@example.com" {
		t.Fatalf("page 1: %+v %v", p1, err)
	}
	p2, _ := f.s.Entries(f.ctx, f.billing, f.org.ID, model.EntryFilter{Limit: 5, Before: p1.Next})
	if len(p2.Entries) != 3 || p2.Next != 0 {
		t.Fatalf("page 2: %+v", p2)
	}
	byKind, _ := f.s.Entries(f.ctx, f.owner, f.org.ID, model.EntryFilter{Kind: "purchase"})
	byUser, _ := f.s.Entries(f.ctx, f.owner, f.org.ID, model.EntryFilter{UserID: f.member.AccountID})
	if len(byKind.Entries) != 3 || len(byUser.Entries) != 3 {
		t.Fatalf("filters: %d %d", len(byKind.Entries), len(byUser.Entries))
	}
	_, err = f.s.Entries(f.ctx, f.owner, f.org.ID, model.EntryFilter{Kind: "bogus"})
	wantCode(t, err, model.CodeValidation)
	days, err := f.s.SpendingByDay(f.ctx, f.owner, f.org.ID, 30)
	if err != nil || len(days) != 30 || days[29].Cents != 300 || days[0].Cents != 0 {
		t.Fatalf("spending by day: %+v %v", days, err)
	}
	// The day totals are kept by a trigger; CheckLedger compares them with
	// the purchases, so a drift is caught by every ledger test.
	if err := f.s.CheckLedger(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.s.DB().MustExec(`UPDATE wallet_day_spend SET cents = cents + 1 WHERE org_id = $1`, f.org.ID)
	if err := f.s.CheckLedger(f.ctx); err == nil || !strings.Contains(err.Error(), "day's spending") {
		t.Fatalf("a drifted day total passed CheckLedger: %v", err)
	}
	f.s.DB().MustExec(`UPDATE wallet_day_spend SET cents = cents - 1 WHERE org_id = $1`, f.org.ID)
	_, err = f.s.Wallet(f.ctx, f.outsider, f.org.ID)
	wantCode(t, err, model.CodeNotFound)
}

// TestConcurrentBuysNeverOverdraw: 64 buyers race on one wallet that holds
// enough for only some of them. The wallet never goes below 0, no entry is
// lost, and the balance equals the sum of its postings.
func TestConcurrentBuysNeverOverdraw(t *testing.T) {
	f := newMoneyFix(t)
	f.topUp(64 * 100 / 2) // enough for half
	if _, err := f.s.SetAutoTopUp(f.ctx, f.owner, f.org.ID, model.AutoTopUp{}); err != nil {
		t.Fatal(err)
	}
	pkgs := make([]model.Package, 64)
	for i := range pkgs {
		pkgs[i] = f.pkg("skill", 100)
	}
	var ok, poor atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := f.buy(f.member, pkgs[i])
			switch model.CodeOf(err) {
			case "":
				if err != nil {
					t.Errorf("buy %d: %v", i, err)
					return
				}
				ok.Add(1)
			case model.CodeInsufficientFunds:
				poor.Add(1)
			default:
				t.Errorf("buy %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != 32 || poor.Load() != 32 || f.balance() != 0 {
		t.Fatalf("ok %d, refused %d, balance %d", ok.Load(), poor.Load(), f.balance())
	}
	var entries int
	_ = f.s.DB().Get(&entries, `SELECT count(*) FROM ledger_entries WHERE org_id = $1 AND kind = 'purchase'`, f.org.ID)
	if entries != 32 {
		t.Fatalf("%d purchase entries for 32 purchases", entries)
	}
	f.check()
	// The purchases went through the wallet's writer, in batches.
	batches, buys, fallbacks := f.s.GroupCommitStats()
	if fallbacks != 0 || buys != 64 || batches >= 64 {
		t.Fatalf("group commit: %d batches for %d purchases, %d fallbacks", batches, buys, fallbacks)
	}
	t.Logf("group commit: %d batches for %d purchases", batches, buys)
}

// TestInstancesShareOneWallet: three app instances (three stores, each with
// its own group-commit writer) on one database race on one wallet that holds
// enough for half the purchases, and every purchase is sent twice with one
// key to two different instances at once. The wallet's row lock is the only
// guard between the instances: exactly half complete, each once (both
// answers of a key agree), the wallet ends at 0 and the ledger holds.
func TestInstancesShareOneWallet(t *testing.T) {
	f := newMoneyFix(t)
	f.topUp(32 * 100)
	if _, err := f.s.SetAutoTopUp(f.ctx, f.owner, f.org.ID, model.AutoTopUp{}); err != nil {
		t.Fatal(err)
	}
	stores := []*db.Store{f.s, db.New(f.s.DB()), db.New(f.s.DB())}
	pkgs := make([]model.Package, 64)
	for i := range pkgs {
		pkgs[i] = f.pkg("skill", 100)
	}
	type answer struct {
		res db.BuyResult
		err error
	}
	answers := make([][2]answer, len(pkgs))
	var wg sync.WaitGroup
	for i := range pkgs {
		for j := 0; j < 2; j++ {
			wg.Add(1)
			go func(i, j int) {
				defer wg.Done()
				s := stores[(i+j)%len(stores)]
				res, _, err := s.Buy(f.ctx, f.member, db.BuyInput{OrgID: f.org.ID, PackageRef: fmt.Sprint(pkgs[i].ID), Key: fmt.Sprintf("key-%d", i)})
				answers[i][j] = answer{res, err}
			}(i, j)
		}
	}
	wg.Wait()
	completed := 0
	for i, a := range answers {
		c0, c1 := model.CodeOf(a[0].err), model.CodeOf(a[1].err)
		for _, c := range []model.Code{c0, c1} {
			if c != "" && c != model.CodeInsufficientFunds {
				t.Fatalf("purchase %d: %v / %v", i, a[0].err, a[1].err)
			}
		}
		if (a[0].err == nil) != (a[1].err == nil) {
			t.Fatalf("purchase %d: one instance answered %v, the other %v", i, a[0].err, a[1].err)
		}
		if a[0].err == nil {
			if a[0].res.Purchase.ID == nil || a[1].res.Purchase.ID == nil || *a[0].res.Purchase.ID != *a[1].res.Purchase.ID {
				t.Fatalf("purchase %d: the two answers name different purchases: %+v / %+v", i, a[0].res.Purchase, a[1].res.Purchase)
			}
			completed++
		}
	}
	var purchases, dupKeys int
	_ = f.s.DB().Get(&purchases, `SELECT count(*) FROM purchases WHERE org_id = $1`, f.org.ID)
	_ = f.s.DB().Get(&dupKeys, `SELECT count(*) FROM (SELECT effect_key FROM ledger_transactions WHERE org_id = $1 AND effect_key IS NOT NULL
		GROUP BY 1 HAVING count(*) > 1) x`, f.org.ID)
	if completed != 32 || purchases != 32 || dupKeys != 0 || f.balance() != 0 {
		t.Fatalf("%d answered completed, %d purchases, %d keys with two effects, balance %d", completed, purchases, dupKeys, f.balance())
	}
	f.check()
	for i, s := range stores {
		batches, buys, fallbacks := s.GroupCommitStats()
		t.Logf("instance %d: %d batches for %d purchases, %d fallbacks", i, batches, buys, fallbacks)
	}
}

// TestRefusedBuyLeavesTheWalletRow: a refused purchase changes nothing, not
// even the wallet row's updated_at (the group-commit writer used to rewrite
// the row for a batch of refusals).
func TestRefusedBuyLeavesTheWalletRow(t *testing.T) {
	for name, opts := range map[string][]db.Option{"group commit": nil, "one transaction each": {db.WithGroupCommit(false)}} {
		t.Run(name, func(t *testing.T) {
			f := newMoneyFix(t, opts...)
			f.topUp(10000)
			row := func() string {
				var s string
				if err := f.s.DB().Get(&s, `SELECT concat_ws(',', balance_cents, crossings, updated_at) FROM wallets WHERE org_id = $1`, f.org.ID); err != nil {
					t.Fatal(err)
				}
				return s
			}
			before := row()
			f.advance(time.Minute)
			_, err := f.buy(f.billing, f.pkg("skill", 100))
			wantCode(t, err, model.CodeForbidden)
			_, err = f.buy(f.member, f.pkg("skill", 1000000))
			wantCode(t, err, model.CodeInsufficientFunds)
			if after := row(); after != before {
				t.Errorf("wallet row after refused purchases: %s, was %s", after, before)
			}
			if _, err := f.buy(f.member, f.pkg("skill", 100)); err != nil {
				t.Fatal(err)
			}
			if row() == before {
				t.Error("a completed purchase did not write the wallet row")
			}
			f.check()
		})
	}
}
