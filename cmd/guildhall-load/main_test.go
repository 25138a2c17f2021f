package main

import (
	"slices"
	"strings"
	"testing"
)

// The harness judges each route by the goals: no errors, its p99
// goal, and (with a closed-loop run) at least 1/6 of /healthz.
func TestJudge(t *testing.T) {
	cases := []struct {
		name   string
		r      result
		closed bool
		want   []string
	}{
		{"all met", result{P99: 9.9, P99Goal: 10, Ratio: 6}, true, []string{}},
		{"an error", result{Errors: 1, P99: 1, P99Goal: 20, Ratio: 2}, true, []string{"errors"}},
		{"p99 over a named case's goal", result{P99: 10.01, P99Goal: 10, Ratio: 2}, true, []string{"p99 > 10 ms"}},
		{"p99 over a page's goal", result{P99: 20.5, P99Goal: 20, Ratio: 2}, true, []string{"p99 > 20 ms"}},
		{"under 1/6 of /healthz", result{P99: 1, P99Goal: 20, Ratio: 6.01}, true, []string{"under 1/6 of /healthz"}},
		{"no closed loop: the share is not judged", result{P99: 1, P99Goal: 20, Ratio: 9}, false, []string{}},
		{"every goal missed", result{Errors: 3, P99: 30, P99Goal: 20, Ratio: 7}, true,
			[]string{"errors", "p99 > 20 ms", "under 1/6 of /healthz"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.judge(c.closed)
			if !slices.Equal(c.r.Misses, c.want) {
				t.Errorf("misses %q, want %q", c.r.Misses, c.want)
			}
		})
	}
}

// The table counts a route as met only when it misses nothing, and shows
// each route's share of /healthz as 1/n.
func TestMarkdownCountsMetRoutes(t *testing.T) {
	rep := report{Rate: 200, Duration: "5s", Closed: "2s", Warm: "500ms", Workers: 16, HealthRPSStart: 9000, HealthRPSEnd: 9500,
		Results: []result{
			{Name: "GET /healthz", P99Goal: 20, P99: 2, ClosedRPS: 9500, HealthRPS: 9500, Ratio: 1},
			{Name: "GET /a", P99Goal: 20, P99: 5, ClosedRPS: 2000, HealthRPS: 9500, Ratio: 4.75},
			{Name: "GET /b", P99Goal: 10, P99: 12, ClosedRPS: 1000, HealthRPS: 9500, Ratio: 9.5},
		}}
	for i := range rep.Results {
		rep.Results[i].judge(true)
	}
	md := rep.markdown()
	for _, want := range []string{
		"| GET /a | 0.00 | 5.00 | 20 | 0.00 | 0 | 2000 | 9500 | 1/4.8 | met |",
		"| GET /b | 0.00 | 12.00 | 10 | 0.00 | 0 | 1000 | 9500 | 1/9.5 | p99 > 10 ms, under 1/6 of /healthz |",
		"2 of 3 routes meet every goal.",
		"Each route warmed for 500ms closed loop (not counted)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
}

// Every page and API read has a p99 goal: 10 ms for the named
// cases, 20 ms for the rest; /healthz comes first (the yardstick).
func TestRoutesGoals(t *testing.T) {
	rs := routesFor("large", ids{BigTeam: 1, Agent: 2, Member: 3, Actor: 4, Package: 5, DeepAgents: "/agents?after=6"},
		session{Cookie: "guildhall=x", Token: "t"}, session{Cookie: "guildhall=y"})
	if rs[0].Name != "GET /healthz" {
		t.Fatalf("first route %q, want GET /healthz", rs[0].Name)
	}
	named := map[string]bool{
		"GET /members?role=member (page 1)":       true,
		"GET /members?role=member&page=500":       true,
		"GET /teams/:id (2,000 grants)":           true,
		"GET /agents (admin)":                     true,
		"GET /agents (reader: 20 of 100,000)":     true,
		"GET /agents (admin, page 2,001 by Next)": true,
		"GET /audit?actor=<email>":                true,
		"GET /audit?actor=<id>":                   true,
		"GET /audit?action=member.":               true,
		"GET /audit?since=&until=":                true,
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if seen[r.Name] {
			t.Errorf("route %q twice", r.Name)
		}
		seen[r.Name] = true
		want := 20.0
		if named[r.Name] {
			want = 10
		}
		if r.P99Goal != want {
			t.Errorf("%s: p99 goal %v, want %v", r.Name, r.P99Goal, want)
		}
		if strings.HasPrefix(r.Path, "/api/") && r.Header.Get("Authorization") != "Bearer t" {
			t.Errorf("%s: no token", r.Name)
		}
	}
	for n := range named {
		if !seen[n] {
			t.Errorf("named case %q is not driven", n)
		}
	}
}
