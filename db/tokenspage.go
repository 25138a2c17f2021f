package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"guildhall/db/model"
)

// PolicyName is a spend policy as the token form offers it.
type PolicyName struct {
	ID   int64
	Name string
}

// tokensPageQuery is Policies' ids and names (as arrays, in its order) of
// org $2, joined to Tokens' rows of account $1 in its order (none: one row
// with null token columns).
const tokensPageQuery = `SELECT p.ids, p.names, t.id, t.account_id, t.name, t.prefix, t.scopes, t.org_id, t.policy_id,
	t.expires_at, t.last_used_at, t.revoked_at, t.created_at
FROM (SELECT array_agg(id ORDER BY is_default DESC, lower(name), id) AS ids,
		array_agg(name ORDER BY is_default DESC, lower(name), id) AS names
	FROM spend_policies WHERE org_id = $2) p
LEFT JOIN LATERAL (SELECT ` + tokenCols + ` FROM api_tokens WHERE account_id = $1) t ON true
ORDER BY t.id DESC`

// TokensPage reads the tokens page in one statement (two apart), hand-scanned:
// the actor's tokens as Tokens lists them, and the names of org's spend
// policies as Policies lists them (not found when the actor is not a
// member).
func (s *Store) TokensPage(ctx context.Context, actor model.Actor, orgID int64) ([]model.APIToken, []PolicyName, error) {
	if _, err := s.RoleIn(ctx, orgID, actor.AccountID); err != nil {
		return nil, nil, err
	}
	rows, err := s.db.QueryContext(ctx, tokensPageQuery, actor.AccountID, orgID)
	if err != nil {
		return nil, nil, fmt.Errorf("tokens page: %w", err)
	}
	defer rows.Close()
	var (
		tokens   []model.APIToken
		policies []PolicyName
		first    = true
	)
	for rows.Next() {
		var (
			ids                        pq.Int64Array
			names, scopes              pq.StringArray
			id, accountID              sql.NullInt64
			name, prefix               sql.NullString
			created                    sql.NullTime
			t                          model.APIToken
			pids, pnames               sql.RawBytes
			expires, lastUsed, revoked *time.Time
		)
		if first {
			err = rows.Scan(&ids, &names, &id, &accountID, &name, &prefix, &scopes, &t.OrgID, &t.PolicyID, &expires, &lastUsed, &revoked, &created)
		} else { // the same arrays on every row
			err = rows.Scan(&pids, &pnames, &id, &accountID, &name, &prefix, &scopes, &t.OrgID, &t.PolicyID, &expires, &lastUsed, &revoked, &created)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("tokens page: %w", err)
		}
		if first {
			if len(ids) != len(names) {
				return nil, nil, fmt.Errorf("tokens page: %d policy ids, %d names", len(ids), len(names))
			}
			for i := range ids {
				policies = append(policies, PolicyName{ID: ids[i], Name: names[i]})
			}
			first = false
		}
		if id.Valid {
			t.ID, t.AccountID, t.Name, t.Prefix, t.Scopes = id.Int64, accountID.Int64, name.String, prefix.String, []string(scopes)
			t.ExpiresAt, t.LastUsedAt, t.RevokedAt, t.CreatedAt = expires, lastUsed, revoked, created.Time
			tokens = append(tokens, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("tokens page: %w", err)
	}
	return tokens, policies, nil
}
