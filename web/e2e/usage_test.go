package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

// TestUsagePages: /usage for every role at desktop and phone width, with
// requests made by a script and a history of earlier days; the overview
// links to it; the owner changes the plan on /settings.
func TestUsagePages(t *testing.T) {
	env := webtest.New(t)
	owner, _ := env.SignUpAPI("olga@example.com", "Olga Owner")
	env.VerifyEmail("olga@example.com")
	r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme Robotics", "slug": "acme"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	var org int64
	if err := env.Store.DB().Get(&org, `SELECT id FROM orgs WHERE slug = 'acme'`); err != nil {
		t.Fatal(err)
	}
	roles := []struct{ email, name, role string }{
		{"adam@example.com", "Adam Admin", "admin"},
		{"mia@example.com", "Mia Member", "member"},
		{"bill@example.com", "Bill Billing", "billing"},
	}
	for _, p := range roles {
		_, id := env.SignUpAPI(p.email, p.name)
		env.VerifyEmail(p.email)
		env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, org, id, p.role)
	}
	// A token bound to the org creates three agents and uses two of them.
	r = owner.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "script", "org": "acme"})
	bot := env.NewAPI(r.Data()["token"].(string))
	var agents []int64
	for _, name := range []string{"Support triage", "Invoice reader", "Release notes"} {
		r := bot.Do(http.MethodPost, "/api/agents", map[string]any{"name": name, "org": "acme"})
		agents = append(agents, int64(r.Data()["id"].(float64)))
	}
	for i := 0; i < 6; i++ {
		bot.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", agents[i%2]), nil)
	}
	if err := env.Server.Meter().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Earlier days of the month, as if the script had run all along; the
	// limits sit at amber (members 4 of 5) and red (agents 3 of 3).
	now := env.Clock.Now().UTC()
	var hist []db.UsageDelta
	for d := model.MonthStart(now); d.Before(model.Day(now)); d = d.AddDate(0, 0, 1) {
		hist = append(hist, db.UsageDelta{OrgID: org, AgentID: agents[0], Day: d, Requests: int64(40 + d.Day()*7%50)},
			db.UsageDelta{OrgID: org, AgentID: agents[1], Day: d, Requests: int64(10 + d.Day()*3%20)})
	}
	if err := env.Store.RecordUsage(context.Background(), hist); err != nil {
		t.Fatal(err)
	}
	env.Store.DB().MustExec(`UPDATE orgs SET limit_agents = 3 WHERE id = $1`, org)
	rep, _ := env.Store.UsageReport(context.Background(), org, mustRange(t, now), 0)

	b := memberBrowser{Browser: browsertest.New(t), t: t, env: env}
	people := append([]struct{ email, name, role string }{{"olga@example.com", "Olga Owner", "owner"}}, roles...)
	for i, p := range people {
		b.signIn(p.email)
		b.switchTo("acme")
		if i == 0 {
			// The overview links to the usage page.
			b.RunResponse(chromedp.Click("#overview-usage"))
			b.waitText("Requests by day")
		} else {
			b.Navigate(env.URL + "/usage")
		}
		b.WaitVisible("#usage-chart")
		if got := b.Text("#usage-total"); got != views(rep.Total) {
			t.Fatalf("%s: total %q, want %s", p.role, got, views(rep.Total))
		}
		checkUsagePage(t, b, now, agents)
		b.CheckPage(t, p.role)
		b.Run(chromedp.EmulateViewport(390, 844))
		b.Navigate(env.URL + "/usage")
		b.WaitVisible("#usage-chart")
		// The page's own content fits the phone (the shared header is the
		// layout's).
		if wide := evalStr(t, b, `[...document.querySelectorAll("main *")].filter(e => e.getBoundingClientRect().right > 391).map(e => e.tagName + "#" + e.id).join(" ")`); wide != "" {
			t.Fatalf("%s: wider than the phone: %s", p.role, wide)
		}
		b.Run(chromedp.EmulateViewport(1280, 900))
		if i == 0 {
			// Week tab and a date range.
			b.RunResponse(chromedp.Click(`a[href="/usage?period=week"]`))
			b.waitText("this week")
			b.Navigate(env.URL + "/usage")
			evalStr(t, b, `document.getElementById("f-start_date").value = "`+model.MonthStart(now).Format(time.DateOnly)+`"`)
			evalStr(t, b, `document.getElementById("f-end_date").value = "`+now.Format(time.DateOnly)+`"`)
			b.RunResponse(browsertest.SubmitForm("#range-form button"))
			b.waitText(model.MonthStart(now).Format("Jan 2") + " – ")
			b.CheckPage(t, "owner-range")
		}
		b.signOut()
	}
	// The plan card: the owner moves to Pro, without payment.
	b.signIn("olga@example.com")
	b.switchTo("acme")
	b.Navigate(env.URL + "/settings")
	b.WaitVisible("#plan-form")
	b.CheckPage(t, "owner-settings-plan")
	b.Click(`#plan-form input[value="pro"]`)
	// Saving asks first, naming the limits that change.
	b.Submit("#plan-form button")
	b.WaitVisible("#plan-dialog [data-confirm-choice-ok]")
	if txt := b.Text("#plan-dialog"); !strings.Contains(txt, "Move to Pro") || !strings.Contains(txt, "Limits change") {
		t.Fatalf("plan dialog %q", txt)
	}
	b.CheckPage(t, "owner-plan-confirm")
	b.RunResponse(chromedp.Click("#plan-dialog [data-confirm-choice-ok]"))
	b.waitText("No payment was taken")
	if got := b.Text("#plan-name"); got != "Pro" {
		t.Fatalf("plan after change: %q", got)
	}
	b.Navigate(env.URL + "/settings")
	b.WaitVisible("#plan-form")
	b.CheckPage(t, "owner-settings-plan-after")
}

func mustRange(t *testing.T, now time.Time) model.UsageRange {
	r, err := model.ParseUsageRange("", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func views(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func evalStr(t *testing.T, b memberBrowser, js string) string {
	t.Helper()
	v, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkUsagePage: one bar per day with a hover title, the same numbers in the
// hidden table, the agents table, and the limit levels.
func checkUsagePage(t *testing.T, b memberBrowser, now time.Time, agents []int64) {
	t.Helper()
	days := model.NextMonthStart(now).AddDate(0, 0, -1).Day()
	if n := evalInt(t, b, `document.querySelectorAll("#usage-chart rect.chart-bar").length`); n != days {
		t.Fatalf("%d bars, want %d", n, days)
	}
	if n := evalInt(t, b, `document.querySelectorAll("#usage-days-table tbody tr").length`); n != days {
		t.Fatalf("%d hidden rows, want %d", n, days)
	}
	today := now.Format("Jan 2")
	title := evalStr(t, b, `[...document.querySelectorAll("#usage-chart rect title")].map(t => t.textContent).find(t => t.startsWith(`+strconv.Quote(today+":")+`)) || ""`)
	if !strings.Contains(title, "request") {
		t.Fatalf("no hover title for today: %q", title)
	}
	if vis := evalStr(t, b, `getComputedStyle(document.getElementById("usage-days-table")).position`); vis != "absolute" {
		t.Fatalf("the day table is not visually hidden (%s)", vis)
	}
	for _, id := range agents[:2] {
		b.WaitVisible(fmt.Sprintf("#agent-use-%d", id))
	}
	for key, level := range map[string]string{"agents": "full", "team_members": "warn", "monthly_requests": "ok"} {
		if got := evalStr(t, b, `document.getElementById("limit-`+key+`").dataset.level`); got != level {
			t.Fatalf("limit %s level %q, want %q", key, got, level)
		}
	}
	// The colour as drawn: getComputedStyle cannot read a <progress>'s
	// ::-webkit-progress-value, so look at the pixels of its filled part.
	if c := barPixel(t, b, "#limit-agents progress.bar"); c != (color.RGBA{217, 45, 32, 255}) {
		t.Fatalf("the full bar is %v, not red", c)
	}
	if c := barPixel(t, b, "#limit-team_members progress.bar"); c != (color.RGBA{247, 144, 9, 255}) {
		t.Fatalf("the 80%% bar is %v, not amber", c)
	}
}

// barPixel is the colour at a quarter of the bar's width, mid-height (the
// filled part of any bar past 25%).
func barPixel(t *testing.T, b memberBrowser, sel string) color.RGBA {
	t.Helper()
	shot, err := chromedp.Run(b.Ctx(), chromedp.Screenshot(sel))
	if err != nil {
		t.Fatalf("screenshot %s: %v", sel, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decode %s: %v", sel, err)
	}
	r := img.Bounds()
	return color.RGBAModel.Convert(img.At(r.Min.X+r.Dx()/4, r.Min.Y+r.Dy()/2)).(color.RGBA)
}
