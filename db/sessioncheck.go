package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A page's session check, deferred into its first statement.
//
// Every page checks its session (sessionCheckQuery: the session row and the
// versions of the copy this server keeps). As a statement of its own that
// is a round trip, a sixth to a third of a page's server and PostgreSQL
// time. When this server has checked the session before, a page now reads
// it from memory (KeptBrowserSession) and carries the check into its first
// read instead: the read is wrapped in a filter that PostgreSQL evaluates
// once, before the read's first row and in its snapshot, and that lets no
// row through when the session or its versions moved. A read that returned
// a row therefore proves the session held. Until one has, no write runs
// (ExecContext and BeginTxx settle the check with a statement of their own
// first) and nothing is sent (the web layer holds the first byte, and
// settles it the same way, web/sessiongate.go); a changed session is read
// again and the page run again from the start. A sign-out or a role change
// therefore takes effect on the next page on every server, as before.

// ErrSessionChanged is what a statement answers when the deferred check of
// its request's session failed: the session was ended, or something the
// server's copy of it was read from changed.
var ErrSessionChanged = errors.New("the session changed since this server read it")

type checkState int

const (
	checkPending checkState = iota
	checkHeld
	checkChanged
)

// SessionCheck is one request's deferred session check.
type SessionCheck struct {
	mu    sync.Mutex
	state checkState
	k     rememberedCheck
	hash  string
}

// rememberedCheck is what the last full check of a session on this server
// read: a page may skip its own statement while the copy it names is kept.
type rememberedCheck struct {
	account        int64
	method         string
	ssoOrg         *int64
	version, epoch int64
	lastSeen       time.Time // the session's, after this server's touch
}

// checkKeepMax bounds the remembered checks (about 150 bytes each).
const checkKeepMax = 20000

// checkKeep holds remembered checks by session hash. The zero value is ready.
type checkKeep struct {
	mu sync.Mutex
	m  map[string]rememberedCheck
}

func (k *checkKeep) get(hash string) (rememberedCheck, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, ok := k.m[hash]
	return r, ok
}

func (k *checkKeep) put(hash string, r rememberedCheck) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[string]rememberedCheck)
	}
	if _, ok := k.m[hash]; !ok && len(k.m) >= checkKeepMax {
		n := checkKeepMax / 10 // an arbitrary tenth, as sessionKeep does
		for h := range k.m {
			delete(k.m, h)
			if n--; n == 0 {
				break
			}
		}
	}
	k.m[hash] = r
}

func (k *checkKeep) drop(hash string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, hash)
}

// KeptBrowserSession answers a session from this server's memory, with the
// check its page must carry (WithSessionCheck), when the server checked it
// before and still keeps the copy that check named. ok is false when the
// page must read the session itself (BrowserSession): never checked here,
// the copy dropped or outdated, or the session due to be marked seen.
func (s *Store) KeptBrowserSession(sessionID string) (b BrowserSession, chk *SessionCheck, ok bool) {
	if sessionID == "" {
		return BrowserSession{}, nil, false
	}
	hash := HashSecret(sessionID)
	r, ok := s.checks.get(hash)
	if !ok {
		return BrowserSession{}, nil, false
	}
	now := s.Now()
	if now.Sub(r.lastSeen) > time.Minute {
		return BrowserSession{}, nil, false // touchSession is due
	}
	k := s.sessions.get(r.account, r.version, r.epoch, now)
	if k == nil {
		return BrowserSession{}, nil, false
	}
	b = BrowserSession{Account: k.account, Facts: SessionFacts{Method: r.method, SSOOrgID: r.ssoOrg,
		Invitations: k.invitations, Transfers: k.transfers, AutoJoin: k.autoJoin}}
	b.Workspaces, b.Blocked = gateWorkspaces(k.rows, b.Facts)
	return b, &SessionCheck{k: r, hash: hash}, true
}

// ForgetSessionCheck drops the remembered check of a session, so that its
// next page reads it in full (after a change through this server).
func (s *Store) ForgetSessionCheck(sessionID string) {
	if sessionID != "" {
		s.checks.drop(HashSecret(sessionID))
	}
}

// rememberCheck records a full check of the session hash that found the
// copy kept at chk's versions.
func (s *Store) rememberCheck(hash string, chk sessionCheck, now time.Time) {
	seen := chk.lastSeen
	if now.Sub(seen) > time.Minute {
		seen = now // touchSession marked it
	}
	s.checks.put(hash, rememberedCheck{account: chk.accountID, method: chk.method, ssoOrg: chk.ssoOrgID,
		version: chk.version, epoch: chk.epoch, lastSeen: seen})
}

type sessionCheckKey struct{}

// WithSessionCheck makes the first read under ctx carry chk.
func WithSessionCheck(ctx context.Context, chk *SessionCheck) context.Context {
	return context.WithValue(ctx, sessionCheckKey{}, chk)
}

func sessionCheckOf(ctx context.Context) *SessionCheck {
	c, _ := ctx.Value(sessionCheckKey{}).(*SessionCheck)
	return c
}

func (c *SessionCheck) current() checkState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// settle records what a read carrying the check found: the session held
// when it returned a row. An empty read proves nothing (the page may have
// no rows, or the session changed): the check stays pending.
func (c *SessionCheck) settle(gotRow bool) {
	if !gotRow {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == checkPending {
		c.state = checkHeld
	}
}

// holdsSQL is the session check as a condition, its arguments numbered
// from $n+1: the session row with the method and SSO org it was read with,
// and the versions of the server's copy (sessionCheckQuery reads the same).
func holdsSQL(n int) string {
	p := func(i int) string { return "$" + strconv.Itoa(n+i) }
	return `EXISTS (SELECT 1 FROM sessions s WHERE s.id_hash = ` + p(1) + ` AND s.account_id = ` + p(2) +
		` AND s.auth_method = ` + p(3) + ` AND s.sso_org_id IS NOT DISTINCT FROM ` + p(4) +
		` AND COALESCE((SELECT v FROM session_versions WHERE account_id = ` + p(2) + `), 0) = ` + p(5) +
		` AND (SELECT v FROM session_epoch) = ` + p(6) + `)`
}

// wrapTexts holds wrapSQL's texts by query text.
type wrapTexts struct {
	m sync.Map
	n atomic.Int64
}

// wrapSQL is query with the check: a condition on no row of the query,
// which PostgreSQL evaluates once before the first row (a one-time filter
// over an InitPlan), in the statement's own snapshot. The query's rows,
// their columns and their order are unchanged; the check's arguments follow
// the query's n.
func wrapSQL(query string, n int) string {
	return "SELECT * FROM (\n" + query + "\n) page WHERE (SELECT " + holdsSQL(n) + ")"
}

// wrap is query and args with the check, the text built once per query
// (up to maxPrepared texts, as the statement cache).
func (c *SessionCheck) wrap(texts *wrapTexts, query string, args []any) (string, []any) {
	var q string
	if v, ok := texts.m.Load(query); ok {
		q = v.(string)
	} else {
		q = wrapSQL(query, len(args))
		if texts.n.Add(1) <= maxPrepared {
			texts.m.Store(query, q)
		}
	}
	out := make([]any, 0, len(args)+6)
	out = append(out, args...)
	out = append(out, c.args()...)
	return q, out
}

func (c *SessionCheck) args() []any {
	return []any{c.hash, c.k.account, c.k.method, c.k.ssoOrg, c.k.version, c.k.epoch}
}

// SettleSessionCheck settles chk with a statement of its own when no read
// has: nil when the session holds, ErrSessionChanged when it does not.
func (s *Store) SettleSessionCheck(ctx context.Context, chk *SessionCheck) error {
	return s.db.settleCheck(ctx, chk)
}

var sessionHoldsQuery = `SELECT ` + holdsSQL(0)

func (h *handle) settleCheck(ctx context.Context, c *SessionCheck) error {
	switch c.current() {
	case checkHeld:
		return nil
	case checkChanged:
		return ErrSessionChanged
	}
	var held bool
	if err := h.get(ctx, &held, sessionHoldsQuery, c.args()...); err != nil {
		return fmt.Errorf("check session: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if held {
		c.state = checkHeld
		return nil
	}
	c.state = checkChanged
	return ErrSessionChanged
}

// gotRows reports whether dest, a pointer to a slice, holds any element.
func gotRows(dest any) bool {
	v := reflect.ValueOf(dest)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	return v.Kind() == reflect.Slice && v.Len() > 0
}

// reader is a pool's reads, without the check: the handle's (prepared and
// cached) or PerCall's (planned per call), with the texts of its reads
// wrapped with the check.
type reader interface {
	wrapped() *wrapTexts
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// checkedFill is fill (a reader's get or selectRows) into dest, carrying
// ctx's session check while it is pending; got reports whether dest then
// holds a row.
func checkedFill(ctx context.Context, r reader, fill func(context.Context, any, string, ...any) error,
	got func(dest any) bool, dest any, query string, args []any) error {
	if c := sessionCheckOf(ctx); c != nil {
		switch c.current() {
		case checkChanged:
			return ErrSessionChanged
		case checkPending:
			q, a := c.wrap(r.wrapped(), query, args)
			err := fill(ctx, dest, q, a...)
			c.settle(err == nil && got(dest))
			return err
		}
	}
	return fill(ctx, dest, query, args...)
}

// gotRow is got for a single-row read: no error means a row.
func gotRow(any) bool { return true }

// checkedQuery is r.query, carrying ctx's session check while it is
// pending; the rows settle it at their first.
func checkedQuery(ctx context.Context, r reader, query string, args []any) (*Rows, error) {
	if c := sessionCheckOf(ctx); c != nil {
		switch c.current() {
		case checkChanged:
			return nil, ErrSessionChanged
		case checkPending:
			q, a := c.wrap(r.wrapped(), query, args)
			rows, err := r.query(ctx, q, a...)
			if err != nil {
				return nil, err
			}
			return &Rows{Rows: rows, chk: c}, nil
		}
	}
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return &Rows{Rows: rows}, nil
}
