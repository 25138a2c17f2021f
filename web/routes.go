package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Access says who may call a route; it picks the middleware chain.
type Access int

const (
	// Public pages: anyone, with a session (sign-in forms, emailed links).
	Public Access = iota
	// Member pages: a signed-in account with its active workspace.
	Member
	// APIPublic: JSON without a token (sign-up, token issue).
	APIPublic
	// API: JSON with a bearer token.
	API
)

// Route is one line of the route table.
type Route struct {
	Method  string
	Path    string
	Handler echo.HandlerFunc
	Access  Access
}

// routes is every route of Guildhall in one table.
func (s *Server) routes() []Route {
	h := s.h
	r := []Route{
		// --- accounts, workspaces, settings, audit (issue 2) ---
		{http.MethodGet, "/signup", h.Accounts.SignupPage, Public},
		{http.MethodPost, "/signup", h.Accounts.Signup, Public},
		{http.MethodGet, "/login", h.Accounts.LoginPage, Public},
		{http.MethodPost, "/login", h.Accounts.Login, Public},
		{http.MethodPost, "/logout", h.Accounts.Logout, Public},
		{http.MethodGet, "/verify/:token", h.Accounts.Verify, Public},
		{http.MethodPost, "/verify/resend", h.Accounts.ResendVerification, Member},
		{http.MethodGet, "/profile", h.Accounts.ProfilePage, Member},
		{http.MethodPost, "/profile", h.Accounts.UpdateProfile, Member},
		{http.MethodPost, "/profile/password", h.Accounts.ChangePassword, Member},
		{http.MethodGet, "/", h.Workspaces.Overview, Member},
		{http.MethodGet, "/orgs/new", h.Workspaces.NewOrgPage, Member},
		{http.MethodPost, "/orgs", h.Workspaces.CreateOrg, Member},
		{http.MethodPost, "/workspace", h.Workspaces.Switch, Member},
		{http.MethodGet, "/settings", h.Workspaces.SettingsPage, Member},
		{http.MethodPost, "/settings", h.Workspaces.UpdateSettings, Member},
		{http.MethodPost, "/settings/delete", h.Workspaces.DeleteOrg, Member},
		{http.MethodGet, "/audit", h.Audit.Page, Member},
		{http.MethodGet, "/audit/export", h.Audit.Export, Member},

		{http.MethodPost, "/api/auth/signup", h.APIAuth.Signup, APIPublic},
		{http.MethodPost, "/api/auth/token", h.APIAuth.Token, APIPublic},
		{http.MethodGet, "/api/me", h.APIAuth.Me, API},
		{http.MethodGet, "/api/orgs", h.APIOrgs.List, API},
		{http.MethodPost, "/api/orgs", h.APIOrgs.Create, API},
		{http.MethodGet, "/api/orgs/:org", h.APIOrgs.Get, API},
		{http.MethodPatch, "/api/orgs/:org", h.APIOrgs.Update, API},
		{http.MethodDelete, "/api/orgs/:org", h.APIOrgs.Delete, API},
		{http.MethodGet, "/api/orgs/:org/audit", h.APIOrgs.Audit, API},
		{http.MethodGet, "/api/orgs/:org/audit/export", h.APIOrgs.AuditExport, API},

		// --- members and invitations (issue 3) ---

		// --- teams, agents and grants (issue 4) ---
	}
	if s.cfg.Dev {
		r = append(r, Route{http.MethodGet, "/dev/outbox", h.Workspaces.Outbox, Member})
	}
	return r
}
