package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"guildhall/db/model"
)

// The effective permission of SPEC 3 is decided by model.EffectivePermission
// alone. This file gathers its facts: one query for one resource, and one
// query for every agent an account may read, with no query per row.

const agentCols = `a.id, a.org_id, o.slug AS org_slug, o.display_name AS org_name, o.kind AS org_kind,
	a.created_by, COALESCE(c.name, '') AS creator_name, a.name, a.description, a.config, a.created_at, a.updated_at`

// agentFactsRow is one agent with the facts about one account's access to it.
type agentFactsRow struct {
	model.Agent
	Role      string `db:"viewer_role"`
	Base      string `db:"base_permission"`
	IsCreator bool   `db:"is_creator"`
	// Grants is a JSON array of {team_id, team_name, permission}: every grant
	// on the agent held by a team the account belongs to (single resource), or
	// only the best one (list).
	Grants []byte `db:"grants"`
}

type grantFact struct {
	TeamID     int64            `json:"team_id"`
	TeamName   string           `json:"team_name"`
	Permission model.Permission `json:"permission"`
}

func (r agentFactsRow) facts() (model.AccessFacts, error) {
	f := model.AccessFacts{
		OrgKind:        r.OrgKind,
		Role:           model.Role(r.Role),
		BasePermission: model.Permission(r.Base),
		IsCreator:      r.IsCreator,
	}
	if len(r.Grants) > 0 {
		var gs []grantFact
		if err := json.Unmarshal(r.Grants, &gs); err != nil {
			return f, fmt.Errorf("decode grants: %w", err)
		}
		for _, g := range gs {
			f.Grants = append(f.Grants, model.TeamGrant{TeamID: g.TeamID, TeamName: g.TeamName, Permission: g.Permission})
		}
	}
	return f, nil
}

// resolve applies the rule and fills the agent's viewer fields.
func (r agentFactsRow) resolve() (model.Agent, error) {
	f, err := r.facts()
	if err != nil {
		return model.Agent{}, err
	}
	a := r.Agent
	a.Permission, a.Source = model.EffectivePermission(f)
	a.ViewerOrgRole = f.Role
	return a, nil
}

// agentAccessQuery gathers, in one statement, an agent and the facts about
// account $1's access to agent $2: the org's kind and base permission, the
// account's role (” when not a member), whether it created the agent, and
// the grants on the agent of every team of the org the account is in.
const agentAccessQuery = agentAccessSelect + agentAccessFrom + `
WHERE a.id = $2`

// agentAccessSelect is agentAccessQuery's select list.
const agentAccessSelect = `SELECT ` + agentCols + `,
	COALESCE(m.role, '') AS viewer_role,
	o.member_base_permission AS base_permission,
	COALESCE(a.created_by = $1, false) AS is_creator,
	(SELECT COALESCE(json_agg(json_build_object('team_id', t.id, 'team_name', t.name, 'permission', g.permission)
	        ORDER BY t.id), '[]')
	   FROM grants g
	   JOIN team_members tm ON tm.team_id = g.team_id AND tm.account_id = $1
	   JOIN teams t ON t.id = g.team_id
	  WHERE g.resource_kind = 'agent' AND g.resource_id = a.id AND g.org_id = a.org_id) AS grants`

// agentAccessFrom is agentAccessQuery's FROM clause (viewer $1).
const agentAccessFrom = `
FROM agents a
CROSS JOIN LATERAL (SELECT * FROM orgs o WHERE o.id = a.org_id OFFSET 0) o
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
LEFT JOIN memberships m ON m.org_id = a.org_id AND m.account_id = $1 AND ` + twoFactorAllows1

type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	QueryContext(ctx context.Context, query string, args ...any) (*Rows, error)
}

// agentFor loads agent agentID as seen by accountID, with its effective
// permission. An agent that does not exist is not found; an agent the account
// may not read is returned with permission none (callers answer not found).
// lock row-locks the agent (for changes).
func agentFor(ctx context.Context, q queryer, accountID, agentID int64, lock bool) (model.Agent, error) {
	query := agentAccessQuery
	if lock {
		query += ` FOR UPDATE OF a`
	}
	var row agentFactsRow
	if err := q.GetContext(ctx, &row, query, accountID, agentID); err != nil {
		return model.Agent{}, notFound(err, "agent")
	}
	return row.resolve()
}

// agent is agentFor outside a transaction (through the statement cache:
// planning this query costs several times its execution, and it runs on
// every agent page and API call).
func (s *Store) agent(ctx context.Context, accountID, agentID int64) (model.Agent, error) {
	return agentFor(ctx, s.db, accountID, agentID, false)
}

// AgentAccess is accountID's effective permission on agent agentID and where
// it came from. A missing agent is none (no membership), like one the account
// may not see.
func (s *Store) AgentAccess(ctx context.Context, accountID, agentID int64) (model.Permission, model.Source, error) {
	a, err := s.agent(ctx, accountID, agentID)
	if errors.Is(err, model.ErrNotFound) {
		return model.PermNone, model.Source{Rule: model.SourceNoMembership}, nil
	}
	if err != nil {
		return model.PermNone, model.Source{}, err
	}
	return a.Permission, a.Source, nil
}

// ResourceAccess is AgentAccess for any resource kind; only agents exist so far.
func (s *Store) ResourceAccess(ctx context.Context, accountID int64, kind model.ResourceKind, id int64) (model.Permission, model.Source, error) {
	if kind != model.ResourceAgent {
		return model.PermNone, model.Source{Rule: model.SourceNoMembership}, nil
	}
	return s.AgentAccess(ctx, accountID, id)
}

// AccessExplanation is the access explainer's answer for one member.
type AccessExplanation struct {
	UserID     int64            `json:"user_id"`
	Name       string           `json:"name"`
	Email      string           `json:"email"`
	Role       model.Role       `json:"role"`
	Permission model.Permission `json:"permission"`
	Source     model.Source     `json:"source"`
	Reason     string           `json:"reason"`
}

// Explain answers the access explainer: the effective permission of userID on
// the agent and the rule or team it came from. The viewer needs read on the
// agent (else not found); userID must be a member of the agent's org.
func (s *Store) Explain(ctx context.Context, viewer model.Actor, agentID, userID int64) (AccessExplanation, error) {
	a, err := s.GetAgent(ctx, viewer.AccountID, agentID)
	if err != nil {
		return AccessExplanation{}, err
	}
	var who struct {
		Name  string `db:"name"`
		Email string `db:"email"`
	}
	err = s.db.GetContext(ctx, &who, `SELECT acc.name, acc.email FROM accounts acc
		JOIN memberships m ON m.account_id = acc.id AND m.org_id = $1 WHERE acc.id = $2`, a.OrgID, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return AccessExplanation{}, model.NotFound("member")
	}
	if err != nil {
		return AccessExplanation{}, fmt.Errorf("load member: %w", err)
	}
	t, err := s.agent(ctx, userID, agentID)
	if err != nil {
		return AccessExplanation{}, err
	}
	return AccessExplanation{
		UserID: userID, Name: who.Name, Email: who.Email, Role: t.ViewerOrgRole,
		Permission: t.Permission, Source: t.Source, Reason: t.Source.Explain(t.Permission, t.ViewerOrgRole),
	}, nil
}

// AgentFilter narrows ListAgents. OrgID 0 lists every org the account is in.
type AgentFilter struct {
	OrgID int64
	// ExcludeOrgs are orgs to leave out: those SSO enforcement shuts an API
	// token's account out of (api.Base.SSOBlocked).
	ExcludeOrgs []int64
	Page        int // from 1
	PerPage     int // default 20 (model.DefaultPerPage), at most 200
	// After and Before are the agent a page starts after ("Next") or ends
	// before ("Previous"), for a viewer who reads the whole of OrgID: the
	// page is then read from agents_org_name_idx at that agent, however deep
	// (page 2,000 of 4,000 walked 50,000 index entries by its offset). Page
	// still numbers it; a page the agent no longer places where Page says
	// (deleted, renamed, moved) is read by Page instead.
	After, Before int64
}

// AgentPage is one page of readable agents.
type AgentPage struct {
	Agents  []model.Agent
	Total   int
	Page    int
	PerPage int
	// Keyset: After and Before can page this list (the viewer reads the
	// whole org).
	Keyset bool
}

// TotalPages is the number of pages (at least 1).
func (p AgentPage) TotalPages() int {
	if p.Total == 0 || p.PerPage == 0 {
		return 1
	}
	return (p.Total + p.PerPage - 1) / p.PerPage
}

// listAgentsQuery lists, in one statement, the agents account $1 might read
// (in org $2, or in all its orgs when $2 is 0) with the facts of SPEC 3: its
// role and the org's base permission (from its membership), whether it
// created each agent, and its best team grant on each (the highest level,
// the lowest team id on a tie: the same pick EffectivePermission makes).
//
// The candidates are only the rows where some fact could give a level: every
// agent of the org for owners, admins, billing members and when the base
// permission is not none; otherwise the member's own agents and the agents
// its teams hold grants on, so a member of a large org reads a few index
// ranges, not the whole org. The level itself is decided in Go.
const listAgentsQuery = `WITH me AS (
	SELECT m.org_id, m.role, o.member_base_permission AS base, o.slug, o.display_name, o.kind, o.agent_count
	  FROM memberships m CROSS JOIN LATERAL (SELECT * FROM orgs o WHERE o.id = m.org_id OFFSET 0) o
	 WHERE m.account_id = $1 AND ($2::bigint = 0 OR m.org_id = $2::bigint) AND ` + twoFactorAllows1 + `
	   AND m.org_id <> ALL($3::bigint[])
), best AS (
	-- Team grants decide only a plain member's level (model.EffectivePermission):
	-- an admin in the 2,000-grant team reads none of them.
	SELECT DISTINCT ON (g.resource_id) g.resource_id, g.org_id, g.team_id, g.permission
	  FROM me
	  JOIN team_members tm ON tm.org_id = me.org_id AND tm.account_id = $1
	  JOIN grants g ON g.team_id = tm.team_id AND g.resource_kind = 'agent'
	 WHERE me.role = 'member'
	 ORDER BY g.resource_id,
	       CASE g.permission WHEN 'admin' THEN 3 WHEN 'write' THEN 2 WHEN 'read' THEN 1 ELSE 0 END DESC,
	       g.team_id
), cand AS (
	-- Three disjoint branches (UNION ALL, no de-duplication): the whole org;
	-- else the member's own agents; else the agents its teams were granted.
	-- From a whole org only the first offset + limit agents by name
	-- can reach the page: they come from agents_org_name_idx, so the owner
	-- of a 100,000-agent org listing all its orgs reads a page's worth, not
	-- every agent (44 ms before), and the org's agent counter counts them.
	SELECT x.id, x.sort_name, true AS whole FROM me CROSS JOIN LATERAL (
		SELECT a.id, a.name_key AS sort_name FROM agents a WHERE a.org_id = me.org_id
		 ORDER BY a.name_key, a.id LIMIT :reach) x
	 WHERE me.role <> 'member' OR me.base <> 'none'
	UNION ALL
	SELECT a.id, a.name_key, false FROM me JOIN agents a ON a.org_id = me.org_id AND a.created_by = $1
	 WHERE me.role = 'member' AND me.base = 'none'
	UNION ALL
	SELECT b.resource_id, x.sort_name, false FROM best b
	  JOIN me ON me.org_id = b.org_id AND me.role = 'member' AND me.base = 'none'
	  CROSS JOIN LATERAL (SELECT a.name_key AS sort_name FROM agents a
	                       WHERE a.id = b.resource_id AND a.org_id = b.org_id
	                         AND a.created_by IS DISTINCT FROM $1 OFFSET 0) x
), total AS (
	SELECT (SELECT count(*) FROM cand WHERE NOT whole)
	     + COALESCE((SELECT sum(me.agent_count) FROM me
	                  WHERE me.role <> 'member' OR me.base <> 'none'), 0) AS n
), page AS (
	-- The LATERAL ... OFFSET 0 subqueries below keep the planner to primary
	-- key lookups for the few rows of a member's page: by the default cost
	-- model it would otherwise hash-join a scan of every agent of the org.
	SELECT id, sort_name, total.n AS total FROM cand CROSS JOIN total
	 ORDER BY sort_name, id
	 LIMIT :limit OFFSET :offset
)
SELECT ` + agentCols + `,
	me.role AS viewer_role,
	me.base AS base_permission,
	COALESCE(a.created_by = $1, false) AS is_creator,
	CASE WHEN b.resource_id IS NULL THEN '[]'::json
	     ELSE json_build_array(json_build_object('team_id', b.team_id,
	          'team_name', (SELECT t.name FROM teams t WHERE t.id = b.team_id), 'permission', b.permission))
	END AS grants,
	page.total
FROM page
CROSS JOIN LATERAL (SELECT * FROM agents a WHERE a.id = page.id OFFSET 0) a
JOIN me ON me.org_id = a.org_id
-- The org's columns come from me (its orgs were looked up one at a time
-- there): joined again here, a plan could merge a page with the whole orgs
-- index, read up to a new org's id (TestPeopleBehindRowsAreLookedUp).
CROSS JOIN LATERAL (SELECT me.slug, me.display_name, me.kind) o
-- The creator and the team name are looked up a row at a time: joined, the
-- generic plan merged or hashed whole tables (every team of every org, read
-- twice a call) for a page of 50.
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
LEFT JOIN best b ON b.resource_id = a.id
ORDER BY page.sort_name, a.id`

// orgAgentsQuery is listAgentsQuery for a viewer who reads every agent of
// org $2 (owner, admin, billing, or a member when the base permission is
// not none), written for a fixed, prepared plan: the page comes straight
// from agents_org_name_idx (00009), the total from the org's agent counter,
// and the viewer's best team grant on each of the page's agents from one
// index probe per row. The generic plan of listOrgAgentsQuery read every
// grant of the viewer's teams (2,000 for a member of the big team) for a
// page of 50.
const orgAgentsQuery = orgAgentsSelect + `CROSS JOIN LATERAL (SELECT * FROM agents a WHERE a.org_id = me.org_id ORDER BY a.name_key, a.id LIMIT :limit) a
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
ORDER BY a.name_key, a.id`

// orgAgentsDeepQuery is orgAgentsQuery for the pages after the first. A page
// past the middle is counted from the end (agents_org_name_idx read
// backwards), so no page walks more than half the org (the last page of
// 100,000 agents: 19 ms before); the org's counter decides at run time which
// branch runs, as in the members list. Both limits are the page size (a
// constant, so the generic plan expects a page of rows): a partial last page
// read from the end brings rows of the page before it, which ListAgents
// drops. The first page keeps the simpler text: the two branches cost it a
// tenth more.
//
// The agents skipped are counted in agents_org_name_idx alone (its key is
// the stored lower-case name, 00021), and only the page's are read from
// the table: page 1,000 of 100,000 read 50,000 rows (20 ms).
const orgAgentsDeepQuery = orgAgentsSelect + `CROSS JOIN LATERAL (
	(SELECT k.id FROM agents k WHERE k.org_id = me.org_id AND me.total - :offset >= :offset
	  ORDER BY k.name_key, k.id LIMIT :limit OFFSET :offset)
	UNION ALL
	(SELECT k.id FROM agents k WHERE k.org_id = me.org_id AND me.total - :offset < :offset AND :offset < me.total
	  ORDER BY k.name_key DESC, k.id DESC LIMIT :limit OFFSET greatest(0, me.total - :offset - :limit))
) p
CROSS JOIN LATERAL (SELECT * FROM agents a WHERE a.id = p.id OFFSET 0) a
-- One lookup a row (OFFSET 0 keeps them so): with two branches the generic
-- plan guesses more rows than a page and would hash every account.
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
ORDER BY a.name_key, a.id`

// orgAgentsAfterQuery and orgAgentsBeforeQuery are orgAgentsQuery for the
// page after or before agent $4 (AgentFilter.After, Before): a row
// comparison on agents_org_name_idx, so the page costs the same at any depth.
// An agent that is not the org's gives no page (ListAgents then reads by
// number). The agent is looked up by its id alone, then its org checked:
// asked by org and id, the generic plan read its key from
// agents_org_name_idx, walking the org's entries (5 ms at page 2,001).
const (
	orgAgentsAfterQuery = orgAgentsSelect + `CROSS JOIN LATERAL (SELECT * FROM agents a WHERE a.org_id = me.org_id
	   AND (a.name_key, a.id) > (SELECT k.name_key, k.id FROM (SELECT * FROM agents k WHERE k.id = $4 OFFSET 0) k WHERE k.org_id = me.org_id)
	 ORDER BY a.name_key, a.id LIMIT :limit) a
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
ORDER BY a.name_key, a.id`
	orgAgentsBeforeQuery = orgAgentsSelect + `CROSS JOIN LATERAL (SELECT * FROM agents a WHERE a.org_id = me.org_id
	   AND (a.name_key, a.id) < (SELECT k.name_key, k.id FROM (SELECT * FROM agents k WHERE k.id = $4 OFFSET 0) k WHERE k.org_id = me.org_id)
	 ORDER BY a.name_key DESC, a.id DESC LIMIT :limit) a
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
ORDER BY a.name_key, a.id`
)

// orgAgentsSelect is the viewer, the org's counter and the columns of
// orgAgentsQuery and orgAgentsDeepQuery, up to their page of agents a. The
// lists look up each row's creator (LATERAL ... OFFSET 0): joined, the
// generic plan merged the page with the accounts' primary key, read from
// the first account up to the page's newest creator.
const orgAgentsSelect = `WITH me AS (
	SELECT m.org_id, m.role, o.member_base_permission AS base, o.agent_count AS total, o.slug, o.display_name, o.kind
	  FROM memberships m JOIN orgs o ON o.id = m.org_id
	 WHERE m.account_id = $1 AND m.org_id = $2 AND ` + twoFactorAllows1 + `
	   AND m.org_id <> ALL($3::bigint[])
)
SELECT ` + agentCols + `,
	me.role AS viewer_role,
	me.base AS base_permission,
	COALESCE(a.created_by = $1, false) AS is_creator,
	-- A team grant only decides a plain member's level on an agent it did not
	-- create (model.EffectivePermission): no probe a row for the others.
	CASE WHEN me.role <> 'member' OR a.created_by = $1 THEN '[]'::json
	ELSE COALESCE((SELECT json_build_array(json_build_object('team_id', g.team_id, 'team_name', t.name, 'permission', g.permission))
	   FROM team_members tm
	   JOIN grants g ON g.team_id = tm.team_id AND g.resource_kind = 'agent' AND g.resource_id = a.id
	   JOIN teams t ON t.id = g.team_id
	  WHERE tm.account_id = $1 AND tm.org_id = me.org_id
	  ORDER BY CASE g.permission WHEN 'admin' THEN 3 WHEN 'write' THEN 2 WHEN 'read' THEN 1 ELSE 0 END DESC, g.team_id
	  LIMIT 1), '[]'::json) END AS grants,
	me.total
FROM me
CROSS JOIN LATERAL (SELECT me.slug, me.display_name, me.kind) o
`

// grantedAgentsQuery is listAgentsQuery for a member of org $2 who reads
// only what its teams were granted (role member, base permission none) and
// created none of the org's agents, written for a fixed, prepared plan: the
// candidates are its teams' grants alone, sorted by the agent name each
// grant carries (00012), so no agent is read but the page's.
const grantedAgentsQuery = `WITH me AS (
	SELECT m.org_id, m.role, o.member_base_permission AS base, o.slug, o.display_name, o.kind
	  FROM memberships m JOIN orgs o ON o.id = m.org_id
	 WHERE m.account_id = $1 AND m.org_id = $2 AND ` + twoFactorAllows1 + `
	   AND m.org_id <> ALL($3::bigint[])
	   -- This query's case, checked here too: ListAgents runs it first for
	   -- a member of an org whose base permission is none, before knowing
	   -- whether the member created any agent (no rows: it asks).
	   AND m.role = 'member' AND o.member_base_permission = 'none'
	   AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.org_id = m.org_id AND a.created_by = m.account_id)
), best AS (
	SELECT DISTINCT ON (g.resource_id) g.resource_id, g.team_id, g.permission, lower(g.resource_name) AS sort_name
	  FROM me
	  JOIN team_members tm ON tm.org_id = me.org_id AND tm.account_id = $1
	  JOIN grants g ON g.team_id = tm.team_id AND g.resource_kind = 'agent'
	 ORDER BY g.resource_id,
	       CASE g.permission WHEN 'admin' THEN 3 WHEN 'write' THEN 2 WHEN 'read' THEN 1 ELSE 0 END DESC,
	       g.team_id
), page AS (
	SELECT resource_id AS id, sort_name, team_id, permission, count(*) OVER () AS total FROM best
	 ORDER BY sort_name, resource_id
	 LIMIT :limit OFFSET :offset
)
SELECT ` + agentCols + `,
	me.role AS viewer_role,
	me.base AS base_permission,
	COALESCE(a.created_by = $1, false) AS is_creator,
	json_build_array(json_build_object('team_id', page.team_id,
		'team_name', (SELECT t.name FROM teams t WHERE t.id = page.team_id), 'permission', page.permission)) AS grants,
	page.total
FROM page
CROSS JOIN LATERAL (SELECT * FROM agents a WHERE a.id = page.id OFFSET 0) a
CROSS JOIN me
CROSS JOIN LATERAL (SELECT me.slug, me.display_name, me.kind) o
LEFT JOIN LATERAL (SELECT * FROM accounts c WHERE c.id = a.created_by OFFSET 0) c ON true
ORDER BY page.sort_name, a.id`

// agentsReach is how accountID reads the agents of orgID: every one (by
// role or base permission), or what its teams were granted and what it
// created (own: whether it created any).
func (s *Store) agentsReach(ctx context.Context, accountID, orgID int64) (member, all, own bool, err error) {
	if r, ok := knownRole(ctx, orgID, accountID); ok && r != model.RoleMember {
		// An owner, admin or billing member reads every agent whatever the
		// base permission: the role this request already read answers.
		return true, true, false, nil
	} else if b, known := knownBase(ctx, orgID, accountID); ok && known && b != model.PermNone {
		// A member reads every agent by the base permission, which the
		// workspace list read with the role.
		return true, true, false, nil
	}
	var r struct {
		All bool `db:"all"`
		Own bool `db:"own"`
	}
	// The EXISTS probes agents_creator_idx (org_id, created_by) for one row.
	err = s.db.GetContext(ctx, &r, `SELECT m.role <> 'member' OR o.member_base_permission <> 'none' AS all,
		EXISTS (SELECT 1 FROM agents a WHERE a.org_id = m.org_id AND a.created_by = m.account_id) AS own
		FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE m.org_id = $1 AND m.account_id = $2`, orgID, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, false, nil // not a member: the general query lists nothing
	}
	if err != nil {
		return false, false, false, fmt.Errorf("list agents: %w", err)
	}
	return true, r.All, r.Own, nil
}

// agentsReachBucket is the smallest of 25, 50, 100, ... at least n: how
// many agents of a whole org listAgentsQuery takes to fill a page ending
// at n. A constant (not a parameter, which a generic plan would estimate
// at a tenth of the org) and a bucket (a few statement texts, not one per
// page).
func agentsReachBucket(n int) int {
	b := AgentsPageSize
	for b < n {
		b *= 2
	}
	return b
}

// DefaultAgentsPerPage is the API's page of agents, AgentsPageSize the
// agents page's.
const (
	DefaultAgentsPerPage = model.DefaultPerPage
	AgentsPageSize       = 25
)

// ListAgents lists the agents accountID can read, each with its level, in one
// query (after one that picks the query). Not being a member of f.OrgID
// lists nothing.
func (s *Store) ListAgents(ctx context.Context, accountID int64, f AgentFilter) (AgentPage, error) {
	if f.PerPage <= 0 {
		f.PerPage = DefaultAgentsPerPage
	}
	if f.PerPage > 200 {
		f.PerPage = 200
	}
	if f.Page <= 0 {
		f.Page = 1
	}
	if f.Page > model.MaxPage {
		f.Page = model.MaxPage // keeps the OFFSET from overflowing
	}
	if f.ExcludeOrgs == nil {
		f.ExcludeOrgs = []int64{}
	}
	args := []any{accountID, f.OrgID, pq.Array(f.ExcludeOrgs)}
	// The general query is prepared like the others: each of its branches
	// starts from the caller's memberships and reads an index range bounded
	// by the page (a whole org), the caller (its own agents) or its teams'
	// grants, whatever the parameters. The fixed texts below read less still.
	var q queryer = s.db
	query := listAgentsQuery
	keyset := false
	if f.OrgID != 0 {
		if r, ok := knownRole(ctx, f.OrgID, accountID); ok && r == model.RoleMember {
			if b, ok := knownBase(ctx, f.OrgID, accountID); ok && b == model.PermNone {
				// Most members of such an org read what their teams were
				// granted and created nothing: one statement, which checks
				// that itself. No rows: ask (agentsReach) and read again.
				if page, err := s.agentPageBy(ctx, grantedAgentsQuery, f, args); err != nil || len(page.Agents) > 0 {
					return page, err
				}
			}
		}
		member, all, own, err := s.agentsReach(ctx, accountID, f.OrgID)
		if err != nil {
			return AgentPage{}, err
		}
		keyset = all
		switch {
		case !member:
			return AgentPage{Agents: []model.Agent{}, Page: f.Page, PerPage: f.PerPage}, nil
		case all && f.Page > 1 && (f.After > 0 || f.Before > 0):
			page, ok, err := s.agentsAt(ctx, f, args)
			if err != nil || ok {
				return page, err
			}
			q, query = s.db, orgAgentsDeepQuery // the agent is not where Page says
		case all && f.Page > 1:
			q, query = s.db, orgAgentsDeepQuery
		case all:
			q, query = s.db, orgAgentsQuery
		case !own:
			q, query = s.db, grantedAgentsQuery
		}
	}
	if query == listAgentsQuery {
		query = strings.Replace(query, ":reach", strconv.Itoa(agentsReachBucket(f.Page*f.PerPage)), 1)
	}
	fromEnd := query == orgAgentsDeepQuery // may read the last page from the end
	query, args = limitArgs(query, f.PerPage, args, DefaultAgentsPerPage, AgentsPageSize)
	query, args = offsetArgs(query, (f.Page-1)*f.PerPage, args)
	rows, err := scanAgentPage(ctx, q, query, args)
	if err != nil {
		return AgentPage{}, fmt.Errorf("list agents: %w", err)
	}
	if offset := (f.Page - 1) * f.PerPage; fromEnd && len(rows) > 0 && offset+len(rows) > rows[0].Total {
		// The last page, read from the end (orgAgentsQuery), came with
		// rows of the page before it: they sort first.
		rows = rows[min(offset+len(rows)-rows[0].Total, len(rows)):]
	}
	page := AgentPage{Agents: make([]model.Agent, 0, len(rows)), Page: f.Page, PerPage: f.PerPage}
	if len(rows) == 0 && f.Page > 1 {
		// A page past the end has no row to carry the total: the first
		// page's is the answer's (a caller paging too far learns how many
		// there are).
		first := f
		first.Page = 1
		p, err := s.ListAgents(ctx, accountID, first)
		page.Total = p.Total
		return page, err
	}
	page.Keyset = keyset
	return page, resolveAgentRows(&page, rows)
}

// agentPageBy reads page f of query (one of the fixed texts, whose first
// arguments are args) as ListAgents does, but for the total of a page past
// the end.
func (s *Store) agentPageBy(ctx context.Context, query string, f AgentFilter, args []any) (AgentPage, error) {
	query, args = limitArgs(query, f.PerPage, slices.Clone(args), DefaultAgentsPerPage, AgentsPageSize)
	query, args = offsetArgs(query, (f.Page-1)*f.PerPage, args)
	rows, err := scanAgentPage(ctx, s.db, query, args)
	if err != nil {
		return AgentPage{}, fmt.Errorf("list agents: %w", err)
	}
	page := AgentPage{Agents: make([]model.Agent, 0, len(rows)), Page: f.Page, PerPage: f.PerPage}
	return page, resolveAgentRows(&page, rows)
}

// resolveAgentRows applies the rule to a page's rows and adds those the
// viewer may read to page, with the total.
func resolveAgentRows(page *AgentPage, rows []agentPageRow) error {
	if len(rows) > 0 {
		page.Total = rows[0].Total // every row carries it
	}
	for _, r := range rows {
		a, err := r.resolve()
		if err != nil {
			return err
		}
		if !a.Permission.AtLeast(model.PermRead) {
			// The prefilter let through a row the rule refuses; never show it.
			page.Total--
			continue
		}
		page.Agents = append(page.Agents, a)
	}
	page.Total = max(page.Total, 0)
	return nil
}

// agentsAt reads page f.Page of a whole org from the agent f.After or
// f.Before (args are ListAgents' first three). ok is false when that agent
// does not place the page where f.Page says: gone, renamed or moved, or
// the org changed around it; the caller then reads by number.
func (s *Store) agentsAt(ctx context.Context, f AgentFilter, args []any) (AgentPage, bool, error) {
	query, cursor := orgAgentsAfterQuery, f.After
	if f.After <= 0 {
		query, cursor = orgAgentsBeforeQuery, f.Before
	}
	args = append(slices.Clone(args), cursor)
	query, args = limitArgs(query, f.PerPage, args, DefaultAgentsPerPage, AgentsPageSize)
	rows, err := scanAgentPage(ctx, s.db, query, args)
	if err != nil {
		return AgentPage{}, false, fmt.Errorf("list agents: %w", err)
	}
	if len(rows) == 0 || len(rows) != min(f.PerPage, rows[0].Total-(f.Page-1)*f.PerPage) {
		return AgentPage{}, false, nil
	}
	page := AgentPage{Agents: make([]model.Agent, 0, len(rows)), Page: f.Page, PerPage: f.PerPage, Keyset: true}
	return page, true, resolveAgentRows(&page, rows)
}

// agentPageRow is a row of the agents list queries: agentCols, the facts,
// and the total.
type agentPageRow struct {
	agentFactsRow
	Total int
}

// scanAgentPage runs one of the agents list queries and scans its rows by
// hand, in agentCols order then viewer_role, base_permission, is_creator,
// grants and total: sqlx's reflection was a fifth of the list page's server
// time. The access tests compare every listed agent with GetAgent (tgEnv.listed).
func scanAgentPage(ctx context.Context, q queryer, query string, args []any) ([]agentPageRow, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	// Rows are scanned in place: a row scanned into a local escaped to the
	// heap and was copied again as the slice grew (a third of the page's
	// allocations).
	out := make([]agentPageRow, 0, DefaultAgentsPerPage+1)
	for rs.Next() {
		out = append(out, agentPageRow{})
		r := &out[len(out)-1]
		a := &r.Agent
		if err := rs.Scan(&a.ID, &a.OrgID, &a.OrgSlug, &a.OrgName, &a.OrgKind, &a.CreatedBy, &a.CreatorName, &a.Name,
			&a.Description, &a.Config, &a.CreatedAt, &a.UpdatedAt, &r.Role, &r.Base, &r.IsCreator, &r.Grants, &r.Total); err != nil {
			return nil, err
		}
	}
	return out, rs.Err()
}

func agentTarget(a model.Agent) model.Target {
	return model.Target{Kind: "agent", ID: strconv.FormatInt(a.ID, 10), Label: a.Name}
}
