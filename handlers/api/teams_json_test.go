package api

import (
	"encoding/json"
	"testing"

	"guildhall/db"
	"guildhall/db/dbtest"
)

// TestTeamGrantsJSON: the grants GET /api/orgs/{org}/teams/{id} reads
// without reflection (times as epoch seconds) encode exactly as the grants
// the store reads for the team page do (order, names, RFC 3339 UTC times),
// page by page too.
func TestTeamGrantsJSON(t *testing.T) {
	s := db.New(dbtest.New(t))
	ctx := t.Context()
	sq := s.DB()
	var owner, org, team int64
	mustGet := func(dst any, q string, args ...any) {
		t.Helper()
		if err := sq.GetContext(ctx, dst, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustGet(&owner, `INSERT INTO accounts (email, name, email_verified_at) VALUES ('o@example.com', 'O', now()) RETURNING id`)
	mustGet(&org, `INSERT INTO orgs (slug, display_name, kind) VALUES ('json', 'JSON', 'team') RETURNING id`)
	if _, err := sq.ExecContext(ctx, `INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'owner')`, org, owner); err != nil {
		t.Fatal(err)
	}
	mustGet(&team, `INSERT INTO teams (org_id, name) VALUES ($1, 'Quote "team" ünïcode') RETURNING id`, org)
	// Names that need escaping, sorting in any case, times with fractions
	// and zones.
	if _, err := sq.ExecContext(ctx, `
		WITH a AS (INSERT INTO agents (org_id, created_by, name) SELECT $1, $2, n
			FROM unnest(ARRAY['zeta', 'Alpha <b>&', 'beta "q"', 'Gamma\\n', 'émile']) n RETURNING id)
		INSERT INTO grants (org_id, team_id, resource_kind, resource_id, permission, created_at, updated_at)
		SELECT $1, $3, 'agent', id, 'read', '2026-03-04 05:06:07.891234+02', now() FROM a`, org, owner, team); err != nil {
		t.Fatal(err)
	}
	for _, pg := range []struct{ page, per int }{{0, 0}, {1, 2}, {3, 2}, {9, 2}} {
		d, err := s.TeamPage(ctx, owner, org, team, pg.page, pg.per)
		if err != nil {
			t.Fatal(err)
		}
		want := []GrantView{}
		for _, g := range d.Grants {
			want = append(want, grantView(g))
		}
		if wantN := map[int]int{0: 5, 1: 2, 3: 1, 9: 0}[pg.page]; len(want) != wantN {
			t.Fatalf("page %v has %d grants, want %d", pg, len(want), wantN)
		}
		wantJSON, _ := json.Marshal(want)
		da, err := s.TeamAPI(ctx, owner, org, team, pg.page, pg.per)
		if err != nil {
			t.Fatal(err)
		}
		got := []GrantView{}
		for _, g := range da.Grants {
			got = append(got, grantView(g))
		}
		gotJSON, _ := json.Marshal(got)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("page %v:\n got %s\nwant %s", pg, gotJSON, wantJSON)
		}
	}
}
