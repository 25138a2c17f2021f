package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// Tokens is /tokens: the account's API tokens, the create form and revoke.
type Tokens struct {
	*Base
}

var scopeHints = map[string]string{
	model.ScopeRead:     "Read workspaces, members, teams and agents.",
	model.ScopeWrite:    "Create, change and delete them.",
	model.ScopePurchase: "Spend from a wallet to buy packages.",
	model.ScopeDownload: "Download the packages you bought.",
	model.ScopeAdmin:    "Everything your role allows.",
}

func (h *Tokens) tokenRow(t model.APIToken, orgNames map[int64]string) views.TokenRowView {
	now := h.Store.Now()
	r := views.TokenRowView{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes,
		Created: t.CreatedAt.UTC().Format("Jan 2, 2006"), LastUsed: "Never", Expires: "Never",
		Full: [3]string{views.FormatTime(t.CreatedAt) + " UTC", "", ""}, Status: TokenStatus(t, now)}
	if t.LastUsedAt != nil {
		r.LastUsed = views.Ago(*t.LastUsedAt, now)
		r.Full[1] = views.FormatTime(*t.LastUsedAt) + " UTC"
	}
	if t.ExpiresAt != nil {
		r.Expires = t.ExpiresAt.UTC().Format("Jan 2, 2006")
		r.Full[2] = views.FormatTime(*t.ExpiresAt) + " UTC"
	}
	if t.OrgID != nil {
		r.Org = orgNames[*t.OrgID]
		if r.Org == "" {
			r.Org = "A workspace you left"
		}
	}
	return r
}

// TokenStatus is active, revoked or expired at now.
func TokenStatus(t model.APIToken, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !t.ExpiresAt.After(now):
		return "expired"
	}
	return "active"
}

// orgNames names the account's workspaces for the list and the select.
func orgNames(c echo.Context) (map[int64]string, []components.Option) {
	names := map[int64]string{}
	opts := []components.Option{{Value: "", Label: "All workspaces"}}
	for _, w := range request.Workspaces(c) {
		name := w.DisplayName
		if w.Personal() {
			name = "Personal"
		}
		names[w.ID] = name
		opts = append(opts, components.Option{Value: strconv.FormatInt(w.ID, 10), Label: name})
	}
	return names, opts
}

func (h *Tokens) pageView(c echo.Context, f views.TokenForm) (views.TokensView, error) {
	ws := request.Workspace(c)
	ts, ps, err := h.Store.TokensPage(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return views.TokensView{}, err
	}
	names, opts := orgNames(c)
	v := views.TokensView{}
	for _, t := range ts {
		v.Rows = append(v.Rows, h.tokenRow(t, names))
	}
	f.Orgs = opts
	f.Policies = []components.Option{{Value: "", Label: "The workspace's default policy"}}
	for _, p := range ps {
		f.Policies = append(f.Policies, components.Option{Value: strconv.FormatInt(p.ID, 10), Label: p.Name})
	}
	f.MinDate = h.Store.Now().Format("2006-01-02")
	v.Form = f
	return v, nil
}

// newTokenForm is the create form's starting point: bound to the active
// workspace, expiring in 90 days, read and write, and for a billing member
// (who cannot change anything) read only, with no write scope offered.
func (h *Tokens) newTokenForm(c echo.Context) views.TokenForm {
	ws := request.Workspace(c)
	f := views.TokenForm{Org: strconv.FormatInt(ws.ID, 10), Expires: h.Store.Now().AddDate(0, 0, 90).Format("2006-01-02")}
	if ws.Role == model.RoleBilling {
		f.Scopes = scopeChoicesFor(ws.Role, []string{model.ScopeRead})
	} else {
		f.Scopes = scopeChoicesFor(ws.Role, []string{model.ScopeRead, model.ScopeWrite})
	}
	return f
}

// scopeChoicesFor leaves out write for billing members.
func scopeChoicesFor(role model.Role, checked []string) []views.ScopeChoice {
	var out []views.ScopeChoice
	for _, sc := range scopeChoices(checked) {
		if role == model.RoleBilling && sc.Value == model.ScopeWrite {
			continue
		}
		out = append(out, sc)
	}
	return out
}

// scopeChoices are the checkboxes with checked ones marked.
func scopeChoices(checked []string) []views.ScopeChoice {
	out := make([]views.ScopeChoice, 0, len(model.AllScopes))
	for _, s := range model.AllScopes {
		on := false
		for _, c := range checked {
			on = on || c == s
		}
		out = append(out, views.ScopeChoice{Value: s, Label: s, Hint: scopeHints[s], Checked: on})
	}
	return out
}

// Page is GET /tokens.
func (h *Tokens) Page(c echo.Context) error {
	v, err := h.pageView(c, h.newTokenForm(c))
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.TokensPage(h.Shell(c, "API tokens", "tokens"), v))
}

// Create is POST /tokens. The page answers directly (no redirect) so the
// secret is shown once and never kept in a session or a flash.
func (h *Tokens) Create(c echo.Context) error {
	form, _ := c.FormParams()
	f := views.TokenForm{Name: c.FormValue("name"), Org: strings.TrimSpace(c.FormValue("org")), Expires: strings.TrimSpace(c.FormValue("expires_at"))}
	scopes := form["scopes"]
	f.Scopes = scopeChoicesFor(request.Workspace(c).Role, scopes)
	in := db.CreateTokenInput{Name: f.Name, Scopes: scopes}
	fields := model.Fields{}
	if len(scopes) == 0 {
		fields.Add("scopes", "Choose at least one scope.")
	}
	if f.Org != "" {
		id, err := strconv.ParseInt(f.Org, 10, 64)
		found := false
		for _, w := range request.Workspaces(c) {
			found = found || (err == nil && w.ID == id)
		}
		if !found {
			fields.Add("org", "Choose one of your workspaces.")
		} else {
			in.OrgID = &id
		}
	}
	if f.Policy = strings.TrimSpace(c.FormValue("policy_id")); f.Policy != "" {
		// The store checks the policy belongs to the token's workspace.
		if id, err := strconv.ParseInt(f.Policy, 10, 64); err != nil || id <= 0 {
			fields.Add("policy_id", "Choose one of the workspace's spend policies.")
		} else {
			in.PolicyID = &id
		}
	}
	if f.Expires != "" {
		day, err := time.Parse("2006-01-02", f.Expires)
		if err != nil {
			fields.Add("expires_at", "Enter a date like 2030-12-31.")
		} else {
			end := day.Add(24*time.Hour - time.Second) // valid through the whole day, UTC
			in.ExpiresAt = &end
			if !end.After(h.Store.Now()) {
				fields.Add("expires_at", "The expiry must be today or later.")
			}
		}
	}
	var err error
	var secret string
	var tok model.APIToken
	if err = fields.Err(); err == nil {
		secret, tok, err = h.Store.CreateToken(c.Request().Context(), request.Actor(c), in)
	}
	if err != nil {
		e, isModel := model.AsError(err)
		if !isModel || (e.Code != model.CodeValidation && e.Code != model.CodePlanLimit) {
			return err
		}
		// The form's own checks failed before the store's: add the name's
		// problem too, so every problem shows at once.
		if e.Code == model.CodeValidation && len(fields) > 0 {
			if !model.ValidText(in.Name) {
				fields.Add("name", "Name is not valid text.")
			} else if ne, ok := model.AsError(model.ValidateName(in.Name, "name")); ok {
				fields.Add("name", ne.Fields["name"])
			}
			e = model.Invalid(fields)
		}
		f.Errors = e.Fields
		if len(e.Fields) == 0 {
			f.Message = e.Message
		}
		v, verr := h.pageView(c, f)
		if verr != nil {
			return verr
		}
		return Render(c, StatusOf(e.Code), views.TokensPage(h.Shell(c, "API tokens", "tokens"), v))
	}
	v, err := h.pageView(c, h.newTokenForm(c))
	if err != nil {
		return err
	}
	v.Secret, v.SecretName, v.SecretID = secret, tok.Name, tok.ID
	return Render(c, http.StatusOK, views.TokensPage(h.Shell(c, "API tokens", "tokens"), v))
}

// Revoke is POST /tokens/{id}/revoke: htmx gets the row back, a plain form
// a redirect with a flash.
func (h *Tokens) Revoke(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return model.NotFound("token")
	}
	ctx := c.Request().Context()
	acc, _ := request.Account(c)
	if err := h.Store.RevokeToken(ctx, request.Actor(c), id); err != nil {
		return err
	}
	t, err := h.Store.Token(ctx, acc.ID, id)
	if err != nil {
		return err
	}
	text := "Token " + t.Name + " revoked. Anything using it can no longer call the API."
	if IsHTMX(c) {
		names, _ := orgNames(c)
		return Render(c, http.StatusOK, views.TokenRevoked(request.CSRF(c), h.tokenRow(t, names), text))
	}
	return Redirect(c, "/tokens", "success", text)
}
