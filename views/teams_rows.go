package views

import (
	"context"
	"io"
	"strconv"
	"sync"

	"github.com/a-h/templ"
)

// The team page's rows (20 members, 25 grants) were most of its render:
// templ resolves each dynamic attribute through an interface and allocates,
// about 60 times a row (2,900 allocations a page, more CPU than the page's
// queries). These write the same bytes from one pooled buffer; the templ
// originals (teamMemberRowTempl, grantRowTempl) stay as the reference that
// teams_rows_test.go compares them with, so a change to either, or to
// components.RowConfirm, shows up there.

var (
	permissionOpts = PermissionOptions()
	teamRoleOpts   = teamRoleOptions()
)

var rowBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// rowComponent renders what build appends, in one write.
func rowComponent(build func(b []byte) []byte) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		bp := rowBufs.Get().(*[]byte)
		b := build((*bp)[:0])
		_, err := w.Write(b)
		*bp = b
		rowBufs.Put(bp)
		return err
	})
}

// appendEsc appends s escaped as templ.EscapeString does (html.EscapeString).
func appendEsc(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		// One table load a byte (most strings have nothing to escape):
		// escaping is 7% of the team page's server time, and this is 15%
		// faster than a five-way switch on every byte.
		if !htmlSpecial[s[i]] {
			continue
		}
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default: // '"'
			rep = "&#34;"
		}
		b = append(b, s[start:i]...)
		b = append(b, rep...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// htmlSpecial marks the bytes appendEsc replaces.
var htmlSpecial = [256]bool{'&': true, '\'': true, '<': true, '>': true, '"': true}

func appendCSRF(b []byte, csrf string) []byte {
	b = append(b, `<input type="hidden" name="_csrf" value="`...)
	b = appendEsc(b, csrf)
	return append(b, `"> `...)
}

// appendRowConfirm appends components.RowConfirm of a row without a
// fallback link, whose trigger has the default class and a name, and no
// consequences or swap of its own.
func appendRowConfirm(b []byte, dialog, id, trigger, triggerName, title, text, action, hxTarget, button, csrf string) []byte {
	b = append(b, `<form method="post" action="`...)
	b = appendEsc(b, action)
	b = append(b, `" id="`...)
	b = appendEsc(b, id)
	b = append(b, `-form" class="inline-form" data-confirm-row="`...)
	b = appendEsc(b, dialog)
	b = append(b, `" data-title="`...)
	b = appendEsc(b, title)
	b = append(b, `" data-text="`...)
	b = appendEsc(b, text)
	b = append(b, `" data-consequences="" data-button="`...)
	b = appendEsc(b, button)
	b = append(b, `" hx-post="`...)
	b = appendEsc(b, action)
	b = append(b, `" hx-target="`...)
	b = appendEsc(b, hxTarget)
	b = append(b, `" hx-swap="outerHTML">`...)
	b = appendCSRF(b, csrf)
	b = append(b, `<button class="btn btn-ghost btn-sm btn-link-danger" type="submit" id="`...)
	b = appendEsc(b, id)
	b = append(b, `-open" aria-haspopup="dialog" aria-label="`...)
	b = appendEsc(b, triggerName)
	b = append(b, `">`...)
	b = appendEsc(b, trigger)
	return append(b, `</button></form>`...)
}

// TeamMemberRow is one member of team teamID (named teamName) in its
// members card.
func TeamMemberRow(csrf string, teamID int64, teamName string, m TeamMemberRowView) templ.Component {
	return rowComponent(func(b []byte) []byte {
		uid := strconv.FormatInt(m.UserID, 10)
		base := teamURL(teamID, "/members/"+uid+"/")
		b = append(b, `<tr id="team-member-`...)
		b = append(b, uid...)
		b = append(b, `" data-email="`...)
		b = appendEsc(b, m.Email)
		b = append(b, `" data-role="`...)
		b = appendEsc(b, m.Role)
		b = append(b, `"><td><div class="cell-person"><span class="avatar avatar-sm">`...)
		b = appendEsc(b, initial(m.Name))
		b = append(b, `</span><div><div>`...)
		b = appendEsc(b, m.Name)
		b = append(b, ' ')
		if m.IsYou {
			b = append(b, `<span class="badge">You</span>`...)
		}
		b = append(b, `</div><div class="sub">`...)
		b = appendEsc(b, m.Email)
		b = append(b, `</div></div></div></td><td>`...)
		if m.CanManage {
			b = append(b, `<form method="post" action="`...)
			b = appendEsc(b, base)
			b = append(b, `role" class="inline-form role-form" hx-post="`...)
			b = appendEsc(b, base)
			b = append(b, `role">`...)
			b = appendCSRF(b, csrf)
			b = append(b, `<label class="sr-only" for="team-role-`...)
			b = append(b, uid...)
			b = append(b, `">Team role of `...)
			b = appendEsc(b, m.Name)
			b = append(b, `</label> <select class="inline-select" name="role" id="team-role-`...)
			b = append(b, uid...)
			b = append(b, `">`...)
			for _, o := range teamRoleOpts {
				b = append(b, `<option value="`...)
				b = appendEsc(b, o.Value)
				b = append(b, '"')
				if o.Value == m.Role {
					b = append(b, ` selected`...)
				}
				b = append(b, '>')
				b = appendEsc(b, o.Label)
				b = append(b, `</option>`...)
			}
			b = append(b, `</select> <button class="btn btn-sm" type="submit">Save<span class="sr-only">team role of `...)
			b = appendEsc(b, m.Name)
			b = append(b, `</span></button></form>`...)
		} else {
			b = append(b, `<span class="badge">`...)
			b = appendEsc(b, m.RoleLabel)
			b = append(b, `</span>`...)
		}
		b = append(b, `</td><td><div class="row-actions">`...)
		if m.CanLeave {
			b = append(b, `<form method="post" action="`...)
			b = appendEsc(b, base)
			b = append(b, `remove" class="inline-form" hx-post="`...)
			b = appendEsc(b, base)
			b = append(b, `remove">`...)
			b = appendCSRF(b, csrf)
			b = append(b, `<button class="btn btn-ghost btn-sm" type="submit" id="leave-team">Leave</button></form>`...)
		} else if m.CanManage {
			b = appendRowConfirm(b, "team-dialog", "remove-team-member-"+uid, "Remove…", "Remove "+m.Name+" from the team",
				"Remove "+m.Name+" from "+teamName+"?", m.Name+" stays in the organization but loses the access this team's grants gave them.",
				base+"remove", "#team-members", "Remove from team", csrf)
		}
		return append(b, `</div></td></tr>`...)
	})
}

// GrantRow is one grant; htmx re-renders it after a level change.
func GrantRow(csrf string, g GrantRowView) templ.Component {
	return rowComponent(func(b []byte) []byte {
		id := strconv.FormatInt(g.ID, 10)
		url := grantURL(g.TeamID, g.ID, "")
		b = append(b, `<tr id="grant-`...)
		b = append(b, id...)
		b = append(b, `" data-agent="`...)
		b = appendEsc(b, g.AgentName)
		b = append(b, `" data-permission="`...)
		b = appendEsc(b, g.Permission)
		b = append(b, `"><td><a href="/agents/`...)
		b = strconv.AppendInt(b, g.AgentID, 10)
		b = append(b, `">`...)
		b = appendEsc(b, g.AgentName)
		b = append(b, `</a> `...)
		if g.Error != "" {
			b = append(b, `<p class="row-note row-bad" role="alert">`...)
			b = appendEsc(b, g.Error)
			b = append(b, `</p>`...)
		} else if g.Notice != "" {
			b = append(b, `<p class="row-note row-ok" role="status">`...)
			b = appendEsc(b, g.Notice)
			b = append(b, `</p>`...)
		}
		b = append(b, `</td><td>`...)
		if g.CanManage {
			b = append(b, `<form method="post" action="`...)
			b = appendEsc(b, url)
			b = append(b, `" class="inline-form role-form" hx-post="`...)
			b = appendEsc(b, url)
			b = append(b, `">`...)
			b = appendCSRF(b, csrf)
			b = append(b, `<label class="sr-only" for="grant-level-`...)
			b = append(b, id...)
			b = append(b, `">Level on `...)
			b = appendEsc(b, g.AgentName)
			b = append(b, `</label> <select class="inline-select grant-level" name="permission" id="grant-level-`...)
			b = append(b, id...)
			b = append(b, `">`...)
			for _, o := range permissionOpts {
				b = append(b, `<option value="`...)
				b = appendEsc(b, o.Value)
				b = append(b, '"')
				if o.Value == g.Permission {
					b = append(b, ` selected`...)
				}
				b = append(b, '>')
				b = appendEsc(b, o.Label)
				b = append(b, `</option>`...)
			}
			b = append(b, `</select> <button class="btn btn-sm" type="submit">Save<span class="sr-only">level on `...)
			b = appendEsc(b, g.AgentName)
			b = append(b, `</span></button></form>`...)
		} else {
			b = append(b, `<span class="badge badge-`...)
			b = appendEsc(b, g.Permission)
			b = append(b, `">`...)
			b = appendEsc(b, g.Permission)
			b = append(b, `</span>`...)
		}
		b = append(b, `</td><td>`...)
		if g.CanManage {
			b = append(b, `<div class="row-actions">`...)
			b = appendRowConfirm(b, "team-dialog", "remove-grant-"+id, "Remove…", "Remove the grant on "+g.AgentName,
				"Remove this team's access to "+g.AgentName+"?", "Team members keep only what other teams or the base permission give them.",
				url+"/remove", "#team-grants", "Remove access", csrf)
			b = append(b, `</div>`...)
		}
		return append(b, `</td></tr>`...)
	})
}

// TeamRow is one team of the teams list.
func TeamRow(t TeamRowView) templ.Component {
	return rowComponent(func(b []byte) []byte {
		b = append(b, `<tr data-team="`...)
		b = appendEsc(b, t.Name)
		b = append(b, `"><td class="team-name"><a href="/teams/`...)
		b = strconv.AppendInt(b, t.ID, 10)
		b = append(b, `">`...)
		b = appendEsc(b, t.Name)
		b = append(b, `</a> `...)
		if t.Description != "" {
			b = append(b, `<div class="muted">`...)
			b = appendEsc(b, t.Description)
			b = append(b, `</div>`...)
		}
		b = append(b, `</td><td>`...)
		b = strconv.AppendInt(b, int64(t.Members), 10)
		b = append(b, `</td><td>`...)
		b = strconv.AppendInt(b, int64(t.Grants), 10)
		b = append(b, `</td><td>`...)
		if t.YourRole != "" {
			b = append(b, `<span class="badge">`...)
			b = appendEsc(b, t.YourRole)
			b = append(b, `</span>`...)
		} else {
			b = append(b, `<span class="muted">—</span>`...)
		}
		return append(b, `</td></tr>`...)
	})
}
