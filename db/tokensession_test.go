package db_test

import (
	"reflect"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestTokenSessionMatchesItsParts: the API's hand-scanned first statement
// reads the token as Tokens reads it and the account as AccountByID does,
// field by field, for a plain token and one bound to an org with scopes and
// an expiry, before and after an org of the account enforces SSO; a revoked
// or unknown token is refused.
func TestTokenSessionMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	org := e.org(owner, "Acme")
	exp := e.now.Add(48 * time.Hour)
	plain, _, err := e.s.CreateToken(e.ctx, owner, db.CreateTokenInput{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	bound, _, err := e.s.CreateToken(e.ctx, owner, db.CreateTokenInput{Name: "ci", Scopes: []string{"read"}, OrgID: &org, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	check := func(wantSSO bool) {
		t.Helper()
		for _, secret := range []string{plain, bound} {
			if _, _, _, err := e.s.TokenSession(e.ctx, secret); err != nil { // marks it used
				t.Fatal(err)
			}
			tok, acc, sso, err := e.s.TokenSession(e.ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			toks, err := e.s.Tokens(e.ctx, owner.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			var want model.APIToken
			for _, w := range toks {
				if w.ID == tok.ID {
					want = w
				}
			}
			if !reflect.DeepEqual(tok, want) || tok.LastUsedAt == nil {
				t.Errorf("token\n%+v\nwant %+v", tok, want)
			}
			wacc, err := e.s.AccountByID(e.ctx, owner.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(acc, wacc) {
				t.Errorf("account\n%+v\nwant %+v", acc, wacc)
			}
			if sso != wantSSO {
				t.Errorf("sso enforced somewhere %v, want %v", sso, wantSSO)
			}
		}
	}
	check(false)
	e.exec(`INSERT INTO sso_connections (org_id, protocol, config_hash, tested_config_hash, enabled, enforced) VALUES ($1, 'oidc', 'h', 'h', true, true)`, org)
	check(true)
	if _, _, _, err := e.s.TokenSession(e.ctx, "gh_nope"); model.CodeOf(err) != model.CodeUnauthorized {
		t.Errorf("unknown token: %v, want unauthorized", err)
	}
	e.exec(`UPDATE api_tokens SET revoked_at = now() WHERE account_id = $1`, owner.AccountID)
	if _, _, _, err := e.s.TokenSession(e.ctx, plain); model.CodeOf(err) != model.CodeUnauthorized {
		t.Errorf("revoked token: %v, want unauthorized", err)
	}
}
