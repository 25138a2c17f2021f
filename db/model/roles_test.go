package model

import (
	"strings"
	"testing"
)

var allRoles = []Role{RoleOwner, RoleAdmin, RoleMember, RoleBilling, "", "superuser"}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in   string
		want Role
		ok   bool
	}{
		{"owner", RoleOwner, true},
		{"admin", RoleAdmin, true},
		{"member", RoleMember, true},
		{"billing", RoleBilling, true},
		{" Admin ", RoleAdmin, true},
		{"BILLING", RoleBilling, true},
		{"", "", false},
		{"maintainer", "", false},
		{"root", "", false},
		{"owner!", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if !tt.ok {
				wantCode(t, err, CodeValidation, "role")
				msg := err.(*Error).Fields["role"]
				for _, r := range Roles {
					if !strings.Contains(msg, string(r)) {
						t.Errorf("message %q does not list %q", msg, r)
					}
				}
				return
			}
			wantCode(t, err, "", "")
			if got != tt.want {
				t.Errorf("ParseRole(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRoleRankValidLabel(t *testing.T) {
	tests := []struct {
		r     Role
		rank  int
		valid bool
		label string
	}{
		{RoleOwner, 4, true, "Owner"},
		{RoleAdmin, 3, true, "Admin"},
		{RoleMember, 2, true, "Member"},
		{RoleBilling, 1, true, "Billing"},
		{"", 0, false, ""},
		{"Owner", 0, false, "Owner"},
		{"root", 0, false, "root"},
	}
	for _, tt := range tests {
		if got := tt.r.Rank(); got != tt.rank {
			t.Errorf("%q.Rank() = %d, want %d", tt.r, got, tt.rank)
		}
		if got := tt.r.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v, want %v", tt.r, got, tt.valid)
		}
		if got := tt.r.Label(); got != tt.label {
			t.Errorf("%q.Label() = %q, want %q", tt.r, got, tt.label)
		}
	}
	// Roles is ordered highest first.
	for i := 1; i < len(Roles); i++ {
		if Roles[i-1].Rank() <= Roles[i].Rank() {
			t.Errorf("Roles not in descending rank at %d", i)
		}
	}
}

// TestCan is SPEC 2's table transcribed independently of roleTable: each
// string lists the roles allowed (o=owner a=admin m=member b=billing).
func TestCan(t *testing.T) {
	spec := map[Action]string{
		ActViewOrg:           "oamb",
		ActUpdateOrg:         "oa",
		ActDeleteOrg:         "o",
		ActInvite:            "oa",
		ActManageMembers:     "oa",
		ActTransferOwnership: "o",
		ActManageTeams:       "oa",
		ActUseResources:      "oam",
		ActPublishPackages:   "oa",
		ActViewBalance:       "oamb",
		ActManageWallet:      "oab",
		ActManagePolicies:    "oa",
		ActReadAudit:         "oa",
		ActViewSSO:           "oa",
		ActManageSSO:         "o",
		ActViewUsage:         "oamb",
	}
	if len(spec) != len(Actions) {
		t.Fatalf("spec has %d rows, Actions has %d", len(spec), len(Actions))
	}
	letter := map[Role]string{RoleOwner: "o", RoleAdmin: "a", RoleMember: "m", RoleBilling: "b"}
	for _, a := range Actions {
		allowed, ok := spec[a]
		if !ok {
			t.Fatalf("action %q missing from the spec table", a)
		}
		for _, r := range allRoles {
			want := letter[r] != "" && strings.Contains(allowed, letter[r])
			if got := Can(r, a); got != want {
				t.Errorf("Can(%q, %q) = %v, want %v", r, a, got, want)
			}
		}
	}
	for _, r := range allRoles {
		if Can(r, "fly") {
			t.Errorf("Can(%q, unknown action) = true", r)
		}
	}
}

func TestCanIn(t *testing.T) {
	refused := []Action{ActUpdateOrg, ActDeleteOrg, ActInvite, ActManageMembers,
		ActTransferOwnership, ActManageTeams, ActManageSSO}
	for _, a := range Actions {
		isRefused := false
		for _, x := range refused {
			isRefused = isRefused || x == a
		}
		if got, want := CanIn(OrgPersonal, RoleOwner, a), !isRefused; got != want {
			t.Errorf("CanIn(personal, owner, %q) = %v, want %v", a, got, want)
		}
		for _, r := range allRoles {
			if got, want := CanIn(OrgTeam, r, a), Can(r, a); got != want {
				t.Errorf("CanIn(team, %q, %q) = %v, want %v", r, a, got, want)
			}
		}
	}
}

func TestCanInvite(t *testing.T) {
	tests := []struct {
		actor, at Role
		want      Code
		field     string
	}{
		{RoleOwner, RoleOwner, "", ""},
		{RoleOwner, RoleAdmin, "", ""},
		{RoleOwner, RoleMember, "", ""},
		{RoleOwner, RoleBilling, "", ""},
		{RoleAdmin, RoleOwner, CodeForbidden, ""},
		{RoleAdmin, RoleAdmin, "", ""},
		{RoleAdmin, RoleMember, "", ""},
		{RoleAdmin, RoleBilling, "", ""},
		{RoleMember, RoleMember, CodeForbidden, ""},
		{RoleMember, RoleBilling, CodeForbidden, ""},
		{RoleMember, RoleOwner, CodeForbidden, ""},
		{RoleBilling, RoleMember, CodeForbidden, ""},
		{RoleBilling, RoleBilling, CodeForbidden, ""},
		{"", RoleMember, CodeForbidden, ""},
		{RoleOwner, "", CodeValidation, "role"},
		{RoleOwner, "god", CodeValidation, "role"},
	}
	for _, tt := range tests {
		t.Run(string(tt.actor)+"->"+string(tt.at), func(t *testing.T) {
			wantCode(t, CanInvite(tt.actor, tt.at), tt.want, tt.field)
		})
	}
	// The owner-only refusal says so.
	if err := CanInvite(RoleAdmin, RoleOwner); !strings.Contains(err.Error(), "owner") {
		t.Errorf("message should mention owner: %v", err)
	}
}

func TestCanChangeRole(t *testing.T) {
	tests := []struct {
		actor, from, to Role
		want            Code
		field           string
	}{
		// owner: anything, including to and from owner
		{RoleOwner, RoleMember, RoleAdmin, "", ""},
		{RoleOwner, RoleAdmin, RoleBilling, "", ""},
		{RoleOwner, RoleBilling, RoleMember, "", ""},
		{RoleOwner, RoleMember, RoleOwner, "", ""},
		{RoleOwner, RoleOwner, RoleAdmin, "", ""},
		{RoleOwner, RoleOwner, RoleBilling, "", ""},
		{RoleOwner, RoleOwner, RoleOwner, "", ""},
		{RoleOwner, RoleMember, RoleMember, "", ""},
		// admin: among admin/member/billing only
		{RoleAdmin, RoleMember, RoleAdmin, "", ""},
		{RoleAdmin, RoleAdmin, RoleMember, "", ""},
		{RoleAdmin, RoleBilling, RoleAdmin, "", ""},
		{RoleAdmin, RoleMember, RoleBilling, "", ""},
		{RoleAdmin, RoleAdmin, RoleAdmin, "", ""},
		{RoleAdmin, RoleMember, RoleOwner, CodeForbidden, ""},
		{RoleAdmin, RoleAdmin, RoleOwner, CodeForbidden, ""},
		{RoleAdmin, RoleOwner, RoleAdmin, CodeForbidden, ""},
		{RoleAdmin, RoleOwner, RoleMember, CodeForbidden, ""},
		{RoleAdmin, RoleOwner, RoleOwner, CodeForbidden, ""},
		// member, billing, non-member: never
		{RoleMember, RoleMember, RoleAdmin, CodeForbidden, ""},
		{RoleMember, RoleBilling, RoleMember, CodeForbidden, ""},
		{RoleMember, RoleMember, RoleMember, CodeForbidden, ""},
		{RoleBilling, RoleMember, RoleBilling, CodeForbidden, ""},
		{RoleBilling, RoleBilling, RoleAdmin, CodeForbidden, ""},
		{"", RoleMember, RoleAdmin, CodeForbidden, ""},
		// bad input
		{RoleOwner, RoleMember, "", CodeValidation, "role"},
		{RoleOwner, RoleMember, "boss", CodeValidation, "role"},
		{RoleOwner, "", RoleMember, CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.actor)+":"+string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			wantCode(t, CanChangeRole(tt.actor, tt.from, tt.to), tt.want, tt.field)
		})
	}
}

// TestCanChangeRoleExhaustive checks the rule's shape over every valid
// combination: only owners and admins, and owner involvement needs an owner.
func TestCanChangeRoleExhaustive(t *testing.T) {
	for _, actor := range allRoles {
		for _, from := range Roles {
			for _, to := range Roles {
				want := actor == RoleOwner ||
					(actor == RoleAdmin && from != RoleOwner && to != RoleOwner)
				err := CanChangeRole(actor, from, to)
				if (err == nil) != want {
					t.Errorf("CanChangeRole(%q, %q, %q) = %v, want allowed=%v", actor, from, to, err, want)
				}
				if err != nil && CodeOf(err) != CodeForbidden {
					t.Errorf("CanChangeRole(%q, %q, %q) code %s, want forbidden", actor, from, to, CodeOf(err))
				}
			}
		}
	}
}

func TestCanRemoveMember(t *testing.T) {
	tests := []struct {
		actor, target Role
		want          Code
	}{
		{RoleOwner, RoleOwner, ""},
		{RoleOwner, RoleAdmin, ""},
		{RoleOwner, RoleMember, ""},
		{RoleOwner, RoleBilling, ""},
		{RoleAdmin, RoleOwner, CodeForbidden},
		{RoleAdmin, RoleAdmin, ""},
		{RoleAdmin, RoleMember, ""},
		{RoleAdmin, RoleBilling, ""},
		{RoleMember, RoleMember, CodeForbidden},
		{RoleMember, RoleBilling, CodeForbidden},
		{RoleBilling, RoleMember, CodeForbidden},
		{RoleBilling, RoleBilling, CodeForbidden},
		{"", RoleMember, CodeForbidden},
		{RoleOwner, "", CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(string(tt.actor)+"-x->"+string(tt.target), func(t *testing.T) {
			wantCode(t, CanRemoveMember(tt.actor, tt.target), tt.want, "")
		})
	}
}

func TestCheckLastOwner(t *testing.T) {
	tests := []struct {
		name     string
		from, to Role
		owners   int
		want     Code
	}{
		{"last owner demoted to admin", RoleOwner, RoleAdmin, 1, CodeConflict},
		{"last owner demoted to billing", RoleOwner, RoleBilling, 1, CodeConflict},
		{"last owner leaves", RoleOwner, "", 1, CodeConflict},
		{"count says zero", RoleOwner, "", 0, CodeConflict},
		{"one of two owners demoted", RoleOwner, RoleMember, 2, ""},
		{"one of two owners leaves", RoleOwner, "", 2, ""},
		{"owner stays owner", RoleOwner, RoleOwner, 1, ""},
		{"admin leaves", RoleAdmin, "", 1, ""},
		{"member promoted", RoleMember, RoleOwner, 1, ""},
		{"billing removed", RoleBilling, "", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLastOwner(tt.from, tt.to, tt.owners)
			wantCode(t, err, tt.want, "")
			if err != nil && !strings.Contains(err.Error(), "promote") {
				t.Errorf("message should say to promote someone first: %v", err)
			}
		})
	}
}

func TestCanTransferOwnership(t *testing.T) {
	tests := []struct {
		actor, target Role
		want          Code
		field         string
	}{
		{RoleOwner, RoleAdmin, "", ""},
		{RoleOwner, RoleMember, "", ""},
		{RoleOwner, RoleBilling, "", ""},
		{RoleOwner, RoleOwner, CodeConflict, ""},
		{RoleOwner, "", CodeValidation, "user_id"},
		{RoleAdmin, RoleMember, CodeForbidden, ""},
		{RoleMember, RoleMember, CodeForbidden, ""},
		{RoleBilling, RoleMember, CodeForbidden, ""},
		{"", RoleMember, CodeForbidden, ""},
		{RoleAdmin, "", CodeForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.actor)+"=>"+string(tt.target), func(t *testing.T) {
			wantCode(t, CanTransferOwnership(tt.actor, tt.target), tt.want, tt.field)
		})
	}
	target, actor := TransferOwnershipRoles()
	if target != RoleOwner || actor != RoleAdmin {
		t.Errorf("TransferOwnershipRoles() = %q, %q; want owner, admin", target, actor)
	}
}

func TestParseTeamRole(t *testing.T) {
	tests := []struct {
		in   string
		want TeamRole
		ok   bool
	}{
		{"maintainer", TeamMaintainer, true},
		{"member", TeamMember, true},
		{" Maintainer", TeamMaintainer, true},
		{"", "", false},
		{"admin", "", false},
		{"owner", "", false},
	}
	for _, tt := range tests {
		got, err := ParseTeamRole(tt.in)
		if !tt.ok {
			wantCode(t, err, CodeValidation, "role")
			continue
		}
		wantCode(t, err, "", "")
		if got != tt.want {
			t.Errorf("ParseTeamRole(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !got.Valid() || got.Label() == "" {
			t.Errorf("%q should be valid with a label", got)
		}
	}
	if TeamRole("x").Valid() {
		t.Error(`TeamRole("x").Valid() = true`)
	}
}

func TestCanManageTeam(t *testing.T) {
	tests := []struct {
		org  Role
		team TeamRole
		want bool
	}{
		{RoleOwner, "", true},
		{RoleOwner, TeamMember, true},
		{RoleAdmin, "", true},
		{RoleAdmin, TeamMaintainer, true},
		{RoleMember, TeamMaintainer, true},
		{RoleMember, TeamMember, false},
		{RoleMember, "", false},
		{RoleBilling, TeamMaintainer, false},
		{RoleBilling, "", false},
		{"", TeamMaintainer, false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := CanManageTeam(tt.org, tt.team); got != tt.want {
			t.Errorf("CanManageTeam(%q, %q) = %v, want %v", tt.org, tt.team, got, tt.want)
		}
	}
}

func TestCanJoinTeam(t *testing.T) {
	tests := []struct {
		org  Role
		want Code
		msg  string
	}{
		{RoleOwner, "", ""},
		{RoleAdmin, "", ""},
		{RoleMember, "", ""},
		{RoleBilling, CodeValidation, "Billing"},
		{"", CodeValidation, "members of the org"},
		{"ghost", CodeValidation, "members of the org"},
	}
	for _, tt := range tests {
		err := CanJoinTeam(tt.org)
		field := ""
		if tt.want != "" {
			field = "user_id"
		}
		wantCode(t, err, tt.want, field)
		if err != nil && !strings.Contains(err.(*Error).Fields["user_id"], tt.msg) {
			t.Errorf("CanJoinTeam(%q) message %q should contain %q", tt.org, err, tt.msg)
		}
	}
}

func TestCanOwnResources(t *testing.T) {
	want := map[Role]bool{RoleOwner: true, RoleAdmin: true, RoleMember: true}
	for _, r := range allRoles {
		if got := CanOwnResources(r); got != want[r] {
			t.Errorf("CanOwnResources(%q) = %v, want %v", r, got, want[r])
		}
		// It must agree with the table's "create agents" row.
		if CanOwnResources(r) != Can(r, ActUseResources) {
			t.Errorf("CanOwnResources(%q) disagrees with Can(ActUseResources)", r)
		}
	}
}
