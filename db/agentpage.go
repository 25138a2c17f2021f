package db

import (
	"context"
	"database/sql"
	"fmt"

	"guildhall/db/model"
)

// AgentDetail is what an agent's page shows: the agent as the viewer sees
// it, every team grant on it, and its pending transfer (for its admins).
type AgentDetail struct {
	Agent    model.Agent
	Grants   []model.Grant
	Transfer *model.AgentTransfer // nil when none, or the viewer is not an admin of the agent
}

// agentDetailQuery is agentAccessQuery with the agent's grants (one row
// each, in GrantsOnAgent's order; one row with none) and its pending
// transfer (unexpired at $3) joined: GetAgent, GrantsOnAgent and
// PendingTransferOf in one statement.
const agentDetailQuery = agentAccessSelect + `,
	tr.id, tr.agent_id, tr.agent_name, tr.from_org_id, tr.from_org_name, tr.from_account_id, tr.from_name, tr.from_email,
	tr.to_email, tr.status, tr.expires_at, tr.created_at,
	g.id, g.org_id, g.team_id, g.team_name, g.resource_kind, g.resource_id, g.resource_name, g.permission, g.created_at, g.updated_at,
	g.sort_name` + agentAccessFrom + `
LEFT JOIN LATERAL (` + transferSelect + `
	WHERE tr.agent_id = a.id AND tr.status = 'pending' AND tr.expires_at > $3) tr ON true
LEFT JOIN LATERAL (SELECT g.id, g.org_id, g.team_id, t.name AS team_name, g.resource_kind, g.resource_id,
	g.resource_name, g.permission, g.created_at, g.updated_at, lower(t.name) AS sort_name
	FROM grants g JOIN teams t ON t.id = g.team_id
	WHERE g.resource_kind = 'agent' AND g.resource_id = a.id AND g.org_id = a.org_id) g ON true
WHERE a.id = $2
ORDER BY g.sort_name, g.id`

// AgentDetail reads agent agentID for accountID's page in one statement,
// scanned by hand. An agent the account may not read is not found.
func (s *Store) AgentDetail(ctx context.Context, accountID, agentID int64) (AgentDetail, error) {
	d := AgentDetail{Grants: []model.Grant{}}
	rs, err := s.db.QueryContext(ctx, agentDetailQuery, accountID, agentID, s.Now())
	if err != nil {
		return d, fmt.Errorf("agent detail: %w", err)
	}
	defer rs.Close()
	var r agentFactsRow
	found := false
	for rs.Next() {
		found = true
		a := &r.Agent
		var g struct {
			id, orgID, teamID, resourceID      sql.NullInt64
			teamName, kind, resourceName, perm sql.NullString
			created, updated                   sql.NullTime
		}
		var t struct {
			id, agentID, fromOrgID                                     sql.NullInt64
			fromAccountID                                              *int64
			agentName, fromOrgName, fromName, fromEmail, toEmail, stat sql.NullString
			expires, created                                           sql.NullTime
		}
		var sortName sql.RawBytes
		if err := rs.Scan(&a.ID, &a.OrgID, &a.OrgSlug, &a.OrgName, &a.OrgKind, &a.CreatedBy, &a.CreatorName, &a.Name,
			&a.Description, &a.Config, &a.CreatedAt, &a.UpdatedAt, &r.Role, &r.Base, &r.IsCreator, &r.Grants,
			&t.id, &t.agentID, &t.agentName, &t.fromOrgID, &t.fromOrgName, &t.fromAccountID, &t.fromName, &t.fromEmail,
			&t.toEmail, &t.stat, &t.expires, &t.created,
			&g.id, &g.orgID, &g.teamID, &g.teamName, &g.kind, &g.resourceID, &g.resourceName, &g.perm, &g.created, &g.updated,
			&sortName); err != nil {
			return d, fmt.Errorf("agent detail: %w", err)
		}
		if g.id.Valid {
			d.Grants = append(d.Grants, model.Grant{ID: g.id.Int64, OrgID: g.orgID.Int64, TeamID: g.teamID.Int64, TeamName: g.teamName.String,
				ResourceKind: model.ResourceKind(g.kind.String), ResourceID: g.resourceID.Int64, ResourceName: g.resourceName.String,
				Permission: model.Permission(g.perm.String), CreatedAt: g.created.Time, UpdatedAt: g.updated.Time})
		}
		if t.id.Valid && d.Transfer == nil {
			d.Transfer = &model.AgentTransfer{ID: t.id.Int64, AgentID: t.agentID.Int64, AgentName: t.agentName.String, FromOrgID: t.fromOrgID.Int64,
				FromOrgName: t.fromOrgName.String, FromAccountID: t.fromAccountID, FromName: t.fromName.String, FromEmail: t.fromEmail.String,
				ToEmail: t.toEmail.String, Status: t.stat.String, ExpiresAt: t.expires.Time, CreatedAt: t.created.Time}
		}
	}
	if err := rs.Err(); err != nil {
		return d, fmt.Errorf("agent detail: %w", err)
	}
	if !found {
		return d, model.NotFound("agent")
	}
	if d.Agent, err = r.resolve(); err != nil {
		return d, err
	}
	if !d.Agent.Permission.AtLeast(model.PermRead) {
		return AgentDetail{}, model.NotFound("agent")
	}
	if !d.Agent.Permission.AtLeast(model.PermAdmin) {
		d.Transfer = nil
	}
	return d, nil
}
