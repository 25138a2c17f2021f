package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
	"guildhall/web/request"
)

// InvitationSender emails an invitation link (handlers.Base does).
type InvitationSender interface {
	SendInvitation(ctx context.Context, inv model.Invitation, token string) error
}

// Members handles the members and invitations routes of API.md, and the
// ownership transfer.
type Members struct {
	*Base
	Mail InvitationSender
}

// MemberView is a membership in API answers.
type MemberView struct {
	UserID       int64      `json:"user_id"`
	OrgID        int64      `json:"org_id"`
	Name         string     `json:"name"`
	Email        string     `json:"email"`
	Role         model.Role `json:"role"`
	JoinedAt     string     `json:"joined_at"`
	LastActiveAt *string    `json:"last_active_at"`
	TwoFactor    *bool      `json:"two_factor,omitempty"` // owners only
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func memberView(m model.MemberRow) MemberView {
	v := MemberView{UserID: m.AccountID, OrgID: m.OrgID, Name: m.Name, Email: m.Email, Role: m.Role, JoinedAt: rfc3339(m.JoinedAt)}
	if m.LastActiveAt != nil {
		s := rfc3339(*m.LastActiveAt)
		v.LastActiveAt = &s
	}
	return v
}

// InvitationView is an invitation in API answers.
type InvitationView struct {
	ID        int64              `json:"id"`
	Email     string             `json:"email"`
	Role      model.Role         `json:"role"`
	Status    string             `json:"status"`
	ExpiresAt string             `json:"expires_at"`
	CreatedAt string             `json:"created_at"`
	Org       *InvitationOrgView `json:"org,omitempty"`
	InvitedBy *InviterView       `json:"invited_by"`
}

// InvitationOrgView names the org of an invitation (the invitee's lists).
type InvitationOrgView struct {
	ID          int64  `json:"id"`
	Slug        string `json:"slug"`
	DisplayName string `json:"display_name"`
}

// InviterView is who sent an invitation.
type InviterView struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func invitationView(inv model.Invitation, now time.Time, withOrg bool) InvitationView {
	status := string(inv.Status)
	if inv.StateAt(now) == model.LinkExpired {
		status = string(model.InvitationExpired)
	}
	v := InvitationView{ID: inv.ID, Email: inv.Email, Role: inv.Role, Status: status,
		ExpiresAt: rfc3339(inv.ExpiresAt), CreatedAt: rfc3339(inv.CreatedAt)}
	if inv.InvitedBy != nil {
		v.InvitedBy = &InviterView{ID: *inv.InvitedBy, Name: inv.InviterName, Email: inv.InviterEmail}
	}
	if withOrg {
		v.Org = &InvitationOrgView{ID: inv.OrgID, Slug: inv.OrgSlug, DisplayName: inv.OrgName}
	}
	return v
}

// pageQuery reads the optional page and per_page query parameters (0 when
// absent), reporting both when both are wrong.
func pageQuery(c echo.Context) (page, perPage int, err error) {
	f := model.Fields{}
	page, err = intQuery(c, "page")
	if err != nil {
		f.Add("page", err.(*model.Error).Fields["page"])
	}
	perPage, err = intQuery(c, "per_page")
	if err != nil {
		f.Add("per_page", err.(*model.Error).Fields["per_page"])
	}
	return page, perPage, f.Err()
}

// intQuery reads an optional positive integer query parameter.
func intQuery(c echo.Context, name string) (int, error) {
	s := strings.TrimSpace(c.QueryParam(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, model.InvalidField(name, name+" must be a positive whole number.")
	}
	return n, nil
}

// List is GET /api/orgs/{org}/members?role=&page=&per_page=.
func (h *Members) List(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	page, perPage, err := pageQuery(c)
	if err != nil {
		return err
	}
	page, perPage = model.MemberPaging(page, perPage)
	rows, total, err := h.Store.Members(c.Request().Context(), request.Actor(c), ws.ID, c.QueryParam("role"), page, perPage)
	if err != nil {
		return err
	}
	out := make([]MemberView, 0, len(rows))
	for _, m := range rows {
		out = append(out, memberView(m))
		withTwoFactor(&out[len(out)-1], ws, m)
	}
	return List(c, out, NewPagePagination(page, perPage, total))
}

type roleBody struct {
	Role *string `json:"role"`
}

// ChangeRole is PATCH /api/orgs/{org}/members/{user_id}.
func (h *Members) ChangeRole(c echo.Context) error {
	ws, uid, err := h.OrgAndID(c, "user_id", "Member")
	if err != nil {
		return err
	}
	var in roleBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	if in.Role == nil {
		return model.InvalidField("role", "role is required: owner, admin, member or billing.")
	}
	m, err := h.Store.ChangeRole(c.Request().Context(), request.Actor(c), ws.ID, uid, *in.Role)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, memberView(m))
}

// Remove is DELETE /api/orgs/{org}/members/{user_id}; yourself = leave.
func (h *Members) Remove(c echo.Context) error {
	ws, uid, err := h.OrgAndID(c, "user_id", "Member")
	if err != nil {
		return err
	}
	if err := h.Store.RemoveMember(c.Request().Context(), request.Actor(c), ws.ID, uid); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"removed": true, "user_id": uid})
}

type transferBody struct {
	UserID *int64 `json:"user_id"`
}

// TransferOwnership is POST /api/orgs/{org}/transfer-ownership: the named
// member becomes owner and the caller admin. It answers the two memberships.
func (h *Members) TransferOwnership(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in transferBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	if in.UserID == nil {
		return model.InvalidField("user_id", "user_id is required: the member who becomes owner.")
	}
	newOwner, former, err := h.Store.TransferOwnership(c.Request().Context(), request.Actor(c), ws.ID, *in.UserID)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{
		"new_owner":    memberView(newOwner),
		"former_owner": memberView(former),
		"memberships":  []MemberView{memberView(newOwner), memberView(former)},
	})
}

type inviteBody struct {
	Email *string `json:"email"`
	Role  *string `json:"role"`
}

// Invite is POST /api/orgs/{org}/invitations: 201 {id, email, role, expires_at}.
func (h *Members) Invite(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in inviteBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	email, role := "", ""
	if in.Email != nil {
		email = *in.Email
	}
	if in.Role != nil {
		role = *in.Role
	}
	ctx := c.Request().Context()
	inv, token, err := h.Store.CreateInvitation(ctx, request.Actor(c), ws.ID, email, role)
	if err != nil {
		return err
	}
	if err := h.Mail.SendInvitation(ctx, inv, token); err != nil {
		return err
	}
	return OK(c, http.StatusCreated, map[string]any{
		"id": inv.ID, "email": inv.Email, "role": inv.Role, "status": inv.Status, "expires_at": rfc3339(inv.ExpiresAt),
	})
}

// Pending is GET /api/orgs/{org}/invitations.
func (h *Members) Pending(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	invs, err := h.Store.PendingInvitations(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	now := h.Store.Now()
	out := make([]InvitationView, 0, len(invs))
	for _, inv := range invs {
		out = append(out, invitationView(inv, now, false))
	}
	return List(c, out, NewPagePagination(1, len(out), len(out)))
}

// Resend is POST /api/orgs/{org}/invitations/{id}/resend: a new link and
// expiry, emailed.
func (h *Members) Resend(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "invitation")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	inv, token, err := h.Store.ResendInvitation(ctx, request.Actor(c), ws.ID, id)
	if err != nil {
		return err
	}
	if err := h.Mail.SendInvitation(ctx, inv, token); err != nil {
		return err
	}
	return OK(c, http.StatusOK, invitationView(inv, h.Store.Now(), false))
}

// Cancel is DELETE /api/orgs/{org}/invitations/{id}.
func (h *Members) Cancel(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "invitation")
	if err != nil {
		return err
	}
	inv, err := h.Store.CancelInvitation(c.Request().Context(), request.Actor(c), ws.ID, id)
	if err != nil {
		return err
	}
	v := invitationView(inv, h.Store.Now(), false)
	return OK(c, http.StatusOK, map[string]any{"cancelled": true, "id": v.ID, "email": v.Email, "role": v.Role, "status": v.Status})
}

// Mine is GET /api/me/org-invitations: pending invitations for the caller's
// verified email. An org-bound token sees only its own org's (none, as the
// account is a member there already): other orgs are outside it.
func (h *Members) Mine(c echo.Context) error {
	invs, err := h.Store.MyInvitations(c.Request().Context(), Account(c).ID)
	if err != nil {
		return err
	}
	now := h.Store.Now()
	out := make([]InvitationView, 0, len(invs))
	for _, inv := range invs {
		if OutsideBinding(c, inv.OrgID) {
			continue
		}
		out = append(out, invitationView(inv, now, true))
	}
	return List(c, out, NewPagePagination(1, len(out), len(out)))
}

// AcceptMine is POST /api/me/org-invitations/{id}/accept: the membership.
func (h *Members) AcceptMine(c echo.Context) error {
	if err := RequireUnbound(c); err != nil {
		return err
	}
	id, err := ParseID(c, "id", "invitation")
	if err != nil {
		return err
	}
	m, err := h.Store.AcceptInvitationByID(c.Request().Context(), request.Actor(c), id)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, memberView(m))
}

// DeclineMine is POST /api/me/org-invitations/{id}/decline.
func (h *Members) DeclineMine(c echo.Context) error {
	if err := RequireUnbound(c); err != nil {
		return err
	}
	id, err := ParseID(c, "id", "invitation")
	if err != nil {
		return err
	}
	inv, err := h.Store.DeclineInvitationByID(c.Request().Context(), request.Actor(c), id)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"declined": true, "id": inv.ID, "status": inv.Status})
}

type acceptTokenBody struct {
	Token string `json:"token"`
}

// AcceptToken is POST /api/invitations/accept {token}: the emailed link's
// token, for API clients. The caller's verified email must be the invited one.
func (h *Members) AcceptToken(c echo.Context) error {
	if err := RequireUnbound(c); err != nil {
		return err
	}
	var in acceptTokenBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	tok := strings.TrimSpace(in.Token)
	if i := strings.LastIndex(tok, "/invitations/"); i >= 0 {
		tok = tok[i+len("/invitations/"):] // a pasted link works too
	}
	if tok == "" {
		return model.InvalidField("token", "token is required: the token from the invitation link.")
	}
	// The token came by email to the invited address: it proves that
	// address, as opening the link in a browser does.
	if _, err := h.Store.VerifyEmailByInvitation(c.Request().Context(), request.Actor(c), tok); err != nil {
		return err
	}
	m, err := h.Store.AcceptInvitation(c.Request().Context(), request.Actor(c), tok)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, memberView(m))
}
