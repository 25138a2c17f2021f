package db_test

import (
	"reflect"
	"strconv"
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

// TestTokenAuthInReadsTheOrgAsWorkspaceDoes: the org an API call names,
// read in the token's statement, is field for field what Workspace reads,
// for an id, a slug in any case, the personal workspace, another account's
// org (not found, as one that does not exist), a number no org has, and a
// name PostgreSQL would refuse as text (not read at all, and the token
// still authenticates). The token and account are those TokenSession reads.
func TestTokenAuthInReadsTheOrgAsWorkspaceDoes(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	other, _ := e.user("Other Person")
	org := e.org(owner, "Acme")
	theirs := e.org(other, "Theirs")
	e.exec(`UPDATE orgs SET description = 'Tools', require_two_factor = true, member_base_permission = 'read' WHERE id = $1`, org)
	secret, _, err := e.s.CreateToken(e.ctx, owner, db.CreateTokenInput{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := e.s.AccountByID(e.ctx, owner.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.s.TokenSession(e.ctx, secret); err != nil { // marks it used
		t.Fatal(err)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, ref := range []string{id(org), "acme", "ACME", " acme", id(acc.PersonalOrgID), id(theirs), "theirs", "999999", "99999999999999999999", "ac\x00me", "\xff"} {
		a, err := e.s.TokenAuthIn(e.ctx, secret, ref)
		if err != nil {
			t.Fatalf("%q: %v", ref, err)
		}
		tok, tacc, sso, err := e.s.TokenSession(e.ctx, secret)
		if err != nil || !reflect.DeepEqual(a.Token, tok) || !reflect.DeepEqual(a.Account, tacc) || a.SSOAnywhere != sso {
			t.Fatalf("%q: token or account differ from TokenSession's: %+v", ref, a)
		}
		want, werr := e.s.Workspace(e.ctx, owner.AccountID, ref)
		if !model.ValidText(ref) {
			if a.OrgRef != "" || model.CodeOf(werr) != model.CodeNotFound {
				t.Fatalf("%q: read with the token (%q), or Workspace found it (%v)", ref, a.OrgRef, werr)
			}
			continue
		}
		if a.OrgRef != ref {
			t.Fatalf("%q: OrgRef %q", ref, a.OrgRef)
		}
		if (werr == nil) != a.OrgFound || (werr != nil && model.CodeOf(werr) != model.CodeNotFound) {
			t.Fatalf("%q: found %v, Workspace says %v", ref, a.OrgFound, werr)
		}
		if !reflect.DeepEqual(a.Org, want) {
			t.Fatalf("%q: org\n%+v\nwant %+v", ref, a.Org, want)
		}
	}
	if a, _ := e.s.TokenAuthIn(e.ctx, secret, "acme"); !a.OrgFound || a.Org.ID != org || a.Org.Role != model.RoleOwner || a.Org.Description != "Tools" || !a.Org.RequireTwoFactor {
		t.Fatalf("acme as read with the token: %+v", a.Org)
	}
	if _, err := e.s.TokenAuthIn(e.ctx, "gh_nope", "acme"); model.CodeOf(err) != model.CodeUnauthorized {
		t.Fatalf("unknown token naming an org: %v", err)
	}
}
