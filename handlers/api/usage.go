package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
	"guildhall/web/request"
)

// Usage answers an org's metered API requests (PlexMCP's usage shape) and
// changes its plan.
type Usage struct {
	*Base
}

// UsageView is GET /api/orgs/{org}/usage.
type UsageView struct {
	Period    string           `json:"period"`
	StartDate string           `json:"start_date"`
	EndDate   string           `json:"end_date"`
	Requests  RequestsView     `json:"requests"`
	ByAgent   []AgentUseView   `json:"by_agent"`
	ByDay     []DayUseView     `json:"by_day"`
	Limits    model.Limits     `json:"limits"`
	Usage     map[string]int64 `json:"usage"`
}

// RequestsView is the range's total against the monthly limit.
type RequestsView struct {
	Total      int64   `json:"total"`
	Limit      int64   `json:"limit"`
	Percentage float64 `json:"percentage"`
}

// AgentUseView is one agent's requests.
type AgentUseView struct {
	AgentID  int64  `json:"agent_id"`
	Name     string `json:"name"`
	Requests int64  `json:"requests"`
}

// DayUseView is one day's requests.
type DayUseView struct {
	Date     string `json:"date"`
	Requests int64  `json:"requests"`
}

// Get answers the org's requests over period (day, week, month: the
// default) or start_date..end_date, by day (every day, zeros included) and
// by agent (requests no route tied to an agent count in the total only).
// Every member may read it (SPEC 2).
func (h *Usage) Get(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	r, err := model.ParseUsageRange(q.Get("period"), q.Get("start_date"), q.Get("end_date"), h.Store.Now())
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rep, use, err := h.Store.UsageScreen(ctx, Account(c).ID, ws.Org, r, 0)
	if err != nil {
		return err
	}
	lim := ws.Limits()
	v := UsageView{Period: r.Period, StartDate: r.From.Format(time.RFC3339), EndDate: r.End().Format(time.RFC3339),
		Requests: RequestsView{Total: rep.Total, Limit: int64(lim.MonthlyRequests), Percentage: model.Percent(rep.Total, int64(lim.MonthlyRequests))},
		ByAgent:  []AgentUseView{}, ByDay: make([]DayUseView, 0, len(rep.ByDay)), Limits: lim, Usage: usageMap(use)}
	for _, a := range rep.ByAgent {
		if a.AgentID != 0 {
			v.ByAgent = append(v.ByAgent, AgentUseView{AgentID: a.AgentID, Name: a.Name, Requests: a.Requests})
		}
	}
	for _, d := range rep.ByDay {
		v.ByDay = append(v.ByDay, DayUseView{Date: d.Day.Format(time.DateOnly), Requests: d.Requests})
	}
	return OK(c, http.StatusOK, v)
}

func usageMap(u interface{ Of(string) int64 }) map[string]int64 {
	m := make(map[string]int64, len(model.LimitNames))
	for _, n := range model.LimitNames {
		m[n] = u.Of(n)
	}
	return m
}

type planBody struct {
	Plan string `json:"plan"`
}

// SetPlan is PUT /api/orgs/{org}/plan {plan}: owners only, no payment.
func (h *Usage) SetPlan(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in planBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	org, err := h.Store.ChangePlan(c.Request().Context(), request.Actor(c), ws.ID, in.Plan)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, orgDetail(c, h.Base, model.Workspace{Org: org, Role: ws.Role}))
}
