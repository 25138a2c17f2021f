package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// MemberRow is one member of the members list, hand-written as the team
// page's rows are (teams_rows.go): a page of 20 rows through templ was a
// fifth of the members page's server time. memberRowTempl stays the
// reference that members_rows_test.go compares it with.
func MemberRow(r MemberRowView) templ.Component {
	return rowComponent(func(b []byte) []byte { return appendMemberRow(b, r) })
}

func appendMemberRow(b []byte, r MemberRowView) []byte {
	uid := strconv.FormatInt(r.UserID, 10)
	b = append(b, `<tr id="member-`...)
	b = append(b, uid...)
	b = append(b, `" data-name="`...)
	b = appendEsc(b, r.Name)
	b = append(b, `" data-email="`...)
	b = appendEsc(b, r.Email)
	b = append(b, `" data-role="`...)
	b = appendEsc(b, r.Role)
	b = append(b, `"><td><div class="cell-person"><span class="avatar avatar-sm">`...)
	b = appendEsc(b, initial(r.Name))
	b = append(b, `</span><div><div class="cell-name">`...)
	b = appendEsc(b, r.Name)
	b = append(b, ' ')
	if r.IsYou {
		b = append(b, `<span class="badge">You</span>`...)
	}
	b = append(b, `</div><div class="sub">`...)
	b = appendEsc(b, r.Email)
	b = append(b, `</div></div></div></td><td class="role-cell"><span class="`...)
	b = appendEsc(b, "badge badge-"+r.Role)
	b = append(b, `">`...)
	b = appendEsc(b, r.RoleLabel)
	b = append(b, `</span> `...)
	if r.CanChangeRole {
		b = append(b, `<a class="btn btn-ghost btn-sm role-change" href="/members/`...)
		b = append(b, uid...)
		b = append(b, `/role" id="role-`...)
		b = append(b, uid...)
		b = append(b, `" data-member-role aria-haspopup="dialog" aria-label="Change role of `...)
		b = appendEsc(b, r.Name)
		b = append(b, `">Change</a> `...)
	}
	if r.Error != "" {
		b = append(b, `<p class="field-error row-message" role="alert">`...)
		b = appendEsc(b, r.Error)
		b = append(b, `</p>`...)
	} else if r.Notice != "" {
		b = append(b, `<p class="field-hint row-message row-ok" role="status">`...)
		b = appendEsc(b, r.Notice)
		b = append(b, `</p>`...)
	}
	b = append(b, `</td><td class="nowrap muted">`...)
	b = appendEsc(b, r.Joined)
	b = append(b, `</td><td class="nowrap muted">`...)
	b = appendEsc(b, r.LastActive)
	b = append(b, `</td>`...)
	if r.TwoFactor != nil {
		if *r.TwoFactor {
			b = append(b, `<td class="nowrap"><span class="badge badge-success">2FA on</span></td>`...)
		} else {
			b = append(b, `<td class="nowrap"><span class="badge badge-warn">2FA off</span></td>`...)
		}
	}
	b = append(b, `<td class="actions-col"><div class="row-actions">`...)
	if r.CanTransfer {
		b = append(b, `<a class="btn btn-ghost btn-sm" href="/members/`...)
		b = append(b, uid...)
		b = append(b, `/transfer" id="transfer-`...)
		b = append(b, uid...)
		b = append(b, `-open" data-member-ask="transfer" aria-haspopup="dialog" aria-label="Make owner: `...)
		b = appendEsc(b, r.Name)
		b = append(b, `">Make owner…</a> `...)
	}
	if r.CanRemove {
		b = append(b, `<a class="btn btn-ghost btn-sm btn-link-danger" href="/members/`...)
		b = append(b, uid...)
		b = append(b, `/remove" id="remove-`...)
		b = append(b, uid...)
		b = append(b, `-open" data-member-ask="remove" aria-haspopup="dialog" aria-label="Remove `...)
		b = appendEsc(b, r.Name)
		b = append(b, `">Remove…</a> `...)
	}
	if r.CanLeave {
		b = append(b, `<a class="btn btn-ghost btn-sm" href="/members/leave" data-confirm="leave" aria-haspopup="dialog">Leave…</a>`...)
	}
	return append(b, `</div></td></tr>`...)
}
