package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/request"
)

// Teams handles the teams, grants and resources routes of API.md.
type Teams struct {
	*Base
	answers teamAnswers // large teams' answers, kept per grants version
}

// TeamView is a team in API answers.
type TeamView struct {
	ID          int64  `json:"id"`
	OrgID       int64  `json:"org_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	MemberCount int    `json:"member_count"`
	GrantCount  int    `json:"grant_count"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

func teamView(t model.Team) TeamView {
	return TeamView{ID: t.ID, OrgID: t.OrgID, Name: t.Name, Description: t.Description, MemberCount: t.MemberCount,
		GrantCount: t.GrantCount, CreatedAt: rfc3339(t.CreatedAt), UpdatedAt: rfc3339(t.UpdatedAt)}
}

// TeamMemberView is a team membership in API answers.
type TeamMemberView struct {
	TeamID   int64          `json:"team_id"`
	UserID   int64          `json:"user_id"`
	Name     string         `json:"name"`
	Email    string         `json:"email"`
	Role     model.TeamRole `json:"role"`
	OrgRole  model.Role     `json:"org_role"`
	JoinedAt string         `json:"joined_at"`
}

func teamMemberView(m model.TeamMembership) TeamMemberView {
	return TeamMemberView{TeamID: m.TeamID, UserID: m.AccountID, Name: m.Name, Email: m.Email, Role: m.Role,
		OrgRole: m.OrgRole, JoinedAt: rfc3339(m.CreatedAt)}
}

// GrantView is a grant in API answers.
type GrantView struct {
	ID           int64              `json:"id"`
	TeamID       int64              `json:"team_id"`
	TeamName     string             `json:"team_name"`
	ResourceKind model.ResourceKind `json:"resource_kind"`
	ResourceID   int64              `json:"resource_id"`
	ResourceName string             `json:"resource_name"`
	Permission   model.Permission   `json:"permission"`
	CreatedAt    string             `json:"created_at"`
	UpdatedAt    string             `json:"updated_at"`
}

func grantView(g model.Grant) GrantView {
	return GrantView{ID: g.ID, TeamID: g.TeamID, TeamName: g.TeamName, ResourceKind: g.ResourceKind, ResourceID: g.ResourceID,
		ResourceName: g.ResourceName, Permission: g.Permission, CreatedAt: rfc3339(g.CreatedAt), UpdatedAt: rfc3339(g.UpdatedAt)}
}

// TeamDetailView is a team with its members and grants.
type TeamDetailView struct {
	TeamView
	Members []TeamMemberView `json:"members"`
	Grants  []GrantView      `json:"grants"`
}

type teamBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Create is POST /api/orgs/{org}/teams.
func (h *Teams) Create(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in teamBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	t, err := h.Store.CreateTeam(c.Request().Context(), request.Actor(c), ws.ID,
		model.TeamInput{Name: deref(in.Name), Description: deref(in.Description)})
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, teamView(t))
}

// List is GET /api/orgs/{org}/teams?page=&per_page=: the org's teams by
// name, a page at a time (per_page 1-100, default 20).
func (h *Teams) List(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	page, perPage, err := pageQuery(c)
	if err != nil {
		return err
	}
	page, perPage = model.Paging(page, perPage, model.DefaultPerPage, model.TeamsMaxPerPage)
	ts, total, err := h.Store.Teams(c.Request().Context(), Account(c).ID, ws.ID, page, perPage)
	if err != nil {
		return err
	}
	p := NewPagePagination(page, perPage, total)
	return handJSON(c, http.StatusOK, 64+260*len(ts), func(b []byte) []byte { return appendTeamsList(b, ts, p) }, func() any {
		out := make([]TeamView, 0, len(ts))
		for _, t := range ts {
			out = append(out, teamView(t))
		}
		return Envelope{Success: true, Data: out, Pagination: p}
	})
}

func (h *Teams) orgTeam(c echo.Context) (model.Workspace, int64, error) {
	ws, err := h.Org(c)
	if err != nil {
		return ws, 0, err
	}
	id, err := ParseID(c, "team_id", "team")
	return ws, id, err
}

// Get is GET /api/orgs/{org}/teams/{team_id}: the team, members and grants.
// All the grants, unless page or per_page asks for a page of them (as the
// members list does: 20 a page by default, at most 100); the answer then
// carries their pagination.
func (h *Teams) Get(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	f := model.Fields{}
	page, err := intQuery(c, "page")
	if err != nil {
		f.Add("page", err.(*model.Error).Fields["page"])
	}
	perPage, err := intQuery(c, "per_page")
	if err != nil {
		f.Add("per_page", err.(*model.Error).Fields["per_page"])
	}
	if err := f.Err(); err != nil {
		return err
	}
	paged := page > 0 || perPage > 0
	if paged {
		page, perPage = model.MemberPaging(page, perPage)
	}
	ctx := c.Request().Context()
	d, err := h.Store.TeamAPIHead(ctx, Account(c).ID, ws.ID, id)
	if err != nil {
		return err
	}
	var p *PagePagination
	grants := d.GrantCount
	if paged {
		pp := NewPagePagination(page, perPage, d.GrantCount)
		p, grants = &pp, min(perPage, max(d.GrantCount-(page-1)*perPage, 0))
	}
	if _, pretty := c.QueryParams()["pretty"]; pretty || c.Echo().Debug {
		// Indented, through encoding/json (the hand encoder writes compact).
		if d, err = h.Store.TeamAPI(ctx, Account(c).ID, ws.ID, id, page, perPage); err != nil {
			return err
		}
		env := Envelope{Success: true, Data: teamDetailView(d)}
		if p != nil {
			env.Pagination = *p
		}
		return c.JSON(http.StatusOK, env)
	}
	// The head alone first: a kept answer is found by it, and sizing the
	// whole answer here zeroed a 430 KB buffer on every hit.
	head := appendTeamDetailHead(make([]byte, 0, teamDetailSize(d, 0)), d)
	// The grants go from the driver's buffer into the answer's.
	build := func() ([]byte, error) {
		b := append(make([]byte, 0, teamDetailSize(d, grants)), head...)
		teamName := appendJSONString(nil, d.Name)
		i := 0
		err := h.Store.EachTeamAPIGrant(ctx, d.ID, page, perPage, func(g *db.TeamAPIGrantRow) {
			b = appendGrant(b, i, g, d.ID, teamName)
			i++
		})
		return appendTeamDetailTail(b, p), err
	}
	if grants >= teamAnswersMin {
		a, err := h.answers.answer(teamAnswerKey{team: d.ID, version: d.GrantsVersion, page: page, perPage: perPage},
			head[:len(head):len(head)], build)
		if err != nil {
			return err
		}
		return serveAnswer(c, a)
	}
	b, err := build()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// Members is GET /api/orgs/{org}/teams/{team_id}/members?page=&per_page=:
// the team's members a page at a time (20 by default, at most 100), in the
// team's order (maintainers, then by name), as the team page lists them.
// Any member of the org may read it, as the team.
func (h *Teams) Members(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	page, perPage, err := pageQuery(c)
	if err != nil {
		return err
	}
	page, perPage = model.MemberPaging(page, perPage)
	d, err := h.Store.TeamAPIMembers(c.Request().Context(), Account(c).ID, ws.ID, id, page, perPage)
	if err != nil {
		return err
	}
	out := make([]TeamMemberView, 0, len(d.Members))
	for _, m := range d.Members {
		out = append(out, teamMemberView(m))
	}
	return List(c, out, NewPagePagination(page, perPage, d.MemberCount))
}

// serveAnswer sends a kept answer, compressed when the client takes gzip
// (the compress middleware passes a body that has its encoding already).
func serveAnswer(c echo.Context, a *teamAnswer) error {
	if acceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
		c.Response().Header().Set(echo.HeaderContentEncoding, "gzip")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, a.gz)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, a.body)
}

// teamDetailView is d as TeamDetailView (what appendTeamDetail writes).
func teamDetailView(d model.TeamDetail) TeamDetailView {
	out := TeamDetailView{TeamView: teamView(d.Team), Members: make([]TeamMemberView, 0, len(d.Members)),
		Grants: make([]GrantView, 0, len(d.Grants))}
	for _, m := range d.Members {
		out.Members = append(out.Members, teamMemberView(m))
	}
	for _, g := range d.Grants {
		out.Grants = append(out.Grants, grantView(g))
	}
	return out
}

// Update is PATCH /api/orgs/{org}/teams/{team_id}.
func (h *Teams) Update(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	var in teamBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	t, err := h.Store.UpdateTeam(c.Request().Context(), request.Actor(c), ws.ID, id,
		db.UpdateTeamInput{Name: in.Name, Description: in.Description})
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, teamView(t))
}

// Delete is DELETE /api/orgs/{org}/teams/{team_id}.
func (h *Teams) Delete(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteTeam(c.Request().Context(), request.Actor(c), ws.ID, id); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"deleted": true, "id": id})
}

type teamRoleBody struct {
	Role *string `json:"role"`
}

// SetMember is PUT /api/orgs/{org}/teams/{team_id}/members/{user_id}.
func (h *Teams) SetMember(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	uid, err := ParseID(c, "user_id", "member")
	if err != nil {
		return err
	}
	var in teamRoleBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	role := string(model.TeamMember)
	if in.Role != nil {
		if role = strings.TrimSpace(*in.Role); role == "" {
			return model.InvalidField("role", "Choose a team role: maintainer or member.")
		}
	}
	m, err := h.Store.SetTeamMember(c.Request().Context(), request.Actor(c), ws.ID, id, uid, role)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, teamMemberView(m))
}

// RemoveMember is DELETE /api/orgs/{org}/teams/{team_id}/members/{user_id};
// yourself is leaving the team.
func (h *Teams) RemoveMember(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	uid, err := ParseID(c, "user_id", "team member")
	if err != nil {
		return err
	}
	if err := h.Store.RemoveTeamMember(c.Request().Context(), request.Actor(c), ws.ID, id, uid); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"removed": true, "team_id": id, "user_id": uid})
}

type grantBody struct {
	ResourceKind *string `json:"resource_kind"`
	ResourceID   *int64  `json:"resource_id"`
	Permission   *string `json:"permission"`
}

// SetGrant is PUT /api/orgs/{org}/teams/{team_id}/grants: idempotent per
// (team, resource); a re-grant answers the same grant id at the new level.
func (h *Teams) SetGrant(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	var in grantBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	if in.ResourceID == nil {
		return model.InvalidField("resource_id", "resource_id is required: the id of one of the org's agents.")
	}
	g, err := h.Store.SetGrant(c.Request().Context(), request.Actor(c), ws.ID, id, db.SetGrantInput{
		ResourceKind: deref(in.ResourceKind), ResourceID: *in.ResourceID, Permission: deref(in.Permission)})
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, grantView(g))
}

// RemoveGrant is DELETE /api/orgs/{org}/teams/{team_id}/grants/{grant_id}.
func (h *Teams) RemoveGrant(c echo.Context) error {
	ws, id, err := h.orgTeam(c)
	if err != nil {
		return err
	}
	gid, err := ParseID(c, "grant_id", "grant")
	if err != nil {
		return err
	}
	if err := h.Store.RemoveGrant(c.Request().Context(), request.Actor(c), ws.ID, id, gid); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"removed": true, "id": gid})
}

// Resources is GET /api/orgs/{org}/resources?kind=agent&page=&per_page=:
// the grant picker's list (owners, admins and team maintainers) in name
// order, a page at a time (per_page 1-100, default 20).
func (h *Teams) Resources(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	page, perPage, err := pageQuery(c)
	if err != nil {
		return err
	}
	page, perPage = model.Paging(page, perPage, model.DefaultPerPage, db.ResourcesPerPage)
	rs, total, err := h.Store.ResourcesPage(c.Request().Context(), request.Actor(c), ws.ID, c.QueryParam("kind"), page, perPage)
	if err != nil {
		return err
	}
	return List(c, rs, NewPagePagination(page, perPage, total))
}
