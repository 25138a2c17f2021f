package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"guildhall/db/model"
)

func passkeyTarget(id int64, name string) model.Target {
	return model.Target{Kind: "passkey", ID: strconv.FormatInt(id, 10), Label: name}
}

// Passkeys lists the account's WebAuthn credentials, oldest first.
func (s *Store) Passkeys(ctx context.Context, accountID int64) ([]model.Passkey, error) {
	var out []model.Passkey
	err := s.db.SelectContext(ctx, &out, `SELECT id, name, credential_id, data, created_at, last_used_at
		FROM webauthn_credentials WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

// AddPasskey stores a verified WebAuthn registration; the first passkey (or
// an authenticator app) turns two-factor sign-in on.
func (s *Store) AddPasskey(ctx context.Context, actor model.Actor, name string, credentialID, data []byte) (model.Passkey, error) {
	name = strings.TrimSpace(name)
	if err := model.ValidatePasskeyName(name); err != nil {
		return model.Passkey{}, err
	}
	var pk model.Passkey
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		var had bool
		if err := tx.GetContext(ctx, &had, `SELECT `+hasTwoFactorA+` FROM accounts a WHERE a.id = $1`, actor.AccountID); err != nil {
			return fmt.Errorf("two-factor before passkey: %w", err)
		}
		err := tx.GetContext(ctx, &pk, `INSERT INTO webauthn_credentials (account_id, name, credential_id, data, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, name, credential_id, data, created_at, last_used_at`,
			actor.AccountID, name, credentialID, data, tx.Now())
		if isUniqueViolation(err, "webauthn_credentials_key") {
			return model.Conflict("This passkey is already registered.")
		}
		if err != nil {
			return fmt.Errorf("add passkey: %w", err)
		}
		personal, err := tx.personalOrgOf(actor.AccountID)
		if err != nil {
			return err
		}
		if !had {
			if err := tx.Record(personal, "two_factor.enabled", accountTarget(actor.AccountID, actor.Email)); err != nil {
				return err
			}
		}
		return tx.Record(personal, "two_factor.passkey_added", passkeyTarget(pk.ID, pk.Name))
	})
	return pk, err
}

// UsePasskey records a passed passkey assertion: its new credential record
// (the sign count, checked by the WebAuthn library against the stored one).
func (s *Store) UsePasskey(ctx context.Context, accountID int64, credentialID, data []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE webauthn_credentials SET data = $1, last_used_at = $2
		WHERE account_id = $3 AND credential_id = $4`, data, s.Now(), accountID, credentialID)
	if err != nil {
		return fmt.Errorf("use passkey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return model.NotFound("passkey")
	}
	return nil
}

// RemovePasskey deletes one of the actor's passkeys. The last second factor
// going turns two-factor sign-in off, which is audited too.
func (s *Store) RemovePasskey(ctx context.Context, actor model.Actor, id int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		var name string
		err := tx.GetContext(ctx, &name, `DELETE FROM webauthn_credentials WHERE id = $1 AND account_id = $2 RETURNING name`, id, actor.AccountID)
		if err != nil {
			return notFound(err, "passkey")
		}
		personal, err := tx.personalOrgOf(actor.AccountID)
		if err != nil {
			return err
		}
		if err := tx.Record(personal, "two_factor.passkey_removed", passkeyTarget(id, name)); err != nil {
			return err
		}
		var has bool
		if err := tx.GetContext(ctx, &has, `SELECT `+hasTwoFactorA+` FROM accounts a WHERE a.id = $1`, actor.AccountID); err != nil {
			return fmt.Errorf("two-factor after removal: %w", err)
		}
		if !has {
			if _, err := tx.ExecContext(ctx, `DELETE FROM two_factor_recovery_codes WHERE account_id = $1`, actor.AccountID); err != nil {
				return fmt.Errorf("drop recovery codes: %w", err)
			}
			return tx.Record(personal, "two_factor.disabled", accountTarget(actor.AccountID, actor.Email))
		}
		return nil
	})
}
