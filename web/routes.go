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
	// PublicRead pages: Public pages that only read (the package
	// catalogue). A signed-in visitor's page carries its session check in
	// its first read, as a member's page does (web/sessiongate.go): a page
	// that might write, or act outside the database (an IdP's callback),
	// before it reads stays Public.
	PublicRead
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
		{http.MethodGet, "/logout", h.Accounts.LogoutPage, Public},
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
		{http.MethodGet, "/members", h.Members.Page, Member},
		{http.MethodGet, "/members/leave", h.Members.LeavePage, Member},
		{http.MethodPost, "/members/leave", h.Members.Leave, Member},
		{http.MethodPost, "/members/invitations", h.Members.Invite, Member},
		{http.MethodPost, "/members/invitations/:id/resend", h.Members.Resend, Member},
		{http.MethodPost, "/members/invitations/:id/cancel", h.Members.Cancel, Member},
		{http.MethodGet, "/members/:user_id/role", h.Members.RolePage, Member},
		{http.MethodPost, "/members/:user_id/role", h.Members.ChangeRole, Member},
		{http.MethodGet, "/members/:user_id/remove", h.Members.RemovePage, Member},
		{http.MethodPost, "/members/:user_id/remove", h.Members.Remove, Member},
		{http.MethodGet, "/members/:user_id/transfer", h.Members.TransferPage, Member},
		{http.MethodPost, "/members/:user_id/transfer", h.Members.Transfer, Member},
		{http.MethodGet, "/invitations/:token", h.Invitations.LinkPage, Public},
		{http.MethodPost, "/invitations/:token/accept", h.Invitations.Accept, Public},
		{http.MethodPost, "/invitations/:token/decline", h.Invitations.Decline, Public},
		{http.MethodPost, "/invitations/:token/signup", h.Invitations.Signup, Public},
		{http.MethodPost, "/me/invitations/:id/accept", h.Invitations.BannerAccept, Member},
		{http.MethodPost, "/me/invitations/:id/decline", h.Invitations.BannerDecline, Member},

		{http.MethodGet, "/api/orgs/:org/members", h.APIMembers.List, API},
		{http.MethodPatch, "/api/orgs/:org/members/:user_id", h.APIMembers.ChangeRole, API},
		{http.MethodDelete, "/api/orgs/:org/members/:user_id", h.APIMembers.Remove, API},
		{http.MethodPost, "/api/orgs/:org/transfer-ownership", h.APIMembers.TransferOwnership, API},
		{http.MethodPost, "/api/orgs/:org/invitations", h.APIMembers.Invite, API},
		{http.MethodGet, "/api/orgs/:org/invitations", h.APIMembers.Pending, API},
		{http.MethodPost, "/api/orgs/:org/invitations/:id/resend", h.APIMembers.Resend, API},
		{http.MethodDelete, "/api/orgs/:org/invitations/:id", h.APIMembers.Cancel, API},
		{http.MethodGet, "/api/me/org-invitations", h.APIMembers.Mine, API},
		{http.MethodPost, "/api/me/org-invitations/:id/accept", h.APIMembers.AcceptMine, API},
		{http.MethodPost, "/api/me/org-invitations/:id/decline", h.APIMembers.DeclineMine, API},
		{http.MethodPost, "/api/invitations/accept", h.APIMembers.AcceptToken, API},

		// --- teams, agents and grants (issue 4) ---
		{http.MethodGet, "/teams", h.Teams.Page, Member},
		{http.MethodPost, "/teams", h.Teams.Create, Member},
		{http.MethodGet, "/teams/:id", h.Teams.Detail, Member},
		{http.MethodPost, "/teams/:id", h.Teams.Update, Member},
		{http.MethodPost, "/teams/:id/delete", h.Teams.Delete, Member},
		{http.MethodPost, "/teams/:id/members", h.Teams.AddMember, Member},
		{http.MethodPost, "/teams/:id/members/:user_id/role", h.Teams.MemberRole, Member},
		{http.MethodPost, "/teams/:id/members/:user_id/remove", h.Teams.RemoveMember, Member},
		{http.MethodPost, "/teams/:id/grants", h.Teams.AddGrant, Member},
		{http.MethodPost, "/teams/:id/grants/:grant_id", h.Teams.GrantLevel, Member},
		{http.MethodPost, "/teams/:id/grants/:grant_id/remove", h.Teams.RemoveGrant, Member},
		{http.MethodGet, "/agents", h.Agents.Page, Member},
		{http.MethodPost, "/agents", h.Agents.Create, Member},
		{http.MethodGet, "/agents/:id", h.Agents.Detail, Member},
		{http.MethodPost, "/agents/:id", h.Agents.Update, Member},
		{http.MethodGet, "/agents/:id/access", h.Agents.Access, Member},
		{http.MethodPost, "/agents/:id/delete", h.Agents.Delete, Member},
		{http.MethodPost, "/agents/:id/move", h.Agents.Move, Member},
		{http.MethodPost, "/agents/:id/transfer", h.Agents.Transfer, Member},
		{http.MethodPost, "/agents/:id/transfer/cancel", h.Agents.CancelTransfer, Member},
		{http.MethodGet, "/agent-transfers/:token", h.Agents.LinkPage, Public},
		{http.MethodPost, "/agent-transfers/:token/accept", h.Agents.LinkAccept, Public},
		{http.MethodPost, "/agent-transfers/:token/decline", h.Agents.LinkDecline, Public},
		{http.MethodPost, "/me/agent-transfers/:id/accept", h.Agents.BannerAccept, Member},
		{http.MethodPost, "/me/agent-transfers/:id/decline", h.Agents.BannerDecline, Member},

		{http.MethodPost, "/api/orgs/:org/teams", h.APITeams.Create, API},
		{http.MethodGet, "/api/orgs/:org/teams", h.APITeams.List, API},
		{http.MethodGet, "/api/orgs/:org/teams/:team_id", h.APITeams.Get, API},
		{http.MethodPatch, "/api/orgs/:org/teams/:team_id", h.APITeams.Update, API},
		{http.MethodDelete, "/api/orgs/:org/teams/:team_id", h.APITeams.Delete, API},
		{http.MethodGet, "/api/orgs/:org/teams/:team_id/members", h.APITeams.Members, API},
		{http.MethodPut, "/api/orgs/:org/teams/:team_id/members/:user_id", h.APITeams.SetMember, API},
		{http.MethodDelete, "/api/orgs/:org/teams/:team_id/members/:user_id", h.APITeams.RemoveMember, API},
		{http.MethodPut, "/api/orgs/:org/teams/:team_id/grants", h.APITeams.SetGrant, API},
		{http.MethodDelete, "/api/orgs/:org/teams/:team_id/grants/:grant_id", h.APITeams.RemoveGrant, API},
		{http.MethodGet, "/api/orgs/:org/resources", h.APITeams.Resources, API},
		{http.MethodPost, "/api/agents", h.APIAgents.Create, API},
		{http.MethodGet, "/api/agents", h.APIAgents.List, API},
		{http.MethodGet, "/api/agents/:id", h.APIAgents.Get, API},
		{http.MethodPatch, "/api/agents/:id", h.APIAgents.Update, API},
		{http.MethodDelete, "/api/agents/:id", h.APIAgents.Delete, API},
		{http.MethodGet, "/api/agents/:id/access", h.APIAgents.Access, API},
		{http.MethodPost, "/api/agents/:id/move-to-org", h.APIAgents.Move, API},
		{http.MethodPost, "/api/agents/:id/transfer", h.APIAgents.Transfer, API},
		{http.MethodGet, "/api/me/agent-transfers", h.APIAgents.Mine, API},
		{http.MethodPost, "/api/me/agent-transfers/:id/accept", h.APIAgents.AcceptMine, API},
		{http.MethodPost, "/api/me/agent-transfers/:id/decline", h.APIAgents.DeclineMine, API},

		// --- API tokens ---
		{http.MethodGet, "/tokens", h.Tokens.Page, Member},
		{http.MethodPost, "/tokens", h.Tokens.Create, Member},
		{http.MethodPost, "/tokens/:id/revoke", h.Tokens.Revoke, Member},

		{http.MethodGet, "/api/me/tokens", h.APITokens.List, API},
		{http.MethodPost, "/api/me/tokens", h.APITokens.Create, API},
		{http.MethodDelete, "/api/me/tokens/:id", h.APITokens.Revoke, API},

		// --- security and two-factor (issue 7): add routes below this line ---
		{http.MethodGet, "/login/2fa", h.TwoFactor.SecondStepPage, Public},
		{http.MethodPost, "/login/2fa", h.TwoFactor.SecondStep, Public},
		{http.MethodPost, "/login/2fa/cancel", h.TwoFactor.CancelSecondStep, Public},
		{http.MethodPost, "/profile/two-factor", h.TwoFactor.Begin, Member},
		{http.MethodGet, "/profile/two-factor", h.TwoFactor.SetupPage, Member},
		{http.MethodGet, "/profile/two-factor/qr.png", h.TwoFactor.QR, Member},
		{http.MethodPost, "/profile/two-factor/confirm", h.TwoFactor.Confirm, Member},
		{http.MethodPost, "/profile/two-factor/recovery-codes", h.TwoFactor.RecoveryCodes, Member},
		{http.MethodPost, "/profile/two-factor/disable", h.TwoFactor.Disable, Member},
		{http.MethodPost, "/profile/sessions/:id/revoke", h.TwoFactor.RevokeSession, Member},
		{http.MethodPost, "/profile/sessions/revoke-others", h.TwoFactor.RevokeOtherSessions, Member},
		{http.MethodPost, "/settings/two-factor", h.TwoFactor.RequireSetting, Member},
		{http.MethodPost, "/profile/passkeys/options", h.TwoFactor.RegisterOptions, Member},
		{http.MethodPost, "/profile/passkeys", h.TwoFactor.Register, Member},
		{http.MethodPost, "/profile/passkeys/:id/remove", h.TwoFactor.RemovePasskey, Member},
		{http.MethodPost, "/login/2fa/passkey/options", h.TwoFactor.LoginOptions, Public},
		{http.MethodPost, "/login/2fa/passkey", h.TwoFactor.Login, Public},

		// --- layout (issue 8): add routes below this line ---
		{http.MethodPost, "/profile/email", h.Accounts.ChangeEmail, Member},

		// --- wallet, policies, approvals, packages (issue 9): add routes below this line ---
		{http.MethodGet, "/wallet", h.Wallet.Page, Member},
		{http.MethodPost, "/wallet/top-up", h.Wallet.TopUp, Member},
		{http.MethodPost, "/wallet/auto-top-up", h.Wallet.AutoTopUp, Member},
		{http.MethodPost, "/wallet/transfer", h.Wallet.Transfer, Member},
		{http.MethodGet, "/wallet/export.csv", h.Wallet.Export, Member},
		{http.MethodGet, "/policies", h.Policies.Page, Member},
		{http.MethodPost, "/policies", h.Policies.Create, Member},
		{http.MethodPost, "/policies/:id", h.Policies.Update, Member},
		{http.MethodPost, "/policies/:id/default", h.Policies.MakeDefault, Member},
		{http.MethodPost, "/policies/:id/delete", h.Policies.Delete, Member},
		{http.MethodGet, "/approvals", h.Policies.Approvals, Member},
		{http.MethodPost, "/approvals/:id/approve", h.Policies.Approve, Member},
		{http.MethodPost, "/approvals/:id/reject", h.Policies.Reject, Member},
		{http.MethodGet, "/packages", h.Packages.Catalogue, PublicRead},
		{http.MethodGet, "/packages/new", h.Packages.NewPage, Member},
		{http.MethodPost, "/packages", h.Packages.Publish, Member},
		{http.MethodGet, "/packages/:id", h.Packages.Detail, PublicRead},
		{http.MethodPost, "/packages/:id/buy", h.Packages.Buy, Member},
		{http.MethodGet, "/packages/:id/manifest", h.Packages.Manifest, Member},
		{http.MethodGet, "/packages/:id/edit", h.Packages.EditPage, Member},
		{http.MethodPost, "/packages/:id/edit", h.Packages.Edit, Member},
		{http.MethodGet, "/entitlements", h.Packages.Entitlements, Member},
		{http.MethodGet, "/api/orgs/:org/wallet", h.APIWallet.GetWallet, API},
		{http.MethodPost, "/api/orgs/:org/wallet/top-up", h.APIWallet.TopUp, API},
		{http.MethodPatch, "/api/orgs/:org/wallet/auto-top-up", h.APIWallet.AutoTopUp, API},
		{http.MethodGet, "/api/orgs/:org/wallet/transactions", h.APIWallet.Transactions, API},
		{http.MethodPost, "/api/orgs/:org/wallet/transfer", h.APIWallet.Transfer, API},
		{http.MethodPost, "/api/orgs/:org/policies", h.APIWallet.CreatePolicy, API},
		{http.MethodGet, "/api/orgs/:org/policies", h.APIWallet.Policies, API},
		{http.MethodGet, "/api/orgs/:org/policies/:id", h.APIWallet.Policy, API},
		{http.MethodPatch, "/api/orgs/:org/policies/:id", h.APIWallet.UpdatePolicy, API},
		{http.MethodDelete, "/api/orgs/:org/policies/:id", h.APIWallet.DeletePolicy, API},
		{http.MethodGet, "/api/orgs/:org/approvals", h.APIWallet.Approvals, API},
		{http.MethodPost, "/api/orgs/:org/approvals/:id/approve", h.APIWallet.Approve, API},
		{http.MethodPost, "/api/orgs/:org/approvals/:id/reject", h.APIWallet.Reject, API},
		{http.MethodGet, "/api/packages", h.APIWallet.Packages, APIPublic},
		{http.MethodGet, "/api/packages/:id", h.APIWallet.Package, APIPublic},
		{http.MethodPost, "/api/orgs/:org/packages", h.APIWallet.Publish, API},
		{http.MethodPatch, "/api/orgs/:org/packages/:id", h.APIWallet.UpdatePackage, API},
		{http.MethodPost, "/api/packages/:id/buy", h.APIWallet.Buy, API},
		{http.MethodGet, "/api/orgs/:org/entitlements", h.APIWallet.Entitlements, API},
		{http.MethodGet, "/api/packages/:id/download", h.APIWallet.Download, API},

		// --- single sign-on (issue 10): add routes below this line ---
		{http.MethodGet, "/sso", h.SSO.Page, Member},
		{http.MethodPost, "/sso/connection", h.SSO.SaveConnection, Member},
		{http.MethodPost, "/sso/test", h.SSO.StartTest, Member},
		{http.MethodPost, "/sso/enforce", h.SSO.Enforce, Member},
		{http.MethodPost, "/sso/enabled", h.SSO.SetEnabled, Member},
		{http.MethodPost, "/sso/idp-initiated", h.SSO.SetIdPInitiated, Member},
		{http.MethodPost, "/sso/setup-links", h.SSO.CreateSetupLink, Member},
		{http.MethodPost, "/sso/setup-links/:id/revoke", h.SSO.RevokeSetupLink, Member},
		{http.MethodPost, "/sso/domains", h.SSO.AddDomain, Member},
		{http.MethodPost, "/sso/domains/:id/verify", h.SSO.VerifyDomain, Member},
		{http.MethodPost, "/sso/domains/:id/auto-join", h.SSO.DomainAutoJoin, Member},
		{http.MethodPost, "/sso/domains/:id/delete", h.SSO.DeleteDomain, Member},
		{http.MethodPost, "/me/auto-join/:org/accept", h.SSO.AutoJoinAccept, Member},
		{http.MethodPost, "/me/auto-join/:org/dismiss", h.SSO.AutoJoinDismiss, Member},
		{http.MethodPost, "/me/sso/:org/signin", h.SSO.BannerSignIn, Member},
		{http.MethodPost, "/me/sso/:org/dismiss", h.SSO.BannerDismiss, Member},
		{http.MethodGet, "/login/sso", h.SSO.LoginPage, Public},
		{http.MethodPost, "/login/sso", h.SSO.Login, Public},
		{http.MethodGet, "/sso/start", h.SSO.Login, Public},
		{http.MethodGet, "/sso/oidc/callback", h.SSO.OIDCCallback, Public},
		{http.MethodGet, "/sso/setup", h.SSO.SetupPage, Public},
		{http.MethodGet, "/sso/setup/:token", h.SSO.SetupLinkPage, Public},
		{http.MethodPost, "/sso/setup/:token", h.SSO.OpenSetupLink, Public},
		{http.MethodPost, "/sso/setup/connection", h.SSO.SetupSave, Public},
		{http.MethodPost, "/sso/setup/test", h.SSO.SetupTest, Public},
		{http.MethodGet, "/sso/saml/:org/metadata", h.SSO.SAMLMetadata, APIPublic},
		{http.MethodPost, "/sso/saml/:org/acs", h.SSO.SAMLACS, APIPublic},
		{http.MethodGet, "/sso/saml/complete", h.SSO.SAMLComplete, Public},

		{http.MethodGet, "/api/orgs/:org/sso", h.APISSO.Get, API},
		{http.MethodPut, "/api/orgs/:org/sso", h.APISSO.Put, API},
		{http.MethodPost, "/api/orgs/:org/sso/setup-links", h.APISSO.CreateSetupLink, API},
		{http.MethodDelete, "/api/orgs/:org/sso/setup-links/:id", h.APISSO.RevokeSetupLink, API},
		{http.MethodPost, "/api/orgs/:org/sso/enforce", h.APISSO.Enforce, API},
		{http.MethodGet, "/api/orgs/:org/domains", h.APISSO.Domains, API},
		{http.MethodPost, "/api/orgs/:org/domains", h.APISSO.AddDomain, API},
		{http.MethodPost, "/api/orgs/:org/domains/:id/verify", h.APISSO.VerifyDomain, API},
		{http.MethodPatch, "/api/orgs/:org/domains/:id", h.APISSO.PatchDomain, API},
		{http.MethodDelete, "/api/orgs/:org/domains/:id", h.APISSO.DeleteDomain, API},

		// --- plans and usage (issue 11): add routes below this line ---
		{http.MethodGet, "/usage", h.Usage.Page, Member},
		{http.MethodPost, "/settings/plan", h.Usage.ChangePlan, Member},
		{http.MethodGet, "/api/orgs/:org/usage", h.APIUsage.Get, API},
		{http.MethodPut, "/api/orgs/:org/plan", h.APIUsage.SetPlan, API},

		// --- operations and scale (issue 12): add routes below this line ---

	}
	if s.cfg.Dev {
		r = append(r, Route{http.MethodGet, "/dev/outbox", h.Workspaces.Outbox, Member})
	}
	return r
}
