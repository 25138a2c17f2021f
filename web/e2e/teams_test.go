package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guildhall/db/demo"
	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

func tgOptionValue(b *browsertest.Browser, selector, labelPart string) string {
	js := `(() => {
		for (const o of document.querySelectorAll(` + strconv.Quote(selector+" option") + `)) {
			if (o.textContent.includes(` + strconv.Quote(labelPart) + `)) return o.value;
		}
		return "";
	})()`
	var v string
	b.Run(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var err error
		v, err = chromedp.Evaluate[string](js)(ctx, t)
		return err
	}))
	if v == "" {
		b.Screenshot("missing-option")
	}
	return v
}

// TestTeamAgentTransferPages: an admin builds a team in the browser (add a
// member, grant an agent, change the level with htmx), uses the access
// explainer, and transfers another agent to a colleague who accepts it from
// the emailed link.
func TestTeamAgentTransferPages(t *testing.T) {
	env := webtest.New(t)
	env.SignUpVerified("ada@example.com", "Ada Admin")
	env.SignUpVerified("mo@example.com", "Mo Member")
	env.SignUpVerified("cleo@example.com", "Cleo Colleague")

	b := browsertest.New(t)
	b.SignIn(env.URL, "ada@example.com", webtest.Password)
	b.Navigate(env.URL + "/orgs/new")
	b.Fill("#f-display_name", "Acme Robotics")
	b.RunResponse(browsertest.SubmitForm("#f-display_name"))
	var orgID int64
	if err := env.Store.DB().Get(&orgID, `SELECT id FROM orgs WHERE kind = 'team'`); err != nil {
		t.Fatal(err)
	}
	mo, _ := env.Store.AccountByEmail(t.Context(), "mo@example.com")
	if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, orgID, mo.ID); err != nil {
		t.Fatal(err)
	}

	// Two agents.
	for _, name := range []string{"Support triage", "Release notes writer"} {
		b.Navigate(env.URL + "/agents")
		b.Fill("#f-name", name)
		b.Fill("#f-description", "Helps the team with "+strings.ToLower(name))
		b.RunResponse(browsertest.SubmitForm("#f-name"))
		if got := b.Text("#agent-title"); got != name {
			t.Fatalf("agent page title %q", got)
		}
	}
	agentPage := b.Location()
	b.Navigate(env.URL + "/agents")
	b.Screenshot("agents-list")

	// A team: add Mo, grant the triage agent at read, then raise to admin.
	b.Navigate(env.URL + "/teams")
	b.Fill("#f-name", "Platform")
	b.Fill("#f-description", "Runs the support tooling")
	b.RunResponse(browsertest.SubmitForm("#f-name"))
	teamPage := b.Location()
	// The pickers open on demand: their choices load when asked for.
	b.Click("#open-member-picker")
	b.WaitVisible("#f-user_id")
	b.Choose("#f-user_id", tgOptionValue(b, "#f-user_id", "Mo Member"))
	b.Click("#add-member")
	b.WaitVisible(`#team-members tr[data-email="mo@example.com"]`)
	b.Click("#open-grant-picker")
	b.WaitVisible("#f-resource_id")
	b.Choose("#f-resource_id", tgOptionValue(b, "#f-resource_id", "Support triage"))
	b.Choose("#f-permission", "read")
	b.Click("#add-grant")
	b.WaitVisible(`#grants-table tr[data-agent="Support triage"][data-permission="read"]`)
	b.Choose("#grants-table select.grant-level", "admin")
	pollJS(t, b, `!document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping, .htmx-added")`)
	b.Click("#grants-table .role-form button[type=submit]")
	b.WaitVisible(`#grants-table tr[data-agent="Support triage"][data-permission="admin"]`)
	if !strings.Contains(b.Text("#grants-table"), "Now Admin") {
		t.Error("no confirmation after the level change")
	}
	b.Screenshot("team-page")
	var level string
	if err := env.Store.DB().Get(&level, `SELECT permission FROM grants`); err != nil || level != "admin" {
		t.Fatalf("grant level in the database: %q %v", level, err)
	}

	// The explainer on the triage agent: Mo has admin through Platform.
	var triageID int64
	if err := env.Store.DB().Get(&triageID, `SELECT id FROM agents WHERE name = 'Support triage'`); err != nil {
		t.Fatal(err)
	}
	b.Navigate(env.URL + "/agents/" + strconv.FormatInt(triageID, 10))
	// The explainer opens on demand; its member list gets the focus.
	b.Click("#open-explainer")
	pollJS(t, b, `document.activeElement && document.activeElement.id === "f-explain" &&
		!document.querySelector(".htmx-settling") && document.querySelector("#explain-form")["htmx-internal-data"] !== undefined`)
	b.Choose("#f-explain", strconv.FormatInt(mo.ID, 10))
	b.WaitVisible(`#explain-result .perm-explain[data-permission="admin"]`)
	if got := b.Text("#explain-reason"); !strings.Contains(got, "through team Platform") {
		t.Errorf("explainer says %q", got)
	}
	b.Screenshot("agent-explainer")

	// Removing the grant asks first, in the team page's one shared dialog
	// filled from the row: Cancel keeps it, the confirm removes it.
	b.Navigate(teamPage)
	grantID, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`document.querySelector('#grants-table tr[data-agent="Support triage"]').id`))
	if err != nil {
		t.Fatal(err)
	}
	b.Click("#remove-" + grantID + "-open")
	b.WaitVisible("#team-dialog [data-row-ok]")
	if txt := b.Text("#team-dialog"); !strings.Contains(txt, "Remove this team's access to Support triage?") || !strings.Contains(txt, "Remove access") {
		t.Fatalf("the grant dialog asks: %q", txt)
	}
	b.CloseDialog("team-dialog")
	b.Run(chromedp.WaitNotVisible(chromedp.CSS("#team-dialog")))
	var grants int
	if err := env.Store.DB().Get(&grants, `SELECT count(*) FROM grants`); err != nil || grants != 1 {
		t.Fatalf("cancel changed the grants: %d %v", grants, err)
	}
	b.Click("#remove-" + grantID + "-open")
	b.WaitVisible("#team-dialog [data-row-ok]")
	b.Click("#team-dialog [data-row-ok]")
	b.Run(chromedp.WaitNotPresent(chromedp.CSS(`#grants-table tr[data-agent="Support triage"]`)))
	if err := env.Store.DB().Get(&grants, `SELECT count(*) FROM grants`); err != nil || grants != 0 {
		t.Fatalf("after the confirm: %d grants %v", grants, err)
	}

	// Transfer the other agent to Cleo.
	b.Navigate(agentPage)
	b.Fill("#f-email", "cleo@example.com")
	b.RunResponse(browsertest.SubmitForm("#transfer-button"))
	b.WaitVisible("#pending-transfer")
	link := env.Path(env.LinkIn("cleo@example.com", "/agent-transfers/"))

	c := browsertest.New(t)
	c.SignIn(env.URL, "cleo@example.com", webtest.Password)
	c.WaitVisible(`[id^="transfer-banner-"]`)
	c.Screenshot("transfer-banner")
	c.Navigate(env.URL + link)
	c.WaitVisible("#accept-transfer")
	c.Screenshot("transfer-link")
	c.RunResponse(browsertest.SubmitForm("#accept-transfer"))
	if got := c.Text("#agent-title"); got != "Release notes writer" {
		t.Fatalf("after accepting: %q", got)
	}
	if !strings.Contains(c.Text("#my-permission"), "admin") {
		t.Error("recipient is not admin")
	}
	c.Screenshot("transfer-accepted")

	// The sender no longer sees it.
	resp := b.RunResponse(chromedp.Navigate(agentPage))
	if resp.Status != 404 {
		t.Errorf("sender opens the transferred agent: %d", resp.Status)
	}
	_ = teamPage
}

// TestPickerSearch: in an org with more members and agents than a picker
// shows (the first 20 by name), the team page's pickers and the agent page's
// access explainer find the rest by typing, with the keyboard alone: the
// search box filters on the server (htmx) and Tab reaches the select. Checked
// at desktop and phone width (CheckPage: screenshots, axe, no overflow).
func TestPickerSearch(t *testing.T) {
	env, p := openServer(t)
	g, err := demo.Generate(t.Context(), env.Store, "pick", "owner@pick.test", "reader@pick.test",
		demo.Size{Members: 60, Teams: 3, Agents: 60, Grants: 6, Audit: 1, BigTeamGrants: 3, ReaderAgents: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SignIn(env.URL, "owner@pick.test", demo.Password)
	p.switchTo("pick")
	optionCount := func(sel string) int {
		return int(evalJS[float64](p, `document.querySelectorAll(`+strconv.Quote(sel+" option:not([disabled])")+`).length`))
	}
	typeInto := func(sel, text string) {
		p.Run(chromedp.Focus(chromedp.CSS(sel)))
		p.Run(chromedp.KeyEvent(text))
	}

	// The team page: its pickers closed, no choices loaded; each opens with
	// the keyboard (Enter on its link), its search box taking the focus.
	p.visit("/teams/" + strconv.FormatInt(g.ReaderTeam, 10))
	if p.evalBool(`!!document.querySelector("#f-user_id, #f-resource_id")`) {
		t.Fatal("the team page loaded its pickers' choices before they were opened")
	}
	p.CheckPage(t, "team-pickers-closed")
	idle := `!document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping, .htmx-added")`
	for _, open := range [][2]string{{"#open-member-picker", "f-member-q"}, {"#open-grant-picker", "f-agent-q"}} {
		pollJS(t, p.Browser, idle)
		p.Run(chromedp.Focus(chromedp.CSS(open[0])))
		p.Run(chromedp.KeyEvent("\r"))
		pollJS(t, p.Browser, `document.activeElement && document.activeElement.id === "`+open[1]+`"`)
	}
	pollJS(t, p.Browser, idle)
	if loc := p.Location(); strings.Contains(loc, "add=") {
		t.Fatalf("opening a picker left the page for %s", loc)
	}
	// 20 candidates each, not all 58 members or 57 agents.
	if n := optionCount("#f-user_id"); n != 20 {
		t.Errorf("member picker offers %d, want the first 20", n)
	}
	if n := optionCount("#f-resource_id"); n != 20 {
		t.Errorf("grant picker offers %d, want the first 20", n)
	}
	// "Member 58" sorts after the first 20 names; typing finds it.
	if p.evalBool(`document.querySelector("#f-user_id").textContent.includes("Member 58 ")`) {
		t.Fatal("Member 58 is among the first 20: the test needs a later name")
	}
	typeInto("#f-member-q", "member 58")
	pollJS(t, p.Browser, `document.querySelectorAll("#f-user_id option").length === 1 && document.querySelector("#f-user_id option").textContent.includes("Member 58 ")`)
	// Screen readers hear the count (a polite live region).
	pollJS(t, p.Browser, `document.querySelector("#f-user_id-status[role=status]").textContent.trim() === "1 member found."`)
	p.Run(chromedp.KeyEvent("\t"))
	if id := p.evalString(`document.activeElement.id`); id != "f-user_id" {
		t.Errorf("Tab from the search box goes to %q, want the select", id)
	}
	p.Click("#add-member")
	pollJS(t, p.Browser, `[...document.querySelectorAll("#team-members-table tr")].some(r => r.textContent.includes("Member 58"))`)

	// Nothing matches: the select says so and offers nothing to add.
	typeInto("#f-agent-q", "no such agent")
	pollJS(t, p.Browser, `document.querySelector("#f-resource_id option").disabled && document.querySelector("#f-resource_id").textContent.includes("No agent")`)
	pollJS(t, p.Browser, `document.querySelector("#f-resource_id-status").textContent.includes("No agent without a grant matches.")`)
	p.Fill("#f-agent-q", "agent 000057")
	pollJS(t, p.Browser, `document.querySelectorAll("#f-resource_id option").length === 1 && document.querySelector("#f-resource_id option").textContent === "Agent 000057"`)
	p.Click("#add-grant")
	p.WaitVisible(`#grants-table tr[data-agent="Agent 000057"]`)
	p.Fill("#f-member-q", "member 4")
	pollJS(t, p.Browser, `[...document.querySelectorAll("#f-user_id option")].every(o => o.textContent.includes("Member 4"))`)
	p.CheckPage(t, "team-pickers")

	// Without script the search box is a GET form: the page comes back with
	// the list filtered.
	{
		c := env.NewClient()
		c.SignIn("owner@pick.test", demo.Password)
		c.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(g.OrgID, 10)}})
		body := c.Get("/teams/" + strconv.FormatInt(g.ReaderTeam, 10) + "?member_q=member+57").Body
		if !strings.Contains(body, "Member 57 (") || strings.Contains(body, "Member 1 (") || !strings.Contains(body, `value="member 57"`) {
			t.Errorf("the filtered page does not list just Member 57")
		}
	}

	// The explainer finds a member past the first 20 and explains them.
	p.visit("/agents/" + strconv.FormatInt(g.AgentID, 10))
	if p.evalBool(`document.querySelector("#f-explain") !== null`) {
		t.Error("the explainer's picker is open before it is asked for")
	}
	p.Run(chromedp.Focus(chromedp.CSS("#open-explainer")))
	p.Run(chromedp.KeyEvent("\r"))
	pollJS(t, p.Browser, `document.activeElement && document.activeElement.id === "f-explain-q" &&
		!document.querySelector(".htmx-settling") && document.querySelector("#explain-form")["htmx-internal-data"] !== undefined`)
	if n := optionCount("#f-explain"); n != 21 { // "Choose a member…" and 20
		t.Errorf("explainer offers %d options, want 21", n)
	}
	typeInto("#f-explain-q", "member 56")
	pollJS(t, p.Browser, `document.querySelectorAll("#f-explain option").length === 2 && document.querySelector("#f-explain").textContent.includes("Member 56 ")`)
	var m57 int64
	if err := env.Store.DB().Get(&m57, `SELECT id FROM accounts WHERE name = 'Member 56'`); err != nil {
		t.Fatal(err)
	}
	p.Choose("#f-explain", strconv.FormatInt(m57, 10))
	p.WaitVisible(`#explain-result .perm-explain`)
	p.CheckPage(t, "agent-explainer-search")

	// The agents list pages by agent: "Next" (from the keyboard) swaps in
	// page 2, read from the agent after page 1's last, and the address bar
	// keeps that link; "Previous" comes back.
	p.visit("/agents")
	pager := `#agents-list .pager`
	if txt := p.Text(pager); !strings.Contains(txt, "Page 1 of 3 · 60 total") {
		t.Fatalf("agents pager %q", txt)
	}
	lastOnPage1 := p.evalString(`[...document.querySelectorAll("#agents-list tr[data-agent]")].pop().dataset.agent`)
	pollJS(t, p.Browser, idle+` && document.querySelector("#agents-list .pager a")["htmx-internal-data"] !== undefined`)
	p.Run(chromedp.Focus(chromedp.CSS(`#agents-list .pager a[href*="after="]`)))
	p.Run(chromedp.KeyEvent("\r"))
	pollJS(t, p.Browser, `document.querySelector("#agents-list .pager").textContent.includes("Page 2 of 3")`)
	if loc := p.Location(); !strings.Contains(loc, "page=2&after=") {
		t.Errorf("after Next the address is %s", loc)
	}
	first := p.evalString(`document.querySelector("#agents-list tr[data-agent]").dataset.agent`)
	if first <= lastOnPage1 {
		t.Errorf("page 2 starts at %q, not after page 1's last %q", first, lastOnPage1)
	}
	p.CheckPage(t, "agents-page-2")
	pollJS(t, p.Browser, idle)
	p.Click(`#agents-list .pager a[href="/agents?page=1"]`)
	pollJS(t, p.Browser, `document.querySelector("#agents-list .pager").textContent.includes("Page 1 of 3")`)
}

// TestTeamMembersPages: a team larger than a page lists its members 20 at a
// time, as the members list does. The owner pages with the keyboard (htmx
// swaps the members card and the address follows), removes a member on page
// 2 after the confirmation (Cancel first changes nothing), and the card
// comes back at page 2 with the new total. A plain member of the team sees
// the same pages without the controls. Each state is checked at desktop and
// phone width.
func TestTeamMembersPages(t *testing.T) {
	env, p := openServer(t)
	g, err := demo.Generate(t.Context(), env.Store, "tm", "owner@tm.test", "reader@tm.test",
		demo.Size{Members: 60, Teams: 3, Agents: 10, Grants: 3, Audit: 1, BigTeamGrants: 3, ReaderAgents: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Everyone who can join (not billing) joins the big team.
	env.Store.DB().MustExec(`INSERT INTO team_members (team_id, org_id, account_id, role)
		SELECT $1, m.org_id, m.account_id, 'member' FROM memberships m WHERE m.org_id = $2 AND m.role <> 'billing'
		ON CONFLICT DO NOTHING`, g.BigTeamID, g.OrgID)
	var total int
	if err := env.Store.DB().Get(&total, `SELECT count(*) FROM team_members WHERE team_id = $1`, g.BigTeamID); err != nil || total <= 40 {
		t.Fatalf("the team has %d members (%v): the test needs three pages", total, err)
	}
	pages := (total + 19) / 20
	team := "/teams/" + strconv.FormatInt(g.BigTeamID, 10)
	rows := `#team-members-table tr[id^="team-member-"]`
	names := func() []string {
		return evalJS[[]string](p, `[...document.querySelectorAll('`+rows+`')].map(r => r.querySelector(".cell-person div div").textContent.trim())`)
	}
	pager := "#team-members .pager"
	idle := `!document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping, .htmx-added")`

	p.SignIn(env.URL, "owner@tm.test", demo.Password)
	p.switchTo("tm")
	p.visit(team)
	if n := len(names()); n != 20 {
		t.Fatalf("page 1 lists %d members, want 20", n)
	}
	if got, want := p.Text(pager), fmt.Sprintf("Page 1 of %d · %d total", pages, total); !strings.Contains(got, want) {
		t.Fatalf("members pager %q, want %q", got, want)
	}
	if got := p.Text("#team-members h2 .badge"); got != strconv.Itoa(total) {
		t.Errorf("the members badge says %q, want the team's %d", got, total)
	}
	page1 := names()
	p.CheckPage(t, "team-members-page-1")

	// Next, from the keyboard: the card swaps to page 2, the address keeps it.
	pollJS(t, p.Browser, idle+` && document.querySelector("`+pager+` a")["htmx-internal-data"] !== undefined`)
	p.Run(chromedp.Focus(chromedp.CSS(pager + ` a[href*="members_page=2"]`)))
	p.Run(chromedp.KeyEvent("\r"))
	pollJS(t, p.Browser, `document.querySelector("`+pager+`").textContent.includes("Page 2 of")`)
	if loc := p.Location(); !strings.Contains(loc, "members_page=2") {
		t.Errorf("after Next the address is %s", loc)
	}
	page2 := names()
	if len(page2) != 20 || strings.ToLower(page2[0]) < strings.ToLower(page1[len(page1)-1]) {
		t.Fatalf("page 2 %v does not follow page 1 %v", page2, page1)
	}
	p.CheckPage(t, "team-members-page-2")

	// Remove the first member of page 2: Cancel keeps them, the confirm
	// removes them and the card stays on page 2.
	pollJS(t, p.Browser, idle)
	victim := evalJS[string](p, `document.querySelector('`+rows+`').id`)
	p.Click("#remove-" + victim + "-open")
	p.WaitVisible("#team-dialog [data-row-ok]")
	if txt := p.Text("#team-dialog"); !strings.Contains(txt, "Remove "+page2[0]+" from") {
		t.Fatalf("the dialog asks: %q", txt)
	}
	p.CloseDialog("team-dialog")
	p.Run(chromedp.WaitNotVisible(chromedp.CSS("#team-dialog")))
	var left int
	if err := env.Store.DB().Get(&left, `SELECT count(*) FROM team_members WHERE team_id = $1`, g.BigTeamID); err != nil || left != total {
		t.Fatalf("Cancel changed the team: %d members %v", left, err)
	}
	p.Click("#remove-" + victim + "-open")
	p.WaitVisible("#team-dialog [data-row-ok]")
	p.Click("#team-dialog [data-row-ok]")
	pollJS(t, p.Browser, `document.querySelector("#team-members .flash-success") !== null && !document.querySelector("#`+victim+`")`)
	if got, want := p.Text(pager), fmt.Sprintf("Page 2 of %d · %d total", (total+18)/20, total-1); !strings.Contains(got, want) {
		t.Errorf("after the removal the pager says %q, want %q", got, want)
	}
	if got := names(); len(got) != 20 || got[0] != page2[1] {
		t.Errorf("after the removal page 2 is %v, want it to start at %s", got, page2[1])
	}
	if err := env.Store.DB().Get(&left, `SELECT count(*) FROM team_members WHERE team_id = $1`, g.BigTeamID); err != nil || left != total-1 {
		t.Fatalf("after the confirm the team has %d members %v", left, err)
	}
	p.CheckPage(t, "team-members-removed")

	// The reader, a plain member of the team: the same pages, no controls.
	p.RunResponse(browsertest.SubmitForm(`form[action="/logout"] button`))
	p.SignIn(env.URL, "reader@tm.test", demo.Password)
	p.switchTo("tm")
	p.visit(team + "?members_page=" + strconv.Itoa((total+18)/20))
	if n, want := len(names()), (total-1)-((total+18)/20-1)*20; n != want {
		t.Errorf("the last page lists %d members, want %d", n, want)
	}
	// Their own row offers Leave; nobody else's has a control.
	if n := evalJS[float64](p, `document.querySelectorAll("#team-members form").length`); n != 1 ||
		!p.evalBool(`!!document.querySelector("#team-members tr .pill, #team-members tr .badge") && document.querySelector("#team-members form").closest("tr").textContent.includes("Rhys Reader")`) ||
		p.evalBool(`document.querySelector("#team-members select") !== null`) {
		t.Errorf("a plain member sees %v controls in the members card", n)
	}
	p.CheckPage(t, "team-members-reader-last-page")
}
