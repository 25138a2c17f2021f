package demo

import (
	"context"
	"fmt"

	"guildhall/db"
	"guildhall/db/model"
)

// extra fills the demo org: members at every role (through real invitations),
// two teams with grants, agents in the org and in a personal workspace, one
// pending invitation, and a little wallet history.
func extra(ctx context.Context, s *db.Store, accs map[string]model.Account, acme model.Org) error {
	ada := actor(accs["ada@example.com"])
	roles := map[string]string{"grace@example.com": "admin", "linus@example.com": "member", "margaret@example.com": "billing"}
	for _, email := range []string{"grace@example.com", "linus@example.com", "margaret@example.com"} {
		_, token, err := s.CreateInvitation(ctx, ada, acme.ID, email, roles[email])
		if err != nil {
			return fmt.Errorf("invite %s: %w", email, err)
		}
		if _, err := s.AcceptInvitation(ctx, actor(accs[email]), token); err != nil {
			return fmt.Errorf("accept %s: %w", email, err)
		}
	}
	if _, _, err := s.CreateInvitation(ctx, ada, acme.ID, "barbara@example.com", "member"); err != nil {
		return fmt.Errorf("pending invitation: %w", err)
	}
	platform, err := s.CreateTeam(ctx, ada, acme.ID, model.TeamInput{Name: "Platform", Description: "Runs the shared infrastructure agents."})
	if err != nil {
		return err
	}
	research, err := s.CreateTeam(ctx, ada, acme.ID, model.TeamInput{Name: "Research", Description: "Explores new agents."})
	if err != nil {
		return err
	}
	linus := accs["linus@example.com"]
	if _, err := s.SetTeamMember(ctx, ada, acme.ID, platform.ID, linus.ID, "maintainer"); err != nil {
		return err
	}
	if _, err := s.SetTeamMember(ctx, ada, acme.ID, research.ID, accs["grace@example.com"].ID, "member"); err != nil {
		return err
	}
	agents := []model.AgentInput{
		{Name: "Support triage", Description: "Sorts incoming tickets and drafts first answers."},
		{Name: "Release notes writer", Description: "Turns merged pull requests into release notes."},
		{Name: "Cost watcher", Description: "Flags unusual spend on the org wallet."},
	}
	var ids []int64
	for _, in := range agents {
		a, err := s.CreateAgent(ctx, ada, acme.ID, in)
		if err != nil {
			return err
		}
		ids = append(ids, a.ID)
	}
	if _, err := s.SetGrant(ctx, ada, acme.ID, platform.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: ids[0], Permission: "write"}); err != nil {
		return err
	}
	if _, err := s.SetGrant(ctx, ada, acme.ID, research.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: ids[1], Permission: "read"}); err != nil {
		return err
	}
	if _, err := s.CreateAgent(ctx, actor(linus), linus.PersonalOrgID, model.AgentInput{Name: "Kernel build bot", Description: "Linus's personal agent."}); err != nil {
		return err
	}
	// A little wallet history: two top-ups into the org wallet.
	for i, amt := range []int64{5000, 2500} {
		if _, _, err := s.TopUp(ctx, ada, acme.ID, amt, fmt.Sprintf("demo-top-up-%d", i)); err != nil {
			return fmt.Errorf("demo top-up: %w", err)
		}
	}
	return money(ctx, s, accs, acme)
}
