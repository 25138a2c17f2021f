package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/web/request"
)

// A member's page read with a session this server checked before
// (db.KeptBrowserSession) carries its session check in its first statement
// (db/sessioncheck.go). Until that check is settled nothing reaches the
// client: checkGate settles it with a statement of its own at the first
// byte if no read did. When the check fails, whatever the page did is
// dropped (it wrote nothing: every write settles the check first) and the
// page runs again from the start with the session read afresh.

// checkGate holds a response's first byte until the request's session check
// is settled, and drops everything when it failed.
type checkGate struct {
	http.ResponseWriter
	settle  func() error
	settled bool
	changed bool
}

func (g *checkGate) open() bool {
	if !g.settled {
		g.settled = true
		// Any failure (the session changed, or the database did not answer)
		// sends the page round again, through the full read that reports it.
		g.changed = g.settle() != nil
	}
	return !g.changed
}

func (g *checkGate) WriteHeader(code int) {
	if g.open() {
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *checkGate) Write(b []byte) (int, error) {
	if !g.open() {
		return len(b), nil
	}
	return g.ResponseWriter.Write(b)
}

func (g *checkGate) Flush() {
	if g.open() {
		if f, ok := g.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (g *checkGate) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// deferSessionCheck reports whether a request may carry its session check
// in its first statement: a member's page read (GET or HEAD), which a
// changed session can run again from the start.
func deferSessionCheck(c echo.Context) bool {
	m := c.Request().Method
	return m == http.MethodGet || m == http.MethodHead
}

// runChecked runs next with bs, a session answered from this server's
// memory, and chk, its deferred check. done is false when the check failed:
// the response is then as it was before, for the page to run again with
// the session read afresh.
func (s *Server) runChecked(c echo.Context, sid string, bs db.BrowserSession, chk *db.SessionCheck, next echo.HandlerFunc) (done bool, err error) {
	req, res := c.Request(), c.Response()
	ctx := req.Context()
	w := res.Writer
	gate := &checkGate{ResponseWriter: w, settle: func() error { return s.store.SettleSessionCheck(ctx, chk) }}
	res.Writer = gate
	c.SetRequest(req.WithContext(db.WithSessionCheck(ctx, chk)))
	setBrowserSession(c, bs, sid)
	err = next(c)
	res.Writer = w
	c.SetRequest(req)
	if !gate.changed && !errors.Is(err, db.ErrSessionChanged) {
		// A page that wrote nothing and read nothing (an error, a redirect
		// not sent yet) settles it here, before its answer goes out.
		serr := s.store.SettleSessionCheck(ctx, chk)
		if serr == nil {
			return true, err
		}
		if !errors.Is(serr, db.ErrSessionChanged) {
			return true, serr
		}
	}
	// Nothing was sent: the gate held the first byte. Put the response and
	// the request's values back as they were before the page ran (the
	// caller puts back its headers).
	res.Committed, res.Status, res.Size = false, http.StatusOK, 0
	request.ClearSession(c)
	c.Set(keySessionFacts, nil)
	c.Set(keyBrowserSession, nil)
	return false, nil
}

// setBrowserSession puts a signed-in session on the request.
func setBrowserSession(c echo.Context, bs db.BrowserSession, sid string) {
	facts := bs.Facts
	request.SetAccount(c, bs.Account, sid)
	request.SetPending(c, request.Pending{Invitations: facts.Invitations, Transfers: facts.Transfers, AutoJoin: facts.AutoJoin})
	c.Set(keySessionFacts, facts)
	c.Set(keyBrowserSession, bs)
}
