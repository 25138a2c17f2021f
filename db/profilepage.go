package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"guildhall/db/model"
)

// Security is what the profile page shows of an account's sign-in security:
// TwoFactorStatus, Sessions, and Passkeys without their credential (the
// page shows name and dates only).
type Security struct {
	Status   model.TwoFactorStatus
	Sessions []model.Session
	Passkeys []model.Passkey
}

// securityQuery is TwoFactorStatus' row with the passkeys as a JSON array,
// joined to the account's sessions in Sessions' order (at least one: the
// current one; none reads one row of nulls).
const securityQuery = `SELECT st.confirmed_at, st.enrolling, st.recovery, st.passkeys, st.passkey_list,
	s.id, s.created_at, s.last_seen_at, s.ip, s.user_agent, s.current
FROM (SELECT
	(SELECT confirmed_at FROM two_factor_totp WHERE account_id = $1) AS confirmed_at,
	EXISTS (SELECT 1 FROM two_factor_totp WHERE account_id = $1 AND confirmed_at IS NULL) AS enrolling,
	(SELECT count(*) FROM two_factor_recovery_codes WHERE account_id = $1 AND used_at IS NULL) AS recovery,
	(SELECT count(*) FROM webauthn_credentials WHERE account_id = $1) AS passkeys,
	(SELECT json_agg(p ORDER BY p.id) FROM (SELECT id, name, created_at, last_used_at
		FROM webauthn_credentials WHERE account_id = $1) p) AS passkey_list) st
LEFT JOIN LATERAL (SELECT id, created_at, last_seen_at, ip, user_agent, id_hash = $2 AS current
	FROM sessions WHERE account_id = $1) s ON true
ORDER BY s.current DESC, s.last_seen_at DESC, s.id DESC`

type passkeyJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Security reads the profile page's security facts of accountID in one
// statement (three apart), hand-scanned; currentSID marks the current
// session, listed first.
func (s *Store) Security(ctx context.Context, accountID int64, currentSID string) (Security, error) {
	rows, err := s.db.QueryContext(ctx, securityQuery, accountID, HashSecret(currentSID))
	if err != nil {
		return Security{}, fmt.Errorf("security: %w", err)
	}
	defer rows.Close()
	var (
		out      Security
		pkJSON   []byte
		first    = true
		recovery int64
		pks      int64
	)
	for rows.Next() {
		var (
			id            sql.NullInt64
			created, seen sql.NullTime
			ip, ua        sql.NullString
			current       sql.NullBool
			confirmed     *time.Time
			enrolling     bool
			rowPK         []byte
		)
		if err := rows.Scan(&confirmed, &enrolling, &recovery, &pks, &rowPK, &id, &created, &seen, &ip, &ua, &current); err != nil {
			return Security{}, fmt.Errorf("security: %w", err)
		}
		if first {
			out.Status = model.TwoFactorStatus{TOTP: confirmed != nil, TOTPSince: confirmed, Enrolling: enrolling,
				RecoveryLeft: int(recovery), Passkeys: int(pks)}
			pkJSON, first = rowPK, false
		}
		if id.Valid {
			out.Sessions = append(out.Sessions, model.Session{ID: id.Int64, CreatedAt: created.Time, LastSeenAt: seen.Time,
				IP: ip.String, UserAgent: ua.String, Current: current.Bool})
		}
	}
	if err := rows.Err(); err != nil {
		return Security{}, fmt.Errorf("security: %w", err)
	}
	if pkJSON != nil {
		var ps []passkeyJSON
		if err := json.Unmarshal(pkJSON, &ps); err != nil {
			return Security{}, fmt.Errorf("security: passkeys: %w", err)
		}
		for _, p := range ps {
			out.Passkeys = append(out.Passkeys, model.Passkey{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt})
		}
	}
	return out, nil
}
