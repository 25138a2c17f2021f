package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// Teams is /teams and /teams/{id}: teams, their members and their grants.
type Teams struct {
	*Base
}

func (h *Teams) listView(c echo.Context) (views.TeamsView, error) {
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	v := views.TeamsView{OrgName: ws.DisplayName, Personal: ws.Personal(), CanCreate: model.CanIn(ws.Kind, ws.Role, model.ActManageTeams)}
	if ws.Personal() {
		return v, nil
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(min(page, model.MaxPage), 1)
	ts, total, err := h.Store.TeamRowsPage(c.Request().Context(), acc.ID, ws.ID, page, TeamsPerPage)
	if err != nil {
		return v, err
	}
	for _, t := range ts {
		v.Teams = append(v.Teams, views.TeamRowView{ID: t.ID, Name: t.Name, Description: t.Description,
			Members: t.MemberCount, Grants: t.GrantCount, YourRole: t.ViewerRole.Label()})
	}
	v.Pager = components.Pager{Page: page, TotalPages: model.TotalPages(total, TeamsPerPage), Total: total,
		Href: func(p int) string { return "/teams?page=" + strconv.Itoa(p) }}
	return v, nil
}

// Page is GET /teams.
func (h *Teams) Page(c echo.Context) error {
	v, err := h.listView(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.TeamsPage(h.Shell(c, "Teams", "teams"), v))
}

// Create is POST /teams (owners and admins).
func (h *Teams) Create(c echo.Context) error {
	ws := request.Workspace(c)
	form := views.TeamForm{Name: c.FormValue("name"), Description: c.FormValue("description")}
	t, err := h.Store.CreateTeam(c.Request().Context(), request.Actor(c), ws.ID, model.TeamInput{Name: form.Name, Description: form.Description})
	if fields, msg, ok := FieldErrors(err); ok {
		v, verr := h.listView(c)
		if verr != nil {
			return verr
		}
		form.Errors, form.Message = fields, msg
		v.Form = form
		return Render(c, http.StatusUnprocessableEntity, views.TeamsPage(h.Shell(c, "Teams", "teams"), v))
	}
	if err != nil {
		return err
	}
	return Redirect(c, teamPath(t.ID), "success", "Team "+t.Name+" created. Add members and grant it agents.")
}

func teamPath(id int64) string { return "/teams/" + strconv.FormatInt(id, 10) }

// teamPagesPath is the team page at a page of its members and one of its
// grants (page 1 is left out).
func teamPagesPath(id int64, membersPage, grantsPage int) string {
	q := url.Values{}
	if membersPage > 1 {
		q.Set("members_page", strconv.Itoa(membersPage))
	}
	if grantsPage > 1 {
		q.Set("grants_page", strconv.Itoa(grantsPage))
	}
	if len(q) == 0 {
		return teamPath(id)
	}
	return teamPath(id) + "?" + q.Encode()
}

func idParam(c echo.Context, name, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound(what)
	}
	return id, nil
}

// openPickers are the team page's pickers open on this request: both are
// closed links unless asked for (?add=, or a search without script), as
// their choices cost the page's dearest queries.
type openPickers struct{ members, grants bool }

func pickersAsked(c echo.Context) openPickers {
	add, q := c.QueryParam("add"), c.QueryParams()
	return openPickers{members: add == "member" || q.Has("member_q"), grants: add == "grant" || q.Has("agent_q")}
}

// detail builds the team page of team id in the active workspace, with the
// pickers open that open asks for.
func (h *Teams) detail(c echo.Context, id int64, open openPickers) (views.TeamDetailView, error) {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	// The pages come from the query, or from the form of a change to a
	// row (the members card keeps its page across its swaps).
	mp, _ := strconv.Atoi(c.FormValue("members_page"))
	gp, _ := strconv.Atoi(c.FormValue("grants_page"))
	mp, gp = max(min(mp, model.MaxPage), 1), max(min(gp, model.MaxPage), 1)
	d, err := h.Store.TeamScreen(ctx, acc.ID, ws.ID, id, mp, TeamMembersPerPage, gp, GrantsPerPage)
	if err == nil && len(d.Members) == 0 && mp > 1 && d.MemberCount > 0 {
		// Past the last page (its last member just left): show the last.
		mp = model.TotalPages(d.MemberCount, TeamMembersPerPage)
		d, err = h.Store.TeamScreen(ctx, acc.ID, ws.ID, id, mp, TeamMembersPerPage, gp, GrantsPerPage)
	}
	if err != nil {
		return views.TeamDetailView{}, err
	}
	manage := d.CanManage()
	v := views.TeamDetailView{ID: d.ID, Name: d.Name, Description: d.Description, OrgName: ws.DisplayName,
		CanManage: manage, CanDelete: model.CanIn(ws.Kind, ws.Role, model.ActManageTeams),
		Edit: views.TeamForm{Name: d.Name, Description: d.Description}}
	for _, m := range d.Members {
		v.Members = append(v.Members, views.TeamMemberRowView{UserID: m.AccountID, Name: m.Name, Email: m.Email,
			Role: string(m.Role), RoleLabel: m.Role.Label(), OrgRole: m.OrgRole.Label(), IsYou: m.AccountID == acc.ID,
			CanManage: manage, CanLeave: m.AccountID == acc.ID})
	}
	v.MemberCount, v.GrantCount, v.MembersPage = d.MemberCount, d.GrantCount, mp
	v.MemberPager = components.Pager{Page: mp, TotalPages: model.TotalPages(d.MemberCount, TeamMembersPerPage), Total: d.MemberCount,
		Href: func(p int) string { return teamPagesPath(id, p, gp) + "#team-members" }, Target: "#team-members"}
	v.GrantPager = components.Pager{Page: gp, TotalPages: model.TotalPages(d.GrantCount, GrantsPerPage), Total: d.GrantCount,
		Href: func(p int) string { return teamPagesPath(id, mp, p) + "#team-grants" }, Target: "#team-grants"}
	for _, g := range d.Grants {
		v.Grants = append(v.Grants, views.GrantRowView{ID: g.ID, TeamID: d.ID, AgentID: g.ResourceID, AgentName: g.ResourceName,
			Permission: string(g.Permission), CanManage: manage})
	}
	if !manage {
		return v, nil
	}
	if open.members {
		if err := h.openMemberPicker(c, &v); err != nil {
			return v, err
		}
	}
	if open.grants {
		if err := h.openGrantPicker(c, d, &v); err != nil {
			return v, err
		}
	}
	return v, nil
}

// openMemberPicker loads the add-a-member picker's choices into v. A search
// box only where the list is cut (or already searched): a small org's
// pickers stay plain selects.
func (h *Teams) openMemberPicker(c echo.Context, v *views.TeamDetailView) error {
	var err error
	v.MemberPicker, v.MemberQuery = true, c.QueryParam("member_q")
	if v.Candidates, err = h.memberCandidates(c, v.ID, v.MemberQuery); err != nil {
		return err
	}
	v.MemberSearch = len(v.Candidates) >= PickerLimit || v.MemberQuery != ""
	return nil
}

// openGrantPicker loads the add-a-grant picker's choices into v.
func (h *Teams) openGrantPicker(c echo.Context, d model.TeamDetail, v *views.TeamDetailView) error {
	var err error
	v.GrantPicker, v.AgentQuery = true, c.QueryParam("agent_q")
	if v.GrantCandidates, err = h.grantCandidates(c, d, v.AgentQuery); err != nil {
		return err
	}
	v.AgentSearch = len(v.GrantCandidates) >= PickerLimit || v.AgentQuery != ""
	return nil
}

// memberCandidates is the add-a-member picker: the first members by name who
// can join team id and are not in it, matching q.
func (h *Teams) memberCandidates(c echo.Context, id int64, q string) ([]components.Option, error) {
	acc, _ := request.Account(c)
	ms, err := h.Store.PickMembers(c.Request().Context(), acc.ID, request.Workspace(c).ID, db.MemberPick{Query: q, NotTeam: id, Limit: PickerLimit})
	if err != nil {
		return nil, err
	}
	opts := make([]components.Option, 0, len(ms))
	for _, m := range ms {
		opts = append(opts, components.Option{Value: strconv.FormatInt(m.AccountID, 10), Label: m.Name + " (" + m.Email + ")"})
	}
	return opts, nil
}

// grantCandidates is the grant picker: the first agents by name without a
// grant to team d, matching q.
func (h *Teams) grantCandidates(c echo.Context, d model.TeamDetail, q string) ([]components.Option, error) {
	acc, _ := request.Account(c)
	rs, err := h.Store.TeamGrantCandidates(c.Request().Context(), acc.ID, d, q, PickerLimit)
	if err != nil {
		return nil, err
	}
	opts := make([]components.Option, 0, len(rs))
	for _, r := range rs {
		opts = append(opts, components.Option{Value: strconv.FormatInt(r.ID, 10), Label: r.Name})
	}
	return opts, nil
}

// picker answers a picker's search (htmx, ?pick=members or agents) with its
// options only; a viewer who cannot manage the team is forbidden.
func (h *Teams) picker(c echo.Context, id int64, pick string) error {
	acc, _ := request.Account(c)
	d, err := h.Store.TeamHead(c.Request().Context(), acc.ID, request.Workspace(c).ID, id)
	if err != nil {
		return err
	}
	if !d.CanManage() {
		return model.Forbidden("Only owners, admins and the team's maintainers can manage this team.")
	}
	switch pick {
	case "member-form", "grant-form":
		// Opening a picker: its form, with the first choices.
		v := views.TeamDetailView{ID: d.ID, CanManage: true, PickerFocus: true}
		if pick == "member-form" {
			if err := h.openMemberPicker(c, &v); err != nil {
				return err
			}
			return Render(c, http.StatusOK, views.TeamMemberPicker(request.CSRF(c), v))
		}
		if err := h.openGrantPicker(c, d, &v); err != nil {
			return err
		}
		return Render(c, http.StatusOK, views.TeamGrantPicker(request.CSRF(c), v))
	}
	var opts []components.Option
	target, none, what := "f-user_id", "No member who can join matches", "member"
	if pick == "agents" {
		opts, err = h.grantCandidates(c, d, c.QueryParam("agent_q"))
		target, none, what = "f-resource_id", "No agent without a grant matches", "agent"
	} else {
		opts, err = h.memberCandidates(c, id, c.QueryParam("member_q"))
	}
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, components.PickerResult(target, "", opts, none, found(len(opts), what)))
}

// found is a picker search's count for screen readers.
func found(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what + " found."
	case n >= PickerLimit:
		return fmt.Sprintf("The first %d %ss found; type more to narrow them.", n, what)
	}
	return fmt.Sprintf("%d %ss found.", n, what)
}

// Detail is GET /teams/{id}. A team of another org is not found.
func (h *Teams) Detail(c echo.Context) error {
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	if pick := c.QueryParam("pick"); pick != "" && IsHTMX(c) {
		return h.picker(c, id, pick)
	}
	v, err := h.detail(c, id, pickersAsked(c))
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.TeamPage(h.Shell(c, v.Name, "teams"), v))
}

// Update is POST /teams/{id}: rename and describe (maintainers, admins).
func (h *Teams) Update(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	name, desc := c.FormValue("name"), c.FormValue("description")
	t, err := h.Store.UpdateTeam(c.Request().Context(), request.Actor(c), ws.ID, id, db.UpdateTeamInput{Name: &name, Description: &desc})
	if fields, msg, ok := FieldErrors(err); ok {
		v, verr := h.detail(c, id, openPickers{})
		if verr != nil {
			return verr
		}
		v.Edit = views.TeamForm{Name: name, Description: desc, Errors: fields, Message: msg}
		return Render(c, http.StatusUnprocessableEntity, views.TeamPage(h.Shell(c, v.Name, "teams"), v))
	}
	if err != nil {
		return err
	}
	return Redirect(c, teamPath(t.ID), "success", "Saved.")
}

// Delete is POST /teams/{id}/delete (owners and admins).
func (h *Teams) Delete(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	if err := h.Store.DeleteTeam(c.Request().Context(), request.Actor(c), ws.ID, id); err != nil {
		return err
	}
	return Redirect(c, "/teams", "success", "Team deleted.")
}

// section answers a change to the members or the grants card: htmx gets the
// card with the outcome in it; a plain form post goes back to the page with
// a flash. Not found (another org's ids) is the error page.
func (h *Teams) section(c echo.Context, id int64, which string, change error, notice string) error {
	e, isModel := model.AsError(change)
	if change != nil && (!isModel || e.Code == model.CodeNotFound) {
		return change
	}
	if !IsHTMX(c) {
		if change != nil {
			return Redirect(c, teamPath(id), "error", e.Message)
		}
		return Redirect(c, teamPath(id), "success", notice)
	}
	// The picker the change came from (its form says so) stays open, for
	// the next one; a change from a row leaves the pickers closed.
	open := c.FormValue("picker") == "open"
	v, err := h.detail(c, id, openPickers{members: open && which == "members", grants: open && which == "grants"})
	if err != nil {
		return err
	}
	status := http.StatusOK
	msg := ""
	if change != nil {
		status, msg = StatusOf(e.Code), e.Message
		for _, m := range e.Fields {
			msg = m
		}
	}
	if which == "members" {
		v.MemberError, v.MemberNotice = msg, notice
		if change != nil {
			v.MemberNotice = ""
		}
		return Render(c, status, views.TeamMembersSection(request.CSRF(c), v))
	}
	v.GrantError, v.GrantNotice = msg, notice
	if change != nil {
		v.GrantNotice = ""
	}
	return Render(c, status, views.TeamGrantsSection(request.CSRF(c), v))
}

// AddMember is POST /teams/{id}/members {user_id, role}.
func (h *Teams) AddMember(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	uid, perr := strconv.ParseInt(c.FormValue("user_id"), 10, 64)
	if perr != nil || uid <= 0 {
		return h.section(c, id, "members", model.InvalidField("user_id", "Choose a member of the organization."), "")
	}
	m, err := h.Store.SetTeamMember(c.Request().Context(), request.Actor(c), ws.ID, id, uid, c.FormValue("role"))
	if err != nil {
		return h.section(c, id, "members", err, "")
	}
	return h.section(c, id, "members", nil, fmt.Sprintf("%s is now a %s of the team.", m.Name, m.Role))
}

// MemberRole is POST /teams/{id}/members/{user_id}/role {role}.
func (h *Teams) MemberRole(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	uid, err := idParam(c, "user_id", "team member")
	if err != nil {
		return err
	}
	m, err := h.Store.SetTeamMember(c.Request().Context(), request.Actor(c), ws.ID, id, uid, c.FormValue("role"))
	if err != nil {
		return h.section(c, id, "members", err, "")
	}
	return h.section(c, id, "members", nil, fmt.Sprintf("%s is now a %s of the team.", m.Name, m.Role))
}

// RemoveMember is POST /teams/{id}/members/{user_id}/remove; yourself is
// leaving the team.
func (h *Teams) RemoveMember(c echo.Context) error {
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	uid, err := idParam(c, "user_id", "team member")
	if err != nil {
		return err
	}
	err = h.Store.RemoveTeamMember(c.Request().Context(), request.Actor(c), ws.ID, id, uid)
	notice := "Removed from the team."
	if uid == acc.ID {
		notice = "You left the team."
	}
	return h.section(c, id, "members", err, notice)
}

// AddGrant is POST /teams/{id}/grants {resource_kind, resource_id, permission}.
func (h *Teams) AddGrant(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	rid, perr := strconv.ParseInt(c.FormValue("resource_id"), 10, 64)
	if perr != nil || rid <= 0 {
		return h.section(c, id, "grants", model.InvalidField("resource_id", "Choose an agent to grant."), "")
	}
	g, err := h.Store.SetGrant(c.Request().Context(), request.Actor(c), ws.ID, id, db.SetGrantInput{
		ResourceKind: c.FormValue("resource_kind"), ResourceID: rid, Permission: c.FormValue("permission")})
	if err != nil {
		return h.section(c, id, "grants", err, "")
	}
	return h.section(c, id, "grants", nil, fmt.Sprintf("The team can now %s %s.", verb(g.Permission), g.ResourceName))
}

func verb(p model.Permission) string {
	switch p {
	case model.PermRead:
		return "read"
	case model.PermWrite:
		return "use and configure"
	}
	return "administer"
}

// GrantLevel is POST /teams/{id}/grants/{grant_id} {permission}: the level
// select. htmx gets the grant's row back.
func (h *Teams) GrantLevel(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	gid, err := idParam(c, "grant_id", "grant")
	if err != nil {
		return err
	}
	cur, d, err := h.Store.TeamGrant(ctx, acc.ID, ws.ID, id, gid)
	if err != nil {
		return err
	}
	g, err := h.Store.SetGrant(ctx, request.Actor(c), ws.ID, id, db.SetGrantInput{
		ResourceKind: string(cur.ResourceKind), ResourceID: cur.ResourceID, Permission: c.FormValue("permission")})
	e, isModel := model.AsError(err)
	if err != nil && (!isModel || e.Code == model.CodeNotFound) {
		return err
	}
	if !IsHTMX(c) {
		if err != nil {
			return Redirect(c, teamPath(id), "error", e.Message)
		}
		return Redirect(c, teamPath(id), "success", "Level changed to "+g.Permission.Label()+".")
	}
	row := views.GrantRowView{ID: cur.ID, TeamID: id, AgentID: cur.ResourceID, AgentName: cur.ResourceName,
		Permission: string(cur.Permission), CanManage: d.CanManage()}
	status := http.StatusOK
	if err != nil {
		row.Error, status = e.Message, StatusOf(e.Code)
	} else {
		row.Permission, row.Notice = string(g.Permission), "Now "+g.Permission.Label()+"."
	}
	return Render(c, status, views.GrantRow(request.CSRF(c), row))
}

// RemoveGrant is POST /teams/{id}/grants/{grant_id}/remove.
func (h *Teams) RemoveGrant(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := idParam(c, "id", "team")
	if err != nil {
		return err
	}
	gid, err := idParam(c, "grant_id", "grant")
	if err != nil {
		return err
	}
	err = h.Store.RemoveGrant(c.Request().Context(), request.Actor(c), ws.ID, id, gid)
	return h.section(c, id, "grants", err, "Grant removed.")
}
