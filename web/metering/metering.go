// Package metering counts JSON API requests per org, agent and UTC day in
// memory and flushes the counts to the database about once a second as
// additive upserts (db.RecordUsage), so no request waits on a write and any
// number of instances on one database add up. It also answers, from memory,
// whether an org is over its monthly request limit.
//
// The org a request counts toward (its "org context"), first match wins:
//  1. a token bound to an org: that org, for every request it makes;
//  2. the route's :org parameter, or the org query parameter (GET
//     /api/agents?org=): that org;
//  3. a route naming an agent (/api/agents/:id...): the agent's org;
//
// in each case only when the caller is a member of that org, so nobody can
// spend (or read the limit headers of) an org they do not belong to.
// Requests with no org context (GET /api/me with an unbound token, the org
// list) are not counted. A request is attributed to an agent whenever the
// route names one the caller's org context owns.
//
// The monthly count an instance checks is the database's count as of its
// last flush (refreshed every flush) plus the requests it counted since: so
// across instances it lags by at most about a flush interval, and N
// instances can overshoot a limit by up to what the others counted in that
// interval. A crash loses at most the last interval's counts.
package metering

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/request"
)

// Options tune a Meter.
type Options struct {
	// Interval between flushes (default 1s).
	Interval time.Duration
	// ResolveTTL is how long a resolved org context (membership, an agent's
	// org) is trusted (default 10s): a removed member's requests stop
	// counting, and an agent moved away stops counting for its old org,
	// within it.
	ResolveTTL time.Duration
	// IdleOrgs drops an org's cached count after this long without requests
	// (default 10 minutes), so flushes refresh only active orgs.
	IdleOrgs time.Duration
	// Logf reports flush failures; nil logs nothing.
	Logf func(format string, a ...any)
}

type countKey struct {
	org, agent int64
	day        int64 // Unix days
}

type resolveKey struct {
	account int64
	kind    byte // 'o' org reference, 'a' agent id
	ref     string
}

type resolved struct {
	org     int64 // 0: no org context
	expires time.Time
}

// orgState is an org's monthly count as this instance sees it.
type orgState struct {
	month    time.Time // first day of the month counted
	limit    int64
	recorded int64 // the database's count at the last refresh
	local    int64 // counted here since, not yet in recorded
	seen     time.Time
}

// Meter counts requests. Its methods are safe for concurrent use.
type Meter struct {
	store *db.Store
	opt   Options
	off   atomic.Bool

	mu       sync.Mutex
	pending  map[countKey]int64
	orgs     map[int64]*orgState
	resolves map[resolveKey]resolved

	flushMu sync.Mutex // one flush at a time
	stop    chan struct{}
	done    chan struct{}
	started bool
}

// New makes a Meter over store; Start begins its flushes.
func New(store *db.Store, opt Options) *Meter {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.ResolveTTL <= 0 {
		opt.ResolveTTL = 10 * time.Second
	}
	if opt.IdleOrgs <= 0 {
		opt.IdleOrgs = 10 * time.Minute
	}
	return &Meter{store: store, opt: opt, pending: map[countKey]int64{}, orgs: map[int64]*orgState{},
		resolves: map[resolveKey]resolved{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the flusher until Close.
func (m *Meter) Start() {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.mu.Unlock()
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.opt.Interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := m.Flush(ctx); err != nil && m.opt.Logf != nil {
					m.opt.Logf("metering: flush: %v", err)
				}
				cancel()
			}
		}
	}()
}

// Close stops the flusher and writes what is still counted: a clean shutdown
// loses nothing. A failure is logged and returned. Safe to call more than
// once.
func (m *Meter) Close() error {
	m.mu.Lock()
	started := m.started
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.mu.Unlock()
	if started {
		<-m.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Flush(ctx)
	if err != nil && m.opt.Logf != nil {
		m.opt.Logf("metering: final flush: %v", err)
	}
	return err
}

// SetEnabled turns counting on or off (benchmarks compare the two).
func (m *Meter) SetEnabled(on bool) { m.off.Store(!on) }

// Flush writes the counted requests and refreshes the cached monthly counts
// of the orgs in use from the database. On a write failure the counts are
// kept for the next flush.
func (m *Meter) Flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	now := m.store.Now()
	m.mu.Lock()
	batch := m.pending
	m.pending = make(map[countKey]int64, len(batch))
	ids := make([]int64, 0, len(m.orgs))
	states := make(map[int64]*orgState, len(m.orgs))
	for id, st := range m.orgs {
		if now.Sub(st.seen) > m.opt.IdleOrgs {
			delete(m.orgs, id)
			continue
		}
		ids = append(ids, id)
		states[id] = st
	}
	for k, r := range m.resolves {
		if now.After(r.expires) {
			delete(m.resolves, k)
		}
	}
	m.mu.Unlock()

	deltas := make([]db.UsageDelta, 0, len(batch))
	for k, n := range batch {
		deltas = append(deltas, db.UsageDelta{OrgID: k.org, AgentID: k.agent, Day: time.Unix(k.day*86400, 0).UTC(), Requests: n})
	}
	if err := m.store.RecordUsage(ctx, deltas); err != nil {
		m.mu.Lock()
		for k, n := range batch {
			m.pending[k] += n
		}
		m.mu.Unlock()
		return err
	}
	// What was just written moves from local to recorded once the refresh
	// has read it; requests counted meanwhile stay local.
	written := map[int64]int64{}
	month := model.MonthStart(now)
	for k, n := range batch {
		if model.MonthStart(time.Unix(k.day*86400, 0)).Equal(month) {
			written[k.org] += n
		}
	}
	fresh, err := m.store.MonthlyRequests(ctx, ids, month)
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, n := range written {
		// Only the state the batch was counted in: one loaded since (a new
		// month, an evicted org) read its count from the database already.
		if st := m.orgs[id]; st != nil && st == states[id] && st.month.Equal(month) {
			st.local -= n
			if err == nil {
				continue
			}
			st.recorded += n // the refresh failed: keep the total right
		}
	}
	if err != nil {
		return err
	}
	for id, f := range fresh {
		if st := m.orgs[id]; st != nil && st == states[id] && st.month.Equal(month) {
			st.recorded, st.limit = f.Requests, f.Limit
		}
	}
	return nil
}

// Decision is the answer for one request in an org's context.
type Decision struct {
	Allowed   bool
	Limit     int64
	Remaining int64
	Reset     time.Time // the next UTC month start
}

// Take counts one request for org (attributed to agent, 0 for none) unless
// the org is at its monthly limit. Requests refused are not counted. It
// reads the database only the first time this instance sees the org (or its
// month changed).
func (m *Meter) Take(ctx context.Context, org, agent int64) (Decision, error) {
	now := m.store.Now()
	month := model.MonthStart(now)
	d := Decision{Reset: month.AddDate(0, 1, 0)}
	m.mu.Lock()
	st := m.orgs[org]
	if st == nil || !st.month.Equal(month) {
		m.mu.Unlock()
		if err := m.load(ctx, org, month); err != nil {
			return d, err
		}
		m.mu.Lock()
		st = m.orgs[org]
	}
	st.seen = now
	used := st.recorded + st.local
	d.Limit = st.limit
	if used >= st.limit {
		m.mu.Unlock()
		return d, nil
	}
	st.local++
	m.pending[countKey{org: org, agent: agent, day: now.Unix() / 86400}]++
	d.Allowed, d.Remaining = true, st.limit-used-1
	m.mu.Unlock()
	return d, nil
}

// errNoOrg: the org is gone (deleted since its membership was cached).
var errNoOrg = errors.New("metering: no such org")

// load reads org's limit and recorded month count into the cache.
func (m *Meter) load(ctx context.Context, org int64, month time.Time) error {
	got, err := m.store.MonthlyRequests(ctx, []int64{org}, month)
	if err != nil {
		return err
	}
	f, ok := got[org]
	if !ok {
		return errNoOrg
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.orgs[org]; st != nil && st.month.Equal(month) {
		return nil // another request loaded it meanwhile
	}
	// A new month starts from zero here; what this instance counted last
	// month is still pending and lands on its own days.
	m.orgs[org] = &orgState{month: month, limit: f.Limit, recorded: f.Requests, seen: m.store.Now()}
	return nil
}

// resolve caches fn's org for key; not found is cached as no org context.
func (m *Meter) resolve(ctx context.Context, key resolveKey, fn func() (int64, error)) (int64, error) {
	now := m.store.Now()
	m.mu.Lock()
	r, ok := m.resolves[key]
	m.mu.Unlock()
	if ok && now.Before(r.expires) {
		return r.org, nil
	}
	org, err := fn()
	if err != nil && model.CodeOf(err) != model.CodeNotFound {
		return 0, err
	}
	m.mu.Lock()
	m.resolves[key] = resolved{org: org, expires: now.Add(m.opt.ResolveTTL)}
	m.mu.Unlock()
	return org, nil
}

// orgContext finds the request's org and agent (see the package comment).
func (m *Meter) orgContext(c echo.Context) (org, agent int64, err error) {
	acc, ok := request.Account(c)
	if !ok {
		return 0, 0, nil
	}
	ctx := c.Request().Context()
	ref := c.Param("org")
	if ref == "" && c.Request().Method == http.MethodGet && strings.HasPrefix(c.Path(), "/api/agents") {
		ref = c.QueryParam("org")
	}
	if t, ok := request.Token(c); ok && t.OrgID != nil {
		ref = strconv.FormatInt(*t.OrgID, 10)
	}
	if ref != "" {
		if len(ref) > 100 {
			return 0, 0, nil // no org has such a slug; do not cache junk
		}
		if ws, found, read := request.TokenOrg(c, ref); read {
			if !found {
				return 0, 0, nil // read with the token: not the caller's org
			}
			org = ws.ID
		} else {
			org, err = m.resolve(ctx, resolveKey{acc.ID, 'o', ref}, func() (int64, error) { return m.store.MemberOrg(ctx, acc.ID, ref) })
			if err != nil || org == 0 {
				return 0, 0, err
			}
		}
	}
	if strings.HasPrefix(c.Path(), "/api/agents/:id") {
		id, perr := strconv.ParseInt(c.Param("id"), 10, 64)
		if perr != nil || id <= 0 {
			return org, 0, nil
		}
		agentOrg, err := m.resolve(ctx, resolveKey{acc.ID, 'a', c.Param("id")}, func() (int64, error) {
			return m.store.MemberAgentOrg(ctx, acc.ID, id)
		})
		if err != nil {
			return 0, 0, err
		}
		switch {
		case agentOrg == 0:
		case org == 0:
			return agentOrg, id, nil
		case agentOrg == org:
			return org, id, nil
		}
	}
	return org, 0, nil
}

// Middleware counts each API request in an org's context, refuses it with
// 429 plan_limit once the org used its monthly requests, and sets the
// X-RateLimit-* headers (as GitHub's API does) on every answer in an org's
// context. It runs after the bearer token is checked.
func (m *Meter) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if m.off.Load() {
			return next(c)
		}
		org, agent, err := m.orgContext(c)
		if err != nil {
			return err
		}
		if org == 0 {
			return next(c)
		}
		d, err := m.Take(c.Request().Context(), org, agent)
		if errors.Is(err, errNoOrg) {
			return next(c) // the handler answers 404
		}
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("X-RateLimit-Limit", strconv.FormatInt(d.Limit, 10))
		h.Set("X-RateLimit-Remaining", strconv.FormatInt(d.Remaining, 10))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(d.Reset.Unix(), 10))
		if !d.Allowed {
			wait := int64(d.Reset.Sub(m.store.Now()).Seconds() + 0.999)
			h.Set("Retry-After", strconv.FormatInt(max(wait, 1), 10))
			return c.JSON(http.StatusTooManyRequests, map[string]any{"success": false, "error": map[string]any{
				"code": model.CodePlanLimit,
				"message": "This organization used its " + strconv.FormatInt(d.Limit, 10) +
					" API requests for this month. The count resets on " + d.Reset.Format("January 2") + " (UTC); upgrade the plan for more.",
				"details": map[string]any{"limit": model.LimitMonthlyRequests, "used": d.Limit, "max": d.Limit, "reset": d.Reset.Format(time.RFC3339)},
			}})
		}
		return next(c)
	}
}
