package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// Agents is /agents and /agents/{id}: the list, the detail page with the
// access explainer, move and transfer, and the transfer link and banner.
type Agents struct {
	*Base
}

// SendAgentTransfer emails the transfer link to its recipient.
func (b *Base) SendAgentTransfer(ctx context.Context, t model.AgentTransfer, token string) error {
	link := b.Link("/agent-transfers/" + token)
	from := t.FromName
	if from == "" {
		from = "Someone"
	}
	subject := fmt.Sprintf("%s wants to transfer the agent %s to you", from, t.AgentName)
	lines := []string{
		fmt.Sprintf("%s (%s) wants to transfer the agent %s from %s to you.", from, t.FromEmail, t.AgentName, t.FromOrgName),
		"If you accept, it moves to your personal workspace and you become its admin.",
		"The offer expires on " + t.ExpiresAt.UTC().Format("January 2, 2006") + ".",
	}
	html, err := RenderEmail(ctx, "Take over "+t.AgentName, lines, "View the transfer", link,
		"If you were not expecting this, you can ignore this email.")
	if err != nil {
		return err
	}
	text := fmt.Sprintf("%s\n\n%s\n\n%s\n\n%s\n", lines[0], lines[1], link, lines[2])
	if err := b.Mail.Send(ctx, model.Mail{To: t.ToEmail, Subject: subject, Text: text, HTML: html}); err != nil {
		return fmt.Errorf("send transfer email: %w", err)
	}
	return nil
}

// TransferBanner lists incoming agent transfers for the banner.
func (b *Base) TransferBanner(c echo.Context, acc model.Account) ([]views.BannerItem, error) {
	if p, ok := request.PendingFor(c); !acc.Verified() || ok && !p.Transfers {
		return nil, nil // read with the session: nothing pending
	}
	ts, err := b.Store.MyAgentTransfers(c.Request().Context(), acc.ID)
	if err != nil {
		return nil, err
	}
	items := make([]views.BannerItem, 0, len(ts))
	for _, t := range ts {
		id := strconv.FormatInt(t.ID, 10)
		from := t.FromName
		if from == "" {
			from = "Someone"
		}
		items = append(items, views.BannerItem{
			ID:         "transfer-banner-" + id,
			Text:       fmt.Sprintf("%s wants to transfer the agent %s to you.", from, t.AgentName),
			Detail:     "It moves to your personal workspace. Expires " + t.ExpiresAt.UTC().Format("Jan 2, 2006") + ".",
			AcceptURL:  "/me/agent-transfers/" + id + "/accept",
			DeclineURL: "/me/agent-transfers/" + id + "/decline",
		})
	}
	return items, nil
}

func (h *Agents) listView(c echo.Context) (views.AgentsView, error) {
	ws := request.Workspace(c)
	acc, _ := request.Account(c)
	page, _ := strconv.Atoi(c.QueryParam("page"))
	// "Next" and "Previous" name the agent the page starts after or ends
	// before (db.AgentFilter): a deep page costs what the first does.
	after, _ := strconv.ParseInt(c.QueryParam("after"), 10, 64)
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	p, err := h.Store.ListAgents(c.Request().Context(), acc.ID, db.AgentFilter{OrgID: ws.ID, Page: page, PerPage: db.AgentsPageSize,
		After: after, Before: before})
	if err != nil {
		return views.AgentsView{}, err
	}
	v := views.AgentsView{OrgName: ws.DisplayName, Personal: ws.Personal(), CanCreate: model.Can(ws.Role, model.ActUseResources), Total: p.Total}
	if ws.Personal() {
		v.OrgName = "your personal workspace"
	}
	for _, a := range p.Agents {
		v.Agents = append(v.Agents, views.AgentRowView{ID: a.ID, Name: a.Name, Description: a.Description,
			Permission: string(a.Permission), Reason: a.Source.Explain(a.Permission, a.ViewerOrgRole), Creator: or(a.CreatorName, "—")})
	}
	v.Pager = components.Pager{Page: p.Page, TotalPages: p.TotalPages(), Total: p.Total, Target: "#agents-list",
		Href: func(n int) string { return "/agents?page=" + strconv.Itoa(n) }}
	if n := len(p.Agents); p.Keyset && n > 0 {
		v.Pager.NextHref = "/agents?page=" + strconv.Itoa(p.Page+1) + "&after=" + strconv.FormatInt(p.Agents[n-1].ID, 10)
		if p.Page > 2 {
			v.Pager.PrevHref = "/agents?page=" + strconv.Itoa(p.Page-1) + "&before=" + strconv.FormatInt(p.Agents[0].ID, 10)
		}
	}
	return v, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Page is GET /agents: the active workspace's agents the viewer can read.
func (h *Agents) Page(c echo.Context) error {
	v, err := h.listView(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.AgentsPage(h.Shell(c, "Agents", "agents"), v))
}

// Create is POST /agents: a new agent in the active workspace.
func (h *Agents) Create(c echo.Context) error {
	ws := request.Workspace(c)
	form := views.AgentForm{Name: c.FormValue("name"), Description: c.FormValue("description"), Config: c.FormValue("config")}
	a, err := h.Store.CreateAgent(c.Request().Context(), request.Actor(c), ws.ID,
		model.AgentInput{Name: form.Name, Description: form.Description, Config: form.Config})
	e, isModel := model.AsError(err)
	if err != nil && isModel && (e.Code == model.CodeValidation || e.Code == model.CodePlanLimit) {
		v, verr := h.listView(c)
		if verr != nil {
			return verr
		}
		form.Errors, form.Message = e.Fields, ""
		if len(e.Fields) == 0 {
			form.Message = e.Message
		}
		v.Form = form
		return Render(c, StatusOf(e.Code), views.AgentsPage(h.Shell(c, "Agents", "agents"), v))
	}
	if err != nil {
		return err
	}
	return Redirect(c, agentPath(a.ID), "success", "Agent "+a.Name+" created.")
}

func agentPath(id int64) string { return "/agents/" + strconv.FormatInt(id, 10) }

// detail builds the agent page for the viewer.
func (h *Agents) detail(c echo.Context, id int64) (views.AgentDetailView, error) {
	ctx := c.Request().Context()
	acc, _ := request.Account(c)
	// One statement: the agent, its grants and its pending transfer.
	d, err := h.Store.AgentDetail(ctx, acc.ID, id)
	if err != nil {
		return views.AgentDetailView{}, err
	}
	a := d.Agent
	v := views.AgentDetailView{ID: a.ID, Name: a.Name, Description: a.Description, Config: a.Config, OrgName: a.OrgName,
		Creator: or(a.CreatorName, "—"), Created: views.FormatTime(a.CreatedAt), Permission: string(a.Permission),
		Reason:   a.Source.Explain(a.Permission, a.ViewerOrgRole),
		CanWrite: a.Permission.AtLeast(model.PermWrite), CanAdmin: a.Permission.AtLeast(model.PermAdmin),
		Edit: views.AgentForm{Name: a.Name, Description: a.Description, Config: a.Config}}
	if a.OrgKind == model.OrgPersonal {
		v.OrgName = "Personal workspace of " + a.OrgName
	}
	for _, g := range d.Grants {
		v.Teams = append(v.Teams, views.GrantRowView{ID: g.ID, TeamID: g.TeamID, TeamName: g.TeamName, Permission: string(g.Permission)})
	}
	v.MemberQuery = c.QueryParam("member_q")
	q := c.QueryParams()
	v.ExplainerOpen = q.Get("explain") != "" || q.Has("member_q") || q.Get("user_id") != ""
	if err := h.openExplainer(c, a.OrgID, &v); err != nil {
		return v, err
	}
	if v.CanAdmin {
		if a.OrgKind == model.OrgPersonal && a.OrgID == acc.PersonalOrgID {
			for _, w := range request.Workspaces(c) {
				if !w.Personal() && model.CanOwnResources(w.Role) {
					v.MoveOrgs = append(v.MoveOrgs, components.Option{Value: strconv.FormatInt(w.ID, 10), Label: w.DisplayName})
				}
			}
		}
		if t := d.Transfer; t != nil {
			v.Transfer = &views.TransferView{ToEmail: t.ToEmail, Expires: views.FormatTime(t.ExpiresAt) + " UTC"}
		}
	}
	return v, nil
}

// openExplainer loads the explainer's first choices into v when it is open
// (closed, the page reads no members: views.AgentExplainer).
func (h *Agents) openExplainer(c echo.Context, orgID int64, v *views.AgentDetailView) error {
	if !v.ExplainerOpen {
		return nil
	}
	var err error
	if v.Members, err = h.explainCandidates(c, orgID, v.MemberQuery); err != nil {
		return err
	}
	v.MemberSearch = len(v.Members) >= PickerLimit || v.MemberQuery != ""
	return nil
}

// explainCandidates is the explainer's picker: the first members of the
// agent's org by name matching q (none when the viewer is not a member).
func (h *Agents) explainCandidates(c echo.Context, orgID int64, q string) ([]components.Option, error) {
	acc, _ := request.Account(c)
	ms, err := h.Store.PickMembers(c.Request().Context(), acc.ID, orgID, db.MemberPick{Query: q, Limit: PickerLimit})
	if err != nil {
		return nil, err
	}
	opts := make([]components.Option, 0, len(ms))
	for _, m := range ms {
		opts = append(opts, components.Option{Value: strconv.FormatInt(m.AccountID, 10), Label: m.Name + " (" + m.Role.Label() + ")"})
	}
	return opts, nil
}

func (h *Agents) render(c echo.Context, status int, v views.AgentDetailView) error {
	return Render(c, status, views.AgentPage(h.Shell(c, v.Name, "agents"), v))
}

// Detail is GET /agents/{id}; ?user_id= fills the explainer without htmx.
// An agent the viewer cannot read is not found.
func (h *Agents) Detail(c echo.Context) error {
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	if c.QueryParam("pick") == "explainer" && IsHTMX(c) {
		// Opening the explainer: its picker, with the first members.
		acc, _ := request.Account(c)
		a, err := h.Store.GetAgent(c.Request().Context(), acc.ID, id)
		if err != nil {
			return err
		}
		v := views.AgentDetailView{ID: a.ID, ExplainerOpen: true, ExplainerFocus: true}
		if err := h.openExplainer(c, a.OrgID, &v); err != nil {
			return err
		}
		return Render(c, http.StatusOK, views.AgentExplainer(v))
	}
	if c.QueryParam("pick") == "members" && IsHTMX(c) {
		// The explainer's search: its options only.
		acc, _ := request.Account(c)
		a, err := h.Store.GetAgent(c.Request().Context(), acc.ID, id)
		if err != nil {
			return err
		}
		opts, err := h.explainCandidates(c, a.OrgID, c.QueryParam("member_q"))
		if err != nil {
			return err
		}
		return Render(c, http.StatusOK, components.PickerResult("f-explain", "Choose a member…", opts, "No member matches", found(len(opts), "member")))
	}
	v, err := h.detail(c, id)
	if err != nil {
		return err
	}
	if uid := c.QueryParam("user_id"); uid != "" {
		v.ExplainFor = uid
		v.Explain = h.explain(c, id, uid)
		if x := v.Explain; x != nil && x.Error == "" && !hasOption(v.Members, uid) {
			// The member explained stays chosen though not among the first.
			v.Members = append([]components.Option{{Value: uid, Label: x.Name + " (" + x.Role + ")"}}, v.Members...)
		}
	}
	return h.render(c, http.StatusOK, v)
}

func hasOption(opts []components.Option, value string) bool {
	for _, o := range opts {
		if o.Value == value {
			return true
		}
	}
	return false
}

func (h *Agents) explain(c echo.Context, agentID int64, uidText string) *views.ExplainView {
	uid, err := strconv.ParseInt(strings.TrimSpace(uidText), 10, 64)
	if err != nil || uid <= 0 {
		return &views.ExplainView{Error: "Choose a member of the organization."}
	}
	x, err := h.Store.Explain(c.Request().Context(), request.Actor(c), agentID, uid)
	if err != nil {
		msg := "That person is not a member of the organization."
		if e, ok := model.AsError(err); ok && !errors.Is(err, model.ErrNotFound) {
			msg = e.Message
		}
		return &views.ExplainView{Error: msg}
	}
	return &views.ExplainView{Name: x.Name, Email: x.Email, Role: x.Role.Label(), Permission: string(x.Permission), Reason: x.Reason}
}

// Access is GET /agents/{id}/access?user_id=: the explainer's fragment.
func (h *Agents) Access(c echo.Context) error {
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	acc, _ := request.Account(c)
	if _, err := h.Store.GetAgent(c.Request().Context(), acc.ID, id); err != nil {
		return err
	}
	if !IsHTMX(c) {
		return c.Redirect(http.StatusSeeOther, agentPath(id)+"?user_id="+c.QueryParam("user_id"))
	}
	if c.QueryParam("user_id") == "" {
		return Render(c, http.StatusOK, views.ExplainResult(nil))
	}
	return Render(c, http.StatusOK, views.ExplainResult(h.explain(c, id, c.QueryParam("user_id"))))
}

// Update is POST /agents/{id} (write needed).
func (h *Agents) Update(c echo.Context) error {
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	name, desc, cfg := c.FormValue("name"), c.FormValue("description"), c.FormValue("config")
	_, err = h.Store.UpdateAgent(c.Request().Context(), request.Actor(c), id, db.UpdateAgentInput{Name: &name, Description: &desc, Config: &cfg})
	if fields, msg, ok := FieldErrors(err); ok {
		v, verr := h.detail(c, id)
		if verr != nil {
			return verr
		}
		v.Edit = views.AgentForm{Name: name, Description: desc, Config: cfg, Errors: fields, Message: msg}
		return h.render(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	return Redirect(c, agentPath(id), "success", "Saved.")
}

// Delete is POST /agents/{id}/delete (admin needed).
func (h *Agents) Delete(c echo.Context) error {
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	if err := h.Store.DeleteAgent(c.Request().Context(), request.Actor(c), id); err != nil {
		return err
	}
	return Redirect(c, "/agents", "success", "Agent deleted.")
}

// refused re-renders the agent page with a refusal in the move or transfer
// card; not found and internal errors go to the error page.
func (h *Agents) refused(c echo.Context, id int64, err error, set func(v *views.AgentDetailView, msg string)) error {
	e, ok := model.AsError(err)
	if !ok || e.Code == model.CodeNotFound {
		return err
	}
	v, verr := h.detail(c, id)
	if verr != nil {
		return verr
	}
	msg := e.Message
	for _, m := range e.Fields {
		msg = m
	}
	set(&v, msg)
	return h.render(c, StatusOf(e.Code), v)
}

// Move is POST /agents/{id}/move {org_id}.
func (h *Agents) Move(c echo.Context) error {
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	org, _ := strconv.ParseInt(c.FormValue("org_id"), 10, 64)
	a, err := h.Store.MoveAgentToOrg(c.Request().Context(), request.Actor(c), id, org)
	if err != nil {
		return h.refused(c, id, err, func(v *views.AgentDetailView, msg string) { v.MoveError = msg })
	}
	return Redirect(c, agentPath(id), "success", fmt.Sprintf("%s moved to %s. You keep admin on it.", a.Name, a.OrgName))
}

// Transfer is POST /agents/{id}/transfer {email}: offer it to a person.
func (h *Agents) Transfer(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	email := c.FormValue("email")
	token, t, err := h.Store.TransferAgent(ctx, request.Actor(c), id, email)
	if err != nil {
		return h.refused(c, id, err, func(v *views.AgentDetailView, msg string) { v.TransferErr, v.TransferTo = msg, email })
	}
	if err := h.SendAgentTransfer(ctx, t, token); err != nil {
		return err
	}
	return Redirect(c, agentPath(id), "success", "Transfer sent to "+t.ToEmail+". The agent moves once they accept.")
}

// CancelTransfer is POST /agents/{id}/transfer/cancel.
func (h *Agents) CancelTransfer(c echo.Context) error {
	id, err := idParam(c, "id", "agent")
	if err != nil {
		return err
	}
	if err := h.Store.CancelAgentTransfer(c.Request().Context(), request.Actor(c), id); err != nil {
		return err
	}
	return Redirect(c, agentPath(id), "success", "Transfer cancelled. Its link no longer works.")
}

// linkView is the transfer link's page for whoever opened it.
func (h *Agents) linkView(c echo.Context, token string) (views.AgentTransferLinkView, int, error) {
	t, err := h.Store.AgentTransferByToken(c.Request().Context(), token)
	if errors.Is(err, model.ErrNotFound) {
		return views.AgentTransferLinkView{Token: token, Closed: "The link may be mistyped or incomplete. Copy the whole link from the email."}, http.StatusNotFound, nil
	}
	if err != nil {
		return views.AgentTransferLinkView{}, 0, err
	}
	v := views.AgentTransferLinkView{Token: token, AgentName: t.AgentName, FromName: t.FromName, FromOrg: t.FromOrgName,
		ToEmail: t.ToEmail, Expires: "on " + t.ExpiresAt.UTC().Format("January 2, 2006 at 15:04 UTC")}
	switch {
	case t.Status == model.TransferAccepted:
		v.Closed = "This transfer was already accepted."
	case t.Status == model.TransferDeclined:
		v.Closed = "This transfer was declined."
	case t.Status != model.TransferPending:
		v.Closed = "This transfer was withdrawn. Ask the sender to send it again."
	case t.Expired(h.Store.Now()):
		v.Closed = "This transfer expired after 7 days. Ask the sender to send it again."
	}
	if v.Closed != "" {
		return v, http.StatusGone, nil
	}
	if acc, ok := request.Account(c); ok {
		v.SignedIn = true
		if acc.Email != t.ToEmail {
			v.Wrong = "This transfer was sent to " + t.ToEmail + ", but you are signed in as " + acc.Email + ". Sign in as " + t.ToEmail + " to answer it."
		} else if !acc.Verified() {
			v.Wrong = "Verify " + t.ToEmail + " first, then open this link again."
		}
	}
	return v, http.StatusOK, nil
}

func (h *Agents) renderLink(c echo.Context, status int, v views.AgentTransferLinkView) error {
	return Render(c, status, views.AgentTransferLinkPage(h.Shell(c, "Agent transfer", ""), v))
}

// LinkPage is GET /agent-transfers/{token}: the emailed link.
func (h *Agents) LinkPage(c echo.Context) error {
	v, status, err := h.linkView(c, c.Param("token"))
	if err != nil {
		return err
	}
	return h.renderLink(c, status, v)
}

func (h *Agents) linkRefused(c echo.Context, err error) error {
	e, ok := model.AsError(err)
	if !ok {
		return err
	}
	v, status, verr := h.linkView(c, c.Param("token"))
	if verr != nil {
		return verr
	}
	if v.Closed == "" {
		v.Message, status = e.Message, StatusOf(e.Code)
	}
	return h.renderLink(c, status, v)
}

// LinkAccept is POST /agent-transfers/{token}/accept.
func (h *Agents) LinkAccept(c echo.Context) error {
	token := c.Param("token")
	if _, ok := request.Account(c); !ok {
		return c.Redirect(http.StatusSeeOther, "/login?next=/agent-transfers/"+token)
	}
	a, err := h.Store.AcceptAgentTransfer(c.Request().Context(), request.Actor(c), db.TransferRef{Token: token})
	if err != nil {
		return h.linkRefused(c, err)
	}
	return h.accepted(c, a)
}

// accepted switches to the personal workspace and opens the agent.
func (h *Agents) accepted(c echo.Context, a model.Agent) error {
	if err := request.Session(c).SetActive(c, a.OrgID); err != nil {
		return err
	}
	return Redirect(c, agentPath(a.ID), "success", a.Name+" is yours now, in your personal workspace.")
}

// LinkDecline is POST /agent-transfers/{token}/decline.
func (h *Agents) LinkDecline(c echo.Context) error {
	token := c.Param("token")
	if _, ok := request.Account(c); !ok {
		return c.Redirect(http.StatusSeeOther, "/login?next=/agent-transfers/"+token)
	}
	t, err := h.Store.DeclineAgentTransfer(c.Request().Context(), request.Actor(c), db.TransferRef{Token: token})
	if err != nil {
		return h.linkRefused(c, err)
	}
	return Redirect(c, "/", "info", "You declined the agent "+t.AgentName+".")
}

// BannerAccept is POST /me/agent-transfers/{id}/accept from the banner.
func (h *Agents) BannerAccept(c echo.Context) error {
	id, err := idParam(c, "id", "transfer")
	if err != nil {
		return err
	}
	a, err := h.Store.AcceptAgentTransfer(c.Request().Context(), request.Actor(c), db.TransferRef{ID: id})
	if err != nil {
		return err
	}
	return h.accepted(c, a)
}

// BannerDecline is POST /me/agent-transfers/{id}/decline from the banner.
func (h *Agents) BannerDecline(c echo.Context) error {
	id, err := idParam(c, "id", "transfer")
	if err != nil {
		return err
	}
	t, err := h.Store.DeclineAgentTransfer(c.Request().Context(), request.Actor(c), db.TransferRef{ID: id})
	if err != nil {
		return err
	}
	text := "You declined the agent " + t.AgentName + "."
	if IsHTMX(c) {
		return Render(c, http.StatusOK, views.BannerDone("transfer-banner-"+strconv.FormatInt(id, 10), text))
	}
	return Redirect(c, "/", "info", text)
}
