package db

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"guildhall/db/model"
)

// hasTwoFactorA is true when the account aliased a has a second factor: a
// confirmed authenticator or a passkey. Account and member reads select it.
const hasTwoFactorA = `(EXISTS (SELECT 1 FROM two_factor_totp t2f WHERE t2f.account_id = a.id AND t2f.confirmed_at IS NOT NULL)
	OR EXISTS (SELECT 1 FROM webauthn_credentials w2f WHERE w2f.account_id = a.id))`

// twoFactorAllows1 is model.TwoFactorGate in SQL for the resource access
// queries (db/access.go): a membership of org o counts for account $1 only if
// o does not require two-factor or the account has it. Otherwise a member
// locked out of the org's pages could still reach its agents by id.
const twoFactorAllows1 = `NOT (o.require_two_factor AND o.kind <> 'personal'
	AND NOT EXISTS (SELECT 1 FROM two_factor_totp t2f WHERE t2f.account_id = $1 AND t2f.confirmed_at IS NOT NULL)
	AND NOT EXISTS (SELECT 1 FROM webauthn_credentials w2f WHERE w2f.account_id = $1))`

// totpPeriod is the TOTP step in seconds (RFC 6238's default, what apps use).
const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// SecretBox seals small secrets (TOTP keys) at rest with AES-256-GCM under a
// key derived from the server secret, so a copy of the database alone cannot
// produce codes. Each sealed value is bound to its account id.
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox derives the two-factor key from the server secret.
func NewSecretBox(serverSecret string) *SecretBox {
	key := sha256.Sum256([]byte("guildhall-two-factor-key:" + serverSecret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &SecretBox{aead: aead}
}

func accountAD(accountID int64) []byte { return []byte("account:" + strconv.FormatInt(accountID, 10)) }

// Seal encrypts plain for the account: nonce followed by the ciphertext.
func (b *SecretBox) Seal(accountID int64, plain []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return b.aead.Seal(nonce, nonce, plain, accountAD(accountID))
}

// Open decrypts what Seal made for the same account.
func (b *SecretBox) Open(accountID int64, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed secret too short")
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], accountAD(accountID))
	if err != nil {
		return nil, errors.New("open sealed secret: wrong key or damaged value")
	}
	return plain, nil
}

// TOTPIssuer names Guildhall in authenticator apps.
const TOTPIssuer = "Guildhall"

func totpKey(email string, raw []byte) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: email, Secret: raw, Period: totpPeriod})
}

func accountTarget(id int64, email string) model.Target {
	return model.Target{Kind: "account", ID: strconv.FormatInt(id, 10), Label: email}
}

// TwoFactorStatus reports what the account has set up.
func (s *Store) TwoFactorStatus(ctx context.Context, accountID int64) (model.TwoFactorStatus, error) {
	var row struct {
		Confirmed *time.Time `db:"confirmed_at"`
		Enrolling bool       `db:"enrolling"`
		Recovery  int        `db:"recovery"`
		Passkeys  int        `db:"passkeys"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT
		(SELECT confirmed_at FROM two_factor_totp WHERE account_id = $1) AS confirmed_at,
		EXISTS (SELECT 1 FROM two_factor_totp WHERE account_id = $1 AND confirmed_at IS NULL) AS enrolling,
		(SELECT count(*) FROM two_factor_recovery_codes WHERE account_id = $1 AND used_at IS NULL) AS recovery,
		(SELECT count(*) FROM webauthn_credentials WHERE account_id = $1) AS passkeys`, accountID)
	if err != nil {
		return model.TwoFactorStatus{}, fmt.Errorf("two-factor status: %w", err)
	}
	return model.TwoFactorStatus{TOTP: row.Confirmed != nil, TOTPSince: row.Confirmed, Enrolling: row.Enrolling,
		RecoveryLeft: row.Recovery, Passkeys: row.Passkeys}, nil
}

// BeginTOTP makes a new authenticator secret for the signed-in account,
// replacing an unconfirmed one, and returns the key to show as a QR code.
func (s *Store) BeginTOTP(ctx context.Context, actor model.Actor, box *SecretBox) (*otp.Key, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("crypto/rand: %w", err)
	}
	key, err := totpKey(actor.Email, raw)
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	err = s.InTx(ctx, actor, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO two_factor_totp (account_id, secret_enc, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (account_id) DO UPDATE SET secret_enc = EXCLUDED.secret_enc, created_at = EXCLUDED.created_at, last_step = 0
			WHERE two_factor_totp.confirmed_at IS NULL`, actor.AccountID, box.Seal(actor.AccountID, raw), tx.Now())
		if err != nil {
			return fmt.Errorf("store totp secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.Conflict("Two-factor authentication is already on. Turn it off first to set up a new authenticator.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// PendingTOTP returns the key of an enrolment that waits for its first code,
// to draw the QR code again.
func (s *Store) PendingTOTP(ctx context.Context, actor model.Actor, box *SecretBox) (*otp.Key, error) {
	var sealed []byte
	err := s.db.GetContext(ctx, &sealed, `SELECT secret_enc FROM two_factor_totp WHERE account_id = $1 AND confirmed_at IS NULL`, actor.AccountID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.NotFound("two-factor setup")
	}
	if err != nil {
		return nil, fmt.Errorf("load totp secret: %w", err)
	}
	raw, err := box.Open(actor.AccountID, sealed)
	if err != nil {
		return nil, err
	}
	return totpKey(actor.Email, raw)
}

// errCodeWrong and errCodeReplayed answer a code that does not match, or that
// matched a step already used.
var (
	errCodeWrong    = model.InvalidField("code", "That code is not right. Check the time on your phone and enter the current code, or use a recovery code.")
	errCodeReplayed = model.InvalidField("code", "That code was already used. Wait for the next one.")
)

// matchTOTP finds the step of code around now (one step either side, for
// clock drift) and refuses steps at or before lastStep: a code works once.
func matchTOTP(secret []byte, code string, now time.Time, lastStep int64) (int64, error) {
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	for _, off := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(off*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(b32, t, totpOpts)
		if err != nil {
			return 0, fmt.Errorf("totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step := t.Unix() / totpPeriod
			if step <= lastStep {
				return 0, errCodeReplayed
			}
			return step, nil
		}
	}
	return 0, errCodeWrong
}

// ConfirmTOTP checks the first code from the authenticator, turns two-factor
// sign-in on and returns ten recovery codes, to be shown once.
func (s *Store) ConfirmTOTP(ctx context.Context, actor model.Actor, box *SecretBox, code string) ([]string, error) {
	code = model.NormalizeOTP(code)
	var codes []string
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var row struct {
			Sealed    []byte     `db:"secret_enc"`
			Confirmed *time.Time `db:"confirmed_at"`
			LastStep  int64      `db:"last_step"`
		}
		err := tx.GetContext(ctx, &row, `SELECT secret_enc, confirmed_at, last_step FROM two_factor_totp WHERE account_id = $1 FOR UPDATE`, actor.AccountID)
		if errors.Is(err, sql.ErrNoRows) {
			return model.Conflict("Start setting up two-factor authentication first.")
		}
		if err != nil {
			return fmt.Errorf("load totp: %w", err)
		}
		if row.Confirmed != nil {
			return model.Conflict("Two-factor authentication is already on.")
		}
		raw, err := box.Open(actor.AccountID, row.Sealed)
		if err != nil {
			return err
		}
		if !model.IsTOTPCode(code) {
			return model.InvalidField("code", "Enter the six-digit code your authenticator app shows.")
		}
		step, err := matchTOTP(raw, code, tx.Now(), row.LastStep)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE two_factor_totp SET confirmed_at = $1, last_step = $2 WHERE account_id = $3`, tx.Now(), step, actor.AccountID); err != nil {
			return fmt.Errorf("confirm totp: %w", err)
		}
		if codes, err = tx.newRecoveryCodes(actor.AccountID); err != nil {
			return err
		}
		personal, err := tx.personalOrgOf(actor.AccountID)
		if err != nil {
			return err
		}
		return tx.Record(personal, "two_factor.enabled", accountTarget(actor.AccountID, actor.Email))
	})
	return codes, err
}

// newRecoveryCodes replaces the account's recovery codes with fresh ones and
// returns them in clear (only their hashes are kept).
func (tx *Tx) newRecoveryCodes(accountID int64) ([]string, error) {
	if _, err := tx.ExecContext(tx.ctx, `DELETE FROM two_factor_recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return nil, fmt.Errorf("drop recovery codes: %w", err)
	}
	codes := make([]string, model.RecoveryCodeCount)
	enc := base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)
	for i := range codes {
		b := make([]byte, 7) // 56 bits, printed as 10 characters in two groups
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("crypto/rand: %w", err)
		}
		c := enc.EncodeToString(b)[:10]
		codes[i] = c[:5] + "-" + c[5:]
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO two_factor_recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)`,
			accountID, HashSecret(model.NormalizeOTP(codes[i])), tx.Now()); err != nil {
			return nil, fmt.Errorf("store recovery code: %w", err)
		}
	}
	return codes, nil
}

// RegenerateRecoveryCodes replaces the recovery codes after a current code.
func (s *Store) RegenerateRecoveryCodes(ctx context.Context, actor model.Actor, box *SecretBox, code string) ([]string, error) {
	var codes []string
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.checkSecondFactor(box, actor.AccountID, code, false); err != nil {
			return err
		}
		var err error
		if codes, err = tx.newRecoveryCodes(actor.AccountID); err != nil {
			return err
		}
		personal, err := tx.personalOrgOf(actor.AccountID)
		if err != nil {
			return err
		}
		return tx.Record(personal, "two_factor.recovery_codes_regenerated", accountTarget(actor.AccountID, actor.Email))
	})
	return codes, err
}

func (tx *Tx) personalOrgOf(accountID int64) (int64, error) {
	var id sql.NullInt64
	if err := tx.GetContext(tx.ctx, &id, `SELECT personal_org_id FROM accounts WHERE id = $1`, accountID); err != nil {
		return 0, notFound(err, "account")
	}
	return id.Int64, nil
}

// checkSecondFactor accepts a current TOTP code (each step once) or, when
// allowRecovery, an unused recovery code, which it uses up. It reports
// whether a recovery code was used.
func (tx *Tx) checkSecondFactor(box *SecretBox, accountID int64, code string, allowRecovery bool) (bool, error) {
	code = model.NormalizeOTP(code)
	if code == "" {
		return false, model.InvalidField("code", "Enter the code from your authenticator app.")
	}
	if model.IsTOTPCode(code) {
		var row struct {
			Sealed   []byte `db:"secret_enc"`
			LastStep int64  `db:"last_step"`
		}
		err := tx.GetContext(tx.ctx, &row, `SELECT secret_enc, last_step FROM two_factor_totp
			WHERE account_id = $1 AND confirmed_at IS NOT NULL FOR UPDATE`, accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, errCodeWrong
		}
		if err != nil {
			return false, fmt.Errorf("load totp: %w", err)
		}
		raw, err := box.Open(accountID, row.Sealed)
		if err != nil {
			return false, err
		}
		step, err := matchTOTP(raw, code, tx.Now(), row.LastStep)
		if err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(tx.ctx, `UPDATE two_factor_totp SET last_step = $1 WHERE account_id = $2`, step, accountID); err != nil {
			return false, fmt.Errorf("remember totp step: %w", err)
		}
		return false, nil
	}
	if !allowRecovery || !model.ValidText(code) || len(code) > 64 {
		return false, errCodeWrong
	}
	res, err := tx.ExecContext(tx.ctx, `UPDATE two_factor_recovery_codes SET used_at = $1
		WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL`, tx.Now(), accountID, HashSecret(code))
	if err != nil {
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, errCodeWrong
	}
	return true, nil
}

// VerifySecondFactor is the second step of signing in: accountID passed the
// password, and code is a current TOTP code or an unused recovery code. A
// failure is audited as two_factor.challenge_failed, a recovery code as
// two_factor.recovery_used; neither records the code itself.
func (s *Store) VerifySecondFactor(ctx context.Context, actor model.Actor, box *SecretBox, accountID int64, code string) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		acc, err := tx.accountByID(accountID)
		if err != nil {
			return err
		}
		tx.actor.AccountID, tx.actor.Email = acc.ID, acc.Email
		target := accountTarget(acc.ID, acc.Email)
		usedRecovery, err := tx.checkSecondFactor(box, acc.ID, code, true)
		if model.CodeOf(err) == model.CodeValidation {
			return tx.Deny(acc.PersonalOrgID, "two_factor.challenge_failed", target, err)
		}
		if err != nil {
			return err
		}
		if usedRecovery {
			return tx.Record(acc.PersonalOrgID, "two_factor.recovery_used", target)
		}
		return nil
	})
}

// DisableTwoFactor turns two-factor sign-in off (authenticator, recovery
// codes and passkeys) after the current password or a current code.
func (s *Store) DisableTwoFactor(ctx context.Context, actor model.Actor, box *SecretBox, password, code string) error {
	acc, err := s.AccountByID(ctx, actor.AccountID)
	if err != nil {
		return err
	}
	byPassword := password != "" && acc.PasswordHash != "" &&
		bcrypt.CompareHashAndPassword([]byte(acc.PasswordHash), []byte(password)) == nil
	return s.InTx(ctx, actor, func(tx *Tx) error {
		target := accountTarget(acc.ID, acc.Email)
		if !byPassword {
			if strings.TrimSpace(code) == "" {
				msg := "Enter your password or a current code to turn two-factor authentication off."
				if password != "" {
					msg = "That is not your password."
				}
				return tx.Deny(acc.PersonalOrgID, "two_factor.disabled", target, model.InvalidField("password", msg))
			}
			if _, err := tx.checkSecondFactor(box, acc.ID, code, false); err != nil {
				return tx.DenyIf(acc.PersonalOrgID, "two_factor.disabled", target, err)
			}
		}
		for _, q := range []string{
			`DELETE FROM two_factor_totp WHERE account_id = $1`,
			`DELETE FROM two_factor_recovery_codes WHERE account_id = $1`,
			`DELETE FROM webauthn_credentials WHERE account_id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, acc.ID); err != nil {
				return fmt.Errorf("disable two-factor: %w", err)
			}
		}
		return tx.Record(acc.PersonalOrgID, "two_factor.disabled", target)
	})
}

// checkRequireTwoFactor applies model.CanRequireTwoFactor for UpdateOrg.
func (tx *Tx) checkRequireTwoFactor(org model.Org, role model.Role, on bool) error {
	var has bool
	if err := tx.GetContext(tx.ctx, &has, `SELECT `+hasTwoFactorA+` FROM accounts a WHERE a.id = $1`, tx.actor.AccountID); err != nil {
		return fmt.Errorf("actor two-factor: %w", err)
	}
	err := model.CanRequireTwoFactor(org, role, on, has)
	if model.CodeOf(err) == model.CodeForbidden {
		return tx.Deny(org.ID, "org.updated", orgTarget(org), err)
	}
	return err
}

// Sessions lists the account's browser sessions, most recently seen first;
// currentSID marks the caller's own.
func (s *Store) Sessions(ctx context.Context, accountID int64, currentSID string) ([]model.Session, error) {
	var out []model.Session
	err := s.db.SelectContext(ctx, &out, `SELECT id, created_at, last_seen_at, ip, user_agent, id_hash = $2 AS current
		FROM sessions WHERE account_id = $1 ORDER BY id_hash = $2 DESC, last_seen_at DESC, id DESC`, accountID, HashSecret(currentSID))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// RevokeSession signs one of the actor's own sessions out. Another account's
// session is not found.
func (s *Store) RevokeSession(ctx context.Context, actor model.Actor, id int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		var ua string
		err := tx.GetContext(ctx, &ua, `DELETE FROM sessions WHERE id = $1 AND account_id = $2 RETURNING user_agent`, id, actor.AccountID)
		if err != nil {
			return notFound(err, "session")
		}
		personal, err := tx.personalOrgOf(actor.AccountID)
		if err != nil {
			return err
		}
		return tx.Record(personal, "session.revoked", model.Target{Kind: "session", ID: strconv.FormatInt(id, 10), Label: model.DeviceLabel(ua)})
	})
}

// RevokeOtherSessions signs out every session of the actor except keepSID,
// and reports how many ended.
func (s *Store) RevokeOtherSessions(ctx context.Context, actor model.Actor, keepSID string) (int, error) {
	var n int
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, `DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2 RETURNING id`,
			actor.AccountID, HashSecret(keepSID)); err != nil {
			return fmt.Errorf("end other sessions: %w", err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		personal, err := tx.personalOrgOf(actor.AccountID)
		if err != nil {
			return err
		}
		return tx.Record(personal, "session.revoked", model.Target{Kind: "session", ID: "others", Label: strconv.Itoa(n) + " other sessions"})
	})
	return n, err
}

// MembersWithoutTwoFactor counts the org's members who have no second factor
// (who would lose access if the org required it).
func (s *Store) MembersWithoutTwoFactor(ctx context.Context, orgID int64) (int, error) {
	var n int
	// The org's member counter less its members with a factor, joined from the
	// (few) factor rows: testing both factor tables for each of 10,000
	// members cost 20 ms on every settings page.
	err := s.db.GetContext(ctx, &n, `SELECT o.member_count - (SELECT count(*) FROM memberships m
			JOIN (SELECT account_id FROM two_factor_totp WHERE confirmed_at IS NOT NULL
				UNION SELECT account_id FROM webauthn_credentials) f ON f.account_id = m.account_id
			WHERE m.org_id = o.id)
		FROM orgs o WHERE o.id = $1`, orgID)
	if err != nil {
		return 0, fmt.Errorf("count members without two-factor: %w", err)
	}
	return n, nil
}
