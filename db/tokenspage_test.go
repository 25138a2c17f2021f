package db_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestTokensPageMatchesItsParts: the tokens page's one statement,
// hand-scanned, answers field by field what Tokens and Policies (sqlx reads)
// answer apart: with no token and no policy, and with tokens of every kind
// (bound or not, a policy, expiring, used, revoked) and policies in
// Policies' order (default first, then by name); not found outside the org.
func TestTokensPageMatchesItsParts(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, actor := signup(t, s, "ada@example.com")
	ws, err := s.CreateOrg(ctx, actor, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	utc := func(t *time.Time) {
		if t != nil {
			*t = t.UTC()
		}
	}
	norm := func(ts []model.APIToken) {
		for i := range ts {
			utc(ts[i].ExpiresAt)
			utc(ts[i].LastUsedAt)
			utc(ts[i].RevokedAt)
			utc(&ts[i].CreatedAt)
		}
	}
	check := func(name string) ([]model.APIToken, []db.PolicyName) {
		t.Helper()
		ts, ps, err := s.TokensPage(ctx, actor, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantTs, err := s.Tokens(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantPs, err := s.Policies(ctx, actor, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		norm(ts)
		norm(wantTs)
		if len(ts) != len(wantTs) || (len(ts) > 0 && !reflect.DeepEqual(ts, wantTs)) {
			t.Errorf("%s: tokens\n%+v\nTokens\n%+v", name, ts, wantTs)
		}
		var names []db.PolicyName
		for _, p := range wantPs {
			names = append(names, db.PolicyName{ID: p.ID, Name: p.Name})
		}
		if !reflect.DeepEqual(ps, names) {
			t.Errorf("%s: policies %+v, Policies %+v", name, ps, names)
		}
		return ts, ps
	}
	check("none")

	s.DB().MustExec(`INSERT INTO spend_policies (org_id, name, active, is_default) VALUES
		($1, 'zeta', true, false), ($1, 'Alpha', false, false), ($1, 'Main', true, true), ($1, 'beta', true, false)`, ws.ID)
	var pid int64
	if err := s.DB().Get(&pid, `SELECT id FROM spend_policies WHERE org_id = $1 AND name = 'beta'`, ws.ID); err != nil {
		t.Fatal(err)
	}
	exp := s.Now().Add(48 * time.Hour)
	for _, in := range []db.CreateTokenInput{{Name: "plain"}, {Name: "bound", Scopes: []string{"read"}, OrgID: &ws.ID},
		{Name: "policy", OrgID: &ws.ID, PolicyID: &pid, ExpiresAt: &exp}, {Name: "revoked", Scopes: []string{"write"}}} {
		if _, _, err := s.CreateToken(ctx, actor, in); err != nil {
			t.Fatal(err)
		}
	}
	s.DB().MustExec(`UPDATE api_tokens SET revoked_at = now() WHERE name = 'revoked'`)
	s.DB().MustExec(`UPDATE api_tokens SET last_used_at = now() WHERE name = 'bound'`)
	ts, ps := check("set up")
	if len(ts) != 4 || ts[0].Name != "revoked" || len(ps) != 4 || ps[0].Name != "Main" {
		t.Errorf("set up: %+v %+v", ts, ps)
	}

	_, stranger := signup(t, s, "eve@example.com")
	if _, _, err := s.TokensPage(ctx, stranger, ws.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("not a member: %v, want not found", err)
	}
}
