package db

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// maxPrepared bounds the statement cache. The store's query texts are
// written in code (filters are assembled from fixed pieces), so the real
// number is a few hundred; the bound only guards against a query built from
// data, which then runs unprepared.
const maxPrepared = 2000

// handle is the store's connection pool. Queries with arguments run as
// prepared statements, cached by their text (in a transaction once cached,
// see Tx.stmt): PostgreSQL parses and plans a statement once per connection
// instead of on every call, and a prepared statement runs in one round trip
// (lib/pq sends an unnamed statement's Parse and its Bind in two). On the
// large data set the per-request statements (session, workspaces, banners,
// role) spent several times their execution in parse and plan.
//
// A query whose best plan depends on its arguments (a member's 20 agents
// against an admin's 100,000) goes through PerCall, which plans each call.
type handle struct {
	*sqlx.DB
	stmts     sync.Map // query text -> *sqlx.Stmt
	n         atomic.Int64
	preparing sync.Map  // query text -> true while prepareSoon runs, or once PostgreSQL refused it
	wraps     wrapTexts // query text -> the text carrying a session check (sessioncheck.go)
}

func (h *handle) wrapped() *wrapTexts { return &h.wraps }

func newHandle(d *sqlx.DB) *handle { return &handle{DB: d} }

// PerCall is the pool without the statement cache: each call is planned with
// its own arguments. Its reads carry the request's session check as the
// handle's do.
func (h *handle) PerCall() perCall { return perCall{h} }

// perCall is the pool's reads, each planned with its arguments.
type perCall struct{ h *handle }

func (p perCall) wrapped() *wrapTexts { return &p.h.wraps }

func (p perCall) get(ctx context.Context, dest any, query string, args ...any) error {
	return p.h.DB.GetContext(ctx, dest, query, args...)
}

func (p perCall) selectRows(ctx context.Context, dest any, query string, args ...any) error {
	return p.h.DB.SelectContext(ctx, dest, query, args...)
}

func (p perCall) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.h.DB.QueryContext(ctx, query, args...)
}

// GetContext is sqlx's GetContext, planned with its arguments.
func (p perCall) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return checkedFill(ctx, p, p.get, gotRow, dest, query, args)
}

// SelectContext is sqlx's SelectContext, planned with its arguments.
func (p perCall) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return checkedFill(ctx, p, p.selectRows, gotRows, dest, query, args)
}

// QueryContext is database/sql's QueryContext, planned with its arguments.
func (p perCall) QueryContext(ctx context.Context, query string, args ...any) (*Rows, error) {
	return checkedQuery(ctx, p, query, args)
}

// prepared returns the cached statement for query, preparing it on first use
// (database/sql then prepares it on each connection as it is used there).
// nil means run it unprepared: the cache is full, or the query did not
// prepare (the direct call reports the same error with its context).
func (h *handle) prepared(ctx context.Context, query string) *sqlx.Stmt {
	st, _ := h.prepare(ctx, query)
	return st
}

// prepare is prepared with the reason for a nil statement.
func (h *handle) prepare(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if v, ok := h.stmts.Load(query); ok {
		return v.(*sqlx.Stmt), nil
	}
	if h.n.Load() >= maxPrepared {
		return nil, errCacheFull
	}
	st, err := h.DB.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := h.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sqlx.Stmt), nil
	}
	h.n.Add(1)
	return st, nil
}

var errCacheFull = errors.New("statement cache full")

// cached returns query's statement if it is in the cache, without preparing
// it (nil when it is not).
func (h *handle) cached(query string) *sqlx.Stmt {
	if v, ok := h.stmts.Load(query); ok {
		return v.(*sqlx.Stmt)
	}
	return nil
}

// prepareSoon puts query in the cache in the background. A transaction
// misses the cache this way rather than through prepared: preparing on the
// pool takes a second connection, and transactions that hold every
// connection while each waits for another would wait for each other.
func (h *handle) prepareSoon(query string) {
	if h.n.Load() >= maxPrepared {
		return
	}
	if _, busy := h.preparing.LoadOrStore(query, true); busy {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := h.prepare(ctx, query)
		var refused *pq.Error
		if !errors.As(err, &refused) {
			// Prepared, or not this time (no free connection within the
			// timeout, a lost connection): a later miss tries again.
			h.preparing.Delete(query)
		}
		// PostgreSQL refused it: a statement that only prepares inside its
		// transaction (a table of the transaction's own) stays marked and
		// runs unprepared, without an attempt per call.
	}()
}

// get is sqlx's GetContext through the statement cache.
func (h *handle) get(ctx context.Context, dest any, query string, args ...any) error {
	if len(args) > 0 {
		if st := h.prepared(ctx, query); st != nil {
			return st.GetContext(ctx, dest, args...)
		}
	}
	return h.DB.GetContext(ctx, dest, query, args...)
}

// GetContext is get, carrying the request's deferred session check
// (db/sessioncheck.go) when it has not been settled yet.
func (h *handle) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return checkedFill(ctx, h, h.get, gotRow, dest, query, args)
}

// SelectContext is sqlx's SelectContext through the statement cache, with
// the request's deferred session check as GetContext.
func (h *handle) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return checkedFill(ctx, h, h.selectRows, gotRows, dest, query, args)
}

func (h *handle) selectRows(ctx context.Context, dest any, query string, args ...any) error {
	if len(args) > 0 {
		if st := h.prepared(ctx, query); st != nil {
			return st.SelectContext(ctx, dest, args...)
		}
	}
	return h.DB.SelectContext(ctx, dest, query, args...)
}

// ExecContext is database/sql's ExecContext through the statement cache.
// A write never runs before the request's session check is settled.
func (h *handle) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c := sessionCheckOf(ctx); c != nil {
		if err := h.settleCheck(ctx, c); err != nil {
			return nil, err
		}
	}
	if len(args) > 0 {
		if st := h.prepared(ctx, query); st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return h.DB.ExecContext(ctx, query, args...)
}

// BeginTxx is sqlx's, after the request's session check is settled.
func (h *handle) BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error) {
	if c := sessionCheckOf(ctx); c != nil {
		if err := h.settleCheck(ctx, c); err != nil {
			return nil, err
		}
	}
	return h.DB.BeginTxx(ctx, opts)
}

// Rows is sql.Rows that settles the request's deferred session check at
// its first row.
type Rows struct {
	*sql.Rows
	chk *SessionCheck
}

// Next is sql.Rows.Next.
func (r *Rows) Next() bool {
	ok := r.Rows.Next()
	if ok && r.chk != nil {
		r.chk.settle(true)
		r.chk = nil
	}
	return ok
}

// QueryContext is database/sql's QueryContext through the statement cache,
// with the request's deferred session check as GetContext.
func (h *handle) QueryContext(ctx context.Context, query string, args ...any) (*Rows, error) {
	return checkedQuery(ctx, h, query, args)
}

func (h *handle) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if len(args) > 0 {
		if st := h.prepared(ctx, query); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return h.DB.QueryContext(ctx, query, args...)
}

// scanRow runs query through the statement cache and scans its first row
// into dest by hand; no row is sql.ErrNoRows, as with GetContext.
func (h *handle) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	rows, err := h.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// limitArgs writes limit into query's `:limit`: as a constant when it is the
// usual page size (one of usual), else as one more parameter appended to args.
// A generic plan estimates `LIMIT $n` at a tenth of the rows, so PostgreSQL
// keeps planning such a cached statement on every call (a custom plan each
// time, up to 1 ms on the large data set, many times its execution); with a
// constant the generic plan wins after five calls. Only the usual size gets
// its own text, so a script walking every per_page value adds no statements
// to the cache of each connection.
func limitArgs(query string, limit int, args []any, usual ...int) (string, []any) {
	return inlineArg(query, ":limit", limit, args, usual...)
}

// offsetArgs writes offset into query's `:offset` the same way: a constant
// for the first page, a parameter for the others. A generic plan estimates
// `OFFSET $n` at a tenth of the rows too, so the first page, the one most
// read, would otherwise be planned on every call.
func offsetArgs(query string, offset int, args []any) (string, []any) {
	return inlineArg(query, ":offset", offset, args, 0)
}

// inlineArg writes v for every name in query (a query may use its offset
// more than once): a constant when v is usual, else one more parameter.
func inlineArg(query, name string, v int, args []any, usual ...int) (string, []any) {
	if slices.Contains(usual, v) {
		return strings.ReplaceAll(query, name, strconv.Itoa(v)), args
	}
	args = append(args, v)
	return strings.ReplaceAll(query, name, "$"+strconv.Itoa(len(args))), args
}
