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
	}
	if target != "" {
		return actor + ": " + action + " (" + target + ")", false
	}
	return actor + ": " + action, false
}
