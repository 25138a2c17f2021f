package views

import "testing"

// TestHandWrittenMemberRow: MemberRow writes exactly what its templ original
// writes, for every combination of the row's actions, yourself, an error or
// a notice, the two-factor column shown or not, and text that needs
// escaping.
func TestHandWrittenMemberRow(t *testing.T) {
	on, off := true, false
	n := 0
	for _, name := range []string{"Ada Lovelace", `<b>"Bob" & 'Co'</b>`, "émile", ""} {
		for _, role := range []string{"owner", "member", `x"<y>`} {
			for _, note := range [][2]string{{"", ""}, {"Only owners can <do> that.", ""}, {"", "Now Admin & more."}, {"err", "notice"}} {
				for _, tf := range []*bool{nil, &on, &off} {
					for flags := range 32 {
						r := MemberRowView{UserID: 1234567, Name: name, Email: name + "@ex<ample>.com", Role: role, RoleLabel: "Lab'el " + role,
							Joined: "Nov 30, 2026", LastActive: "<just now>", IsYou: flags&1 != 0, CanChangeRole: flags&2 != 0,
							CanRemove: flags&4 != 0, CanLeave: flags&8 != 0, CanTransfer: flags&16 != 0, Error: note[0], Notice: note[1], TwoFactor: tf}
						if got, want := renderString(t, MemberRow(r)), renderString(t, memberRowTempl(r)); got != want {
							t.Fatalf("member row %+v:\n got %s\nwant %s", r, got, want)
						}
						n++
					}
				}
			}
		}
	}
	if n != 4*3*4*3*32 {
		t.Fatalf("compared %d rows", n)
	}
}
