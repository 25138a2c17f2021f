package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"guildhall/db/model"
)

// VerificationTTL is how long an email verification link works.
const VerificationTTL = 48 * time.Hour

// ErrBadCredentials is the one answer for an unknown email and a wrong
// password, so sign-in does not reveal which accounts exist.
var ErrBadCredentials = &model.Error{Code: model.CodeUnauthorized, Message: "Incorrect email or password."}

// dummyHash is compared against when the email is unknown, so both paths cost
// one bcrypt comparison.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("guildhall-dummy-password"), bcrypt.DefaultCost)

// SignupInput is what a person gives to create an account.
type SignupInput struct {
	Email    string
	Name     string
	Password string
	// VerifiedEmail marks the email verified at once (an invitation link proved it).
	VerifiedEmail bool
}

const accountCols = `a.id, a.email, a.name, a.password_hash, a.email_verified_at,
	COALESCE(a.personal_org_id, 0) AS personal_org_id, a.created_at, a.last_active_at, ` + hasTwoFactorA + ` AS two_factor`

// Signup creates an account, its personal org (owner) and its wallet.
func (s *Store) Signup(ctx context.Context, actor model.Actor, in SignupInput) (model.Account, error) {
	in, hash, err := s.prepareSignup(in)
	if err != nil {
		return model.Account{}, err
	}
	var acc model.Account
	err = s.InTx(ctx, actor, func(tx *Tx) error {
		var err error
		acc, err = tx.signup(in, hash)
		return err
	})
	return acc, err
}

// prepareSignup normalizes and validates sign-up input and hashes the
// password, outside any transaction (bcrypt is slow on purpose).
func (s *Store) prepareSignup(in SignupInput) (SignupInput, string, error) {
	in.Email = model.NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	f := model.Fields{}
	if err := model.ValidateEmail(in.Email); err != nil {
		f.Add("email", msgOf(err))
	}
	if err := model.ValidateName(in.Name, "name"); err != nil {
		f.Add("name", msgOf(err))
	}
	if err := model.ValidatePassword(in.Password); err != nil {
		f.Add("password", msgOf(err))
	}
	if err := f.Err(); err != nil {
		return in, "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.bcryptCost())
	if err != nil {
		return in, "", fmt.Errorf("hash password: %w", err)
	}
	return in, string(hash), nil
}

// signup creates the account of prepared input in tx, with its personal org,
// and makes the new account the transaction's actor.
func (tx *Tx) signup(in SignupInput, hash string) (model.Account, error) {
	ctx := tx.ctx
	var acc model.Account
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM accounts WHERE email = $1)`, in.Email); err != nil {
		return acc, fmt.Errorf("check email: %w", err)
	}
	if exists {
		return acc, model.ConflictField("email", "An account with this email already exists. Sign in instead.")
	}
	base := model.Slugify(in.Name)
	if base == "org" || base == "" {
		base = model.Slugify(strings.SplitN(in.Email, "@", 2)[0])
	}
	slug, err := tx.freeSlug(base)
	if err != nil {
		return acc, err
	}
	var verifiedAt *time.Time
	if in.VerifiedEmail {
		now := tx.Now()
		verifiedAt = &now
	}
	err = tx.GetContext(ctx, &acc.ID, `
		INSERT INTO accounts (email, name, password_hash, email_verified_at, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, in.Email, in.Name, hash, verifiedAt, tx.Now())
	if isUniqueViolation(err, "accounts_email_key") {
		return acc, model.ConflictField("email", "An account with this email already exists. Sign in instead.")
	}
	if err != nil {
		return acc, fmt.Errorf("insert account: %w", err)
	}
	org, err := tx.insertOrg(model.OrgPersonal, slug, in.Name, "")
	if err != nil {
		return acc, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET personal_org_id = $1 WHERE id = $2`, org.ID, acc.ID); err != nil {
		return acc, fmt.Errorf("link personal org: %w", err)
	}
	if err := tx.insertMembership(org.ID, acc.ID, model.RoleOwner); err != nil {
		return acc, err
	}
	tx.actor.AccountID, tx.actor.Email = acc.ID, in.Email
	if err := tx.Record(org.ID, "account.created", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: in.Email}); err != nil {
		return acc, err
	}
	return tx.accountByID(acc.ID)
}

func (s *Store) bcryptCost() int {
	if s.fastHash {
		return bcrypt.MinCost
	}
	return bcrypt.DefaultCost
}

// WithFastPasswordHashing uses bcrypt's minimum cost; for tests only.
func WithFastPasswordHashing() Option { return func(s *Store) { s.fastHash = true } }

func msgOf(err error) string {
	if e, ok := model.AsError(err); ok {
		for _, m := range e.Fields {
			return m
		}
		return e.Message
	}
	return err.Error()
}

// Authenticate checks an email and password.
func (s *Store) Authenticate(ctx context.Context, email, password string) (model.Account, error) {
	email = model.NormalizeEmail(email)
	acc, err := s.AccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return model.Account{}, err
	}
	hash := dummyHash
	if err == nil && acc.PasswordHash != "" {
		hash = []byte(acc.PasswordHash)
	}
	if cmpErr := bcrypt.CompareHashAndPassword(hash, []byte(password)); cmpErr != nil || err != nil || acc.PasswordHash == "" {
		return model.Account{}, ErrBadCredentials
	}
	return acc, nil
}

// AccountByID loads an account.
func (s *Store) AccountByID(ctx context.Context, id int64) (model.Account, error) {
	var a model.Account
	err := s.db.GetContext(ctx, &a, `SELECT `+accountCols+` FROM accounts a WHERE a.id = $1`, id)
	return a, notFound(err, "account")
}

func (tx *Tx) accountByID(id int64) (model.Account, error) {
	var a model.Account
	err := tx.GetContext(tx.ctx, &a, `SELECT `+accountCols+` FROM accounts a WHERE a.id = $1`, id)
	return a, notFound(err, "account")
}

// AccountByEmail loads an account by its (case-insensitive) email.
func (s *Store) AccountByEmail(ctx context.Context, email string) (model.Account, error) {
	var a model.Account
	err := s.db.GetContext(ctx, &a, `SELECT `+accountCols+` FROM accounts a WHERE a.email = $1`, model.NormalizeEmail(email))
	return a, notFound(err, "account")
}

// CreateEmailVerification makes a one-time link token for the account's email.
func (s *Store) CreateEmailVerification(ctx context.Context, accountID int64) (string, error) {
	secret, hash := NewSecret("ver_")
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO email_verifications (token_hash, account_id, email, expires_at, created_at)
		SELECT $1, id, email, $2, $3 FROM accounts WHERE id = $4`,
		hash, s.Now().Add(VerificationTTL), s.Now(), accountID)
	if err != nil {
		return "", fmt.Errorf("create verification: %w", err)
	}
	return secret, nil
}

// VerifyEmail consumes a verification link and marks the email verified.
func (s *Store) VerifyEmail(ctx context.Context, actor model.Actor, token string) (model.Account, error) {
	var acc model.Account
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var v struct {
			AccountID int64      `db:"account_id"`
			Email     string     `db:"email"`
			ExpiresAt time.Time  `db:"expires_at"`
			UsedAt    *time.Time `db:"used_at"`
			Change    bool       `db:"change"`
		}
		err := tx.GetContext(ctx, &v, `SELECT account_id, email, expires_at, used_at, change
			FROM email_verifications WHERE token_hash = $1 FOR UPDATE`, HashSecret(token))
		if errors.Is(err, sql.ErrNoRows) {
			return model.NotFound("verification link")
		}
		if err != nil {
			return fmt.Errorf("load verification: %w", err)
		}
		if v.UsedAt != nil {
			return model.Conflict("This verification link was already used.")
		}
		if tx.Now().After(v.ExpiresAt) {
			return model.Conflict("This verification link has expired. Sign in and ask for a new one.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE email_verifications SET used_at = $1 WHERE token_hash = $2`, tx.Now(), HashSecret(token)); err != nil {
			return fmt.Errorf("use verification: %w", err)
		}
		if v.Change {
			var err error
			acc, err = tx.changeEmail(v.AccountID, v.Email)
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, $1)
			WHERE id = $2 AND email = $3`, tx.Now(), v.AccountID, v.Email)
		if err != nil {
			return fmt.Errorf("verify email: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.Conflict("This link was for an email the account no longer uses.")
		}
		acc, err = tx.accountByID(v.AccountID)
		if err != nil {
			return err
		}
		tx.actor.AccountID, tx.actor.Email = acc.ID, acc.Email
		return tx.Record(acc.PersonalOrgID, "account.email_verified", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
	})
	return acc, err
}

// RequestEmailChange starts moving the account to a new address: it checks
// the password and that the address is free, and returns a one-time link
// token to mail to the new address. Nothing changes until the link is used
// (VerifyEmail); the request is audited.
func (s *Store) RequestEmailChange(ctx context.Context, actor model.Actor, newEmail, password string) (string, error) {
	newEmail = model.NormalizeEmail(newEmail)
	acc, err := s.AccountByID(ctx, actor.AccountID)
	if err != nil {
		return "", err
	}
	fields := model.Fields{}
	if err := model.ValidateEmail(newEmail); err != nil {
		fields.Add("new_email", msgOf(err))
	} else if newEmail == acc.Email {
		fields.Add("new_email", "That is already your email.")
	}
	if bcrypt.CompareHashAndPassword([]byte(acc.PasswordHash), []byte(password)) != nil {
		fields.Add("password", "That is not your current password.")
	}
	if err := fields.Err(); err != nil {
		return "", err
	}
	secret, hash := NewSecret("ver_")
	err = s.InTx(ctx, actor, func(tx *Tx) error {
		var taken bool
		if err := tx.GetContext(ctx, &taken, `SELECT EXISTS (SELECT 1 FROM accounts WHERE email = $1)`, newEmail); err != nil {
			return fmt.Errorf("check email: %w", err)
		}
		if taken {
			return model.InvalidField("new_email", "Another account uses that email.")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO email_verifications (token_hash, account_id, email, expires_at, created_at, change)
			VALUES ($1, $2, $3, $4, $5, true)`, hash, acc.ID, newEmail, tx.Now().Add(VerificationTTL), tx.Now()); err != nil {
			return fmt.Errorf("create email change: %w", err)
		}
		return tx.Record(acc.PersonalOrgID, "account.email_change_requested", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email + " → " + newEmail})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// changeEmail moves the account to an address its link just proved, verified
// at once, and records the change with both addresses.
func (tx *Tx) changeEmail(accountID int64, email string) (model.Account, error) {
	old, err := tx.accountByID(accountID)
	if err != nil {
		return model.Account{}, err
	}
	_, err = tx.ExecContext(tx.ctx, `UPDATE accounts SET email = $1, email_verified_at = $2 WHERE id = $3`, email, tx.Now(), accountID)
	if isUniqueViolation(err, "accounts_email_key") {
		return model.Account{}, model.Conflict("Another account took that email in the meantime.")
	}
	if err != nil {
		return model.Account{}, fmt.Errorf("change email: %w", err)
	}
	acc, err := tx.accountByID(accountID)
	if err != nil {
		return model.Account{}, err
	}
	tx.actor.AccountID, tx.actor.Email = acc.ID, acc.Email
	return acc, tx.Record(acc.PersonalOrgID, "account.email_changed", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: old.Email + " → " + acc.Email})
}

// UpdateProfile renames the account; its personal org follows the name.
func (s *Store) UpdateProfile(ctx context.Context, actor model.Actor, name string) (model.Account, error) {
	name = strings.TrimSpace(name)
	if err := model.ValidateName(name, "name"); err != nil {
		return model.Account{}, err
	}
	var acc model.Account
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET name = $1 WHERE id = $2`, name, actor.AccountID); err != nil {
			return fmt.Errorf("update account: %w", err)
		}
		var err error
		acc, err = tx.accountByID(actor.AccountID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET display_name = $1, updated_at = $2 WHERE id = $3`, name, tx.Now(), acc.PersonalOrgID); err != nil {
			return fmt.Errorf("rename personal org: %w", err)
		}
		return tx.Record(acc.PersonalOrgID, "account.updated", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
	})
	return acc, err
}

// ChangePassword checks the current password, stores the new one and ends
// every other session of the account (keepSession is the caller's own).
func (s *Store) ChangePassword(ctx context.Context, actor model.Actor, current, next, keepSession string) error {
	return s.ChangePasswordWith(ctx, actor, PasswordChange{Current: current, Next: next, KeepSession: keepSession})
}

// PasswordChange is a password change and what goes with it.
type PasswordChange struct {
	Current, Next string
	// KeepSession is the caller's own session id: every other one ends.
	KeepSession string
	// RevokeTokens revokes every API token of the account too (the owner
	// suspects the old password leaked, and tokens may have been made with it).
	RevokeTokens bool
}

// ChangePasswordWith is ChangePassword with options; all of it is one
// transaction with its audit events.
func (s *Store) ChangePasswordWith(ctx context.Context, actor model.Actor, in PasswordChange) error {
	current, next, keepSession := in.Current, in.Next, in.KeepSession
	acc, err := s.AccountByID(ctx, actor.AccountID)
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(acc.PasswordHash), []byte(current)) != nil {
		return model.InvalidField("current_password", "That is not your current password.")
	}
	if err := model.ValidatePassword(next); err != nil {
		return model.InvalidField("new_password", msgOf(err))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), s.bcryptCost())
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, string(hash), acc.ID); err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2`, acc.ID, HashSecret(keepSession)); err != nil {
			return fmt.Errorf("end other sessions: %w", err)
		}
		if in.RevokeTokens {
			var revoked []tokenRow
			if err := tx.SelectContext(ctx, &revoked, `UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL RETURNING `+tokenCols, tx.Now(), acc.ID); err != nil {
				return fmt.Errorf("revoke tokens: %w", err)
			}
			for _, t := range revoked {
				org := acc.PersonalOrgID
				if t.OrgID != nil {
					org = *t.OrgID
				}
				if err := tx.Record(org, "token.revoked", model.Target{Kind: "token", ID: strconv.FormatInt(t.ID, 10), Label: t.Name}); err != nil {
					return err
				}
			}
			if err := tx.Record(acc.PersonalOrgID, "account.tokens_revoked", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: fmt.Sprintf("%s (%d tokens)", acc.Email, len(revoked))}); err != nil {
				return err
			}
		}
		return tx.Record(acc.PersonalOrgID, "account.password_changed", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
	})
}

// CreateSession starts a browser session and returns its secret id; only the
// hash is stored, so a database leak does not leak live sessions.
func (s *Store) CreateSession(ctx context.Context, accountID int64, ip, userAgent string) (string, error) {
	secret, hash := NewSecret("")
	userAgent = model.CleanText(userAgent, 300)
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at, ip, user_agent)
		VALUES ($1, $2, $3, $3, $4, $5)`, hash, accountID, s.Now(), ip, userAgent)
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE accounts SET last_active_at = $1 WHERE id = $2`, s.Now(), accountID); err != nil {
		return "", fmt.Errorf("mark account active: %w", err)
	}
	return secret, nil
}

// SessionAccount resolves a session id to its account and marks both seen
// (at most once a minute, to keep page loads free of writes).
func (s *Store) SessionAccount(ctx context.Context, sessionID string) (model.Account, error) {
	acc, _, err := s.Session(ctx, sessionID)
	return acc, err
}

// SessionFacts are what a browser request needs besides the account, read in
// the same statement so a page does not pay a round trip for each: how the
// session signed in (SSO enforcement), and whether each banner source has
// anything to show (most requests have nothing, and then skip its query).
type SessionFacts struct {
	Method      string `db:"auth_method"`
	SSOOrgID    *int64 `db:"sso_org_id"`
	Invitations bool   `db:"has_invitations"`
	Transfers   bool   `db:"has_transfers"`
	AutoJoin    bool   `db:"has_auto_join"`
}

// sessionQuery is the session's account with its SessionFacts. The three
// flags are the existence tests of MyInvitations, MyAgentTransfers and
// AutoJoinOffers ($2 is now); each is an index probe. The account is a
// LATERAL ... OFFSET 0 lookup: when the sessions' statistics only knew early
// accounts, the cached generic plan merge-joined the accounts' primary key
// from its start, reading every account up to a newer one's
// (TestAuthLookupsReadOneAccount).
const sessionQuery = `SELECT ` + accountCols + `, s.last_seen_at AS last_seen_at_s, s.auth_method, s.sso_org_id,
	(a.email_verified_at IS NOT NULL AND EXISTS (SELECT 1 FROM invitations i
		WHERE i.email = a.email AND i.status = 'pending' AND i.expires_at > $2
		  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = i.org_id AND m.account_id = a.id))) AS has_invitations,
	(a.email_verified_at IS NOT NULL AND EXISTS (SELECT 1 FROM agent_transfers tr
		WHERE tr.to_email = a.email AND tr.status = 'pending' AND tr.expires_at > $2)) AS has_transfers,
	(a.email_verified_at IS NOT NULL AND EXISTS (SELECT 1 FROM sso_domains d
		WHERE d.domain = lower(substring(a.email from '@([^@]*)$')) AND d.verified_at IS NOT NULL AND d.auto_join
		  AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = d.org_id AND m.account_id = a.id))) AS has_auto_join
FROM sessions s CROSS JOIN LATERAL (SELECT * FROM accounts a WHERE a.id = s.account_id OFFSET 0) a
WHERE s.id_hash = $1`

// Session loads the account signed in by a browser session, with its
// SessionFacts, and marks the session seen (at most once a minute).
func (s *Store) Session(ctx context.Context, sessionID string) (model.Account, SessionFacts, error) {
	if sessionID == "" {
		return model.Account{}, SessionFacts{}, model.ErrUnauthorized
	}
	var row struct {
		model.Account
		SessionFacts
		LastSeen time.Time `db:"last_seen_at_s"`
	}
	now := s.Now()
	err := s.db.GetContext(ctx, &row, sessionQuery, HashSecret(sessionID), now)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Account{}, SessionFacts{}, model.ErrUnauthorized
	}
	if err != nil {
		return model.Account{}, SessionFacts{}, fmt.Errorf("load session: %w", err)
	}
	if err := s.touchSession(ctx, sessionID, row.ID, row.LastSeen, now); err != nil {
		return model.Account{}, SessionFacts{}, err
	}
	return row.Account, row.SessionFacts, nil
}

// touchSession marks a session and its account seen, at most once a minute
// (lastSeen is the session's), to keep page loads free of writes.
func (s *Store) touchSession(ctx context.Context, sessionID string, accountID int64, lastSeen, now time.Time) error {
	if now.Sub(lastSeen) <= time.Minute {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2`, now, HashSecret(sessionID)); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE accounts SET last_active_at = $1 WHERE id = $2`, now, accountID); err != nil {
		return fmt.Errorf("touch account: %w", err)
	}
	return nil
}

// DeleteSession ends one session (sign-out).
func (s *Store) DeleteSession(ctx context.Context, sessionID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, HashSecret(sessionID))
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
