package handlers

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/request"
	"guildhall/web/sso"
)

// Cookies of the SSO flows: the flow cookie binds a started sign-in to the
// browser that started it (a callback with another state is refused); the
// setup cookie holds an IT admin's setup session.
const (
	flowCookie  = "guildhall_sso_flow"
	setupCookie = "guildhall_sso_setup"
)

// SSO is /sso (owners configure, admins read), the setup-link session, the
// "Sign in with SSO" entry and the protocol callbacks.
type SSO struct {
	*Base
	Box  *sso.Box
	OIDC *sso.OIDC
	SAML *sso.SAML
	DNS  sso.Resolver
}

// Endpoints are the URLs an IdP needs.
func (h *SSO) Endpoints(orgID int64) views.SSOEndpoints {
	id := strconv.FormatInt(orgID, 10)
	return views.SSOEndpoints{
		RedirectURI:  h.Link("/sso/oidc/callback"),
		ACSURL:       h.Link("/sso/saml/" + id + "/acs"),
		EntityID:     h.Link("/sso/saml/" + id + "/metadata"),
		MetadataLink: h.Link("/sso/saml/" + id + "/metadata"),
	}
}

func connView(c *model.SSOConnection, now time.Time) *views.SSOConnView {
	if c == nil {
		return nil
	}
	v := &views.SSOConnView{Protocol: c.Protocol, Issuer: c.Issuer, ClientID: c.ClientID, SecretSet: len(c.ClientSecretEnc) > 0,
		MetadataURL: c.MetadataURL, HasXML: c.MetadataXML != "", Enabled: c.Enabled, Enforced: c.Enforced,
		IdPInitiated: c.IdPInitiated, Tested: c.Tested()}
	if c.Tested() {
		v.TestedAt = views.Ago(*c.TestedAt, now)
	}
	return v
}

func formOf(c *model.SSOConnection) views.SSOForm {
	if c == nil {
		return views.SSOForm{Protocol: model.ProtocolOIDC}
	}
	return views.SSOForm{Protocol: c.Protocol, Issuer: c.Issuer, ClientID: c.ClientID, MetadataURL: c.MetadataURL, MetadataXML: c.MetadataXML}
}

// pageView builds the /sso page; a role that may not see SSO gets the plain notice.
func (h *SSO) pageView(c echo.Context) (views.SSOView, *db.SSOSettings, error) {
	ws := request.Workspace(c)
	v := views.SSOView{OrgName: ws.DisplayName}
	st, err := h.Store.SSOPage(c.Request().Context(), ws)
	if errors.Is(err, model.ErrNotFound) {
		v.Notice = "Single sign-on is managed by this organization's owners and admins."
		if ws.Personal() {
			v.Notice = "Single sign-on is for team organizations. Switch to one to set it up."
		}
		return v, nil, nil
	}
	if err != nil {
		return v, nil, err
	}
	now := h.Store.Now()
	v.CanManage = model.CanIn(st.Org.Kind, st.Role, model.ActManageSSO)
	v.Conn = connView(st.Connection, now)
	v.Form = formOf(st.Connection)
	v.Endpoints = h.Endpoints(ws.ID)
	for _, d := range st.Domains {
		dv := views.DomainView{ID: d.ID, Domain: d.Domain, TXT: d.TXTRecord(), Verified: d.VerifiedAt != nil, AutoJoin: d.AutoJoin}
		if d.VerifiedAt != nil {
			dv.VerifiedAt = views.Ago(*d.VerifiedAt, now)
		}
		v.Domains = append(v.Domains, dv)
	}
	for _, l := range st.SetupLinks {
		v.Links = append(v.Links, views.SetupLinkView{ID: l.ID, State: l.State(now), Expires: views.FormatTime(l.ExpiresAt) + " UTC", CreatedBy: l.CreatedByEmail})
	}
	for _, b := range st.Bypasses {
		v.Bypasses = append(v.Bypasses, views.BypassView{When: views.FormatTime(b.CreatedAt) + " UTC from " + b.IP, Who: b.ActorEmail})
	}
	return v, &st, nil
}

func (h *SSO) render(c echo.Context, status int, v views.SSOView) error {
	return Render(c, status, views.SSOPage(h.Shell(c, "Single sign-on", "sso"), v))
}

// Page is GET /sso.
func (h *SSO) Page(c echo.Context) error {
	v, _, err := h.pageView(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, v)
}

func configFrom(c echo.Context) model.SSOConfig {
	return model.SSOConfig{Protocol: c.FormValue("protocol"), Issuer: c.FormValue("issuer"), ClientID: c.FormValue("client_id"),
		ClientSecret: c.FormValue("client_secret"), MetadataXML: c.FormValue("metadata_xml"), MetadataURL: c.FormValue("metadata_url")}
}

// SaveInput seals the client secret of a submitted configuration.
func SaveInput(box *sso.Box, cfg model.SSOConfig) (db.SaveSSOInput, error) {
	cfg = cfg.Normalize()
	in := db.SaveSSOInput{Config: cfg}
	if cfg.ClientSecret != "" && model.ValidText(cfg.ClientSecret) {
		sealed, err := box.Seal(cfg.ClientSecret)
		if err != nil {
			return in, err
		}
		in.SealedSecret = sealed
	}
	// Validation sees only the length of a usable secret, never its value;
	// an unusable one (NUL, invalid UTF-8) stays so validation names it.
	if model.ValidText(cfg.ClientSecret) {
		in.Config.ClientSecret = strings.Repeat("x", min(len(cfg.ClientSecret), 2001))
	}
	return in, nil
}

// SaveConnection is POST /sso/connection.
func (h *SSO) SaveConnection(c echo.Context) error {
	in, err := SaveInput(h.Box, configFrom(c))
	if err != nil {
		return err
	}
	_, err = h.Store.SaveSSOConnection(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, in)
	if fields, msg, ok := FieldErrors(err); ok || model.CodeOf(err) == model.CodeConflict {
		v, _, perr := h.pageView(c)
		if perr != nil {
			return perr
		}
		v.Form = views.SSOForm{Protocol: c.FormValue("protocol"), Issuer: c.FormValue("issuer"), ClientID: c.FormValue("client_id"),
			MetadataURL: c.FormValue("metadata_url"), MetadataXML: c.FormValue("metadata_xml"), Errors: fields, Message: msg}
		status := http.StatusUnprocessableEntity
		if !ok {
			v.Form.Message, status = err.Error(), http.StatusConflict
		}
		return h.render(c, status, v)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/sso", "success", "Connection saved. Run a test sign-in to check it.")
}

func formBool(c echo.Context, name string) bool {
	v := c.FormValue(name)
	return v == "true" || v == "on" || v == "1"
}

// Enforce is POST /sso/enforce.
func (h *SSO) Enforce(c echo.Context) error {
	on := formBool(c, "enforced")
	_, err := h.Store.SetSSOEnforced(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, on)
	if model.CodeOf(err) == model.CodeConflict {
		return Redirect(c, "/sso", "error", err.Error())
	}
	if err != nil {
		return err
	}
	if on {
		return Redirect(c, "/sso", "success", "SSO is enforced: members at verified domains now sign in through the IdP.")
	}
	return Redirect(c, "/sso", "success", "Enforcement is off: passwords work again.")
}

// SetEnabled is POST /sso/enabled.
func (h *SSO) SetEnabled(c echo.Context) error {
	on := formBool(c, "enabled")
	if _, err := h.Store.SetSSOEnabled(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, on); err != nil {
		return err
	}
	if on {
		return Redirect(c, "/sso", "success", "Connection enabled.")
	}
	return Redirect(c, "/sso", "success", "Connection disabled; enforcement is off.")
}

// SetIdPInitiated is POST /sso/idp-initiated.
func (h *SSO) SetIdPInitiated(c echo.Context) error {
	if _, err := h.Store.SetSSOIdPInitiated(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, formBool(c, "on")); err != nil {
		return err
	}
	return Redirect(c, "/sso", "success", "Saved.")
}

// CreateSetupLink is POST /sso/setup-links: the link is shown once.
func (h *SSO) CreateSetupLink(c echo.Context) error {
	secret, l, err := h.Store.CreateSetupLink(c.Request().Context(), request.Actor(c), request.Workspace(c).ID)
	if err != nil {
		return err
	}
	v, _, err := h.pageView(c)
	if err != nil {
		return err
	}
	v.NewLink, v.NewLinkExp = h.Link("/sso/setup/"+secret), views.FormatTime(l.ExpiresAt)+" UTC"
	return h.render(c, http.StatusCreated, v)
}

func pathID(c echo.Context, name, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound(what)
	}
	return id, nil
}

// RevokeSetupLink is POST /sso/setup-links/:id/revoke.
func (h *SSO) RevokeSetupLink(c echo.Context) error {
	id, err := pathID(c, "id", "setup link")
	if err != nil {
		return err
	}
	if _, err := h.Store.RevokeSetupLink(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id); err != nil {
		return err
	}
	return Redirect(c, "/sso", "success", "Setup link revoked.")
}

// AddDomain is POST /sso/domains.
func (h *SSO) AddDomain(c echo.Context) error {
	d, err := h.Store.AddDomain(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, c.FormValue("domain"))
	if code := model.CodeOf(err); code == model.CodeValidation || code == model.CodeConflict {
		v, _, perr := h.pageView(c)
		if perr != nil {
			return perr
		}
		v.DomainInput, v.DomainError = c.FormValue("domain"), msgOfErr(err)
		return h.render(c, StatusOf(code), v)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/sso", "success", "Added "+d.Domain+". Add the TXT record shown under Verified domains to its DNS, then verify.")
}

func msgOfErr(err error) string {
	if e, ok := model.AsError(err); ok {
		for _, m := range e.Fields {
			return m
		}
		return e.Message
	}
	return err.Error()
}

// VerifyDomain is POST /sso/domains/:id/verify.
func (h *SSO) VerifyDomain(c echo.Context) error {
	id, err := pathID(c, "id", "domain")
	if err != nil {
		return err
	}
	chk, err := h.Store.VerifyDomain(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id, h.DNS.LookupTXT)
	if model.CodeOf(err) == model.CodeConflict {
		v, _, perr := h.pageView(c)
		if perr != nil {
			return perr
		}
		v.DomainNote = err.Error()
		return h.render(c, http.StatusConflict, v)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/sso", "success", chk.Domain.Domain+" is verified.")
}

// DomainAutoJoin is POST /sso/domains/:id/auto-join.
func (h *SSO) DomainAutoJoin(c echo.Context) error {
	id, err := pathID(c, "id", "domain")
	if err != nil {
		return err
	}
	if _, err := h.Store.SetDomainAutoJoin(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id, formBool(c, "auto_join")); err != nil {
		if model.CodeOf(err) == model.CodeConflict {
			return Redirect(c, "/sso", "error", err.Error())
		}
		return err
	}
	return Redirect(c, "/sso", "success", "Saved.")
}

// DeleteDomain is POST /sso/domains/:id/delete.
func (h *SSO) DeleteDomain(c echo.Context) error {
	id, err := pathID(c, "id", "domain")
	if err != nil {
		return err
	}
	if err := h.Store.DeleteDomain(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id); err != nil {
		return err
	}
	return Redirect(c, "/sso", "success", "Domain removed.")
}

// ---- flows ----

func (h *SSO) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(h.BaseURL, "https://")}
}

// refuse renders the refusal page and audits it in the org (0: unknown org).
func (h *SSO) refuse(c echo.Context, orgID int64, err error) error {
	msg := msgOfErr(err)
	if orgID != 0 || errors.Is(err, db.ErrFlowUnknown) {
		if aerr := h.Store.RecordSSORefusal(c.Request().Context(), c.RealIP(), orgID, msg); aerr != nil {
			c.Logger().Errorf("sso refusal audit: %v", aerr)
		}
	}
	return Render(c, http.StatusForbidden, views.Notice(h.Shell(c, "Sign-in refused", ""), "Single sign-on refused", msg, "/login", "Back to sign-in"))
}

// startFlow stores a flow and sends the browser to the org's IdP.
func (h *SSO) startFlow(c echo.Context, orgID int64, f model.SSOFlow, loginHint string) error {
	ctx := c.Request().Context()
	conn, err := h.Store.SSOConnection(ctx, orgID)
	if err != nil {
		return err
	}
	if !conn.Enabled && f.Purpose == model.FlowSignIn {
		return h.refuse(c, orgID, model.Forbidden("Single sign-on is disabled for this organization."))
	}
	f.OrgID, f.ConfigHash = orgID, conn.ConfigHash
	state := sso.RandomToken()
	var to string
	switch conn.Protocol {
	case model.ProtocolOIDC:
		cfg, err := h.oidcConfig(conn)
		if err != nil {
			return h.unreachable(c, orgID, err)
		}
		f.Nonce, f.PKCEVerifier = sso.RandomToken(), sso.RandomToken()
		to, err = h.OIDC.AuthURL(ctx, cfg, state, f.Nonce, f.PKCEVerifier, loginHint)
		if err != nil {
			return h.unreachable(c, orgID, err)
		}
	case model.ProtocolSAML:
		if h.SAML == nil {
			return h.unreachable(c, orgID, errors.New("SAML is not available on this server"))
		}
		sp, err := h.SAML.Provider(ctx, conn, h.spEndpoints(orgID), nil)
		if err != nil {
			return h.unreachable(c, orgID, err)
		}
		to, f.SAMLRequestID, err = sp.RedirectURL(state)
		if err != nil {
			return h.unreachable(c, orgID, err)
		}
	}
	if err := h.Store.StartSSOFlow(ctx, state, f); err != nil {
		return err
	}
	c.SetCookie(h.cookie(flowCookie, state, "/", int(model.FlowTTL/time.Second)))
	if c.Request().Method == http.MethodPost {
		return h.ContinueTo(c, to)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// ContinueTo answers a form post whose next stop is another origin (an
// identity provider), directly or through a same-origin redirect. A redirect
// would not do: Chrome holds every redirect of a form submission to the
// form's CSP form-action 'self'. This page moves on by a meta refresh, a new
// navigation that form-action does not govern, and links there too.
func (b *Base) ContinueTo(c echo.Context, to string) error {
	s := b.Shell(c, "Continuing to single sign-on", "")
	s.Refresh = to
	return Render(c, http.StatusOK, views.SSOContinuePage(s, to))
}

// unreachable explains an IdP that cannot be used, with the owners' break-glass.
func (h *SSO) unreachable(c echo.Context, orgID int64, err error) error {
	_ = h.Store.RecordSSORefusal(c.Request().Context(), c.RealIP(), orgID, "identity provider unavailable")
	return Render(c, http.StatusBadGateway, views.Notice(h.Shell(c, "Identity provider unavailable", ""), "The identity provider is unavailable",
		strings.TrimRight(msgOfErr(err), ". ")+". Owners can still sign in with their password.", "/login?password=1", "Sign in with a password"))
}

func (h *SSO) oidcConfig(conn model.SSOConnection) (sso.OIDCConfig, error) {
	secret, err := h.Box.Open(conn.ClientSecretEnc)
	if err != nil {
		return sso.OIDCConfig{}, err
	}
	return sso.OIDCConfig{Issuer: conn.Issuer, ClientID: conn.ClientID, ClientSecret: secret, RedirectURL: h.Link("/sso/oidc/callback")}, nil
}

// StartTest is POST /sso/test: the owner's test sign-in.
func (h *SSO) StartTest(c echo.Context) error {
	ws := request.Workspace(c)
	if _, err := h.Store.SSOStatus(c.Request().Context(), ws); err != nil {
		return err
	}
	if !model.CanIn(ws.Kind, ws.Role, model.ActManageSSO) {
		return model.Forbidden("Only owners can run a test sign-in.")
	}
	acc, _ := request.Account(c)
	return h.startFlow(c, ws.ID, model.SSOFlow{Purpose: model.FlowTest, AccountID: &acc.ID}, "")
}

// LoginPage is GET /login/sso.
func (h *SSO) LoginPage(c echo.Context) error {
	return Render(c, http.StatusOK, views.SSOLoginPage(h.Shell(c, "Sign in with SSO", ""), views.SSOLoginView{Org: c.QueryParam("org"), Next: c.QueryParam("next")}))
}

// Login is POST /login/sso (an org slug or a work email) and GET /sso/start
// (the email-first step of /login).
func (h *SSO) Login(c echo.Context) error {
	ref := strings.TrimSpace(c.FormValue("org"))
	if ref == "" {
		ref = strings.TrimSpace(c.FormValue("email"))
	}
	next := SafeNext(c.FormValue("next"))
	var org model.Org
	var err error
	hint := ""
	if strings.Contains(ref, "@") {
		org, err = h.Store.SSOOrgForEmail(c.Request().Context(), ref)
		hint = model.NormalizeEmail(ref)
	} else {
		org, err = h.Store.SSOOrgBySlug(c.Request().Context(), ref)
	}
	if errors.Is(err, model.ErrNotFound) || ref == "" {
		v := views.SSOLoginView{Org: ref, Next: c.FormValue("next"), Error: "No organization with single sign-on matches this. Check the slug, or sign in with your password."}
		if ref == "" {
			v.Error = "Enter your work email or your organization's slug."
		}
		return Render(c, http.StatusNotFound, views.SSOLoginPage(h.Shell(c, "Sign in with SSO", ""), v))
	}
	if err != nil {
		return err
	}
	return h.startFlow(c, org.ID, model.SSOFlow{Purpose: model.FlowSignIn, NextPath: next}, hint)
}

// OIDCCallback is GET /sso/oidc/callback.
func (h *SSO) OIDCCallback(c echo.Context) error {
	ctx := c.Request().Context()
	state := c.QueryParam("state")
	f, err := h.Store.TakeSSOFlow(ctx, state)
	if err != nil {
		return h.refuse(c, 0, err)
	}
	ck, _ := c.Cookie(flowCookie)
	c.SetCookie(h.cookie(flowCookie, "", "/", -1))
	if ck == nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(state)) != 1 {
		return h.refuse(c, f.OrgID, model.Forbidden("The state of this response does not match the sign-in this browser started. Start again."))
	}
	if e := c.QueryParam("error"); e != "" {
		return h.refuse(c, f.OrgID, model.Forbidden("The identity provider refused the sign-in: %s %s", e, c.QueryParam("error_description")))
	}
	conn, err := h.Store.SSOConnection(ctx, f.OrgID)
	if err != nil || conn.Protocol != model.ProtocolOIDC {
		return h.refuse(c, f.OrgID, model.Forbidden("The connection changed during the sign-in. Start again."))
	}
	cfg, err := h.oidcConfig(conn)
	if err != nil {
		return h.refuse(c, f.OrgID, err)
	}
	id, err := h.OIDC.Exchange(ctx, cfg, c.QueryParam("code"), f.PKCEVerifier, f.Nonce)
	if err != nil {
		return h.refuse(c, f.OrgID, err)
	}
	return h.finish(c, f, id)
}

// finish completes a verified flow: a test shows the claims, a sign-in
// links or provisions the account and starts an SSO session.
func (h *SSO) finish(c echo.Context, f model.SSOFlow, id model.SSOIdentity) error {
	ctx := c.Request().Context()
	org, err := h.Store.OrgByID(ctx, f.OrgID)
	if err != nil {
		return err
	}
	test := views.SSOTestView{OrgName: org.DisplayName, Email: id.Email, EmailVerified: id.EmailVerified, Name: id.Name,
		Groups: id.Groups, Subject: id.Subject, Protocol: id.Protocol, Back: "/sso"}
	switch f.Purpose {
	case model.FlowTest:
		acc, ok := request.Account(c)
		if !ok || f.AccountID == nil || *f.AccountID != acc.ID {
			return h.refuse(c, f.OrgID, model.Forbidden("This test sign-in was started by another account."))
		}
		if _, err := h.Store.CompleteSSOTest(ctx, request.Actor(c), f, id); err != nil {
			return h.refuse(c, f.OrgID, err)
		}
		return Render(c, http.StatusOK, views.SSOTestPage(h.Shell(c, "Test sign-in", "sso"), test))
	case model.FlowSetup:
		l, _, err := h.setupSession(c)
		if err != nil || f.SetupLinkID == nil || *f.SetupLinkID != l.ID {
			return h.refuse(c, f.OrgID, model.Forbidden("This test was started from another setup session."))
		}
		if _, err := h.Store.CompleteSSOTest(ctx, db.SetupActor(l, c.RealIP()), f, id); err != nil {
			return h.refuse(c, f.OrgID, err)
		}
		test.Back = "/sso/setup"
		return Render(c, http.StatusOK, views.SSOTestPage(h.Shell(c, "Test sign-in", ""), test))
	}
	acc, err := h.Store.SSOSignIn(ctx, model.Actor{IP: c.RealIP()}, f.OrgID, id)
	if _, ok := model.AsError(err); ok {
		return h.refuse(c, 0, err) // SSOSignIn audited the refusal already
	}
	if err != nil {
		return err
	}
	if err := request.Session(c).SignIn(c, acc.ID); err != nil {
		return err
	}
	if err := h.Store.MarkSessionSSO(ctx, request.SessionID(c), f.OrgID); err != nil {
		return err
	}
	if err := request.Session(c).SetActive(c, f.OrgID); err != nil {
		return err
	}
	return Redirect(c, SafeNext(f.NextPath), "success", "Signed in to "+org.DisplayName+" with single sign-on.")
}

// ---- SAML ----

func (h *SSO) spEndpoints(orgID int64) sso.SPEndpoints {
	e := h.Endpoints(orgID)
	return sso.SPEndpoints{ACSURL: e.ACSURL, EntityID: e.EntityID, MetadataURL: e.MetadataLink}
}

// SAMLMetadata is GET /sso/saml/:org/metadata: the SP metadata of a team org.
func (h *SSO) SAMLMetadata(c echo.Context) error {
	id, err := pathID(c, "org", "organization")
	if err != nil {
		return err
	}
	org, err := h.Store.OrgByID(c.Request().Context(), id)
	if err != nil || org.Personal() {
		return model.NotFound("organization")
	}
	sp, err := h.SAML.Provider(c.Request().Context(), model.SSOConnection{OrgID: id}, h.spEndpoints(id), nil)
	if err != nil {
		return err
	}
	b, err := sp.Metadata()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", b)
}

// SAMLACS is POST /sso/saml/:org/acs. The IdP posts here from its own
// site, so the browser's SameSite cookies are absent: the response is
// verified here, its identity kept on the flow, and the browser sent on to
// SAMLComplete, which has the cookies.
func (h *SSO) SAMLACS(c echo.Context) error {
	ctx := c.Request().Context()
	orgID, err := pathID(c, "org", "organization")
	if err != nil {
		return err
	}
	conn, err := h.Store.SSOConnection(ctx, orgID)
	if err != nil || conn.Protocol != model.ProtocolSAML {
		return h.refuse(c, 0, model.Forbidden("This organization has no SAML connection."))
	}
	ids, err := h.Store.SAMLRequestIDs(ctx, orgID)
	if err != nil {
		return err
	}
	sp, err := h.SAML.Provider(ctx, conn, h.spEndpoints(orgID), func(id string, exp time.Time) error {
		return h.Store.RememberAssertion(ctx, orgID, id, exp)
	})
	if err != nil {
		return h.refuse(c, orgID, model.Forbidden("%s", err.Error()))
	}
	res, err := sp.Parse(c.Request(), ids)
	if err != nil {
		return h.refuse(c, orgID, err)
	}
	identity, err := json.Marshal(res.Identity)
	if err != nil {
		return err
	}
	state := c.Request().PostForm.Get("RelayState")
	if res.InResponseTo == "" {
		if !conn.IdPInitiated { // crewjam refuses it too; this keeps the rule visible here
			return h.refuse(c, orgID, model.Forbidden("This organization does not accept sign-ins started at the identity provider."))
		}
		state = sso.RandomToken()
		f := model.SSOFlow{OrgID: orgID, Purpose: model.FlowSignIn, ConfigHash: conn.ConfigHash, Identity: identity, IdPInitiated: true}
		if err := h.Store.StartSSOFlow(ctx, state, f); err != nil {
			return err
		}
	} else if err := h.Store.SetSAMLIdentity(ctx, orgID, res.InResponseTo, state, identity); err != nil {
		return h.refuse(c, orgID, err)
	}
	return c.Redirect(http.StatusSeeOther, "/sso/saml/complete?state="+url.QueryEscape(state))
}

// SAMLComplete is GET /sso/saml/complete: it finishes a verified SAML flow
// in the browser that started it (IdP-initiated flows have no such browser).
func (h *SSO) SAMLComplete(c echo.Context) error {
	state := c.QueryParam("state")
	f, err := h.Store.TakeSSOFlow(c.Request().Context(), state)
	if err != nil {
		return h.refuse(c, 0, err)
	}
	if f.Identity == nil {
		return h.refuse(c, f.OrgID, model.Forbidden("This sign-in has no verified SAML response."))
	}
	ck, _ := c.Cookie(flowCookie)
	c.SetCookie(h.cookie(flowCookie, "", "/", -1))
	if !f.IdPInitiated && (ck == nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(state)) != 1) {
		return h.refuse(c, f.OrgID, model.Forbidden("The state of this response does not match the sign-in this browser started. Start again."))
	}
	var id model.SSOIdentity
	if err := json.Unmarshal(f.Identity, &id); err != nil {
		return err
	}
	return h.finish(c, f, id)
}

// ---- setup links ----

func setupLinkRefusal(state string) string {
	switch state {
	case "opened":
		return "This setup link was already used. Ask the organization's owner for a new one."
	case "revoked":
		return "This setup link was revoked. Ask the organization's owner for a new one."
	case "expired":
		return "This setup link has expired. Ask the organization's owner for a new one."
	}
	return "This setup link is not valid. Ask the organization's owner for a new one."
}

// SetupLinkPage is GET /sso/setup/:token: it only asks. Opening consumes the
// link, and link previews (chat unfurls, mail scanners) fetch with GET.
func (h *SSO) SetupLinkPage(c echo.Context) error {
	l, org, err := h.Store.SetupLinkByToken(c.Request().Context(), c.Param("token"))
	if model.CodeOf(err) == model.CodeNotFound {
		return Render(c, http.StatusNotFound, views.Notice(h.Shell(c, "Setup link", ""), "This setup link does not work", setupLinkRefusal(""), "", ""))
	}
	if err != nil {
		return err
	}
	if st := l.State(h.Store.Now()); st != "active" {
		return Render(c, http.StatusConflict, views.Notice(h.Shell(c, "Setup link", ""), "This setup link does not work", setupLinkRefusal(st), "", ""))
	}
	return Render(c, http.StatusOK, views.SSOSetupOpenPage(h.Shell(c, "Set up single sign-on", ""), views.SSOSetupOpenView{
		OrgName: org.DisplayName, ByEmail: l.CreatedByEmail, Expires: views.FormatTime(l.ExpiresAt) + " UTC", Action: c.Request().URL.Path}))
}

// OpenSetupLink is POST /sso/setup/:token: it consumes the link and starts a
// setup session bound to this browser.
func (h *SSO) OpenSetupLink(c echo.Context) error {
	session, l, err := h.Store.OpenSetupLink(c.Request().Context(), c.Param("token"), c.RealIP())
	if code := model.CodeOf(err); code == model.CodeNotFound || code == model.CodeConflict {
		msg := setupLinkRefusal("")
		if code == model.CodeConflict {
			msg = msgOfErr(err)
		}
		return Render(c, StatusOf(code), views.Notice(h.Shell(c, "Setup link", ""), "This setup link does not work", msg, "", ""))
	}
	if err != nil {
		return err
	}
	c.SetCookie(h.cookie(setupCookie, session, "/sso/", int(time.Until(l.ExpiresAt)/time.Second)))
	return c.Redirect(http.StatusSeeOther, "/sso/setup")
}

func (h *SSO) setupSession(c echo.Context) (model.SSOSetupLink, model.Org, error) {
	ck, err := c.Cookie(setupCookie)
	if err != nil {
		return model.SSOSetupLink{}, model.Org{}, model.NotFound("setup session")
	}
	return h.Store.SetupSession(c.Request().Context(), ck.Value)
}

func (h *SSO) setupView(c echo.Context) (views.SSOSetupView, error) {
	l, org, err := h.setupSession(c)
	if err != nil {
		return views.SSOSetupView{}, err
	}
	v := views.SSOSetupView{OrgName: org.DisplayName, ByEmail: l.CreatedByEmail, Expires: views.FormatTime(l.ExpiresAt) + " UTC", Endpoints: h.Endpoints(org.ID)}
	conn, err := h.Store.SSOConnection(c.Request().Context(), org.ID)
	switch {
	case err == nil:
		v.Conn, v.Form = connView(&conn, h.Store.Now()), formOf(&conn)
	case errors.Is(err, model.ErrNotFound):
		v.Form = formOf(nil)
	default:
		return v, err
	}
	return v, nil
}

func (h *SSO) setupExpired(c echo.Context) error {
	return Render(c, http.StatusNotFound, views.Notice(h.Shell(c, "Setup session", ""), "This setup session has ended",
		"The link expired, was revoked, or was opened in another browser. Ask the organization's owner for a new one.", "", ""))
}

// SetupPage is GET /sso/setup.
func (h *SSO) SetupPage(c echo.Context) error {
	v, err := h.setupView(c)
	if model.CodeOf(err) == model.CodeNotFound {
		return h.setupExpired(c)
	}
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.SSOSetupPage(h.Shell(c, "Set up single sign-on", ""), v))
}

// SetupSave is POST /sso/setup/connection.
func (h *SSO) SetupSave(c echo.Context) error {
	l, _, err := h.setupSession(c)
	if err != nil {
		return h.setupExpired(c)
	}
	in, err := SaveInput(h.Box, configFrom(c))
	if err != nil {
		return err
	}
	_, err = h.Store.SaveSSOViaSetup(c.Request().Context(), l, c.RealIP(), in)
	if fields, msg, ok := FieldErrors(err); ok || model.CodeOf(err) == model.CodeConflict {
		v, verr := h.setupView(c)
		if verr != nil {
			return verr
		}
		v.Form = views.SSOForm{Protocol: c.FormValue("protocol"), Issuer: c.FormValue("issuer"), ClientID: c.FormValue("client_id"),
			MetadataURL: c.FormValue("metadata_url"), MetadataXML: c.FormValue("metadata_xml"), Errors: fields, Message: msg}
		status := http.StatusUnprocessableEntity
		if !ok {
			v.Form.Message, status = err.Error(), http.StatusConflict
		}
		return Render(c, status, views.SSOSetupPage(h.Shell(c, "Set up single sign-on", ""), v))
	}
	if model.CodeOf(err) == model.CodeNotFound {
		return h.setupExpired(c)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/sso/setup", "success", "Connection saved. Run a test sign-in to check it.")
}

// SetupTest is POST /sso/setup/test.
func (h *SSO) SetupTest(c echo.Context) error {
	l, org, err := h.setupSession(c)
	if err != nil {
		return h.setupExpired(c)
	}
	return h.startFlow(c, org.ID, model.SSOFlow{Purpose: model.FlowSetup, SetupLinkID: &l.ID}, "")
}

// ---- auto-join ----

// AutoJoinBanner offers membership of orgs whose auto-join domain matches
// the account's verified email (a BannerSource).
func (h *SSO) AutoJoinBanner(c echo.Context, acc model.Account) ([]views.BannerItem, error) {
	if p, ok := request.PendingFor(c); ok && !p.AutoJoin {
		return nil, nil // read with the session: no offer
	}
	offers, err := h.Store.AutoJoinOffers(c.Request().Context(), acc)
	if err != nil {
		return nil, err
	}
	items := make([]views.BannerItem, 0, len(offers))
	for _, o := range offers {
		id := strconv.FormatInt(o.OrgID, 10)
		items = append(items, views.BannerItem{
			ID:         "autojoin-banner-" + id,
			Text:       o.OrgName + " lets people at " + o.Domain + " join as Member.",
			Detail:     "Your verified email " + acc.Email + " qualifies.",
			AcceptURL:  "/me/auto-join/" + id + "/accept",
			DeclineURL: "/me/auto-join/" + id + "/dismiss",
		})
	}
	return items, nil
}

// AutoJoinAccept is POST /me/auto-join/:org/accept.
func (h *SSO) AutoJoinAccept(c echo.Context) error {
	id, err := pathID(c, "org", "organization")
	if err != nil {
		return err
	}
	if err := h.Store.AutoJoin(c.Request().Context(), request.Actor(c), id); err != nil {
		return err
	}
	if IsHTMX(c) {
		return Render(c, http.StatusOK, views.BannerDone("autojoin-banner-"+c.Param("org"), "You joined as Member. Switch to it from the workspace menu."))
	}
	if err := request.Session(c).SetActive(c, id); err != nil {
		return err
	}
	return Redirect(c, "/", "success", "You joined as Member.")
}

// AutoJoinDismiss is POST /me/auto-join/:org/dismiss: it only hides the
// offer on this page (nothing is stored; it comes back later).
func (h *SSO) AutoJoinDismiss(c echo.Context) error {
	if IsHTMX(c) {
		return Render(c, http.StatusOK, views.BannerDone("autojoin-banner-"+c.Param("org"), "Dismissed."))
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// SSORequiredBanner tells a password session which orgs it lost to SSO
// enforcement, with a way back in through the org's IdP (a BannerSource).
func (h *SSO) SSORequiredBanner(c echo.Context, acc model.Account) ([]views.BannerItem, error) {
	blocked, decided := request.SSOBlocked(c) // the workspace middleware's answer
	if !decided {
		var err error
		if blocked, err = h.Store.SSOBlockedOrgs(c.Request().Context(), acc, request.SessionID(c)); err != nil {
			return nil, err
		}
	}
	if len(blocked) == 0 {
		return nil, nil
	}
	items := make([]views.BannerItem, 0, len(blocked))
	for id := range blocked {
		org, err := h.Store.OrgByID(c.Request().Context(), id)
		if err != nil {
			return nil, err
		}
		sid := strconv.FormatInt(id, 10)
		items = append(items, views.BannerItem{
			ID:         "sso-banner-" + sid,
			Text:       org.DisplayName + " requires single sign-on.",
			Detail:     "Accept to sign in through its identity provider and get back in.",
			AcceptURL:  "/me/sso/" + sid + "/signin",
			DeclineURL: "/me/sso/" + sid + "/dismiss",
		})
	}
	return items, nil
}

// BannerSignIn is POST /me/sso/:org/signin: it sends the browser to the org's
// IdP (a full navigation, also from htmx).
func (h *SSO) BannerSignIn(c echo.Context) error {
	id, err := pathID(c, "org", "organization")
	if err != nil {
		return err
	}
	// Only an org that shut this session out offers this way back in;
	// any other number is not found, so it cannot map ids to slugs (SPEC 15).
	acc, _ := request.Account(c)
	blocked, err := h.Store.SSOBlockedOrgs(c.Request().Context(), acc, request.SessionID(c))
	if err != nil {
		return err
	}
	if !blocked[id] {
		return model.NotFound("organization")
	}
	org, err := h.Store.SSOConnection(c.Request().Context(), id)
	if err != nil || !org.Enabled {
		return model.NotFound("organization")
	}
	o, err := h.Store.OrgByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	to := "/sso/start?org=" + url.QueryEscape(o.Slug)
	if IsHTMX(c) {
		return Redirect(c, to, "", "") // htmx navigates there: no form submission
	}
	return h.ContinueTo(c, to)
}

// BannerDismiss is POST /me/sso/:org/dismiss: it hides the notice on this page.
func (h *SSO) BannerDismiss(c echo.Context) error {
	if IsHTMX(c) {
		return Render(c, http.StatusOK, views.BannerDone("sso-banner-"+c.Param("org"), "Dismissed."))
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// LoginNext keeps a "next" value for a redirect URL.
func LoginNext(next string) string {
	if next == "" {
		return ""
	}
	return "&next=" + url.QueryEscape(next)
}
