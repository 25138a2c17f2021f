package db

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"guildhall/db/model"
)

// UsageDelta is a number of API requests an instance counted for one org,
// agent (0: none) and UTC day, not yet written.
type UsageDelta struct {
	OrgID    int64
	AgentID  int64
	Day      time.Time
	Requests int64
}

// usageRow is one row of a usage table: org, a date (day or month), an
// agent (0 where the table has none) and requests.
type usageRow struct {
	org   int64
	date  time.Time
	agent int64
}

// rollup sums deltas into rows keyed by key, sorted by (org, date, agent):
// every flush locks rows in that one order, so two flushes never deadlock.
func rollup(ds []UsageDelta, key func(UsageDelta) usageRow) (orgs []int64, dates []string, agents, reqs []int64) {
	sums := map[usageRow]int64{}
	for _, d := range ds {
		if d.Requests > 0 {
			sums[key(d)] += d.Requests
		}
	}
	keys := make([]usageRow, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.org != b.org {
			return a.org < b.org
		}
		if !a.date.Equal(b.date) {
			return a.date.Before(b.date)
		}
		return a.agent < b.agent
	})
	for _, k := range keys {
		orgs, dates = append(orgs, k.org), append(dates, k.date.Format(time.DateOnly))
		agents, reqs = append(agents, k.agent), append(reqs, sums[k])
	}
	return orgs, dates, agents, reqs
}

// RecordUsage adds counted requests to the daily rows and their rollups
// (org per day, agent per month, org per month) in one transaction. The
// upserts add, so instances flushing the same rows at once sum correctly.
func (s *Store) RecordUsage(ctx context.Context, deltas []UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin usage: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after commit this is a no-op
	tables := []struct {
		name, insert string
		key          func(UsageDelta) usageRow
	}{
		{"daily", `INSERT INTO usage_daily AS u (org_id, day, agent_id, requests)
			SELECT * FROM unnest($1::bigint[], $2::date[], $3::bigint[], $4::bigint[])
			ON CONFLICT (org_id, day, agent_id) DO UPDATE SET requests = u.requests + EXCLUDED.requests`,
			func(d UsageDelta) usageRow { return usageRow{d.OrgID, model.Day(d.Day), d.AgentID} }},
		{"org daily", `INSERT INTO usage_org_daily AS u (org_id, day, requests)
			SELECT o, d, r FROM unnest($1::bigint[], $2::date[], $3::bigint[], $4::bigint[]) AS x(o, d, a, r)
			ON CONFLICT (org_id, day) DO UPDATE SET requests = u.requests + EXCLUDED.requests`,
			func(d UsageDelta) usageRow { return usageRow{d.OrgID, model.Day(d.Day), 0} }},
		{"agent monthly", `INSERT INTO usage_agent_monthly AS u (org_id, month, agent_id, requests)
			SELECT * FROM unnest($1::bigint[], $2::date[], $3::bigint[], $4::bigint[])
			ON CONFLICT (org_id, month, agent_id) DO UPDATE SET requests = u.requests + EXCLUDED.requests`,
			func(d UsageDelta) usageRow { return usageRow{d.OrgID, model.MonthStart(d.Day), d.AgentID} }},
		{"monthly", `INSERT INTO usage_monthly AS u (org_id, month, requests)
			SELECT o, m, r FROM unnest($1::bigint[], $2::date[], $3::bigint[], $4::bigint[]) AS x(o, m, a, r)
			ON CONFLICT (org_id, month) DO UPDATE SET requests = u.requests + EXCLUDED.requests`,
			func(d UsageDelta) usageRow { return usageRow{d.OrgID, model.MonthStart(d.Day), 0} }},
	}
	for _, t := range tables {
		orgs, dates, agents, reqs := rollup(deltas, t.key)
		if len(orgs) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, t.insert, pq.Int64Array(orgs), pq.StringArray(dates), pq.Int64Array(agents), pq.Int64Array(reqs)); err != nil {
			return fmt.Errorf("record %s usage: %w", t.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit usage: %w", err)
	}
	return nil
}

// OrgMonth is an org's monthly request limit and the requests recorded so far
// in one month.
type OrgMonth struct {
	OrgID    int64 `db:"org_id"`
	Limit    int64 `db:"limit"`
	Requests int64 `db:"requests"`
}

// MonthlyRequests reads the limit and the recorded count of month (its first
// day) for each org that exists among orgIDs: one indexed row each.
func (s *Store) MonthlyRequests(ctx context.Context, orgIDs []int64, month time.Time) (map[int64]OrgMonth, error) {
	out := make(map[int64]OrgMonth, len(orgIDs))
	if len(orgIDs) == 0 {
		return out, nil
	}
	var rows []OrgMonth
	err := s.db.SelectContext(ctx, &rows, `
		SELECT o.id AS org_id, o.limit_monthly_requests AS limit, COALESCE(u.requests, 0) AS requests
		FROM orgs o LEFT JOIN usage_monthly u ON u.org_id = o.id AND u.month = $2
		WHERE o.id = ANY($1)`, pq.Int64Array(orgIDs), model.MonthStart(month).Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("read monthly usage: %w", err)
	}
	for _, r := range rows {
		out[r.OrgID] = r
	}
	return out, nil
}

// MemberOrg resolves an org reference (id or slug) to the id of an org
// accountID belongs to; anything else is not found.
func (s *Store) MemberOrg(ctx context.Context, accountID int64, ref string) (int64, error) {
	var id int64
	if !model.ValidText(ref) || ref == "" {
		return 0, model.NotFound("organization")
	}
	var err error
	if n, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		err = s.db.GetContext(ctx, &id, `SELECT org_id FROM memberships WHERE org_id = $1 AND account_id = $2`, n, accountID)
	} else {
		err = s.db.GetContext(ctx, &id, `SELECT o.id FROM orgs o JOIN memberships m ON m.org_id = o.id AND m.account_id = $1
			WHERE o.slug = $2`, accountID, strings.ToLower(ref))
	}
	return id, notFound(err, "organization")
}

// MemberAgentOrg is the org of agentID when accountID is a member of it;
// anything else is not found.
func (s *Store) MemberAgentOrg(ctx context.Context, accountID, agentID int64) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT a.org_id FROM agents a
		JOIN memberships m ON m.org_id = a.org_id AND m.account_id = $1 WHERE a.id = $2`, accountID, agentID)
	return id, notFound(err, "agent")
}

// AgentUsage is one agent's requests in a usage report. Name is empty for
// requests no route tied to an agent (AgentID 0); Gone marks an agent since
// deleted or moved out of the org, whose name is no longer the org's to show.
type AgentUsage struct {
	AgentID  int64  `db:"agent_id"`
	Name     string `db:"name"`
	Gone     bool   `db:"gone"`
	Requests int64  `db:"requests"`
}

// DayUsage is one day's requests.
type DayUsage struct {
	Day      time.Time
	Requests int64
}

// UsageReport is an org's requests over a range of days.
type UsageReport struct {
	Total   int64
	ByDay   []DayUsage   // every day of the range, zeros included
	ByAgent []AgentUsage // AgentID 0 (if any) first, then most requests first
	Agents  int          // rows of ByAgent before a limit cut it
}

// UsageReport sums org's recorded requests over r by day (from the org's
// daily rollup) and by agent: whole months of the range come from the
// agents' monthly rollup, the days before and after them from the daily
// rows, so a month of 1,000 agents reads about 1,000 rows. Callers have
// checked the reader may see the org's usage (every role may, SPEC 2).
//
// agentLimit > 0 keeps only that many agents (the busiest) besides AgentID
// 0; Agents still counts them all.
func (s *Store) UsageReport(ctx context.Context, orgID int64, r model.UsageRange, agentLimit int) (UsageReport, error) {
	rep := UsageReport{ByDay: make([]DayUsage, r.Days()), ByAgent: []AgentUsage{}}
	for i := range rep.ByDay {
		rep.ByDay[i].Day = r.From.AddDate(0, 0, i)
	}
	var days []struct {
		Day      time.Time `db:"day"`
		Requests int64     `db:"requests"`
	}
	if err := s.db.SelectContext(ctx, &days, `SELECT day, requests FROM usage_org_daily WHERE org_id = $1 AND day BETWEEN $2 AND $3`,
		orgID, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly)); err != nil {
		return rep, fmt.Errorf("usage by day: %w", err)
	}
	for _, d := range days {
		if i := int(model.Day(d.Day).Sub(r.From).Hours() / 24); i >= 0 && i < len(rep.ByDay) {
			rep.ByDay[i].Requests += d.Requests
			rep.Total += d.Requests
		}
	}
	months, headTo, tailFrom := usageMonths(r)
	var limit *int
	if agentLimit > 0 {
		limit = &agentLimit
	}
	var rows []struct {
		AgentUsage
		Agents int `db:"agents"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		WITH u AS (SELECT agent_id, sum(requests)::bigint AS requests FROM (
				SELECT agent_id, requests FROM usage_agent_monthly WHERE org_id = $1 AND month = ANY($2::date[])
				UNION ALL
				SELECT agent_id, requests FROM usage_daily WHERE org_id = $1 AND day BETWEEN $3 AND $4
				UNION ALL
				SELECT agent_id, requests FROM usage_daily WHERE org_id = $1 AND day BETWEEN $5 AND $6
			) x GROUP BY agent_id),
		top AS (SELECT agent_id, requests, count(*) OVER () AS agents FROM u WHERE agent_id <> 0
			ORDER BY requests DESC, agent_id LIMIT $7)
		SELECT t.agent_id, COALESCE(a.name, '') AS name, a.id IS NULL AS gone, t.requests, t.agents
		FROM (SELECT * FROM top UNION ALL SELECT agent_id, requests, 0 FROM u WHERE agent_id = 0) t
		LEFT JOIN agents a ON a.id = t.agent_id AND a.org_id = $1
		ORDER BY t.agent_id <> 0, t.requests DESC, t.agent_id`,
		orgID, pq.StringArray(months), r.From.Format(time.DateOnly), headTo.Format(time.DateOnly),
		tailFrom.Format(time.DateOnly), r.To.Format(time.DateOnly), limit)
	if err != nil {
		return rep, fmt.Errorf("usage by agent: %w", err)
	}
	for _, row := range rows {
		rep.addAgent(row.AgentUsage, row.Agents)
	}
	return rep, nil
}

// addAgent appends a, one row of the by-agent read (agents: how many agents
// the limit cut from), named as the report shows it.
func (rep *UsageReport) addAgent(a AgentUsage, agents int) {
	if a.AgentID == 0 {
		a.Gone, a.Name = false, ""
	} else {
		rep.Agents = agents
		if a.Gone {
			a.Name = "Agent #" + strconv.FormatInt(a.AgentID, 10) + " (moved or deleted)"
		}
	}
	rep.ByAgent = append(rep.ByAgent, a)
}

// usageMonths splits r into the whole months inside it and the days before
// (r.From to headTo) and after them (tailFrom to r.To).
func usageMonths(r model.UsageRange) (months []string, headTo, tailFrom time.Time) {
	first := model.MonthStart(r.From)
	if !first.Equal(r.From) {
		first = first.AddDate(0, 1, 0)
	}
	end := model.MonthStart(r.To.AddDate(0, 0, 1)) // the first month not wholly inside
	for m := first; m.Before(end); m = m.AddDate(0, 1, 0) {
		months = append(months, m.Format(time.DateOnly))
	}
	headTo, tailFrom = r.To, r.To.AddDate(0, 0, 1) // no months: the daily rows cover it all
	if len(months) > 0 {
		headTo, tailFrom = first.AddDate(0, 0, -1), end
	}
	return months, headTo, tailFrom
}

// LimitUse is how much of each plan limit an org uses, as viewer sees it.
// APIKeys counts the viewer's own active tokens in the org, which is what
// the api_keys limit applies to (see CreateToken). MonthlyRequests is the
// recorded count of the current UTC month (up to a flush interval behind).
type LimitUse struct {
	TeamMembers     int   `db:"team_members"`
	APIKeys         int   `db:"api_keys"`
	Agents          int   `db:"agents"`
	MonthlyRequests int64 `db:"monthly_requests"`
}

// Of is the use of limit name.
func (u LimitUse) Of(name string) int64 {
	switch name {
	case model.LimitTeamMembers:
		return int64(u.TeamMembers)
	case model.LimitAPIKeys:
		return int64(u.APIKeys)
	case model.LimitAgents:
		return int64(u.Agents)
	case model.LimitMonthlyRequests:
		return u.MonthlyRequests
	}
	return 0
}

// LimitUsage counts what org uses of each limit with one query. team_members
// counts members and pending invitations, as the limit check does.
//
// Members and agents come from the org's trigger-kept counters (00009):
// counting 10,000 memberships and 100,000 agents cost 5 ms a call.
func (s *Store) LimitUsage(ctx context.Context, viewerID int64, org model.Org) (LimitUse, error) {
	var u LimitUse
	err := s.db.GetContext(ctx, &u, `SELECT
		(SELECT member_count FROM orgs WHERE id = $1) +
		(SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $3) AS team_members,
		(SELECT count(*) FROM api_tokens WHERE account_id = $2 AND (org_id = $1 OR ($4 AND org_id IS NULL))
			AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)) AS api_keys,
		(SELECT agent_count FROM orgs WHERE id = $1) AS agents,
		COALESCE((SELECT requests FROM usage_monthly WHERE org_id = $1 AND month = $5), 0) AS monthly_requests`,
		org.ID, viewerID, s.Now(), org.Personal(), model.MonthStart(s.Now()).Format(time.DateOnly))
	if err != nil {
		return u, fmt.Errorf("limit usage: %w", err)
	}
	return u, nil
}

// ChangePlan moves org to another plan (owner only): the plan's limits from
// the table in model.PlanLimits replace the stored ones. A downgrade that
// would leave the org over its member or agent ceiling is refused. There is
// no payment step. Audited as org.plan_changed.
func (s *Store) ChangePlan(ctx context.Context, actor model.Actor, orgID int64, plan string) (model.Org, error) {
	var org model.Org
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.plainRole(orgID, actor.AccountID); err != nil {
			return err
		}
		cur, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		target := orgTarget(cur)
		if err := model.CanChangePlan(role); err != nil {
			return tx.Deny(orgID, "org.plan_changed", target, err)
		}
		p, err := model.ParsePlan(plan)
		if err != nil {
			return err
		}
		if p == cur.Plan {
			org = cur
			return nil
		}
		var n struct {
			Seats  int `db:"seats"`
			Agents int `db:"agents"`
		}
		if err := tx.GetContext(ctx, &n, `SELECT
			(SELECT count(*) FROM memberships WHERE org_id = $1) +
			(SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $2) AS seats,
			(SELECT count(*) FROM agents WHERE org_id = $1) AS agents`, orgID, tx.Now()); err != nil {
			return fmt.Errorf("count plan use: %w", err)
		}
		if err := model.CheckPlanFits(p, n.Seats, n.Agents); err != nil {
			return err
		}
		lim := model.PlanLimits(p)
		err = tx.GetContext(ctx, &org, `UPDATE orgs o SET plan = $1, limit_team_members = $2, limit_api_keys = $3,
			limit_agents = $4, limit_monthly_requests = $5, updated_at = $6 WHERE o.id = $7 RETURNING `+orgCols,
			p, lim.TeamMembers, lim.APIKeys, lim.Agents, lim.MonthlyRequests, tx.Now(), orgID)
		if err != nil {
			return fmt.Errorf("change plan: %w", err)
		}
		target.Label = cur.Slug + ": " + string(cur.Plan) + " to " + string(p)
		return tx.Record(orgID, "org.plan_changed", target)
	})
	return org, err
}

// usageScreenQuery is what /usage and GET /api/orgs/{org}/usage show, in
// one statement instead of three (by day, by agent, LimitUsage), read
// without reflection. Its rows are in parts, each with the columns it needs
// of (n1, n2, n3, n4, name, gone):
//
//	part 0, one row: the limit use (team members, API keys, agents, requests this month)
//	part 1, a row per day with requests: (day - from, requests)
//	part 2, the agents as UsageReport orders them: (agent, requests, agents before the limit, -, name, gone)
//
// $1 org, $2 whole months, $3-$4 and $5-$6 the days around them ($3 is
// the range's first day, $6 its last), $7 viewer, $8 now, $9 personal, $10
// this month; :limit is the agents kept (ALL for every one).
const usageScreenQuery = `
	WITH u AS (SELECT agent_id, sum(requests)::bigint AS requests FROM (
			SELECT agent_id, requests FROM usage_agent_monthly WHERE org_id = $1 AND month = ANY($2::date[])
			UNION ALL
			SELECT agent_id, requests FROM usage_daily WHERE org_id = $1 AND day BETWEEN $3 AND $4
			UNION ALL
			SELECT agent_id, requests FROM usage_daily WHERE org_id = $1 AND day BETWEEN $5 AND $6
		) x GROUP BY agent_id),
	top AS (SELECT agent_id, requests, count(*) OVER () AS agents FROM u WHERE agent_id <> 0
		ORDER BY requests DESC, agent_id LIMIT :limit)
	SELECT * FROM (
		SELECT 0 AS part,
			(SELECT member_count FROM orgs WHERE id = $1)::bigint +
			(SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $8) AS n1,
			(SELECT count(*) FROM api_tokens WHERE account_id = $7 AND (org_id = $1 OR ($9 AND org_id IS NULL))
				AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $8)) AS n2,
			(SELECT agent_count FROM orgs WHERE id = $1)::bigint AS n3,
			COALESCE((SELECT requests FROM usage_monthly WHERE org_id = $1 AND month = $10), 0)::bigint AS n4,
			'' AS name, false AS gone
		UNION ALL
		SELECT 1, (day - $3::date)::bigint, requests, 0, 0, '', false
		FROM usage_org_daily WHERE org_id = $1 AND day BETWEEN $3 AND $6
		UNION ALL
		SELECT 2, t.agent_id, t.requests, t.agents, 0, COALESCE(a.name, ''), a.id IS NULL
		FROM (SELECT * FROM top UNION ALL SELECT agent_id, requests, 0 FROM u WHERE agent_id = 0) t
		LEFT JOIN agents a ON a.id = t.agent_id AND a.org_id = $1
	) s ORDER BY part, n1 <> 0, n2 DESC, n1`

// UsageScreen is UsageReport and LimitUsage (for viewerID) in one statement.
func (s *Store) UsageScreen(ctx context.Context, viewerID int64, org model.Org, r model.UsageRange, agentLimit int) (UsageReport, LimitUse, error) {
	rep := UsageReport{ByDay: make([]DayUsage, r.Days()), ByAgent: []AgentUsage{}}
	var use LimitUse
	for i := range rep.ByDay {
		rep.ByDay[i].Day = r.From.AddDate(0, 0, i)
	}
	months, headTo, tailFrom := usageMonths(r)
	now := s.Now()
	query, args := usageScreenQuery, []any{org.ID, pq.StringArray(months), r.From.Format(time.DateOnly), headTo.Format(time.DateOnly),
		tailFrom.Format(time.DateOnly), r.To.Format(time.DateOnly), viewerID, now, org.Personal(), model.MonthStart(now).Format(time.DateOnly)}
	if agentLimit > 0 {
		query, args = limitArgs(query, agentLimit, args, UsageAgentRows)
	} else {
		query = strings.Replace(query, ":limit", "ALL", 1)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return rep, use, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			part           int
			n1, n2, n3, n4 int64
			a              AgentUsage
		)
		if err := rows.Scan(&part, &n1, &n2, &n3, &n4, &a.Name, &a.Gone); err != nil {
			return rep, use, fmt.Errorf("usage: %w", err)
		}
		switch part {
		case 0:
			use = LimitUse{TeamMembers: int(n1), APIKeys: int(n2), Agents: int(n3), MonthlyRequests: n4}
		case 1:
			if i := int(n1); i >= 0 && i < len(rep.ByDay) {
				rep.ByDay[i].Requests += n2
				rep.Total += n2
			}
		case 2:
			a.AgentID, a.Requests = n1, n2
			rep.addAgent(a, int(n3))
		}
	}
	if err := rows.Err(); err != nil {
		return rep, use, fmt.Errorf("usage: %w", err)
	}
	return rep, use, nil
}

// UsageAgentRows is how many agents /usage lists before "Show all": a
// constant in the text of UsageScreen's statement.
const UsageAgentRows = 25
