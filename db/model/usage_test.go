package model

import (
	"testing"
	"time"
)

func TestParseUsageRange(t *testing.T) {
	now := time.Date(2026, 11, 18, 15, 4, 5, 0, time.UTC) // a Wednesday
	d := func(s string) time.Time { t, _ := time.Parse("2006-01-02", s); return t }
	tests := []struct {
		name                 string
		period, start, end   string
		wantPeriod, from, to string
		badField             string
	}{
		{"default is this month", "", "", "", PeriodMonth, "2026-11-01", "2026-11-30", ""},
		{"month", "month", "", "", PeriodMonth, "2026-11-01", "2026-11-30", ""},
		{"week starts Monday", "week", "", "", PeriodWeek, "2026-11-16", "2026-11-22", ""},
		{"day", "DAY", "", "", PeriodDay, "2026-11-18", "2026-11-18", ""},
		{"range", "", "2026-10-01", "2026-10-31", PeriodCustom, "2026-10-01", "2026-10-31", ""},
		{"range, custom named", "custom", "2026-10-01", "2026-10-02", PeriodCustom, "2026-10-01", "2026-10-02", ""},
		{"end defaults to today", "", "2026-11-10", "", PeriodCustom, "2026-11-10", "2026-11-18", ""},
		{"RFC 3339 dates", "", "2026-10-01T10:00:00Z", "2026-10-03T23:59:59Z", PeriodCustom, "2026-10-01", "2026-10-03", ""},
		{"one day range", "", "2026-10-01", "2026-10-01", PeriodCustom, "2026-10-01", "2026-10-01", ""},
		{"unknown period", "year", "", "", "", "", "", "period"},
		{"custom without dates", "custom", "", "", "", "", "", "start_date"},
		{"period and dates", "week", "2026-10-01", "", "", "", "", "period"},
		{"bad start", "", "01/10/2026", "", "", "", "", "start_date"},
		{"bad end", "", "2026-10-01", "tomorrow", "", "", "", "end_date"},
		{"end only", "", "", "2026-10-01", "", "", "", "start_date"},
		{"end before start", "", "2026-10-05", "2026-10-01", "", "", "", "end_date"},
		{"too long", "", "2024-01-01", "2026-01-01", "", "", "", "end_date"},
		{"impossible date", "", "2026-02-30", "", "", "", "", "start_date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseUsageRange(tt.period, tt.start, tt.end, now)
			if tt.badField != "" {
				wantCode(t, err, CodeValidation, tt.badField)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Period != tt.wantPeriod || !r.From.Equal(d(tt.from)) || !r.To.Equal(d(tt.to)) {
				t.Errorf("got %s %s..%s", r.Period, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly))
			}
		})
	}
	r, _ := ParseUsageRange("month", "", "", now)
	if r.Days() != 30 || r.End().Format(time.RFC3339) != "2026-11-30T23:59:59Z" {
		t.Errorf("days %d end %s", r.Days(), r.End().Format(time.RFC3339))
	}
}

func TestMonthBoundaries(t *testing.T) {
	tests := []struct{ at, start, next string }{
		{"2026-11-18T15:04:05Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"},
		{"2028-02-29T12:00:00+05:00", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		if got := MonthStart(at).Format(time.RFC3339); got != tt.start {
			t.Errorf("MonthStart(%s) = %s, want %s", tt.at, got, tt.start)
		}
		if got := NextMonthStart(at).Format(time.RFC3339); got != tt.next {
			t.Errorf("NextMonthStart(%s) = %s, want %s", tt.at, got, tt.next)
		}
	}
}

func TestPercentAndLevel(t *testing.T) {
	tests := []struct {
		used, max int64
		pct       float64
		level     string
	}{
		{0, 50000, 0, LevelOK},
		{12500, 50000, 25, LevelOK},
		{39999, 50000, 80, LevelOK}, // 79.998% rounds to 80.0 but is not yet 80%
		{40000, 50000, 80, LevelWarn},
		{49999, 50000, 100, LevelWarn},
		{50000, 50000, 100, LevelFull},
		{60000, 50000, 120, LevelFull},
		{1, 3, 33.3, LevelOK},
		{0, 0, 0, LevelFull},
		{2, 0, 100, LevelFull},
	}
	for _, tt := range tests {
		if got := Percent(tt.used, tt.max); got != tt.pct {
			t.Errorf("Percent(%d, %d) = %v, want %v", tt.used, tt.max, got, tt.pct)
		}
		if got := LimitLevel(tt.used, tt.max); got != tt.level {
			t.Errorf("LimitLevel(%d, %d) = %s, want %s", tt.used, tt.max, got, tt.level)
		}
	}
}

func TestPlanRules(t *testing.T) {
	if p, err := ParsePlan(" Pro "); err != nil || p != PlanPro {
		t.Errorf("ParsePlan(Pro) = %q, %v", p, err)
	}
	_, err := ParsePlan("enterprise")
	wantCode(t, err, CodeValidation, "plan")
	wantCode(t, CanChangePlan(RoleOwner), "", "")
	for _, r := range []Role{RoleAdmin, RoleMember, RoleBilling} {
		wantCode(t, CanChangePlan(r), CodeForbidden, "")
	}
	wantCode(t, CheckPlanFits(PlanFree, 5, 10), "", "")
	wantCode(t, CheckPlanFits(PlanFree, 6, 0), CodePlanLimit, "")
	wantCode(t, CheckPlanFits(PlanFree, 1, 11), CodePlanLimit, "")
	wantCode(t, CheckPlanFits(PlanPro, 25, 100), "", "")
}
