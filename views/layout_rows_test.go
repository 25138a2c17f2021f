package views

import "testing"

// TestHandWrittenSidebar: sidebar writes exactly what its templ original
// writes, for each item active or none, a personal workspace, and text that
// needs escaping.
func TestHandWrittenSidebar(t *testing.T) {
	items := []NavItem{{Key: "overview", Label: "Overview", Href: "/", Icon: "◎"}, {Key: "members", Label: "Members", Href: "/members", Icon: "◉"},
		{Key: "x", Label: `<b>"L" & 'M'</b>`, Href: `/a?b=1&c="2"`, Icon: "<"}}
	for _, active := range []WorkspaceItem{{Name: "Acme & <Co>"}, {Name: "Me", Personal: true}} {
		for _, nav := range []string{"", "overview", "members", "x"} {
			for _, ns := range [][]NavItem{items, nil} {
				s := Shell{Active: active, Nav: nav, NavItems: ns}
				if got, want := renderString(t, sidebar(s)), renderString(t, sidebarTempl(s)); got != want {
					t.Fatalf("sidebar %+v:\n got %s\nwant %s", s, got, want)
				}
			}
		}
	}
}
