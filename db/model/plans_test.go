package model

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPlanLimits(t *testing.T) {
	tests := []struct {
		p    Plan
		want Limits
	}{
		{PlanFree, Limits{TeamMembers: 5, APIKeys: 10, Agents: 10, MonthlyRequests: 50000}},
		{PlanPro, Limits{TeamMembers: 25, APIKeys: 50, Agents: 100, MonthlyRequests: 1000000}},
		{PlanTeam, Limits{TeamMembers: 100, APIKeys: 200, Agents: 1000, MonthlyRequests: 10000000}},
		{"", Limits{TeamMembers: 5, APIKeys: 10, Agents: 10, MonthlyRequests: 50000}},
		{"enterprise", Limits{TeamMembers: 5, APIKeys: 10, Agents: 10, MonthlyRequests: 50000}},
	}
	for _, tt := range tests {
		if got := PlanLimits(tt.p); got != tt.want {
			t.Errorf("PlanLimits(%q) = %+v, want %+v", tt.p, got, tt.want)
		}
	}
	for _, p := range Plans {
		if !p.Valid() || p.Label() == string(p) {
			t.Errorf("plan %q should be valid with a label", p)
		}
	}
	if Plan("gold").Valid() {
		t.Error("unknown plan is valid")
	}
}

func TestLimitsOfAndJSON(t *testing.T) {
	l := PlanLimits(PlanPro)
	want := map[string]int{LimitTeamMembers: 25, LimitAPIKeys: 50, LimitAgents: 100, LimitMonthlyRequests: 1000000}
	for _, name := range LimitNames {
		got, ok := l.Of(name)
		if !ok || got != want[name] {
			t.Errorf("Of(%q) = %d, %v; want %d", name, got, ok, want[name])
		}
	}
	if _, ok := l.Of("seats"); ok {
		t.Error("Of(unknown) = ok")
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if got, w := string(b), `{"team_members":25,"api_keys":50,"agents":100,"monthly_requests":1000000}`; got != w {
		t.Errorf("json = %s, want %s", got, w)
	}
}

func TestCheckLimit(t *testing.T) {
	tests := []struct {
		name        string
		limit       string
		used, max   int
		fail        bool
		messagePart string
	}{
		{"below", LimitTeamMembers, 3, 5, false, ""},
		{"exactly at the limit is allowed", LimitTeamMembers, 5, 5, false, ""},
		{"one over", LimitTeamMembers, 6, 5, true, "5 team members"},
		{"api keys over", LimitAPIKeys, 11, 10, true, "API keys"},
		{"agents over", LimitAgents, 11, 10, true, "10 agents"},
		{"requests over", LimitMonthlyRequests, 50001, 50000, true, "requests"},
		{"zero limit refuses the first", LimitAgents, 1, 0, true, "0 agents"},
		{"zero used, zero limit", LimitAgents, 0, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLimit(tt.limit, tt.used, tt.max)
			if !tt.fail {
				wantCode(t, err, "", "")
				return
			}
			wantCode(t, err, CodePlanLimit, "")
			e := err.(*Error)
			if !strings.Contains(e.Message, tt.messagePart) {
				t.Errorf("message %q should contain %q", e.Message, tt.messagePart)
			}
			d, ok := e.Details.(map[string]any)
			if !ok {
				t.Fatalf("details %T, want map[string]any", e.Details)
			}
			if d["limit"] != tt.limit || d["used"] != tt.used || d["max"] != tt.max {
				t.Errorf("details %v, want limit=%s used=%d max=%d", d, tt.limit, tt.used, tt.max)
			}
		})
	}
}
