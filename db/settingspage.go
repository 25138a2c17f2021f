package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"guildhall/db/model"
)

// SettingsFacts is what the settings page reads of an org besides the
// workspace itself: the use of each limit (LimitUsage), how many members
// have no second factor (MembersWithoutTwoFactor; only when asked) and what
// stops the org from being deleted (DeleteBlockers; only when asked).
type SettingsFacts struct {
	Use        LimitUse
	Unenrolled int
	Blockers   []Blocker
}

// settingsFactsQuery answers LimitUsage's row, joined to the rows of
// deleteGuards when $7 (not run otherwise: one row with null blocker
// columns).
// The two-factor count is evaluated only when $6.
const settingsFactsQuery = `SELECT u.team_members, u.api_keys, u.agents, u.monthly_requests, u.unenrolled,
	b.kind, b.id, b.label, b.amount_cents, b.of_kind
FROM (SELECT
	(SELECT member_count FROM orgs WHERE id = $1) +
	(SELECT count(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $3) AS team_members,
	(SELECT count(*) FROM api_tokens WHERE account_id = $2 AND (org_id = $1 OR ($4 AND org_id IS NULL))
		AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)) AS api_keys,
	(SELECT agent_count FROM orgs WHERE id = $1) AS agents,
	COALESCE((SELECT requests FROM usage_monthly WHERE org_id = $1 AND month = $5), 0) AS monthly_requests,
	CASE WHEN $6 THEN (SELECT o.member_count - (SELECT count(*) FROM memberships m
			JOIN (SELECT account_id FROM two_factor_totp WHERE confirmed_at IS NOT NULL
				UNION SELECT account_id FROM webauthn_credentials) f ON f.account_id = m.account_id
			WHERE m.org_id = o.id)
		FROM orgs o WHERE o.id = $1) END AS unenrolled) u
LEFT JOIN LATERAL (SELECT * FROM (` + deleteGuards + `) g WHERE $7) b ON true`

// SettingsFacts reads the settings page's facts of org for viewerID in one
// statement (three apart: the limit use, the two-factor count, the delete
// blockers), hand-scanned. twoFactor asks for the count of members without
// a second factor, blockers for what stops deletion.
func (s *Store) SettingsFacts(ctx context.Context, viewerID int64, org model.Org, twoFactor, blockers bool) (SettingsFacts, error) {
	now := s.Now()
	rows, err := s.db.QueryContext(ctx, settingsFactsQuery, org.ID, viewerID, now, org.Personal(),
		model.MonthStart(now).Format(time.DateOnly), twoFactor, blockers)
	if err != nil {
		return SettingsFacts{}, fmt.Errorf("settings facts: %w", err)
	}
	defer rows.Close()
	var f SettingsFacts
	for rows.Next() {
		var (
			unenrolled                sql.NullInt64
			kind, label               sql.NullString
			id, amount, ofKind        sql.NullInt64
			teamMembers, keys, agents int64
		)
		if err := rows.Scan(&teamMembers, &keys, &agents, &f.Use.MonthlyRequests, &unenrolled,
			&kind, &id, &label, &amount, &ofKind); err != nil {
			return SettingsFacts{}, fmt.Errorf("settings facts: %w", err)
		}
		f.Use.TeamMembers, f.Use.APIKeys, f.Use.Agents = int(teamMembers), int(keys), int(agents)
		f.Unenrolled = int(unenrolled.Int64)
		if kind.Valid {
			f.Blockers = append(f.Blockers, Blocker{Kind: kind.String, ID: id.Int64, Label: label.String,
				AmountCents: amount.Int64, OfKind: ofKind.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return SettingsFacts{}, fmt.Errorf("settings facts: %w", err)
	}
	return f, nil
}
