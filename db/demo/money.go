package demo

import (
	"context"
	"fmt"

	"guildhall/db"
	"guildhall/db/model"
)

func ptr[T any](v T) *T { return &v }

// money fills the money side of the demo org through the store: spend
// policies, packages at every visibility, purchases and an install, a pending
// approval and auto top-up.
func money(ctx context.Context, s *db.Store, accs map[string]model.Account, acme model.Org) error {
	ada := actor(accs["ada@example.com"])
	grace := actor(accs["grace@example.com"])
	linus := actor(accs["linus@example.com"])
	margaret := actor(accs["margaret@example.com"])
	if _, err := s.CreatePolicy(ctx, grace, acme.ID, db.PolicyInput{Name: ptr("Engineering team"),
		MaxPerPurchaseCents: ptr[int64](5000), DailyLimitCents: ptr[int64](20000), MonthlyLimitCents: ptr[int64](100000),
		RequireApprovalAboveCents: ptr[int64](2000), BlockedTypes: &[]string{"agent_template"}}); err != nil {
		return fmt.Errorf("demo policy: %w", err)
	}
	if _, err := s.CreatePolicy(ctx, grace, acme.ID, db.PolicyInput{Name: ptr("CI agents"),
		MaxPerPurchaseCents: ptr[int64](1000), DailyLimitCents: ptr[int64](3000), VendorAllowlist: &[]string{"acme"}}); err != nil {
		return fmt.Errorf("demo policy: %w", err)
	}
	pkgs := map[string]model.Package{}
	for _, p := range []struct {
		slug, name, typ, vis, desc string
		price                      int64
	}{
		{"pdf-reader", "PDF reader", "skill", "public", "Reads PDFs into clean text and tables.", 900},
		{"github-mcp", "GitHub MCP server", "mcp_server", "public", "Issues, pull requests and reviews over MCP.", 0},
		{"deploy-kit", "Deploy kit", "tool", "org_only", "Acme's internal deploy pipeline as a tool.", 3500},
		{"incident-runbooks", "Incident runbooks", "prompt", "private", "Draft runbooks, not ready to share.", 300},
		{"audit-agent", "Audit agent template", "agent_template", "public", "A starting point for compliance agents.", 1500},
	} {
		pk, err := s.PublishPackage(ctx, grace, acme.ID, model.PackageInput{Slug: ptr(p.slug), Name: ptr(p.name), Type: ptr(p.typ),
			Visibility: ptr(p.vis), Description: ptr(p.desc), PriceCents: ptr(p.price), Manifest: ptr("name: " + p.slug + "\nversion: 1.0.0\n")})
		if err != nil {
			return fmt.Errorf("demo package %s: %w", p.slug, err)
		}
		pkgs[p.slug] = pk
	}
	buy := func(a model.Actor, slug string) error {
		if _, _, err := s.Buy(ctx, a, db.BuyInput{OrgID: acme.ID, PackageRef: slug, Key: "demo-buy-" + slug}); err != nil {
			return fmt.Errorf("demo purchase %s: %w", slug, err)
		}
		return nil
	}
	for _, slug := range []string{"pdf-reader", "github-mcp", "deploy-kit"} { // deploy-kit waits for approval
		if err := buy(linus, slug); err != nil {
			return err
		}
	}
	if _, err := s.SetAutoTopUp(ctx, margaret, acme.ID, model.AutoTopUp{Enabled: true, ThresholdCents: 2000, TopUpAmountCents: 5000}); err != nil {
		return fmt.Errorf("demo auto top-up: %w", err)
	}
	// Ada funds her personal workspace a little, so a transfer is possible.
	if _, _, err := s.TopUp(ctx, ada, accs["ada@example.com"].PersonalOrgID, 1000, "demo-personal"); err != nil {
		return fmt.Errorf("demo personal top-up: %w", err)
	}
	return nil
}
