package model

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Usage periods of GET /api/orgs/{org}/usage and the usage page. A range
// given by start_date/end_date is reported as PeriodCustom.
const (
	PeriodDay    = "day"
	PeriodWeek   = "week"
	PeriodMonth  = "month"
	PeriodCustom = "custom"
)

// MaxUsageDays bounds a custom range, so one request never scans years.
const MaxUsageDays = 366

// UsageRange is a span of whole UTC days, From and To inclusive (both at
// 00:00 UTC).
type UsageRange struct {
	Period string
	From   time.Time
	To     time.Time
}

// Days is the number of days in the range.
func (r UsageRange) Days() int { return int(r.To.Sub(r.From).Hours()/24) + 1 }

// End is the last second of the range, as PlexMCP reports end_date.
func (r UsageRange) End() time.Time { return r.To.Add(24*time.Hour - time.Second) }

// Day truncates t to its UTC day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// MonthStart is the first instant of t's UTC month: monthly request counts
// reset then.
func MonthStart(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// NextMonthStart is when t's month's count resets (X-RateLimit-Reset,
// Retry-After).
func NextMonthStart(t time.Time) time.Time { return MonthStart(t).AddDate(0, 1, 0) }

// ParseUsageRange reads period, start_date and end_date (all optional) as of
// now. No dates: the current day, ISO week (Monday first) or month (the
// default). Dates: a custom range of whole days; end_date defaults to today;
// dates are YYYY-MM-DD or RFC 3339 (their UTC day counts). A period other
// than custom together with dates, an unknown period, a bad date, an end
// before the start or a range over MaxUsageDays is a validation error.
func ParseUsageRange(period, startDate, endDate string, now time.Time) (UsageRange, error) {
	period = strings.ToLower(strings.TrimSpace(period))
	startDate, endDate = strings.TrimSpace(startDate), strings.TrimSpace(endDate)
	today := Day(now)
	f := Fields{}
	if startDate == "" && endDate == "" {
		switch period {
		case "", PeriodMonth:
			from := MonthStart(now)
			return UsageRange{Period: PeriodMonth, From: from, To: from.AddDate(0, 1, -1)}, nil
		case PeriodWeek:
			back := (int(today.Weekday()) + 6) % 7 // days since Monday
			from := today.AddDate(0, 0, -back)
			return UsageRange{Period: PeriodWeek, From: from, To: from.AddDate(0, 0, 6)}, nil
		case PeriodDay:
			return UsageRange{Period: PeriodDay, From: today, To: today}, nil
		case PeriodCustom:
			f.Add("start_date", "A custom period needs a start_date.")
		default:
			f.Add("period", "Unknown period: use day, week or month, or give start_date and end_date.")
		}
		return UsageRange{}, f.Err()
	}
	if period != "" && period != PeriodCustom {
		f.Add("period", "Give either a period or start_date and end_date, not both.")
	}
	from, ferr := parseDay(startDate)
	switch {
	case startDate == "":
		f.Add("start_date", "Give a start_date with the end_date.")
	case ferr != nil:
		f.Add("start_date", "start_date must be a date like 2024-01-15.")
	}
	to := today
	if endDate != "" {
		var err error
		if to, err = parseDay(endDate); err != nil {
			f.Add("end_date", "end_date must be a date like 2024-01-31.")
		}
	}
	if err := f.Err(); err != nil {
		return UsageRange{}, err
	}
	r := UsageRange{Period: PeriodCustom, From: from, To: to}
	if to.Before(from) {
		return UsageRange{}, InvalidField("end_date", "end_date must not be before start_date.")
	}
	if r.Days() > MaxUsageDays {
		return UsageRange{}, InvalidField("end_date", "A range can span at most 366 days.")
	}
	return r, nil
}

func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return Day(t), nil
}

// Percent is used as a percentage of max, to one decimal (0 when max is 0
// and nothing is used, 100 when something is).
func Percent(used, max int64) float64 {
	if max <= 0 {
		if used > 0 {
			return 100
		}
		return 0
	}
	return math.Round(float64(used)*1000/float64(max)) / 10
}

// Limit levels for the bars: amber from 80%, red at 100%.
const (
	LevelOK   = "ok"
	LevelWarn = "warn"
	LevelFull = "full"
)

// LimitLevel says how close used is to max.
func LimitLevel(used, max int64) string {
	switch {
	case used >= max:
		return LevelFull
	case used*10 >= max*8:
		return LevelWarn
	}
	return LevelOK
}

// ParsePlan reads a plan name.
func ParsePlan(s string) (Plan, error) {
	p := Plan(strings.ToLower(strings.TrimSpace(s)))
	if !p.Valid() {
		return "", InvalidField("plan", "Unknown plan: choose free, pro or team.")
	}
	return p, nil
}

// CanChangePlan: only owners change the plan (it is the org's contract).
func CanChangePlan(r Role) error {
	if r != RoleOwner {
		return Forbidden("Only an owner can change the plan.")
	}
	return nil
}

// CheckPlanFits refuses a plan whose limits the org already exceeds on
// members (with pending invitations) or agents: a downgrade must not leave
// the org over its ceilings. API keys (counted per account) and monthly
// requests (which simply answer 429 until the month ends) do not block it.
func CheckPlanFits(to Plan, seats, agents int) error {
	l := PlanLimits(to)
	if err := CheckLimit(LimitTeamMembers, seats, l.TeamMembers); err != nil {
		e := err.(*Error)
		e.Message = "The " + to.Label() + " plan allows " + strconv.Itoa(l.TeamMembers) + " team members (with pending invitations); this organization has " + strconv.Itoa(seats) + ". Remove some first."
		return e
	}
	if err := CheckLimit(LimitAgents, agents, l.Agents); err != nil {
		e := err.(*Error)
		e.Message = "The " + to.Label() + " plan allows " + strconv.Itoa(l.Agents) + " agents; this organization has " + strconv.Itoa(agents) + ". Move or delete some first."
		return e
	}
	return nil
}
