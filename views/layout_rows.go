package views

import "github.com/a-h/templ"

// sidebar is the workspace's navigation, on every page, hand-written as the
// list rows are (teams_rows.go): through templ its dozen links were a
// thirtieth of a page's server time. layout_rows_test.go compares it with
// sidebarTempl.
func sidebar(s Shell) templ.Component {
	return rowComponent(func(b []byte) []byte {
		b = append(b, `<nav class="sidebar" id="sidebar" aria-label="Workspace"><div class="sidebar-title">`...)
		b = appendEsc(b, workspaceLabel(s.Active))
		b = append(b, `</div>`...)
		for _, n := range s.NavItems {
			b = append(b, `<a href="`...)
			b = appendEsc(b, n.Href)
			if n.Key == s.Nav {
				b = append(b, `" class="nav-item is-active" aria-current="page"><span class="nav-icon" aria-hidden="true">`...)
			} else {
				b = append(b, `" class="nav-item"><span class="nav-icon" aria-hidden="true">`...)
			}
			b = appendEsc(b, n.Icon)
			b = append(b, `</span> `...)
			b = appendEsc(b, n.Label)
			b = append(b, `</a>`...)
		}
		return append(b, `</nav>`...)
	})
}
