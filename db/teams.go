package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"guildhall/db/model"
)

const teamCols = `t.id, t.org_id, t.name, t.description, t.created_at, t.updated_at,
	t.member_count, t.grant_count`

func teamTarget(t model.Team) model.Target {
	return model.Target{Kind: "team", ID: strconv.FormatInt(t.ID, 10), Label: t.Name}
}

// orgRole is the actor's role in an org and the org's kind, read with a share
// lock so a concurrent role change waits for this transaction.
type orgRole struct {
	Role model.Role    `db:"role"`
	Kind model.OrgKind `db:"kind"`
}

func (tx *Tx) shareRole(orgID, accountID int64) (orgRole, error) {
	var r orgRole
	err := tx.GetContext(tx.ctx, &r, `SELECT m.role, o.kind FROM memberships m JOIN orgs o ON o.id = m.org_id
		WHERE m.org_id = $1 AND m.account_id = $2 FOR SHARE OF m`, orgID, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, model.NotFound("organization")
	}
	if err != nil {
		return r, fmt.Errorf("load membership: %w", err)
	}
	return r, nil
}

// lockTeam loads a team of org with a row lock, and the actor's role in it.
func (tx *Tx) lockTeam(orgID, teamID int64) (model.Team, error) {
	var t model.Team
	err := tx.GetContext(tx.ctx, &t, `SELECT `+teamCols+`, COALESCE(v.role, '') AS viewer_role
		FROM teams t LEFT JOIN team_members v ON v.team_id = t.id AND v.account_id = $3
		WHERE t.org_id = $1 AND t.id = $2 FOR UPDATE OF t`, orgID, teamID, tx.actor.AccountID)
	return t, notFound(err, "team")
}

// manageTeam opens a change to one team: the actor must be in the org (else
// not found), the team must be the org's (else not found), and the actor must
// be allowed to manage it (else forbidden, audited as action).
func (tx *Tx) manageTeam(orgID, teamID int64, action string) (model.Team, orgRole, error) {
	r, err := tx.shareRole(orgID, tx.actor.AccountID)
	if err != nil {
		return model.Team{}, r, err
	}
	t, err := tx.lockTeam(orgID, teamID)
	if err != nil {
		return t, r, err
	}
	if !model.CanManageTeam(r.Role, t.ViewerRole) {
		return t, r, tx.Deny(orgID, action, teamTarget(t),
			model.Forbidden("Only owners, admins and the team's maintainers can manage this team."))
	}
	return t, r, nil
}

// CreateTeam adds a team to a team org (owner or admin).
func (s *Store) CreateTeam(ctx context.Context, actor model.Actor, orgID int64, in model.TeamInput) (model.Team, error) {
	var t model.Team
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		r, err := tx.shareRole(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.CanIn(r.Kind, r.Role, model.ActManageTeams) {
			msg := "Only owners and admins can create teams."
			if r.Kind == model.OrgPersonal {
				msg = "A personal workspace has no teams: create an organization to share agents with a team."
			}
			return tx.Deny(orgID, "team.created", model.Target{Kind: "team", Label: in.Name}, model.Forbidden("%s", msg))
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		var id int64
		err = tx.GetContext(ctx, &id, `INSERT INTO teams (org_id, name, description, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, orgID, in.Name, in.Description, tx.Now())
		if isUniqueViolation(err, "teams_org_name_key") {
			return model.ConflictField("name", fmt.Sprintf("A team called %q already exists.", in.Name))
		}
		if err != nil {
			return fmt.Errorf("insert team: %w", err)
		}
		if t, err = tx.lockTeam(orgID, id); err != nil {
			return err
		}
		return tx.Record(orgID, "team.created", teamTarget(t))
	})
	return t, err
}

// UpdateTeamInput holds what PATCH may change; nil means unchanged.
type UpdateTeamInput struct {
	Name        *string
	Description *string
}

// UpdateTeam renames or describes a team (owner, admin or its maintainer).
func (s *Store) UpdateTeam(ctx context.Context, actor model.Actor, orgID, teamID int64, in UpdateTeamInput) (model.Team, error) {
	var t model.Team
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		cur, _, err := tx.manageTeam(orgID, teamID, "team.updated")
		if err != nil {
			return err
		}
		next := model.TeamInput{Name: cur.Name, Description: cur.Description}
		if in.Name != nil {
			next.Name = *in.Name
		}
		if in.Description != nil {
			next.Description = *in.Description
		}
		if err := next.Normalize(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE teams SET name = $1, description = $2, updated_at = $3 WHERE id = $4`,
			next.Name, next.Description, tx.Now(), teamID)
		if isUniqueViolation(err, "teams_org_name_key") {
			return model.ConflictField("name", fmt.Sprintf("A team called %q already exists.", next.Name))
		}
		if err != nil {
			return fmt.Errorf("update team: %w", err)
		}
		if t, err = tx.lockTeam(orgID, teamID); err != nil {
			return err
		}
		return tx.Record(orgID, "team.updated", teamTarget(t))
	})
	return t, err
}

// DeleteTeam deletes a team with its memberships and grants (owner or admin).
func (s *Store) DeleteTeam(ctx context.Context, actor model.Actor, orgID, teamID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		r, err := tx.shareRole(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		t, err := tx.lockTeam(orgID, teamID)
		if err != nil {
			return err
		}
		if !model.CanIn(r.Kind, r.Role, model.ActManageTeams) {
			return tx.Deny(orgID, "team.deleted", teamTarget(t), model.Forbidden("Only owners and admins can delete teams."))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE id = $1`, teamID); err != nil {
			return fmt.Errorf("delete team: %w", err)
		}
		return tx.Record(orgID, "team.deleted", teamTarget(t))
	})
}

// Teams is one page of the org's teams (page from 1, perPage 1-100, else
// 100) with their timestamps, for the API, and the org's team count.
func (s *Store) Teams(ctx context.Context, accountID, orgID int64, page, perPage int) ([]model.Team, int, error) {
	if perPage < 1 || perPage > model.TeamsMaxPerPage {
		perPage = model.TeamsMaxPerPage
	}
	return s.teamsPage(ctx, accountID, orgID, page, perPage, true)
}

// TeamRows is Teams with what the teams page shows (no timestamps: reading
// and parsing 1,000 of them was a fifth of the page for 500 teams).
func (s *Store) TeamRows(ctx context.Context, accountID, orgID int64) ([]model.Team, error) {
	return s.teams(ctx, accountID, orgID, `t.id, t.org_id, t.name, t.description, t.member_count, t.grant_count`)
}

// TeamRowsPage is one page of TeamRows (page from 1) with the org's team
// count (its trigger-kept counter). A page past the end is empty.
func (s *Store) TeamRowsPage(ctx context.Context, accountID, orgID int64, page, perPage int) ([]model.Team, int, error) {
	if perPage < 1 || perPage > 100 {
		perPage = 50
	}
	return s.teamsPage(ctx, accountID, orgID, page, perPage, false)
}

// teamsPage reads one page of the org's teams, with their timestamps when
// times is set, and the org's team count, in one statement.
func (s *Store) teamsPage(ctx context.Context, accountID, orgID int64, page, perPage int, times bool) ([]model.Team, int, error) {
	page = max(min(page, model.MaxPage), 1) // a huge page would overflow the offset
	cols := ""
	if times {
		cols = `floor(date_part('epoch', t.created_at))::bigint, floor(date_part('epoch', t.updated_at))::bigint, `
	}
	// The limit is in the text and the offset a sub-select (offsetParam):
	// a prepared statement's generic plan guesses a LIMIT $n or OFFSET $n at
	// a tenth of the rows, and PostgreSQL then re-plans it on every call.
	// Scanned without reflection (sqlx's was a fifth of the page's CPU).
	rows, err := s.db.QueryContext(ctx, `SELECT t.id, t.org_id, t.name, t.description, `+cols+`t.member_count, t.grant_count,
			COALESCE(v.role, ''), o.team_count
		FROM orgs o JOIN teams t ON t.org_id = o.id
		LEFT JOIN team_members v ON v.team_id = t.id AND v.account_id = $2
		WHERE o.id = $1 AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = $1 AND m.account_id = $2)
		ORDER BY lower(t.name) LIMIT `+strconv.Itoa(perPage)+` OFFSET `+offsetParam(3), orgID, accountID, (page-1)*perPage)
	if err != nil {
		return nil, 0, fmt.Errorf("list teams: %w", err)
	}
	defer rows.Close()
	ts := make([]model.Team, 0, perPage)
	total := 0
	for rows.Next() {
		var t model.Team
		var role string
		var created, updated int64
		dst := []any{&t.ID, &t.OrgID, &t.Name, &t.Description}
		if times {
			dst = append(dst, &created, &updated)
		}
		if err := rows.Scan(append(dst, &t.MemberCount, &t.GrantCount, &role, &total)...); err != nil {
			return nil, 0, fmt.Errorf("list teams: %w", err)
		}
		if times {
			t.CreatedAt, t.UpdatedAt = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
		}
		t.ViewerRole = model.TeamRole(role)
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list teams: %w", err)
	}
	if len(ts) == 0 {
		if _, err := s.RoleIn(ctx, orgID, accountID); err != nil {
			return nil, 0, err
		}
		if err := s.db.GetContext(ctx, &total, `SELECT team_count FROM orgs WHERE id = $1`, orgID); err != nil {
			return nil, 0, fmt.Errorf("count teams: %w", err)
		}
	}
	return ts, total, nil
}

// teams lists the org's teams with cols in one statement: the membership
// test rides along (EXISTS), and only an empty answer asks whether the
// account is a member at all. teams_org_name_key (org_id, lower(name)) gives
// the order, as names are unique per org.
func (s *Store) teams(ctx context.Context, accountID, orgID int64, cols string) ([]model.Team, error) {
	ts := []model.Team{}
	err := s.db.SelectContext(ctx, &ts, `SELECT `+cols+`, COALESCE(v.role, '') AS viewer_role
		FROM teams t LEFT JOIN team_members v ON v.team_id = t.id AND v.account_id = $2
		WHERE t.org_id = $1 AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = $1 AND m.account_id = $2)
		ORDER BY lower(t.name)`, orgID, accountID)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	if len(ts) == 0 {
		if _, err := s.RoleIn(ctx, orgID, accountID); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// Team loads a team with its members and grants (any member of the org).
func (s *Store) Team(ctx context.Context, accountID, orgID, teamID int64) (model.TeamDetail, error) {
	return s.TeamPage(ctx, accountID, orgID, teamID, 0, 0)
}

// teamHeadQuery reads account $3's role in org $1 and team $2 of the org in
// one statement: no row is not a member; a row without a team (id 0) is a
// team the org does not have.
const teamHeadQuery = `SELECT m.role AS viewer_org_role,
	COALESCE(t.id, 0) AS id, COALESCE(t.org_id, 0) AS org_id, COALESCE(t.name, '') AS name,
	COALESCE(t.description, '') AS description, COALESCE(t.created_at, 'epoch') AS created_at,
	COALESCE(t.updated_at, 'epoch') AS updated_at, COALESCE(t.member_count, 0) AS member_count,
	COALESCE(t.grant_count, 0) AS grant_count, COALESCE(v.role, '') AS viewer_role,
	COALESCE(t.grants_version, 0) AS grants_version
	FROM memberships m
	LEFT JOIN teams t ON t.org_id = m.org_id AND t.id = $2
	LEFT JOIN team_members v ON v.team_id = t.id AND v.account_id = $3
	WHERE m.org_id = $1 AND m.account_id = $3`

// teamGrantsQuery is team $1's grants ($2 is its name) in the order of
// grants_team_name_cover_idx (00015): an index range, no join, no sort. Add
// pageClause for a page of them.
const teamGrantsQuery = `SELECT g.id, g.org_id, g.team_id, $2::text AS team_name, g.resource_kind, g.resource_id,
	g.resource_name, g.permission, g.created_at, g.updated_at
	FROM grants g WHERE g.team_id = $1 ORDER BY lower(g.resource_name), g.id`

// offsetParam is an OFFSET of parameter $n as a sub-select. The planner
// cannot estimate either form, and guesses a tenth of the rows; but a
// bare $n is known in a custom plan, which then looks cheaper than the
// generic one, so PostgreSQL re-planned the statement on every call (bind
// 0.15-0.9 ms). Behind a sub-select both guess alike and the generic plan
// (the same index range) is kept.
func offsetParam(n int) string { return "(SELECT $" + strconv.Itoa(n) + "::int)" }

// orgParam is an org id of parameter $n as a sub-select, for the newest
// rows of an org (ORDER BY id DESC LIMIT k). A custom plan for an org that
// holds most of a table's rows walks the primary key backwards, estimated
// far cheaper than the generic plan's org index range (migration 00017's
// estimate), so PostgreSQL kept planning per call. Hidden behind a
// sub-select, the value is unknown to both and the generic plan is kept:
// the org's index, which serves a big org and a small one alike.
func orgParam(n int) string { return "(SELECT $" + strconv.Itoa(n) + "::bigint)" }

// teamRead ends a team read by scanHeadRows of teamHeadQuery's shape: no row
// is not a member of the org, a head without a team (id 0) a team the org
// does not have.
func teamRead(d model.TeamDetail, found bool, err error) (model.TeamDetail, error) {
	switch {
	case err != nil:
		return d, fmt.Errorf("load team: %w", err)
	case !found:
		return d, model.NotFound("organization")
	case d.ID == 0:
		return model.TeamDetail{}, model.NotFound("team")
	}
	return d, nil
}

// scanHeadRows scans rows whose columns are head's then item's, where every
// row repeats the head (a team, say, beside each of its members): the head
// is parsed from the first row only, later rows skip it as raw bytes. each
// runs after every row (first on the first). found says whether a row came.
func scanHeadRows(rows *Rows, head, item []any, each func(first bool)) (found bool, err error) {
	firstDest := append(append(make([]any, 0, len(head)+len(item)), head...), item...)
	skip := make([]sql.RawBytes, len(head))
	dest := make([]any, 0, len(firstDest))
	for i := range skip {
		dest = append(dest, &skip[i])
	}
	dest = append(dest, item...)
	for rows.Next() {
		d := dest
		if !found {
			d = firstDest
		}
		if err := rows.Scan(d...); err != nil {
			return found, err
		}
		each(!found)
		found = true
	}
	return found, rows.Err()
}

// pageClause is the LIMIT (in the text, a handful of values) and OFFSET
// (parameter $n) of one page of perPage rows; perPage 0 is every row, and
// takes no parameter.
func pageClause(perPage, n int) string {
	if perPage <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(perPage) + " OFFSET " + offsetParam(n)
}

// pageArgs appends the OFFSET argument of page (from 1) of pageClause.
func pageArgs(args []any, page, perPage int) []any {
	if perPage <= 0 {
		return args
	}
	page = max(min(page, model.MaxPage), 1)
	return append(args, (page-1)*perPage)
}

// TeamPage is Team with one page of its grants (grantsPage from 1, perPage
// of them; perPage 0: all). Team.GrantCount is the total.
func (s *Store) TeamPage(ctx context.Context, accountID, orgID, teamID int64, grantsPage, perPage int) (model.TeamDetail, error) {
	d, err := s.TeamHead(ctx, accountID, orgID, teamID)
	if err != nil {
		return d, err
	}
	if d.Members, err = s.teamMembers(ctx, teamID); err != nil {
		return d, err
	}
	d.Grants = []model.Grant{}
	err = s.db.SelectContext(ctx, &d.Grants, teamGrantsQuery+pageClause(perPage, 3), pageArgs([]any{teamID, d.Name}, grantsPage, perPage)...)
	if err != nil {
		return d, fmt.Errorf("list grants: %w", err)
	}
	return d, nil
}

// teamScreenQuery is the team page in one statement: account $3's role in
// org $1, team $2 of the org and the viewer's role in it, and then, one a
// row, a page of the team's members from offset $4 (kind 0, in the order
// of team_members_order_idx: maintainers, then by name) and a page of its
// grants from offset $5 (kind 1, in name order). A member's row carries
// (account, email, -, name, team role, org role), a grant's (id, kind,
// agent, agent name, level, -). No row is not a member; a row without a
// team (id 0) is a team the org does not have; a team without members or
// grants (or pages past both) has one row with a null kind. Each page is
// an index range (the members' read from team_members_order_idx alone, up
// to the page: a deep page counts index entries, not rows); the collation
// is C, so ordering the page's rows by name
// is a few byte compares. TeamScreen completes it with the page sizes.
func teamScreenQuery(membersPerPage, grantsPerPage int) string {
	return `SELECT m.role, COALESCE(t.id, 0), COALESCE(t.org_id, 0), COALESCE(t.name, ''),
	COALESCE(t.description, ''), COALESCE(t.member_count, 0), COALESCE(t.grant_count, 0), COALESCE(v.role, ''),
	x.kind, x.id, x.s1, x.n, x.s2, x.s3, x.s4
	FROM memberships m
	LEFT JOIN teams t ON t.org_id = m.org_id AND t.id = $2
	LEFT JOIN team_members v ON v.team_id = t.id AND v.account_id = $3
	LEFT JOIN LATERAL (
		SELECT 0 AS kind, tm.account_id AS id, a.email AS s1, 0::bigint AS n, a.name AS s2, tm.role AS s3, mm.role AS s4,
			tm.sort_rank AS k1, tm.sort_name AS k2
		FROM (SELECT tm.account_id, tm.role, tm.sort_rank, tm.sort_name FROM team_members tm
			WHERE tm.team_id = t.id ORDER BY tm.sort_rank, tm.sort_name, tm.account_id` + pageClause(membersPerPage, 4) + `) tm
		CROSS JOIN LATERAL (SELECT * FROM accounts a WHERE a.id = tm.account_id OFFSET 0) a
		CROSS JOIN LATERAL (SELECT mm.role FROM memberships mm WHERE mm.org_id = t.org_id AND mm.account_id = tm.account_id OFFSET 0) mm
		UNION ALL
		(SELECT 1, g.id, g.resource_kind, g.resource_id, g.resource_name, g.permission, '', 0::smallint, lower(g.resource_name)
		FROM grants g WHERE g.team_id = t.id ORDER BY lower(g.resource_name), g.id` + pageClause(grantsPerPage, 5) + `)) x ON true
	WHERE m.org_id = $1 AND m.account_id = $3 ORDER BY x.kind, x.k1, x.k2, x.id`
}

// TeamScreen is TeamPage with what the team page shows, in one statement
// instead of three and read without reflection: the team (no timestamps),
// one page of its members (no join dates) and one of its grants (id,
// agent, level), pages from 1. The page sizes are in the text (the page's
// constants). The team's columns, repeated on every row, are parsed from
// the first; MemberCount and GrantCount are the totals.
func (s *Store) TeamScreen(ctx context.Context, accountID, orgID, teamID int64, membersPage, membersPerPage, grantsPage, grantsPerPage int) (model.TeamDetail, error) {
	var d model.TeamDetail
	membersPerPage, grantsPerPage = max(membersPerPage, 1), max(grantsPerPage, 1)
	args := pageArgs([]any{orgID, teamID, accountID}, membersPage, membersPerPage)
	rows, err := s.db.QueryContext(ctx, teamScreenQuery(membersPerPage, grantsPerPage), pageArgs(args, grantsPage, grantsPerPage)...)
	if err != nil {
		return d, fmt.Errorf("load team: %w", err)
	}
	defer rows.Close()
	var (
		kind       sql.NullInt64
		id, n      sql.NullInt64
		s1, s2, s3 sql.NullString
		s4         sql.NullString
	)
	head := []any{&d.ViewerOrgRole, &d.ID, &d.OrgID, &d.Name, &d.Description, &d.MemberCount, &d.GrantCount, &d.ViewerRole}
	found, err := scanHeadRows(rows, head, []any{&kind, &id, &s1, &n, &s2, &s3, &s4}, func(first bool) {
		if first {
			d.Members = make([]model.TeamMembership, 0, min(d.MemberCount, membersPerPage))
			d.Grants = make([]model.Grant, 0, min(d.GrantCount, grantsPerPage))
		}
		switch {
		case !kind.Valid:
		case kind.Int64 == 0:
			d.Members = append(d.Members, model.TeamMembership{TeamID: d.ID, AccountID: id.Int64, Email: s1.String, Name: s2.String,
				Role: model.TeamRole(s3.String), OrgRole: model.Role(s4.String)})
		default:
			d.Grants = append(d.Grants, model.Grant{ID: id.Int64, OrgID: d.OrgID, TeamID: d.ID, TeamName: d.Name,
				ResourceKind: model.ResourceKind(s1.String), ResourceID: n.Int64, ResourceName: s2.String, Permission: model.Permission(s3.String)})
		}
	})
	return teamRead(d, found, err)
}

// teamGrantsAPIQuery is teamGrantsQuery for the JSON API, read without
// reflection or copies: what the answer does not carry left out (org id,
// team id and name, which the caller knows), times as whole seconds since
// the epoch (the API's RFC 3339 has no fractions; date_part's float floors
// cheaper than extract's numeric), which scan as integers instead of text
// to parse. For a team of 2,000 grants, scanning them into structs through
// sqlx with parsed timestamps was half of the call's CPU. (Building the JSON
// in PostgreSQL instead cost 12 ms there.)
const teamGrantsAPIQuery = `SELECT g.id, g.resource_kind, g.resource_id, g.resource_name, g.permission,
	floor(date_part('epoch', g.created_at))::bigint, floor(date_part('epoch', g.updated_at))::bigint
	FROM grants g WHERE g.team_id = $1 ORDER BY lower(g.resource_name), g.id`

// TeamAPIGrantRow is one grant as the API's team answer carries it. Its
// text is the driver's buffer, valid only during the callback that gets it
// (no copy of 2,000 rows' strings).
type TeamAPIGrantRow struct {
	ID, ResourceID                         int64
	CreatedAt, UpdatedAt                   int64 // seconds since the epoch
	ResourceKind, ResourceName, Permission sql.RawBytes
}

// teamAPIHeadQuery is teamHeadQuery with the team's members, a row each
// (none: one row with NULL member columns), in the team's order
// (team_members_order_idx). paged takes a page of them: LIMIT $4 OFFSET
// $5, as parameters behind sub-selects so one text serves every page size
// (see offsetParam).
func teamAPIHeadQuery(paged bool) string {
	page := ""
	if paged {
		page = ` LIMIT (SELECT $4::int) OFFSET ` + offsetParam(5)
	}
	return `SELECT m.role AS viewer_org_role,
	COALESCE(t.id, 0), COALESCE(t.org_id, 0), COALESCE(t.name, ''), COALESCE(t.description, ''),
	COALESCE(t.created_at, 'epoch'), COALESCE(t.updated_at, 'epoch'), COALESCE(t.member_count, 0),
	COALESCE(t.grant_count, 0), COALESCE(v.role, ''), COALESCE(t.grants_version, 0),
	x.account_id, x.email, x.name, x.role, x.org_role, x.created_at
	FROM memberships m
	LEFT JOIN teams t ON t.org_id = m.org_id AND t.id = $2
	LEFT JOIN team_members v ON v.team_id = t.id AND v.account_id = $3
	LEFT JOIN LATERAL (SELECT tm.account_id, a.email, a.name, tm.role, mm.role AS org_role, tm.created_at, tm.sort_rank, tm.sort_name
		FROM (SELECT tm.account_id, tm.role, tm.created_at, tm.sort_rank, tm.sort_name FROM team_members tm
			WHERE tm.team_id = t.id ORDER BY tm.sort_rank, tm.sort_name, tm.account_id` + page + `) tm
		CROSS JOIN LATERAL (SELECT * FROM accounts a WHERE a.id = tm.account_id OFFSET 0) a
		CROSS JOIN LATERAL (SELECT mm.role FROM memberships mm WHERE mm.org_id = t.org_id AND mm.account_id = tm.account_id OFFSET 0) mm) x ON true
	WHERE m.org_id = $1 AND m.account_id = $3
	ORDER BY x.sort_rank, x.sort_name, x.account_id`
}

// TeamAPIHead is the team and its members for the JSON API (any member of
// the org); EachTeamAPIGrant then reads its grants. One statement, read
// without reflection (TeamHead and teamMembers were two through sqlx); the
// team's columns, repeated on each member's row, are parsed from the first.
func (s *Store) TeamAPIHead(ctx context.Context, accountID, orgID, teamID int64) (model.TeamDetail, error) {
	return s.teamAPIHead(ctx, teamAPIHeadQuery(false), []any{orgID, teamID, accountID})
}

// TeamAPIMembers is TeamAPIHead with one page of the team's members (page
// from 1, perPage of them); MemberCount is the total.
func (s *Store) TeamAPIMembers(ctx context.Context, accountID, orgID, teamID int64, page, perPage int) (model.TeamDetail, error) {
	perPage = max(perPage, 1)
	return s.teamAPIHead(ctx, teamAPIHeadQuery(true), pageArgs([]any{orgID, teamID, accountID, perPage}, page, perPage))
}

func (s *Store) teamAPIHead(ctx context.Context, query string, args []any) (model.TeamDetail, error) {
	var d model.TeamDetail
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return d, fmt.Errorf("load team: %w", err)
	}
	defer rows.Close()
	var (
		account           sql.NullInt64
		email, name, role sql.NullString
		orgRole           sql.NullString
		joined            sql.NullTime
	)
	head := []any{&d.ViewerOrgRole, &d.ID, &d.OrgID, &d.Name, &d.Description, &d.CreatedAt, &d.UpdatedAt,
		&d.MemberCount, &d.GrantCount, &d.ViewerRole, &d.GrantsVersion}
	found, err := scanHeadRows(rows, head, []any{&account, &email, &name, &role, &orgRole, &joined}, func(first bool) {
		if first {
			d.Members = make([]model.TeamMembership, 0, min(d.MemberCount, 1000))
		}
		if account.Valid {
			d.Members = append(d.Members, model.TeamMembership{TeamID: d.ID, AccountID: account.Int64, Email: email.String,
				Name: name.String, Role: model.TeamRole(role.String), OrgRole: model.Role(orgRole.String), CreatedAt: joined.Time})
		}
	})
	return teamRead(d, found, err)
}

// EachTeamAPIGrant calls fn for each of one page of team's grants (page
// from 1, perPage of them; perPage 0: all), in name order. The caller has
// checked the viewer may see the team (TeamAPIHead).
func (s *Store) EachTeamAPIGrant(ctx context.Context, teamID int64, grantsPage, perPage int, fn func(*TeamAPIGrantRow)) error {
	// per_page may be any of 1-100: the limit is a parameter too, behind
	// a sub-select for the same reason as the offset, so one text serves
	// every page size.
	query, args := teamGrantsAPIQuery, []any{teamID}
	if perPage > 0 {
		query += ` LIMIT (SELECT $2::int) OFFSET ` + offsetParam(3)
		args = pageArgs(append(args, perPage), grantsPage, perPage)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	defer rows.Close()
	var g TeamAPIGrantRow
	for rows.Next() {
		if err := rows.Scan(&g.ID, &g.ResourceKind, &g.ResourceID, &g.ResourceName, &g.Permission, &g.CreatedAt, &g.UpdatedAt); err != nil {
			return fmt.Errorf("list grants: %w", err)
		}
		fn(&g)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	return nil
}

// TeamAPI is TeamAPIHead with one page of the team's grants (perPage 0:
// all), their times cut to the second.
func (s *Store) TeamAPI(ctx context.Context, accountID, orgID, teamID int64, grantsPage, perPage int) (model.TeamDetail, error) {
	d, err := s.TeamAPIHead(ctx, accountID, orgID, teamID)
	if err != nil {
		return d, err
	}
	d.Grants = make([]model.Grant, 0, min(d.GrantCount, 10_000))
	err = s.EachTeamAPIGrant(ctx, teamID, grantsPage, perPage, func(r *TeamAPIGrantRow) {
		d.Grants = append(d.Grants, model.Grant{ID: r.ID, OrgID: d.OrgID, TeamID: d.ID, TeamName: d.Name,
			ResourceKind: model.ResourceKind(r.ResourceKind), ResourceID: r.ResourceID, ResourceName: string(r.ResourceName),
			Permission: model.Permission(r.Permission), CreatedAt: time.Unix(r.CreatedAt, 0).UTC(), UpdatedAt: time.Unix(r.UpdatedAt, 0).UTC()})
	})
	return d, err
}

// TeamHead is a team and how accountID relates to it (any member of the
// org), without its members and grants.
func (s *Store) TeamHead(ctx context.Context, accountID, orgID, teamID int64) (model.TeamDetail, error) {
	var d model.TeamDetail
	var head struct {
		model.Team
		OrgRole model.Role `db:"viewer_org_role"`
	}
	if err := s.db.GetContext(ctx, &head, teamHeadQuery, orgID, teamID, accountID); err != nil {
		return d, notFound(err, "organization")
	}
	if head.ID == 0 {
		return d, model.NotFound("team")
	}
	d.Team, d.ViewerOrgRole = head.Team, head.OrgRole
	return d, nil
}

// TeamGrant is one grant of a team the account can see (a member of the
// team's org), for a change to its level.
func (s *Store) TeamGrant(ctx context.Context, accountID, orgID, teamID, grantID int64) (model.Grant, model.TeamDetail, error) {
	d, err := s.TeamHead(ctx, accountID, orgID, teamID)
	if err != nil {
		return model.Grant{}, d, err
	}
	var g model.Grant
	err = s.db.GetContext(ctx, &g, `SELECT g.id, g.org_id, g.team_id, $2::text AS team_name, g.resource_kind, g.resource_id,
		g.resource_name, g.permission, g.created_at, g.updated_at
		FROM grants g WHERE g.team_id = $1 AND g.id = $3`, teamID, d.Name, grantID)
	return g, d, notFound(err, "grant")
}

// teamMemberSelect looks each member's account up (LATERAL ... OFFSET 0), as
// the team screens do: joined, a plan could merge a new team's few members
// with the whole accounts index (TestPeopleBehindRowsAreLookedUp).
const teamMemberSelect = `SELECT tm.team_id, tm.account_id, a.email, a.name, tm.role, m.role AS org_role, tm.created_at
	FROM team_members tm
	CROSS JOIN LATERAL (SELECT * FROM accounts a WHERE a.id = tm.account_id OFFSET 0) a
	JOIN memberships m ON m.org_id = tm.org_id AND m.account_id = tm.account_id`

func (s *Store) teamMembers(ctx context.Context, teamID int64) ([]model.TeamMembership, error) {
	ms := []model.TeamMembership{}
	err := s.db.SelectContext(ctx, &ms, teamMemberSelect+` WHERE tm.team_id = $1
		ORDER BY tm.sort_rank, tm.sort_name, tm.account_id`, teamID)
	if err != nil {
		return nil, fmt.Errorf("list team members: %w", err)
	}
	return ms, nil
}

// SetTeamMember adds accountID to a team or changes its team role (owner,
// admin or the team's maintainer). Only members of the org join its teams,
// and never billing members: both are validation errors on user_id.
func (s *Store) SetTeamMember(ctx context.Context, actor model.Actor, orgID, teamID, accountID int64, roleIn string) (model.TeamMembership, error) {
	var out model.TeamMembership
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		t, _, err := tx.manageTeam(orgID, teamID, "team.member_added")
		if err != nil {
			return err
		}
		role := model.TeamMember
		if roleIn != "" {
			if role, err = model.ParseTeamRole(roleIn); err != nil {
				return err
			}
		}
		// The share lock on the member's membership makes a concurrent
		// demotion to billing (which empties their teams) or removal wait
		// for this change, or this change see its outcome.
		var orgRole model.Role
		err = tx.GetContext(ctx, &orgRole, `SELECT role FROM memberships WHERE org_id = $1 AND account_id = $2 FOR SHARE`, orgID, accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return model.CanJoinTeam("")
		}
		if err != nil {
			return fmt.Errorf("load member: %w", err)
		}
		if err := model.CanJoinTeam(orgRole); err != nil {
			return err
		}
		var who struct {
			Email   string `db:"email"`
			Current string `db:"current"`
		}
		err = tx.GetContext(ctx, &who, `SELECT a.email,
			COALESCE((SELECT tm.role FROM team_members tm WHERE tm.team_id = $1 AND tm.account_id = a.id), '') AS current
			FROM accounts a WHERE a.id = $2`, teamID, accountID)
		if err != nil {
			return fmt.Errorf("load member: %w", err)
		}
		target := teamTarget(t)
		target.Label = t.Name + ": " + who.Email + " as " + string(role)
		if model.TeamRole(who.Current) == role {
			return tx.GetContext(ctx, &out, teamMemberSelect+` WHERE tm.team_id = $1 AND tm.account_id = $2`, teamID, accountID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO team_members (team_id, org_id, account_id, role, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (team_id, account_id) DO UPDATE SET role = EXCLUDED.role`, teamID, orgID, accountID, role, tx.Now())
		if isFKViolation(err) {
			// The member left the org while we looked.
			return model.CanJoinTeam("")
		}
		if err != nil {
			return fmt.Errorf("add team member: %w", err)
		}
		if err := tx.GetContext(ctx, &out, teamMemberSelect+` WHERE tm.team_id = $1 AND tm.account_id = $2`, teamID, accountID); err != nil {
			return fmt.Errorf("load team member: %w", err)
		}
		action := "team.member_added"
		if who.Current != "" {
			action = "team.member_role_changed"
		}
		return tx.Record(orgID, action, target)
	})
	return out, err
}

// RemoveTeamMember takes accountID out of a team (owner, admin or the team's
// maintainer); anyone may remove themselves (leave the team).
func (s *Store) RemoveTeamMember(ctx context.Context, actor model.Actor, orgID, teamID, accountID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		var t model.Team
		var err error
		if accountID == actor.AccountID {
			if _, err = tx.shareRole(orgID, actor.AccountID); err != nil {
				return err
			}
			if t, err = tx.lockTeam(orgID, teamID); err != nil {
				return err
			}
		} else if t, _, err = tx.manageTeam(orgID, teamID, "team.member_removed"); err != nil {
			return err
		}
		var email string
		err = tx.GetContext(ctx, &email, `DELETE FROM team_members tm USING accounts a
			WHERE tm.team_id = $1 AND tm.account_id = $2 AND a.id = tm.account_id RETURNING a.email`, teamID, accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return model.NotFound("team member")
		}
		if err != nil {
			return fmt.Errorf("remove team member: %w", err)
		}
		target := teamTarget(t)
		target.Label = t.Name + ": " + email
		return tx.Record(orgID, "team.member_removed", target)
	})
}

const grantSelect = `SELECT g.id, g.org_id, g.team_id, t.name AS team_name, g.resource_kind, g.resource_id,
	COALESCE(ag.name, '') AS resource_name, g.permission, g.created_at, g.updated_at
	FROM grants g
	JOIN teams t ON t.id = g.team_id
	LEFT JOIN agents ag ON g.resource_kind = 'agent' AND ag.id = g.resource_id AND ag.org_id = g.org_id`

// SetGrantInput is a grant to set: the level defaults to write.
type SetGrantInput struct {
	ResourceKind string
	ResourceID   int64
	Permission   string
}

func grantTarget(g model.Grant) model.Target {
	return model.Target{Kind: "grant", ID: strconv.FormatInt(g.ID, 10),
		Label: string(g.ResourceKind) + " " + g.ResourceName + " to team " + g.TeamName + ": " + string(g.Permission)}
}

// SetGrant gives a team a level on one of its org's resources, or changes the
// level of the grant it has: grants are idempotent per (team, resource), so a
// re-grant keeps the grant's id. A resource of another org is not found.
func (s *Store) SetGrant(ctx context.Context, actor model.Actor, orgID, teamID int64, in SetGrantInput) (model.Grant, error) {
	var g model.Grant
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		t, r, err := tx.manageTeam(orgID, teamID, "grant.set")
		if err != nil {
			return err
		}
		kind, err := model.ParseResourceKind(in.ResourceKind)
		if err != nil {
			return err
		}
		if in.Permission == "" {
			in.Permission = string(model.DefaultGrantPermission)
		}
		perm, err := model.ParsePermission(in.Permission)
		if err != nil {
			return err
		}
		if in.ResourceID <= 0 {
			return model.InvalidField("resource_id", "Choose an agent to grant.")
		}
		// Only the org's own resources; the share lock keeps the agent from
		// moving or being deleted until the grant is in.
		var name string
		err = tx.GetContext(ctx, &name, `SELECT name FROM agents WHERE id = $1 AND org_id = $2 FOR SHARE`, in.ResourceID, orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return tx.Deny(orgID, "grant.set", teamTarget(t), model.NotFound("agent"))
		}
		if err != nil {
			return fmt.Errorf("load agent: %w", err)
		}
		if r.Role != model.RoleOwner && r.Role != model.RoleAdmin {
			mine, err := agentFor(ctx, tx, actor.AccountID, in.ResourceID, false)
			if err != nil {
				return err
			}
			if err := model.CanGrant(r.Role, mine.Permission, perm); err != nil {
				return tx.Deny(orgID, "grant.set", teamTarget(t), err)
			}
		}
		var id int64
		err = tx.GetContext(ctx, &id, `INSERT INTO grants (org_id, team_id, resource_kind, resource_id, permission, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (team_id, resource_kind, resource_id)
			DO UPDATE SET permission = EXCLUDED.permission, updated_at = EXCLUDED.updated_at
			RETURNING id`, orgID, teamID, kind, in.ResourceID, perm, tx.Now())
		if err != nil {
			return fmt.Errorf("set grant: %w", err)
		}
		if err := tx.GetContext(ctx, &g, grantSelect+` WHERE g.id = $1`, id); err != nil {
			return fmt.Errorf("load grant: %w", err)
		}
		return tx.Record(orgID, "grant.set", grantTarget(g))
	})
	return g, err
}

// RemoveGrant deletes one of a team's grants.
func (s *Store) RemoveGrant(ctx context.Context, actor model.Actor, orgID, teamID, grantID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		if _, _, err := tx.manageTeam(orgID, teamID, "grant.removed"); err != nil {
			return err
		}
		var g model.Grant
		err := tx.GetContext(ctx, &g, grantSelect+` WHERE g.id = $1 AND g.team_id = $2 AND g.org_id = $3`, grantID, teamID, orgID)
		if err != nil {
			return notFound(err, "grant")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE id = $1`, grantID); err != nil {
			return fmt.Errorf("remove grant: %w", err)
		}
		return tx.Record(orgID, "grant.removed", grantTarget(g))
	})
}

// Resources lists an org's resources of a kind for the grant picker: owners
// and admins, and members who maintain a team of the org.
func (s *Store) Resources(ctx context.Context, actor model.Actor, orgID int64, kindIn string) ([]model.Resource, error) {
	return s.ResourcesFirst(ctx, actor, orgID, kindIn, 0)
}

// ResourcesFirst is Resources cut to the first limit in name order (0: all),
// for pickers: a page never builds a list of 100,000 options.
func (s *Store) ResourcesFirst(ctx context.Context, actor model.Actor, orgID int64, kindIn string, limit int) ([]model.Resource, error) {
	return s.GrantCandidates(ctx, actor, orgID, kindIn, 0, limit)
}

// GrantCandidates is ResourcesFirst without the agents team notTeam (0:
// none) holds a grant on: the team page's picker.
func (s *Store) GrantCandidates(ctx context.Context, actor model.Actor, orgID int64, kindIn string, notTeam int64, limit int) ([]model.Resource, error) {
	kind, role, err := s.resourceLister(ctx, actor, orgID, kindIn)
	if err != nil {
		return nil, err
	}
	return s.grantCandidates(ctx, actor.AccountID, orgID, role, kind, notTeam, "", limit)
}

// ResourcesPerPage is the most a page of GET /api/orgs/{org}/resources
// holds: an org's 100,000 agents were one 5 MB answer (144 ms).
const ResourcesPerPage = 100

// ResourcesPage is Resources a page at a time, in name order, with the
// total. An owner's or admin's page is read from agents_org_name_idx at its
// offset, the total from the org's counter (migration 00009); a
// maintainer's list is the agents they can read, cut here.
func (s *Store) ResourcesPage(ctx context.Context, actor model.Actor, orgID int64, kindIn string, page, perPage int) ([]model.Resource, int, error) {
	kind, role, err := s.resourceLister(ctx, actor, orgID, kindIn)
	if err != nil {
		return nil, 0, err
	}
	page, perPage = model.Paging(page, perPage, model.DefaultPerPage, ResourcesPerPage)
	offset := (page - 1) * perPage
	if role != model.RoleOwner && role != model.RoleAdmin {
		all, err := s.grantCandidates(ctx, actor.AccountID, orgID, role, kind, 0, "", 0)
		if err != nil {
			return nil, 0, err
		}
		return all[min(offset, len(all)):min(offset+perPage, len(all))], len(all), nil
	}
	rows, err := s.db.QueryContext(ctx, resourcesPageQuery(perPage), orgID, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list resources: %w", err)
	}
	defer rows.Close()
	rs := make([]model.Resource, 0, perPage)
	total := 0
	for rows.Next() {
		var id sql.NullInt64
		var name sql.NullString
		if err := rows.Scan(&total, &id, &name); err != nil {
			return nil, 0, fmt.Errorf("list resources: %w", err)
		}
		if id.Valid {
			rs = append(rs, model.Resource{Kind: kind, ID: id.Int64, Name: name.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list resources: %w", err)
	}
	return rs, total, nil
}

// resourcesPageQuery reads a page of perPage of org $1's agents at offset
// $2, with the org's agent count. The page's ids come from
// agents_org_name_idx alone (its key is the stored lower-case name, 00021),
// then only their names from the table: page 1,000 of 100,000 read each
// skipped agent from the table (27-44 ms).
func resourcesPageQuery(perPage int) string {
	return `SELECT o.agent_count, x.id, x.name FROM orgs o
		LEFT JOIN LATERAL (
			SELECT a.id, a.name FROM (SELECT k.id FROM agents k WHERE k.org_id = o.id
				ORDER BY k.name_key, k.id LIMIT ` + strconv.Itoa(perPage) + ` OFFSET $2) p
			CROSS JOIN LATERAL (SELECT a.id, a.name, a.name_key FROM agents a WHERE a.id = p.id OFFSET 0) a
			ORDER BY a.name_key, a.id) x ON true
		WHERE o.id = $1`
}

// resourceLister checks that actor may list org's resources of a kind
// (owners, admins, and members who maintain a team of the org) and answers
// the kind and the actor's role.
func (s *Store) resourceLister(ctx context.Context, actor model.Actor, orgID int64, kindIn string) (model.ResourceKind, model.Role, error) {
	kind, err := model.ParseResourceKind(kindIn)
	if err != nil {
		return "", "", err
	}
	var who struct {
		Role       model.Role `db:"role"`
		Maintainer bool       `db:"maintainer"`
	}
	err = s.db.GetContext(ctx, &who, `SELECT m.role, EXISTS (SELECT 1 FROM team_members tm
			WHERE tm.org_id = m.org_id AND tm.account_id = m.account_id AND tm.role = 'maintainer') AS maintainer
		FROM memberships m WHERE m.org_id = $1 AND m.account_id = $2`, orgID, actor.AccountID)
	if err != nil {
		return "", "", notFound(err, "organization")
	}
	if !model.CanManageTeam(who.Role, "") && !(who.Maintainer && model.CanManageTeam(who.Role, model.TeamMaintainer)) {
		if err := s.RecordDenied(ctx, actor, orgID, "resource.listed", model.Target{Kind: "org", ID: strconv.FormatInt(orgID, 10)}); err != nil {
			return "", "", err
		}
		return "", "", model.Forbidden("Only owners, admins and team maintainers can list the org's resources.")
	}
	return kind, who.Role, nil
}

// TeamGrantCandidates is the team page's grant picker for team d (loaded by
// TeamPage for this account, which gives the viewer's roles): the first
// limit agents by name without a grant to the team whose name contains q
// (any case; "" is all). Only a viewer who manages the team gets any.
func (s *Store) TeamGrantCandidates(ctx context.Context, accountID int64, d model.TeamDetail, q string, limit int) ([]model.Resource, error) {
	if !d.CanManage() {
		return nil, model.Forbidden("Only owners, admins and the team's maintainers can manage this team.")
	}
	return s.grantCandidates(ctx, accountID, d.OrgID, d.ViewerOrgRole, model.ResourceAgent, d.ID, q, limit)
}

// pickerQuery is what a picker's search box holds, lower-cased; it matches
// anywhere in a name (or email).
func pickerQuery(q string) string { return strings.ToLower(strings.TrimSpace(q)) }

// containsPattern is the LIKE pattern of "contains q", q's own % and _
// matched as themselves.
func containsPattern(q string) string { return "%" + escapeLike(q) + "%" }

// grantCandidates lists agents of org for a grant picker of a viewer with
// role (checked by the caller).
func (s *Store) grantCandidates(ctx context.Context, accountID, orgID int64, role model.Role, kind model.ResourceKind, notTeam int64, q string, limit int) ([]model.Resource, error) {
	q = pickerQuery(q)
	rs := []model.Resource{}
	if role != model.RoleOwner && role != model.RoleAdmin {
		// A maintainer picks among the agents they can read (CanGrant).
		page, err := s.ListAgents(ctx, accountID, AgentFilter{OrgID: orgID, PerPage: 200})
		if err != nil {
			return nil, err
		}
		granted := map[int64]bool{}
		if notTeam > 0 {
			var ids []int64
			if err := s.db.SelectContext(ctx, &ids, `SELECT resource_id FROM grants WHERE team_id = $1 AND resource_kind = $2`, notTeam, kind); err != nil {
				return nil, fmt.Errorf("list resources: %w", err)
			}
			for _, id := range ids {
				granted[id] = true
			}
		}
		for _, a := range page.Agents {
			if granted[a.ID] || q != "" && !strings.Contains(strings.ToLower(a.Name), q) {
				continue
			}
			if limit > 0 && len(rs) == limit {
				break
			}
			rs = append(rs, model.Resource{Kind: kind, ID: a.ID, Name: a.Name})
		}
		return rs, nil
	}
	// agents_org_name_idx (00009) serves the order, so a page of 20 reads
	// about 20 agents, more when the team holds many of the first ones (the
	// team with 2,000 grants holds the first 2,000) or few names match q.
	// NOT IN reads the team's grants once into a hash (resource_id is never
	// null, and one index-only range: 54 buffers for that team), where NOT
	// EXISTS probed the grants index for each agent walked (2,020 probes,
	// 6,100 buffers, twice the time). The page runs it only when the picker
	// opens. The limit is in the text (a LIMIT $n was re-planned per call).
	query := `SELECT $2::text AS kind, a.id, a.name FROM agents a
		WHERE a.org_id = $1 AND a.id NOT IN (SELECT g.resource_id FROM grants g
			WHERE g.team_id = $3 AND g.resource_kind = $2)`
	args := []any{orgID, kind, notTeam}
	var rd queryer = s.db
	if q != "" {
		// A part of a name: LIKE, which agents_name_trgm_idx (00019)
		// serves, planned per call (a rare part is found by trigram, a
		// common one by walking the names in order).
		query += ` AND lower(a.name) LIKE $4`
		args = append(args, containsPattern(q))
		rd = s.db.PerCall()
	}
	query += ` ORDER BY a.name_key, a.id`
	if limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(limit)
	}
	if err := rd.SelectContext(ctx, &rs, query, args...); err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return rs, nil
}

// AgentGrants lists the teams that hold a grant on an agent (read needed).
func (s *Store) AgentGrants(ctx context.Context, accountID, agentID int64) ([]model.Grant, error) {
	a, err := s.GetAgent(ctx, accountID, agentID)
	if err != nil {
		return nil, err
	}
	return s.GrantsOnAgent(ctx, a)
}

// GrantsOnAgent is AgentGrants for an agent the caller already loaded for
// the viewer with read access (GetAgent).
func (s *Store) GrantsOnAgent(ctx context.Context, a model.Agent) ([]model.Grant, error) {
	gs := []model.Grant{}
	err := s.db.SelectContext(ctx, &gs, `SELECT g.id, g.org_id, g.team_id, t.name AS team_name, g.resource_kind, g.resource_id,
		g.resource_name, g.permission, g.created_at, g.updated_at
		FROM grants g JOIN teams t ON t.id = g.team_id
		WHERE g.resource_kind = 'agent' AND g.resource_id = $1 AND g.org_id = $2
		ORDER BY lower(t.name), g.id`, a.ID, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list agent grants: %w", err)
	}
	return gs, nil
}

// OrgMember is a member of an org as offered by pickers (add to team,
// access explainer).
type OrgMember struct {
	AccountID int64      `db:"account_id" json:"user_id"`
	Name      string     `db:"name" json:"name"`
	Email     string     `db:"email" json:"email"`
	Role      model.Role `db:"role" json:"role"`
}

// MemberPick narrows PickMembers.
type MemberPick struct {
	// Query keeps members whose name or email contains it (any case).
	Query string
	// NotTeam leaves out that team's members and billing members (who
	// cannot join teams): the add-a-member picker.
	NotTeam int64
	Limit   int // at most 100; default 20
}

// PickMembers lists, for a picker, the first members of org by name that
// match p, in one statement. A viewer who is not a member of the org gets
// none. The page walks accounts_name_idx (00012) and stops at the limit; it
// is planned per call, since the best plan for an org of 10,000 members (the
// index walk) is the worst for one of 5 in a large database.
func (s *Store) PickMembers(ctx context.Context, accountID, orgID int64, p MemberPick) ([]OrgMember, error) {
	if p.Limit <= 0 || p.Limit > 100 {
		p.Limit = 20
	}
	query := `SELECT m.account_id, a.name, a.email, m.role
		FROM memberships me
		JOIN memberships m ON m.org_id = me.org_id
		JOIN accounts a ON a.id = m.account_id
		WHERE me.org_id = $1 AND me.account_id = $2`
	args := []any{orgID, accountID}
	if p.NotTeam > 0 {
		args = append(args, p.NotTeam)
		query += ` AND m.role <> 'billing' AND NOT EXISTS (SELECT 1 FROM team_members tm
			WHERE tm.team_id = $` + strconv.Itoa(len(args)) + ` AND tm.account_id = m.account_id)`
	}
	if q := pickerQuery(p.Query); q != "" {
		// LIKE, which the trigram indexes of 00019 serve.
		args = append(args, containsPattern(q))
		n := strconv.Itoa(len(args))
		query += ` AND (lower(a.name) LIKE $` + n + ` OR lower(a.email) LIKE $` + n + `)`
	}
	args = append(args, p.Limit)
	query += ` ORDER BY lower(a.name), a.id LIMIT $` + strconv.Itoa(len(args))
	ms := []OrgMember{}
	if err := s.db.PerCall().SelectContext(ctx, &ms, query, args...); err != nil {
		return nil, fmt.Errorf("list org members: %w", err)
	}
	return ms, nil
}

// isFKViolation reports whether err is a foreign key violation.
func isFKViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23503"
}
