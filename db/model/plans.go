package model

import (
	"strconv"
	"strings"
)

// Plan is an org's subscription level; it decides its Limits (SPEC 14).
type Plan string

const (
	PlanFree Plan = "free"
	PlanPro  Plan = "pro"
	PlanTeam Plan = "team"
)

// Plans lists the plans, smallest first.
var Plans = []Plan{PlanFree, PlanPro, PlanTeam}

// Valid reports whether p is a known plan.
func (p Plan) Valid() bool { return p == PlanFree || p == PlanPro || p == PlanTeam }

// Label is the plan as shown on the usage page.
func (p Plan) Label() string {
	switch p {
	case PlanFree:
		return "Free"
	case PlanPro:
		return "Pro"
	case PlanTeam:
		return "Team"
	}
	return string(p)
}

// Limit names, as used in CheckLimit, the plan_limit error details and the
// org's JSON "limits".
const (
	LimitTeamMembers     = "team_members"
	LimitAPIKeys         = "api_keys"
	LimitAgents          = "agents"
	LimitMonthlyRequests = "monthly_requests"
)

// LimitNames lists the limits in display order.
var LimitNames = []string{LimitTeamMembers, LimitAPIKeys, LimitAgents, LimitMonthlyRequests}

// Limits are a plan's ceilings. TeamMembers counts members plus pending
// invitations (SPEC 5).
type Limits struct {
	TeamMembers     int `json:"team_members"`
	APIKeys         int `json:"api_keys"`
	Agents          int `json:"agents"`
	MonthlyRequests int `json:"monthly_requests"`
}

// Of returns the limit called name, and false for an unknown name.
func (l Limits) Of(name string) (int, bool) {
	switch name {
	case LimitTeamMembers:
		return l.TeamMembers, true
	case LimitAPIKeys:
		return l.APIKeys, true
	case LimitAgents:
		return l.Agents, true
	case LimitMonthlyRequests:
		return l.MonthlyRequests, true
	}
	return 0, false
}

// PlanLimits returns the limits of plan p. An unknown plan gets the free
// plan's limits, so a bad value never lifts a ceiling.
func PlanLimits(p Plan) Limits {
	switch p {
	case PlanPro:
		return Limits{TeamMembers: 25, APIKeys: 50, Agents: 100, MonthlyRequests: 1_000_000}
	case PlanTeam:
		return Limits{TeamMembers: 100, APIKeys: 200, Agents: 1000, MonthlyRequests: 10_000_000}
	}
	return Limits{TeamMembers: 5, APIKeys: 10, Agents: 10, MonthlyRequests: 50_000}
}

// CheckLimit checks one plan limit. used is the count AFTER the change being
// made (e.g. members + pending invitations + the new invitation), so the check
// fails only when used > limit: reaching the limit exactly is allowed. The
// error has code plan_limit and details {limit, used, max}; web/errors.go maps
// the code to a status (429 for monthly requests, SPEC 14).
func CheckLimit(name string, used, limit int) error {
	if used <= limit {
		return nil
	}
	what := limitLabel(name)
	return &Error{
		Code: CodePlanLimit,
		Message: "Your plan allows " + strconv.Itoa(limit) + " " + what +
			"; this would make " + strconv.Itoa(used) + ". Upgrade the plan or free some up first.",
		Details: map[string]any{"limit": name, "used": used, "max": limit},
	}
}

// limitLabel is a limit's name for a sentence: "api_keys" → "API keys".
func limitLabel(name string) string {
	switch name {
	case LimitTeamMembers:
		return "team members"
	case LimitAPIKeys:
		return "API keys"
	case LimitAgents:
		return "agents"
	case LimitMonthlyRequests:
		return "API requests a month"
	}
	return strings.ReplaceAll(name, "_", " ")
}
