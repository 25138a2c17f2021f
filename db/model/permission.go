package model

import (
	"strings"
)

// Permission is an account's level on one resource (SPEC 3):
// none < read < write < admin.
type Permission string

const (
	PermNone  Permission = "none"
	PermRead  Permission = "read"
	PermWrite Permission = "write"
	PermAdmin Permission = "admin"
)

// DefaultGrantPermission is the level of a grant made without one (SPEC 3).
const DefaultGrantPermission = PermWrite

// GrantPermissions are the levels a team grant may carry, lowest first (the
// grant select).
var GrantPermissions = []Permission{PermRead, PermWrite, PermAdmin}

// BasePermissions are the levels an org's member base permission may take:
// admin is left out so that deleting and transferring stays a deliberate grant.
var BasePermissions = []Permission{PermNone, PermRead, PermWrite}

// Rank orders permissions none 0 < read 1 < write 2 < admin 3. An unknown
// value ranks as none so it never grants anything.
func (p Permission) Rank() int {
	switch p {
	case PermRead:
		return 1
	case PermWrite:
		return 2
	case PermAdmin:
		return 3
	}
	return 0
}

// Valid reports whether p is one of the four levels.
func (p Permission) Valid() bool {
	return p == PermNone || p == PermRead || p == PermWrite || p == PermAdmin
}

// AtLeast reports whether p is p2 or higher: the check a handler makes
// ("PATCH needs write").
func (p Permission) AtLeast(p2 Permission) bool { return p.Rank() >= p2.Rank() }

// Label is the level as shown in selects and on the access explainer.
func (p Permission) Label() string {
	switch p {
	case PermNone:
		return "None"
	case PermRead:
		return "Read"
	case PermWrite:
		return "Write"
	case PermAdmin:
		return "Admin"
	}
	return string(p)
}

// Max returns the higher of a and b (a on a tie), normalising an unknown value
// to none.
func Max(a, b Permission) Permission {
	if b.Rank() > a.Rank() {
		return b
	}
	if !a.Valid() {
		return PermNone
	}
	return a
}

// ParsePermission reads a grant's level: read, write or admin. A grant of
// "none" is a removal and has its own route, so it is refused here. Callers
// apply DefaultGrantPermission to an empty value before parsing.
func ParsePermission(s string) (Permission, error) {
	p := Permission(strings.ToLower(strings.TrimSpace(s)))
	switch p {
	case PermRead, PermWrite, PermAdmin:
		return p, nil
	}
	return "", InvalidField("permission", "Choose a permission: read, write or admin.")
}

// ParseBasePermission reads an org's member base permission: none, read or
// write (the org setting member_base_permission).
func ParseBasePermission(s string) (Permission, error) {
	p := Permission(strings.ToLower(strings.TrimSpace(s)))
	switch p {
	case PermNone, PermRead, PermWrite:
		return p, nil
	}
	return "", InvalidField("member_base_permission", "Choose a base permission: none, read or write.")
}

// OrgKind tells a personal workspace from a shared team org (SPEC 1).
type OrgKind string

const (
	OrgPersonal OrgKind = "personal"
	OrgTeam     OrgKind = "team"
)

// TeamGrant is one grant on a resource held by a team the account belongs to.
type TeamGrant struct {
	TeamID     int64
	TeamName   string
	Permission Permission
}

// AccessFacts is everything EffectivePermission needs, gathered by one query,
// so the rule itself stays pure.
type AccessFacts struct {
	OrgKind OrgKind
	// Role is the account's role in the resource's org; "" = no membership.
	Role Role
	// BasePermission is the org's member base permission.
	BasePermission Permission
	// Grants on the resource held by teams the account belongs to.
	Grants []TeamGrant
	// IsCreator is true when the account created the resource.
	IsCreator bool
}

// Source rules: which rule of SPEC 3 decided a permission. They are part of
// the access explainer's JSON answer, so they are stable strings.
const (
	SourceNoMembership   = "no_membership"   // rule 1
	SourceOrgRole        = "org_role"        // rule 2: owner or admin
	SourceBillingRole    = "billing_role"    // rule 3
	SourceBasePermission = "base_permission" // rule 4a
	SourceTeamGrant      = "team_grant"      // rule 4b
	SourceCreator        = "creator"         // rule 4c
	SourcePersonalOwner  = "personal_owner"  // rule 5
	SourceNone           = "no_grant"        // rule 4, nothing applies
)

// Source says where an effective permission came from, for the access
// explainer: the rule, and the team for a team grant.
type Source struct {
	Rule     string `json:"rule"`
	TeamID   int64  `json:"team_id,omitempty"`
	TeamName string `json:"team_name,omitempty"`
}

// Explain is the explainer's sentence for permission p reached through s by
// someone with org role role.
func (s Source) Explain(p Permission, role Role) string {
	switch s.Rule {
	case SourceNoMembership:
		return "Not a member of the org"
	case SourceOrgRole:
		if role == RoleOwner {
			return "Owner of the org: owners have admin on every resource"
		}
		return "Admin of the org: admins have admin on every resource"
	case SourcePersonalOwner:
		return "Owner of this personal workspace: admin on everything in it"
	case SourceBillingRole:
		return "Billing members can only read"
	case SourceBasePermission:
		return "Member base permission of the org: " + string(p)
	case SourceTeamGrant:
		return "Granted " + string(p) + " through team " + s.TeamName
	case SourceCreator:
		return "Created this agent: creators keep admin"
	case SourceNone:
		return "A member with no grant"
	}
	return "Unknown"
}

// EffectivePermission resolves SPEC 3 in order: no membership is none; a
// personal org's owner is admin (rule 5, named before rule 2 so the explainer
// says why); owners and admins are admin without consulting grants; billing is
// read, never more; a member gets the highest of the base permission, their
// teams' grants and admin as creator.
//
// Ties among members prefer the creator, then a team grant (the lowest TeamID
// among the teams with the highest level, so the answer is deterministic), then
// the base permission: the more specific reason is the more useful one to show.
func EffectivePermission(f AccessFacts) (Permission, Source) {
	switch f.Role {
	case RoleOwner:
		if f.OrgKind == OrgPersonal {
			return PermAdmin, Source{Rule: SourcePersonalOwner}
		}
		return PermAdmin, Source{Rule: SourceOrgRole}
	case RoleAdmin:
		return PermAdmin, Source{Rule: SourceOrgRole}
	case RoleBilling:
		return PermRead, Source{Rule: SourceBillingRole}
	case RoleMember:
		// handled below
	default:
		return PermNone, Source{Rule: SourceNoMembership}
	}

	if f.IsCreator {
		return PermAdmin, Source{Rule: SourceCreator}
	}
	var best *TeamGrant
	for i := range f.Grants {
		g := &f.Grants[i]
		if g.Permission.Rank() == 0 {
			continue
		}
		if best == nil || g.Permission.Rank() > best.Permission.Rank() ||
			(g.Permission.Rank() == best.Permission.Rank() && g.TeamID < best.TeamID) {
			best = g
		}
	}
	// The base permission is none, read or write (admin is left out so deleting
	// and transferring stays a deliberate grant); anything above is capped.
	base := f.BasePermission
	if base.Rank() > PermWrite.Rank() {
		base = PermWrite
	}
	if best != nil && best.Permission.Rank() >= base.Rank() {
		return best.Permission, Source{Rule: SourceTeamGrant, TeamID: best.TeamID, TeamName: best.TeamName}
	}
	if base.Rank() > 0 {
		return base, Source{Rule: SourceBasePermission}
	}
	return PermNone, Source{Rule: SourceNone}
}
