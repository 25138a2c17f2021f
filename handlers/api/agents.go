package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/request"
)

// TransferSender emails an agent transfer link (handlers.Base does).
type TransferSender interface {
	SendAgentTransfer(ctx context.Context, t model.AgentTransfer, token string) error
}

// Agents handles the agents routes of API.md and the caller's incoming
// agent transfers.
type Agents struct {
	*Base
	Mail TransferSender
}

// AgentView is an agent in API answers, with the caller's permission.
type AgentView struct {
	ID          int64            `json:"id"`
	OrgID       int64            `json:"org_id"`
	OrgSlug     string           `json:"org_slug"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Config      string           `json:"config"`
	CreatedBy   *int64           `json:"created_by"`
	Permission  model.Permission `json:"permission"`
	Source      model.Source     `json:"source"`
	CreatedAt   string           `json:"created_at"`
	UpdatedAt   string           `json:"updated_at"`
}

func agentView(a model.Agent) AgentView {
	return AgentView{ID: a.ID, OrgID: a.OrgID, OrgSlug: a.OrgSlug, Name: a.Name, Description: a.Description, Config: a.Config,
		CreatedBy: a.CreatedBy, Permission: a.Permission, Source: a.Source, CreatedAt: rfc3339(a.CreatedAt), UpdatedAt: rfc3339(a.UpdatedAt)}
}

// TransferView is an agent transfer in API answers.
type TransferView struct {
	ID        int64  `json:"id"`
	AgentID   int64  `json:"agent_id"`
	AgentName string `json:"agent_name"`
	FromOrgID int64  `json:"from_org_id"`
	FromName  string `json:"from_name"`
	FromEmail string `json:"from_email"`
	ToEmail   string `json:"to_email"`
	Status    string `json:"status"`
	ExpiresAt string `json:"expires_at"`
	CreatedAt string `json:"created_at"`
}

func transferView(t model.AgentTransfer) TransferView {
	return TransferView{ID: t.ID, AgentID: t.AgentID, AgentName: t.AgentName, FromOrgID: t.FromOrgID, FromName: t.FromName,
		FromEmail: t.FromEmail, ToEmail: t.ToEmail, Status: t.Status, ExpiresAt: rfc3339(t.ExpiresAt), CreatedAt: rfc3339(t.CreatedAt)}
}

// boundOrg is the org a token is limited to (0 = none).
func boundOrg(c echo.Context) int64 {
	if t, ok := request.Token(c); ok && t.OrgID != nil {
		return *t.OrgID
	}
	return 0
}

// agent loads {id} for the caller; outside the token's org it is not found.
func (h *Agents) agent(c echo.Context) (model.Agent, error) {
	id, err := ParseID(c, "id", "agent")
	if err != nil {
		return model.Agent{}, err
	}
	a, err := h.Store.GetAgent(c.Request().Context(), Account(c).ID, id)
	if err != nil {
		return a, err
	}
	if b := boundOrg(c); b != 0 && a.OrgID != b {
		return model.Agent{}, model.NotFound("agent")
	}
	if err := h.SSOGate(c, a.OrgID, a.OrgName); err != nil {
		return model.Agent{}, err
	}
	return a, nil
}

type createAgentBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Config      *string `json:"config"`
	Org         any     `json:"org"`
}

// orgRefOf reads an org given as an id (number) or an id or slug (string).
func orgRefOf(v any, field string) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case float64:
		if x != float64(int64(x)) || x <= 0 {
			return "", model.InvalidField(field, field+" must be an org id or slug.")
		}
		return strconv.FormatInt(int64(x), 10), nil
	case string:
		return strings.TrimSpace(x), nil
	}
	return "", model.InvalidField(field, field+" must be an org id or slug.")
}

// Create is POST /api/agents {name, description?, config?, org?}: in org, or
// in the caller's personal workspace (the token's org for an org token).
func (h *Agents) Create(c echo.Context) error {
	var in createAgentBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	ref, err := orgRefOf(in.Org, "org")
	if err != nil {
		return err
	}
	orgID := boundOrg(c)
	if ref != "" {
		ws, err := h.OrgRef(c, ref)
		if err != nil {
			return err
		}
		orgID = ws.ID
	}
	a, err := h.Store.CreateAgent(c.Request().Context(), request.Actor(c), orgID,
		model.AgentInput{Name: deref(in.Name), Description: deref(in.Description), Config: deref(in.Config)})
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, agentView(a))
}

// List is GET /api/agents?org=&page=&per_page=&after=&before=: the agents
// the caller can read, each with its permission.
func (h *Agents) List(c echo.Context) error {
	f := db.AgentFilter{OrgID: boundOrg(c)}
	var err error
	if f.ExcludeOrgs, err = h.SSOExcluded(c); err != nil {
		return err
	}
	if ref := strings.TrimSpace(c.QueryParam("org")); ref != "" {
		ws, err := h.OrgRef(c, ref)
		if err != nil {
			return err
		}
		f.OrgID = ws.ID
	}
	fields := model.Fields{}
	if f.Page, err = intQuery(c, "page"); err != nil {
		fields.Add("page", err.(*model.Error).Message)
	}
	if f.PerPage, err = intQuery(c, "per_page"); err != nil {
		fields.Add("per_page", err.(*model.Error).Message)
	}
	// after / before: the agent a page starts after or ends before, as the
	// agents page's Next and Previous (db.AgentFilter); page still numbers it.
	var after, before int
	if after, err = intQuery(c, "after"); err != nil {
		fields.Add("after", err.(*model.Error).Message)
	}
	if before, err = intQuery(c, "before"); err != nil {
		fields.Add("before", err.(*model.Error).Message)
	}
	f.After, f.Before = int64(after), int64(before)
	// They place a numbered page of one org's agents: asked otherwise, they
	// would be ignored without a word.
	switch {
	case after > 0 && before > 0:
		fields.Add("before", "Give after or before, not both.")
	case (after > 0 || before > 0) && f.OrgID == 0:
		fields.Add("org", "after and before page one org's agents: name it with org.")
	case (after > 0 || before > 0) && f.Page < 2:
		fields.Add("page", "The page after or before an agent is page 2 or later.")
	}
	if err := fields.Err(); err != nil {
		return err
	}
	page, err := h.Store.ListAgents(c.Request().Context(), Account(c).ID, f)
	if err != nil {
		return err
	}
	as, p := page.Agents, NewPagePagination(page.Page, page.PerPage, page.Total)
	return handJSON(c, http.StatusOK, agentsListSize(as), func(b []byte) []byte { return appendAgentsList(b, as, p) },
		func() any { return Envelope{Success: true, Data: agentViews(as), Pagination: p} })
}

// Get is GET /api/agents/{id}: the agent with the caller's permission; an
// agent the caller cannot read is 404.
func (h *Agents) Get(c echo.Context) error {
	a, err := h.agent(c)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, agentView(a))
}

type updateAgentBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Config      *string `json:"config"`
}

// Update is PATCH /api/agents/{id} (write needed).
func (h *Agents) Update(c echo.Context) error {
	cur, err := h.agent(c)
	if err != nil {
		return err
	}
	var in updateAgentBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	a, err := h.Store.UpdateAgent(c.Request().Context(), request.Actor(c), cur.ID,
		db.UpdateAgentInput{Name: in.Name, Description: in.Description, Config: in.Config})
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, agentView(a))
}

// Delete is DELETE /api/agents/{id} (admin needed).
func (h *Agents) Delete(c echo.Context) error {
	cur, err := h.agent(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteAgent(c.Request().Context(), request.Actor(c), cur.ID); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"deleted": true, "id": cur.ID})
}

// Access is GET /api/agents/{id}/access?user_id=: the access explainer.
func (h *Agents) Access(c echo.Context) error {
	cur, err := h.agent(c)
	if err != nil {
		return err
	}
	uid := Account(c).ID
	if s := strings.TrimSpace(c.QueryParam("user_id")); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return model.InvalidField("user_id", "user_id must be the id of a member of the agent's org.")
		}
		uid = n
	}
	x, err := h.Store.Explain(c.Request().Context(), request.Actor(c), cur.ID, uid)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, x)
}

type moveBody struct {
	OrgID any `json:"org_id"`
}

// Move is POST /api/agents/{id}/move-to-org {org_id}.
func (h *Agents) Move(c echo.Context) error {
	cur, err := h.agent(c)
	if err != nil {
		return err
	}
	var in moveBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	ref, err := orgRefOf(in.OrgID, "org_id")
	if err != nil {
		return err
	}
	if ref == "" {
		return model.InvalidField("org_id", "org_id is required: the organization to move the agent into.")
	}
	// Through OrgRef: a token bound to one org cannot move anything into another.
	ws, err := h.OrgRef(c, ref)
	if err != nil {
		return model.InvalidField("org_id", "Choose an organization you belong to.")
	}
	a, err := h.Store.MoveAgentToOrg(c.Request().Context(), request.Actor(c), cur.ID, ws.ID)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, agentView(a))
}

type transferAgentBody struct {
	Email *string `json:"email"`
}

// Transfer is POST /api/agents/{id}/transfer {email}: 201 pending transfer,
// emailed to the recipient.
func (h *Agents) Transfer(c echo.Context) error {
	cur, err := h.agent(c)
	if err != nil {
		return err
	}
	var in transferAgentBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	token, t, err := h.Store.TransferAgent(ctx, request.Actor(c), cur.ID, deref(in.Email))
	if err != nil {
		return err
	}
	if err := h.Mail.SendAgentTransfer(ctx, t, token); err != nil {
		return err
	}
	return OK(c, http.StatusCreated, transferView(t))
}

// Mine is GET /api/me/agent-transfers: pending transfers to the caller. An
// org-bound token (even one bound to the personal workspace, where accepted
// agents land) sees only transfers out of its own org (issue 7 item 4).
func (h *Agents) Mine(c echo.Context) error {
	ts, err := h.Store.MyAgentTransfers(c.Request().Context(), Account(c).ID)
	if err != nil {
		return err
	}
	out := make([]TransferView, 0, len(ts))
	for _, t := range ts {
		if OutsideBinding(c, t.FromOrgID) {
			continue
		}
		out = append(out, transferView(t))
	}
	return List(c, out, NewPagePagination(1, len(out), len(out)))
}

// AcceptMine is POST /api/me/agent-transfers/{id}/accept: the agent, now in
// the caller's personal workspace.
func (h *Agents) AcceptMine(c echo.Context) error {
	id, err := ParseID(c, "id", "transfer")
	if err != nil {
		return err
	}
	if err := RequireUnbound(c); err != nil {
		return err
	}
	a, err := h.Store.AcceptAgentTransfer(c.Request().Context(), request.Actor(c), db.TransferRef{ID: id})
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, agentView(a))
}

// DeclineMine is POST /api/me/agent-transfers/{id}/decline.
func (h *Agents) DeclineMine(c echo.Context) error {
	id, err := ParseID(c, "id", "transfer")
	if err != nil {
		return err
	}
	if err := RequireUnbound(c); err != nil {
		return err
	}
	t, err := h.Store.DeclineAgentTransfer(c.Request().Context(), request.Actor(c), db.TransferRef{ID: id})
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"declined": true, "id": t.ID, "status": t.Status})
}
