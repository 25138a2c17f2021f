package db

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"guildhall/db/model"
)

// Group commit (ARCHITECTURE "Where the next parts go", SPEC 8): purchases
// racing on one wallet are applied by one writer goroutine per wallet. It
// gathers the purchases waiting on it (up to maxBatch, waiting up to
// gatherWait for more while the wallet is busy; see gather), takes the
// wallet's row lock once, decides each purchase in order in memory, and
// writes them with one UPDATE and multi-row INSERTs in one transaction.
// Each caller gets its own answer. The row lock stays the guard across app
// instances: two instances' writers for one wallet simply take turns.

const maxBatch = 256

// gatherWait is how long a busy wallet's writer waits to fill a batch.
const gatherWait = 2 * time.Millisecond

// writerIdle is how long a wallet's writer waits for work before it exits.
const writerIdle = 2 * time.Second

type buyRequest struct {
	ctx   context.Context
	actor model.Actor
	in    BuyInput
	done  chan buyAnswer
}

type buyAnswer struct {
	res      BuyResult
	replayed bool
	err      error
	ptr      *BuyResult // in a batch: the result writeBatch completes with ids
}

// writers holds the running writer of each hot wallet.
type writers struct {
	mu sync.Mutex
	m  map[int64]*walletWriter

	batches, buys, fallbacks atomic.Int64 // for tests and the benchmark
}

// walletWriter is one wallet's queue. senders counts submits between taking
// the writer and finishing their send, so the writer never exits while a
// request is on its way (and no send holds the map's lock).
type walletWriter struct {
	ch      chan *buyRequest
	senders int
	last    int // size of the last batch (only the writer goroutine uses it)
}

// GroupCommitStats reports how many batches the writers committed, how
// many purchases they held, and how many batches fell back to one
// transaction per purchase.
func (s *Store) GroupCommitStats() (batches, buys, fallbacks int64) {
	if s.writers == nil {
		return 0, 0, 0
	}
	return s.writers.batches.Load(), s.writers.buys.Load(), s.writers.fallbacks.Load()
}

// WithGroupCommit turns the per-wallet group-commit writer on or off (on by
// default); off, every purchase is its own transaction.
func WithGroupCommit(on bool) Option {
	return func(s *Store) {
		if on {
			s.writers = &writers{m: map[int64]*walletWriter{}}
		} else {
			s.writers = nil
		}
	}
}

// submit hands a purchase to its wallet's writer, starting one if needed.
func (s *Store) submit(r *buyRequest) {
	ws := s.writers
	ws.mu.Lock()
	w, ok := ws.m[r.in.OrgID]
	if !ok {
		w = &walletWriter{ch: make(chan *buyRequest, 4*maxBatch)}
		ws.m[r.in.OrgID] = w
		go s.runWriter(r.in.OrgID, w)
	}
	w.senders++
	ws.mu.Unlock()
	w.ch <- r
	ws.mu.Lock()
	w.senders--
	ws.mu.Unlock()
}

// gather adds to batch the purchases queued behind it and, while the
// wallet is busy, waits up to gatherWait for more (up to maxBatch). "Busy"
// is that the last batch held more than this one so far: its callers are
// about to come back. A lone caller never waits, so a wallet with one buyer
// at a time pays no delay (PostgreSQL's commit_delay with commit_siblings
// works the same way).
func (w *walletWriter) gather(batch []*buyRequest) []*buyRequest {
	batch = w.drain(batch)
	want := min(w.last, maxBatch)
	if len(batch) >= want {
		return batch
	}
	t := time.NewTimer(gatherWait)
	defer t.Stop()
	for len(batch) < want {
		select {
		case r := <-w.ch:
			batch = append(batch, r)
		case <-t.C:
			return w.drain(batch)
		}
	}
	return w.drain(batch)
}

// drain adds what is queued now, without waiting.
func (w *walletWriter) drain(batch []*buyRequest) []*buyRequest {
	for len(batch) < maxBatch {
		select {
		case r := <-w.ch:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (s *Store) runWriter(orgID int64, w *walletWriter) {
	idle := time.NewTimer(writerIdle)
	defer idle.Stop()
	for {
		var first *buyRequest
		select {
		case first = <-w.ch:
		case <-idle.C:
			s.writers.mu.Lock()
			if len(w.ch) == 0 && w.senders == 0 {
				delete(s.writers.m, orgID)
				s.writers.mu.Unlock()
				return
			}
			s.writers.mu.Unlock()
			idle.Reset(writerIdle)
			continue
		}
		batch := w.gather([]*buyRequest{first})
		w.last = len(batch)
		s.applyBatch(orgID, batch)
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(writerIdle)
	}
}

// applyBatch runs one batch; if the batch transaction fails as a whole (a
// deadlock with another instance, a lost connection), each purchase is
// retried alone, so no caller gets an error that was not theirs.
func (s *Store) applyBatch(orgID int64, batch []*buyRequest) {
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.done <- buyAnswer{err: r.ctx.Err()}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	answers, err := s.buyBatch(orgID, live)
	if err != nil {
		s.writers.fallbacks.Add(1)
		if len(live) > 1 {
			log.Printf("wallet %d: batch of %d failed, retrying one by one: %v", orgID, len(live), err)
		}
		for _, r := range live {
			res, rep, err := s.buySingle(r.ctx, r.actor, r.in)
			s.wstats.batch(1)
			r.done <- buyAnswer{res: res, replayed: rep, err: err}
		}
		return
	}
	s.writers.batches.Add(1)
	s.writers.buys.Add(int64(len(live)))
	s.wstats.batch(len(live))
	for i, r := range live {
		r.done <- answers[i]
	}
}

// batchFacts is what one query each gathers for the whole batch.
type batchFacts struct {
	roles     map[int64]model.Role         // buyer -> role in the buying org
	pkgByID   map[int64]model.Package      // packages named by the batch
	pkgBySlug map[string]model.Package     //
	pubRoles  map[[2]int64]model.Role      // (org, account) -> role, for visibility
	policies  map[int64]*model.SpendPolicy // this org's policies named (token or default)
	deflt     *model.SpendPolicy           //
	spent     map[int64]*PolicySpend       // policy -> current windows
	owned     map[int64]bool               // package -> the org owns it
	pending   map[int64]bool               // package -> an approval is pending
	keys      map[string]idemRow           // existing idempotency keys
	effects   map[string]bool              // effect keys used already
}

type idemRow struct {
	Key  string `db:"key"`
	Hash string `db:"request_hash"`
	Body string `db:"body"`
	mine bool   // claimed by this batch
}

func (r *buyRequest) pkgKey() (int64, string) {
	ref := strings.TrimSpace(r.in.PackageRef)
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return id, ""
	}
	return 0, strings.ToLower(ref)
}

// buyBatch decides and writes a batch in one transaction.
func (s *Store) buyBatch(orgID int64, batch []*buyRequest) ([]buyAnswer, error) {
	ctx := context.Background()
	sx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer sx.Rollback() //nolint:errcheck // after commit this is a no-op
	tx := &Tx{Tx: sx, ctx: ctx, store: s}
	now := tx.Now()

	// Claim the batch's new keys first, in key order (the same order as any
	// other instance, so two writers never deadlock on keys).
	var keys []string
	seen := map[string]bool{}
	for _, r := range batch {
		if r.in.Key != "" && !seen[r.in.Key] {
			seen[r.in.Key] = true
			keys = append(keys, r.in.Key)
		}
	}
	sort.Strings(keys)
	f := batchFacts{keys: map[string]idemRow{}, effects: map[string]bool{}}
	if len(keys) > 0 {
		var claimed []string
		if err := tx.SelectContext(ctx, &claimed, `INSERT INTO idempotency_keys (org_id, key, request_hash, created_at)
			SELECT $1, k, '', $3 FROM unnest($2::text[]) k ORDER BY k ON CONFLICT (org_id, key) DO NOTHING RETURNING key`,
			orgID, pq.StringArray(keys), now); err != nil {
			return nil, fmt.Errorf("claim keys: %w", err)
		}
		for _, k := range claimed {
			f.keys[k] = idemRow{Key: k, mine: true}
		}
		// The keys' first answers, and the keys that moved money already
		// (the ledger's effect keys), in one round trip.
		effectKeys := make([]string, len(keys))
		for i, k := range keys {
			effectKeys[i] = effectKey("buy", k)
		}
		var old []struct {
			idemRow
			Effect bool `db:"effect"`
		}
		if err := tx.SelectContext(ctx, &old, `SELECT key, request_hash, body, false AS effect FROM idempotency_keys
				WHERE org_id = $1 AND key = ANY($2) AND request_hash <> ''
			UNION ALL
			SELECT effect_key, '', '', true FROM ledger_transactions WHERE org_id = $1 AND effect_key = ANY($3)`,
			orgID, pq.StringArray(keys), pq.StringArray(effectKeys)); err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		for _, o := range old {
			if o.Effect {
				f.effects[o.Key] = true
			} else {
				f.keys[o.Key] = o.idemRow
			}
		}
	}

	w, err := tx.lockWallet(orgID)
	if err != nil {
		return nil, err
	}
	before := w
	if err := s.gatherFacts(tx, orgID, batch, &f); err != nil {
		return nil, err
	}

	out := make([]buyAnswer, len(batch))
	var wr batchWrites
	answered := map[string]int{} // key -> index of the request whose answer it holds
	for i, r := range batch {
		out[i] = s.decideInBatch(tx, r, &w, &f, &wr, answered, i, out)
	}
	if err := s.writeBatch(tx, before, &w, &wr, &f); err != nil {
		return nil, err
	}
	if err := sx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	for i := range out {
		if out[i].ptr != nil {
			out[i].res, out[i].err = *out[i].ptr, nil
		}
	}
	return out, nil
}

func (s *Store) gatherFacts(tx *Tx, orgID int64, batch []*buyRequest, f *batchFacts) error {
	ctx := tx.ctx
	var accounts, pkgIDs, policyIDs []int64
	var slugs []string
	for _, r := range batch {
		accounts = append(accounts, r.actor.AccountID)
		id, slug := r.pkgKey()
		if slug != "" {
			slugs = append(slugs, slug)
		} else {
			pkgIDs = append(pkgIDs, id)
		}
		if r.in.TokenPolicy != nil {
			policyIDs = append(policyIDs, *r.in.TokenPolicy)
		}
	}
	var ps []model.Package
	if err := tx.SelectContext(ctx, &ps, `SELECT `+packageCols+packageFrom+` WHERE p.id = ANY($1) OR p.slug = ANY($2)`,
		pq.Int64Array(pkgIDs), pq.StringArray(slugs)); err != nil {
		return fmt.Errorf("packages: %w", err)
	}
	f.pkgByID, f.pkgBySlug = map[int64]model.Package{}, map[string]model.Package{}
	var pubOrgs, found []int64
	for _, p := range ps {
		f.pkgByID[p.ID], f.pkgBySlug[p.Slug] = p, p
		pubOrgs = append(pubOrgs, p.OrgID)
		found = append(found, p.ID)
	}
	// The buyers' roles in the buying org and in the publishers' orgs (for
	// visibility), in one query.
	var ms []struct {
		OrgID     int64      `db:"org_id"`
		AccountID int64      `db:"account_id"`
		Role      model.Role `db:"role"`
	}
	if err := tx.SelectContext(ctx, &ms, `SELECT org_id, account_id, role FROM memberships WHERE org_id = ANY($1) AND account_id = ANY($2)`,
		pq.Int64Array(append(pubOrgs, orgID)), pq.Int64Array(accounts)); err != nil {
		return fmt.Errorf("buyer and publisher roles: %w", err)
	}
	f.roles, f.pubRoles = map[int64]model.Role{}, map[[2]int64]model.Role{}
	for _, m := range ms {
		if m.OrgID == orgID {
			f.roles[m.AccountID] = m.Role
		}
		f.pubRoles[[2]int64{m.OrgID, m.AccountID}] = m.Role
	}
	var rows []policyRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+policyCols+` FROM spend_policies WHERE org_id = $1 AND (is_default OR id = ANY($2))`,
		orgID, pq.Int64Array(policyIDs)); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	f.policies, f.spent = map[int64]*model.SpendPolicy{}, map[int64]*PolicySpend{}
	var active []int64
	for _, row := range rows {
		p := row.policy()
		f.policies[p.ID] = &p
		if p.IsDefault {
			f.deflt = &p
		}
		f.spent[p.ID] = &PolicySpend{}
		active = append(active, p.ID)
	}
	now := tx.Now()
	var counters []struct {
		PolicyID int64  `db:"policy_id"`
		Kind     string `db:"window_kind"`
		Spent    int64  `db:"spent_cents"`
	}
	if err := tx.SelectContext(ctx, &counters, `SELECT policy_id, window_kind, spent_cents FROM policy_spend WHERE policy_id = ANY($1)
		AND ((window_kind = 'day' AND window_start = $2) OR (window_kind = 'month' AND window_start = $3))`,
		pq.Int64Array(active), day(now), month(now)); err != nil {
		return fmt.Errorf("policy counters: %w", err)
	}
	for _, c := range counters {
		if c.Kind == "day" {
			f.spent[c.PolicyID].Today = c.Spent
		} else {
			f.spent[c.PolicyID].Month = c.Spent
		}
	}
	var held []struct {
		PackageID int64 `db:"package_id"`
		Pending   bool  `db:"pending"`
	}
	if err := tx.SelectContext(ctx, &held, `SELECT package_id, false AS pending FROM entitlements WHERE org_id = $1 AND package_id = ANY($2)
		UNION ALL
		SELECT package_id, true FROM approvals WHERE org_id = $1 AND status = 'pending' AND package_id = ANY($2)`, orgID, pq.Int64Array(found)); err != nil {
		return fmt.Errorf("entitlements and pending approvals: %w", err)
	}
	f.owned, f.pending = map[int64]bool{}, map[int64]bool{}
	for _, h := range held {
		if h.Pending {
			f.pending[h.PackageID] = true
		} else {
			f.owned[h.PackageID] = true
		}
	}
	return nil
}

// batchWrites collects the rows a batch writes at the end.
type batchWrites struct {
	txns      []ledgerTxn
	txnTarget []*int64 // where to put each transaction's id once known
	purchases []model.Purchase
	approvals []model.Approval
	charges   []batchCharge
	spend     map[int64]int64 // policy -> cents to add
	audit     []model.AuditEvent
	answers   []keyAnswer
	results   []*BuyResult
}

type batchCharge struct {
	txnIdx int
	ref    string
	amt    int64
}

type keyAnswer struct {
	key string
	idx int // index into results
}

func (s *Store) decideInBatch(tx *Tx, r *buyRequest, w *model.Wallet, f *batchFacts, wr *batchWrites,
	answered map[string]int, i int, out []buyAnswer) buyAnswer {
	key := r.in.Key
	var pkg model.Package
	var okPkg bool
	if id, slug := r.pkgKey(); slug != "" {
		pkg, okPkg = f.pkgBySlug[slug]
	} else {
		pkg, okPkg = f.pkgByID[id]
	}
	role, member := f.roles[r.actor.AccountID]
	if !member {
		return buyAnswer{err: model.NotFound("organization")}
	}
	if !okPkg {
		return buyAnswer{err: model.NotFound("package")}
	}
	hash := requestHash("buy", w.OrgID, pkg.ID)
	if key != "" {
		if j, ok := answered[key]; ok { // the same key earlier in this batch
			if requestHash("buy", w.OrgID, out[j].ptr.Purchase.PackageID) != hash {
				return buyAnswer{err: &model.Error{Code: model.CodeIdempotencyConflict, Message: "This Idempotency-Key was already used with a different request. Use a new key for a new request."}}
			}
			return buyAnswer{ptr: out[j].ptr, replayed: true}
		}
		if k := f.keys[key]; !k.mine && k.Hash != "" {
			if k.Hash != hash {
				return buyAnswer{err: &model.Error{Code: model.CodeIdempotencyConflict, Message: "This Idempotency-Key was already used with a different request. Use a new key for a new request."}}
			}
			var first BuyResult
			if err := json.Unmarshal([]byte(k.Body), &first); err != nil {
				return buyAnswer{err: fmt.Errorf("decode first answer: %w", err)}
			}
			return buyAnswer{res: first, replayed: true}
		}
		if f.effects[effectKey("buy", key)] {
			return buyAnswer{err: &model.Error{Code: model.CodeIdempotencyConflict, Message: "This Idempotency-Key was already used on this wallet for another request."}}
		}
	}
	visible := model.CanSeePackage(pkg.Visibility, f.pubRoles[[2]int64{pkg.OrgID, r.actor.AccountID}], r.actor.AccountID, deref(pkg.PublisherID))
	policy := f.deflt
	if r.in.TokenPolicy != nil {
		if p, ok := f.policies[*r.in.TokenPolicy]; ok {
			policy = p
		}
	}
	facts := model.PurchaseFacts{Role: role, Visible: visible, PackageType: pkg.Type, Vendor: pkg.Vendor,
		PriceCents: pkg.PriceCents, Policy: policy, BalanceCents: w.BalanceCents}
	var policyID *int64
	if policy != nil && policy.Active {
		facts.SpentToday, facts.SpentMonth = f.spent[policy.ID].Today, f.spent[policy.ID].Month
		id := policy.ID
		policyID = &id
	}
	now := tx.Now()
	event := func(action, outcome, label string) model.AuditEvent {
		ev := model.AuditEvent{OrgID: &w.OrgID, ActorEmail: r.actor.Email, Action: action, TargetKind: "package",
			TargetID: strconv.FormatInt(pkg.ID, 10), TargetLabel: label, Outcome: outcome, IP: r.actor.IP, CreatedAt: now}
		if r.actor.AccountID != 0 {
			id := r.actor.AccountID
			ev.ActorID = &id
		}
		if r.actor.TokenID != 0 {
			id := r.actor.TokenID
			ev.TokenID = &id
		}
		return ev
	}
	outcome, err := model.DecidePurchase(facts)
	if err != nil {
		label := pkg.Slug
		if !visible {
			label = ""
		}
		wr.audit = append(wr.audit, event("purchase.denied", model.OutcomeDenied, strings.TrimSpace(label+" ("+string(model.CodeOf(err))+")")))
		return buyAnswer{err: err}
	}
	if f.owned[pkg.ID] {
		return buyAnswer{err: &model.Error{Code: model.CodeConflict, Message: fmt.Sprintf("This workspace owns %s already.", pkg.Name),
			Details: map[string]any{"package_id": pkg.ID}}}
	}
	la := actorOf(r.actor)
	res := &BuyResult{}
	if outcome == model.OutcomePending {
		if f.pending[pkg.ID] {
			return buyAnswer{err: model.Conflict("A purchase of %s is already waiting for approval.", pkg.Name)}
		}
		f.pending[pkg.ID] = true
		a := model.Approval{OrgID: w.OrgID, PackageID: pkg.ID, PackageName: pkg.Name, RequestedBy: la.AccountID, TokenID: la.TokenID,
			PolicyID: policyID, AmountCents: pkg.PriceCents, Status: "pending", ExpiresAt: now.Add(model.ApprovalTTL), CreatedAt: now}
		wr.approvals = append(wr.approvals, a)
		ev := event("approval.requested", model.OutcomeSuccess, pkg.Name+" "+model.FormatCents(pkg.PriceCents))
		ev.TargetKind = "approval"
		wr.audit = append(wr.audit, ev)
		*res = BuyResult{Status: StatusPendingApproval, Purchase: PurchaseView{Status: StatusPendingApproval, OrgID: w.OrgID,
			PackageID: pkg.ID, PackageSlug: pkg.Slug, AmountCents: pkg.PriceCents, BalanceCents: w.BalanceCents, CreatedAt: now}}
	} else {
		f.owned[pkg.ID] = true
		p := model.Purchase{OrgID: w.OrgID, PackageID: pkg.ID, AccountID: la.AccountID, TokenID: la.TokenID, PolicyID: policyID,
			AmountCents: pkg.PriceCents, CreatedAt: now}
		auto := false
		if pkg.PriceCents > 0 {
			t, fires, err := purchaseTxn(w, pkg.PriceCents, &pkg.ID, la, effectKey("buy", key))
			if err != nil {
				return buyAnswer{err: err}
			}
			wr.txns = append(wr.txns, t)
			p.TxnID = new(int64)
			wr.txnTarget = append(wr.txnTarget, p.TxnID)
			if policyID != nil {
				f.spent[*policyID].Today += pkg.PriceCents
				f.spent[*policyID].Month += pkg.PriceCents
				if wr.spend == nil {
					wr.spend = map[int64]int64{}
				}
				wr.spend[*policyID] += pkg.PriceCents
			}
			if fires {
				auto = true
				amt := w.TopUpAmountCents
				ck := crossingKey(w)
				prov := s.paymentProvider().Name()
				wr.txns = append(wr.txns, creditTxn(w, amt, model.KindAutoTopUp, prov, ck, ledgerActor{}, "auto top-up, "+ck))
				wr.txnTarget = append(wr.txnTarget, nil)
				wr.charges = append(wr.charges, batchCharge{txnIdx: len(wr.txns) - 1, amt: amt, ref: autoTopUpRef(w)})
				ev := event("wallet.auto_top_up", model.OutcomeSuccess, model.FormatCents(amt)+" ("+ck+")")
				ev.ActorID, ev.TokenID, ev.ActorEmail, ev.TargetKind, ev.TargetID = nil, nil, "", "wallet", strconv.FormatInt(w.OrgID, 10)
				wr.audit = append(wr.audit, ev)
			}
		}
		wr.purchases = append(wr.purchases, p)
		wr.audit = append(wr.audit, event("purchase.completed", model.OutcomeSuccess, pkg.Slug+" "+model.FormatCents(pkg.PriceCents)))
		*res = BuyResult{Status: StatusCompleted, Purchase: PurchaseView{Status: StatusCompleted, OrgID: w.OrgID, PackageID: pkg.ID,
			PackageSlug: pkg.Slug, AmountCents: pkg.PriceCents, TransactionID: p.TxnID, BalanceCents: w.BalanceCents, AutoTopUp: auto, CreatedAt: now}}
	}
	wr.results = append(wr.results, res)
	if key != "" {
		answered[key] = i
		wr.answers = append(wr.answers, keyAnswer{key: key, idx: len(wr.results) - 1})
	}
	// writeBatch fills in the ids; buyBatch copies the result after commit.
	return buyAnswer{ptr: res}
}

// nextIDs takes n ids of a sequence in one query.
func (tx *Tx) nextIDs(seq string, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	var ids pq.Int64Array
	err := tx.GetContext(tx.ctx, &ids, `SELECT array_agg(nextval($1::regclass)) FROM generate_series(1, $2)`, seq, n)
	return ids, err
}

func (s *Store) writeBatch(tx *Tx, before model.Wallet, w *model.Wallet, wr *batchWrites, f *batchFacts) error {
	ctx := tx.ctx
	now := tx.Now()
	// A batch of refusals and free installs leaves the wallet row as it
	// was: a refused purchase changes nothing (not even updated_at).
	if w.BalanceCents != before.BalanceCents || w.Crossings != before.Crossings {
		if err := tx.setBalance(*w); err != nil {
			return err
		}
	}
	// Ledger transactions and their postings.
	txnIDs, err := tx.nextIDs("ledger_transactions_id_seq", len(wr.txns))
	if err != nil {
		return err
	}
	if len(wr.txns) > 0 {
		tIDs := make(pq.Int64Array, len(wr.txns))
		tOrg := make(pq.Int64Array, len(wr.txns))
		tKind := make(pq.StringArray, len(wr.txns))
		tAcc := make([]*int64, len(wr.txns))
		tTok := make([]*int64, len(wr.txns))
		tPkg := make([]*int64, len(wr.txns))
		tKey := make([]*string, len(wr.txns))
		tNote := make(pq.StringArray, len(wr.txns))
		var pTxn pq.Int64Array
		var pAcct, pKind pq.StringArray
		var pAmt pq.Int64Array
		var pAfter []*int64
		var pOrgN []*int64
		for i, t := range wr.txns {
			tIDs[i], tOrg[i], tKind[i], tNote[i] = txnIDs[i], t.orgID, t.kind, t.note
			tAcc[i], tTok[i], tPkg[i] = t.actor.AccountID, t.actor.TokenID, t.packageID
			if t.effectKey != "" {
				k := t.effectKey
				tKey[i] = &k
			}
			if wr.txnTarget[i] != nil {
				*wr.txnTarget[i] = txnIDs[i]
			}
			for _, l := range t.legs {
				pTxn = append(pTxn, txnIDs[i])
				pAcct = append(pAcct, l.account)
				pKind = append(pKind, l.kind)
				pAmt = append(pAmt, l.amount)
				pAfter = append(pAfter, l.after)
				pOrgN = append(pOrgN, l.orgID)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_transactions (id, org_id, kind, actor_account_id, token_id, package_id, effect_key, note, created_at)
			SELECT * , $9::timestamptz FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[])`,
			tIDs, tOrg, tKind, nullInts(tAcc), nullInts(tTok), nullInts(tPkg), nullStrings(tKey), tNote, now); err != nil {
			return fmt.Errorf("insert ledger transactions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents, created_at)
			SELECT *, $7::timestamptz FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])`,
			pTxn, pAcct, nullInts(pOrgN), pKind, pAmt, nullInts(pAfter), now); err != nil {
			return fmt.Errorf("insert postings: %w", err)
		}
	}
	// Auto top-up charges (the manual provider completes at once).
	for _, c := range wr.charges {
		p := s.paymentProvider()
		cr, err := p.Charge(ctx, w.OrgID, c.amt, c.ref)
		if err != nil || !cr.Completed {
			return fmt.Errorf("auto top-up through %s did not complete at once", p.Name())
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO charges (org_id, provider, provider_ref, amount_cents, status, txn_id, created_at, completed_at)
			VALUES ($1, $2, $3, $4, 'completed', $5, $6, $6)`, w.OrgID, p.Name(), cr.ProviderRef, c.amt, txnIDs[c.txnIdx], now); err != nil {
			return fmt.Errorf("insert auto charge: %w", err)
		}
	}
	// Purchases and entitlements.
	if n := len(wr.purchases); n > 0 {
		ids, err := tx.nextIDs("purchases_id_seq", n)
		if err != nil {
			return err
		}
		pkg := make(pq.Int64Array, n)
		amt := make(pq.Int64Array, n)
		acc, tok, pol, txn := make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n)
		for i, p := range wr.purchases {
			pkg[i], amt[i], acc[i], tok[i], pol[i], txn[i] = p.PackageID, p.AmountCents, p.AccountID, p.TokenID, p.PolicyID, p.TxnID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO purchases (id, org_id, package_id, account_id, token_id, policy_id, amount_cents, txn_id, created_at)
			SELECT u.id, $2, u.pkg, u.acc, u.tok, u.pol, u.amt, u.txn, $8 FROM unnest($1::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $9::bigint[])
				AS u(id, pkg, acc, tok, pol, amt, txn)`,
			pq.Int64Array(ids), w.OrgID, pkg, nullInts(acc), nullInts(tok), nullInts(pol), amt, now, nullInts(txn)); err != nil {
			return fmt.Errorf("insert purchases: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO entitlements (org_id, package_id, purchase_id, created_at)
			SELECT $1, u.pkg, u.id, $4 FROM unnest($2::bigint[], $3::bigint[]) AS u(pkg, id)`, w.OrgID, pkg, pq.Int64Array(ids), now); err != nil {
			return fmt.Errorf("insert entitlements: %w", err)
		}
		k := 0
		for _, r := range wr.results {
			if r.Status == StatusCompleted {
				id := ids[k]
				r.Purchase.ID = &id
				k++
			}
		}
	}
	// Approvals.
	if n := len(wr.approvals); n > 0 {
		ids, err := tx.nextIDs("approvals_id_seq", n)
		if err != nil {
			return err
		}
		pkg, amt := make(pq.Int64Array, n), make(pq.Int64Array, n)
		acc, tok, pol := make([]*int64, n), make([]*int64, n), make([]*int64, n)
		for i, a := range wr.approvals {
			pkg[i], amt[i], acc[i], tok[i], pol[i] = a.PackageID, a.AmountCents, a.RequestedBy, a.TokenID, a.PolicyID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (id, org_id, package_id, requested_by, token_id, policy_id, amount_cents, expires_at, created_at)
			SELECT u.id, $2, u.pkg, u.acc, u.tok, u.pol, u.amt, $8, $9 FROM unnest($1::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
				AS u(id, pkg, acc, tok, pol, amt)`,
			pq.Int64Array(ids), w.OrgID, pkg, nullInts(acc), nullInts(tok), nullInts(pol), amt, now.Add(model.ApprovalTTL), now); err != nil {
			return fmt.Errorf("insert approvals: %w", err)
		}
		k, a := 0, 0
		for _, r := range wr.results {
			if r.Status == StatusPendingApproval {
				id := ids[k]
				r.Purchase.ApprovalID = &id
				k++
			}
		}
		for i := range wr.audit {
			if wr.audit[i].Action == "approval.requested" {
				wr.audit[i].TargetID = strconv.FormatInt(ids[a], 10)
				a++
			}
		}
	}
	// Spend counters.
	if len(wr.spend) > 0 {
		var pol, amt pq.Int64Array
		for p, a := range wr.spend {
			pol, amt = append(pol, p), append(amt, a)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_spend (policy_id, window_kind, window_start, spent_cents)
			SELECT u.p, k.kind, CASE WHEN k.kind = 'day' THEN $3::date ELSE $4::date END, u.a
			FROM unnest($1::bigint[], $2::bigint[]) AS u(p, a) CROSS JOIN (VALUES ('day'), ('month')) AS k(kind)
			ON CONFLICT (policy_id, window_kind, window_start) DO UPDATE SET spent_cents = policy_spend.spent_cents + EXCLUDED.spent_cents`,
			pol, amt, day(now), month(now)); err != nil {
			return fmt.Errorf("count policy spend: %w", err)
		}
	}
	// Audit events, in one insert.
	if n := len(wr.audit); n > 0 {
		orgs, actors, toks := make([]*int64, n), make([]*int64, n), make([]*int64, n)
		var email, action, kind, tid, label, outcome, ip pq.StringArray
		for i, ev := range wr.audit {
			orgs[i], actors[i], toks[i] = ev.OrgID, ev.ActorID, ev.TokenID
			email, action, kind = append(email, ev.ActorEmail), append(action, ev.Action), append(kind, ev.TargetKind)
			tid, label, outcome, ip = append(tid, ev.TargetID), append(label, ev.TargetLabel), append(outcome, ev.Outcome), append(ip, ev.IP)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (org_id, actor_id, actor_email, token_id, action, target_kind, target_id,
			target_label, outcome, ip, created_at)
			SELECT *, $11::timestamptz FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
			nullInts(orgs), nullInts(actors), email, nullInts(toks), action, kind, tid, label, outcome, ip, now); err != nil {
			return fmt.Errorf("record audit: %w", err)
		}
	}
	// Idempotency: keep the answers of used keys, free the refused ones.
	if len(wr.answers) > 0 {
		var keys, hashes, bodies pq.StringArray
		for _, a := range wr.answers {
			r := wr.results[a.idx]
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			keys = append(keys, a.key)
			hashes = append(hashes, requestHash("buy", w.OrgID, r.Purchase.PackageID))
			bodies = append(bodies, string(b))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys k SET request_hash = u.h, status = 201, body = u.b
			FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, h, b) WHERE k.org_id = $1 AND k.key = u.k`,
			w.OrgID, keys, hashes, bodies); err != nil {
			return fmt.Errorf("keep answers: %w", err)
		}
	}
	var unused pq.StringArray
	for k, row := range f.keys {
		if row.mine {
			if _, used := find(wr.answers, k); !used {
				unused = append(unused, k)
			}
		}
	}
	if len(unused) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE org_id = $1 AND key = ANY($2)`, w.OrgID, unused); err != nil {
			return fmt.Errorf("free keys: %w", err)
		}
	}
	return nil
}

func find(as []keyAnswer, key string) (int, bool) {
	for i, a := range as {
		if a.key == key {
			return i, true
		}
	}
	return 0, false
}

// nullInts and nullStrings turn optional values into arrays with NULLs.
func nullInts(vs []*int64) any {
	out := make([]any, len(vs))
	for i, v := range vs {
		if v != nil {
			out[i] = *v
		}
	}
	return pq.GenericArray{A: out}
}

func nullStrings(vs []*string) any {
	out := make([]any, len(vs))
	for i, v := range vs {
		if v != nil {
			out[i] = *v
		}
	}
	return pq.GenericArray{A: out}
}
