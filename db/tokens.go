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

// CreateTokenInput describes a new API token.
type CreateTokenInput struct {
	Name      string
	Scopes    []string
	OrgID     *int64
	PolicyID  *int64
	ExpiresAt *time.Time
}

type tokenRow struct {
	model.APIToken
	ScopeList pq.StringArray `db:"scopes"`
}

func (r tokenRow) token() model.APIToken {
	t := r.APIToken
	t.Scopes = []string(r.ScopeList)
	return t
}

const tokenCols = `id, account_id, name, prefix, scopes, org_id, policy_id, expires_at, last_used_at, revoked_at, created_at`

// CreateToken issues a bearer token for the actor. The secret is returned once;
// only its hash is stored.
func (s *Store) CreateToken(ctx context.Context, actor model.Actor, in CreateTokenInput) (string, model.APIToken, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		in.Name = "API token"
	}
	f := model.Fields{}
	if len(in.Name) > 100 {
		f.Add("name", "Keep the name under 100 characters.")
	}
	if len(in.Scopes) == 0 {
		in.Scopes = []string{model.ScopeRead, model.ScopeWrite}
	}
	for _, sc := range in.Scopes {
		ok := false
		for _, a := range model.AllScopes {
			ok = ok || a == sc
		}
		if !ok {
			f.Add("scopes", fmt.Sprintf("Unknown scope %q: use %s.", sc, strings.Join(model.AllScopes, ", ")))
		}
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.Now()) {
		f.Add("expires_at", "The expiry must be in the future.")
	}
	if err := f.Err(); err != nil {
		return "", model.APIToken{}, err
	}
	secret, hash := NewSecret("gh_")
	var row tokenRow
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		orgForAudit := int64(0)
		if in.OrgID != nil {
			if _, err := tx.roleIn(*in.OrgID, actor.AccountID); err != nil {
				return model.InvalidField("org", "You are not a member of that organization.")
			}
			orgForAudit = *in.OrgID
		} else {
			acc, err := tx.accountByID(actor.AccountID)
			if err != nil {
				return err
			}
			orgForAudit = acc.PersonalOrgID
		}
		err := tx.GetContext(ctx, &row, `INSERT INTO api_tokens (account_id, name, token_hash, prefix, scopes, org_id, policy_id, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+tokenCols,
			actor.AccountID, in.Name, hash, secret[:10], pq.StringArray(in.Scopes), in.OrgID, in.PolicyID, in.ExpiresAt, tx.Now())
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return tx.Record(orgForAudit, "token.created", model.Target{Kind: "token", ID: strconv.FormatInt(row.ID, 10), Label: in.Name})
	})
	return secret, row.token(), err
}

// TokenAccount resolves a bearer secret to its token and account. Revoked,
// expired and unknown tokens are all unauthorized.
func (s *Store) TokenAccount(ctx context.Context, secret string) (model.APIToken, model.Account, error) {
	var row tokenRow
	err := s.db.GetContext(ctx, &row, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = $1`, HashSecret(secret))
	if errors.Is(err, sql.ErrNoRows) {
		return model.APIToken{}, model.Account{}, &model.Error{Code: model.CodeUnauthorized, Message: "Invalid or expired token."}
	}
	if err != nil {
		return model.APIToken{}, model.Account{}, fmt.Errorf("load token: %w", err)
	}
	t := row.token()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !t.ExpiresAt.After(s.Now())) {
		return model.APIToken{}, model.Account{}, &model.Error{Code: model.CodeUnauthorized, Message: "Invalid or expired token."}
	}
	acc, err := s.AccountByID(ctx, t.AccountID)
	if err != nil {
		return model.APIToken{}, model.Account{}, err
	}
	now := s.Now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, now, t.ID); err != nil {
			return model.APIToken{}, model.Account{}, fmt.Errorf("touch token: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE accounts SET last_active_at = $1 WHERE id = $2`, now, acc.ID); err != nil {
			return model.APIToken{}, model.Account{}, fmt.Errorf("touch account: %w", err)
		}
	}
	return t, acc, nil
}

// Tokens lists the account's tokens, newest first.
func (s *Store) Tokens(ctx context.Context, accountID int64) ([]model.APIToken, error) {
	var rows []tokenRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+tokenCols+` FROM api_tokens WHERE account_id = $1 ORDER BY id DESC`, accountID); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]model.APIToken, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeToken revokes one of the actor's tokens.
func (s *Store) RevokeToken(ctx context.Context, actor model.Actor, id int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		var row tokenRow
		err := tx.GetContext(ctx, &row, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1)
			WHERE id = $2 AND account_id = $3 RETURNING `+tokenCols, tx.Now(), id, actor.AccountID)
		if err != nil {
			return notFound(err, "token")
		}
		org := int64(0)
		if row.OrgID != nil {
			org = *row.OrgID
		} else if acc, err := tx.accountByID(actor.AccountID); err == nil {
			org = acc.PersonalOrgID
		}
		return tx.Record(org, "token.revoked", model.Target{Kind: "token", ID: strconv.FormatInt(id, 10), Label: row.Name})
	})
}
