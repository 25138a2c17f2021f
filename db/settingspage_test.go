package db_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestSettingsFactsMatchesItsParts: the settings page's one statement,
// hand-scanned, answers field by field what LimitUsage,
// MembersWithoutTwoFactor and DeleteBlockers answer apart (sqlx reads), for
// an org that owns many agents, packages and a balance, has pending
// invitations, tokens, a month's requests and members with and without a
// second factor; and reads neither count nor blockers when not asked.
func TestSettingsFactsMatchesItsParts(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, owner := signup(t, s, "owner@example.com")
	ws, err := s.CreateOrg(ctx, owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, org model.Org) {
		t.Helper()
		got, err := s.SettingsFacts(ctx, acc.ID, org, true, true)
		if err != nil {
			t.Fatal(err)
		}
		use, err := s.LimitUsage(ctx, acc.ID, org)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.MembersWithoutTwoFactor(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := s.DeleteBlockers(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Use, use) {
			t.Errorf("%s: use %+v, LimitUsage %+v", name, got.Use, use)
		}
		if got.Unenrolled != n {
			t.Errorf("%s: unenrolled %d, MembersWithoutTwoFactor %d", name, got.Unenrolled, n)
		}
		if len(got.Blockers) != len(bs) || (len(bs) > 0 && !reflect.DeepEqual(got.Blockers, bs)) {
			t.Errorf("%s: blockers\n%+v\nDeleteBlockers\n%+v", name, got.Blockers, bs)
		}
		plain, err := s.SettingsFacts(ctx, acc.ID, org, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(plain.Use, use) || plain.Unenrolled != 0 || plain.Blockers != nil {
			t.Errorf("%s: not asked for the count or blockers: %+v", name, plain)
		}
	}
	check("empty org", ws.Org)
	check("personal workspace", model.Org{ID: acc.PersonalOrgID, Kind: model.OrgPersonal})

	for i, who := range []string{"totp", "passkey", "none"} {
		m, _ := signup(t, s, who+"@example.com")
		s.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, ws.ID, m.ID)
		switch i {
		case 0:
			s.DB().MustExec(`INSERT INTO two_factor_totp (account_id, secret_enc, confirmed_at) VALUES ($1, '\x00', now())`, m.ID)
		case 1:
			s.DB().MustExec(`INSERT INTO webauthn_credentials (account_id, name, credential_id, data) VALUES ($1, 'key', 'k', '{}')`, m.ID)
		}
	}
	s.DB().MustExec(`INSERT INTO agents (org_id, created_by, name) SELECT $1, $2, 'Bot ' || g FROM generate_series(1, 14) g`, ws.ID, acc.ID)
	s.DB().MustExec(`INSERT INTO packages (org_id, publisher_id, slug, name, type, price_cents, visibility)
		SELECT $1, $2, 'pkg-' || g, 'Package ' || g, 'skill', 1, 'public' FROM generate_series(1, 12) g`, ws.ID, acc.ID)
	s.DB().MustExec(`UPDATE wallets SET balance_cents = 6600 WHERE org_id = $1`, ws.ID)
	s.DB().MustExec(`INSERT INTO invitations (org_id, email, role, token_hash, expires_at) VALUES ($1, 'x@example.com', 'member', 'x1', $2)`,
		ws.ID, s.Now().Add(time.Hour))
	if _, _, err := s.CreateToken(ctx, owner, db.CreateTokenInput{Name: "ci", Scopes: []string{"read"}, OrgID: &ws.ID}); err != nil {
		t.Fatal(err)
	}
	s.DB().MustExec(`INSERT INTO usage_monthly (org_id, month, requests) VALUES ($1, $2, 4242)`, ws.ID, model.MonthStart(s.Now()).Format(time.DateOnly))
	org, err := s.OrgByID(ctx, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("busy org", org)
	got, _ := s.SettingsFacts(ctx, acc.ID, org, true, true)
	if got.Use.MonthlyRequests != 4242 || got.Use.APIKeys != 1 || got.Use.TeamMembers != 5 || got.Use.Agents != 14 ||
		got.Unenrolled != 2 || len(got.Blockers) != 2*db.BlockerSample+1 {
		t.Errorf("busy org read %+v", got)
	}
}
