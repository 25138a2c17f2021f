// Package demo loads a small demo data set through the store's own calls, so
// the demo follows every rule (and writes its audit trail).
package demo

import (
	"context"
	"fmt"

	"guildhall/db"
	"guildhall/db/model"
)

// Password of every demo account.
const Password = "guildhall-demo"

// SignInHint is printed after the demo data is loaded.
const SignInHint = "Demo data loaded. Sign in as ada@example.com with password " + Password +
	" (also grace@, linus@, margaret@example.com)."

// Load adds the demo data when the database has no accounts yet, and reports
// whether it did.
func Load(ctx context.Context, s *db.Store) (bool, error) {
	var n int
	if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM accounts`); err != nil {
		return false, fmt.Errorf("count accounts: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	people := []struct{ email, name string }{
		{"ada@example.com", "Ada Lovelace"},
		{"grace@example.com", "Grace Hopper"},
		{"linus@example.com", "Linus Torvalds"},
		{"margaret@example.com", "Margaret Hamilton"},
	}
	accs := map[string]model.Account{}
	for _, p := range people {
		a, err := s.Signup(ctx, model.Actor{IP: "127.0.0.1"}, db.SignupInput{Email: p.email, Name: p.name, Password: Password, VerifiedEmail: true})
		if err != nil {
			return false, fmt.Errorf("demo account %s: %w", p.email, err)
		}
		accs[p.email] = a
	}
	ada := actor(accs["ada@example.com"])
	acme, err := s.CreateOrg(ctx, ada, db.CreateOrgInput{DisplayName: "Acme Inc", Slug: "acme", Description: "Rockets, anvils and agents."})
	if err != nil {
		return false, err
	}
	if _, err := s.CreateOrg(ctx, ada, db.CreateOrgInput{DisplayName: "Analytical Engines"}); err != nil {
		return false, err
	}
	if err := extra(ctx, s, accs, acme.Org); err != nil {
		return false, err
	}
	return true, nil
}

func actor(a model.Account) model.Actor {
	return model.Actor{AccountID: a.ID, Email: a.Email, IP: "127.0.0.1"}
}
