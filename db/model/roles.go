package model

import (
	"strings"
)

// Role is a member's one org-level role (SPEC 2). The empty Role means "not a
// member", so a zero value never grants anything.
type Role string

const (
	RoleOwner   Role = "owner"
	RoleAdmin   Role = "admin"
	RoleMember  Role = "member"
	RoleBilling Role = "billing"
)

// Roles lists the roles from highest to lowest rank, the order of role
// selects and filters.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMember, RoleBilling}

// ParseRole reads a role from a form or JSON body. It is lenient about case
// and surrounding spaces but never defaults: callers apply their own default
// (invitations use member) before parsing.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", InvalidField("role", "Choose a role: owner, admin, member or billing.")
	}
	return r, nil
}

// Rank orders roles owner 4 > admin 3 > member 2 > billing 1; anything else
// (including "", not a member) is 0, so rank comparisons fail closed.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleMember:
		return 2
	case RoleBilling:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the four org roles.
func (r Role) Valid() bool { return r.Rank() > 0 }

// Label is the role as shown in the switcher and member lists.
func (r Role) Label() string {
	switch r {
	case RoleOwner:
		return "Owner"
	case RoleAdmin:
		return "Admin"
	case RoleMember:
		return "Member"
	case RoleBilling:
		return "Billing"
	}
	return string(r)
}

// atLeastAdmin is the "owner or admin" test most management rows need.
func (r Role) atLeastAdmin() bool { return r == RoleOwner || r == RoleAdmin }

// Action names one of the simple rows of SPEC 2's role table: rows whose
// answer depends on the actor's role alone. Rows that also depend on a target
// (invite at a role, change a role, remove, transfer, manage a given team) have
// their own Can* functions below.
type Action string

const (
	ActViewOrg           Action = "view_org"           // see the org, its members, teams, policies
	ActUpdateOrg         Action = "update_org"         // rename, re-slug, describe, base permission
	ActDeleteOrg         Action = "delete_org"         // delete the org
	ActInvite            Action = "invite"             // invite at member, admin or billing (see CanInvite)
	ActManageMembers     Action = "manage_members"     // change roles, remove non-owners (see CanChangeRole)
	ActTransferOwnership Action = "transfer_ownership" // transfer ownership
	ActManageTeams       Action = "manage_teams"       // create / delete teams
	ActUseResources      Action = "use_resources"      // create agents; buy or install packages
	ActPublishPackages   Action = "publish_packages"   // publish packages, change their visibility
	ActViewBalance       Action = "view_balance"       // see the wallet balance
	ActManageWallet      Action = "manage_wallet"      // wallet transactions, top-up, auto top-up
	ActManagePolicies    Action = "manage_policies"    // spend policies; decide approvals
	ActReadAudit         Action = "read_audit"         // read and export the audit log
	ActViewSSO           Action = "view_sso"           // see SSO status
	ActManageSSO         Action = "manage_sso"         // connect SSO, setup links, enforce
	ActViewUsage         Action = "view_usage"         // see usage and limits
)

// Actions lists every Action, for tests and for views that render a
// capability set at once.
var Actions = []Action{
	ActViewOrg, ActUpdateOrg, ActDeleteOrg, ActInvite, ActManageMembers,
	ActTransferOwnership, ActManageTeams, ActUseResources, ActPublishPackages,
	ActViewBalance, ActManageWallet, ActManagePolicies, ActReadAudit,
	ActViewSSO, ActManageSSO, ActViewUsage,
}

// roleTable is SPEC 2's table, row by row, in the column order
// owner, admin, member, billing, so it can be checked against the spec by eye.
var roleTable = map[Action][4]bool{
	ActViewOrg:           {true, true, true, true},
	ActUpdateOrg:         {true, true, false, false},
	ActDeleteOrg:         {true, false, false, false},
	ActInvite:            {true, true, false, false},
	ActManageMembers:     {true, true, false, false},
	ActTransferOwnership: {true, false, false, false},
	ActManageTeams:       {true, true, false, false},
	ActUseResources:      {true, true, true, false},
	ActPublishPackages:   {true, true, false, false},
	ActViewBalance:       {true, true, true, true},
	ActManageWallet:      {true, true, false, true},
	ActManagePolicies:    {true, true, false, false},
	ActReadAudit:         {true, true, false, false},
	ActViewSSO:           {true, true, false, false},
	ActManageSSO:         {true, false, false, false},
	ActViewUsage:         {true, true, true, true},
}

// Can reports whether role r may perform a. Not a member (""), an unknown role
// or an unknown action is always false, so a missing row fails closed.
func Can(r Role, a Action) bool {
	row, ok := roleTable[a]
	if !ok {
		return false
	}
	switch r {
	case RoleOwner:
		return row[0]
	case RoleAdmin:
		return row[1]
	case RoleMember:
		return row[2]
	case RoleBilling:
		return row[3]
	}
	return false
}

// personalOrgRefuses are the actions a personal org never allows, whatever the
// role: it cannot be renamed directly, deleted or shared (SPEC 1), and with no
// other members there is nothing to transfer, manage or sign in with SSO.
var personalOrgRefuses = map[Action]bool{
	ActUpdateOrg:         true,
	ActDeleteOrg:         true,
	ActInvite:            true,
	ActManageMembers:     true,
	ActTransferOwnership: true,
	ActManageTeams:       true,
	ActManageSSO:         true,
}

// CanIn is Can for an org of the given kind: in a personal org the actions
// that would rename, delete or share it are refused even to its owner.
func CanIn(kind OrgKind, r Role, a Action) bool {
	if kind == OrgPersonal && personalOrgRefuses[a] {
		return false
	}
	return Can(r, a)
}

// CanInvite checks that actor may invite someone at role at: admins and owners
// invite at member, admin or billing; only an owner invites at owner.
func CanInvite(actor, at Role) error {
	if !at.Valid() {
		return InvalidField("role", "Choose a role: owner, admin, member or billing.")
	}
	if !actor.atLeastAdmin() {
		return Forbidden("Only owners and admins can invite people to the org.")
	}
	if at == RoleOwner && actor != RoleOwner {
		return Forbidden("Only an owner can invite someone as owner.")
	}
	return nil
}

// CanChangeRole checks that actor may move a member from one role to another.
// Owners and admins move members among admin, member and billing; any change
// to or from owner is the owner's alone. Keeping at least one owner is a
// separate check (CheckLastOwner) because it needs the owner count.
// An unchanged role is allowed (nil) when the actor could have made it, so a
// re-submitted form is harmless.
func CanChangeRole(actor, from, to Role) error {
	if !to.Valid() {
		return InvalidField("role", "Choose a role: owner, admin, member or billing.")
	}
	if !from.Valid() {
		return NotFound("Member")
	}
	if !actor.atLeastAdmin() {
		return Forbidden("Only owners and admins can change members' roles.")
	}
	if (from == RoleOwner || to == RoleOwner) && actor != RoleOwner {
		return Forbidden("Only an owner can change a role to or from owner.")
	}
	return nil
}

// CanRemoveMember checks that actor may remove a member holding role target:
// owners and admins remove non-owners; only an owner removes an owner.
// Leaving (removing yourself) is not this check: everyone may leave, subject
// to CheckLastOwner.
func CanRemoveMember(actor, target Role) error {
	if !target.Valid() {
		return NotFound("Member")
	}
	if !actor.atLeastAdmin() {
		return Forbidden("Only owners and admins can remove members.")
	}
	if target == RoleOwner && actor != RoleOwner {
		return Forbidden("Only an owner can remove an owner.")
	}
	return nil
}

// LastOwnerMessage is the refusal when a change would leave an org without an
// owner; it tells the user the way out.
const LastOwnerMessage = "An org must keep at least one owner: promote another member to owner first."

// CheckLastOwner refuses a change that would take the last owner away. from is
// the member's current role, to the new one ("" when the member leaves or is
// removed), owners the number of owners before the change (counted under a
// row lock by the store).
func CheckLastOwner(from, to Role, owners int) error {
	if from == RoleOwner && to != RoleOwner && owners <= 1 {
		return Conflict(LastOwnerMessage)
	}
	return nil
}

// CanTransferOwnership checks an explicit ownership transfer: only an owner
// may transfer, and only to another member of the org who is not yet an
// owner. On success the store makes target owner and actor admin in one
// transaction (see TransferOwnershipRoles).
func CanTransferOwnership(actor, target Role) error {
	if actor != RoleOwner {
		return Forbidden("Only an owner can transfer ownership.")
	}
	if !target.Valid() {
		return InvalidField("user_id", "The new owner must already be a member of the org.")
	}
	if target == RoleOwner {
		return Conflict("That member is already an owner.")
	}
	return nil
}

// TransferOwnershipRoles returns the roles after a transfer: the new owner's
// and the former owner's. Kept here so the rule has one home.
func TransferOwnershipRoles() (target, actor Role) {
	return RoleOwner, RoleAdmin
}

// TeamRole is an account's role inside one team (SPEC 1, 6).
type TeamRole string

const (
	TeamMaintainer TeamRole = "maintainer"
	TeamMember     TeamRole = "member"
)

// TeamRoles lists the team roles, highest first.
var TeamRoles = []TeamRole{TeamMaintainer, TeamMember}

// ParseTeamRole reads a team role from a form or JSON body; like ParseRole it
// does not default.
func ParseTeamRole(s string) (TeamRole, error) {
	r := TeamRole(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", InvalidField("role", "Choose a team role: maintainer or member.")
	}
	return r, nil
}

// Valid reports whether r is a team role.
func (r TeamRole) Valid() bool { return r == TeamMaintainer || r == TeamMember }

// Label is the team role as shown on the team page.
func (r TeamRole) Label() string {
	switch r {
	case TeamMaintainer:
		return "Maintainer"
	case TeamMember:
		return "Member"
	}
	return string(r)
}

// CanManageTeam reports whether someone with org role org and team role team
// ("" if not in the team) may manage that team's members and grants or rename
// it: owners and admins any team, a member only a team they maintain, billing
// never (billing cannot even join teams).
func CanManageTeam(org Role, team TeamRole) bool {
	switch org {
	case RoleOwner, RoleAdmin:
		return true
	case RoleMember:
		return team == TeamMaintainer
	}
	return false
}

// CanJoinTeam checks that an account whose org role is org may be added to
// one of the org's teams: only members of the org, and not billing, who never
// use resources. It is a validation error on the picked user.
func CanJoinTeam(org Role) error {
	switch org {
	case RoleOwner, RoleAdmin, RoleMember:
		return nil
	case RoleBilling:
		return InvalidField("user_id", "Billing members cannot join teams.")
	}
	return InvalidField("user_id", "Only members of the org can join its teams.")
}

// CanOwnResources reports whether role r may create or receive resources in an
// org (create agents, move an agent into the org): everyone but billing.
func CanOwnResources(r Role) bool {
	return r == RoleOwner || r == RoleAdmin || r == RoleMember
}
