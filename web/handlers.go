package web

import (
	"guildhall/handlers"
	"guildhall/handlers/api"
	"guildhall/web/ratelimit"
)

// Handlers holds one value per area, built once with its dependencies.
type Handlers struct {
	Accounts   *handlers.Accounts
	Workspaces *handlers.Workspaces
	Audit      *handlers.Audit
	APIAuth    *api.Auth
	APIOrgs    *api.Orgs

	// --- members and invitations (issue 3) ---
	Members     *handlers.Members
	Invitations *handlers.Invitations
	APIMembers  *api.Members

	// --- teams, agents and grants (issue 4) ---
	Teams     *handlers.Teams
	Agents    *handlers.Agents
	APITeams  *api.Teams
	APIAgents *api.Agents

	// --- API tokens ---
	Tokens    *handlers.Tokens
	APITokens *api.Tokens

	// --- security and two-factor (issue 7): fields below this line ---
	TwoFactor *handlers.TwoFactor

	// --- layout (issue 8): fields below this line ---

	// --- wallet, policies, approvals, packages (issue 9): fields below this line ---
	APIWallet *api.Wallet
	Wallet    *handlers.Wallet
	Policies  *handlers.Policies
	Packages  *handlers.Packages

	// --- single sign-on (issue 10): fields below this line ---
	SSO    *handlers.SSO
	APISSO *api.SSO

	// --- plans and usage (issue 11): fields below this line ---
	Usage    *handlers.Usage
	APIUsage *api.Usage

	// --- operations and scale (issue 12): fields below this line ---

}

func newHandlers(base *handlers.Base, apiBase *api.Base, limiter *ratelimit.Limiter) *Handlers {
	h := &Handlers{
		Accounts:   &handlers.Accounts{Base: base, Limiter: limiter},
		Workspaces: &handlers.Workspaces{Base: base},
		Audit:      &handlers.Audit{Base: base},
		APIAuth:    &api.Auth{Base: apiBase, Limiter: limiter},
		APIOrgs:    &api.Orgs{Base: apiBase},
	}
	// --- members and invitations (issue 3): construct handlers, append base.Banners ---
	h.Members = &handlers.Members{Base: base}
	h.Invitations = &handlers.Invitations{Base: base, Limiter: limiter}
	h.APIMembers = &api.Members{Base: apiBase, Mail: base}
	base.Banners = append(base.Banners, base.InvitationBanner)

	// --- teams, agents and grants (issue 4): construct handlers, append base.Banners ---
	h.Teams = &handlers.Teams{Base: base}
	h.Agents = &handlers.Agents{Base: base}
	h.APITeams = &api.Teams{Base: apiBase}
	h.APIAgents = &api.Agents{Base: apiBase, Mail: base}
	base.Banners = append(base.Banners, base.TransferBanner)

	// --- API tokens ---
	h.Tokens = &handlers.Tokens{Base: base}
	h.APITokens = &api.Tokens{Base: apiBase}

	// --- security and two-factor (issue 7): construct below this line ---
	h.TwoFactor = &handlers.TwoFactor{Base: base, Limiter: limiter} // Box: setSecretBox
	if wa, err := handlers.NewWebAuthn(base.BaseURL); err == nil {
		h.TwoFactor.WebAuthn = wa
	}
	h.APIAuth.Verify = base // API sign-up sends the same verification email

	// --- layout (issue 8): construct below this line ---

	// --- wallet, policies, approvals, packages (issue 9): construct below this line ---
	h.APIWallet = &api.Wallet{Base: apiBase, Mail: base}
	h.Wallet = &handlers.Wallet{Base: base}
	h.Policies = &handlers.Policies{Base: base}
	h.Packages = &handlers.Packages{Base: base}

	// --- single sign-on (issue 10): construct below this line ---

	// --- plans and usage (issue 11): construct below this line ---
	h.Usage = &handlers.Usage{Base: base}
	h.APIUsage = &api.Usage{Base: apiBase}

	// --- operations and scale (issue 12): construct below this line ---

	return h
}
