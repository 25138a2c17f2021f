package web

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/request"
)

const cookieName = "guildhall"

// sessionKeys in the cookie: the server-side session id, the active
// workspace, the CSRF token. Flashes use gorilla's own key.
const (
	keySID  = "sid"
	keyWS   = "ws"
	keyCSRF = "csrf"
)

// sessionWriter implements request.SessionWriter on the cookie session.
type sessionWriter struct {
	cookies *sessions.CookieStore
	store   *db.Store
	sess    *sessions.Session
}

func (w *sessionWriter) save(c echo.Context) error {
	return w.sess.Save(c.Request(), c.Response())
}

func (w *sessionWriter) SetActive(c echo.Context, orgID int64) error {
	w.sess.Values[keyWS] = orgID
	return w.save(c)
}

func (w *sessionWriter) AddFlash(c echo.Context, f request.Flash) error {
	w.sess.AddFlash(f.Kind + "|" + f.Text)
	return w.save(c)
}

// SignIn starts a fresh server-side session and a fresh cookie: a new id and
// a new CSRF token, so nothing from before sign-in carries over.
func (w *sessionWriter) SignIn(c echo.Context, accountID int64) error {
	if old, _ := w.sess.Values[keySID].(string); old != "" {
		if err := w.store.DeleteSession(c.Request().Context(), old); err != nil {
			return err
		}
	}
	sid, err := w.store.CreateSession(c.Request().Context(), accountID, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	flashes := w.sess.Flashes()
	w.sess.Values = map[any]any{keySID: sid, keyCSRF: newToken()}
	for _, f := range flashes {
		w.sess.AddFlash(f)
	}
	acc, err := w.store.AccountByID(c.Request().Context(), accountID)
	if err != nil {
		return err
	}
	request.SetAccount(c, acc, sid)
	request.SetCSRF(c, w.sess.Values[keyCSRF].(string))
	return w.save(c)
}

// SignOut deletes the server-side session, so the cookie is dead even if kept.
func (w *sessionWriter) SignOut(c echo.Context) error {
	if sid, _ := w.sess.Values[keySID].(string); sid != "" {
		if err := w.store.DeleteSession(c.Request().Context(), sid); err != nil {
			return err
		}
	}
	w.sess.Values = map[any]any{keyCSRF: newToken()}
	return w.save(c)
}

func newToken() string {
	s, _ := db.NewSecret("")
	return s
}

// sessionMiddleware loads the cookie session, the signed-in account, the
// CSRF token and the flashes for every browser request.
// keySessionFacts and keyBrowserSession carry the session's db.SessionFacts
// and its workspaces from the session middleware to the workspace middleware.
const (
	keySessionFacts   = "guildhall.session_facts"
	keyBrowserSession = "guildhall.browser_session"
)

func (s *Server) sessionMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return s.session(next, false)
}

// memberSessionMiddleware is sessionMiddleware for members' pages (and the
// PublicRead ones), whose reads may carry the session check in their first
// statement (web/sessiongate.go).
func (s *Server) memberSessionMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return s.session(next, true)
}

func (s *Server) session(next echo.HandlerFunc, mayDefer bool) echo.HandlerFunc {
	return func(c echo.Context) error { return s.runSession(c, next, mayDefer) }
}

// runSession is the session middleware's work. The cookie is decoded afresh
// on every run (New, not the request's registry): a page run again after its
// deferred session check failed starts from the cookie as it came, whatever
// the first run changed in its copy (web/sessiongate.go).
func (s *Server) runSession(c echo.Context, next echo.HandlerFunc, mayDefer bool) error {
	sess, _ := s.cookies.New(c.Request(), cookieName) // a bad cookie yields a fresh session
	w := &sessionWriter{cookies: s.cookies, store: s.store, sess: sess}
	request.SetSessionWriter(c, w)
	dirty := false
	tok, _ := sess.Values[keyCSRF].(string)
	if tok == "" {
		tok = newToken()
		sess.Values[keyCSRF] = tok
		dirty = true
	}
	request.SetCSRF(c, tok)
	if c.Request().Method == http.MethodGet && c.Request().Header.Get("HX-Request") == "" {
		var fl []request.Flash
		for _, f := range sess.Flashes() {
			str, _ := f.(string)
			kind, text, _ := strings.Cut(str, "|")
			fl = append(fl, request.Flash{Kind: kind, Text: text})
			dirty = true
		}
		request.SetFlashes(c, fl)
	}
	sid, _ := sess.Values[keySID].(string)
	if sid != "" && mayDefer && deferSessionCheck(c) {
		if bs, chk, ok := s.store.KeptBrowserSession(sid); ok {
			header := c.Response().Header().Clone()
			if dirty {
				if err := sess.Save(c.Request(), c.Response()); err != nil {
					return err
				}
			}
			done, err := s.runChecked(c, sid, bs, chk, next)
			if done {
				return err
			}
			// The session changed: run the page again from the cookie
			// as it came, reading the session as any page does.
			for k := range c.Response().Header() {
				delete(c.Response().Header(), k)
			}
			for k, v := range header {
				c.Response().Header()[k] = v
			}
			return s.runSession(c, next, false)
		}
	}
	if sid != "" {
		bs, err := s.store.BrowserSession(c.Request().Context(), sid)
		switch {
		case err == nil:
			setBrowserSession(c, bs, sid)
		case model.CodeOf(err) == model.CodeUnauthorized:
			delete(sess.Values, keySID) // signed out elsewhere or password changed
			dirty = true
		default:
			return err
		}
	}
	if dirty {
		if err := sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
	}
	if sid == "" || deferSessionCheck(c) {
		return next(c)
	}
	// A change through this server moves the versions this session's
	// remembered check names: its next page reads the session afresh
	// rather than carry a check that is bound to fail.
	defer s.store.ForgetSessionCheck(sid)
	return next(c)
}

var errCSRF = &model.Error{Code: model.CodeForbidden, Message: "Your form expired or came from another site. Reload the page and try again."}

// csrfMiddleware checks the token on every state-changing browser request:
// a hidden _csrf field for forms, the X-CSRF-Token header for htmx.
func (s *Server) csrfMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		want := request.CSRF(c)
		got := c.Request().Header.Get("X-CSRF-Token")
		if got == "" {
			// The body only: a token in the query string would leak through
			// logs, history and Referer, and echo's FormValue reads both.
			got = c.Request().PostFormValue("_csrf")
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return errCSRF
		}
		return next(c)
	}
}

// requireAccount sends signed-out visitors to the sign-in page.
func requireAccount(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := request.Account(c); !ok {
			to := "/login"
			if c.Request().Method == http.MethodGet && c.Request().URL.Path != "/" {
				to += "?next=" + c.Request().URL.RequestURI()
			}
			if c.Request().Header.Get("HX-Request") == "true" {
				c.Response().Header().Set("HX-Redirect", to)
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.Redirect(http.StatusSeeOther, to)
		}
		return next(c)
	}
}

// workspaceMiddleware resolves the active workspace from the session. If the
// account lost access to it (removed, org deleted), it falls back to Personal
// with a notice.
func (s *Server) workspaceMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		acc, ok := request.Account(c)
		if !ok {
			return next(c)
		}
		// SSO enforcement: a session not signed in by an enforcing org's IdP
		// does not see that org (the store decides who it binds).
		// The session's statement read the workspaces with the account;
		// an account set later in the request (none today) reads them here.
		bs, ok := c.Get(keyBrowserSession).(db.BrowserSession)
		all, blocked := bs.Workspaces, bs.Blocked
		if !ok || bs.Account.ID != acc.ID {
			facts, _ := c.Get(keySessionFacts).(db.SessionFacts)
			var err error
			if all, blocked, err = s.store.SessionWorkspaces(c.Request().Context(), acc, facts); err != nil {
				return err
			}
		}
		if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
			// Reads may take the roles from this list (db.WithKnownRoles).
			c.SetRequest(c.Request().WithContext(db.WithKnownRoles(c.Request().Context(), acc.ID, all)))
		}
		request.SetSSOBlocked(c, blocked)
		all = db.WithoutOrgs(all, blocked)
		w := request.Session(c).(*sessionWriter)
		want, _ := w.sess.Values[keyWS].(int64)
		var active, personal model.Workspace
		for _, ws := range all {
			if ws.ID == acc.PersonalOrgID {
				personal = ws
			}
			if ws.ID == want {
				active = ws
			}
		}
		if active.ID == 0 {
			active = personal
			if want != 0 {
				w.sess.Values[keyWS] = personal.ID
				notice := request.Flash{Kind: "info", Text: "You no longer have access to that workspace, so you are back in Personal."}
				request.SetFlashes(c, append(request.Flashes(c), notice))
				if err := w.save(c); err != nil {
					return err
				}
			}
		}
		request.SetWorkspaces(c, all, active)
		return next(c)
	}
}

// bearerMiddleware authenticates /api calls by token. The API takes no
// cookies, so it has no CSRF surface. Reads need the read scope, changes the
// write scope (or admin).
func (s *Server) bearerMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			return &model.Error{Code: model.CodeUnauthorized, Message: "Send a bearer token: Authorization: Bearer <token>."}
		}
		// The org the call names (its path, or ?org= on a read) is read with
		// the token, in one statement; OrgRef takes it from there.
		ref := c.Param("org")
		if ref == "" && (c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead) {
			ref = strings.TrimSpace(c.QueryParam("org"))
		}
		auth, err := s.store.TokenAuthIn(c.Request().Context(), strings.TrimSpace(secret), ref)
		if err != nil {
			return err
		}
		tok, acc, ssoAnywhere := auth.Token, auth.Account, auth.SSOAnywhere
		if auth.OrgRef != "" {
			request.SetTokenOrg(c, auth.OrgRef, auth.Org, auth.OrgFound)
		}
		if !ssoAnywhere {
			request.SetSSOBlocked(c, map[int64]bool{}) // no org of the account enforces SSO
		}
		// A purchase-only or download-only token (SPEC 11, the seed's agent
		// token "with purchase + download scopes") may buy or download; the
		// handlers check those scopes themselves.
		route := c.Path()
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead:
			if !tok.HasScope(model.ScopeRead) && !tok.HasScope(model.ScopeAdmin) &&
				!(tok.HasScope(model.ScopeDownload) && strings.HasSuffix(route, "/download")) {
				return model.Forbidden("This token lacks the read scope.")
			}
		default:
			if !tok.HasScope(model.ScopeWrite) && !tok.HasScope(model.ScopeAdmin) &&
				!(tok.HasScope(model.ScopePurchase) && strings.HasSuffix(route, "/buy")) {
				return model.Forbidden("This token lacks the write scope.")
			}
		}
		request.SetAccount(c, acc, "")
		request.SetToken(c, tok)
		return next(c)
	}
}

// contentSecurityPolicy allows only this origin's own files: no inline
// script, no inline event handler, no eval, and no inline style either (the
// pages carry no style attribute; htmx's indicator <style> is turned off in
// the layout's htmx-config). img-src allows data: for the stylesheet's small
// SVG icons. form-action 'self' holds for SSO too: Chrome applies it to every
// redirect of a form submission, so a form post whose next stop is an
// identity provider answers with a page that moves on by meta refresh
// (handlers.Base.ContinueTo); requests to IdPs are GET (OIDC, SAML redirect
// binding), and the IdP's own page posts to the ACS under its own policy.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every answer should carry. Dynamic
// answers are never stored by a browser or proxy: pages carry CSRF tokens and
// account data, and some show secrets once (a new token). Static files set
// their own caching. HSTS only when the site is served over https.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	hsts := s.cfg.Secure()
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		return next(c)
	}
}
