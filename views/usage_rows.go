package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// ChartMarks is the usage chart's bars and day labels (30 or 31 of each),
// and UsageDayRows the table that says the same to screen readers,
// hand-written as the list rows are (teams_rows.go): through templ they were
// a seventh of the usage page's server time. usage_rows_test.go compares
// them with chartMarksTempl and usageDayRowsTempl.
func ChartMarks(c Chart) templ.Component {
	return rowComponent(func(b []byte) []byte {
		for _, bar := range c.Bars {
			if bar.Zero {
				b = append(b, `<rect class="chart-bar is-zero" x="`...)
			} else {
				b = append(b, `<rect class="chart-bar" x="`...)
			}
			b = appendEsc(b, bar.X)
			b = append(b, `" y="`...)
			b = appendEsc(b, bar.Y)
			b = append(b, `" width="`...)
			b = appendEsc(b, bar.W)
			b = append(b, `" height="`...)
			b = appendEsc(b, bar.H)
			b = append(b, `" rx="2"><title>`...)
			b = appendEsc(b, bar.Title)
			b = append(b, `</title></rect> `...)
		}
		for _, t := range c.XTicks {
			if t.Minor {
				b = append(b, `<text class="chart-xlabel is-minor" x="`...)
			} else {
				b = append(b, `<text class="chart-xlabel" x="`...)
			}
			b = appendEsc(b, t.Pos)
			b = append(b, `" y="`...)
			b = appendEsc(b, c.Base)
			b = append(b, `" dy="18" text-anchor="middle">`...)
			b = appendEsc(b, t.Label)
			b = append(b, `</text>`...)
		}
		return b
	})
}

// UsageDayRows is the rows of the usage chart's table.
func UsageDayRows(days []UsageDay) templ.Component {
	return rowComponent(func(b []byte) []byte {
		for _, d := range days {
			b = append(b, `<tr><td>`...)
			b = appendEsc(b, d.Date)
			b = append(b, `</td><td>`...)
			b = strconv.AppendInt(b, d.Requests, 10)
			b = append(b, `</td></tr>`...)
		}
		return b
	})
}
