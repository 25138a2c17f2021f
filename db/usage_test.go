package db_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestAgentLimitMovedCreatedAndTransferredInConcurrently: the agents limit
// counts every way an agent enters an org (created, moved in, transferred
// in), and holds when they race.
func TestAgentLimitMovedCreatedAndTransferredInConcurrently(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Crowded")
	e.exec(`UPDATE orgs SET limit_agents = 4 WHERE id = $1`, org)
	e.agent(owner, org, "Existing")
	type mover struct {
		who   model.Actor
		agent int64
	}
	var movers []mover
	for i := 0; i < 6; i++ {
		who, _ := e.user(fmt.Sprintf("Mover %d", i))
		e.join(org, who, model.RoleMember)
		movers = append(movers, mover{who, e.agent(who, 0, "Personal bot").ID})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 12)
	for _, m := range movers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.s.MoveAgentToOrg(e.ctx, m.who, m.agent, org)
			errs <- err
		}()
	}
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: "racer"})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case model.CodeOf(err) != model.CodePlanLimit:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if n := e.count(`SELECT count(*) FROM agents WHERE org_id = $1`, org); n != 4 || ok != 3 {
		t.Fatalf("%d agents (%d moves and creates won), want 4 (3)", n, ok)
	}

	// A transfer into a personal workspace at its limit is refused too.
	giver, _ := e.user("Giver")
	taker, _ := e.user("Taker")
	full := e.personalOrg(taker)
	e.exec(`UPDATE orgs SET limit_agents = 1 WHERE id = $1`, full)
	e.agent(taker, 0, "Mine")
	gift := e.agent(giver, 0, "Gift")
	_, tr, err := e.s.TransferAgent(e.ctx, giver, gift.ID, taker.Email)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.AcceptAgentTransfer(e.ctx, taker, db.TransferRef{ID: tr.ID})
	wantCode(t, err, model.CodePlanLimit)
}

// TestRecordUsageAdditiveUnderConcurrency: many flushes of the same rows at
// once (as from many instances) add up exactly, daily and monthly.
func TestRecordUsageAdditiveUnderConcurrency(t *testing.T) {
	e := newTG(t)
	day := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
	next := day.AddDate(0, 0, 1) // April: another month
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				err := e.s.RecordUsage(e.ctx, []db.UsageDelta{
					{OrgID: 7, AgentID: 2, Day: day, Requests: 1},
					{OrgID: 7, AgentID: 0, Day: day, Requests: 2},
					{OrgID: 9, AgentID: 1, Day: next, Requests: 3},
					{OrgID: 7, AgentID: 2, Day: next, Requests: 1},
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	want := map[string]int{
		`SELECT requests FROM usage_daily WHERE org_id = 7 AND agent_id = 2 AND day = '2025-03-31'`:           160,
		`SELECT requests FROM usage_daily WHERE org_id = 7 AND agent_id = 0 AND day = '2025-03-31'`:           320,
		`SELECT requests FROM usage_monthly WHERE org_id = 7 AND month = '2025-03-01'`:                        480,
		`SELECT requests FROM usage_monthly WHERE org_id = 7 AND month = '2025-04-01'`:                        160,
		`SELECT requests FROM usage_monthly WHERE org_id = 9 AND month = '2025-04-01'`:                        480,
		`SELECT requests FROM usage_org_daily WHERE org_id = 7 AND day = '2025-03-31'`:                        480,
		`SELECT requests FROM usage_agent_monthly WHERE org_id = 7 AND month = '2025-04-01' AND agent_id = 2`: 160,
	}
	for q, n := range want {
		if got := e.count(q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
}

// TestUsageReportAndChangePlan: the report sums by day and by agent (moved
// or deleted agents keep their counts without their names); plan changes
// are owner-only, audited, and refuse a downgrade the org does not fit.
func TestUsageReportAndChangePlan(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	admin, _ := e.user("Admin")
	org := e.org(owner, "Reporting")
	e.join(org, admin, model.RoleAdmin)
	a := e.agent(owner, org, "Alpha")
	gone := e.agent(owner, org, "Gone")
	d1 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := e.s.RecordUsage(e.ctx, []db.UsageDelta{
		{OrgID: org, AgentID: a.ID, Day: d1, Requests: 5},
		{OrgID: org, AgentID: a.ID, Day: d1.AddDate(0, 0, 2), Requests: 7},
		{OrgID: org, AgentID: gone.ID, Day: d1, Requests: 1},
		{OrgID: org, AgentID: 0, Day: d1.AddDate(0, 0, 2), Requests: 4},
		{OrgID: org + 1000, AgentID: 0, Day: d1, Requests: 99}, // another org
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteAgent(e.ctx, owner, gone.ID); err != nil {
		t.Fatal(err)
	}
	r, _ := model.ParseUsageRange("month", "", "", e.s.Now())
	rep, err := e.s.UsageReport(e.ctx, org, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != 17 || len(rep.ByDay) != 31 || rep.ByDay[0].Requests != 6 || rep.ByDay[2].Requests != 11 || rep.ByDay[1].Requests != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.ByAgent) != 3 || rep.Agents != 2 || rep.ByAgent[0].AgentID != 0 || rep.ByAgent[0].Requests != 4 ||
		rep.ByAgent[1].AgentID != a.ID || rep.ByAgent[1].Name != "Alpha" || rep.ByAgent[1].Requests != 12 ||
		rep.ByAgent[2].AgentID != gone.ID || !rep.ByAgent[2].Gone {
		t.Fatalf("by agent %+v", rep.ByAgent)
	}
	// A limit keeps the busiest agents and the unattributed row.
	if top, err := e.s.UsageReport(e.ctx, org, r, 1); err != nil || len(top.ByAgent) != 2 || top.Agents != 2 || top.ByAgent[1].AgentID != a.ID {
		t.Fatalf("top 1: %+v %v", top, err)
	}

	_, err = e.s.ChangePlan(e.ctx, admin, org, "pro")
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "org.plan_changed", model.OutcomeDenied, 1)
	stranger, _ := e.user("Stranger")
	_, err = e.s.ChangePlan(e.ctx, stranger, org, "pro")
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.ChangePlan(e.ctx, owner, org, "platinum")
	wantCode(t, err, model.CodeValidation)
	o, err := e.s.ChangePlan(e.ctx, owner, org, "team")
	if err != nil || o.Plan != model.PlanTeam || o.Limits() != model.PlanLimits(model.PlanTeam) {
		t.Fatalf("to team: %+v %v", o, err)
	}
	e.wantAudit(org, "org.plan_changed", model.OutcomeSuccess, 1)
	// The same plan again changes nothing and writes nothing.
	if _, err := e.s.ChangePlan(e.ctx, owner, org, "team"); err != nil {
		t.Fatal(err)
	}
	e.wantAudit(org, "org.plan_changed", model.OutcomeSuccess, 1)
	for i := 0; i < 5; i++ {
		other, _ := e.user(fmt.Sprintf("Member %d", i))
		e.join(org, other, model.RoleMember)
	}
	_, err = e.s.ChangePlan(e.ctx, owner, org, "free") // 7 members > 5
	wantCode(t, err, model.CodePlanLimit)
	if _, err := e.s.ChangePlan(e.ctx, owner, org, "pro"); err != nil {
		t.Fatal(err)
	}
}

// TestUsageReportRangesMatchDailyRows: whatever range (inside a month,
// across months, whole months with days around them), the rollups give the
// same numbers as summing the daily rows.
func TestUsageReportRangesMatchDailyRows(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Ranges")
	var ds []db.UsageDelta
	for d := time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2025, 5, 10, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		for a := int64(0); a < 4; a++ {
			ds = append(ds, db.UsageDelta{OrgID: org, AgentID: a, Day: d, Requests: int64(d.YearDay()%7) + a})
		}
	}
	if err := e.s.RecordUsage(e.ctx, ds); err != nil {
		t.Fatal(err)
	}
	for _, rg := range [][2]string{{"2025-02-03", "2025-02-20"}, {"2025-01-25", "2025-03-05"}, {"2025-02-01", "2025-03-31"},
		{"2025-01-31", "2025-04-01"}, {"2025-03-01", "2025-03-01"}, {"2024-12-01", "2025-06-30"}} {
		r, err := model.ParseUsageRange("", rg[0], rg[1], e.s.Now())
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.s.UsageReport(e.ctx, org, r, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range rep.ByAgent {
			want := e.count(`SELECT COALESCE(sum(requests), 0) FROM usage_daily WHERE org_id = $1 AND agent_id = $2 AND day BETWEEN $3 AND $4`,
				org, a.AgentID, rg[0], rg[1])
			if int(a.Requests) != want {
				t.Errorf("%v agent %d: %d, want %d", rg, a.AgentID, a.Requests, want)
			}
		}
		want := e.count(`SELECT COALESCE(sum(requests), 0) FROM usage_daily WHERE org_id = $1 AND day BETWEEN $2 AND $3`, org, rg[0], rg[1])
		if int(rep.Total) != want || len(rep.ByAgent) != 4 {
			t.Errorf("%v: total %d, want %d (%d agents)", rg, rep.Total, want, len(rep.ByAgent))
		}
	}
}

// TestDowngradeRacesAgentCreates: a downgrade and agent creates race; under
// the org lock either order holds the new plan's limit.
func TestDowngradeRacesAgentCreates(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	for round := 0; round < 6; round++ {
		org := e.org(owner, fmt.Sprintf("Race %d", round))
		if _, err := e.s.ChangePlan(e.ctx, owner, org, "pro"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 8; i++ {
			e.agent(owner, org, "base")
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := e.s.CreateAgent(e.ctx, owner, org, model.AgentInput{Name: "racer"})
				if err != nil && model.CodeOf(err) != model.CodePlanLimit {
					t.Error(err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.s.ChangePlan(e.ctx, owner, org, "free")
			if err != nil && model.CodeOf(err) != model.CodePlanLimit {
				t.Error(err)
			}
		}()
		close(start)
		wg.Wait()
		plan := ""
		if err := e.s.DB().Get(&plan, `SELECT plan FROM orgs WHERE id = $1`, org); err != nil {
			t.Fatal(err)
		}
		n := e.count(`SELECT count(*) FROM agents WHERE org_id = $1`, org)
		if plan == "free" && n > 10 {
			t.Fatalf("round %d: free plan with %d agents", round, n)
		}
	}
}

// TestUsageScreenMatchesItsParts: the one statement of /usage reads, field
// by field, what UsageReport and LimitUsage read apart, whatever the range
// (whole months or not, days without requests) and agent limit, with
// unassigned requests, a deleted agent, a pending invitation and an API key.
func TestUsageScreenMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, oacc := e.user("Owner")
	org := e.org(owner, "Screens")
	var agents []int64
	for _, n := range []string{"Alpha", "Beta", "Gamma", "Gone"} {
		agents = append(agents, e.agent(owner, org, n).ID)
	}
	var ds []db.UsageDelta
	for d := time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2025, 5, 10, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		if d.Day()%5 == 0 {
			continue // a day without requests
		}
		ds = append(ds, db.UsageDelta{OrgID: org, Day: d, Requests: int64(d.Day())})
		for i, a := range agents {
			ds = append(ds, db.UsageDelta{OrgID: org, AgentID: a, Day: d, Requests: int64(d.YearDay()%7+i) * int64(i+1)})
		}
	}
	now := e.s.Now()
	ds = append(ds, db.UsageDelta{OrgID: org, AgentID: agents[0], Day: now, Requests: 3})
	if err := e.s.RecordUsage(e.ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteAgent(e.ctx, owner, agents[3]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.CreateInvitation(e.ctx, owner, org, "new.person@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.CreateToken(e.ctx, owner, db.CreateTokenInput{Name: "ci", OrgID: &org}); err != nil {
		t.Fatal(err)
	}
	o, err := e.s.OrgByID(e.ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	wantUse, err := e.s.LimitUsage(e.ctx, oacc.ID, o)
	if err != nil {
		t.Fatal(err)
	}
	if wantUse.TeamMembers != 2 || wantUse.APIKeys != 1 || wantUse.Agents != 3 || wantUse.MonthlyRequests < 3 {
		t.Fatalf("limit use %+v: the test should count each", wantUse)
	}
	ranges := [][2]string{{"2025-02-03", "2025-02-20"}, {"2025-01-25", "2025-03-05"}, {"2025-02-01", "2025-03-31"},
		{"2025-01-31", "2025-04-01"}, {"2025-03-01", "2025-03-01"}, {"2024-12-01", "2025-06-30"}, {"2023-01-01", "2023-01-31"}}
	var rs []model.UsageRange
	for _, rg := range ranges {
		r, err := model.ParseUsageRange("", rg[0], rg[1], now)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	month, _ := model.ParseUsageRange("month", "", "", now)
	rs = append(rs, month)
	for _, r := range rs {
		for _, limit := range []int{0, 1, 2, db.UsageAgentRows} {
			want, err := e.s.UsageReport(e.ctx, org, r, limit)
			if err != nil {
				t.Fatal(err)
			}
			got, use, err := e.s.UsageScreen(e.ctx, oacc.ID, o, r, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%v - %v limit %d:\n got %+v\nwant %+v", r.From, r.To, limit, got, want)
			}
			if use != wantUse {
				t.Errorf("limit use %+v, want %+v", use, wantUse)
			}
		}
	}
}
