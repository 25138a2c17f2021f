package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
	"guildhall/handlers"
	"guildhall/web/request"
)

// SSO is /api/orgs/{org}/sso and /api/orgs/{org}/domains: owners write,
// admins read, other roles get 404.
type SSO struct {
	*Base
	Pages *handlers.SSO
}

type ssoStatus struct {
	Connected    bool       `json:"connected"`
	Protocol     string     `json:"protocol,omitempty"`
	Issuer       string     `json:"issuer,omitempty"`
	ClientID     string     `json:"client_id,omitempty"`
	SecretSet    bool       `json:"client_secret_set"`
	MetadataURL  string     `json:"metadata_url,omitempty"`
	HasXML       bool       `json:"metadata_xml_set"`
	Enabled      bool       `json:"enabled"`
	Enforced     bool       `json:"enforced"`
	IdPInitiated bool       `json:"idp_initiated"`
	Tested       bool       `json:"tested"`
	TestedAt     *time.Time `json:"tested_at"`
	RedirectURI  string     `json:"redirect_uri"`
	ACSURL       string     `json:"acs_url"`
	EntityID     string     `json:"entity_id"`
	SPMetadata   string     `json:"sp_metadata_url"`
}

func (h *SSO) status(orgID int64, c *model.SSOConnection) ssoStatus {
	e := h.Pages.Endpoints(orgID)
	out := ssoStatus{RedirectURI: e.RedirectURI, ACSURL: e.ACSURL, EntityID: e.EntityID, SPMetadata: e.MetadataLink}
	if c != nil {
		out.Connected, out.Protocol, out.Issuer, out.ClientID = true, c.Protocol, c.Issuer, c.ClientID
		out.SecretSet, out.MetadataURL, out.HasXML = len(c.ClientSecretEnc) > 0, c.MetadataURL, c.MetadataXML != ""
		out.Enabled, out.Enforced, out.IdPInitiated, out.Tested = c.Enabled, c.Enforced, c.IdPInitiated, c.Tested()
		if c.Tested() {
			out.TestedAt = c.TestedAt
		}
	}
	return out
}

// Get is GET /api/orgs/{org}/sso.
func (h *SSO) Get(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	conn, err := h.Store.SSOStatus(c.Request().Context(), ws)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, h.status(ws.ID, conn))
}

type putSSOBody struct {
	Protocol     string `json:"protocol"`
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	MetadataXML  string `json:"metadata_xml"`
	MetadataURL  string `json:"metadata_url"`
}

// Put is PUT /api/orgs/{org}/sso.
func (h *SSO) Put(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var b putSSOBody
	if err := Bind(c, &b); err != nil {
		return err
	}
	in, err := handlers.SaveInput(h.Pages.Box, model.SSOConfig{Protocol: b.Protocol, Issuer: b.Issuer, ClientID: b.ClientID,
		ClientSecret: b.ClientSecret, MetadataXML: b.MetadataXML, MetadataURL: b.MetadataURL})
	if err != nil {
		return err
	}
	conn, err := h.Store.SaveSSOConnection(c.Request().Context(), request.Actor(c), ws.ID, in)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, h.status(ws.ID, &conn))
}

type enforceBody struct {
	Enforced *bool `json:"enforced"`
}

// Enforce is POST /api/orgs/{org}/sso/enforce: 409 until a test sign-in
// succeeded on the current settings.
func (h *SSO) Enforce(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var b enforceBody
	if err := Bind(c, &b); err != nil {
		return err
	}
	if b.Enforced == nil {
		// Roles that may not see SSO learn nothing, not even the body rules.
		if _, err := h.Store.SSOStatus(c.Request().Context(), ws); err != nil {
			return err
		}
		return model.InvalidField("enforced", "enforced is required: true or false.")
	}
	conn, err := h.Store.SetSSOEnforced(c.Request().Context(), request.Actor(c), ws.ID, *b.Enforced)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, h.status(ws.ID, &conn))
}

// CreateSetupLink is POST /api/orgs/{org}/sso/setup-links.
func (h *SSO) CreateSetupLink(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	secret, l, err := h.Store.CreateSetupLink(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, map[string]any{"id": l.ID, "url": strings.TrimRight(h.BaseURL, "/") + "/sso/setup/" + secret, "expires_at": l.ExpiresAt.UTC()})
}

// RevokeSetupLink is DELETE /api/orgs/{org}/sso/setup-links/{id}.
func (h *SSO) RevokeSetupLink(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "setup link")
	if err != nil {
		return err
	}
	l, err := h.Store.RevokeSetupLink(c.Request().Context(), request.Actor(c), ws.ID, id)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"id": l.ID, "revoked": true, "revoked_at": l.RevokedAt})
}

type domainView struct {
	model.SSODomain
	TXTRecord string `json:"txt_record"`
}

func viewDomain(d model.SSODomain) domainView {
	return domainView{SSODomain: d, TXTRecord: d.TXTRecord()}
}

// Domains is GET /api/orgs/{org}/domains.
func (h *SSO) Domains(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	ds, err := h.Store.Domains(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	out := make([]domainView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewDomain(d))
	}
	return List(c, out, NewPagePagination(1, len(out), len(out)))
}

type domainBody struct {
	Domain string `json:"domain"`
}

// AddDomain is POST /api/orgs/{org}/domains.
func (h *SSO) AddDomain(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var b domainBody
	if err := Bind(c, &b); err != nil {
		return err
	}
	d, err := h.Store.AddDomain(c.Request().Context(), request.Actor(c), ws.ID, b.Domain)
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, viewDomain(d))
}

// VerifyDomain is POST /api/orgs/{org}/domains/{id}/verify: verified, or 409
// with what DNS answered.
func (h *SSO) VerifyDomain(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "domain")
	if err != nil {
		return err
	}
	chk, err := h.Store.VerifyDomain(c.Request().Context(), request.Actor(c), ws.ID, id, h.Pages.DNS.LookupTXT)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, viewDomain(chk.Domain))
}

type autoJoinBody struct {
	AutoJoin *bool `json:"auto_join"`
}

// PatchDomain is PATCH /api/orgs/{org}/domains/{id}.
func (h *SSO) PatchDomain(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "domain")
	if err != nil {
		return err
	}
	var b autoJoinBody
	if err := Bind(c, &b); err != nil {
		return err
	}
	if b.AutoJoin == nil {
		return model.InvalidField("auto_join", "auto_join is required: true or false.")
	}
	d, err := h.Store.SetDomainAutoJoin(c.Request().Context(), request.Actor(c), ws.ID, id, *b.AutoJoin)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, viewDomain(d))
}

// DeleteDomain is DELETE /api/orgs/{org}/domains/{id}.
func (h *SSO) DeleteDomain(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "domain")
	if err != nil {
		return err
	}
	if err := h.Store.DeleteDomain(c.Request().Context(), request.Actor(c), ws.ID, id); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"removed": true, "id": id})
}
