package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/handlers"
	"guildhall/web/request"
)

// Tokens is /api/me/tokens: the caller's API tokens.
type Tokens struct {
	*Base
}

// tokenView is a token as the API shows it: never the secret or its hash.
type tokenView struct {
	model.APIToken
	Status string `json:"status"`
}

func (h *Tokens) view(t model.APIToken) tokenView {
	if t.Scopes == nil {
		t.Scopes = []string{}
	}
	return tokenView{APIToken: t, Status: handlers.TokenStatus(t, h.Store.Now())}
}

// visible reports whether the calling token may see t: a token bound to an
// org sees only the tokens bound to the same org.
func visible(c echo.Context, t model.APIToken) bool {
	caller, ok := request.Token(c)
	if !ok || caller.OrgID == nil {
		return true
	}
	return t.OrgID != nil && *t.OrgID == *caller.OrgID
}

// List is GET /api/me/tokens.
func (h *Tokens) List(c echo.Context) error {
	ts, err := h.Store.Tokens(c.Request().Context(), Account(c).ID)
	if err != nil {
		return err
	}
	out := make([]tokenView, 0, len(ts))
	for _, t := range ts {
		if visible(c, t) {
			out = append(out, h.view(t))
		}
	}
	return List(c, out, NewPagePagination(1, len(out), len(out)))
}

type createTokenBody struct {
	Name      string          `json:"name"`
	Scopes    []string        `json:"scopes"`
	Org       json.RawMessage `json:"org"`
	PolicyID  *int64          `json:"policy_id"`
	ExpiresAt *string         `json:"expires_at"`
}

// orgRef reads "org": an id (number or string), a slug, or null for none.
func orgRef(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.TrimSpace(s), nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil && n > 0 {
		return strconv.FormatInt(n, 10), nil
	}
	return "", model.InvalidField("org", "org must be an organization id or slug.")
}

// Create is POST /api/me/tokens: 201 with the secret, shown this once. The
// new token never exceeds the calling token (model.WithinCreator): a subset
// of its scopes, its org binding, its spend policy, no later expiry.
func (h *Tokens) Create(c echo.Context) error {
	var in createTokenBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	tin := db.CreateTokenInput{Name: in.Name, Scopes: in.Scopes, PolicyID: in.PolicyID}
	ref, err := orgRef(in.Org)
	if err != nil {
		return err
	}
	if in.ExpiresAt != nil && strings.TrimSpace(*in.ExpiresAt) != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*in.ExpiresAt))
		if err != nil {
			return model.InvalidField("expires_at", "expires_at must be an RFC 3339 time, e.g. 2030-01-02T15:04:05Z.")
		}
		tin.ExpiresAt = &t
	}
	if ref != "" {
		// Another org than a bound token's is not found, as everywhere.
		ws, err := h.OrgRef(c, ref)
		if err != nil {
			return err
		}
		tin.OrgID = &ws.ID
	}
	if caller, ok := request.Token(c); ok {
		// A token never creates a token that reaches further than itself.
		req, err := model.WithinCreator(caller, model.TokenRequest{Scopes: tin.Scopes, OrgID: tin.OrgID, PolicyID: tin.PolicyID, ExpiresAt: tin.ExpiresAt})
		if err != nil {
			return err
		}
		tin.Scopes, tin.OrgID, tin.PolicyID, tin.ExpiresAt = req.Scopes, req.OrgID, req.PolicyID, req.ExpiresAt
	}
	secret, tok, err := h.Store.CreateToken(c.Request().Context(), request.Actor(c), tin)
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, struct {
		Token string `json:"token"`
		tokenView
	}{secret, h.view(tok)})
}

// Revoke is DELETE /api/me/tokens/{id}; revoking twice is fine, another
// account's token is not found.
func (h *Tokens) Revoke(c echo.Context) error {
	id, err := ParseID(c, "id", "token")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := Account(c)
	t, err := h.Store.Token(ctx, acc.ID, id)
	if err != nil {
		return err
	}
	if !visible(c, t) {
		return model.NotFound("token")
	}
	if err := h.Store.RevokeToken(ctx, request.Actor(c), id); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"revoked": true, "id": id})
}
