package model

import "testing"

func TestActivitySentence(t *testing.T) {
	tests := []struct {
		action, actor, target string
		want                  string
		safe                  bool
	}{
		{"member.role_changed", "Ada Lovelace", "Linus Torvalds", "Ada Lovelace changed the role of Linus Torvalds", true},
		{"invitation.accepted", "Grace Hopper", "", "Grace Hopper joined the organization", true},
		{"team.created", "Ada Lovelace", "Platform", "Ada Lovelace created the team Platform", true},
		{"agent.deleted", "Linus Torvalds", "Bot", "Linus Torvalds deleted the agent Bot", true},
		{"org.ownership_transferred", "Ada Lovelace", "Grace Hopper", "Ada Lovelace made Grace Hopper an owner", true},
		// Other people's emails, secrets, money and exports stay in the audit log.
		{"invitation.created", "Ada Lovelace", "barbara@example.com", "Ada Lovelace invited barbara@example.com", false},
		{"token.created", "Ada Lovelace", "ci", "Ada Lovelace created the API token ci", false},
		{"audit.exported", "Ada Lovelace", "", "Ada Lovelace exported the audit log", false},
		{"grant.set", "Ada Lovelace", "agent Bot to team Platform: read", "Ada Lovelace granted agent Bot to team Platform: read", false},
		{"org.updated", "Ada Lovelace", "acme", "Ada Lovelace changed the organization's settings", false},
		{"account.created", "Nora", "nora@example.com", "Nora created the account", false},
		// The money, package, policy, SSO and two-factor areas read as sentences too.
		{"package.published", "Grace Hopper", "deploy-kit", "Grace Hopper published the package deploy-kit", true},
		{"wallet.auto_top_up_changed", "Margaret Hamilton", "on: $50.00 below $20.00", "Margaret Hamilton changed the auto top-up (on: $50.00 below $20.00)", false},
		{"approval.approved", "Ada Lovelace", "Deploy kit", "Ada Lovelace approved a purchase (Deploy kit)", false},
		{"sso.enforced", "Ada Lovelace", "", "Ada Lovelace made single sign-on required", false},
		{"two_factor.disabled", "Ada Lovelace", "", "Ada Lovelace turned off two-factor authentication", false},
		// Unknown actions are never member-safe.
		{"wallet.spent", "Ada Lovelace", "x", "Ada Lovelace: wallet.spent (x)", false},
		{"org.created", "", "", "Guildhall created the organization", true},
	}
	for _, tt := range tests {
		got, safe := ActivitySentence(tt.action, tt.actor, tt.target)
		if got != tt.want || safe != tt.safe {
			t.Errorf("ActivitySentence(%q, %q, %q) = %q, %v; want %q, %v", tt.action, tt.actor, tt.target, got, safe, tt.want, tt.safe)
		}
	}
}
