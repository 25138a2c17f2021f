package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// EntryRowLine is one entry of the wallet's history, hand-written as the
// member and team rows are (teams_rows.go); entryRowTempl is the reference
// wallet_rows_test.go compares it with. Kinds are the ledger's (a CHECK
// constraint), valid class names as they are.
func EntryRowLine(e EntryRow) templ.Component {
	return rowComponent(func(b []byte) []byte {
		b = append(b, `<tr id="entry-`...)
		b = strconv.AppendInt(b, e.ID, 10)
		b = append(b, `" data-kind="`...)
		b = appendEsc(b, e.Kind)
		b = append(b, `"><td class="nowrap muted" title="`...)
		b = appendEsc(b, e.WhenFull)
		b = append(b, `">`...)
		b = appendEsc(b, e.When)
		b = append(b, `</td><td class="nowrap"><span class="badge kind-`...)
		b = appendEsc(b, e.Kind)
		b = append(b, `">`...)
		b = appendEsc(b, kindLabel(e.Kind))
		b = append(b, `</span></td><td>`...)
		b = appendEsc(b, e.Actor)
		b = append(b, `</td><td>`...)
		if e.PkgHref != "" {
			b = append(b, `<a href="`...)
			b = appendEsc(b, e.PkgHref)
			b = append(b, `">`...)
			b = appendEsc(b, e.Package)
			b = append(b, `</a>`...)
		} else {
			b = append(b, `<span class="muted">`...)
			b = appendEsc(b, e.Note)
			b = append(b, `</span>`...)
		}
		if e.Credit {
			b = append(b, `</td><td class="num nowrap credit">`...)
		} else {
			b = append(b, `</td><td class="num nowrap debit">`...)
		}
		b = appendEsc(b, e.Amount)
		b = append(b, `</td><td class="num nowrap">`...)
		b = appendEsc(b, e.After)
		return append(b, `</td></tr>`...)
	})
}
