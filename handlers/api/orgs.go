package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/handlers"
	"guildhall/web/request"
)

// Orgs handles /api/orgs and the org's audit log.
type Orgs struct {
	*Base
}

// OrgView is an org in API answers.
type OrgView struct {
	ID          int64            `json:"id"`
	Kind        model.OrgKind    `json:"kind"`
	Slug        string           `json:"slug"`
	DisplayName string           `json:"display_name"`
	Description string           `json:"description"`
	Role        model.Role       `json:"role,omitempty"`
	Plan        model.Plan       `json:"plan"`
	CreatedAt   string           `json:"created_at"`
	Limits      *model.Limits    `json:"limits,omitempty"`
	Usage       map[string]int64 `json:"usage,omitempty"`
	Settings    map[string]any   `json:"settings,omitempty"`
}

func orgView(o model.Org, role model.Role) OrgView {
	return OrgView{ID: o.ID, Kind: o.Kind, Slug: o.Slug, DisplayName: o.DisplayName, Description: o.Description,
		Role: role, Plan: o.Plan, CreatedAt: o.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")}
}

// List answers the orgs the caller belongs to.
func (h *Orgs) List(c echo.Context) error {
	ws, err := h.Store.Workspaces(c.Request().Context(), Account(c).ID)
	if err != nil {
		return err
	}
	if ws, err = h.WithoutSSOBlocked(c, ws); err != nil {
		return err
	}
	out := make([]OrgView, 0, len(ws))
	for _, w := range ws {
		if t, ok := request.Token(c); ok && t.OrgID != nil && *t.OrgID != w.ID {
			continue
		}
		out = append(out, orgView(w.Org, w.Role))
	}
	return List(c, out, NewPagePagination(1, len(out), len(out)))
}

type createOrgBody struct {
	DisplayName             string `json:"display_name"`
	Slug                    string `json:"slug"`
	Description             string `json:"description"`
	TransferPersonalCredits bool   `json:"transfer_personal_credits"`
}

// Create makes a team org.
func (h *Orgs) Create(c echo.Context) error {
	if err := RequireUnbound(c); err != nil {
		return err // a new org is outside the token's org
	}
	var in createOrgBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	ws, err := h.Store.CreateOrg(c.Request().Context(), request.Actor(c), db.CreateOrgInput{
		DisplayName: in.DisplayName, Slug: in.Slug, Description: in.Description, TransferPersonalCredits: in.TransferPersonalCredits})
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, h.detail(c, ws))
}

func (h *Orgs) detail(c echo.Context, ws model.Workspace) OrgView { return orgDetail(c, h.Base, ws) }

// orgDetail is an org with its plan, limits, the use of each limit
// (monthly_requests as recorded: up to a flush interval behind) and settings.
func orgDetail(c echo.Context, b *Base, ws model.Workspace) OrgView {
	v := orgView(ws.Org, ws.Role)
	lim := ws.Limits()
	v.Limits = &lim
	v.Settings = map[string]any{"member_base_permission": ws.MemberBasePermission, "require_two_factor": ws.RequireTwoFactor}
	if use, err := b.Store.LimitUsage(c.Request().Context(), Account(c).ID, ws.Org); err == nil {
		v.Usage = usageMap(use)
	}
	return v
}

// Get answers one org with plan, limits, usage and settings.
func (h *Orgs) Get(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, h.detail(c, ws))
}

type patchOrgBody struct {
	DisplayName          *string `json:"display_name"`
	Slug                 *string `json:"slug"`
	Description          *string `json:"description"`
	MemberBasePermission *string `json:"member_base_permission"`
	RequireTwoFactor     *bool   `json:"require_two_factor"`
}

// Update renames, re-slugs, describes or sets the base permission.
func (h *Orgs) Update(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in patchOrgBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	org, err := h.Store.UpdateOrg(c.Request().Context(), request.Actor(c), ws.ID, db.UpdateOrgInput{
		DisplayName: in.DisplayName, Slug: in.Slug, Description: in.Description, MemberBasePermission: in.MemberBasePermission,
		RequireTwoFactor: in.RequireTwoFactor})
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, h.detail(c, model.Workspace{Org: org, Role: ws.Role}))
}

// Delete deletes the org (owner) or answers 409 listing what it still owns.
// The API needs no typed confirmation: the caller names the org in the path.
func (h *Orgs) Delete(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteOrg(c.Request().Context(), request.Actor(c), ws.ID, ws.Slug); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"deleted": true, "id": ws.ID, "slug": ws.Slug})
}

// Audit lists the org's events with filters and a keyset cursor.
func (h *Orgs) Audit(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	f, err := handlers.ParseAuditFilter(c.QueryParams())
	if err != nil {
		return err
	}
	page, err := h.Store.ListAudit(c.Request().Context(), request.Actor(c), ws.ID, f)
	if err != nil {
		return err
	}
	evs := page.Events
	if evs == nil {
		evs = []model.AuditEvent{}
	}
	return List(c, evs, NewCursor(page.Next))
}

// AuditExport downloads the org's events as CSV or JSON Lines.
func (h *Orgs) AuditExport(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	return handlers.ExportAudit(c, h.Store, ws.Org)
}
