package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"guildhall/db/model"
)

// PaymentProvider funds wallets. A charge completes at once (the built-in
// manual provider) or later, when the provider confirms it and the store's
// CompleteCharge credits the wallet.
type PaymentProvider interface {
	Name() string
	// Charge asks for amount on behalf of org; ref is unique per charge.
	Charge(ctx context.Context, orgID, amountCents int64, ref string) (ChargeResult, error)
}

// ChargeResult is a provider's answer.
type ChargeResult struct {
	Completed   bool
	ProviderRef string
}

// ManualProvider credits at once: an operator funds wallets by hand.
type ManualProvider struct{}

// Name is "manual".
func (ManualProvider) Name() string { return "manual" }

// Charge completes at once.
func (ManualProvider) Charge(_ context.Context, _, _ int64, ref string) (ChargeResult, error) {
	return ChargeResult{Completed: true, ProviderRef: ref}, nil
}

// WithPaymentProvider replaces the manual provider (tests, a real provider).
func WithPaymentProvider(p PaymentProvider) Option { return func(s *Store) { s.provider = p } }

func (s *Store) paymentProvider() PaymentProvider {
	if s.provider == nil {
		return ManualProvider{}
	}
	return s.provider
}

// ProviderName names the payment provider, for the UI's label.
func (s *Store) ProviderName() string { return s.paymentProvider().Name() }

// walletAccount names an org's wallet in the ledger.
func walletAccount(orgID int64) string { return "wallet:" + strconv.FormatInt(orgID, 10) }

const walletCols = `org_id, balance_cents, auto_top_up_enabled, threshold_cents, top_up_amount_cents, crossings, updated_at`

// lockWallet takes the wallet's row lock: every change of its balance holds
// it, so checks made under it (funds, limits, crossings) hold at commit,
// across app instances.
func (tx *Tx) lockWallet(orgID int64) (model.Wallet, error) {
	var w model.Wallet
	err := tx.GetContext(tx.ctx, &w, `SELECT `+walletCols+` FROM wallets WHERE org_id = $1 FOR UPDATE`, orgID)
	return w, notFound(err, "wallet")
}

// posting is one leg of a ledger transaction.
type posting struct {
	account string
	orgID   *int64 // wallets only
	kind    string
	amount  int64
	after   *int64 // wallets only: the balance after
}

func walletLeg(orgID int64, kind string, amount, after int64) posting {
	return posting{account: walletAccount(orgID), orgID: &orgID, kind: kind, amount: amount, after: &after}
}

func systemLeg(account, kind string, amount int64) posting {
	return posting{account: account, kind: kind, amount: amount}
}

// ledgerActor is who a ledger transaction is recorded for.
type ledgerActor struct {
	AccountID *int64
	TokenID   *int64
}

func actorOf(a model.Actor) ledgerActor {
	var la ledgerActor
	if a.AccountID != 0 {
		id := a.AccountID
		la.AccountID = &id
	}
	if a.TokenID != 0 {
		id := a.TokenID
		la.TokenID = &id
	}
	return la
}

// ledgerTxn is a ledger transaction to write: its legs must sum to 0 (the
// deferred trigger checks again at commit).
type ledgerTxn struct {
	orgID     int64
	kind      string
	actor     ledgerActor
	packageID *int64
	effectKey string
	note      string
	legs      []posting
}

// writeLedger inserts one balanced transaction and returns the wallet
// entries it made, in leg order. The caller has updated the wallet rows.
func (tx *Tx) writeLedger(t ledgerTxn) ([]model.LedgerEntry, error) {
	var sum int64
	for _, l := range t.legs {
		sum += l.amount
	}
	if sum != 0 || len(t.legs) < 2 {
		return nil, fmt.Errorf("ledger transaction %s is not balanced (%d legs, sum %d)", t.kind, len(t.legs), sum)
	}
	var key *string
	if t.effectKey != "" {
		key = &t.effectKey
	}
	now := tx.Now()
	var txnID int64
	err := tx.GetContext(tx.ctx, &txnID, `INSERT INTO ledger_transactions (org_id, kind, actor_account_id, token_id, package_id, effect_key, note, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		t.orgID, t.kind, t.actor.AccountID, t.actor.TokenID, t.packageID, key, t.note, now)
	if isUniqueViolation(err, "ledger_transactions_effect_key") {
		return nil, &model.Error{Code: model.CodeIdempotencyConflict, Message: "This Idempotency-Key was already used on this wallet for another request."}
	}
	if err != nil {
		return nil, fmt.Errorf("insert ledger transaction: %w", err)
	}
	var out []model.LedgerEntry
	for _, l := range t.legs {
		var id int64
		err := tx.GetContext(tx.ctx, &id, `INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, txnID, l.account, l.orgID, l.kind, l.amount, l.after, now)
		if err != nil {
			return nil, fmt.Errorf("insert posting: %w", err)
		}
		if l.orgID != nil {
			out = append(out, model.LedgerEntry{ID: id, TxnID: txnID, OrgID: *l.orgID, Kind: l.kind, AmountCents: l.amount,
				BalanceAfterCents: *l.after, AccountID: t.actor.AccountID, TokenID: t.actor.TokenID, PackageID: t.packageID, Note: t.note, CreatedAt: now})
		}
	}
	return out, nil
}

func (tx *Tx) setBalance(w model.Wallet) error {
	_, err := tx.ExecContext(tx.ctx, `UPDATE wallets SET balance_cents = $1, crossings = $2, updated_at = $3 WHERE org_id = $4`,
		w.BalanceCents, w.Crossings, tx.Now(), w.OrgID)
	if err != nil {
		return fmt.Errorf("update wallet: %w", mapPQ(err))
	}
	return nil
}

// ---- idempotency ----

// requestHash is the hash of an operation and its canonical body.
func requestHash(op string, parts ...any) string {
	h := sha256.New()
	h.Write([]byte(op))
	for _, p := range parts {
		fmt.Fprintf(h, "|%v", p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ValidateIdempotencyKey checks a client's key ("" = none).
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return nil
	}
	if len(key) > 255 || !model.ValidText(key) || strings.TrimSpace(key) != key {
		return model.InvalidField("idempotency_key", "The Idempotency-Key must be up to 255 characters of text without surrounding spaces.")
	}
	return nil
}

// claimKey claims (org, key) for this transaction, or finds the first answer.
// A concurrent request with the same key waits on the unique index until the
// first commits (then sees its answer) or rolls back (then claims the key):
// a refused request never uses up its key, since its claim rolls back too.
func claimKey[T any](tx *Tx, orgID int64, key, hash string) (first *T, err error) {
	if key == "" {
		return nil, nil
	}
	res, err := tx.ExecContext(tx.ctx, `INSERT INTO idempotency_keys (org_id, key, request_hash, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, key) DO NOTHING`, orgID, key, hash, tx.Now())
	if err != nil {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	var row struct {
		Hash string `db:"request_hash"`
		Body string `db:"body"`
	}
	if err := tx.GetContext(tx.ctx, &row, `SELECT request_hash, body FROM idempotency_keys WHERE org_id = $1 AND key = $2`, orgID, key); err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if row.Hash != hash {
		return nil, &model.Error{Code: model.CodeIdempotencyConflict, Message: "This Idempotency-Key was already used with a different request. Use a new key for a new request."}
	}
	var v T
	if err := json.Unmarshal([]byte(row.Body), &v); err != nil {
		return nil, fmt.Errorf("decode first answer: %w", err)
	}
	return &v, nil
}

// saveAnswer keeps the answer of a claimed key.
func saveAnswer(tx *Tx, orgID int64, key string, status int, v any) error {
	if key == "" {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(tx.ctx, `UPDATE idempotency_keys SET status = $1, body = $2 WHERE org_id = $3 AND key = $4`, status, string(b), orgID, key)
	return err
}

// PurgeIdempotencyKeys removes keys older than age, never younger than 30
// days (SPEC 8). The ledger's effect keys stay, so an old key still cannot
// move money twice.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, age time.Duration) (int64, error) {
	if age < model.IdempotencyTTL {
		age = model.IdempotencyTTL
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, s.Now().Add(-age))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return res.RowsAffected()
}

// ---- reading ----

// Wallet reads an org's wallet (any member sees the balance).
func (s *Store) Wallet(ctx context.Context, actor model.Actor, orgID int64) (model.Wallet, error) {
	role, err := s.RoleIn(ctx, orgID, actor.AccountID)
	if err != nil {
		return model.Wallet{}, err
	}
	if !model.Can(role, model.ActViewBalance) {
		return model.Wallet{}, model.Forbidden("Your role cannot see the wallet.")
	}
	var w model.Wallet
	err = s.db.GetContext(ctx, &w, `SELECT `+walletCols+` FROM wallets WHERE org_id = $1`, orgID)
	return w, notFound(err, "wallet")
}

// EntryPage is one page of a wallet's history, newest first.
type EntryPage struct {
	Entries []model.LedgerEntry
	Next    int64
}

const entryCols = `p.id, p.txn_id, p.org_id, p.kind, p.amount_cents, p.balance_after_cents, t.actor_account_id AS account_id,
	t.token_id, t.package_id, t.note, p.created_at, COALESCE(a.email, '') AS actor_email, COALESCE(pk.name, '') AS package_name`

// entryJoins looks each entry's actor up (LATERAL ... OFFSET 0): joined,
// a plan could merge a page of entries with the whole accounts index
// (TestPeopleBehindRowsAreLookedUp). Packages stay a join, as in approvalFrom.
const entryJoins = ` JOIN ledger_transactions t ON t.id = p.txn_id
	LEFT JOIN LATERAL (SELECT * FROM accounts a WHERE a.id = t.actor_account_id OFFSET 0) a ON true
	LEFT JOIN packages pk ON pk.id = t.package_id`

// entryColsNoNames and entryJoinsNoNames are entryCols and entryJoins for
// a caller that shows no names (EntryFilter.NoNames): a page of 50 entries
// skips 100 lookups.
const (
	entryColsNoNames = `p.id, p.txn_id, p.org_id, p.kind, p.amount_cents, p.balance_after_cents, t.actor_account_id AS account_id,
	t.token_id, t.package_id, t.note, p.created_at, '' AS actor_email, '' AS package_name`
	entryJoinsNoNames = ` JOIN ledger_transactions t ON t.id = p.txn_id`
)

func entryWhere(orgID int64, f model.EntryFilter) (string, []any) {
	conds := []string{"p.org_id = $1"}
	args := []any{orgID}
	if f.Kind != "" {
		args = append(args, f.Kind)
		conds = append(conds, "p.kind = $"+strconv.Itoa(len(args)))
	}
	if f.UserID != 0 {
		args = append(args, f.UserID)
		conds = append(conds, "t.actor_account_id = $"+strconv.Itoa(len(args)))
	}
	if f.Before > 0 {
		args = append(args, f.Before)
		conds = append(conds, "p.id < $"+strconv.Itoa(len(args)))
	}
	return strings.Join(conds, " AND "), args
}

func validateEntryFilter(f model.EntryFilter) error {
	if f.Kind != "" {
		ok := false
		for _, k := range model.EntryKinds {
			ok = ok || k == f.Kind
		}
		if !ok {
			return model.InvalidField("kind", "Unknown kind: use "+strings.Join(model.EntryKinds, ", ")+".")
		}
	}
	return nil
}

// defaultEntriesLimit is the API's page of wallet history, WalletPageEntries
// the wallet page's.
const (
	defaultEntriesLimit = 50
	WalletPageEntries   = 25
)

// Entries reads a wallet's history (owner, admin, billing), newest first,
// one keyset page at a time.
func (s *Store) Entries(ctx context.Context, actor model.Actor, orgID int64, f model.EntryFilter) (EntryPage, error) {
	if err := s.requireAction(ctx, actor, orgID, model.ActManageWallet, "Only owners, admins and billing members can read the wallet's transactions."); err != nil {
		return EntryPage{}, err
	}
	if err := validateEntryFilter(f); err != nil {
		return EntryPage{}, err
	}
	return s.entryPage(ctx, orgID, f)
}

// entryPage is Entries once the caller is allowed and f is valid.
func (s *Store) entryPage(ctx context.Context, orgID int64, f model.EntryFilter) (EntryPage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = defaultEntriesLimit
	}
	query, args := entriesQuery(orgID, f)
	var q queryer = s.db
	if f.UserID != 0 {
		// One member's entries, planned for that member: a member behind a
		// few entries is read from their transactions (00020), one behind
		// most of them by the walk from the newest.
		q = s.db.PerCall()
	}
	es, err := scanEntries(ctx, q, query, args)
	if err != nil {
		return EntryPage{}, fmt.Errorf("list entries: %w", err)
	}
	page := EntryPage{Entries: es}
	if len(es) > f.Limit {
		page.Entries = es[:f.Limit]
		page.Next = page.Entries[f.Limit-1].ID
	}
	return page, nil
}

// entriesQuery is entryPage's statement for f (Limit set), with its
// arguments.
func entriesQuery(orgID int64, f model.EntryFilter) (string, []any) {
	where, args := entryWhere(orgID, f)
	cols, joins := entryCols, entryJoins
	if f.NoNames {
		cols, joins = entryColsNoNames, entryJoinsNoNames
	}
	q := `SELECT ` + cols + ` FROM postings p` + joins + ` WHERE ` + where + ` ORDER BY p.id DESC LIMIT :limit`
	if f.UserID == 0 {
		// The page's ids first, from the org's index alone (an index-only
		// scan once vacuumed), then those rows. Migration 00017 keeps the
		// generic plan off postings_pkey for small orgs either way
		// (TestSmallOrgHistoryDoesNotWalkOtherOrgs).
		q = `SELECT ` + cols + ` FROM (SELECT p.id FROM postings p WHERE ` + where +
			` ORDER BY p.id DESC LIMIT :limit) k JOIN postings p ON p.id = k.id` + joins + ` ORDER BY p.id DESC`
	}
	return limitArgs(q, f.Limit+1, args, defaultEntriesLimit+1, WalletPageEntries+1, exportEntriesLimit+1)
}

// scanEntries runs an entries query and scans its rows by hand, in entryCols
// order (sqlx's reflection was a tenth of the wallet page's server time).
func scanEntries(ctx context.Context, q queryer, query string, args []any) ([]model.LedgerEntry, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Scanned in place, as scanAgentPage's rows.
	es := make([]model.LedgerEntry, 0, WalletPageEntries+1)
	for rows.Next() {
		es = append(es, model.LedgerEntry{})
		e := &es[len(es)-1]
		if err := rows.Scan(&e.ID, &e.TxnID, &e.OrgID, &e.Kind, &e.AmountCents, &e.BalanceAfterCents, &e.AccountID,
			&e.TokenID, &e.PackageID, &e.Note, &e.CreatedAt, &e.ActorEmail, &e.PackageName); err != nil {
			return nil, err
		}
	}
	return es, rows.Err()
}

const exportEntriesLimit = 200

// ExportEntries streams every matching entry, newest first, to emit.
func (s *Store) ExportEntries(ctx context.Context, actor model.Actor, orgID int64, f model.EntryFilter, emit func(model.LedgerEntry) error) error {
	f.Before = 0
	for {
		f.Limit = exportEntriesLimit
		page, err := s.Entries(ctx, actor, orgID, f)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if err := emit(e); err != nil {
				return err
			}
		}
		if page.Next == 0 {
			return nil
		}
		f.Before = page.Next
	}
}

// DaySpend is the spending of one UTC day.
type DaySpend struct {
	Day   time.Time `db:"day"`
	Cents int64     `db:"cents"`
}

// SpendingByDay sums purchases per UTC day over the last days days (oldest
// first, every day present).
func (s *Store) SpendingByDay(ctx context.Context, actor model.Actor, orgID int64, days int) ([]DaySpend, error) {
	if err := s.requireAction(ctx, actor, orgID, model.ActManageWallet, "Only owners, admins and billing members can read the wallet's transactions."); err != nil {
		return nil, err
	}
	start := model.DayWindow(s.Now()).AddDate(0, 0, -(days - 1))
	var rows []DaySpend
	// wallet_day_spend is kept by a trigger on postings (00013).
	err := s.db.SelectContext(ctx, &rows, `SELECT day::timestamp AT TIME ZONE 'UTC' AS day, cents
		FROM wallet_day_spend WHERE org_id = $1 AND day >= $2::date`, orgID, start.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("spending by day: %w", err)
	}
	by := map[string]int64{}
	for _, r := range rows {
		by[r.Day.UTC().Format("2006-01-02")] = r.Cents
	}
	out := make([]DaySpend, days)
	for i := range out {
		d := start.AddDate(0, 0, i)
		out[i] = DaySpend{Day: d, Cents: by[d.Format("2006-01-02")]}
	}
	return out, nil
}

// ---- top-up, auto top-up, transfer ----

// TopUpResult is the answer to a top-up: the entry (nil while a charge is
// pending) and the balance after.
type TopUpResult struct {
	Status       string             `json:"status"` // completed or pending
	Entry        *model.LedgerEntry `json:"entry"`
	BalanceCents int64              `json:"balance_cents"`
	ChargeID     int64              `json:"charge_id"`
	Provider     string             `json:"provider"`
}

// TopUp funds an org's wallet through the payment provider (owner, admin,
// billing). With a key, the same request again returns the first answer and
// moves nothing; a different request with the key is idempotency_conflict.
func (s *Store) TopUp(ctx context.Context, actor model.Actor, orgID, amount int64, key string) (TopUpResult, bool, error) {
	if err := model.ValidateAmount("amount_cents", amount); err != nil {
		return TopUpResult{}, false, err
	}
	if err := ValidateIdempotencyKey(key); err != nil {
		return TopUpResult{}, false, err
	}
	var res TopUpResult
	replayed := false
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		target := model.Target{Kind: "wallet", ID: strconv.FormatInt(orgID, 10), Label: model.FormatCents(amount)}
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.Can(role, model.ActManageWallet) {
			return tx.Deny(orgID, "wallet.top_up", target, model.Forbidden("Only owners, admins and billing members can fund the wallet."))
		}
		first, err := claimKey[TopUpResult](tx, orgID, key, requestHash("top_up", orgID, amount))
		if err != nil {
			return err
		}
		if first != nil {
			res, replayed = *first, true
			return nil
		}
		res, err = tx.charge(orgID, amount, model.KindTopUp, key, actorOf(actor))
		if err != nil {
			return err
		}
		if err := tx.Record(orgID, "wallet.top_up", target); err != nil {
			return err
		}
		return saveAnswer(tx, orgID, key, 201, res)
	})
	return res, replayed, err
}

// charge asks the provider for amount and, when it completes at once,
// credits the wallet (which the caller must not have locked yet, or must
// hold: lockWallet is re-entrant within a transaction).
func (tx *Tx) charge(orgID, amount int64, kind, key string, la ledgerActor) (TopUpResult, error) {
	p := tx.store.paymentProvider()
	var chargeID int64
	err := tx.GetContext(tx.ctx, &chargeID, `INSERT INTO charges (org_id, provider, amount_cents, status, account_id, token_id, created_at)
		VALUES ($1, $2, $3, 'pending', $4, $5, $6) RETURNING id`, orgID, p.Name(), amount, la.AccountID, la.TokenID, tx.Now())
	if err != nil {
		return TopUpResult{}, fmt.Errorf("insert charge: %w", err)
	}
	cr, err := p.Charge(tx.ctx, orgID, amount, "guildhall-charge-"+strconv.FormatInt(chargeID, 10))
	if err != nil {
		return TopUpResult{}, fmt.Errorf("payment provider %s: %w", p.Name(), err)
	}
	res := TopUpResult{Status: "pending", ChargeID: chargeID, Provider: p.Name()}
	if !cr.Completed {
		if _, err := tx.ExecContext(tx.ctx, `UPDATE charges SET provider_ref = $1 WHERE id = $2`, cr.ProviderRef, chargeID); err != nil {
			return res, fmt.Errorf("update charge: %w", err)
		}
		w, err := tx.lockWallet(orgID)
		res.BalanceCents = w.BalanceCents
		return res, err
	}
	w, err := tx.lockWallet(orgID)
	if err != nil {
		return res, err
	}
	e, err := tx.credit(&w, amount, kind, p.Name(), effectKey(kind, key), la, "")
	if err != nil {
		return res, err
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE charges SET status = 'completed', provider_ref = $1, txn_id = $2, completed_at = $3 WHERE id = $4`,
		cr.ProviderRef, e.TxnID, tx.Now(), chargeID); err != nil {
		return res, fmt.Errorf("complete charge: %w", err)
	}
	res.Status, res.Entry, res.BalanceCents = "completed", &e, w.BalanceCents
	return res, nil
}

func effectKey(kind, key string) string {
	if key == "" {
		return ""
	}
	return kind + ":" + key
}

// credit adds amount to a locked wallet from funding:<provider>.
func (tx *Tx) credit(w *model.Wallet, amount int64, kind, provider, key string, la ledgerActor, note string) (model.LedgerEntry, error) {
	t := creditTxn(w, amount, kind, provider, key, la, note)
	if err := tx.setBalance(*w); err != nil {
		return model.LedgerEntry{}, err
	}
	es, err := tx.writeLedger(t)
	if err != nil {
		return model.LedgerEntry{}, err
	}
	return es[0], nil
}

// CompleteCharge credits a pending charge once its provider confirms it.
// Completing a completed charge changes nothing.
func (s *Store) CompleteCharge(ctx context.Context, chargeID int64) (model.LedgerEntry, error) {
	var e model.LedgerEntry
	err := s.InTx(ctx, model.Actor{}, func(tx *Tx) error {
		var c struct {
			OrgID    int64  `db:"org_id"`
			Provider string `db:"provider"`
			Amount   int64  `db:"amount_cents"`
			Status   string `db:"status"`
			Account  *int64 `db:"account_id"`
			Token    *int64 `db:"token_id"`
		}
		err := tx.GetContext(ctx, &c, `SELECT org_id, provider, amount_cents, status, account_id, token_id FROM charges WHERE id = $1 FOR UPDATE`, chargeID)
		if err != nil {
			return notFound(err, "charge")
		}
		if c.Status != "pending" {
			return nil
		}
		w, err := tx.lockWallet(c.OrgID)
		if err != nil {
			return err
		}
		e, err = tx.credit(&w, c.Amount, model.KindTopUp, c.Provider, "charge:"+strconv.FormatInt(chargeID, 10), ledgerActor{AccountID: c.Account, TokenID: c.Token}, "")
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE charges SET status = 'completed', txn_id = $1, completed_at = $2 WHERE id = $3`, e.TxnID, tx.Now(), chargeID); err != nil {
			return fmt.Errorf("complete charge: %w", err)
		}
		tx.actor = model.Actor{AccountID: deref(c.Account), TokenID: deref(c.Token)}
		return tx.Record(c.OrgID, "wallet.top_up", model.Target{Kind: "wallet", ID: strconv.FormatInt(c.OrgID, 10), Label: model.FormatCents(c.Amount)})
	})
	return e, err
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// SetAutoTopUp changes a wallet's auto top-up (owner, admin, billing).
func (s *Store) SetAutoTopUp(ctx context.Context, actor model.Actor, orgID int64, a model.AutoTopUp) (model.AutoTopUp, error) {
	if err := a.Validate(); err != nil {
		return a, err
	}
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		target := model.Target{Kind: "wallet", ID: strconv.FormatInt(orgID, 10)}
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.Can(role, model.ActManageWallet) {
			return tx.Deny(orgID, "wallet.auto_top_up_changed", target, model.Forbidden("Only owners, admins and billing members can change auto top-up."))
		}
		if _, err := tx.lockWallet(orgID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE wallets SET auto_top_up_enabled = $1, threshold_cents = $2, top_up_amount_cents = $3, updated_at = $4 WHERE org_id = $5`,
			a.Enabled, a.ThresholdCents, a.TopUpAmountCents, tx.Now(), orgID); err != nil {
			return fmt.Errorf("set auto top-up: %w", err)
		}
		if a.Enabled {
			target.Label = fmt.Sprintf("on: %s below %s", model.FormatCents(a.TopUpAmountCents), model.FormatCents(a.ThresholdCents))
		} else {
			target.Label = "off"
		}
		return tx.Record(orgID, "wallet.auto_top_up_changed", target)
	})
	return a, err
}

// purchaseTxn debits amount from a locked wallet in memory and returns the
// purchase's ledger transaction, and whether the debit crossed the auto
// top-up threshold (then w.Crossings counts the new crossing). It is the one
// place that decides a debit: the single-transaction path (tx.debit: Buy
// without group commit, the writer's fallback, Approve) and the group-commit
// writer (decideInBatch) both call it, so funds, crossings and the ledger
// legs are the same code.
func purchaseTxn(w *model.Wallet, amount int64, packageID *int64, la ledgerActor, key string) (ledgerTxn, bool, error) {
	before := w.BalanceCents
	if amount <= 0 || amount > before {
		return ledgerTxn{}, false, &model.Error{Code: model.CodeInsufficientFunds, Message: "The wallet does not hold enough."}
	}
	w.BalanceCents -= amount
	fires := model.AutoTopUpFires(w.AutoTopUp, before, w.BalanceCents)
	if fires {
		w.Crossings++
	}
	return ledgerTxn{orgID: w.OrgID, kind: model.KindPurchase, actor: la, packageID: packageID, effectKey: key,
		legs: []posting{walletLeg(w.OrgID, model.KindPurchase, -amount, w.BalanceCents), systemLeg("sales", model.KindPurchase, amount)}}, fires, nil
}

// creditTxn credits amount to a locked wallet in memory from
// funding:<provider> and returns the ledger transaction.
func creditTxn(w *model.Wallet, amount int64, kind, provider, key string, la ledgerActor, note string) ledgerTxn {
	w.BalanceCents += amount
	return ledgerTxn{orgID: w.OrgID, kind: kind, actor: la, effectKey: key, note: note,
		legs: []posting{walletLeg(w.OrgID, kind, amount, w.BalanceCents), systemLeg("funding:"+provider, kind, -amount)}}
}

// crossingKey is the effect key of the auto top-up of the wallet's latest
// crossing, and autoTopUpRef the provider reference of its charge: keyed by
// the crossing number, so one crossing can never charge twice.
func crossingKey(w *model.Wallet) string { return "crossing:" + strconv.FormatInt(w.Crossings, 10) }

func autoTopUpRef(w *model.Wallet) string {
	return "guildhall-auto-" + strconv.FormatInt(w.OrgID, 10) + "-" + strconv.FormatInt(w.Crossings, 10)
}

// debit takes amount from a locked wallet to sales, and fires the auto
// top-up when the debit crosses the threshold: once per crossing, keyed by
// the crossing number, inside this transaction.
func (tx *Tx) debit(w *model.Wallet, amount int64, packageID *int64, la ledgerActor, key string) (model.LedgerEntry, *model.LedgerEntry, error) {
	t, fires, err := purchaseTxn(w, amount, packageID, la, key)
	if err != nil {
		return model.LedgerEntry{}, nil, err
	}
	if err := tx.setBalance(*w); err != nil {
		return model.LedgerEntry{}, nil, err
	}
	es, err := tx.writeLedger(t)
	if err != nil {
		return model.LedgerEntry{}, nil, err
	}
	if !fires {
		return es[0], nil, nil
	}
	auto, err := tx.autoTopUp(w)
	return es[0], auto, err
}

// autoTopUp credits the wallet's auto top-up amount for crossing
// w.Crossings. The manual provider completes at once; a provider that
// completes later leaves a pending charge.
func (tx *Tx) autoTopUp(w *model.Wallet) (*model.LedgerEntry, error) {
	p := tx.store.paymentProvider()
	amount := w.TopUpAmountCents
	key := crossingKey(w)
	var chargeID int64
	err := tx.GetContext(tx.ctx, &chargeID, `INSERT INTO charges (org_id, provider, amount_cents, status, created_at)
		VALUES ($1, $2, $3, 'pending', $4) RETURNING id`, w.OrgID, p.Name(), amount, tx.Now())
	if err != nil {
		return nil, fmt.Errorf("insert auto charge: %w", err)
	}
	cr, err := p.Charge(tx.ctx, w.OrgID, amount, autoTopUpRef(w))
	if err != nil {
		return nil, fmt.Errorf("auto top-up through %s: %w", p.Name(), err)
	}
	target := model.Target{Kind: "wallet", ID: strconv.FormatInt(w.OrgID, 10), Label: model.FormatCents(amount) + " (" + key + ")"}
	if !cr.Completed {
		return nil, tx.recordAs(model.Actor{}, w.OrgID, "wallet.auto_top_up", target)
	}
	e, err := tx.credit(w, amount, model.KindAutoTopUp, p.Name(), key, ledgerActor{}, "auto top-up, "+key)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE charges SET status = 'completed', provider_ref = $1, txn_id = $2, completed_at = $3 WHERE id = $4`,
		cr.ProviderRef, e.TxnID, tx.Now(), chargeID); err != nil {
		return nil, fmt.Errorf("complete auto charge: %w", err)
	}
	return &e, tx.recordAs(model.Actor{}, w.OrgID, "wallet.auto_top_up", target)
}

// recordAs records an event for another actor (the system's auto top-up,
// a buyer's purchase approved by an admin).
func (tx *Tx) recordAs(a model.Actor, orgID int64, action string, target model.Target) error {
	saved := tx.actor
	tx.actor = a
	if a.IP == "" {
		tx.actor.IP = saved.IP
	}
	err := tx.Record(orgID, action, target)
	tx.actor = saved
	return err
}

// TransferResult is both entries of a transfer.
type TransferResult struct {
	Out model.LedgerEntry `json:"transfer_out"`
	In  model.LedgerEntry `json:"transfer_in"`
}

// TransferCredits moves amount from one workspace's wallet to another's; the
// actor must own both (SPEC 8), e.g. to empty an org before deleting it.
func (s *Store) TransferCredits(ctx context.Context, actor model.Actor, fromOrg, toOrg, amount int64, key string) (TransferResult, bool, error) {
	if err := model.ValidateAmount("amount_cents", amount); err != nil {
		return TransferResult{}, false, err
	}
	if err := ValidateIdempotencyKey(key); err != nil {
		return TransferResult{}, false, err
	}
	if fromOrg == toOrg {
		return TransferResult{}, false, model.InvalidField("to_org", "Choose another workspace to transfer to.")
	}
	var res TransferResult
	replayed := false
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		target := model.Target{Kind: "wallet", ID: strconv.FormatInt(fromOrg, 10), Label: model.FormatCents(amount)}
		role, err := tx.roleIn(fromOrg, actor.AccountID)
		if err != nil {
			return err
		}
		if role != model.RoleOwner {
			return tx.Deny(fromOrg, "wallet.credits_transferred", target, model.Forbidden("Only an owner can move the balance out of this workspace."))
		}
		if r2, err := tx.roleIn(toOrg, actor.AccountID); err != nil || r2 != model.RoleOwner {
			return tx.Deny(fromOrg, "wallet.credits_transferred", target, model.InvalidField("to_org", "You can only transfer to a workspace you own."))
		}
		first, err := claimKey[TransferResult](tx, fromOrg, key, requestHash("transfer", fromOrg, toOrg, amount))
		if err != nil {
			return err
		}
		if first != nil {
			res, replayed = *first, true
			return nil
		}
		res, err = tx.transfer(fromOrg, toOrg, amount, effectKey("transfer", key), "")
		if err != nil {
			return err
		}
		if err := tx.Record(fromOrg, "wallet.credits_transferred", target); err != nil {
			return err
		}
		if err := tx.Record(toOrg, "wallet.credits_transferred", target); err != nil {
			return err
		}
		return saveAnswer(tx, fromOrg, key, 201, res)
	})
	return res, replayed, err
}

// transfer locks both wallets in id order (so two opposite transfers never
// deadlock) and writes one transaction with a transfer_out and a transfer_in.
func (tx *Tx) transfer(fromOrg, toOrg, amount int64, key, note string) (TransferResult, error) {
	first, second := fromOrg, toOrg
	if second < first {
		first, second = second, first
	}
	w1, err := tx.lockWallet(first)
	if err != nil {
		return TransferResult{}, err
	}
	w2, err := tx.lockWallet(second)
	if err != nil {
		return TransferResult{}, err
	}
	from, to := &w1, &w2
	if from.OrgID != fromOrg {
		from, to = to, from
	}
	if amount > from.BalanceCents {
		return TransferResult{}, &model.Error{Code: model.CodeInsufficientFunds,
			Message: fmt.Sprintf("The wallet holds %s; you asked to move %s.", model.FormatCents(from.BalanceCents), model.FormatCents(amount))}
	}
	from.BalanceCents -= amount
	to.BalanceCents += amount
	if err := tx.setBalance(*from); err != nil {
		return TransferResult{}, err
	}
	if err := tx.setBalance(*to); err != nil {
		return TransferResult{}, err
	}
	es, err := tx.writeLedger(ledgerTxn{orgID: fromOrg, kind: "transfer", actor: actorOf(tx.actor), effectKey: key, note: note,
		legs: []posting{walletLeg(fromOrg, model.KindTransferOut, -amount, from.BalanceCents), walletLeg(toOrg, model.KindTransferIn, amount, to.BalanceCents)}})
	if err != nil {
		return TransferResult{}, err
	}
	return TransferResult{Out: es[0], In: es[1]}, nil
}

// CheckLedger verifies the ledger's invariants over the whole database: every
// wallet at or above 0 and equal to the sum of its postings, every
// transaction summing to 0. Tests and the crash check call it.
func (s *Store) CheckLedger(ctx context.Context) error {
	var bad []string
	var rows []struct {
		OrgID   int64 `db:"org_id"`
		Balance int64 `db:"balance_cents"`
		Sum     int64 `db:"sum"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT w.org_id, w.balance_cents, COALESCE(p.sum, 0) AS sum FROM wallets w
		LEFT JOIN (SELECT org_id, sum(amount_cents) AS sum FROM postings WHERE org_id IS NOT NULL GROUP BY org_id) p ON p.org_id = w.org_id
		WHERE w.balance_cents < 0 OR w.balance_cents <> COALESCE(p.sum, 0)`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		bad = append(bad, fmt.Sprintf("wallet %d holds %d but its postings sum to %d", r.OrgID, r.Balance, r.Sum))
	}
	var unbalanced []int64
	if err := s.db.SelectContext(ctx, &unbalanced, `SELECT txn_id FROM postings GROUP BY txn_id HAVING sum(amount_cents) <> 0 LIMIT 10`); err != nil {
		return err
	}
	for _, id := range unbalanced {
		bad = append(bad, fmt.Sprintf("transaction %d does not sum to 0", id))
	}
	var lastAfter []int64
	if err := s.db.SelectContext(ctx, &lastAfter, `SELECT w.org_id FROM wallets w JOIN LATERAL (
			SELECT balance_after_cents FROM postings p WHERE p.org_id = w.org_id ORDER BY id DESC LIMIT 1) l ON true
		WHERE l.balance_after_cents <> w.balance_cents LIMIT 10`); err != nil {
		return err
	}
	for _, id := range lastAfter {
		bad = append(bad, fmt.Sprintf("wallet %d: the last entry's balance after differs from the balance", id))
	}
	var daySpend []string
	if err := s.db.SelectContext(ctx, &daySpend, `SELECT coalesce(d.org_id, p.org_id)::text || ' on ' || coalesce(d.day, p.day)::text
		FROM wallet_day_spend d FULL JOIN (
			SELECT org_id, (created_at AT TIME ZONE 'UTC')::date AS day, -sum(amount_cents) AS cents
			FROM postings WHERE kind = 'purchase' AND org_id IS NOT NULL GROUP BY 1, 2) p
		ON p.org_id = d.org_id AND p.day = d.day
		WHERE d.cents IS DISTINCT FROM p.cents AND (d.org_id IS NULL OR EXISTS (SELECT 1 FROM orgs WHERE id = d.org_id))
			AND (p.org_id IS NULL OR EXISTS (SELECT 1 FROM orgs WHERE id = p.org_id))
		LIMIT 10`); err != nil {
		return err
	}
	for _, k := range daySpend {
		bad = append(bad, "the day's spending of org "+k+" differs from its purchases")
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

var _ = sql.ErrNoRows
