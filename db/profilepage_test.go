package db_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"guildhall/db"
)

// TestSecurityMatchesItsParts: the profile page's one statement,
// hand-scanned, answers field by field what TwoFactorStatus, Sessions and
// Passkeys (sqlx reads) answer apart, less the passkeys' credential, which
// the page does not show: with nothing set up and no session, and with a
// confirmed authenticator, recovery codes, passkeys and several sessions
// (the current one first).
func TestSecurityMatchesItsParts(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, _ := signup(t, s, "ada@example.com")
	utc := func(t *time.Time) {
		if t != nil {
			*t = t.UTC()
		}
	}
	check := func(name, sid string) db.Security {
		t.Helper()
		got, err := s.Security(ctx, acc.ID, sid)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.TwoFactorStatus(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := s.Sessions(ctx, acc.ID, sid)
		if err != nil {
			t.Fatal(err)
		}
		pks, err := s.Passkeys(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Status, st) {
			t.Errorf("%s: status %+v, TwoFactorStatus %+v", name, got.Status, st)
		}
		if !reflect.DeepEqual(got.Sessions, sessions) {
			t.Errorf("%s: sessions\n%+v\nSessions\n%+v", name, got.Sessions, sessions)
		}
		for i := range pks {
			pks[i].CredentialID, pks[i].Data = nil, nil
			utc(&pks[i].CreatedAt)
			utc(pks[i].LastUsedAt)
		}
		for i := range got.Passkeys {
			utc(&got.Passkeys[i].CreatedAt)
			utc(got.Passkeys[i].LastUsedAt)
		}
		if !reflect.DeepEqual(got.Passkeys, pks) {
			t.Errorf("%s: passkeys\n%+v\nPasskeys\n%+v", name, got.Passkeys, pks)
		}
		return got
	}
	check("nothing, no session", "")

	sids := make([]string, 3)
	for i := range sids {
		sid, err := s.CreateSession(ctx, acc.ID, "10.0.0.1", "Mozilla/5.0 (Macintosh) Firefox/120.0")
		if err != nil {
			t.Fatal(err)
		}
		sids[i] = sid
	}
	s.DB().MustExec(`UPDATE sessions SET last_seen_at = now() - id * interval '1 minute' WHERE account_id = $1`, acc.ID)
	s.DB().MustExec(`INSERT INTO two_factor_totp (account_id, secret_enc, confirmed_at) VALUES ($1, '\x00', now())`, acc.ID)
	s.DB().MustExec(`INSERT INTO two_factor_recovery_codes (account_id, code_hash, used_at)
		SELECT $1, 'c' || g, CASE WHEN g < 3 THEN now() END FROM generate_series(1, 10) g`, acc.ID)
	s.DB().MustExec(`INSERT INTO webauthn_credentials (account_id, name, credential_id, data, last_used_at) VALUES
		($1, 'Laptop', 'k1', '{}', now()), ($1, 'Phone', 'k2', '{}', NULL)`, acc.ID)
	got := check("set up", sids[1])
	if len(got.Sessions) != 3 || !got.Sessions[0].Current || got.Status.RecoveryLeft != 8 || !got.Status.TOTP || len(got.Passkeys) != 2 {
		t.Errorf("set up: %+v", got)
	}
}
