package views

import (
	"bytes"
	"context"
	"testing"

	"github.com/a-h/templ"
)

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestHandWrittenRows: the team pages' hand-written rows write exactly what
// their templ originals write, for every branch (manager or not, yourself,
// leaving, a level change's error or notice) and names that need escaping.
func TestHandWrittenRows(t *testing.T) {
	names := []string{"Ada Lovelace", `<b>"Bob" & 'Co'</b>`, "émile", ""}
	for _, n := range names {
		for _, role := range []string{"", "Maintainer", "<Member>"} {
			tr := TeamRowView{ID: 77, Name: n, Description: n, Members: 12, Grants: 2000, YourRole: role}
			if got, want := renderString(t, TeamRow(tr)), renderString(t, teamRowTempl(tr)); got != want {
				t.Errorf("team row %+v:\n got %s\nwant %s", tr, got, want)
			}
		}
	}
	csrfs := []string{"hfcIUQBJbP2LIzYlOFOp4n32U2wbSwckgswUvsKxEYY", `a"<&>'`}
	for _, n := range names {
		for _, csrf := range csrfs {
			for _, manage := range []bool{true, false} {
				for _, you := range []bool{true, false} {
					m := TeamMemberRowView{UserID: 42, Name: n, Email: n + "@ex<ample>.com", Role: "maintainer", RoleLabel: "Maint'ainer",
						OrgRole: "Admin", IsYou: you, CanManage: manage, CanLeave: you}
					if got, want := renderString(t, TeamMemberRow(csrf, 7, "Team <"+n+">", m)), renderString(t, teamMemberRowTempl(csrf, 7, "Team <"+n+">", m)); got != want {
						t.Errorf("member row %+v:\n got %s\nwant %s", m, got, want)
					}
					m.Role = "member"
					if got, want := renderString(t, TeamMemberRow(csrf, 7, n, m)), renderString(t, teamMemberRowTempl(csrf, 7, n, m)); got != want {
						t.Errorf("member row %+v:\n got %s\nwant %s", m, got, want)
					}
				}
				for _, perm := range []string{"read", "write", "admin", `x"y`} {
					for _, note := range [][2]string{{"", ""}, {"Choose a <level>.", ""}, {"", "Now Admin & more."}, {"err", "notice"}} {
						g := GrantRowView{ID: 9, TeamID: 7, AgentID: 1234567, AgentName: n, Permission: perm, CanManage: manage, Error: note[0], Notice: note[1]}
						if got, want := renderString(t, GrantRow(csrf, g)), renderString(t, grantRowTempl(csrf, g)); got != want {
							t.Errorf("grant row %+v:\n got %s\nwant %s", g, got, want)
						}
					}
				}
			}
		}
	}
}

// TestAppendEscMatchesTempl: the hand-written rows escape as templ does, for
// every byte (each of the five it replaces, any other kept as it is).
func TestAppendEscMatchesTempl(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, s := range []string{"", "plain", `<a href="x">Tom & Jerry's</a>`, "&&", "é<ü>", string(all)} {
		if got, want := string(appendEsc([]byte("prefix"), s)), "prefix"+templ.EscapeString(s); got != want {
			t.Errorf("appendEsc(%q) = %q, want %q", s, got, want)
		}
	}
}
