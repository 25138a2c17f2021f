package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// Members is Account → Members: the members table, role changes, removal,
// leaving, ownership transfer, the invite form and pending invitations.
type Members struct {
	*Base
}

// membersQuery is the list's filter and page from the query string. Bad
// numbers fall back to the defaults; a bad role shows everyone.
type membersQuery struct {
	Role    string
	Page    int
	PerPage int
}

func parseMembersQuery(c echo.Context) membersQuery {
	q := membersQuery{Role: c.QueryParam("role")}
	q.Page, _ = strconv.Atoi(c.QueryParam("page"))
	q.PerPage, _ = strconv.Atoi(c.QueryParam("per_page"))
	if _, err := model.ParseRole(q.Role); err != nil {
		q.Role = ""
	}
	q.Page, q.PerPage = model.MemberPaging(q.Page, q.PerPage)
	return q
}

func (q membersQuery) href(page int) string {
	v := url.Values{}
	if q.Role != "" {
		v.Set("role", q.Role)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if q.PerPage != model.MembersPerPage {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	if len(v) == 0 {
		return "/members"
	}
	return "/members?" + v.Encode()
}

// inviteRoles lists the roles the viewer may invite at, member first (the default).
func inviteRoles(viewer model.Role) []components.Option {
	var out []components.Option
	for _, r := range []model.Role{model.RoleMember, model.RoleAdmin, model.RoleBilling, model.RoleOwner} {
		if model.CanInvite(viewer, r) == nil {
			out = append(out, components.Option{Value: string(r), Label: r.Label()})
		}
	}
	return out
}

// rowView builds one table row with the actions the viewer may take. The
// role choices are not in it: the role dialog loads them (RolePage).
func (h *Members) rowView(ws model.Workspace, viewerID int64, m model.MemberRow, owners int) views.MemberRowView {
	a := model.ActionsOn(ws.Kind, viewerID, ws.Role, m, owners)
	r := views.MemberRowView{
		UserID: m.AccountID, Name: m.Name, Email: m.Email, Role: string(m.Role), RoleLabel: m.Role.Label(),
		Joined: m.JoinedAt.UTC().Format("Jan 2, 2006"), IsYou: m.AccountID == viewerID,
		CanChangeRole: a.ChangeRole, CanRemove: a.Remove, CanLeave: a.Leave, CanTransfer: a.Transfer,
	}
	if ws.Role == model.RoleOwner { // only owners see who lacks two-factor
		on := m.TwoFactor
		r.TwoFactor = &on
	}
	r.LastActive = "Never"
	if m.LastActiveAt != nil {
		r.LastActive = views.Ago(*m.LastActiveAt, h.Store.Now())
	}
	return r
}

// view gathers the whole members page.
func (h *Members) view(c echo.Context, q membersQuery) (views.MembersView, error) {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	actor := request.Actor(c)
	canInvite := model.CanIn(ws.Kind, ws.Role, model.ActInvite)
	l, err := h.Store.MemberList(ctx, actor, ws.ID, db.MemberQuery{
		Role: q.Role, Page: q.Page, PerPage: q.PerPage,
		// No teams: the role dialog (RolePage) names them for one member.
		Invitations: canInvite,
	})
	if err != nil {
		return views.MembersView{}, err
	}
	total, owners := l.Total, l.Owners
	v := views.MembersView{
		OrgName: ws.DisplayName, Personal: ws.Personal(), ViewerRole: ws.Role.Label(), Filter: q.Role, Total: total,
		CanInvite: canInvite,
		CanManage: model.CanIn(ws.Kind, ws.Role, model.ActManageMembers),
		CanLeave:  model.CanLeave(ws.Kind, ws.Role, owners) == nil,
	}
	v.Rows = make([]views.MemberRowView, 0, len(l.Rows))
	for _, m := range l.Rows {
		v.Rows = append(v.Rows, h.rowView(ws, acc.ID, m, owners))
	}
	v.Pager = components.Pager{Page: q.Page, TotalPages: model.TotalPages(total, q.PerPage), Total: total, Href: q.href, Target: "#members-list"}
	if v.CanInvite {
		v.InviteRoles = inviteRoles(ws.Role)
		v.Invite.Role = string(model.RoleMember)
		if l.Invitations == nil {
			// the role the workspace was read with is gone by now
			return v, model.Forbidden("Only owners and admins can see pending invitations.")
		}
		h.pending(ws, &v, l)
	}
	return v, nil
}

// pending fills the pending invitations and the seat count.
func (h *Members) pending(ws model.Workspace, v *views.MembersView, l db.MemberList) {
	now := h.Store.Now()
	v.ShowPending = true
	v.Pending = nil
	v.SeatsUsed, v.SeatsMax = l.Seats, ws.LimitTeamMembers
	for _, inv := range l.Invitations {
		expired := inv.StateAt(now) == model.LinkExpired
		by := inv.InviterName
		if by == "" {
			by = "—"
		}
		v.Pending = append(v.Pending, views.InvitationRowView{
			ID: inv.ID, Email: inv.Email, RoleLabel: inv.Role.Label(), InvitedBy: by,
			Sent: inv.CreatedAt.UTC().Format("Jan 2, 2006"), Expires: inv.ExpiresAt.UTC().Format("Jan 2, 2006 15:04") + " UTC",
			Expired: expired, CanResend: model.CanResendInvitation(ws.Role, inv.Role) == nil,
			CanCancel: model.CanCancelInvitation(ws.Role) == nil,
		})
	}
}

func (h *Members) page(c echo.Context, status int, v views.MembersView) error {
	return Render(c, status, views.MembersPage(h.Shell(c, "Members", "members"), v))
}

// Page is GET /members. htmx filter and pager requests get the same page;
// they select #members-list from it.
func (h *Members) Page(c echo.Context) error {
	v, err := h.view(c, parseMembersQuery(c))
	if err != nil {
		return err
	}
	return h.page(c, http.StatusOK, v)
}

func userParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("user_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound("Member")
	}
	return id, nil
}

// RolePage is GET /members/{user_id}/role: the roles the viewer may give
// this member, each with what it takes away (the teams a move to billing
// leaves). htmx gets the form alone for the page's role dialog; without
// script it is a page of its own. A refusal shows its reason under its
// status, as the transfer page does.
func (h *Members) RolePage(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	uid, err := userParam(c)
	if err != nil {
		return err
	}
	m, err := h.Store.Member(ctx, request.Actor(c), ws.ID, uid)
	if err != nil {
		return err
	}
	owners, err := h.Store.OwnerCount(ctx, ws.ID)
	if err != nil {
		return err
	}
	v := views.MemberRoleView{UserID: m.AccountID, Name: m.Name, Email: m.Email, Role: string(m.Role)}
	status := http.StatusOK
	a := model.ActionsOn(ws.Kind, acc.ID, ws.Role, m, owners)
	if !a.ChangeRole {
		v.Refusal, status = roleRefusal(ws, m, owners)
	} else {
		teams, err := h.Store.MemberTeams(ctx, ws.ID, m.AccountID)
		if err != nil {
			return err
		}
		for _, role := range a.Roles {
			v.Roles = append(v.Roles, components.Option{Value: string(role), Label: role.Label(),
				Consequence: model.RoleChangeConsequence(m.Name, m.Role, role, teams)})
		}
	}
	if IsHTMX(c) {
		v.InDialog = true
		return Render(c, status, views.MemberRoleForm(request.CSRF(c), v))
	}
	return Render(c, status, views.MemberRolePage(h.Shell(c, "Role of "+m.Name, "members"), v))
}

// roleRefusal says why the viewer may set no other role for m, with the
// status the change itself would be refused with.
func roleRefusal(ws model.Workspace, m model.MemberRow, owners int) (string, int) {
	if ws.Personal() {
		return "A personal workspace has no other members to manage.", http.StatusForbidden
	}
	if !model.Can(ws.Role, model.ActManageMembers) {
		return "Only owners and admins can change members' roles.", http.StatusForbidden
	}
	for _, to := range model.Roles {
		if to == m.Role {
			continue
		}
		if err := model.CanChangeRole(ws.Role, m.Role, to); err != nil {
			e, _ := model.AsError(err)
			return e.Message, StatusOf(e.Code)
		}
		if err := model.CheckLastOwner(m.Role, to, owners); err != nil {
			e, _ := model.AsError(err)
			return e.Message, StatusOf(e.Code)
		}
	}
	return "This role cannot be changed.", http.StatusForbidden
}

// ChangeRole is POST /members/{user_id}/role. htmx gets the re-rendered row
// (with the refusal in it when the change is refused); a plain form post is
// redirected back with a flash.
func (h *Members) ChangeRole(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	uid, err := userParam(c)
	if err != nil {
		return err
	}
	m, err := h.Store.ChangeRole(ctx, request.Actor(c), ws.ID, uid, c.FormValue("role"))
	e, isModel := model.AsError(err)
	if err != nil && (!isModel || e.Code == model.CodeNotFound) {
		return err
	}
	if err == nil && uid == acc.ID {
		// Your own role changed: every action on the page may have changed.
		return Redirect(c, "/members", "success", "Your role is now "+m.Role.Label()+".")
	}
	if !IsHTMX(c) {
		if err != nil {
			return Redirect(c, "/members", "error", e.Message)
		}
		return Redirect(c, "/members", "success", fmt.Sprintf("%s is now %s.", m.Name, m.Role.Label()))
	}
	if err != nil {
		if m, err = h.Store.Member(ctx, request.Actor(c), ws.ID, uid); err != nil {
			return err
		}
	}
	owners, oerr := h.Store.OwnerCount(ctx, ws.ID)
	if oerr != nil {
		return oerr
	}
	row := h.rowView(ws, acc.ID, m, owners)
	status := http.StatusOK
	if e != nil {
		row.Error, status = e.Message, StatusOf(e.Code)
	} else {
		row.Notice = "Now " + m.Role.Label() + "."
	}
	return Render(c, status, views.MemberRow(row))
}

// RemovePage is GET /members/{user_id}/remove: the confirmation a row's
// Remove link opens without script (with script, the page's dialog asks).
// A refusal shows the page with its reason, under the refusal's status.
func (h *Members) RemovePage(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	uid, err := userParam(c)
	if err != nil {
		return err
	}
	if uid == acc.ID {
		return c.Redirect(http.StatusSeeOther, "/members/leave")
	}
	m, err := h.Store.Member(ctx, request.Actor(c), ws.ID, uid)
	if err != nil {
		return err
	}
	msg, status := "", http.StatusOK
	if ws.Personal() {
		msg, status = "A personal workspace has no other members to manage.", http.StatusForbidden
	} else if err := model.CanRemoveMember(ws.Role, m.Role); err != nil {
		e, _ := model.AsError(err)
		msg, status = e.Message, StatusOf(e.Code)
	} else if m.Role == model.RoleOwner {
		owners, err := h.Store.OwnerCount(ctx, ws.ID)
		if err != nil {
			return err
		}
		if err := model.CheckLastOwner(m.Role, "", owners); err != nil {
			e, _ := model.AsError(err)
			msg, status = e.Message, StatusOf(e.Code)
		}
	}
	return Render(c, status, views.ConfirmPage(h.Shell(c, "Remove "+m.Name, "members"), views.ConfirmView{
		Title:  "Remove " + m.Name + "?",
		Text:   m.Name + " (" + m.Email + ") loses access to " + ws.DisplayName + " at once.",
		Detail: "They leave all of its teams, and their API tokens for it stop working. Their personal agents stay theirs.",
		Action: memberPath(m.AccountID, "remove"), Button: "Remove " + m.Name, Danger: true, Error: msg,
	}))
}

// Remove is POST /members/{user_id}/remove. Removing yourself is leaving.
func (h *Members) Remove(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	uid, err := userParam(c)
	if err != nil {
		return err
	}
	if uid == acc.ID {
		return h.Leave(c)
	}
	m, err := h.Store.Member(ctx, request.Actor(c), ws.ID, uid)
	if err != nil {
		return err
	}
	if err := h.Store.RemoveMember(ctx, request.Actor(c), ws.ID, uid); err != nil {
		return err
	}
	text := fmt.Sprintf("Removed %s from %s.", m.Name, ws.DisplayName)
	if IsHTMX(c) {
		// The counts the removal changed come along out of band.
		ov, err := h.Store.Overview(ctx, ws.ID)
		if err != nil {
			return err
		}
		if !model.CanIn(ws.Kind, ws.Role, model.ActInvite) {
			return Render(c, http.StatusOK, views.MemberRemoved(text, views.SeatCount{Members: ov.Members}))
		}
		// The freed seat may reopen the invite form: the whole invitations
		// section (with its seat badge) comes along.
		removed := views.MemberRemoved(text, views.SeatCount{Members: ov.Members})
		v, err := h.view(c, membersQuery{Page: 1, PerPage: 1})
		if err != nil {
			return err
		}
		v.InvitationsOOB = true
		return Render(c, http.StatusOK, templ.Join(removed, views.InvitationsSection(h.Shell(c, "Members", "members"), v)))
	}
	return Redirect(c, "/members", "success", text)
}

func (h *Members) leaveConfirm(c echo.Context, errMsg string) views.ConfirmView {
	ws := request.Workspace(c)
	return views.ConfirmView{
		Title:  "Leave " + ws.DisplayName + "?",
		Text:   "You will lose access to " + ws.DisplayName + " and its teams at once, and your API tokens for it stop working.",
		Detail: "Agents you created stay with the organization. To come back, someone has to invite you again.",
		Action: "/members/leave", Button: "Leave " + ws.DisplayName, Danger: true, Error: errMsg,
	}
}

// LeavePage is GET /members/leave: the confirmation.
func (h *Members) LeavePage(c echo.Context) error {
	ws := request.Workspace(c)
	// Only an owner can be the last owner: for anyone else the count is
	// not read (CanLeave looks at it for owners only).
	owners := 0
	if ws.Role == model.RoleOwner {
		n, err := h.Store.OwnerCount(c.Request().Context(), ws.ID)
		if err != nil {
			return err
		}
		owners = n
	}
	msg := ""
	if err := model.CanLeave(ws.Kind, ws.Role, owners); err != nil {
		msg = err.(*model.Error).Message
	}
	return Render(c, http.StatusOK, views.ConfirmPage(h.Shell(c, "Leave", "members"), h.leaveConfirm(c, msg)))
}

// Leave is POST /members/leave: remove yourself, then go back to Personal.
func (h *Members) Leave(c echo.Context) error {
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	err := h.Store.RemoveMember(c.Request().Context(), request.Actor(c), ws.ID, acc.ID)
	if e, ok := model.AsError(err); ok && e.Code != model.CodeNotFound {
		if IsHTMX(c) {
			return err
		}
		return Render(c, StatusOf(e.Code), views.ConfirmPage(h.Shell(c, "Leave", "members"), h.leaveConfirm(c, e.Message)))
	}
	if err != nil {
		return err
	}
	if err := request.Session(c).SetActive(c, acc.PersonalOrgID); err != nil {
		return err
	}
	return Redirect(c, "/", "success", "You left "+ws.DisplayName+".")
}

func (h *Members) transferConfirm(c echo.Context, m model.MemberRow, errMsg string) views.ConfirmView {
	ws := request.Workspace(c)
	return views.ConfirmView{
		Title:  "Transfer ownership of " + ws.DisplayName + "?",
		Text:   m.Name + " (" + m.Email + ") becomes an owner of " + ws.DisplayName + ", and you become an admin.",
		Detail: "Only an owner can make you an owner again. Both changes happen together.",
		Action: memberPath(m.AccountID, "transfer"), Button: "Transfer ownership to " + m.Name, Danger: true, Error: errMsg,
	}
}

func memberPath(id int64, action string) string {
	return "/members/" + strconv.FormatInt(id, 10) + "/" + action
}

// TransferPage is GET /members/{user_id}/transfer: the confirmation.
func (h *Members) TransferPage(c echo.Context) error {
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	uid, err := userParam(c)
	if err != nil {
		return err
	}
	m, err := h.Store.Member(c.Request().Context(), request.Actor(c), ws.ID, uid)
	if err != nil {
		return err
	}
	// A refusal shows the page with its reason, under the refusal's status.
	msg, status := "", http.StatusOK
	if ws.Personal() {
		msg, status = "A personal workspace cannot be transferred.", http.StatusForbidden
	} else if uid == acc.ID {
		msg, status = "Choose another member to become the owner.", http.StatusUnprocessableEntity
	} else if err := model.CanTransferOwnership(ws.Role, m.Role); err != nil {
		e := err.(*model.Error)
		msg, status = e.Message, StatusOf(e.Code)
	}
	return Render(c, status, views.ConfirmPage(h.Shell(c, "Transfer ownership", "members"), h.transferConfirm(c, m, msg)))
}

// Transfer is POST /members/{user_id}/transfer.
func (h *Members) Transfer(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	uid, err := userParam(c)
	if err != nil {
		return err
	}
	newOwner, _, err := h.Store.TransferOwnership(ctx, request.Actor(c), ws.ID, uid)
	if e, ok := model.AsError(err); ok && e.Code != model.CodeNotFound {
		m, merr := h.Store.Member(ctx, request.Actor(c), ws.ID, uid)
		if merr != nil {
			return merr // the id in the path names no member here: 404, as for any id of another org
		}
		return Render(c, StatusOf(e.Code), views.ConfirmPage(h.Shell(c, "Transfer ownership", "members"), h.transferConfirm(c, m, e.Message)))
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/members", "success", fmt.Sprintf("%s is now an owner of %s. You are an admin.", newOwner.Name, ws.DisplayName))
}

// invitationsAnswer renders the invitations section (htmx) or the whole page
// with the invite form's state.
func (h *Members) invitationsAnswer(c echo.Context, status int, form views.InviteForm) error {
	v, err := h.view(c, parseMembersQuery(c))
	if err != nil {
		return err
	}
	if form.Role == "" {
		form.Role = string(model.RoleMember)
	}
	v.Invite = form
	if IsHTMX(c) {
		return Render(c, status, views.InvitationsSection(h.Shell(c, "Members", "members"), v))
	}
	return h.page(c, status, v)
}

// inviteRefusal turns a store refusal into the invite form's state.
func inviteRefusal(form views.InviteForm, e *model.Error) views.InviteForm {
	form.Errors = e.Fields
	if len(e.Fields) == 0 {
		form.Message = e.Message
	}
	if d, ok := e.Details.(map[string]any); ok {
		if id, ok := d["invitation_id"].(int64); ok {
			form.PendingID = id
		}
	}
	return form
}

// Invite is POST /members/invitations: create and email an invitation.
func (h *Members) Invite(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	form := views.InviteForm{Email: c.FormValue("email"), Role: c.FormValue("role")}
	inv, token, err := h.Store.CreateInvitation(ctx, request.Actor(c), ws.ID, form.Email, form.Role)
	if e, ok := model.AsError(err); ok && e.Code != model.CodeNotFound {
		return h.invitationsAnswer(c, StatusOf(e.Code), inviteRefusal(form, e))
	}
	if err != nil {
		return err
	}
	if err := h.SendInvitation(ctx, inv, token); err != nil {
		return err
	}
	text := fmt.Sprintf("Invitation sent to %s as %s.", inv.Email, inv.Role.Label())
	if IsHTMX(c) {
		return h.invitationsAnswer(c, http.StatusOK, views.InviteForm{Success: text})
	}
	return Redirect(c, "/members", "success", text)
}

func invitationParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound("invitation")
	}
	return id, nil
}

// Resend is POST /members/invitations/{id}/resend: a new link, 7 more days.
func (h *Members) Resend(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	id, err := invitationParam(c)
	if err != nil {
		return err
	}
	inv, token, err := h.Store.ResendInvitation(ctx, request.Actor(c), ws.ID, id)
	if e, ok := model.AsError(err); ok && e.Code != model.CodeNotFound {
		return h.invitationsAnswer(c, StatusOf(e.Code), views.InviteForm{Message: e.Message})
	}
	if err != nil {
		return err
	}
	if err := h.SendInvitation(ctx, inv, token); err != nil {
		return err
	}
	text := fmt.Sprintf("Sent a new link to %s. The previous link no longer works.", inv.Email)
	if IsHTMX(c) {
		return h.invitationsAnswer(c, http.StatusOK, views.InviteForm{Success: text})
	}
	return Redirect(c, "/members", "success", text)
}

// Cancel is POST /members/invitations/{id}/cancel.
func (h *Members) Cancel(c echo.Context) error {
	ws := request.Workspace(c)
	id, err := invitationParam(c)
	if err != nil {
		return err
	}
	inv, err := h.Store.CancelInvitation(c.Request().Context(), request.Actor(c), ws.ID, id)
	if e, ok := model.AsError(err); ok && e.Code != model.CodeNotFound {
		return h.invitationsAnswer(c, StatusOf(e.Code), views.InviteForm{Message: e.Message})
	}
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Cancelled the invitation to %s. Its link no longer works.", inv.Email)
	if IsHTMX(c) {
		return h.invitationsAnswer(c, http.StatusOK, views.InviteForm{Success: text})
	}
	return Redirect(c, "/members", "success", text)
}
