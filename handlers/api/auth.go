package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/ratelimit"
	"guildhall/web/request"
)

// Auth handles sign-up, token issue and /api/me.
type Auth struct {
	*Base
	Limiter *ratelimit.Limiter
	// Box opens two-factor secrets (set with the server secret).
	Box *db.SecretBox
	// Verify sends the verification email (the same as the sign-up page's).
	Verify VerificationSender
}

// VerificationSender emails an account its verification link.
type VerificationSender interface {
	SendVerificationMail(ctx context.Context, acc model.Account) error
}

var errRateLimited = &model.Error{Code: model.CodeRateLimited, Message: "Too many attempts. Wait a few minutes and try again."}

type signupBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Signup creates an account with its personal org and returns a token.
func (h *Auth) Signup(c echo.Context) error {
	var in signupBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	if ok, _ := h.Limiter.Allow("signup-ip:"+c.RealIP(), "signup-email:"+model.NormalizeEmail(in.Email)); !ok {
		return errRateLimited
	}
	ctx := c.Request().Context()
	acc, err := h.Store.Signup(ctx, request.Actor(c), db.SignupInput{Email: in.Email, Name: in.Name, Password: in.Password})
	if err != nil {
		return err
	}
	actor := model.Actor{AccountID: acc.ID, Email: acc.Email, IP: c.RealIP()}
	secret, _, err := h.Store.CreateToken(ctx, actor, db.CreateTokenInput{Name: "signup", Scopes: model.AllScopes})
	if err != nil {
		return err
	}
	if h.Verify != nil {
		// Queued (never waits on SMTP); without it the account could never
		// verify, and so never join an org.
		if err := h.Verify.SendVerificationMail(ctx, acc); err != nil {
			return err
		}
	}
	return OK(c, http.StatusCreated, map[string]any{"token": secret, "user": acc})
}

type tokenBody struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"`
	Org      string   `json:"org"`
	OTP      string   `json:"otp"` // a current code or a recovery code, for accounts with two-factor
}

// Token exchanges an email and password for a bearer token.
func (h *Auth) Token(c echo.Context) error {
	var in tokenBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	email := model.NormalizeEmail(in.Email)
	if ok, _ := h.Limiter.Allow("login-ip:"+c.RealIP(), "login-email:"+email); !ok {
		return errRateLimited
	}
	ctx := c.Request().Context()
	acc, err := h.Store.Authenticate(ctx, email, in.Password)
	if err != nil {
		return err
	}
	if err := h.checkSecondFactor(c, acc, in.OTP); err != nil {
		return err
	}
	h.Limiter.Reset("login-email:" + email)
	request.SetAccount(c, acc, "")
	actor := model.Actor{AccountID: acc.ID, Email: acc.Email, IP: c.RealIP()}
	tin := db.CreateTokenInput{Name: in.Name, Scopes: in.Scopes}
	if tin.Name == "" {
		tin.Name = "API token"
	}
	if len(tin.Scopes) == 0 {
		tin.Scopes = model.AllScopes
	}
	if ref := strings.TrimSpace(in.Org); ref != "" {
		ws, err := h.OrgRef(c, ref)
		if err != nil {
			return err
		}
		tin.OrgID = &ws.ID
	}
	secret, tok, err := h.Store.CreateToken(ctx, actor, tin)
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, map[string]any{"token": secret, "id": tok.ID, "scopes": tok.Scopes, "org_id": tok.OrgID})
}

type membershipView struct {
	OrgID       int64      `json:"org_id"`
	Slug        string     `json:"slug"`
	DisplayName string     `json:"display_name"`
	Kind        string     `json:"kind"`
	Role        model.Role `json:"role"`
}

// Me answers the account, its personal org and its memberships. An
// org-bound token sees only its org (and the personal org only when bound to it).
func (h *Auth) Me(c echo.Context) error {
	acc := Account(c)
	ws, err := h.Store.Workspaces(c.Request().Context(), acc.ID)
	if err != nil {
		return err
	}
	if ws, err = h.WithoutSSOBlocked(c, ws); err != nil {
		return err
	}
	out := map[string]any{"user": acc, "personal_org": nil}
	ms := make([]membershipView, 0, len(ws))
	for _, w := range ws {
		if b := boundOrg(c); b != 0 && w.ID != b {
			continue
		}
		if w.ID == acc.PersonalOrgID {
			out["personal_org"] = orgView(w.Org, w.Role)
		}
		ms = append(ms, membershipView{OrgID: w.ID, Slug: w.Slug, DisplayName: w.DisplayName, Kind: string(w.Kind), Role: w.Role})
	}
	out["memberships"] = ms
	if t, ok := request.Token(c); ok {
		out["token"] = t
	}
	return OK(c, http.StatusOK, out)
}
