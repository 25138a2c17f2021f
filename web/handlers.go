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

	// --- teams, agents and grants (issue 4) ---
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

	// --- teams, agents and grants (issue 4): construct handlers, append base.Banners ---

	return h
}
