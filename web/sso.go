package web

import (
	"guildhall/handlers"
	"guildhall/handlers/api"
	"guildhall/web/sso"
)

// addSSO builds the single sign-on handlers (issue 10): the client-secret
// box keyed from the server secret, the OIDC and SAML adapters, and the
// configured DNS resolver; it registers the auto-join banner.
func (h *Handlers) addSSO(base *handlers.Base, apiBase *api.Base, o Options) {
	h.SSO = &handlers.SSO{Base: base, Box: sso.NewBox(o.Secret), OIDC: sso.NewOIDC(o.Store.Now),
		SAML: sso.NewSAML(o.Store.Now), DNS: sso.Resolver{Addr: o.Config.DNSResolver}}
	h.APISSO = &api.SSO{Base: apiBase, Pages: h.SSO}
	base.Banners = append(base.Banners, h.SSO.AutoJoinBanner, h.SSO.SSORequiredBanner)
}
