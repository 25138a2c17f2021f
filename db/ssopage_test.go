package db_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestSSOPageMatchesSSOSettings: the SSO page's one statement (connection
// columns hand-scanned, lists as JSON) answers field by field what
// SSOSettings' five sqlx reads answer, with no connection and with one,
// domains in order, setup links and bypasses newest first and at most 20,
// null fields null; and the same not found for a personal workspace or a
// member.
func TestSSOPageMatchesSSOSettings(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, owner := signup(t, s, "owner@example.com")
	ws, err := s.CreateOrg(ctx, owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	utc := func(t *time.Time) {
		if t != nil {
			*t = t.UTC()
		}
	}
	norm := func(st *db.SSOSettings) {
		if c := st.Connection; c != nil {
			utc(c.TestedAt)
			utc(&c.CreatedAt)
			utc(&c.UpdatedAt)
		}
		for i := range st.Domains {
			utc(st.Domains[i].VerifiedAt)
			utc(&st.Domains[i].CreatedAt)
		}
		for i := range st.SetupLinks {
			l := &st.SetupLinks[i]
			utc(&l.ExpiresAt)
			utc(l.UsedAt)
			utc(l.RevokedAt)
			utc(&l.CreatedAt)
		}
		for i := range st.Bypasses {
			utc(&st.Bypasses[i].CreatedAt)
		}
	}
	check := func(name string) db.SSOSettings {
		t.Helper()
		got, err := s.SSOPage(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.SSOSettings(ctx, owner, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The API's status read answers the same connection.
		status, err := s.SSOStatus(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		norm(&got)
		norm(&want)
		norm(&db.SSOSettings{Connection: status})
		if !reflect.DeepEqual(status, want.Connection) {
			t.Errorf("%s: SSOStatus\n%+v\nwant\n%+v", name, status, want.Connection)
		}
		if got.Role != want.Role || got.Org.ID != want.Org.ID || got.Org.Kind != want.Org.Kind {
			t.Errorf("%s: org/role %+v %s, want %+v %s", name, got.Org, got.Role, want.Org, want.Role)
		}
		if !reflect.DeepEqual(got.Connection, want.Connection) {
			t.Errorf("%s: connection\n%+v\nwant\n%+v", name, got.Connection, want.Connection)
		}
		if !reflect.DeepEqual(got.Domains, want.Domains) || !reflect.DeepEqual(got.SetupLinks, want.SetupLinks) ||
			!reflect.DeepEqual(got.Bypasses, want.Bypasses) {
			t.Errorf("%s: lists\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", name, got.Domains, got.SetupLinks, got.Bypasses,
				want.Domains, want.SetupLinks, want.Bypasses)
		}
		return got
	}
	check("nothing set up")

	s.DB().MustExec(`INSERT INTO sso_connections (org_id, protocol, issuer, client_id, client_secret_enc, metadata_xml, metadata_url,
		config_hash, tested_config_hash, tested_at, enabled, enforced, idp_initiated)
		VALUES ($1, 'oidc', 'https://idp.example.com', 'client', '\x0102', '<x/>', 'https://idp.example.com/md', 'h', 'h', now(), true, false, true)`, ws.ID)
	s.DB().MustExec(`INSERT INTO sso_domains (org_id, domain, txt_token, verified_at, auto_join) VALUES
		($1, 'zeta.example.com', 't1', now(), true), ($1, 'alpha.example.com', 't2', NULL, false)`, ws.ID)
	s.DB().MustExec(`INSERT INTO sso_setup_links (org_id, token_hash, created_by, created_by_email, expires_at, used_at, revoked_at)
		SELECT $1, 'h' || g, CASE WHEN g % 2 = 0 THEN $2::bigint END, 'owner@example.com', now() + g * interval '1 hour',
			CASE WHEN g % 3 = 0 THEN now() END, CASE WHEN g % 5 = 0 THEN now() END FROM generate_series(1, 23) g`, ws.ID, acc.ID)
	s.DB().MustExec(`INSERT INTO audit_events (org_id, actor_id, actor_email, token_id, action, target_kind, target_id, target_label, outcome, ip)
		SELECT $1, CASE WHEN g % 2 = 0 THEN $2::bigint END, 'owner@example.com', CASE WHEN g % 4 = 0 THEN g END, 'sso.bypassed',
			'org', $3, 'Acme', 'success', '10.0.0.' || g FROM generate_series(1, 25) g`, ws.ID, acc.ID, strconv.FormatInt(ws.ID, 10))
	got := check("set up")
	if got.Connection == nil || len(got.Domains) != 2 || len(got.SetupLinks) != 20 || len(got.Bypasses) != 20 {
		t.Errorf("set up: %+v %d domains %d links %d bypasses", got.Connection, len(got.Domains), len(got.SetupLinks), len(got.Bypasses))
	}

	personal := model.Workspace{Org: model.Org{ID: acc.PersonalOrgID, Kind: model.OrgPersonal}, Role: model.RoleOwner}
	if _, err := s.SSOPage(ctx, personal); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("personal workspace: %v, want not found", err)
	}
	if _, err := s.SSOStatus(ctx, personal); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SSOStatus, personal workspace: %v, want not found", err)
	}
	for _, role := range []model.Role{model.RoleMember, model.RoleBilling} {
		other := ws
		other.Role = role
		if _, err := s.SSOPage(ctx, other); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("%s: %v, want not found", role, err)
		}
		if _, err := s.SSOStatus(ctx, other); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("SSOStatus, %s: %v, want not found", role, err)
		}
	}
	admin := ws
	admin.Role = model.RoleAdmin
	if c, err := s.SSOStatus(ctx, admin); err != nil || c == nil {
		t.Errorf("SSOStatus, admin: %+v %v, want the connection", c, err)
	}
}
