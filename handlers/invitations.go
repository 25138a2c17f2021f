package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/ratelimit"
	"guildhall/web/request"
)

// Invitations handles the emailed invitation link, sign-up through it, and
// the banner's accept and decline.
type Invitations struct {
	*Base
	Limiter *ratelimit.Limiter
}

// SendInvitation emails the invitation link (plain text and HTML) to the
// invitee. The link carries the secret token; the database only has its hash.
func (b *Base) SendInvitation(ctx context.Context, inv model.Invitation, token string) error {
	link := b.Link("/invitations/" + token)
	inviter := inv.InviterName
	if inviter == "" {
		inviter = "An admin"
	}
	expires := inv.ExpiresAt.UTC().Format("January 2, 2006")
	subject := fmt.Sprintf("%s invited you to join %s on Guildhall", inviter, inv.OrgName)
	lines := []string{
		fmt.Sprintf("%s invited %s to join %s on Guildhall as %s.", inviter, inv.Email, inv.OrgName, inv.Role.Label()),
		"Open the link to accept or decline. If you have no account yet, you can create one there with this email address.",
		"The link works until " + expires + " and only once.",
	}
	html, err := RenderEmail(ctx, "Join "+inv.OrgName+" on Guildhall", lines, "View invitation", link,
		"If you were not expecting this invitation, you can ignore this email.")
	if err != nil {
		return err
	}
	text := fmt.Sprintf("%s\n\n%s\n\n%s\n\n%s\n\nIf you were not expecting this invitation, you can ignore this email.\n",
		lines[0], lines[1], link, lines[2])
	if err := b.Mail.Send(ctx, model.Mail{To: inv.Email, Subject: subject, Text: text, HTML: html}); err != nil {
		return fmt.Errorf("send invitation email: %w", err)
	}
	return nil
}

// InvitationBanner lists the account's pending invitations for the banner on
// every page (verified emails only; the store returns none otherwise).
func (b *Base) InvitationBanner(c echo.Context, acc model.Account) ([]views.BannerItem, error) {
	if !acc.Verified() || strings.HasPrefix(c.Request().URL.Path, "/invitations/") {
		return nil, nil // the link page shows the invitation itself
	}
	if p, ok := request.PendingFor(c); ok && !p.Invitations {
		return nil, nil // read with the session: nothing pending
	}
	invs, err := b.Store.MyInvitations(c.Request().Context(), acc.ID)
	if err != nil {
		return nil, err
	}
	items := make([]views.BannerItem, 0, len(invs))
	for _, inv := range invs {
		id := strconv.FormatInt(inv.ID, 10)
		who := inv.InviterName
		if who == "" {
			who = "An admin"
		}
		items = append(items, views.BannerItem{
			ID:         "invitation-banner-" + id,
			Text:       fmt.Sprintf("%s invited you to join %s as %s.", who, inv.OrgName, inv.Role.Label()),
			Detail:     "Expires " + inv.ExpiresAt.UTC().Format("Jan 2, 2006") + ".",
			AcceptURL:  "/me/invitations/" + id + "/accept",
			DeclineURL: "/me/invitations/" + id + "/decline",
		})
	}
	return items, nil
}

// closedLink describes a link that no longer works, for its page.
func closedLink(state model.InvitationState, inv model.Invitation) (title, text string) {
	org := inv.OrgName
	who := inv.InviterName
	if who == "" {
		who = "an admin of the organization"
	}
	switch state {
	case model.LinkExpired:
		return "This invitation has expired", fmt.Sprintf("The invitation to join %s ran out after 7 days. Ask %s to send a new one.", org, who)
	case model.LinkRotated:
		return "This link was replaced", fmt.Sprintf("A newer invitation email to join %s replaced this one. Use the link in the most recent email.", org)
	case model.LinkCancelled:
		return "This invitation was cancelled", fmt.Sprintf("The invitation to join %s was withdrawn. Ask %s if you think this is a mistake.", org, who)
	case model.LinkAccepted:
		return "This invitation was already used", fmt.Sprintf("The invitation to join %s has been accepted. Sign in to open %s.", org, org)
	case model.LinkDeclined:
		return "This invitation was declined", fmt.Sprintf("The invitation to join %s was declined. Ask %s to invite you again.", org, who)
	}
	return "This invitation link is not valid", "The link may be mistyped or incomplete. Copy the whole link from the email, or ask for a new invitation."
}

// closedStatus is the HTTP status of a closed link's page.
func closedStatus(state model.InvitationState) int {
	if state == model.LinkUnknown {
		return http.StatusNotFound
	}
	return http.StatusGone
}

// linkView works out what the link page shows to whoever opened it.
func (h *Invitations) linkView(c echo.Context, token string) (views.InvitationLinkView, int, error) {
	ctx := c.Request().Context()
	link, err := h.Store.InvitationByToken(ctx, token)
	if err != nil {
		return views.InvitationLinkView{}, 0, err
	}
	inv := link.Invitation
	v := views.InvitationLinkView{Token: token, OrgName: inv.OrgName, InviterName: inv.InviterName, Email: inv.Email,
		RoleLabel: inv.Role.Label(), Expires: "on " + inv.ExpiresAt.UTC().Format("January 2, 2006 at 15:04 UTC")}
	if link.State != model.LinkValid {
		v.Mode = views.LinkClosed
		v.Title, v.Text = closedLink(link.State, inv)
		// The person who accepted it opens their old email again: say so.
		if acc, ok := request.Account(c); ok && link.State == model.LinkAccepted && inv.AcceptedBy != nil && *inv.AcceptedBy == acc.ID {
			v.Title = "You already joined " + inv.OrgName
			v.Text = fmt.Sprintf("You accepted this invitation and are a member of %s. Pick it in the workspace switcher at the top.", inv.OrgName)
			return v, http.StatusOK, nil
		}
		return v, closedStatus(link.State), nil
	}
	if acc, ok := request.Account(c); ok {
		v.SignedInAs = acc.Email
		switch {
		case acc.Email != inv.Email:
			v.Mode = views.LinkWrong
		case !acc.Verified():
			v.Mode = views.LinkVerify
		default:
			v.Mode = views.LinkAccept
		}
		return v, http.StatusOK, nil
	}
	if _, err := h.Store.AccountByEmail(ctx, inv.Email); err == nil {
		v.Mode = views.LinkSignIn
	} else if errors.Is(err, model.ErrNotFound) {
		v.Mode = views.LinkSignUp
	} else {
		return v, 0, err
	}
	return v, http.StatusOK, nil
}

func (h *Invitations) renderLink(c echo.Context, status int, v views.InvitationLinkView) error {
	title := "Invitation"
	if v.OrgName != "" {
		title = "Join " + v.OrgName
	}
	return Render(c, status, views.InvitationLinkPage(h.Shell(c, title, ""), v))
}

// LinkPage is GET /invitations/{token}: every case of SPEC 5.
func (h *Invitations) LinkPage(c echo.Context) error {
	if err := h.verifyByLink(c, c.Param("token")); err != nil {
		return err
	}
	v, status, err := h.linkView(c, c.Param("token"))
	if err != nil {
		return err
	}
	return h.renderLink(c, status, v)
}

// refused re-renders the link page with the store's refusal on top.
func (h *Invitations) refused(c echo.Context, err error) error {
	e, ok := model.AsError(err)
	if !ok {
		return err
	}
	v, status, verr := h.linkView(c, c.Param("token"))
	if verr != nil {
		return verr
	}
	if v.Mode != views.LinkClosed {
		v.Message = e.Message
		status = StatusOf(e.Code)
	}
	return h.renderLink(c, status, v)
}

// Accept is POST /invitations/{token}/accept by the signed-in invitee.
func (h *Invitations) Accept(c echo.Context) error {
	token := c.Param("token")
	if _, ok := request.Account(c); !ok {
		return c.Redirect(http.StatusSeeOther, "/login?next=/invitations/"+token)
	}
	if err := h.verifyByLink(c, token); err != nil {
		return err
	}
	m, err := h.Store.AcceptInvitation(c.Request().Context(), request.Actor(c), token)
	if err != nil {
		return h.refused(c, err)
	}
	return h.joined(c, m)
}

// verifyByLink verifies the signed-in account's email when it opens a valid
// invitation link sent to that address: holding the emailed link proves the
// address, so the invitee need not wait for a second email.
func (h *Invitations) verifyByLink(c echo.Context, token string) error {
	acc, ok := request.Account(c)
	if !ok || acc.Verified() {
		return nil
	}
	verified, err := h.Store.VerifyEmailByInvitation(c.Request().Context(), request.Actor(c), token)
	if err != nil || !verified {
		return err
	}
	fresh, err := h.Store.AccountByID(c.Request().Context(), acc.ID)
	if err != nil {
		return err
	}
	request.SetAccount(c, fresh, request.SessionID(c))
	return nil
}

// joined makes the org the active workspace and lands on its overview.
func (h *Invitations) joined(c echo.Context, m model.MemberRow) error {
	ws, err := h.Store.Workspace(c.Request().Context(), m.AccountID, strconv.FormatInt(m.OrgID, 10))
	if err != nil {
		return err
	}
	if err := request.Session(c).SetActive(c, ws.ID); err != nil {
		return err
	}
	return Redirect(c, "/", "success", fmt.Sprintf("Welcome to %s! You joined as %s.", ws.DisplayName, m.Role.Label()))
}

// Decline is POST /invitations/{token}/decline by the signed-in invitee.
func (h *Invitations) Decline(c echo.Context) error {
	token := c.Param("token")
	if _, ok := request.Account(c); !ok {
		return c.Redirect(http.StatusSeeOther, "/login?next=/invitations/"+token)
	}
	inv, err := h.Store.DeclineInvitation(c.Request().Context(), request.Actor(c), token)
	if err != nil {
		return h.refused(c, err)
	}
	return Render(c, http.StatusOK, views.Notice(h.Shell(c, "Invitation declined", ""), "Invitation declined",
		"You declined the invitation to join "+inv.OrgName+". Nobody was added.", "/", "Go to your workspace"))
}

// Signup is POST /invitations/{token}/signup: create the account with the
// invited email (verified by the link) and join, then sign in.
func (h *Invitations) Signup(c echo.Context) error {
	token := c.Param("token")
	if _, ok := request.Account(c); ok {
		return c.Redirect(http.StatusSeeOther, "/invitations/"+token)
	}
	v, status, err := h.linkView(c, token)
	if err != nil {
		return err
	}
	if v.Mode != views.LinkSignUp {
		return h.renderLink(c, status, v)
	}
	v.Name = c.FormValue("name")
	if h.Limiter != nil {
		if ok, _ := h.Limiter.Allow("signup-ip:" + c.RealIP()); !ok {
			v.Message = ErrRateLimited.Message
			return h.renderLink(c, http.StatusTooManyRequests, v)
		}
	}
	acc, m, err := h.Store.SignupWithInvitation(c.Request().Context(), request.Actor(c), token, v.Name, c.FormValue("password"))
	if e, ok := model.AsError(err); ok {
		if e.Code == model.CodeValidation || e.Code == model.CodeConflict && len(e.Fields) > 0 {
			v.Errors = e.Fields
			if msg := e.Fields["email"]; msg != "" {
				v.Message = msg
			}
			return h.renderLink(c, http.StatusUnprocessableEntity, v)
		}
		return h.refused(c, err)
	}
	if err != nil {
		return err
	}
	if err := request.Session(c).SignIn(c, acc.ID); err != nil {
		return err
	}
	return h.joined(c, m)
}

// BannerAccept is POST /me/invitations/{id}/accept from the banner.
func (h *Invitations) BannerAccept(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return model.NotFound("invitation")
	}
	m, err := h.Store.AcceptInvitationByID(c.Request().Context(), request.Actor(c), id)
	if err != nil {
		return err
	}
	return h.joined(c, m)
}

// BannerDecline is POST /me/invitations/{id}/decline from the banner.
func (h *Invitations) BannerDecline(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return model.NotFound("invitation")
	}
	inv, err := h.Store.DeclineInvitationByID(c.Request().Context(), request.Actor(c), id)
	if err != nil {
		return err
	}
	if IsHTMX(c) {
		return Render(c, http.StatusOK, views.BannerDone("invitation-banner-"+strconv.FormatInt(id, 10),
			"You declined the invitation to join "+inv.OrgName+"."))
	}
	return Redirect(c, "/", "info", "You declined the invitation to join "+inv.OrgName+".")
}
