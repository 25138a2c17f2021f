package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// AgentRow is one agent of the agents list, hand-written as the member and
// team rows are (teams_rows.go); agentRowTempl is the reference
// agents_rows_test.go compares it with.
func AgentRow(a AgentRowView) templ.Component {
	return rowComponent(func(b []byte) []byte {
		b = append(b, `<tr data-agent="`...)
		b = appendEsc(b, a.Name)
		b = append(b, `" data-permission="`...)
		b = appendEsc(b, a.Permission)
		b = append(b, `"><td class="team-name"><a href="/agents/`...)
		b = strconv.AppendInt(b, a.ID, 10)
		b = append(b, `">`...)
		b = appendEsc(b, a.Name)
		b = append(b, `</a> `...)
		if a.Description != "" {
			b = append(b, `<div class="muted">`...)
			b = appendEsc(b, a.Description)
			b = append(b, `</div>`...)
		}
		b = append(b, `</td><td class="muted">`...)
		b = appendEsc(b, a.Creator)
		b = append(b, `</td><td title="`...)
		b = appendEsc(b, a.Reason)
		b = append(b, `"><span class="badge badge-`...)
		b = appendEsc(b, a.Permission)
		b = append(b, `">`...)
		b = appendEsc(b, a.Permission)
		return append(b, `</span></td></tr>`...)
	})
}
