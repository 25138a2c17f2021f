package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/request"
)

// Usage handles the /usage page and the plan change on /settings.
type Usage struct {
	*Base
}

// agentRows is how many agents /usage lists before "Show all".
const agentRows = db.UsageAgentRows

var limitLabels = map[string]string{
	model.LimitTeamMembers:     "Seats (members and open invitations)", // one definition with /members
	model.LimitAPIKeys:         "API keys (yours)",
	model.LimitAgents:          "Agents",
	model.LimitMonthlyRequests: "API requests this month",
}

// limitBars shows every limit as used / limit. Personal workspaces have no
// team members to count, so that bar is left out there.
func limitBars(org model.Org, use db.LimitUse) []views.LimitBar {
	lim := org.Limits()
	out := make([]views.LimitBar, 0, len(model.LimitNames))
	for _, n := range model.LimitNames {
		if n == model.LimitTeamMembers && org.Personal() {
			continue
		}
		maxN, _ := lim.Of(n)
		used, m := use.Of(n), int64(maxN)
		out = append(out, views.LimitBar{Key: n, Label: limitLabels[n], Used: used, Max: m,
			Level: model.LimitLevel(used, m), Pct: model.Percent(used, m)})
	}
	return out
}

// PlanCard builds the settings page's plan card for the viewer.
func (b *Base) PlanCard(ws model.Workspace, use db.LimitUse) views.PlanView {
	v := views.PlanView{Plan: string(ws.Plan), Label: ws.Plan.Label(), Limits: limitBars(ws.Org, use),
		CanChange: model.CanChangePlan(ws.Role) == nil}
	for _, p := range model.Plans {
		l := model.PlanLimits(p)
		v.Options = append(v.Options, views.PlanOption{Value: string(p), Label: p.Label(),
			Summary: views.Count(int64(l.TeamMembers)) + " members, " + views.Count(int64(l.APIKeys)) + " API keys each, " +
				views.Count(int64(l.Agents)) + " agents, " + views.Count(int64(l.MonthlyRequests)) + " requests a month",
			Consequence: planChangeText(ws.Org, p, use)})
	}
	return v
}

// ChangePlan is the owner's plan change from /settings (no payment).
func (h *Usage) ChangePlan(c echo.Context) error {
	ws := request.Workspace(c)
	org, err := h.Store.ChangePlan(c.Request().Context(), request.Actor(c), ws.ID, c.FormValue("plan"))
	if e, ok := model.AsError(err); ok && (e.Code == model.CodeValidation || e.Code == model.CodePlanLimit) {
		return Redirect(c, "/settings#plan", "error", e.Message)
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/settings#plan", "success", "The plan is now "+org.Plan.Label()+". No payment was taken.")
}

// Page is /usage: requests by day (chart) and by agent for a period or a
// range, and every limit. Every role may see it (SPEC 2).
func (h *Usage) Page(c echo.Context) error {
	ws := request.Workspace(c)
	if !model.Can(ws.Role, model.ActViewUsage) {
		return model.NotFound("page")
	}
	ctx := c.Request().Context()
	acc, _ := request.Account(c)
	q := c.QueryParams()
	v := views.UsageView{StartDate: q.Get("start_date"), EndDate: q.Get("end_date"), AllAgents: q.Get("agents") == "all"}
	status := http.StatusOK
	r, err := model.ParseUsageRange(q.Get("period"), v.StartDate, v.EndDate, h.Store.Now())
	if fields, msg, ok := FieldErrors(err); ok {
		// Show the month and the refused range's messages.
		status, v.Errors, v.Message = http.StatusUnprocessableEntity, fields, msg
		if msg == "" && fields["period"] != "" {
			v.Message = fields["period"]
		}
		r, _ = model.ParseUsageRange("", "", "", h.Store.Now())
	} else if err != nil {
		return err
	}
	limit := agentRows
	if v.AllAgents {
		limit = 0
	}
	rep, use, err := h.Store.UsageScreen(ctx, acc.ID, ws.Org, r, limit)
	if err != nil {
		return err
	}
	v.Period, v.Total, v.Limit = r.Period, rep.Total, int64(ws.LimitMonthlyRequests)
	v.Pct = model.Percent(rep.Total, v.Limit)
	if r.Period != model.PeriodCustom && status == http.StatusOK {
		v.StartDate, v.EndDate = "", ""
	}
	v.RangeLabel = rangeLabel(r)
	v.Days = make([]views.UsageDay, 0, len(rep.ByDay))
	for _, d := range rep.ByDay {
		v.Days = append(v.Days, views.UsageDay{Date: d.Day.Format(time.DateOnly), Label: d.Day.Format("Jan 2"), Requests: d.Requests})
	}
	for _, a := range rep.ByAgent {
		if a.AgentID == 0 {
			v.Unassigned = a.Requests
			continue
		}
		v.Agents = append(v.Agents, views.AgentUse{ID: a.AgentID, Name: a.Name, Gone: a.Gone, Requests: a.Requests,
			Share: model.Percent(a.Requests, rep.Total)})
	}
	v.MoreAgents = rep.Agents - len(v.Agents)
	v.Limits = limitBars(ws.Org, use)
	return Render(c, status, views.UsagePage(h.Shell(c, "Usage", "usage"), v))
}

func rangeLabel(r model.UsageRange) string {
	switch r.Period {
	case model.PeriodDay:
		return "today (" + r.From.Format("Jan 2") + ")"
	case model.PeriodWeek:
		return "this week (" + r.From.Format("Jan 2") + " – " + r.To.Format("Jan 2") + ")"
	case model.PeriodMonth:
		return r.From.Format("January 2006")
	}
	if r.From.Year() != r.To.Year() {
		return r.From.Format("Jan 2, 2006") + " – " + r.To.Format("Jan 2, 2006")
	}
	return r.From.Format("Jan 2") + " – " + r.To.Format("Jan 2, 2006")
}

// planChangeText says what moving org to plan p changes, limit by limit, for
// the confirmation before a plan change; "" for the current plan.
func planChangeText(org model.Org, p model.Plan, use db.LimitUse) string {
	if org.Plan == p {
		return ""
	}
	cur, next := org.Limits(), model.PlanLimits(p)
	var changes, over []string
	for _, n := range model.LimitNames {
		if n == model.LimitTeamMembers && org.Personal() {
			continue
		}
		a, _ := cur.Of(n)
		b, _ := next.Of(n)
		if a != b {
			changes = append(changes, limitLabels[n]+": "+views.Count(int64(a))+" → "+views.Count(int64(b)))
		}
		if used := use.Of(n); used > int64(b) {
			over = append(over, limitLabels[n]+" ("+views.Count(used)+" in use)")
		}
	}
	text := "Move to " + p.Label() + ". No payment is taken."
	if len(changes) > 0 {
		text += " Limits change: " + strings.Join(changes, "; ") + "."
	}
	if len(over) > 0 {
		text += " Already over the new limits: " + strings.Join(over, "; ") + "; nothing more of these can be added until it is under them."
	}
	return text
}
