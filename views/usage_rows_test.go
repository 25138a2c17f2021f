package views

import (
	"testing"
	"time"
)

// TestHandWrittenChart: ChartMarks and UsageDayRows write exactly what
// their templ originals write, for a month of real days (zero days, minor
// labels) and for text that needs escaping.
func TestHandWrittenChart(t *testing.T) {
	var days []UsageDay
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		days = append(days, UsageDay{Date: start.AddDate(0, 0, i).Format("2006-01-02"), Requests: int64(i * i % 7 * 1234)})
	}
	charts := []Chart{BuildChart(days), BuildChart(nil), {
		Base: `1"2`, Bars: []ChartBar{{X: "<x>", Y: "&", W: `"w"`, H: "'h'", Title: `<b>"t" & 'u'</b>`, Zero: true}, {Title: "é"}},
		XTicks: []ChartTick{{Pos: `<p>`, Label: `"l" & 'm'`, Minor: true}, {Label: "Nov 1"}},
	}}
	for _, c := range charts {
		if got, want := renderString(t, ChartMarks(c)), renderString(t, chartMarksTempl(c)); got != want {
			t.Fatalf("chart %+v:\n got %s\nwant %s", c, got, want)
		}
	}
	if len(charts[0].Bars) != 30 || len(charts[0].XTicks) == 0 {
		t.Fatalf("BuildChart made %d bars, %d labels", len(charts[0].Bars), len(charts[0].XTicks))
	}
	for _, ds := range [][]UsageDay{days, nil, {{Date: `<"d"> & 'e'`, Requests: -5}}} {
		if got, want := renderString(t, UsageDayRows(ds)), renderString(t, usageDayRowsTempl(ds)); got != want {
			t.Fatalf("day rows %+v:\n got %s\nwant %s", ds, got, want)
		}
	}
}
