// Package db is Guildhall's store: one file per aggregate with its queries and
// transactions, written by hand with sqlx on PostgreSQL. Rules come from
// db/model; every change writes its audit event in the same transaction.
package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"guildhall/db/model"
)

// Store holds the database handle and the clock. Tests inject the clock to
// move time forward (invitation expiry, rate windows).
type Store struct {
	db       *handle // the pool, with its prepared-statement cache
	now      func() time.Time
	fastHash bool
	provider PaymentProvider // funds wallets; nil is the manual provider
	writers  *writers        // group-commit writer per hot wallet; nil: off
	wstats   *walletStats    // batch sizes and purchase outcomes for /metrics
	sessions sessionKeep     // browser sessions' accounts, kept per version
	checks   checkKeep       // the last session check per session (sessioncheck.go)
	ledger   ledgerKeep      // the first page of each org's wallet history (ledgerkeep.go)
	texts    sync.Map        // statement texts built per shape (memberListText)
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New wraps an open database.
func New(db *sqlx.DB, opts ...Option) *Store {
	s := &Store{db: newHandle(db), now: time.Now, writers: &writers{m: map[int64]*walletWriter{}},
		wstats: newWalletStats()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Open connects to PostgreSQL at dsn.
func Open(ctx context.Context, dsn string, maxConns int) (*sqlx.DB, error) {
	d, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	ConfigurePool(d, maxConns)
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return d, nil
}

// DefaultMaxConns is a server's connection pool when the operator sets none
// (GUILDHALL_DB_MAX_CONNS): five servers fill PostgreSQL's default
// max_connections of 100.
const DefaultMaxConns = 20

// ConfigurePool sizes the connection pool: at most maxConns connections
// (DefaultMaxConns when maxConns is 0 or less). Keeping as many idle
// connections as open ones matters under load: a new PostgreSQL connection
// costs a process fork, far more than a query.
func ConfigurePool(d *sqlx.DB, maxConns int) {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	d.SetMaxOpenConns(maxConns)
	d.SetMaxIdleConns(maxConns)
	d.SetConnMaxIdleTime(5 * time.Minute)
}

// Now is the store's clock, in UTC.
func (s *Store) Now() time.Time { return s.now().UTC() }

// DB exposes the handle for health checks and tests.
func (s *Store) DB() *sqlx.DB { return s.db.DB }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Tx is a transaction that knows its actor, so the audit recorder needs only
// the action and the target.
type Tx struct {
	*sqlx.Tx
	ctx    context.Context
	store  *Store
	actor  model.Actor
	denied []model.AuditEvent
}

// stmt is query's cached statement bound to the transaction, or nil to run
// it unprepared: it has no arguments, or it is not cached yet (it is then
// prepared in the background for the next time). A cached statement is
// parsed and planned once per connection and runs in one round trip, where
// an unprepared one with arguments takes two (see handle); the buy and
// top-up paths are a dozen statements each.
func (tx *Tx) stmt(ctx context.Context, query string, args []any) *sqlx.Stmt {
	if len(args) == 0 {
		return nil
	}
	h := tx.store.db
	st := h.cached(query)
	if st == nil {
		h.prepareSoon(query)
		return nil
	}
	return tx.Tx.StmtxContext(ctx, st)
}

// GetContext is sqlx's GetContext through the statement cache.
func (tx *Tx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if st := tx.stmt(ctx, query, args); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return tx.Tx.GetContext(ctx, dest, query, args...)
}

// SelectContext is sqlx's SelectContext through the statement cache.
func (tx *Tx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	if st := tx.stmt(ctx, query, args); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return tx.Tx.SelectContext(ctx, dest, query, args...)
}

// ExecContext is database/sql's ExecContext through the statement cache.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, query, args); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// QueryContext is database/sql's QueryContext through the statement cache.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*Rows, error) {
	var rows *sql.Rows
	var err error
	if st := tx.stmt(ctx, query, args); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = tx.Tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return &Rows{Rows: rows}, nil
}

// Ctx is the transaction's context.
func (tx *Tx) Ctx() context.Context { return tx.ctx }

// Now is the store's clock.
func (tx *Tx) Now() time.Time { return tx.store.Now() }

// Actor is who runs the transaction.
func (tx *Tx) Actor() model.Actor { return tx.actor }

// InTx runs fn in one transaction as actor and commits when it returns nil.
// Denied attempts queued with tx.Deny are written after the rollback, in their
// own transaction, so a refusal is audited even though nothing else is kept.
func (s *Store) InTx(ctx context.Context, actor model.Actor, fn func(tx *Tx) error) error {
	sx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{Tx: sx, ctx: ctx, store: s, actor: actor}
	if err := fn(tx); err != nil {
		_ = sx.Rollback()
		if len(tx.denied) > 0 {
			if werr := s.writeDenied(ctx, tx.denied); werr != nil {
				return errors.Join(err, werr)
			}
		}
		return err
	}
	if err := sx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapPQ(err))
	}
	return nil
}

func (s *Store) writeDenied(ctx context.Context, evs []model.AuditEvent) error {
	sx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin audit: %w", err)
	}
	defer sx.Rollback() //nolint:errcheck // after commit this is a no-op
	for _, ev := range evs {
		if err := insertAudit(ctx, sx, ev); err != nil {
			return err
		}
	}
	return sx.Commit()
}

// Record writes a successful audit event for action on target in org.
func (tx *Tx) Record(orgID int64, action string, target model.Target) error {
	return insertAudit(tx.ctx, tx, tx.event(orgID, action, target, model.OutcomeSuccess))
}

// Deny queues a denied audit event and returns err, for use as
// `return tx.Deny(org, "member.role_changed", target, err)`.
func (tx *Tx) Deny(orgID int64, action string, target model.Target, err error) error {
	tx.denied = append(tx.denied, tx.event(orgID, action, target, model.OutcomeDenied))
	return err
}

// DenyIf calls Deny when err is non-nil, and returns err.
func (tx *Tx) DenyIf(orgID int64, action string, target model.Target, err error) error {
	if err == nil {
		return nil
	}
	return tx.Deny(orgID, action, target, err)
}

func (tx *Tx) event(orgID int64, action string, target model.Target, outcome string) model.AuditEvent {
	ev := model.AuditEvent{
		ActorEmail:  tx.actor.Email,
		Action:      action,
		TargetKind:  target.Kind,
		TargetID:    target.ID,
		TargetLabel: target.Label,
		Outcome:     outcome,
		IP:          tx.actor.IP,
		CreatedAt:   tx.Now(),
	}
	if orgID != 0 {
		ev.OrgID = &orgID
	}
	if tx.actor.AccountID != 0 {
		id := tx.actor.AccountID
		ev.ActorID = &id
	}
	if tx.actor.TokenID != 0 {
		id := tx.actor.TokenID
		ev.TokenID = &id
	}
	return ev
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertAudit(ctx context.Context, ex execer, ev model.AuditEvent) error {
	_, err := ex.ExecContext(ctx, `
		INSERT INTO audit_events (org_id, actor_id, actor_email, token_id, action,
			target_kind, target_id, target_label, outcome, ip, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ev.OrgID, ev.ActorID, ev.ActorEmail, ev.TokenID, ev.Action,
		ev.TargetKind, ev.TargetID, ev.TargetLabel, ev.Outcome, ev.IP, ev.CreatedAt)
	if err != nil {
		return fmt.Errorf("record audit %s: %w", ev.Action, err)
	}
	return nil
}

// RecordDenied writes a denied event outside any change, for refusals decided
// before a transaction starts (e.g. a role check in a handler).
func (s *Store) RecordDenied(ctx context.Context, actor model.Actor, orgID int64, action string, target model.Target) error {
	tx := &Tx{ctx: ctx, store: s, actor: actor}
	return s.writeDenied(ctx, []model.AuditEvent{tx.event(orgID, action, target, model.OutcomeDenied)})
}

// NewSecret returns a random URL-safe secret with a prefix, and its SHA-256 hex
// hash, which is all the database ever keeps.
func NewSecret(prefix string) (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS entropy source failing is not recoverable
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret is the SHA-256 hex of a secret (tokens, links, session ids).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// notFound turns sql.ErrNoRows into a not-found error about what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return model.NotFound(what)
	}
	return err
}

// mapPQ turns constraint violations that reach the commit into client errors.
func mapPQ(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &model.Error{Code: model.CodeConflict, Message: "That already exists."}
		case "23514":
			return &model.Error{Code: model.CodeValidation, Message: "A value is out of range."}
		}
	}
	return err
}

// isUniqueViolation reports whether err is a unique violation of constraint
// (or of any unique constraint when constraint is "").
func isUniqueViolation(err error, constraint string) bool {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" {
		return constraint == "" || pe.Constraint == constraint
	}
	return false
}
