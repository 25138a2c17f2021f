package db_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guildhall/db/model"
)

// TestSSOConcurrentInvariants: under many goroutines, a domain is verified
// for one org only, a setup link opens once, an assertion id is accepted
// once, a flow finishes once, and JIT provisions one account.
func TestSSOConcurrentInvariants(t *testing.T) {
	e := newTG(t)
	const n = 12
	var orgs []int64
	var owners []model.Actor
	var domainIDs []int64
	for i := 0; i < n; i++ {
		o, _ := e.user("Owner " + string(rune('A'+i)))
		org := e.org(o, "Org "+string(rune('A'+i)))
		d, err := e.s.AddDomain(e.ctx, o, org, "shared.test")
		if err != nil {
			t.Fatal(err)
		}
		orgs, owners, domainIDs = append(orgs, org), append(owners, o), append(domainIDs, d.ID)
	}
	// Every org published its own token (the DNS answers all of them).
	var tokens []string
	if err := e.s.DB().Select(&tokens, `SELECT 'guildhall-verification=' || txt_token FROM sso_domains`); err != nil {
		t.Fatal(err)
	}
	lookup := func(context.Context, string) ([]string, error) { return tokens, nil }
	var ok, conflict atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := e.s.VerifyDomain(e.ctx, owners[i], orgs[i], domainIDs[i], lookup)
			switch model.CodeOf(err) {
			case "":
				ok.Add(1)
			case model.CodeConflict:
				conflict.Add(1)
			default:
				t.Errorf("verify: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != n-1 || e.count(`SELECT count(*) FROM sso_domains WHERE verified_at IS NOT NULL`) != 1 {
		t.Fatalf("verified %d, refused %d: want exactly one org to hold the domain", ok.Load(), conflict.Load())
	}

	// A setup link opens once.
	secret, _, err := e.s.CreateSetupLink(e.ctx, owners[0], orgs[0])
	if err != nil {
		t.Fatal(err)
	}
	ok.Store(0)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := e.s.OpenSetupLink(e.ctx, secret, "127.0.0.1"); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("setup link opened %d times", ok.Load())
	}

	// An assertion id is accepted once.
	ok.Store(0)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.s.RememberAssertion(e.ctx, orgs[0], "_assertion-1", e.s.Now().Add(time.Hour)) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("assertion accepted %d times", ok.Load())
	}

	// A flow finishes once.
	if err := e.s.StartSSOFlow(e.ctx, "state-1", model.SSOFlow{OrgID: orgs[0], Purpose: model.FlowSignIn, ConfigHash: "x"}); err != nil {
		t.Fatal(err)
	}
	ok.Store(0)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.s.TakeSSOFlow(e.ctx, "state-1"); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("flow taken %d times", ok.Load())
	}

	// JIT: many simultaneous first sign-ins of one person make one account.
	winner := 0
	for i, org := range orgs {
		if e.count(`SELECT count(*) FROM sso_domains WHERE org_id = $1 AND verified_at IS NOT NULL`, org) == 1 {
			winner = i
		}
	}
	e.exec(`INSERT INTO sso_connections (org_id, protocol, issuer, client_id, config_hash) VALUES ($1, 'oidc', 'https://idp.test', 'c', 'h')`, orgs[winner])
	id := model.SSOIdentity{Email: "new@shared.test", EmailVerified: true, Name: "New"}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.s.SSOSignIn(e.ctx, model.Actor{IP: "127.0.0.1"}, orgs[winner], id)
		}()
	}
	wg.Wait()
	if e.count(`SELECT count(*) FROM accounts WHERE email = 'new@shared.test'`) != 1 ||
		e.count(`SELECT count(*) FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE a.email = 'new@shared.test' AND m.org_id = $1 AND m.role = 'member'`, orgs[winner]) != 1 {
		t.Fatal("concurrent first sign-ins must make one account and one membership")
	}
}
