package views

import (
	"net/url"
	"strconv"
	"strings"
)

// LimitBar is one plan limit with its use, for the bars on /usage and
// /settings. Level is "ok", "warn" (amber from 80%) or "full" (red at 100%).
type LimitBar struct {
	Key   string
	Label string
	Used  int64
	Max   int64
	Level string
	Pct   float64 // used as a percentage of Max
}

// PlanOption is one plan in the plan picker.
type PlanOption struct {
	Value   string
	Label   string
	Summary string
	// Consequence is what moving to this plan changes, asked before saving.
	Consequence string
}

// PlanView is the plan card on /settings.
type PlanView struct {
	Plan      string // the plan's value: free, pro, team
	Label     string
	Limits    []LimitBar
	CanChange bool
	Options   []PlanOption
	Error     string
}

// UsageDay is one bar of the chart.
type UsageDay struct {
	Date     string // 2006-01-02
	Label    string // Jan 2
	Requests int64
}

// AgentUse is one row of the by-agent table.
type AgentUse struct {
	ID       int64
	Name     string
	Gone     bool
	Requests int64
	Share    float64 // of the range's total, percent
}

// UsageView is the /usage page.
type UsageView struct {
	Period     string // day, week, month, custom
	StartDate  string // the form's values
	EndDate    string
	RangeLabel string
	Total      int64
	Limit      int64
	Pct        float64
	Days       []UsageDay
	Agents     []AgentUse // shown rows
	MoreAgents int        // rows left out of Agents
	AllAgents  bool
	Unassigned int64 // requests no route tied to an agent
	Limits     []LimitBar
	Errors     map[string]string
	Message    string
}

// Chart geometry: y in pixels, x in percent of the plot's width, so the
// chart fills any width without stretching its text.
const (
	chartH      = 240
	chartTop    = 12
	chartBottom = 28
)

// ChartBar is one day's bar.
type ChartBar struct {
	X, Y, W, H string
	Title      string
	Zero       bool
}

// ChartTick is a gridline or axis label. Minor labels hide on phones.
type ChartTick struct {
	Pos   string
	Label string
	Minor bool
}

// Chart is the server-rendered SVG bar chart of requests by day.
type Chart struct {
	Height string
	Bars   []ChartBar
	YTicks []ChartTick
	XTicks []ChartTick
	Base   string
}

// BuildChart lays out one bar per day on a scale rounded up to a nice step.
func BuildChart(days []UsageDay) Chart {
	c := Chart{Height: strconv.Itoa(chartH), Base: strconv.Itoa(chartH - chartBottom)}
	var top int64
	for _, d := range days {
		top = max(top, d.Requests)
	}
	step := niceStep(top)
	scaleMax := step * 4
	plotH := float64(chartH - chartTop - chartBottom)
	for i := int64(0); i <= 4; i++ {
		y := float64(chartH-chartBottom) - plotH*float64(i)/4
		c.YTicks = append(c.YTicks, ChartTick{Pos: ff(y), Label: Count(step * i)})
	}
	n := len(days)
	if n == 0 {
		return c
	}
	slot := 100 / float64(n)
	w := slot * 0.7
	if n == 1 {
		w = 20
	}
	every := (n + 9) / 10 // at most about ten date labels
	for i, d := range days {
		h := plotH * float64(d.Requests) / float64(scaleMax)
		if d.Requests > 0 && h < 1.5 {
			h = 1.5 // a day with requests never looks empty
		}
		x := slot*float64(i) + (slot-w)/2
		c.Bars = append(c.Bars, ChartBar{X: pc(x), Y: ff(float64(chartH-chartBottom) - h), W: pc(w), H: ff(h),
			Title: d.Label + ": " + Count(d.Requests) + plural1(d.Requests, " request"), Zero: d.Requests == 0})
		if i%every == 0 {
			c.XTicks = append(c.XTicks, ChartTick{Pos: pc(slot*float64(i) + slot/2), Label: d.Label, Minor: len(c.XTicks)%2 == 1})
		}
	}
	return c
}

func pc(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "%" }

func plural1(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// niceStep is a round gridline step so that 4 steps cover top.
func niceStep(top int64) int64 {
	if top <= 4 {
		return 1
	}
	raw := (top + 3) / 4
	mag := int64(1)
	for mag*10 <= raw {
		mag *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func ff(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// Count formats a count with thousands separators: 12,500.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Pct shows a percentage with at most one decimal.
func Pct(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// barValue is a limit bar's <progress> value, 0 to 100 (a <progress>, not a
// styled div: the CSP allows no inline style).
func barValue(p float64) string {
	return strconv.FormatFloat(min(max(p, 0), 100), 'f', 1, 64)
}

func usageTab(cur, want string) string {
	if cur == want {
		return "usage-tab is-active"
	}
	return "usage-tab"
}

func allAgentsURL(v UsageView) string {
	q := url.Values{"agents": {"all"}}
	if v.Period == "custom" {
		q.Set("start_date", v.StartDate)
		q.Set("end_date", v.EndDate)
	} else {
		q.Set("period", v.Period)
	}
	return "/usage?" + q.Encode()
}
