// Package querycount counts the SQL statements a request issues, for query
// budget tests: a database/sql connector wrapping lib/pq that adds one to the
// Counter carried by the statement's context, and an HTTP wrapper that puts a
// Counter in the request context and reports it in a trailer.
package querycount

import (
	"context"
	"database/sql/driver"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/lib/pq"
)

// Counter is the statements of one request.
type Counter struct {
	mu      sync.Mutex
	queries []string
}

// N is how many statements ran.
func (c *Counter) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queries)
}

// Queries are the statements, squeezed to one line each.
func (c *Counter) Queries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.queries...)
}

func (c *Counter) add(q string) {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 160 {
		q = q[:160] + "…"
	}
	c.mu.Lock()
	c.queries = append(c.queries, q)
	c.mu.Unlock()
}

type ctxKey struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c *Counter) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

func count(ctx context.Context, q string) {
	if c, ok := ctx.Value(ctxKey{}).(*Counter); ok {
		c.add(q)
	}
}

// Header asks the Handler to count a request; Trailer carries the count
// back, and TrailerQueries the statements (separated by " ;; ").
const (
	Header         = "X-Count-Queries"
	Trailer        = "X-Query-Count"
	TrailerQueries = "X-Query-List"
)

// Handler counts the statements of requests that carry Header and answers
// the count in the Trailer trailer (known only when the handler is done).
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(Header) == "" {
			h.ServeHTTP(w, r)
			return
		}
		c := &Counter{}
		w.Header().Add("Trailer", Trailer)
		w.Header().Add("Trailer", TrailerQueries)
		h.ServeHTTP(w, r.WithContext(With(r.Context(), c)))
		w.Header().Set(Trailer, strconv.Itoa(c.N()))
		w.Header().Set(TrailerQueries, strings.Join(c.Queries(), " ;; "))
	})
}

// Connector opens lib/pq connections at dsn that count statements.
func Connector(dsn string) (driver.Connector, error) {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return connector{c}, nil
}

type connector struct{ inner driver.Connector }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{cn}, nil
}

func (c connector) Driver() driver.Driver { return c.inner.Driver() }

type conn struct{ driver.Conn }

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: st, q: q}, nil
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	count(ctx, q)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	count(ctx, q)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *conn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *conn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *conn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

type stmt struct {
	driver.Stmt
	q string
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	count(ctx, s.q)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	count(ctx, s.q)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}
