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

// validateTokenInput checks and normalizes a new token's fields: a name of one
// line, known scopes (deduplicated, in the order of model.AllScopes; none means
// read and write), an expiry in the future.
func (s *Store) validateTokenInput(in *CreateTokenInput) error {
	f := model.Fields{}
	if !model.ValidText(in.Name) {
		f.Add("name", "Name is not valid text.")
	} else if err := model.ValidateName(in.Name, "name"); err != nil {
		e, _ := model.AsError(err)
		f.Add("name", e.Fields["name"])
	}
	in.Name = strings.TrimSpace(in.Name)
	if len(in.Scopes) == 0 {
		in.Scopes = []string{model.ScopeRead, model.ScopeWrite}
	}
	want := map[string]bool{}
	for _, sc := range in.Scopes {
		known := false
		for _, a := range model.AllScopes {
			known = known || a == sc
		}
		if !known {
			shown := sc
			if !model.ValidText(sc) {
				shown = strings.ToValidUTF8(strings.ReplaceAll(sc, "\x00", ""), "")
			}
			f.Add("scopes", fmt.Sprintf("Unknown scope %q: use %s.", shown, strings.Join(model.AllScopes, ", ")))
			continue
		}
		want[sc] = true
	}
	scopes := make([]string, 0, len(want))
	for _, a := range model.AllScopes {
		if want[a] {
			scopes = append(scopes, a)
		}
	}
	in.Scopes = scopes
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(s.Now()) {
			f.Add("expires_at", "The expiry must be in the future.")
		} else {
			t := in.ExpiresAt.UTC()
			in.ExpiresAt = &t
		}
	}
	if in.PolicyID != nil && *in.PolicyID <= 0 {
		f.Add("policy_id", "Unknown spend policy.")
	}
	return f.Err()
}

// TokenPrefix starts every API token, so secret scanners and people can tell
// a Guildhall token at a glance.
const TokenPrefix = "guildhall_"

// CreateToken issues a bearer token for the actor. The secret is returned once;
// only its hash is stored. The plan limit api_keys (SPEC 14) counts the
// account's active tokens in the token's org (unbound tokens count in the
// personal org); the org row lock makes it hold under concurrent creates.
func (s *Store) CreateToken(ctx context.Context, actor model.Actor, in CreateTokenInput) (string, model.APIToken, error) {
	if err := s.validateTokenInput(&in); err != nil {
		return "", model.APIToken{}, err
	}
	secret, hash := NewSecret(TokenPrefix)
	var row tokenRow
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		acc, err := tx.accountByID(actor.AccountID)
		if err != nil {
			return err
		}
		orgID := acc.PersonalOrgID
		if in.OrgID != nil {
			if _, err := tx.roleIn(*in.OrgID, actor.AccountID); err != nil {
				return model.InvalidField("org", "You are not a member of that organization.")
			}
			orgID = *in.OrgID
		}
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		if in.PolicyID != nil {
			// A token's policy is one of its workspace's spend policies.
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM spend_policies WHERE id = $1 AND org_id = $2`, *in.PolicyID, orgID); err != nil {
				return fmt.Errorf("check token policy: %w", err)
			}
			if n == 0 {
				return model.InvalidField("policy_id", "Unknown spend policy: choose one of the token's workspace.")
			}
		}
		used, err := tx.countActiveTokens(actor.AccountID, orgID, orgID == acc.PersonalOrgID)
		if err != nil {
			return err
		}
		if err := model.CheckLimit(model.LimitAPIKeys, used+1, org.LimitAPIKeys); err != nil {
			return err
		}
		err = tx.GetContext(ctx, &row, `INSERT INTO api_tokens (account_id, name, token_hash, prefix, scopes, org_id, policy_id, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+tokenCols,
			actor.AccountID, in.Name, hash, secret[:len(TokenPrefix)+6], pq.StringArray(in.Scopes), in.OrgID, in.PolicyID, in.ExpiresAt, tx.Now())
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return tx.Record(orgID, "token.created", model.Target{Kind: "token", ID: strconv.FormatInt(row.ID, 10), Label: in.Name})
	})
	if err != nil {
		return "", model.APIToken{}, err
	}
	return secret, row.token(), nil
}

// countActiveTokens counts the account's tokens in org that are neither
// revoked nor expired; in the personal org, unbound tokens count too.
// Callers hold lockOrg(orgID).
func (tx *Tx) countActiveTokens(accountID, orgID int64, personal bool) (int, error) {
	var n int
	err := tx.GetContext(tx.ctx, &n, `SELECT count(*) FROM api_tokens
		WHERE account_id = $1 AND (org_id = $2 OR ($3 AND org_id IS NULL))
		AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)`, accountID, orgID, personal, tx.Now())
	if err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// TokenAccount resolves a bearer secret to its token and account. Revoked,
// expired and unknown tokens are all unauthorized.
func (s *Store) TokenAccount(ctx context.Context, secret string) (model.APIToken, model.Account, error) {
	t, acc, _, err := s.TokenSession(ctx, secret)
	return t, acc, err
}

// tokenSessionQuery is a token with its account in one statement, and
// whether the account belongs to any org enforcing SSO (most do not, and
// then the SSO gate needs no query of its own).
const tokenSessionQuery = tokenSessionSelect + tokenSessionFrom + tokenSessionWhere

const (
	tokenSessionSelect = `SELECT t.id, t.account_id, t.name, t.prefix, t.scopes, t.org_id, t.policy_id, t.expires_at,
	t.last_used_at, t.revoked_at, t.created_at,
	` + accountCols + `,
	EXISTS (SELECT 1 FROM memberships m JOIN sso_connections c ON c.org_id = m.org_id AND c.enforced AND c.enabled
		WHERE m.account_id = a.id) AS sso_enforced_somewhere`
	// The account is a LATERAL ... OFFSET 0 lookup, as in sessionQuery:
	// a merge join with the accounts' primary key cost an API call of
	// account 10,000 of the large data set 2 ms.
	tokenSessionFrom = `
FROM api_tokens t CROSS JOIN LATERAL (SELECT * FROM accounts a WHERE a.id = t.account_id OFFSET 0) a`
	tokenSessionWhere = ` WHERE t.token_hash = $1`
)

// tokenOrgJoin adds to tokenSessionQuery the org the call names ($2, an id
// or a slug) as the token's account sees it: every column is NULL when the
// account is not a member, whether or not the org exists (Workspace's rule).
// OFFSET 0 keeps it a lookup of the token's membership: pulled up into the
// join, the generic plan read every membership of the org.
func tokenOrgJoin(byID bool) string {
	where := `o.slug = $2`
	if byID {
		where = `o.id = $2`
	}
	return ` LEFT JOIN LATERAL (SELECT ` + orgCols + `, m.role FROM orgs o
		JOIN memberships m ON m.org_id = o.id AND m.account_id = t.account_id WHERE ` + where + ` OFFSET 0) w ON true`
}

// tokenOrgCols are the columns of tokenOrgJoin, NULLs made zero values (a
// role of ” is no org).
const tokenOrgCols = `, COALESCE(w.id, 0), COALESCE(w.kind, ''), COALESCE(w.slug, ''), COALESCE(w.display_name, ''),
	COALESCE(w.description, ''), COALESCE(w.member_base_permission, ''), COALESCE(w.plan, ''),
	COALESCE(w.limit_team_members, 0), COALESCE(w.limit_api_keys, 0), COALESCE(w.limit_agents, 0),
	COALESCE(w.limit_monthly_requests, 0), COALESCE(w.created_at, 'epoch'), COALESCE(w.updated_at, 'epoch'),
	COALESCE(w.require_two_factor, false), COALESCE(w.role, '')`

// TokenAuth is what authenticating an API call reads: the token, its
// account, whether any org of the account enforces SSO (SSOAnywhere false:
// SSOBlockedOrgs would find nothing), and, when the call names an org, that
// org as Workspace reads it (OrgRef is that name; OrgFound false is not
// found).
type TokenAuth struct {
	Token       model.APIToken
	Account     model.Account
	SSOAnywhere bool
	OrgRef      string
	Org         model.Workspace
	OrgFound    bool
}

// TokenSession authenticates an API token (TokenAuthIn without an org).
func (s *Store) TokenSession(ctx context.Context, secret string) (model.APIToken, model.Account, bool, error) {
	a, err := s.TokenAuthIn(ctx, secret, "")
	return a.Token, a.Account, a.SSOAnywhere, err
}

// TokenAuthIn authenticates an API token and, when orgRef is not empty,
// reads that org in the same statement: every API call starts here and most
// name an org, and a second round trip was a sixth of a small read's cost.
// It marks the token used, at most once a minute. The row is scanned by
// hand, in the query's order.
func (s *Store) TokenAuthIn(ctx context.Context, secret, orgRef string) (TokenAuth, error) {
	invalid := &model.Error{Code: model.CodeUnauthorized, Message: "Invalid or expired token."}
	var a TokenAuth
	t, acc := &a.Token, &a.Account
	var scopes pq.StringArray
	q, args := tokenSessionQuery, []any{HashSecret(secret)}
	dest := []any{&t.ID, &t.AccountID, &t.Name, &t.Prefix, &scopes, &t.OrgID,
		&t.PolicyID, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt, &t.CreatedAt, &acc.ID, &acc.Email, &acc.Name, &acc.PasswordHash,
		&acc.EmailVerifiedAt, &acc.PersonalOrgID, &acc.CreatedAt, &acc.LastActiveAt, &acc.TwoFactor, &a.SSOAnywhere}
	// An org reference PostgreSQL would refuse as text is simply not found
	// (Workspace's rule), and must not fail the token's read.
	if orgRef != "" && model.ValidText(orgRef) {
		a.OrgRef = orgRef
		id, perr := strconv.ParseInt(orgRef, 10, 64)
		var ref any = id
		if perr != nil {
			ref = strings.ToLower(orgRef)
		}
		q = tokenSessionSelect + tokenOrgCols + tokenSessionFrom + tokenOrgJoin(perr == nil) + tokenSessionWhere
		args = append(args, ref)
		o := &a.Org.Org
		dest = append(dest, &o.ID, &o.Kind, &o.Slug, &o.DisplayName, &o.Description, &o.MemberBasePermission,
			&o.Plan, &o.LimitTeamMembers, &o.LimitAPIKeys, &o.LimitAgents, &o.LimitMonthlyRequests, &o.CreatedAt, &o.UpdatedAt,
			&o.RequireTwoFactor, &a.Org.Role)
	}
	err := s.db.scanRow(ctx, q, args, dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return TokenAuth{}, invalid
	}
	if err != nil {
		return TokenAuth{}, fmt.Errorf("load token: %w", err)
	}
	t.Scopes = []string(scopes)
	if a.OrgRef != "" {
		a.OrgFound = a.Org.Role != ""
		if !a.OrgFound {
			a.Org = model.Workspace{}
		}
	}
	now := s.Now()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !t.ExpiresAt.After(now)) {
		return TokenAuth{}, invalid
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, now, t.ID); err != nil {
			return TokenAuth{}, fmt.Errorf("touch token: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE accounts SET last_active_at = $1 WHERE id = $2`, now, acc.ID); err != nil {
			return TokenAuth{}, fmt.Errorf("touch account: %w", err)
		}
	}
	return a, nil
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

// Token loads one of the account's tokens; another account's is not found.
func (s *Store) Token(ctx context.Context, accountID, id int64) (model.APIToken, error) {
	var row tokenRow
	err := s.db.GetContext(ctx, &row, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return model.APIToken{}, notFound(err, "token")
	}
	return row.token(), nil
}

// RevokeToken revokes one of the actor's tokens. Revoking a revoked token
// changes nothing and succeeds; another account's token is not found.
func (s *Store) RevokeToken(ctx context.Context, actor model.Actor, id int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		var row tokenRow
		err := tx.GetContext(ctx, &row, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, actor.AccountID)
		if err != nil {
			return notFound(err, "token")
		}
		if row.RevokedAt != nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE id = $2`, tx.Now(), id); err != nil {
			return fmt.Errorf("revoke token: %w", err)
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
