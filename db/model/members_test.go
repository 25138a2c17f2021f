package model

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestMemberRulesMatrix checks every org role against every member action of
// SPEC 2, transcribed from the spec's table independently of the rules:
//
//	invite at member, admin or billing      owner admin
//	invite at owner; change to/from owner;  owner
//	  remove an owner
//	change roles, remove (non-owners)       owner admin
//	leave                                   everyone (never the last owner)
//	transfer ownership                      owner
func TestMemberRulesMatrix(t *testing.T) {
	type check struct {
		name string
		run  func(actor Role) error
		who  string // letters of the roles allowed: o a m b
	}
	checks := []check{
		{"invite at member", func(a Role) error { return CanInvite(a, RoleMember) }, "oa"},
		{"invite at admin", func(a Role) error { return CanInvite(a, RoleAdmin) }, "oa"},
		{"invite at billing", func(a Role) error { return CanInvite(a, RoleBilling) }, "oa"},
		{"invite at owner", func(a Role) error { return CanInvite(a, RoleOwner) }, "o"},
		{"resend at member", func(a Role) error { return CanResendInvitation(a, RoleMember) }, "oa"},
		{"resend at owner", func(a Role) error { return CanResendInvitation(a, RoleOwner) }, "o"},
		{"cancel invitation", func(a Role) error { return CanCancelInvitation(a) }, "oa"},
		{"member to admin", func(a Role) error { return CanChangeRole(a, RoleMember, RoleAdmin) }, "oa"},
		{"admin to billing", func(a Role) error { return CanChangeRole(a, RoleAdmin, RoleBilling) }, "oa"},
		{"billing to member", func(a Role) error { return CanChangeRole(a, RoleBilling, RoleMember) }, "oa"},
		{"member to owner", func(a Role) error { return CanChangeRole(a, RoleMember, RoleOwner) }, "o"},
		{"owner to admin", func(a Role) error { return CanChangeRole(a, RoleOwner, RoleAdmin) }, "o"},
		{"remove member", func(a Role) error { return CanRemoveMember(a, RoleMember) }, "oa"},
		{"remove admin", func(a Role) error { return CanRemoveMember(a, RoleAdmin) }, "oa"},
		{"remove billing", func(a Role) error { return CanRemoveMember(a, RoleBilling) }, "oa"},
		{"remove owner", func(a Role) error { return CanRemoveMember(a, RoleOwner) }, "o"},
		{"leave (two owners)", func(a Role) error { return CanLeave(OrgTeam, a, 2) }, "oamb"},
		{"transfer ownership to admin", func(a Role) error { return CanTransferOwnership(a, RoleAdmin) }, "o"},
		{"transfer ownership to member", func(a Role) error { return CanTransferOwnership(a, RoleMember) }, "o"},
	}
	letter := map[Role]string{RoleOwner: "o", RoleAdmin: "a", RoleMember: "m", RoleBilling: "b"}
	for _, c := range checks {
		for _, r := range Roles {
			want := strings.Contains(c.who, letter[r])
			err := c.run(r)
			if (err == nil) != want {
				t.Errorf("%s as %s: err = %v, want allowed=%v", c.name, r, err, want)
			}
			if err != nil && CodeOf(err) != CodeForbidden {
				t.Errorf("%s as %s: code %s, want forbidden", c.name, r, CodeOf(err))
			}
		}
		// Not a member: never.
		if err := c.run(""); err == nil && c.name != "leave (two owners)" {
			t.Errorf("%s as non-member: allowed", c.name)
		}
	}
	if got := CanSeeInvitations(RoleOwner) && CanSeeInvitations(RoleAdmin) &&
		!CanSeeInvitations(RoleMember) && !CanSeeInvitations(RoleBilling) && !CanSeeInvitations(""); !got {
		t.Error("CanSeeInvitations: want owner and admin only")
	}
}

func TestCanLeave(t *testing.T) {
	tests := []struct {
		name   string
		kind   OrgKind
		role   Role
		owners int
		want   Code
	}{
		{"last owner", OrgTeam, RoleOwner, 1, CodeConflict},
		{"one of two owners", OrgTeam, RoleOwner, 2, ""},
		{"admin", OrgTeam, RoleAdmin, 1, ""},
		{"member", OrgTeam, RoleMember, 1, ""},
		{"billing", OrgTeam, RoleBilling, 1, ""},
		{"personal workspace", OrgPersonal, RoleOwner, 1, CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, CanLeave(tt.kind, tt.role, tt.owners), tt.want, "")
		})
	}
}

func TestMemberPaging(t *testing.T) {
	tests := []struct{ page, per, wantPage, wantPer int }{
		{0, 0, 1, 20},
		{-3, -1, 1, 20},
		{2, 50, 2, 50},
		{1, 100, 1, 100},
		{1, 101, 1, 100},
		{7, 5000, 7, 100},
		{MaxPage + 1, 100, MaxPage, 100},
		{math.MaxInt, 100, MaxPage, 100}, // would overflow the SQL OFFSET
	}
	for _, tt := range tests {
		p, per := MemberPaging(tt.page, tt.per)
		if p != tt.wantPage || per != tt.wantPer {
			t.Errorf("MemberPaging(%d, %d) = %d, %d; want %d, %d", tt.page, tt.per, p, per, tt.wantPage, tt.wantPer)
		}
	}
	for _, tt := range []struct{ total, per, want int }{{0, 20, 1}, {1, 20, 1}, {20, 20, 1}, {21, 20, 2}, {100, 20, 5}} {
		if got := TotalPages(tt.total, tt.per); got != tt.want {
			t.Errorf("TotalPages(%d, %d) = %d, want %d", tt.total, tt.per, got, tt.want)
		}
	}
}

func TestInvitationStateAt(t *testing.T) {
	now := time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		status  InvitationStatus
		expires time.Time
		want    InvitationState
	}{
		{InvitationPending, now.Add(time.Hour), LinkValid},
		{InvitationPending, now, LinkExpired},
		{InvitationPending, now.Add(-time.Second), LinkExpired},
		{InvitationExpired, now.Add(time.Hour), LinkExpired},
		{InvitationAccepted, now.Add(time.Hour), LinkAccepted},
		{InvitationDeclined, now.Add(time.Hour), LinkDeclined},
		{InvitationCancelled, now.Add(time.Hour), LinkCancelled},
		{"weird", now.Add(time.Hour), LinkUnknown},
	}
	for _, tt := range tests {
		inv := Invitation{Status: tt.status, ExpiresAt: tt.expires}
		if got := inv.StateAt(now); got != tt.want {
			t.Errorf("%s expiring %v: state %s, want %s", tt.status, tt.expires, got, tt.want)
		}
	}
}

func TestStateError(t *testing.T) {
	inv := Invitation{InviterName: "Olive"}
	if err := StateError(LinkValid, inv); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for _, s := range []InvitationState{LinkExpired, LinkAccepted, LinkDeclined, LinkCancelled, LinkRotated} {
		wantCode(t, StateError(s, inv), CodeConflict, "")
	}
	wantCode(t, StateError(LinkUnknown, inv), CodeNotFound, "")
	if err := StateError(LinkExpired, inv); !strings.Contains(err.Error(), "Olive") {
		t.Errorf("expired message should name the inviter: %v", err)
	}
	if err := StateError(LinkRotated, inv); !strings.Contains(err.Error(), "newer") {
		t.Errorf("rotated message should say a newer link exists: %v", err)
	}
}

func TestCheckInvitee(t *testing.T) {
	wantCode(t, CheckInvitee("ann@example.com", true, "ann@example.com"), "", "")
	wantCode(t, CheckInvitee("Ann@Example.com", true, "ann@example.com"), "", "")
	err := CheckInvitee("bob@example.com", true, "ann@example.com")
	wantCode(t, err, CodeForbidden, "")
	if !strings.Contains(err.Error(), "ann@example.com") {
		t.Errorf("message should name the invited email: %v", err)
	}
	wantCode(t, CheckInvitee("ann@example.com", false, "ann@example.com"), CodeForbidden, "")
}

func TestParseInviteRole(t *testing.T) {
	if r, err := ParseInviteRole(""); err != nil || r != RoleMember {
		t.Errorf(`ParseInviteRole("") = %q, %v; want member`, r, err)
	}
	if r, err := ParseInviteRole("Admin"); err != nil || r != RoleAdmin {
		t.Errorf(`ParseInviteRole("Admin") = %q, %v`, r, err)
	}
	_, err := ParseInviteRole("wizard")
	wantCode(t, err, CodeValidation, "role")
}

func TestActionsOn(t *testing.T) {
	row := func(id int64, r Role) MemberRow { return MemberRow{AccountID: id, Role: r} }
	// Sole owner looking at themself: cannot leave, cannot demote themself.
	a := ActionsOn(OrgTeam, 1, RoleOwner, row(1, RoleOwner), 1)
	if a.Leave || a.ChangeRole || a.Remove || a.Transfer {
		t.Errorf("sole owner on self: %+v", a)
	}
	// Owner on a member: everything, all four roles.
	a = ActionsOn(OrgTeam, 1, RoleOwner, row(2, RoleMember), 1)
	if !a.ChangeRole || !a.Remove || !a.Transfer || a.Leave || len(a.Roles) != 4 {
		t.Errorf("owner on member: %+v", a)
	}
	// Admin on the owner: nothing.
	a = ActionsOn(OrgTeam, 3, RoleAdmin, row(1, RoleOwner), 1)
	if a.ChangeRole || a.Remove || a.Transfer || a.Leave {
		t.Errorf("admin on owner: %+v", a)
	}
	// Admin on a member: roles admin/member/billing, remove, no transfer.
	a = ActionsOn(OrgTeam, 3, RoleAdmin, row(2, RoleMember), 1)
	if !a.ChangeRole || !a.Remove || a.Transfer || len(a.Roles) != 3 || a.Roles[0] != RoleAdmin {
		t.Errorf("admin on member: %+v", a)
	}
	// Member on anyone: nothing; on self: leave.
	a = ActionsOn(OrgTeam, 2, RoleMember, row(3, RoleAdmin), 1)
	if a.ChangeRole || a.Remove || a.Transfer || a.Leave {
		t.Errorf("member on admin: %+v", a)
	}
	if a = ActionsOn(OrgTeam, 2, RoleMember, row(2, RoleMember), 1); !a.Leave || a.ChangeRole {
		t.Errorf("member on self: %+v", a)
	}
	// Two owners: either may leave or be demoted.
	if a = ActionsOn(OrgTeam, 1, RoleOwner, row(1, RoleOwner), 2); !a.Leave || !a.ChangeRole {
		t.Errorf("one of two owners on self: %+v", a)
	}
	// Personal workspace: nothing at all.
	if a = ActionsOn(OrgPersonal, 1, RoleOwner, row(1, RoleOwner), 1); a.Leave || a.ChangeRole || a.Remove || a.Transfer {
		t.Errorf("personal: %+v", a)
	}
}
