package model

// ActivitySentence words an event of the overview's feed for people, and
// says whether viewers without the audit log (members, billing) may see it.
// Member-safe events are the ones the org's own pages already show every
// member: who joined or left, role changes, teams and agents. Invitations
// (other people's emails), tokens, grants, exports, settings and money stay
// in the audit log. An action not listed here is not member-safe.
func ActivitySentence(action, actor, target string) (sentence string, memberSafe bool) {
	if actor == "" {
		actor = "Guildhall"
	}
	t := target
	if t == "" {
		t = "someone"
	}
	switch action {
	case "org.created":
		return actor + " created the organization", true
	case "invitation.accepted":
		return actor + " joined the organization", true
	case "member.left":
		return actor + " left the organization", true
	case "member.removed":
		return actor + " removed " + t + " from the organization", true
	case "member.role_changed":
		return actor + " changed the role of " + t, true
	case "org.ownership_transferred":
		return actor + " made " + t + " an owner", true
	case "team.created":
		return actor + " created the team " + t, true
	case "team.updated":
		return actor + " updated the team " + t, true
	case "team.deleted":
		return actor + " deleted the team " + t, true
	case "team.member_added":
		return actor + " added a team member (" + t + ")", true
	case "team.member_removed":
		return actor + " removed a team member (" + t + ")", true
	case "team.member_role_changed":
		return actor + " changed a team role (" + t + ")", true
	case "agent.created":
		return actor + " created the agent " + t, true
	case "agent.updated":
		return actor + " updated the agent " + t, true
	case "agent.deleted":
		return actor + " deleted the agent " + t, true
	case "agent.moved_to_org", "agent.transferred":
		return actor + " brought the agent " + t + " into the organization", true
	case "org.updated":
		return actor + " changed the organization's settings", false
	case "invitation.created":
		return actor + " invited " + t, false
	case "invitation.resent":
		return actor + " resent the invitation to " + t, false
	case "invitation.cancelled":
		return actor + " cancelled the invitation to " + t, false
	case "invitation.declined":
		return actor + " declined an invitation", false
	case "grant.set":
		return actor + " granted " + t, false
	case "grant.removed":
		return actor + " removed a grant (" + t + ")", false
	case "token.created":
		return actor + " created the API token " + t, false
	case "token.revoked":
		return actor + " revoked the API token " + t, false
	case "audit.exported":
		return actor + " exported the audit log", false
	case "agent.transfer_requested":
		return actor + " offered the agent " + t + " to another workspace", false
	case "agent.transfer_cancelled", "agent.transfer_declined":
		return "The transfer of the agent " + t + " was called off", false
	case "account.created":
		return actor + " created the account", false
	case "account.updated":
		return actor + " updated the profile", false
	case "account.email_verified":
		return actor + " verified " + t, false
	case "account.password_changed":
		return actor + " changed the password", false
	case "account.email_change_requested":
		return actor + " asked to change the email (" + t + ")", false
	case "account.email_changed":
		return actor + " changed the email (" + t + ")", false
	case "wallet.credits_transferred":
		return actor + " moved credits", false
	case "account.sign_in":
		return actor + " signed in", false
	case "account.tokens_revoked":
		return actor + " revoked their API tokens", false
	case "org.access":
		return actor + " opened the organization", false
	case "org.deleted":
		return actor + " deleted the organization", false
	case "org.plan_changed":
		return actor + " changed the plan (" + t + ")", false
	// Packages are on the catalogue every member sees.
	case "package.published":
		return actor + " published the package " + t, true
	case "package.updated":
		return actor + " updated the package " + t, true
	case "package.visibility_changed":
		return actor + " changed who can see the package " + t, false
	// Money: owners, admins and billing see it on /wallet and /approvals.
	case "wallet.top_up":
		return actor + " added funds to the wallet (" + t + ")", false
	case "wallet.auto_top_up":
		return "Auto top-up added funds to the wallet (" + t + ")", false
	case "wallet.auto_top_up_changed":
		return actor + " changed the auto top-up (" + t + ")", false
	case "purchase.completed":
		return actor + " bought " + t, false
	case "purchase.denied":
		return actor + " was refused a purchase (" + t + ")", false
	case "approval.requested":
		return actor + " asked for approval to buy " + t, false
	case "approval.approved":
		return actor + " approved a purchase (" + t + ")", false
	case "approval.rejected":
		return actor + " rejected a purchase (" + t + ")", false
	case "approval.expired":
		return "A purchase request expired (" + t + ")", false
	case "policy.created":
		return actor + " created the spend policy " + t, false
	case "policy.updated":
		return actor + " updated the spend policy " + t, false
	case "policy.deleted":
		return actor + " deleted the spend policy " + t, false
	case "session.revoked":
		return actor + " signed out a session", false
	case "two_factor.enabled":
		return actor + " turned on two-factor authentication", false
	case "two_factor.disabled":
		return actor + " turned off two-factor authentication", false
	case "two_factor.passkey_added":
		return actor + " added a passkey", false
	case "two_factor.passkey_removed":
		return actor + " removed a passkey", false
	case "two_factor.recovery_codes_regenerated":
		return actor + " made new recovery codes", false
	case "two_factor.recovery_used":
		return actor + " signed in with a recovery code", false
	case "two_factor.challenge_failed":
		return actor + " gave a wrong two-factor code", false
	case "sso.connected":
		return actor + " connected an identity provider", false
	case "sso.updated":
		return actor + " changed the single sign-on settings", false
	case "sso.tested":
		return actor + " tested single sign-on", false
	case "sso.enabled":
		return actor + " enabled single sign-on", false
	case "sso.disabled":
		return actor + " disabled single sign-on", false
	case "sso.enforced":
		return actor + " made single sign-on required", false
	case "sso.unenforced":
		return actor + " stopped requiring single sign-on", false
	case "sso.setup_link_created":
		return actor + " created an SSO setup link", false
	case "sso.setup_link_opened":
		return "An IT admin opened an SSO setup link", false
	case "sso.setup_link_revoked":
		return actor + " revoked an SSO setup link", false
	case "sso.bypassed":
		return actor + " signed in with a password past SSO", false
	case "sso.member_joined", "sso.provisioned":
		return actor + " joined through single sign-on", true
	case "sso.sign_in", "sso.signed_in":
		return actor + " signed in through single sign-on", false
	case "sso.password_refused":
		return actor + " was asked to sign in through single sign-on", false
	}
	if target != "" {
		return actor + ": " + action + " (" + target + ")", false
	}
	return actor + ": " + action, false
}
