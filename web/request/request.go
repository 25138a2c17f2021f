// Package request holds the typed values that middleware puts on a request and
// handlers read: the signed-in account, the API token, the active workspace,
// the CSRF token and the flash messages. It is a leaf package so handlers never
// import web.
package request

import (
	"github.com/labstack/echo/v4"

	"guildhall/db/model"
)

const (
	keyAccount    = "guildhall.account"
	keyToken      = "guildhall.token"
	keyTokenOrg   = "guildhall.token_org"
	keySession    = "guildhall.session"
	keyWorkspace  = "guildhall.workspace"
	keyWorkspaces = "guildhall.workspaces"
	keyCSRF       = "guildhall.csrf"
	keyFlash      = "guildhall.flash"
	keySetActive  = "guildhall.set_active"
	keyAddFlash   = "guildhall.add_flash"
)

// Flash is a one-time message shown on the next page.
type Flash struct {
	Kind string // "success", "error", "info"
	Text string
}

// SetAccount records the authenticated account (and its session id, for a browser).
func SetAccount(c echo.Context, a model.Account, sessionID string) {
	c.Set(keyAccount, a)
	c.Set(keySession, sessionID)
}

// ClearSession forgets what the session middleware and the workspace
// middleware put on the request: the account, its session, workspaces,
// banners and SSO gate (a page run again after its session changed).
func ClearSession(c echo.Context) {
	for _, k := range []string{keyAccount, keySession, keyWorkspace, keyWorkspaces, keySSOBlocked, keyPending} {
		c.Set(k, nil)
	}
}

// Account returns the signed-in account.
func Account(c echo.Context) (model.Account, bool) {
	a, ok := c.Get(keyAccount).(model.Account)
	return a, ok
}

// SessionID is the browser session's secret id ("" for API calls).
func SessionID(c echo.Context) string {
	s, _ := c.Get(keySession).(string)
	return s
}

// SetToken records the API token of a bearer request.
func SetToken(c echo.Context, t model.APIToken) { c.Set(keyToken, t) }

// tokenOrg is the org an API call names, read with its token.
type tokenOrg struct {
	ref   string
	ws    model.Workspace
	found bool
}

// SetTokenOrg records the org named ref as read with the call's token
// (found false: the caller is not a member, or there is no such org).
func SetTokenOrg(c echo.Context, ref string, ws model.Workspace, found bool) {
	c.Set(keyTokenOrg, tokenOrg{ref: ref, ws: ws, found: found})
}

// TokenOrg returns the org named ref if it was read with the token; ok is
// false when it was not (another name, or none was read).
func TokenOrg(c echo.Context, ref string) (ws model.Workspace, found, ok bool) {
	t, ok := c.Get(keyTokenOrg).(tokenOrg)
	if !ok || t.ref != ref {
		return model.Workspace{}, false, false
	}
	return t.ws, t.found, true
}

// Token returns the API token, if the request carried one.
func Token(c echo.Context) (model.APIToken, bool) {
	t, ok := c.Get(keyToken).(model.APIToken)
	return t, ok
}

// Actor is who acts on this request, for the store and the audit log.
func Actor(c echo.Context) model.Actor {
	a := model.Actor{IP: c.RealIP()}
	if acc, ok := Account(c); ok {
		a.AccountID, a.Email = acc.ID, acc.Email
	}
	if t, ok := Token(c); ok {
		a.TokenID = t.ID
	}
	return a
}

// SetWorkspaces records the account's workspaces and the active one.
func SetWorkspaces(c echo.Context, all []model.Workspace, active model.Workspace) {
	c.Set(keyWorkspaces, all)
	c.Set(keyWorkspace, active)
}

// Workspace is the active workspace of a signed-in browser request.
func Workspace(c echo.Context) model.Workspace {
	w, _ := c.Get(keyWorkspace).(model.Workspace)
	return w
}

// Workspaces lists the account's workspaces, personal first.
func Workspaces(c echo.Context) []model.Workspace {
	w, _ := c.Get(keyWorkspaces).([]model.Workspace)
	return w
}

// SetCSRF records the CSRF token forms must echo.
func SetCSRF(c echo.Context, token string) { c.Set(keyCSRF, token) }

// CSRF is the token for hidden form fields and htmx headers.
func CSRF(c echo.Context) string {
	s, _ := c.Get(keyCSRF).(string)
	return s
}

// SetFlashes records the flash messages read from the session for this render.
func SetFlashes(c echo.Context, f []Flash) { c.Set(keyFlash, f) }

// Flashes are the messages to show on this page.
func Flashes(c echo.Context) []Flash {
	f, _ := c.Get(keyFlash).([]Flash)
	return f
}

// SessionWriter lets handlers change the cookie session without importing web.
type SessionWriter interface {
	// SetActive makes orgID the active workspace.
	SetActive(c echo.Context, orgID int64) error
	// AddFlash queues a message for the next page.
	AddFlash(c echo.Context, f Flash) error
	// SignIn starts a new session for the account (a new session id).
	SignIn(c echo.Context, accountID int64) error
	// SignOut ends the session.
	SignOut(c echo.Context) error
}

// SetSessionWriter installs the session writer for this request.
func SetSessionWriter(c echo.Context, w SessionWriter) { c.Set(keySetActive, w) }

// Session returns the session writer.
func Session(c echo.Context) SessionWriter {
	w, _ := c.Get(keySetActive).(SessionWriter)
	return w
}

const keySSOBlocked = "guildhall.sso_blocked"

// SetSSOBlocked keeps the orgs SSO enforcement shuts this session out of, as
// the workspace middleware decided them, so later readers (the banner) do not
// ask the database again.
func SetSSOBlocked(c echo.Context, blocked map[int64]bool) { c.Set(keySSOBlocked, blocked) }

// SSOBlocked is what SetSSOBlocked kept; ok is false when nothing decided it
// in this request.
func SSOBlocked(c echo.Context) (blocked map[int64]bool, ok bool) {
	blocked, ok = c.Get(keySSOBlocked).(map[int64]bool)
	return blocked, ok
}

const keyPending = "guildhall.pending"

// Pending says which banner sources have something for the signed-in
// account, as read with its session.
type Pending struct{ Invitations, Transfers, AutoJoin bool }

// SetPending keeps what the session middleware read.
func SetPending(c echo.Context, p Pending) { c.Set(keyPending, p) }

// PendingFor is what SetPending kept; ok is false when nothing read it in
// this request (a source then looks for itself).
func PendingFor(c echo.Context) (p Pending, ok bool) {
	p, ok = c.Get(keyPending).(Pending)
	return p, ok
}
