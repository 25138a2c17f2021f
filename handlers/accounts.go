package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/ratelimit"
	"guildhall/web/request"
)

// Accounts handles sign-up, sign-in, sign-out, email verification and the profile.
type Accounts struct {
	*Base
	// Limiter slows password guessing: keys per IP and per account email.
	Limiter *ratelimit.Limiter
}

// ErrRateLimited is the answer past the sign-in / sign-up limit.
var ErrRateLimited = &model.Error{Code: model.CodeRateLimited, Message: "Too many attempts. Wait a few minutes and try again."}

// SignupPage shows the sign-up form.
func (h *Accounts) SignupPage(c echo.Context) error {
	if _, ok := request.Account(c); ok {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return Render(c, http.StatusOK, views.SignupPage(h.Shell(c, "Sign up", ""), views.AuthForm{Next: c.QueryParam("next")}))
}

// Signup creates the account, signs it in and sends the verification link.
func (h *Accounts) Signup(c echo.Context) error {
	f := views.AuthForm{Email: c.FormValue("email"), Name: c.FormValue("name"), Next: c.FormValue("next")}
	if ok, _ := h.Limiter.Allow("signup-ip:"+c.RealIP(), "signup-email:"+model.NormalizeEmail(f.Email)); !ok {
		f.Message = ErrRateLimited.Message
		return Render(c, http.StatusTooManyRequests, views.SignupPage(h.Shell(c, "Sign up", ""), f))
	}
	acc, err := h.Store.Signup(c.Request().Context(), request.Actor(c), signupInput(c))
	if fields, msg, ok := FieldErrors(err); ok {
		f.Errors, f.Message = fields, msg
		return Render(c, http.StatusUnprocessableEntity, views.SignupPage(h.Shell(c, "Sign up", ""), f))
	}
	if err != nil {
		return err
	}
	if err := request.Session(c).SignIn(c, acc.ID); err != nil {
		return err
	}
	if err := h.SendVerification(c, acc); err != nil {
		return err
	}
	return Redirect(c, SafeNext(f.Next), "success", "Welcome to Guildhall, "+acc.Name+".")
}

func signupInput(c echo.Context) db.SignupInput {
	return db.SignupInput{Email: c.FormValue("email"), Name: c.FormValue("name"), Password: c.FormValue("password")}
}

// SendVerification emails a fresh verification link to the account.
func (h *Accounts) SendVerification(c echo.Context, acc model.Account) error {
	return h.SendVerificationMail(c.Request().Context(), acc)
}

// SendVerificationMail emails a fresh verification link to the account: the
// one email both the sign-up page and POST /api/auth/signup send.
func (b *Base) SendVerificationMail(ctx context.Context, acc model.Account) error {
	token, err := b.Store.CreateEmailVerification(ctx, acc.ID)
	if err != nil {
		return err
	}
	link := b.Link("/verify/" + token)
	html, err := RenderEmail(ctx, "Verify your email", []string{
		"Hi " + acc.Name + ",",
		"Confirm that " + acc.Email + " is yours to finish setting up your Guildhall account. The link works for 48 hours.",
	}, "Verify email", link, "If you did not sign up, ignore this message.")
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Hi %s,\n\nConfirm that %s is yours to finish setting up your Guildhall account:\n\n%s\n\nThe link works for 48 hours. If you did not sign up, ignore this message.\n", acc.Name, acc.Email, link)
	return b.Mail.Send(ctx, model.Mail{To: acc.Email, Subject: "Verify your email for Guildhall", Text: text, HTML: html})
}

// LoginPage shows the first step of sign-in: the email alone.
// ?password=1 is the password path the "identity provider unavailable" page
// offers (owners' break-glass): its email step never routes to SSO.
func (h *Accounts) LoginPage(c echo.Context) error {
	if _, ok := request.Account(c); ok {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	f := views.AuthForm{Next: c.QueryParam("next"), PasswordOnly: c.QueryParam("password") == "1"}
	return Render(c, http.StatusOK, views.LoginPage(h.Shell(c, "Sign in", ""), f))
}

// Login is POST /login, email first. With no password (the first step) an
// email at a verified SSO domain continues to that org's identity provider
// and any other email gets the password step: the same answer whether an
// account exists or not. With a password (the second step, or one post from
// a script or password manager) it checks the password, rate-limited per IP
// and per account, and starts a new session (a new session id, so a planted
// cookie is useless).
func (h *Accounts) Login(c echo.Context) error {
	f := views.AuthForm{Email: strings.TrimSpace(c.FormValue("email")), Next: c.FormValue("next"), PasswordOnly: c.FormValue("password_only") != ""}
	email := model.NormalizeEmail(f.Email)
	password := c.FormValue("password")
	if password == "" && c.FormValue("step") != "password" {
		return h.loginEmailStep(c, f, email)
	}
	f.PasswordStep = true
	if ok, _ := h.Limiter.Allow("login-ip:"+c.RealIP(), "login-email:"+email); !ok {
		f.Message = ErrRateLimited.Message
		_ = h.Store.RecordDenied(c.Request().Context(), model.Actor{Email: email, IP: c.RealIP()}, 0, "account.sign_in", model.Target{Kind: "account", Label: email})
		return Render(c, http.StatusTooManyRequests, views.LoginPage(h.Shell(c, "Sign in", ""), f))
	}
	if email == "" {
		return h.loginEmailStep(c, f, email)
	}
	if password == "" {
		f.Errors = map[string]string{"password": "Enter your password."}
		return Render(c, http.StatusUnprocessableEntity, views.LoginPage(h.Shell(c, "Sign in", ""), f))
	}
	acc, err := h.Store.Authenticate(c.Request().Context(), email, password)
	if errors.Is(err, model.ErrUnauthorized) {
		f.Message = err.(*model.Error).Message
		return Render(c, http.StatusUnauthorized, views.LoginPage(h.Shell(c, "Sign in", ""), f))
	}
	if err != nil {
		return err
	}
	if refused, err := h.Store.PasswordGate(c.Request().Context(), model.Actor{AccountID: acc.ID, Email: acc.Email, IP: c.RealIP()}, acc); err != nil {
		return err
	} else if refused != nil {
		f.Message = refused.DisplayName + " requires single sign-on for " + acc.Email + ": sign in with SSO through its identity provider."
		f.SSOLink = "/sso/start?email=" + url.QueryEscape(acc.Email) + LoginNext(f.Next)
		return Render(c, http.StatusForbidden, views.LoginPage(h.Shell(c, "Sign in", ""), f))
	}
	h.Limiter.Reset("login-email:" + email)
	if acc.TwoFactor {
		return h.startSecondFactor(c, acc, f.Next) // handlers/twofactor.go
	}
	if err := request.Session(c).SignIn(c, acc.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, SafeNext(f.Next))
}

// loginEmailStep answers the email step: on to the IdP of a verified SSO
// domain (unless PasswordOnly), else the password step. It looks up no
// account, so it tells nothing about which emails have one.
func (h *Accounts) loginEmailStep(c echo.Context, f views.AuthForm, email string) error {
	if err := model.ValidateEmail(email); err != nil {
		f.PasswordStep = false
		f.Errors = map[string]string{"email": err.(*model.Error).Fields["email"]}
		return Render(c, http.StatusUnprocessableEntity, views.LoginPage(h.Shell(c, "Sign in", ""), f))
	}
	if !f.PasswordOnly {
		_, err := h.Store.SSOOrgForEmail(c.Request().Context(), email)
		if err == nil {
			return h.ContinueTo(c, "/sso/start?email="+url.QueryEscape(email)+LoginNext(f.Next))
		}
		if !errors.Is(err, model.ErrNotFound) {
			return err
		}
	}
	f.Email, f.PasswordStep = email, true
	return Render(c, http.StatusOK, views.LoginPage(h.Shell(c, "Sign in", ""), f))
}

// LogoutPage confirms before signing out.
func (h *Accounts) LogoutPage(c echo.Context) error {
	if _, ok := request.Account(c); !ok {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return Render(c, http.StatusOK, views.LogoutPage(h.Shell(c, "Sign out", "")))
}

// Logout ends the session.
func (h *Accounts) Logout(c echo.Context) error {
	if err := request.Session(c).SignOut(c); err != nil {
		return err
	}
	return Redirect(c, "/login", "info", "You are signed out.")
}

// Verify consumes an email verification link.
func (h *Accounts) Verify(c echo.Context) error {
	acc, err := h.Store.VerifyEmail(c.Request().Context(), request.Actor(c), c.Param("token"))
	if e, ok := model.AsError(err); ok && (e.Code == model.CodeNotFound || e.Code == model.CodeConflict) {
		msg := e.Message
		if e.Code == model.CodeNotFound {
			msg = "This verification link is not valid. Sign in and ask for a new one from your profile."
		}
		return Render(c, http.StatusNotFound, views.Notice(h.Shell(c, "Link not valid", ""), "This link does not work", msg, "/", "Go to Guildhall"))
	}
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.Notice(h.Shell(c, "Email verified", ""), "Email verified", acc.Email+" is confirmed. Invitations sent to it now show up in your workspace.", "/", "Continue"))
}

// ResendVerification sends a new verification link.
func (h *Accounts) ResendVerification(c echo.Context) error {
	acc, _ := request.Account(c)
	back := "/profile"
	if next := c.FormValue("next"); next != "" {
		back = SafeNext(next)
	}
	if acc.Verified() {
		return Redirect(c, back, "info", "Your email is already verified.")
	}
	if ok, _ := h.Limiter.Allow("verify:" + acc.Email); !ok {
		return ErrRateLimited
	}
	if err := h.SendVerification(c, acc); err != nil {
		return err
	}
	return Redirect(c, back, "success", "We sent a new verification link to "+acc.Email+".")
}

// ProfilePage shows name, email and the password form.
func (h *Accounts) ProfilePage(c echo.Context) error {
	acc, _ := request.Account(c)
	f, err := h.withSecurity(c, views.ProfileForm{Name: acc.Name, Email: acc.Email, Verified: acc.Verified()})
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.ProfilePage(h.Shell(c, "Profile", "profile"), f))
}

// UpdateProfile renames the account (and so its personal workspace).
func (h *Accounts) UpdateProfile(c echo.Context) error {
	acc, _ := request.Account(c)
	_, err := h.Store.UpdateProfile(c.Request().Context(), request.Actor(c), c.FormValue("name"))
	if fields, msg, ok := FieldErrors(err); ok {
		if msg != "" {
			fields["name"] = msg
		}
		f, err := h.withSecurity(c, views.ProfileForm{Name: c.FormValue("name"), Email: acc.Email, Verified: acc.Verified(), Errors: fields})
		if err != nil {
			return err
		}
		return Render(c, http.StatusUnprocessableEntity, views.ProfilePage(h.Shell(c, "Profile", "profile"), f))
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/profile", "success", "Profile saved.")
}

// ChangePassword sets a new password and signs out every other session.
func (h *Accounts) ChangePassword(c echo.Context) error {
	acc, _ := request.Account(c)
	if ok, _ := h.Limiter.Allow("password:" + acc.Email); !ok {
		return ErrRateLimited
	}
	revoke := c.FormValue("revoke_tokens") == "true"
	err := h.Store.ChangePasswordWith(c.Request().Context(), request.Actor(c), db.PasswordChange{
		Current: c.FormValue("current_password"), Next: c.FormValue("new_password"), KeepSession: request.SessionID(c), RevokeTokens: revoke})
	if fields, _, ok := FieldErrors(err); ok {
		f, err := h.withSecurity(c, views.ProfileForm{Name: acc.Name, Email: acc.Email, Verified: acc.Verified(), PasswordErrors: fields})
		if err != nil {
			return err
		}
		return Render(c, http.StatusUnprocessableEntity, views.ProfilePage(h.Shell(c, "Profile", "profile"), f))
	}
	if err != nil {
		return err
	}
	if revoke {
		return Redirect(c, "/profile", "success", "Password changed. Other sessions were signed out and every API token was revoked.")
	}
	return Redirect(c, "/profile", "success", "Password changed. Other sessions were signed out.")
}

// ChangeEmail is POST /profile/email: it mails a confirmation link to the new
// address and tells the current one, so a hijacked session cannot quietly
// move the account. The address changes only when the link is opened.
func (h *Accounts) ChangeEmail(c echo.Context) error {
	ctx := c.Request().Context()
	acc, _ := request.Account(c)
	if ok, _ := h.Limiter.Allow("email-change:" + acc.Email); !ok {
		return ErrRateLimited
	}
	newEmail := model.NormalizeEmail(c.FormValue("new_email"))
	token, err := h.Store.RequestEmailChange(ctx, request.Actor(c), newEmail, c.FormValue("password"))
	if fields, msg, ok := FieldErrors(err); ok {
		if msg != "" {
			fields["new_email"] = msg
		}
		return Render(c, http.StatusUnprocessableEntity, views.ProfilePage(h.Shell(c, "Profile", "profile"),
			views.ProfileForm{Name: acc.Name, Email: acc.Email, Verified: acc.Verified(), NewEmail: c.FormValue("new_email"), EmailErrors: fields}))
	}
	if err != nil {
		return err
	}
	link := h.Link("/verify/" + token)
	html, err := RenderEmail(ctx, "Confirm your new email", []string{
		"Hi " + acc.Name + ",",
		"Open this link to make " + newEmail + " the email of your Guildhall account (now " + acc.Email + "). It works for 48 hours.",
	}, "Confirm new email", link, "If you did not ask for this, ignore this message: nothing changes.")
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Hi %s,\n\nOpen this link to make %s the email of your Guildhall account (now %s):\n\n%s\n\nIt works for 48 hours. If you did not ask for this, ignore this message: nothing changes.\n", acc.Name, newEmail, acc.Email, link)
	if err := h.Mail.Send(ctx, model.Mail{To: newEmail, Subject: "Confirm your new email for Guildhall", Text: text, HTML: html}); err != nil {
		return err
	}
	notice := fmt.Sprintf("Hi %s,\n\nSomeone signed in to your Guildhall account asked to change its email from %s to %s. It changes only if the link sent to the new address is opened.\n\nIf this was not you, change your password now: %s\n", acc.Name, acc.Email, newEmail, h.Link("/profile"))
	noticeHTML, err := RenderEmail(ctx, "Your email is about to change", []string{
		"Hi " + acc.Name + ",",
		"Someone signed in to your Guildhall account asked to change its email from " + acc.Email + " to " + newEmail + ". It changes only if the link sent to the new address is opened.",
		"If this was not you, change your password now.",
	}, "Open your profile", h.Link("/profile"), "")
	if err != nil {
		return err
	}
	if err := h.Mail.Send(ctx, model.Mail{To: acc.Email, Subject: "Your Guildhall email is about to change", Text: notice, HTML: noticeHTML}); err != nil {
		return err
	}
	return Redirect(c, "/profile", "success", "We sent a link to "+newEmail+". Your email changes when you open it.")
}
