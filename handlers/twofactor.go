package handlers

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/ratelimit"
	"guildhall/web/request"
)

// TwoFactor handles enrolment, the second sign-in step, the session list and
// the org's requirement.
type TwoFactor struct {
	*Base
	// Limiter slows code guessing: per account and per IP, like sign-in.
	Limiter *ratelimit.Limiter
	// Box seals TOTP secrets at rest.
	Box *db.SecretBox
	// WebAuthn checks passkeys; nil turns passkeys off.
	WebAuthn *webauthn.WebAuthn
}

// pendingKey holds, in the encrypted cookie session, a sign-in whose
// password was right and whose second factor is still missing. It is not a
// session: nothing is signed in until the second step passes.
const pendingKey = "2fa-pending"

// PendingSignInTTL is how long the second step waits after the password.
const PendingSignInTTL = 5 * time.Minute

type pendingSignIn struct {
	AccountID int64  `json:"a"`
	Next      string `json:"n"`
	Expires   int64  `json:"e"`
}

// startSecondFactor is Login's hook for accounts with two-factor sign-in:
// remember the checked password in the cookie and ask for the code.
func (h *Accounts) startSecondFactor(c echo.Context, acc model.Account, next string) error {
	b, err := json.Marshal(pendingSignIn{AccountID: acc.ID, Next: SafeNext(next), Expires: h.Store.Now().Add(PendingSignInTTL).Unix()})
	if err != nil {
		return err
	}
	if err := request.Values(c).SetValue(c, pendingKey, string(b)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login/2fa")
}

func (h *TwoFactor) pending(c echo.Context) (pendingSignIn, bool) {
	var p pendingSignIn
	v := request.Values(c)
	if v == nil || json.Unmarshal([]byte(v.Value(pendingKey)), &p) != nil || p.AccountID == 0 {
		return p, false
	}
	return p, h.Store.Now().Unix() < p.Expires
}

func (h *TwoFactor) secondFactorForm(c echo.Context, p pendingSignIn) (views.SecondFactorForm, model.Account, error) {
	acc, err := h.Store.AccountByID(c.Request().Context(), p.AccountID)
	if err != nil {
		return views.SecondFactorForm{}, acc, err
	}
	st, err := h.Store.TwoFactorStatus(c.Request().Context(), acc.ID)
	if err != nil {
		return views.SecondFactorForm{}, acc, err
	}
	return views.SecondFactorForm{Email: acc.Email, TOTP: st.TOTP, Passkeys: st.Passkeys > 0}, acc, nil
}

func (h *TwoFactor) expired(c echo.Context) error {
	if v := request.Values(c); v != nil && v.Value(pendingKey) != "" {
		if err := v.SetValue(c, pendingKey, ""); err != nil {
			return err
		}
		return Redirect(c, "/login", "info", "Signing in took too long. Enter your password again.")
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// SecondStepPage asks for the code after the password.
func (h *TwoFactor) SecondStepPage(c echo.Context) error {
	if _, ok := request.Account(c); ok {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	p, ok := h.pending(c)
	if !ok {
		return h.expired(c)
	}
	f, _, err := h.secondFactorForm(c, p)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return Render(c, http.StatusOK, views.SecondFactorPage(h.Shell(c, "Two-factor authentication", ""), f))
}

// SecondStep checks the code (or a recovery code) and only then signs in.
func (h *TwoFactor) SecondStep(c echo.Context) error {
	p, ok := h.pending(c)
	if !ok {
		return h.expired(c)
	}
	f, acc, err := h.secondFactorForm(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	accKey := "2fa-account:" + strconv.FormatInt(p.AccountID, 10)
	if ok, _ := h.Limiter.Allow("2fa-ip:"+c.RealIP(), accKey); !ok {
		f.Error = ErrRateLimited.Message
		_ = h.Store.RecordDenied(ctx, model.Actor{AccountID: acc.ID, Email: acc.Email, IP: c.RealIP()}, acc.PersonalOrgID, "two_factor.challenge_failed", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
		return Render(c, http.StatusTooManyRequests, views.SecondFactorPage(h.Shell(c, "Two-factor authentication", ""), f))
	}
	before, err := h.Store.TwoFactorStatus(ctx, p.AccountID)
	if err != nil {
		return err
	}
	err = h.Store.VerifySecondFactor(ctx, model.Actor{IP: c.RealIP()}, h.Box, p.AccountID, c.FormValue("code"))
	if fields, _, ok := FieldErrors(err); ok {
		f.Error = "That code did not work. Enter the current code from your app, or an unused recovery code."
		if strings.Contains(fields["code"], "already used") {
			f.Error = fields["code"]
		}
		return Render(c, http.StatusUnauthorized, views.SecondFactorPage(h.Shell(c, "Two-factor authentication", ""), f))
	}
	if err != nil {
		return err
	}
	h.Limiter.Reset(accKey)
	if err := request.Session(c).SignIn(c, p.AccountID); err != nil {
		return err
	}
	if after, err := h.Store.TwoFactorStatus(ctx, p.AccountID); err == nil && after.RecoveryLeft < before.RecoveryLeft {
		return Redirect(c, SafeNext(p.Next), "info", "You used a recovery code: "+strconv.Itoa(after.RecoveryLeft)+" left. Make new ones on your profile if you are running low.")
	}
	return c.Redirect(http.StatusSeeOther, SafeNext(p.Next))
}

// CancelSecondStep forgets the half-done sign-in.
func (h *TwoFactor) CancelSecondStep(c echo.Context) error {
	if v := request.Values(c); v != nil {
		if err := v.SetValue(c, pendingKey, ""); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// withSecurity adds the two-factor and sessions sections to the profile.
func (b *Base) withSecurity(c echo.Context, f views.ProfileForm) (views.ProfileForm, error) {
	acc, _ := request.Account(c)
	sec, err := b.Store.Security(c.Request().Context(), acc.ID, request.SessionID(c))
	if err != nil {
		return f, err
	}
	st, sessions := sec.Status, sec.Sessions
	now := b.Store.Now()
	v := views.SecurityView{TwoFactorOn: st.Enabled(), Enrolling: st.Enrolling, RecoveryLeft: st.RecoveryLeft, DisableErrors: f.Security.DisableErrors, PasskeysOn: true,
		Passkeys: b.passkeyViews(sec.Passkeys)}
	if st.TOTPSince != nil {
		v.Since = views.FormatTime(*st.TOTPSince)
	}
	for _, s := range sessions {
		v.Sessions = append(v.Sessions, views.SessionView{ID: s.ID, Device: model.DeviceLabel(s.UserAgent), IP: s.IP,
			LastSeen: views.Ago(s.LastSeenAt, now), Started: views.Ago(s.CreatedAt, now), Current: s.Current})
	}
	f.Security = v
	return f, nil
}

// profile re-renders the profile with status (for refused security forms).
func (h *TwoFactor) profile(c echo.Context, status int, f views.ProfileForm) error {
	acc, _ := request.Account(c)
	f.Name, f.Email, f.Verified = acc.Name, acc.Email, acc.Verified()
	f, err := h.withSecurity(c, f)
	if err != nil {
		return err
	}
	return Render(c, status, views.ProfilePage(h.Shell(c, "Profile", "profile"), f))
}

func noStore(c echo.Context) { c.Response().Header().Set("Cache-Control", "no-store") }

// Begin makes a new authenticator secret and shows the setup page.
func (h *TwoFactor) Begin(c echo.Context) error {
	_, err := h.Store.BeginTOTP(c.Request().Context(), request.Actor(c), h.Box)
	if model.CodeOf(err) == model.CodeConflict {
		return Redirect(c, "/profile", "info", err.(*model.Error).Message)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/profile/two-factor", "", "")
}

// groupKey prints a base32 key in groups of four for typing.
func groupKey(k string) string {
	var parts []string
	for len(k) > 4 {
		parts = append(parts, k[:4])
		k = k[4:]
	}
	return strings.Join(append(parts, k), " ")
}

// SetupPage shows the QR code of the enrolment in progress.
func (h *TwoFactor) SetupPage(c echo.Context) error {
	key, err := h.Store.PendingTOTP(c.Request().Context(), request.Actor(c), h.Box)
	if model.CodeOf(err) == model.CodeNotFound {
		return c.Redirect(http.StatusSeeOther, "/profile#two-factor")
	}
	if err != nil {
		return err
	}
	noStore(c)
	return Render(c, http.StatusOK, views.TwoFactorSetupPage(h.Shell(c, "Set up two-factor", "profile"), views.TwoFactorSetupView{Secret: groupKey(key.Secret())}))
}

// QR serves the enrolment's QR code as a PNG, never cached.
func (h *TwoFactor) QR(c echo.Context) error {
	key, err := h.Store.PendingTOTP(c.Request().Context(), request.Actor(c), h.Box)
	if err != nil {
		return err
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	noStore(c)
	return c.Blob(http.StatusOK, "image/png", buf.Bytes())
}

func (h *TwoFactor) limit(c echo.Context) error {
	acc, _ := request.Account(c)
	if ok, _ := h.Limiter.Allow("2fa-profile:" + strconv.FormatInt(acc.ID, 10)); !ok {
		return ErrRateLimited
	}
	return nil
}

// Confirm checks the first code and shows the recovery codes, once.
func (h *TwoFactor) Confirm(c echo.Context) error {
	if err := h.limit(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	codes, err := h.Store.ConfirmTOTP(ctx, request.Actor(c), h.Box, c.FormValue("code"))
	if fields, msg, ok := FieldErrors(err); ok {
		key, kerr := h.Store.PendingTOTP(ctx, request.Actor(c), h.Box)
		if kerr != nil {
			return kerr
		}
		noStore(c)
		return Render(c, http.StatusUnprocessableEntity, views.TwoFactorSetupPage(h.Shell(c, "Set up two-factor", "profile"),
			views.TwoFactorSetupView{Secret: groupKey(key.Secret()), Error: or(fields["code"], msg)}))
	}
	if model.CodeOf(err) == model.CodeConflict {
		return Redirect(c, "/profile", "info", err.(*model.Error).Message)
	}
	if err != nil {
		return err
	}
	noStore(c)
	return Render(c, http.StatusOK, views.RecoveryCodesPage(h.Shell(c, "Recovery codes", "profile"), codes))
}

// RecoveryCodes replaces the recovery codes after a current code.
func (h *TwoFactor) RecoveryCodes(c echo.Context) error {
	if err := h.limit(c); err != nil {
		return err
	}
	codes, err := h.Store.RegenerateRecoveryCodes(c.Request().Context(), request.Actor(c), h.Box, c.FormValue("code"))
	if fields, msg, ok := FieldErrors(err); ok {
		return Redirect(c, "/profile#two-factor", "error", or(fields["code"], msg))
	}
	if err != nil {
		return err
	}
	noStore(c)
	return Render(c, http.StatusOK, views.RecoveryCodesPage(h.Shell(c, "Recovery codes", "profile"), codes))
}

// Disable turns two-factor off after the password or a current code.
func (h *TwoFactor) Disable(c echo.Context) error {
	if err := h.limit(c); err != nil {
		return err
	}
	err := h.Store.DisableTwoFactor(c.Request().Context(), request.Actor(c), h.Box, c.FormValue("password"), c.FormValue("code"))
	if fields, _, ok := FieldErrors(err); ok {
		return h.profile(c, http.StatusUnprocessableEntity, views.ProfileForm{Security: views.SecurityView{DisableErrors: fields}})
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/profile", "success", "Two-factor authentication is off.")
}

// RevokeSession signs one of your other sessions out.
func (h *TwoFactor) RevokeSession(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return model.NotFound("session")
	}
	if err := h.Store.RevokeSession(c.Request().Context(), request.Actor(c), id); err != nil {
		return err
	}
	return Redirect(c, "/profile#sessions", "success", "That session is signed out.")
}

// RevokeOtherSessions signs out everywhere but here.
func (h *TwoFactor) RevokeOtherSessions(c echo.Context) error {
	n, err := h.Store.RevokeOtherSessions(c.Request().Context(), request.Actor(c), request.SessionID(c))
	if err != nil {
		return err
	}
	return Redirect(c, "/profile#sessions", "success", "Signed out of "+strconv.Itoa(n)+" other "+map[bool]string{true: "session", false: "sessions"}[n == 1]+".")
}

// orgTwoFactorView is the settings page's requirement form.
// unenrolled is the count of members without a second factor, read when
// orgTwoFactorCounts says the form shows it.
func orgTwoFactorView(c echo.Context, ws model.Workspace, unenrolled int) views.OrgTwoFactorView {
	acc, _ := request.Account(c)
	v := views.OrgTwoFactorView{Personal: ws.Personal(), CanEdit: model.Can(ws.Role, model.ActUpdateOrg), On: ws.RequireTwoFactor, ActorHas: acc.TwoFactor}
	if orgTwoFactorCounts(ws) {
		v.Unenrolled = unenrolled
	}
	return v
}

// orgTwoFactorCounts: the requirement form shows how many members have no
// second factor (to those who may change it, in a team org).
func orgTwoFactorCounts(ws model.Workspace) bool {
	return !ws.Personal() && model.Can(ws.Role, model.ActUpdateOrg)
}

// RequireSetting turns the org's requirement on or off.
func (h *TwoFactor) RequireSetting(c echo.Context) error {
	ws := request.Workspace(c)
	on := c.FormValue("require_two_factor") == "true"
	_, err := h.Store.UpdateOrg(c.Request().Context(), request.Actor(c), ws.ID, db.UpdateOrgInput{RequireTwoFactor: &on})
	if fields, msg, ok := FieldErrors(err); ok {
		return Redirect(c, "/settings#require-two-factor", "error", or(fields["require_two_factor"], msg))
	}
	if err != nil {
		return err
	}
	if on {
		return Redirect(c, "/settings", "success", "Two-factor authentication is now required for every member.")
	}
	return Redirect(c, "/settings", "success", "Two-factor authentication is no longer required.")
}

// gateOpen lists the member routes that stay open to someone an org locks
// out for lack of two-factor: their profile (to turn it on), switching or
// creating workspaces, leaving the org, and their own invitations.
func gateOpen(path string) bool {
	if strings.HasPrefix(path, "/profile") || strings.HasPrefix(path, "/me/") {
		return true
	}
	switch path {
	case "/workspace", "/orgs/new", "/orgs", "/members/leave", "/verify/resend", "/dev/outbox":
		return true
	}
	return false
}

// Gate is the member-page middleware of model.TwoFactorGate: in an org that
// requires two-factor, a member without it sees a page that leads to
// enrolment instead of the org's pages.
func (h *TwoFactor) Gate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		acc, _ := request.Account(c)
		ws := request.Workspace(c)
		if model.TwoFactorGate(ws.Org, acc) == nil || gateOpen(c.Path()) {
			return next(c)
		}
		return Render(c, http.StatusForbidden, views.TwoFactorRequiredPage(h.Shell(c, "Two-factor required", ""), ws.DisplayName))
	}
}
