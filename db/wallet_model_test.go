package db_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// TestWalletModel is the randomized model test of issue 9: worlds of one
// org wallet and its owner's personal wallet run random top-ups, buys (with
// auto top-up), approvals, rejections, expiries, transfers and clock jumps
// over UTC day and month edges, with duplicate and conflicting idempotency
// keys. A plain Go model predicts every answer; after every step the answer
// and the balances must match it, and every few hundred steps (and at the
// end) the database is checked: every wallet >= 0 and equal to the sum of
// its postings, every transaction summing to 0, each key with at most one
// effect, and no policy window over its limit.
//
// WALLET_MODEL_OPS sets the number of operations (default 100,000; 20,000
// with -short).
func TestWalletModel(t *testing.T) {
	ops := 100_000
	if testing.Short() {
		ops = 20_000
	}
	if v, err := strconv.Atoi(os.Getenv("WALLET_MODEL_OPS")); err == nil && v > 0 {
		ops = v
	}
	const worlds = 16
	sqlDB := dbtest.New(t)
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("WALLET_MODEL_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (set WALLET_MODEL_SEED to replay), %d operations in %d worlds", seed, ops, worlds)

	// One vendor publishes a pool of public packages every world buys from.
	base := db.New(sqlDB, db.WithFastPasswordHashing())
	ctx := context.Background()
	va, err := base.Signup(ctx, model.Actor{}, db.SignupInput{Email: "vendor@model.test", Name: "Vendor", Password: "long-enough-password"})
	if err != nil {
		t.Fatal(err)
	}
	vws, err := base.CreateOrg(ctx, model.Actor{AccountID: va.ID, Email: va.Email}, db.CreateOrgInput{DisplayName: "Model vendor", Slug: "model-vendor"})
	if err != nil {
		t.Fatal(err)
	}
	const poolSize = 4000
	sqlDB.MustExec(`INSERT INTO packages (org_id, publisher_id, slug, name, type, price_cents, visibility)
		SELECT $1, $2, 'm-' || g, 'Model ' || g, (ARRAY['skill','mcp_server','tool','prompt'])[1 + g % 4],
			CASE WHEN g % 10 = 0 THEN 0 ELSE (g * 7919) % 1800 + 1 END, 'public' FROM generate_series(1, $3) g`, vws.ID, va.ID, poolSize)
	var pool []model.Package
	if err := sqlDB.Select(&pool, `SELECT p.id, p.org_id, p.slug, p.name, p.type, p.price_cents, p.visibility, o.slug AS vendor
		FROM packages p JOIN orgs o ON o.id = p.org_id WHERE p.slug LIKE 'm-%' ORDER BY p.id`); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var done atomic.Int64
	var times opTimes
	var checks atomic.Int64 // time in checkDB, all worlds
	start := time.Now()
	for w := 0; w < worlds; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m := newModelWorld(t, sqlDB, w, seed+int64(w), pool)
			if m == nil {
				return
			}
			m.times = &times
			for i := 0; i < ops/worlds && !t.Failed(); i++ {
				m.step(i)
				done.Add(1)
				if i%400 == 399 {
					t0 := time.Now()
					m.checkDB()
					checks.Add(int64(time.Since(t0)))
				}
			}
			m.checkDB()
			m.checkKeys()
		}(w)
	}
	wg.Wait()
	if err := base.CheckLedger(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d operations in %v", done.Load(), time.Since(start).Round(time.Millisecond))
	for i, name := range opNames {
		if n := times[i].n.Load(); n > 0 {
			t.Logf("  %-22s %6d, %8.2f ms each (worlds overlap)", name, n, float64(times[i].ns.Load())/float64(n)/1e6)
		}
	}
	t.Logf("  database checks: %v in all (worlds overlap)", time.Duration(checks.Load()).Round(time.Millisecond))
}

type modelApproval struct {
	id      int64
	pkg     model.Package
	expires time.Time
}

// modelWorld is one org wallet W, its owner's personal wallet P, a member
// who buys, and the model of all of it.
type modelWorld struct {
	t        *testing.T
	s        *db.Store
	ctx      context.Context
	rnd      *rand.Rand
	now      time.Time
	mu       sync.Mutex
	pool     []model.Package
	owner    model.Actor
	member   model.Actor
	w, p     int64
	policy   model.SpendPolicy
	auto     model.AutoTopUp
	bal      map[int64]int64
	spentDay map[string]int64
	spentMon map[string]int64
	owned    map[int64]bool
	pending  map[int64]*modelApproval // package -> approval
	keys     map[string]string        // org:key -> request signature of its one effect
	times    *opTimes                 // shared by the worlds
	moves    int                      // ledger transactions the model expects
	log      []string
}

func (m *modelWorld) clock() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func newModelWorld(t *testing.T, sqlDB *sqlx.DB, w int, seed int64, pool []model.Package) *modelWorld {
	m := &modelWorld{t: t, ctx: context.Background(), rnd: rand.New(rand.NewSource(seed)), pool: pool,
		now: time.Date(2026, 1, 30, 20, 0, 0, 0, time.UTC), bal: map[int64]int64{}, spentDay: map[string]int64{},
		spentMon: map[string]int64{}, owned: map[int64]bool{}, pending: map[int64]*modelApproval{}, keys: map[string]string{}}
	m.s = db.New(sqlDB, db.WithFastPasswordHashing(), db.WithClock(m.clock))
	signup := func(name string) model.Actor {
		a, err := m.s.Signup(m.ctx, model.Actor{}, db.SignupInput{Email: fmt.Sprintf("%s%d@model.test", name, w), Name: fmt.Sprintf("%s %d", name, w), Password: "long-enough-password"})
		if err != nil {
			t.Error(err)
			return model.Actor{}
		}
		return model.Actor{AccountID: a.ID, Email: a.Email}
	}
	m.owner, m.member = signup("owner"), signup("member")
	acc, err := m.s.AccountByID(m.ctx, m.owner.AccountID)
	if err != nil {
		t.Error(err)
		return nil
	}
	m.p = acc.PersonalOrgID
	ws, err := m.s.CreateOrg(m.ctx, m.owner, db.CreateOrgInput{DisplayName: fmt.Sprintf("World %d", w)})
	if err != nil {
		t.Error(err)
		return nil
	}
	m.w = ws.ID
	sqlDB.MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, m.w, m.member.AccountID)
	r := m.rnd
	lim := func(lo, hi int64) *int64 { v := lo + r.Int63n(hi-lo); return &v }
	in := db.PolicyInput{Name: ptrTo("Model"), MaxPerPurchaseCents: lim(800, 1700), DailyLimitCents: lim(2000, 6000),
		MonthlyLimitCents: lim(20000, 60000), RequireApprovalAboveCents: lim(300, 1200), BlockedTypes: &[]string{"prompt"}}
	if m.policy, err = m.s.CreatePolicy(m.ctx, m.owner, m.w, in); err != nil {
		t.Error(err)
		return nil
	}
	return m
}

func (m *modelWorld) fail(format string, a ...any) {
	m.t.Helper()
	tail := m.log
	if len(tail) > 12 {
		tail = tail[len(tail)-12:]
	}
	m.t.Errorf("world %d: %s\nlast steps:\n  %s", m.w, fmt.Sprintf(format, a...), joinLines(tail))
}

func joinLines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += l + "\n  "
	}
	return out
}

// key picks an idempotency key: none, a fresh one, or (often) one used
// before on this wallet, with the same or a different request.
func (m *modelWorld) key(i int) string {
	switch n := m.rnd.Intn(10); {
	case n < 2:
		return ""
	case n < 6:
		return "k" + strconv.Itoa(i)
	default:
		return "k" + strconv.Itoa(m.rnd.Intn(i+1))
	}
}

// idem applies the model of idempotency: (replay, conflict) for key on org
// with request signature sig. A fresh key is recorded by the caller on success.
func (m *modelWorld) idem(org int64, key, sig string) (replay, conflict bool) {
	if key == "" {
		return false, false
	}
	first, ok := m.keys[strconv.FormatInt(org, 10)+":"+key]
	if !ok {
		return false, false
	}
	return first == sig, first != sig
}

func (m *modelWorld) use(org int64, key, sig string) {
	if key != "" {
		m.keys[strconv.FormatInt(org, 10)+":"+key] = sig
	}
}

func isCode(err error, code model.Code) bool {
	return model.CodeOf(err) == code && (code != "" || err == nil)
}

// opNames and opTime break the run time down by operation, for the log.
var opNames = [...]string{"buy", "top-up", "transfer", "approve", "reject", "auto top-up settings", "clock"}

type opTimes [len(opNames)]struct{ n, ns atomic.Int64 }

func (m *modelWorld) step(i int) {
	t0 := time.Now()
	var op int
	switch n := m.rnd.Intn(100); {
	case n < 45:
		m.buy(i)
	case n < 60:
		op = 1
		m.topUp(i)
	case n < 68:
		op = 2
		m.transfer(i)
	case n < 78:
		op = 3
		m.decide(true)
	case n < 84:
		op = 4
		m.decide(false)
	case n < 88:
		op = 5
		m.setAuto()
	default:
		op = 6
		m.tick()
	}
	if m.times != nil {
		m.times[op].n.Add(1)
		m.times[op].ns.Add(int64(time.Since(t0)))
	}
}

func (m *modelWorld) tick() {
	var d time.Duration
	if m.rnd.Intn(6) == 0 {
		d = time.Duration(24+m.rnd.Intn(72)) * time.Hour
	} else {
		d = time.Duration(1+m.rnd.Intn(240)) * time.Minute
	}
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
	m.log = append(m.log, "tick "+d.String()+" -> "+m.clock().Format(time.RFC3339))
}

func (m *modelWorld) setAuto() {
	a := model.AutoTopUp{Enabled: m.rnd.Intn(3) > 0, ThresholdCents: int64(m.rnd.Intn(3000)), TopUpAmountCents: int64(1 + m.rnd.Intn(4000))}
	if _, err := m.s.SetAutoTopUp(m.ctx, m.owner, m.w, a); err != nil {
		m.fail("set auto top-up: %v", err)
	}
	m.auto = a
	m.log = append(m.log, fmt.Sprintf("auto %+v", a))
}

func (m *modelWorld) topUp(i int) {
	amt := int64(1 + m.rnd.Intn(3000))
	key := m.key(i)
	who := m.owner
	forbidden := m.rnd.Intn(15) == 0
	if forbidden {
		who = m.member
	}
	sig := "top_up:" + strconv.FormatInt(amt, 10)
	res, rep, err := m.s.TopUp(m.ctx, who, m.w, amt, key)
	m.log = append(m.log, fmt.Sprintf("top-up %d key %q forbidden %v: %v %v", amt, key, forbidden, rep, err))
	if forbidden {
		if !isCode(err, model.CodeForbidden) {
			m.fail("member top-up: %v", err)
		}
		return
	}
	replay, conflict := m.idem(m.w, key, sig)
	switch {
	case conflict:
		if !isCode(err, model.CodeIdempotencyConflict) {
			m.fail("top-up with a reused key: %v", err)
		}
	case replay:
		if err != nil || !rep {
			m.fail("top-up replay: %v %v", rep, err)
		}
	default:
		if err != nil || rep {
			m.fail("top-up: %v %v", rep, err)
			return
		}
		m.bal[m.w] += amt
		m.moves++
		m.use(m.w, key, sig)
		if res.BalanceCents != m.bal[m.w] {
			m.fail("top-up balance %d, model %d", res.BalanceCents, m.bal[m.w])
		}
	}
}

func (m *modelWorld) transfer(i int) {
	from, to := m.w, m.p
	if m.rnd.Intn(2) == 0 {
		from, to = to, from
	}
	amt := int64(1 + m.rnd.Intn(2500))
	key := m.key(i)
	sig := fmt.Sprintf("transfer:%d:%d:%d", from, to, amt)
	_, rep, err := m.s.TransferCredits(m.ctx, m.owner, from, to, amt, key)
	m.log = append(m.log, fmt.Sprintf("transfer %d %d->%d key %q: %v %v", amt, from, to, key, rep, err))
	replay, conflict := m.idem(from, key, sig)
	switch {
	case conflict:
		if !isCode(err, model.CodeIdempotencyConflict) {
			m.fail("transfer with a reused key: %v", err)
		}
	case replay:
		if err != nil || !rep {
			m.fail("transfer replay: %v %v", rep, err)
		}
	case amt > m.bal[from]:
		if !isCode(err, model.CodeInsufficientFunds) {
			m.fail("transfer %d from %d holding %d: %v", amt, from, m.bal[from], err)
		}
	default:
		if err != nil || rep {
			m.fail("transfer: %v %v", rep, err)
			return
		}
		m.bal[from] -= amt
		m.bal[to] += amt
		m.moves++
		m.use(from, key, sig)
	}
}

// facts are the purchase facts of the model at the current clock.
func (m *modelWorld) facts(pkg model.Package, price int64, approved bool) model.PurchaseFacts {
	now := m.clock()
	p := m.policy
	return model.PurchaseFacts{Role: model.RoleMember, Visible: true, PackageType: pkg.Type, Vendor: pkg.Vendor, PriceCents: price,
		Policy: &p, SpentToday: m.spentDay[now.Format("2006-01-02")], SpentMonth: m.spentMon[now.Format("2006-01")],
		BalanceCents: m.bal[m.w], Approved: approved}
}

// debit applies a completed purchase to the model, with the auto top-up.
func (m *modelWorld) debit(pkg model.Package, price int64) {
	m.owned[pkg.ID] = true
	if price == 0 {
		return
	}
	now := m.clock()
	before := m.bal[m.w]
	m.bal[m.w] -= price
	m.spentDay[now.Format("2006-01-02")] += price
	m.spentMon[now.Format("2006-01")] += price
	m.moves++
	if model.AutoTopUpFires(m.auto, before, m.bal[m.w]) {
		m.bal[m.w] += m.auto.TopUpAmountCents
		m.moves++
	}
}

func (m *modelWorld) buy(i int) {
	pkg := m.pool[m.rnd.Intn(len(m.pool))]
	if m.rnd.Intn(3) == 0 { // a small corner of the pool, so packages come back owned or pending
		pkg = m.pool[m.rnd.Intn(60)]
	}
	key := m.key(i)
	sig := "buy:" + strconv.FormatInt(pkg.ID, 10)
	res, rep, err := m.s.Buy(m.ctx, m.member, db.BuyInput{OrgID: m.w, PackageRef: strconv.FormatInt(pkg.ID, 10), Key: key})
	m.log = append(m.log, fmt.Sprintf("buy %s (%d cents, %s) key %q: %s %v %v", pkg.Slug, pkg.PriceCents, pkg.Type, key, res.Status, rep, err))
	replay, conflict := m.idem(m.w, key, sig)
	if conflict {
		if !isCode(err, model.CodeIdempotencyConflict) {
			m.fail("buy with a reused key: %v", err)
		}
		return
	}
	if replay {
		if err != nil || !rep {
			m.fail("buy replay: %v %v", rep, err)
		}
		return
	}
	outcome, want := model.DecidePurchase(m.facts(pkg, pkg.PriceCents, false))
	if want != nil {
		if !isCode(err, model.CodeOf(want)) {
			m.fail("buy refused with %v, model %v", err, want)
		}
		return
	}
	if m.owned[pkg.ID] || (outcome == model.OutcomePending && m.pending[pkg.ID] != nil) {
		if !isCode(err, model.CodeConflict) {
			m.fail("buy of an owned or pending package: %v", err)
		}
		return
	}
	if err != nil || rep {
		m.fail("buy: %v %v (model %v)", rep, err, outcome)
		return
	}
	m.use(m.w, key, sig)
	if outcome == model.OutcomePending {
		if res.Status != db.StatusPendingApproval || res.Purchase.ApprovalID == nil {
			m.fail("buy answered %s, model pending", res.Status)
			return
		}
		m.pending[pkg.ID] = &modelApproval{id: *res.Purchase.ApprovalID, pkg: pkg, expires: m.clock().Add(model.ApprovalTTL)}
		return
	}
	m.debit(pkg, pkg.PriceCents)
	if res.Status != db.StatusCompleted || res.Purchase.BalanceCents != m.bal[m.w] {
		m.fail("buy answered %s with balance %d, model %d", res.Status, res.Purchase.BalanceCents, m.bal[m.w])
	}
}

func (m *modelWorld) decide(approve bool) {
	var a *modelApproval
	for _, p := range m.pending {
		if a == nil || p.id < a.id {
			a = p
		}
	}
	if a == nil {
		return
	}
	now := m.clock()
	expired := !a.expires.After(now)
	var err error
	if approve {
		_, _, err = m.s.Approve(m.ctx, m.owner, m.w, a.id)
	} else {
		_, err = m.s.Reject(m.ctx, m.owner, m.w, a.id, "model says no")
	}
	m.log = append(m.log, fmt.Sprintf("decide %v approval %d (%s, expired %v): %v", approve, a.id, a.pkg.Slug, expired, err))
	// Deciding expires every overdue approval of the org first, not only this one.
	for id, p := range m.pending {
		if p != a && !p.expires.After(now) {
			delete(m.pending, id)
		}
	}
	if expired {
		if !isCode(err, model.CodeConflict) {
			m.fail("deciding an expired approval: %v", err)
		}
		delete(m.pending, a.pkg.ID)
		return
	}
	if !approve {
		if err != nil {
			m.fail("reject: %v", err)
		}
		delete(m.pending, a.pkg.ID)
		return
	}
	if _, want := model.DecidePurchase(m.facts(a.pkg, a.pkg.PriceCents, true)); want != nil {
		if !isCode(err, model.CodeOf(want)) {
			m.fail("approve refused with %v, model %v", err, want)
		}
		return // stays pending
	}
	if err != nil {
		m.fail("approve: %v", err)
		return
	}
	delete(m.pending, a.pkg.ID)
	m.debit(a.pkg, a.pkg.PriceCents)
}

// checkDB compares the database with the model and checks the invariants
// in one statement (one round trip, whatever the number of days the model
// has counted): both wallets >= 0, equal to the sum of their postings and to
// the model; every transaction of the world summing to 0; no policy window
// over its limit; every day and month counter equal to the model's (a
// counter the model does not know is a mismatch too). Each row it returns
// is one broken invariant.
func (m *modelWorld) checkDB() {
	var days, months pq.StringArray
	var daySpent, monthSpent pq.Int64Array
	for d, v := range m.spentDay {
		days, daySpent = append(days, d), append(daySpent, v)
	}
	for mo, v := range m.spentMon {
		months, monthSpent = append(months, mo+"-01"), append(monthSpent, v)
	}
	var broken []string
	err := m.s.DB().Select(&broken, `
		SELECT format('wallet %s holds %s, postings sum %s, model %s', w.org_id, w.balance_cents, p.sum, x.bal)
		FROM unnest($1::bigint[], $2::bigint[]) AS x(org, bal) JOIN wallets w ON w.org_id = x.org
		CROSS JOIN LATERAL (SELECT COALESCE(sum(amount_cents), 0) AS sum FROM postings WHERE org_id = x.org) p
		WHERE w.balance_cents <> x.bal OR p.sum <> w.balance_cents OR w.balance_cents < 0
		UNION ALL
		SELECT format('transaction %s does not sum to 0', p.txn_id) FROM postings p JOIN ledger_transactions t ON t.id = p.txn_id
		WHERE t.org_id = ANY($1) GROUP BY p.txn_id HAVING sum(p.amount_cents) <> 0
		UNION ALL
		SELECT format('%s window from %s: %s spent over the limit', s.window_kind, s.window_start, s.spent_cents)
		FROM policy_spend s JOIN spend_policies p ON p.id = s.policy_id WHERE p.id = $3 AND
			((s.window_kind = 'day' AND s.spent_cents > p.daily_limit_cents) OR (s.window_kind = 'month' AND s.spent_cents > p.monthly_limit_cents))
		UNION ALL
		SELECT format('%s from %s: counter %s, model %s', COALESCE(s.window_kind, m.kind), COALESCE(s.window_start, m.start), s.spent_cents, m.spent)
		FROM (SELECT window_kind, window_start, spent_cents FROM policy_spend WHERE policy_id = $3) s
		FULL JOIN (SELECT 'day' AS kind, d::date AS start, v AS spent FROM unnest($4::text[], $5::bigint[]) AS u(d, v)
			UNION ALL SELECT 'month', d::date, v FROM unnest($6::text[], $7::bigint[]) AS u(d, v)) m
			ON m.kind = s.window_kind AND m.start = s.window_start
		WHERE COALESCE(s.spent_cents, 0) <> COALESCE(m.spent, 0)`,
		pq.Int64Array{m.w, m.p}, pq.Int64Array{m.bal[m.w], m.bal[m.p]}, m.policy.ID, days, daySpent, months, monthSpent)
	if err != nil {
		m.fail("check: %v", err)
		return
	}
	for _, b := range broken {
		m.fail("%s", b)
	}
}

// checkKeys: each key has at most one effect, and the ledger moved exactly
// as often as the model says.
func (m *modelWorld) checkKeys() {
	sx := m.s.DB()
	var dup, moves int
	_ = sx.Get(&dup, `SELECT count(*) FROM (SELECT org_id, effect_key FROM ledger_transactions WHERE org_id IN ($1, $2) AND effect_key IS NOT NULL
		GROUP BY 1, 2 HAVING count(*) > 1) x`, m.w, m.p)
	_ = sx.Get(&moves, `SELECT count(*) FROM ledger_transactions WHERE org_id IN ($1, $2)`, m.w, m.p)
	if dup != 0 || moves != m.moves {
		m.fail("%d keys with more than one effect; %d ledger transactions, model %d", dup, moves, m.moves)
	}
}
