package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

func newStore(t *testing.T) *db.Store {
	t.Helper()
	return db.New(dbtest.New(t), db.WithFastPasswordHashing())
}

func signup(t *testing.T, s *db.Store, email string) (model.Account, model.Actor) {
	t.Helper()
	acc, err := s.Signup(context.Background(), model.Actor{IP: "127.0.0.1"}, db.SignupInput{Email: email, Name: "User " + email, Password: "long-enough-password"})
	if err != nil {
		t.Fatalf("signup %s: %v", email, err)
	}
	return acc, model.Actor{AccountID: acc.ID, Email: acc.Email, IP: "127.0.0.1"}
}

func TestSignupMakesPersonalOrgAndWallet(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, _ := signup(t, s, "Ada@Example.COM")
	if acc.Email != "ada@example.com" {
		t.Fatalf("email not normalized: %q", acc.Email)
	}
	ws, err := s.Workspaces(ctx, acc.ID)
	if err != nil || len(ws) != 1 || ws[0].Kind != model.OrgPersonal || ws[0].Role != model.RoleOwner || ws[0].ID != acc.PersonalOrgID {
		t.Fatalf("workspaces %+v %v", ws, err)
	}
	var wallets int
	_ = s.DB().Get(&wallets, `SELECT count(*) FROM wallets WHERE org_id = $1 AND balance_cents = 0`, acc.PersonalOrgID)
	if wallets != 1 {
		t.Fatal("personal org has no empty wallet")
	}
	// Two people with the same name get distinct personal slugs.
	a2, err := s.Signup(ctx, model.Actor{}, db.SignupInput{Email: "other@example.com", Name: "User ada@example.com", Password: "long-enough-password"})
	if err != nil {
		t.Fatal(err)
	}
	o1, _ := s.OrgByID(ctx, acc.PersonalOrgID)
	o2, _ := s.OrgByID(ctx, a2.PersonalOrgID)
	if o1.Slug == o2.Slug {
		t.Fatalf("same personal slug %q twice", o1.Slug)
	}
}

func TestCreateOrgDerivedSlugsUnderConcurrency(t *testing.T) {
	s := newStore(t)
	_, actor := signup(t, s, "ada@example.com")
	const n = 8
	var wg sync.WaitGroup
	slugs := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := s.CreateOrg(context.Background(), actor, db.CreateOrgInput{DisplayName: "Acme"})
			if err != nil {
				errs <- err
				return
			}
			slugs <- ws.Slug
		}()
	}
	wg.Wait()
	close(slugs)
	close(errs)
	seen := map[string]bool{}
	for sl := range slugs {
		if seen[sl] {
			t.Fatalf("slug %q given twice", sl)
		}
		seen[sl] = true
	}
	// Racing creators may lose to the unique index: they get a clear
	// conflict on the slug, never a duplicate or a 500.
	for err := range errs {
		if model.CodeOf(err) != model.CodeConflict {
			t.Fatalf("racing create: %v", err)
		}
	}
	if !seen["acme"] {
		t.Fatalf("no creator got the plain slug: %v", seen)
	}
}

// The personal balance moves whole, once: two org creations racing to sweep
// it never credit it twice, and the ledger always matches the balances.
func TestTransferPersonalCreditsIsAllOrNothingUnderConcurrency(t *testing.T) {
	s := newStore(t)
	acc, actor := signup(t, s, "ada@example.com")
	if _, _, err := s.TopUp(context.Background(), actor, acc.PersonalOrgID, 10000, ""); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := s.CreateOrg(context.Background(), actor, db.CreateOrgInput{DisplayName: fmt.Sprint("Org ", i), TransferPersonalCredits: true}); err != nil {
				t.Errorf("create %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	var total, personal, funded int64
	_ = s.DB().Get(&total, `SELECT sum(balance_cents) FROM wallets`)
	_ = s.DB().Get(&personal, `SELECT balance_cents FROM wallets WHERE org_id = $1`, acc.PersonalOrgID)
	_ = s.DB().Get(&funded, `SELECT count(*) FROM wallets WHERE balance_cents > 0`)
	if total != 10000 || personal != 0 || funded != 1 {
		t.Fatalf("total %d, personal %d, funded wallets %d: want 10000 moved to exactly one org", total, personal, funded)
	}
	var mismatched int
	_ = s.DB().Get(&mismatched, `SELECT count(*) FROM wallets w WHERE w.balance_cents <> COALESCE((SELECT sum(amount_cents) FROM ledger_entries e WHERE e.org_id = w.org_id), 0)`)
	if mismatched != 0 {
		t.Fatalf("%d wallets whose balance differs from their ledger", mismatched)
	}
	if err := s.CheckLedger(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteOrgRules(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, owner := signup(t, s, "ada@example.com")
	bob, bobActor := signup(t, s, "bob@example.com")
	ws, err := s.CreateOrg(ctx, owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	s.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'admin')`, ws.ID, bob.ID)
	if err := s.DeleteOrg(ctx, bobActor, ws.ID, "acme"); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("admin deletes: %v", err)
	}
	if err := s.DeleteOrg(ctx, owner, acc.PersonalOrgID, "ada"); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("delete personal: %v", err)
	}
	if err := s.DeleteOrg(ctx, owner, ws.ID, "nope"); model.CodeOf(err) != model.CodeValidation {
		t.Fatalf("wrong confirmation: %v", err)
	}
	s.DB().MustExec(`INSERT INTO agents (org_id, created_by, name) VALUES ($1, $2, 'Scout')`, ws.ID, acc.ID)
	err = s.DeleteOrg(ctx, owner, ws.ID, "acme")
	e, ok := model.AsError(err)
	if !ok || e.Code != model.CodeConflict {
		t.Fatalf("delete with an agent: %v", err)
	}
	bs := e.Details.(map[string]any)["blockers"].([]db.Blocker)
	if len(bs) != 1 || bs[0].Kind != "agent" || bs[0].Label != "Scout" || bs[0].OfKind != 1 {
		t.Fatalf("blockers %+v", bs)
	}
	// Many agents: the first BlockerSample are named, the rest counted (an
	// org with 100,000 agents must not list them all).
	s.DB().MustExec(`INSERT INTO agents (org_id, created_by, name) SELECT $1, $2, 'Bot ' || g FROM generate_series(1, 14) g`, ws.ID, acc.ID)
	err = s.DeleteOrg(ctx, owner, ws.ID, "acme")
	e, _ = model.AsError(err)
	bs = e.Details.(map[string]any)["blockers"].([]db.Blocker)
	if len(bs) != db.BlockerSample || bs[0].OfKind != 15 || !strings.Contains(e.Message, "agent Scout") || !strings.Contains(e.Message, "5 more agents") {
		t.Fatalf("15 agents: %d blockers (of %d), message %q", len(bs), bs[0].OfKind, e.Message)
	}
	if page, err := s.DeleteBlockers(ctx, ws.ID); err != nil || len(page) != db.BlockerSample {
		t.Fatalf("settings page blockers: %d %v", len(page), err)
	}
	s.DB().MustExec(`DELETE FROM agents`)
	if err := s.DeleteOrg(ctx, owner, ws.ID, "acme"); err != nil {
		t.Fatal(err)
	}
	var members, events int
	_ = s.DB().Get(&members, `SELECT count(*) FROM memberships WHERE org_id = $1`, ws.ID)
	_ = s.DB().Get(&events, `SELECT count(*) FROM audit_events WHERE org_id = $1`, ws.ID)
	if members != 0 || events < 3 { // created, denied delete, deleted
		t.Fatalf("after delete: %d memberships, %d audit events", members, events)
	}
	var denied int
	_ = s.DB().Get(&denied, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'org.deleted' AND outcome = 'denied'`, ws.ID)
	if denied != 1 {
		t.Fatalf("denied delete events: %d", denied)
	}
}

func TestTokensHashedRevokedExpired(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, actor := signup(t, s, "ada@example.com")
	secret, tok, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "ci", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TokenAccount(ctx, secret); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	var stored string
	_ = s.DB().Get(&stored, `SELECT token_hash FROM api_tokens WHERE id = $1`, tok.ID)
	if stored == secret || stored != db.HashSecret(secret) {
		t.Fatal("the token must be stored as its SHA-256 only")
	}
	if _, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Scopes: []string{"root"}}); model.CodeOf(err) != model.CodeValidation {
		t.Fatalf("unknown scope: %v", err)
	}
	if err := s.RevokeToken(ctx, actor, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TokenAccount(ctx, secret); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
	_, other := signup(t, s, "eve@example.com")
	if err := s.RevokeToken(ctx, other, tok.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking another's token: %v", err)
	}
	secret2, tok2, _ := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "short"})
	s.DB().MustExec(`UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, tok2.ID)
	if _, _, err := s.TokenAccount(ctx, secret2); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
}

// MembersWithoutTwoFactor counts members with neither a confirmed TOTP nor a
// passkey, whichever way the count is computed: a member with both counts
// once, an unconfirmed TOTP is no factor, and a non-member's factor does not
// lower the org's count.
func TestMembersWithoutTwoFactor(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, owner := signup(t, s, "owner@example.com")
	ws, err := s.CreateOrg(ctx, owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, who := range []string{"totp", "passkey", "both", "none", "unconfirmed", "outsider"} {
		acc, _ := signup(t, s, who+"@example.com")
		ids[who] = acc.ID
		if who != "outsider" {
			s.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, ws.ID, acc.ID)
		}
	}
	totp := func(who string, confirmed bool) {
		s.DB().MustExec(`INSERT INTO two_factor_totp (account_id, secret_enc, confirmed_at) VALUES ($1, '\x00', CASE WHEN $2 THEN now() END)`, ids[who], confirmed)
	}
	passkey := func(who string) {
		s.DB().MustExec(`INSERT INTO webauthn_credentials (account_id, name, credential_id, data) VALUES ($1, 'key', $2, '{}')`, ids[who], []byte(who))
	}
	totp("totp", true)
	passkey("passkey")
	totp("both", true)
	passkey("both")
	totp("unconfirmed", false)
	totp("outsider", true)
	n, err := s.MembersWithoutTwoFactor(ctx, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	s.DB().Get(&want, `SELECT count(*) FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1
		AND NOT EXISTS (SELECT 1 FROM two_factor_totp x WHERE x.account_id = a.id AND x.confirmed_at IS NOT NULL)
		AND NOT EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.account_id = a.id)`, ws.ID)
	if n != 3 || want != 3 { // the owner, none, unconfirmed
		t.Fatalf("members without two-factor = %d (a direct count says %d), want 3", n, want)
	}
}

// RoleIn answers from roles the request has just read (db.WithKnownRoles),
// for that account only; another org or account still asks the database.
func TestRoleInUsesKnownRoles(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, owner := signup(t, s, "ada@example.com")
	bob, _ := signup(t, s, "bob@example.com")
	ws, err := s.CreateOrg(ctx, owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	s.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, ws.ID, bob.ID)
	// A deliberately different role in the context shows which answer is used.
	known := db.WithKnownRoles(ctx, bob.ID, []model.Workspace{{Org: model.Org{ID: ws.ID}, Role: model.RoleAdmin}})
	if r, err := s.RoleIn(known, ws.ID, bob.ID); err != nil || r != model.RoleAdmin {
		t.Fatalf("known role: %s %v", r, err)
	}
	if r, err := s.RoleIn(known, ws.ID, acc.ID); err != nil || r != model.RoleOwner {
		t.Fatalf("another account's role came from the context: %s %v", r, err)
	}
	if r, err := s.RoleIn(known, acc.PersonalOrgID, bob.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("an org outside the known list: %s %v", r, err)
	}
	if r, err := s.RoleIn(ctx, ws.ID, bob.ID); err != nil || r != model.RoleMember {
		t.Fatalf("without known roles: %s %v", r, err)
	}
}
