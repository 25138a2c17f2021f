// Package handlers holds the HTML handlers, one file per area: they parse the
// request, let the store authorize and act, and render a templ view. The JSON
// handlers are in handlers/api and share the same store calls.
package handlers

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/request"
)

// Mailer sends one message (SMTP, or the dev outbox).
type Mailer interface {
	Send(ctx context.Context, m model.Mail) error
}

// BannerSource lists pending things for the signed-in account (invitations,
// agent transfers) for the banner on every page. Areas register one each.
type BannerSource func(c echo.Context, acc model.Account) ([]views.BannerItem, error)

// Base is what every HTML handler needs. It is built once in cmd and shared.
type Base struct {
	Store   *db.Store
	Mail    Mailer
	BaseURL string
	Dev     bool
	Banners []BannerSource
}

// Shell builds the layout data for a page of the active workspace.
func (b *Base) Shell(c echo.Context, title, nav string) views.Shell {
	s := views.Shell{Title: title, Nav: nav, CSRF: request.CSRF(c), Dev: b.Dev}
	for _, f := range request.Flashes(c) {
		s.Flashes = append(s.Flashes, views.FlashView{Kind: f.Kind, Text: f.Text})
	}
	acc, ok := request.Account(c)
	if !ok {
		return s
	}
	s.Account = &views.AccountView{ID: acc.ID, Name: acc.Name, Email: acc.Email, Verified: acc.Verified()}
	active := request.Workspace(c)
	for _, w := range request.Workspaces(c) {
		item := workspaceItem(w)
		item.Active = w.ID == active.ID
		s.Workspaces = append(s.Workspaces, item)
	}
	s.Active = workspaceItem(active)
	s.Active.Active = true
	s.NavItems = navFor(active)
	for _, src := range b.Banners {
		items, err := src(c, acc)
		if err != nil {
			c.Logger().Errorf("banner: %v", err)
			continue
		}
		s.Banner = append(s.Banner, items...)
	}
	return s
}

func workspaceItem(w model.Workspace) views.WorkspaceItem {
	return views.WorkspaceItem{ID: w.ID, Name: w.DisplayName, Slug: w.Slug, RoleLabel: w.Role.Label(), Personal: w.Personal()}
}

// navFor lists the pages the viewer's role can use in this workspace.
func navFor(w model.Workspace) []views.NavItem {
	items := []views.NavItem{{Key: "overview", Label: "Overview", Href: "/", Icon: "◎"}}
	if !w.Personal() {
		items = append(items, views.NavItem{Key: "members", Label: "Members", Href: "/members", Icon: "◉"},
			views.NavItem{Key: "teams", Label: "Teams", Href: "/teams", Icon: "◈"})
	}
	items = append(items, views.NavItem{Key: "agents", Label: "Agents", Href: "/agents", Icon: "◆"})
	items = append(items, views.NavItem{Key: "packages", Label: "Packages", Href: "/packages", Icon: "▣"})
	if model.Can(w.Role, model.ActViewBalance) {
		items = append(items, views.NavItem{Key: "wallet", Label: "Wallet", Href: "/wallet", Icon: "¤"})
	}
	if model.Can(w.Role, model.ActManagePolicies) {
		items = append(items, views.NavItem{Key: "policies", Label: "Policies", Href: "/policies", Icon: "≡"},
			views.NavItem{Key: "approvals", Label: "Approvals", Href: "/approvals", Icon: "✓"})
	}
	if model.Can(w.Role, model.ActReadAudit) {
		items = append(items, views.NavItem{Key: "audit", Label: "Audit log", Href: "/audit", Icon: "☰"})
	}
	if !w.Personal() && model.Can(w.Role, model.ActViewSSO) {
		items = append(items, views.NavItem{Key: "sso", Label: "SSO", Href: "/sso", Icon: "◐"})
	}
	if model.Can(w.Role, model.ActViewUsage) {
		items = append(items, views.NavItem{Key: "usage", Label: "Usage", Href: "/usage", Icon: "▤"})
	}
	// API tokens belong to the account, not the workspace: they live in the
	// account menu (issue 8).
	items = append(items, views.NavItem{Key: "settings", Label: "Settings", Href: "/settings", Icon: "⚙"})
	return items
}

// Render writes a component with status. It renders into a buffer first, so
// a failing component never sends half a page.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf := renderBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // an odd huge page is not kept
			renderBufs.Put(buf)
		}
	}()
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	// The response copies the page (into the compressor or the
	// connection's buffer) before the buffer goes back to the pool.
	return c.HTMLBlob(status, buf.Bytes())
}

// renderBufs keeps render buffers between requests, stateless as fmt's
// printer pool: growing a fresh buffer to a 20-75 KB page cleared and
// copied it several times per request, and the garbage was a tenth of the
// members page's server time.
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// StatusOf maps an error code to its HTTP status (SPEC 11), for web/errors.go
// and for pages that render their own refusals. Policy codes of purchases and
// plan limits are 403.
func StatusOf(code model.Code) int {
	switch code {
	case model.CodeUnauthorized:
		return http.StatusUnauthorized
	case model.CodeForbidden, model.CodePlanLimit:
		return http.StatusForbidden
	case model.CodeNotFound:
		return http.StatusNotFound
	case model.CodeConflict, model.CodeIdempotencyConflict:
		return http.StatusConflict
	case model.CodeValidation:
		return http.StatusUnprocessableEntity
	case model.CodeInsufficientFunds:
		return http.StatusPaymentRequired
	case model.CodeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

// IsHTMX reports whether htmx sent the request (answer with a fragment).
func IsHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// Redirect answers a plain form post with 303, and an htmx request with
// HX-Redirect, after queueing a flash message when text is not empty.
func Redirect(c echo.Context, to, kind, text string) error {
	if text != "" {
		if s := request.Session(c); s != nil {
			if err := s.AddFlash(c, request.Flash{Kind: kind, Text: text}); err != nil {
				return err
			}
		}
	}
	if IsHTMX(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// FieldErrors extracts per-field messages of a validation error (or of a
// conflict on one field), and the
// general message, for re-rendering a form. ok is false for other errors.
func FieldErrors(err error) (fields map[string]string, msg string, ok bool) {
	e, isModel := model.AsError(err)
	if isModel && e.Code == model.CodeConflict && len(e.Fields) > 0 {
		return e.Fields, "", true // a taken email, slug or name: shown on its field
	}
	if !isModel || e.Code != model.CodeValidation {
		return nil, "", false
	}
	if len(e.Fields) > 0 {
		return e.Fields, "", true
	}
	return map[string]string{}, e.Message, true
}

// SafeNext keeps a post-login redirect on this site.
func SafeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" {
		return "/"
	}
	return next
}

// Link builds an absolute link for emails.
func (b *Base) Link(path string) string { return strings.TrimRight(b.BaseURL, "/") + path }

// RenderEmail renders the HTML body of an email.
func RenderEmail(ctx context.Context, heading string, lines []string, button, link, footer string) (string, error) {
	var buf bytes.Buffer
	if err := views.Email(heading, lines, button, link, footer).Render(ctx, &buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}
