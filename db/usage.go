package db

import (
	"context"
	"database/sql"
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

// RecordUsage adds counted requests to the daily and monthly totals in one
// transaction. The upserts add, so instances flushing the same rows at once
// sum correctly; rows go in one sorted order, so two flushes never deadlock.
func (s *Store) RecordUsage(ctx context.Context, deltas []UsageDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	ds := append([]UsageDelta(nil), deltas...)
	sort.Slice(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.OrgID != b.OrgID {
			return a.OrgID < b.OrgID
		}
		if !a.Day.Equal(b.Day) {
			return a.Day.Before(b.Day)
		}
		return a.AgentID < b.AgentID
	})
	type monthKey struct {
		org   int64
		month time.Time
	}
	months := map[monthKey]int64{}
	var orgs, agents, reqs []int64
	var days []string
	for _, d := range ds {
		if d.Requests <= 0 {
			continue
		}
		orgs, agents, reqs = append(orgs, d.OrgID), append(agents, d.AgentID), append(reqs, d.Requests)
		days = append(days, model.Day(d.Day).Format(time.DateOnly))
		months[monthKey{d.OrgID, model.MonthStart(d.Day)}] += d.Requests
	}
	mks := make([]monthKey, 0, len(months))
	for k := range months {
		mks = append(mks, k)
	}
	sort.Slice(mks, func(i, j int) bool {
		if mks[i].org != mks[j].org {
			return mks[i].org < mks[j].org
		}
		return mks[i].month.Before(mks[j].month)
	})
	var morgs, mreqs []int64
	var mmonths []string
	for _, k := range mks {
		morgs, mmonths, mreqs = append(morgs, k.org), append(mmonths, k.month.Format(time.DateOnly)), append(mreqs, months[k])
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin usage: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after commit this is a no-op
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO usage_daily AS u (org_id, day, agent_id, requests)
		SELECT * FROM unnest($1::bigint[], $2::date[], $3::bigint[], $4::bigint[])
		ON CONFLICT (org_id, day, agent_id) DO UPDATE SET requests = u.requests + EXCLUDED.requests`,
		pq.Int64Array(orgs), pq.StringArray(days), pq.Int64Array(agents), pq.Int64Array(reqs)); err != nil {
		return fmt.Errorf("record daily usage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO usage_monthly AS u (org_id, month, requests)
		SELECT * FROM unnest($1::bigint[], $2::date[], $3::bigint[])
		ON CONFLICT (org_id, month) DO UPDATE SET requests = u.requests + EXCLUDED.requests`,
		pq.Int64Array(morgs), pq.StringArray(mmonths), pq.Int64Array(mreqs)); err != nil {
		return fmt.Errorf("record monthly usage: %w", err)
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
	ByAgent []AgentUsage // most requests first
}

// UsageReport sums org's recorded requests over r by day and by agent with
// one scan of the org's rows in the range. Callers have checked the reader
// may see the org's usage (every role may, SPEC 2).
func (s *Store) UsageReport(ctx context.Context, orgID int64, r model.UsageRange) (UsageReport, error) {
	var rows []struct {
		Day      sql.NullTime  `db:"day"`
		AgentID  sql.NullInt64 `db:"agent_id"`
		Requests int64         `db:"requests"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT day, agent_id, sum(requests)::bigint AS requests FROM usage_daily
		WHERE org_id = $1 AND day BETWEEN $2 AND $3 GROUP BY GROUPING SETS ((day), (agent_id))`,
		orgID, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly))
	if err != nil {
		return UsageReport{}, fmt.Errorf("usage report: %w", err)
	}
	rep := UsageReport{ByDay: make([]DayUsage, r.Days())}
	for i := range rep.ByDay {
		rep.ByDay[i].Day = r.From.AddDate(0, 0, i)
	}
	var ids []int64
	for _, row := range rows {
		if row.Day.Valid {
			i := int(model.Day(row.Day.Time).Sub(r.From).Hours() / 24)
			if i >= 0 && i < len(rep.ByDay) {
				rep.ByDay[i].Requests += row.Requests
			}
			rep.Total += row.Requests
			continue
		}
		rep.ByAgent = append(rep.ByAgent, AgentUsage{AgentID: row.AgentID.Int64, Requests: row.Requests})
		if row.AgentID.Int64 != 0 {
			ids = append(ids, row.AgentID.Int64)
		}
	}
	names := map[int64]string{}
	if len(ids) > 0 {
		var ns []struct {
			ID   int64  `db:"id"`
			Name string `db:"name"`
		}
		if err := s.db.SelectContext(ctx, &ns, `SELECT id, name FROM agents WHERE org_id = $1 AND id = ANY($2)`, orgID, pq.Int64Array(ids)); err != nil {
			return UsageReport{}, fmt.Errorf("usage agent names: %w", err)
		}
		for _, n := range ns {
			names[n.ID] = n.Name
		}
	}
	for i := range rep.ByAgent {
		a := &rep.ByAgent[i]
		if a.AgentID == 0 {
			continue
		}
		if n, ok := names[a.AgentID]; ok {
			a.Name = n
		} else {
			a.Gone, a.Name = true, "Agent #"+strconv.FormatInt(a.AgentID, 10)+" (moved or deleted)"
		}
	}
	sort.Slice(rep.ByAgent, func(i, j int) bool {
		a, b := rep.ByAgent[i], rep.ByAgent[j]
		if a.Requests != b.Requests {
			return a.Requests > b.Requests
		}
		return a.AgentID < b.AgentID
	})
	return rep, nil
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
func (s *Store) LimitUsage(ctx context.Context, viewerID int64, org model.Org) (LimitUse, error) {
	var u LimitUse
	err := s.db.GetContext(ctx, &u, `SELECT
		(SELECT count(*) FROM memberships WHERE org_id = $1) +
		(SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $3) AS team_members,
		(SELECT count(*) FROM api_tokens WHERE account_id = $2 AND (org_id = $1 OR ($4 AND org_id IS NULL))
			AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)) AS api_keys,
		(SELECT count(*) FROM agents WHERE org_id = $1) AS agents,
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
