package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

func TestTokenCreateValidation(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, actor := signup(t, s, "ada@example.com")
	past := s.Now().Add(-time.Hour)
	bad := []struct {
		name  string
		in    db.CreateTokenInput
		field string
	}{
		{"blank name", db.CreateTokenInput{Name: "  "}, "name"},
		{"long name", db.CreateTokenInput{Name: string(make([]rune, 101))}, "name"},
		{"NUL in name", db.CreateTokenInput{Name: "ci\x00bot"}, "name"},
		{"invalid UTF-8", db.CreateTokenInput{Name: "ci\xff"}, "name"},
		{"line break", db.CreateTokenInput{Name: "ci\nbot"}, "name"},
		{"unknown scope", db.CreateTokenInput{Name: "ci", Scopes: []string{"read", "root"}}, "scopes"},
		{"NUL scope", db.CreateTokenInput{Name: "ci", Scopes: []string{"re\x00ad"}}, "scopes"},
		{"past expiry", db.CreateTokenInput{Name: "ci", ExpiresAt: &past}, "expires_at"},
	}
	for _, tc := range bad {
		_, _, err := s.CreateToken(ctx, actor, tc.in)
		e, ok := model.AsError(err)
		if !ok || e.Code != model.CodeValidation || e.Fields[tc.field] == "" {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Scopes are deduplicated and ordered; none means read and write.
	_, tok, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: " deploy ", Scopes: []string{"write", "read", "write"}})
	if err != nil || tok.Name != "deploy" || fmt.Sprint(tok.Scopes) != "[read write]" || !strings.HasPrefix(tok.Prefix, "guildhall_") {
		t.Fatalf("token %+v %v", tok, err)
	}
	_, tok, err = s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "default"})
	if err != nil || fmt.Sprint(tok.Scopes) != "[read write]" {
		t.Fatalf("default scopes %+v %v", tok, err)
	}
	// Another person's org is refused.
	_, eve := signup(t, s, "eve@example.com")
	evil, err := s.CreateOrg(ctx, eve, db.CreateOrgInput{DisplayName: "Evil Corp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "x", OrgID: &evil.ID}); model.CodeOf(err) != model.CodeValidation {
		t.Fatalf("foreign org: %v", err)
	}
	var n int
	_ = s.DB().Get(&n, `SELECT count(*) FROM api_tokens WHERE org_id = $1`, evil.ID)
	if n != 0 {
		t.Fatal("a token was bound to a foreign org")
	}
}

func TestTokenRevokeIdempotentAndAudited(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, actor := signup(t, s, "ada@example.com")
	secret, tok, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.RevokeToken(ctx, actor, tok.ID); err != nil {
			t.Fatalf("revoke #%d: %v", i+1, err)
		}
	}
	if _, _, err := s.TokenAccount(ctx, secret); !errors.Is(err, model.ErrUnauthorized) {
		t.Fatalf("revoked token works: %v", err)
	}
	got, err := s.Token(ctx, acc.ID, tok.ID)
	if err != nil || got.RevokedAt == nil {
		t.Fatalf("token after revoke %+v %v", got, err)
	}
	_, eve := signup(t, s, "eve@example.com")
	if _, err := s.Token(ctx, eve.AccountID, tok.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("another's token: %v", err)
	}
	if err := s.RevokeToken(ctx, eve, tok.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking another's token: %v", err)
	}
	var created, revoked int
	_ = s.DB().Get(&created, `SELECT count(*) FROM audit_events WHERE action = 'token.created' AND org_id = $1 AND target_id = $2`, acc.PersonalOrgID, fmt.Sprint(tok.ID))
	_ = s.DB().Get(&revoked, `SELECT count(*) FROM audit_events WHERE action = 'token.revoked' AND org_id = $1 AND target_id = $2`, acc.PersonalOrgID, fmt.Sprint(tok.ID))
	if created != 1 || revoked != 1 {
		t.Fatalf("audit: %d created, %d revoked events; want 1 and 1", created, revoked)
	}
}

func TestTokenPlanLimit(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	acc, actor := signup(t, s, "ada@example.com")
	org, err := s.CreateOrg(ctx, actor, db.CreateOrgInput{DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	s.DB().MustExec(`UPDATE orgs SET limit_api_keys = 2 WHERE id IN ($1, $2)`, org.ID, acc.PersonalOrgID)
	// Unbound and personal-bound tokens share the personal org's limit.
	pid := acc.PersonalOrgID
	if _, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	_, second, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "b", OrgID: &pid})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "c"})
	e, ok := model.AsError(err)
	if !ok {
		t.Fatalf("over the personal limit: %v", err)
	}
	d, _ := e.Details.(map[string]any)
	if e.Code != model.CodePlanLimit || d["limit"] != model.LimitAPIKeys || d["max"] != 2 || d["used"] != 3 {
		t.Fatalf("over the personal limit: %v", err)
	}
	// The team org has its own count.
	for _, name := range []string{"t1", "t2"} {
		if _, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: name, OrgID: &org.ID}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "t3", OrgID: &org.ID}); model.CodeOf(err) != model.CodePlanLimit {
		t.Fatalf("over the org limit: %v", err)
	}
	// Revoked and expired tokens free their slot.
	if err := s.RevokeToken(ctx, actor, second.ID); err != nil {
		t.Fatal(err)
	}
	_, third, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "c"})
	if err != nil {
		t.Fatalf("after revoking: %v", err)
	}
	s.DB().MustExec(`UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, third.ID)
	if _, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: "d"}); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	// Another member's tokens do not count against this account.
	_, bob := signup(t, s, "bob@example.com")
	s.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, org.ID, bob.AccountID)
	if _, _, err := s.CreateToken(ctx, bob, db.CreateTokenInput{Name: "bob", OrgID: &org.ID}); err != nil {
		t.Fatalf("another member: %v", err)
	}
}

func TestTokenPlanLimitUnderConcurrency(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, actor := signup(t, s, "ada@example.com")
	org, err := s.CreateOrg(ctx, actor, db.CreateOrgInput{DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	const limit, tries = 3, 12
	s.DB().MustExec(`UPDATE orgs SET limit_api_keys = $1 WHERE id = $2`, limit, org.ID)
	var wg sync.WaitGroup
	errs := make(chan error, tries)
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := s.CreateToken(ctx, actor, db.CreateTokenInput{Name: fmt.Sprintf("ci-%d", i), OrgID: &org.ID})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	ok, limited := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case model.CodeOf(err) == model.CodePlanLimit:
			limited++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	var n int
	_ = s.DB().Get(&n, `SELECT count(*) FROM api_tokens WHERE org_id = $1`, org.ID)
	if ok != limit || limited != tries-limit || n != limit {
		t.Fatalf("%d created, %d refused, %d stored; want %d, %d, %d", ok, limited, n, limit, tries-limit, limit)
	}
}
