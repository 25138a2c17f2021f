package handlers

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/request"
)

// Session keys of the WebAuthn ceremonies in progress (their challenges).
const (
	waRegisterKey = "wa-register"
	waLoginKey    = "wa-login"
)

// NewWebAuthn configures passkeys for the site at baseURL. Browsers refuse
// an IP address as the relying party, so a loopback base URL (development,
// tests) is served as localhost: open it as http://localhost:port.
func NewWebAuthn(baseURL string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	origin := u.Scheme + "://" + host
	if p := u.Port(); p != "" {
		origin += ":" + p
	}
	return webauthn.New(&webauthn.Config{RPID: host, RPDisplayName: "Guildhall", RPOrigins: []string{origin}})
}

// waUser adapts an account and its passkeys to the WebAuthn library.
type waUser struct {
	acc   model.Account
	creds []webauthn.Credential
}

func (u waUser) WebAuthnID() []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(u.acc.ID))
	return b
}
func (u waUser) WebAuthnName() string                       { return u.acc.Email }
func (u waUser) WebAuthnDisplayName() string                { return u.acc.Name }
func (u waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (h *TwoFactor) waUser(c echo.Context, acc model.Account) (waUser, error) {
	pks, err := h.Store.Passkeys(c.Request().Context(), acc.ID)
	if err != nil {
		return waUser{}, err
	}
	u := waUser{acc: acc}
	for _, pk := range pks {
		var cred webauthn.Credential
		if err := json.Unmarshal(pk.Data, &cred); err != nil {
			return waUser{}, err
		}
		u.creds = append(u.creds, cred)
	}
	return u, nil
}

func saveCeremony(c echo.Context, key string, s *webauthn.SessionData) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return request.Values(c).SetValue(c, key, string(b))
}

// takeCeremony reads and forgets a ceremony: each challenge is answered once.
func takeCeremony(c echo.Context, key string) (webauthn.SessionData, bool, error) {
	var s webauthn.SessionData
	v := request.Values(c)
	raw := v.Value(key)
	if raw == "" || json.Unmarshal([]byte(raw), &s) != nil {
		return s, false, nil
	}
	return s, true, v.SetValue(c, key, "")
}

var errPasskeysOff = model.Conflict("Passkeys are not available on this server.")

// RegisterOptions starts adding a passkey: the creation options for the
// browser, with the challenge kept in the encrypted cookie session.
func (h *TwoFactor) RegisterOptions(c echo.Context) error {
	if h.WebAuthn == nil {
		return errPasskeysOff
	}
	acc, _ := request.Account(c)
	u, err := h.waUser(c, acc)
	if err != nil {
		return err
	}
	var exclude []protocol.CredentialDescriptor
	for _, cr := range u.creds {
		exclude = append(exclude, cr.Descriptor())
	}
	opts, session, err := h.WebAuthn.BeginRegistration(u, webauthn.WithExclusions(exclude),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationDiscouraged}))
	if err != nil {
		return err
	}
	if err := saveCeremony(c, waRegisterKey, session); err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, opts)
}

// Register checks the browser's new credential and stores it.
func (h *TwoFactor) Register(c echo.Context) error {
	if h.WebAuthn == nil {
		return errPasskeysOff
	}
	name := c.QueryParam("name")
	if err := model.ValidatePasskeyName(name); err != nil {
		return err
	}
	session, ok, err := takeCeremony(c, waRegisterKey)
	if err != nil {
		return err
	}
	if !ok {
		return model.Conflict("Start adding the passkey again.")
	}
	acc, _ := request.Account(c)
	u, err := h.waUser(c, acc)
	if err != nil {
		return err
	}
	cred, err := h.WebAuthn.FinishRegistration(u, session, c.Request())
	if err != nil {
		return model.InvalidField("passkey", "The browser's answer did not check out. Try again.")
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	pk, err := h.Store.AddPasskey(c.Request().Context(), request.Actor(c), name, cred.ID, data)
	if err != nil {
		return err
	}
	if err := request.Session(c).AddFlash(c, request.Flash{Kind: "success", Text: "Passkey " + pk.Name + " added."}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "redirect": "/profile#two-factor"})
}

// RemovePasskey deletes one of the viewer's passkeys.
func (h *TwoFactor) RemovePasskey(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return model.NotFound("passkey")
	}
	if err := h.Store.RemovePasskey(c.Request().Context(), request.Actor(c), id); err != nil {
		return err
	}
	return Redirect(c, "/profile#two-factor", "success", "Passkey removed.")
}

// LoginOptions starts the passkey variant of the second sign-in step.
func (h *TwoFactor) LoginOptions(c echo.Context) error {
	p, ok := h.pending(c)
	if !ok || h.WebAuthn == nil {
		return model.Conflict("Signing in took too long. Enter your password again.")
	}
	acc, err := h.Store.AccountByID(c.Request().Context(), p.AccountID)
	if err != nil {
		return err
	}
	u, err := h.waUser(c, acc)
	if err != nil {
		return err
	}
	opts, session, err := h.WebAuthn.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		return model.Conflict("This account has no passkey.")
	}
	if err := saveCeremony(c, waLoginKey, session); err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, opts)
}

// Login checks the passkey assertion and only then signs in.
func (h *TwoFactor) Login(c echo.Context) error {
	p, ok := h.pending(c)
	if !ok || h.WebAuthn == nil {
		return model.Conflict("Signing in took too long. Enter your password again.")
	}
	ctx := c.Request().Context()
	accKey := "2fa-account:" + strconv.FormatInt(p.AccountID, 10)
	acc, err := h.Store.AccountByID(ctx, p.AccountID)
	if err != nil {
		return err
	}
	target := model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email}
	actor := model.Actor{AccountID: acc.ID, Email: acc.Email, IP: c.RealIP()}
	if ok, _ := h.Limiter.Allow("2fa-ip:"+c.RealIP(), accKey); !ok {
		_ = h.Store.RecordDenied(ctx, actor, acc.PersonalOrgID, "two_factor.challenge_failed", target)
		return ErrRateLimited
	}
	session, ok, err := takeCeremony(c, waLoginKey)
	if err != nil {
		return err
	}
	if !ok {
		return model.Conflict("Start the passkey sign-in again.")
	}
	u, err := h.waUser(c, acc)
	if err != nil {
		return err
	}
	cred, err := h.WebAuthn.FinishLogin(u, session, c.Request())
	if err != nil {
		_ = h.Store.RecordDenied(ctx, actor, acc.PersonalOrgID, "two_factor.challenge_failed", target)
		return &model.Error{Code: model.CodeUnauthorized, Message: "That passkey did not work. Try again, or use a code."}
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	if err := h.Store.UsePasskey(ctx, acc.ID, cred.ID, data); err != nil {
		return err
	}
	h.Limiter.Reset(accKey)
	if err := request.Session(c).SignIn(c, acc.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "redirect": SafeNext(p.Next)})
}

// passkeyViews lists the passkeys for the profile.
func (b *Base) passkeyViews(pks []model.Passkey) []views.PasskeyView {
	now := b.Store.Now()
	var out []views.PasskeyView
	for _, pk := range pks {
		v := views.PasskeyView{ID: pk.ID, Name: pk.Name, Added: views.FormatTime(pk.CreatedAt), LastUse: "never used"}
		if pk.LastUsedAt != nil {
			v.LastUse = "last used " + views.Ago(*pk.LastUsedAt, now)
		}
		out = append(out, v)
	}
	return out
}
