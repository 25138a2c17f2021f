package model

import (
	"encoding/json"
	"testing"
)

func TestPermissionRankAndCompare(t *testing.T) {
	order := []Permission{PermNone, PermRead, PermWrite, PermAdmin}
	for i, p := range order {
		if p.Rank() != i {
			t.Errorf("%q.Rank() = %d, want %d", p, p.Rank(), i)
		}
		if !p.Valid() || p.Label() == "" {
			t.Errorf("%q should be valid with a label", p)
		}
		for j, q := range order {
			if got, want := p.AtLeast(q), i >= j; got != want {
				t.Errorf("%q.AtLeast(%q) = %v, want %v", p, q, got, want)
			}
			want := p
			if j > i {
				want = q
			}
			if got := Max(p, q); got != want {
				t.Errorf("Max(%q, %q) = %q, want %q", p, q, got, want)
			}
		}
	}
	bogus := Permission("owner")
	if bogus.Valid() || bogus.Rank() != 0 {
		t.Errorf("unknown permission must be invalid and rank 0")
	}
	if bogus.AtLeast(PermRead) {
		t.Error("unknown permission must not reach read")
	}
	if got := Max(bogus, ""); got != PermNone {
		t.Errorf("Max of unknowns = %q, want none", got)
	}
	if got := Max(bogus, PermRead); got != PermRead {
		t.Errorf("Max(bogus, read) = %q, want read", got)
	}
}

func TestParsePermission(t *testing.T) {
	tests := []struct {
		in    string
		grant Permission // "" = refused
		base  Permission // "" = refused
	}{
		{"read", PermRead, PermRead},
		{"write", PermWrite, PermWrite},
		{"admin", PermAdmin, ""},
		{"none", "", PermNone},
		{" Write ", PermWrite, PermWrite},
		{"", "", ""},
		{"owner", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePermission(tt.in)
			if tt.grant == "" {
				wantCode(t, err, CodeValidation, "permission")
			} else if wantCode(t, err, "", ""); got != tt.grant {
				t.Errorf("ParsePermission(%q) = %q, want %q", tt.in, got, tt.grant)
			}
			got, err = ParseBasePermission(tt.in)
			if tt.base == "" {
				wantCode(t, err, CodeValidation, "member_base_permission")
			} else if wantCode(t, err, "", ""); got != tt.base {
				t.Errorf("ParseBasePermission(%q) = %q, want %q", tt.in, got, tt.base)
			}
		})
	}
	if _, err := ParsePermission(string(DefaultGrantPermission)); err != nil || DefaultGrantPermission != PermWrite {
		t.Errorf("DefaultGrantPermission must be write and a valid grant")
	}
	for _, p := range GrantPermissions {
		if _, err := ParsePermission(string(p)); err != nil {
			t.Errorf("GrantPermissions holds %q which ParsePermission refuses", p)
		}
	}
	for _, p := range BasePermissions {
		if _, err := ParseBasePermission(string(p)); err != nil {
			t.Errorf("BasePermissions holds %q which ParseBasePermission refuses", p)
		}
	}
}

func TestEffectivePermission(t *testing.T) {
	platform := TeamGrant{TeamID: 7, TeamName: "Platform", Permission: PermWrite}
	tests := []struct {
		name string
		f    AccessFacts
		want Permission
		src  Source
	}{
		// Rule 1: no membership.
		{"non-member", AccessFacts{OrgKind: OrgTeam, BasePermission: PermWrite,
			Grants: []TeamGrant{platform}, IsCreator: true}, PermNone, Source{Rule: SourceNoMembership}},
		{"unknown role counts as non-member", AccessFacts{OrgKind: OrgTeam, Role: "guest"},
			PermNone, Source{Rule: SourceNoMembership}},
		{"non-member of a personal org", AccessFacts{OrgKind: OrgPersonal},
			PermNone, Source{Rule: SourceNoMembership}},
		// Rule 2: owner or admin, grants not consulted.
		{"owner", AccessFacts{OrgKind: OrgTeam, Role: RoleOwner}, PermAdmin, Source{Rule: SourceOrgRole}},
		{"admin", AccessFacts{OrgKind: OrgTeam, Role: RoleAdmin}, PermAdmin, Source{Rule: SourceOrgRole}},
		{"admin with read grant", AccessFacts{OrgKind: OrgTeam, Role: RoleAdmin,
			Grants: []TeamGrant{{TeamID: 1, TeamName: "Ops", Permission: PermRead}}}, PermAdmin, Source{Rule: SourceOrgRole}},
		{"admin who created it", AccessFacts{OrgKind: OrgTeam, Role: RoleAdmin, IsCreator: true},
			PermAdmin, Source{Rule: SourceOrgRole}},
		// Rule 3: billing is read, never more.
		{"billing", AccessFacts{OrgKind: OrgTeam, Role: RoleBilling}, PermRead, Source{Rule: SourceBillingRole}},
		{"billing with admin grant", AccessFacts{OrgKind: OrgTeam, Role: RoleBilling,
			Grants: []TeamGrant{{TeamID: 1, TeamName: "Ops", Permission: PermAdmin}}}, PermRead, Source{Rule: SourceBillingRole}},
		{"billing with write base and creator", AccessFacts{OrgKind: OrgTeam, Role: RoleBilling,
			BasePermission: PermWrite, IsCreator: true}, PermRead, Source{Rule: SourceBillingRole}},
		// Rule 4: members.
		{"member, nothing", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermNone},
			PermNone, Source{Rule: SourceNone}},
		{"member, empty base", AccessFacts{OrgKind: OrgTeam, Role: RoleMember},
			PermNone, Source{Rule: SourceNone}},
		{"member, base read", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermRead},
			PermRead, Source{Rule: SourceBasePermission}},
		{"member, base write", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermWrite},
			PermWrite, Source{Rule: SourceBasePermission}},
		{"member, team grant", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, Grants: []TeamGrant{platform}},
			PermWrite, Source{Rule: SourceTeamGrant, TeamID: 7, TeamName: "Platform"}},
		{"member, grant above base", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermRead,
			Grants: []TeamGrant{platform}}, PermWrite, Source{Rule: SourceTeamGrant, TeamID: 7, TeamName: "Platform"}},
		{"member, base above grant", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermWrite,
			Grants: []TeamGrant{{TeamID: 3, TeamName: "Readers", Permission: PermRead}}}, PermWrite, Source{Rule: SourceBasePermission}},
		{"member, tie base and grant prefers grant", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermWrite,
			Grants: []TeamGrant{platform}}, PermWrite, Source{Rule: SourceTeamGrant, TeamID: 7, TeamName: "Platform"}},
		{"member, highest of several grants", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, Grants: []TeamGrant{
			{TeamID: 1, TeamName: "Readers", Permission: PermRead},
			{TeamID: 9, TeamName: "Owners", Permission: PermAdmin},
			{TeamID: 4, TeamName: "Writers", Permission: PermWrite},
		}}, PermAdmin, Source{Rule: SourceTeamGrant, TeamID: 9, TeamName: "Owners"}},
		{"member, tie among grants prefers lowest team id", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, Grants: []TeamGrant{
			{TeamID: 12, TeamName: "Zeta", Permission: PermWrite},
			{TeamID: 5, TeamName: "Beta", Permission: PermWrite},
			{TeamID: 8, TeamName: "Alpha", Permission: PermWrite},
			{TeamID: 2, TeamName: "Low", Permission: PermRead},
		}}, PermWrite, Source{Rule: SourceTeamGrant, TeamID: 5, TeamName: "Beta"}},
		{"member, invalid grant ignored", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermRead,
			Grants: []TeamGrant{{TeamID: 1, TeamName: "Odd", Permission: "bogus"}, {TeamID: 2, TeamName: "None", Permission: PermNone}}},
			PermRead, Source{Rule: SourceBasePermission}},
		{"member, only a none grant", AccessFacts{OrgKind: OrgTeam, Role: RoleMember,
			Grants: []TeamGrant{{TeamID: 2, TeamName: "None", Permission: PermNone}}}, PermNone, Source{Rule: SourceNone}},
		{"member creator", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, IsCreator: true},
			PermAdmin, Source{Rule: SourceCreator}},
		{"member creator beats admin grant on tie", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, IsCreator: true,
			BasePermission: PermWrite, Grants: []TeamGrant{{TeamID: 1, TeamName: "Ops", Permission: PermAdmin}}},
			PermAdmin, Source{Rule: SourceCreator}},
		{"member, base admin is capped at write", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: PermAdmin},
			PermWrite, Source{Rule: SourceBasePermission}},
		{"member, unknown base grants nothing", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, BasePermission: "bogus"},
			PermNone, Source{Rule: SourceNone}},
		{"member in two teams, read and admin (issue 4)", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, Grants: []TeamGrant{
			{TeamID: 1, TeamName: "Readers", Permission: PermRead},
			{TeamID: 2, TeamName: "Admins", Permission: PermAdmin},
		}}, PermAdmin, Source{Rule: SourceTeamGrant, TeamID: 2, TeamName: "Admins"}},
		{"member creator with base read", AccessFacts{OrgKind: OrgTeam, Role: RoleMember, IsCreator: true, BasePermission: PermRead},
			PermAdmin, Source{Rule: SourceCreator}},
		{"billing in a personal org (never happens) still read", AccessFacts{OrgKind: OrgPersonal, Role: RoleBilling},
			PermRead, Source{Rule: SourceBillingRole}},
		{"admin of a personal org (never happens) is org role", AccessFacts{OrgKind: OrgPersonal, Role: RoleAdmin},
			PermAdmin, Source{Rule: SourceOrgRole}},
		// Rule 5: personal org owner.
		{"personal owner", AccessFacts{OrgKind: OrgPersonal, Role: RoleOwner}, PermAdmin, Source{Rule: SourcePersonalOwner}},
		{"personal owner who created it", AccessFacts{OrgKind: OrgPersonal, Role: RoleOwner, IsCreator: true},
			PermAdmin, Source{Rule: SourcePersonalOwner}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src := EffectivePermission(tt.f)
			if got != tt.want || src != tt.src {
				t.Errorf("EffectivePermission = %q %+v, want %q %+v", got, src, tt.want, tt.src)
			}
			if src.Explain(got, tt.f.Role) == "" || src.Explain(got, tt.f.Role) == "Unknown" {
				t.Errorf("no explanation for %+v", src)
			}
		})
	}
}

// TestEffectivePermissionOrderIndependent: the answer does not depend on the
// order the query returned the grants in.
func TestEffectivePermissionOrderIndependent(t *testing.T) {
	grants := []TeamGrant{
		{TeamID: 3, TeamName: "C", Permission: PermWrite},
		{TeamID: 1, TeamName: "A", Permission: PermRead},
		{TeamID: 2, TeamName: "B", Permission: PermWrite},
	}
	perms := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range perms {
		gs := []TeamGrant{grants[order[0]], grants[order[1]], grants[order[2]]}
		p, src := EffectivePermission(AccessFacts{OrgKind: OrgTeam, Role: RoleMember, Grants: gs})
		if p != PermWrite || src.TeamID != 2 || src.TeamName != "B" {
			t.Errorf("order %v: got %q %+v, want write from team 2", order, p, src)
		}
	}
}

func TestSourceExplain(t *testing.T) {
	tests := []struct {
		src  Source
		p    Permission
		role Role
		want string
	}{
		{Source{Rule: SourceNoMembership}, PermNone, "", "Not a member of the org"},
		{Source{Rule: SourceOrgRole}, PermAdmin, RoleAdmin, "Admin of the org: admins have admin on every resource"},
		{Source{Rule: SourceOrgRole}, PermAdmin, RoleOwner, "Owner of the org: owners have admin on every resource"},
		{Source{Rule: SourcePersonalOwner}, PermAdmin, RoleOwner, "Owner of this personal workspace: admin on everything in it"},
		{Source{Rule: SourceBillingRole}, PermRead, RoleBilling, "Billing members can only read"},
		{Source{Rule: SourceBasePermission}, PermRead, RoleMember, "Member base permission of the org: read"},
		{Source{Rule: SourceTeamGrant, TeamID: 7, TeamName: "Platform"}, PermWrite, RoleMember, "Granted write through team Platform"},
		{Source{Rule: SourceCreator}, PermAdmin, RoleMember, "Created this agent: creators keep admin"},
		{Source{Rule: SourceNone}, PermNone, RoleMember, "A member with no grant"},
		{Source{Rule: "mystery"}, PermNone, RoleMember, "Unknown"},
	}
	for _, tt := range tests {
		if got := tt.src.Explain(tt.p, tt.role); got != tt.want {
			t.Errorf("%+v.Explain(%q, %q) = %q, want %q", tt.src, tt.p, tt.role, got, tt.want)
		}
	}
}

func TestSourceJSON(t *testing.T) {
	b, err := json.Marshal(Source{Rule: SourceTeamGrant, TeamID: 7, TeamName: "Platform"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"rule":"team_grant","team_id":7,"team_name":"Platform"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	b, _ = json.Marshal(Source{Rule: SourceOrgRole})
	if got, want := string(b), `{"rule":"org_role"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}
