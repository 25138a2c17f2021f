package model

import "testing"

func TestCanGrant(t *testing.T) {
	cases := []struct {
		actor      Role
		have, give Permission
		wantCode   Code
	}{
		{RoleOwner, PermNone, PermAdmin, ""},
		{RoleAdmin, PermNone, PermAdmin, ""},
		{RoleMember, PermAdmin, PermAdmin, ""},
		{RoleMember, PermWrite, PermWrite, ""},
		{RoleMember, PermWrite, PermRead, ""},
		{RoleMember, PermWrite, PermAdmin, CodeForbidden},
		{RoleMember, PermRead, PermWrite, CodeForbidden},
		{RoleMember, PermNone, PermRead, CodeNotFound}, // cannot even see it
	}
	for _, c := range cases {
		err := CanGrant(c.actor, c.have, c.give)
		if CodeOf(err) != c.wantCode {
			t.Errorf("%s with %s grants %s: %v, want %q", c.actor, c.have, c.give, err, c.wantCode)
		}
	}
}
