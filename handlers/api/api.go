// Package api holds the JSON handlers under /api: bearer tokens only, the
// envelope of SPEC 11, and the same store calls as the pages.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/request"
)

// Base is what every JSON handler needs.
type Base struct {
	Store   *db.Store
	BaseURL string
}

// Envelope is the success answer.
type Envelope struct {
	Success    bool `json:"success"`
	Data       any  `json:"data"`
	Pagination any  `json:"pagination,omitempty"`
}

// PagePagination is numbered pagination.
type PagePagination struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Total      int `json:"total"`
	TotalPages int `json:"total_pages"`
}

// NewPagePagination computes total_pages.
func NewPagePagination(page, perPage, total int) PagePagination {
	tp := 0
	if perPage > 0 {
		tp = (total + perPage - 1) / perPage
	}
	return PagePagination{Page: page, PerPage: perPage, Total: total, TotalPages: tp}
}

// CursorPagination is keyset pagination; NextCursor is null at the end.
type CursorPagination struct {
	NextCursor *string `json:"next_cursor"`
}

// NewCursor makes cursor pagination from the next id (0 = end).
func NewCursor(next int64) CursorPagination {
	if next == 0 {
		return CursorPagination{}
	}
	s := strconv.FormatInt(next, 10)
	return CursorPagination{NextCursor: &s}
}

// OK answers data in the envelope.
func OK(c echo.Context, status int, data any) error {
	return c.JSON(status, Envelope{Success: true, Data: data})
}

// List answers a list with its pagination.
func List(c echo.Context, data any, pagination any) error {
	return c.JSON(http.StatusOK, Envelope{Success: true, Data: data, Pagination: pagination})
}

// Bind decodes a JSON body strictly: unknown fields and bad JSON are a
// validation error naming the problem, never a 500. An empty body is {}.
func Bind(c echo.Context, dst any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
	if err != nil {
		return model.InvalidField("body", "Could not read the request body.")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return model.InvalidField(typeErr.Field, typeErr.Field+" must be a "+typeErr.Type.String()+".")
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "json: unknown field ") {
			f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
			return model.InvalidField(f, "Unknown field "+f+".")
		}
		return model.InvalidField("body", "The body must be a JSON object: "+msg+".")
	}
	return nil
}

// Account is the caller's account (the bearer middleware guarantees one).
func Account(c echo.Context) model.Account {
	a, _ := request.Account(c)
	return a
}

// Org resolves {org} (id or slug) to a workspace of the caller. An org the
// caller does not belong to, or outside the token's org binding, is 404.
func (b *Base) Org(c echo.Context) (model.Workspace, error) {
	return b.OrgRef(c, c.Param("org"))
}

// OrgAndID resolves {org} as Org does, then the numeric path parameter
// param naming a what in it (not found when it is not a number). The org
// comes first, so another org's reference is 404 before any id is read.
func (b *Base) OrgAndID(c echo.Context, param, what string) (model.Workspace, int64, error) {
	ws, err := b.Org(c)
	if err != nil {
		return ws, 0, err
	}
	id, err := ParseID(c, param, what)
	return ws, id, err
}

// OrgRef resolves an org reference as Org does.
func (b *Base) OrgRef(c echo.Context, ref string) (model.Workspace, error) {
	ws, found, read := request.TokenOrg(c, ref)
	if read && !found {
		return model.Workspace{}, model.NotFound("organization")
	}
	if !read {
		var err error
		if ws, err = b.Store.Workspace(c.Request().Context(), Account(c).ID, ref); err != nil {
			return ws, err
		}
	}
	if t, ok := request.Token(c); ok && t.OrgID != nil && *t.OrgID != ws.ID {
		return model.Workspace{}, model.NotFound("organization")
	}
	if err := model.TwoFactorGate(ws.Org, Account(c)); err != nil {
		return model.Workspace{}, err
	}
	if err := b.SSOGate(c, ws.ID, ws.DisplayName); err != nil {
		return model.Workspace{}, err
	}
	if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
		// The store's role checks in this read may use the role just read.
		c.SetRequest(c.Request().WithContext(db.WithKnownRoles(c.Request().Context(), Account(c).ID, []model.Workspace{ws})))
	}
	return ws, nil
}

const ssoBlockedKey = "api.sso_blocked"

// SSOBlocked is the set of orgs SSO enforcement shuts the caller out of: a
// token is a password-grade credential, so an enforcing org that binds the
// account (a non-owner at its verified domain) refuses it. Every org a route
// reaches (OrgRef, an agent's org, a list of orgs or agents) goes through
// it; it is computed once per request.
func (b *Base) SSOBlocked(c echo.Context) (map[int64]bool, error) {
	if m, ok := c.Get(ssoBlockedKey).(map[int64]bool); ok {
		return m, nil
	}
	if m, ok := request.SSOBlocked(c); ok {
		return m, nil // decided with the token: no org of the account enforces SSO
	}
	m, err := b.Store.SSOBlockedOrgs(c.Request().Context(), Account(c), "")
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = map[int64]bool{}
	}
	c.Set(ssoBlockedKey, m)
	return m, nil
}

// SSOGate refuses org orgID (named name) when SSOBlocked holds it.
func (b *Base) SSOGate(c echo.Context, orgID int64, name string) error {
	blocked, err := b.SSOBlocked(c)
	if err != nil {
		return err
	}
	if blocked[orgID] {
		return model.Forbidden("%s requires single sign-on: sign in through its identity provider in the browser.", name)
	}
	return nil
}

// SSOExcluded lists SSOBlocked's orgs, for queries that leave them out.
func (b *Base) SSOExcluded(c echo.Context) ([]int64, error) {
	blocked, err := b.SSOBlocked(c)
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(blocked))
	for id := range blocked {
		out = append(out, id)
	}
	return out, nil
}

// WithoutSSOBlocked drops from ws the orgs SSOBlocked holds.
func (b *Base) WithoutSSOBlocked(c echo.Context, ws []model.Workspace) ([]model.Workspace, error) {
	blocked, err := b.SSOBlocked(c)
	if err != nil {
		return ws, err
	}
	return db.WithoutOrgs(ws, blocked), nil
}

// ParseID reads a numeric path parameter; anything else is not found.
func ParseID(c echo.Context, name, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound(what)
	}
	return id, nil
}

// OutsideBinding reports whether orgID lies outside the token's org binding:
// the listings of the caller's invitations and transfers leave those out.
func OutsideBinding(c echo.Context, orgID int64) bool {
	b := boundOrg(c)
	return b != 0 && b != orgID
}

// RequireUnbound refuses calls that would reach beyond a token's org binding
// (joining another org, accepting or declining an invitation or an agent
// transfer, even with a token bound to the personal workspace): an org-bound
// token acts only inside its org (issue 7 item 4).
func RequireUnbound(c echo.Context) error {
	if t, ok := request.Token(c); ok && t.OrgID != nil {
		return model.Forbidden("This token is bound to one organization and cannot act outside it: use a token without an org binding.")
	}
	return nil
}
