package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"guildhall/web/browsertest"
	"guildhall/web/webtest"
)

// walletBrowser drives one browser through the money pages as several people.
type walletBrowser struct {
	memberBrowser
}

// shoot checks the page at 1280 and 390 px (CheckPage: screenshot, no
// sideways overflow, axe-core WCAG 2.1 AA, no CSP violation).
func (b walletBrowser) shoot(name string) {
	b.t.Helper()
	b.CheckPage(b.t, name)
}

// openDialog opens the confirmation dialog id with its trigger and checks it.
func (b walletBrowser) openDialog(id, name string) {
	b.t.Helper()
	b.Click("#" + id + "-open")
	b.WaitVisible("#" + id + " button[type=submit]")
	b.shoot(name)
}

func (b walletBrowser) as(email string) {
	b.t.Helper()
	b.Navigate(b.env.URL + "/")
	if ok, _ := chromedp.Run(b.Ctx(), chromedp.Evaluate[bool](`!!document.querySelector('form[action="/logout"] button')`)); ok {
		b.signOut()
	}
	b.signIn(email)
	b.switchTo("acme")
}

func (b walletBrowser) visit(path string) {
	b.t.Helper()
	b.Navigate(b.env.URL + path)
}

// noOverflow fails when the page's content scrolls sideways at 390 px (the
// shared top bar is the layout's concern).
func (b walletBrowser) noOverflow(what string) {
	b.t.Helper()
	b.Run(chromedp.EmulateViewport(390, 844))
	ok, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[bool](`(m => m.scrollWidth <= m.clientWidth + 1)(document.querySelector('main'))`))
	b.Run(chromedp.EmulateViewport(1280, 900))
	if err != nil || !ok {
		b.t.Fatalf("%s scrolls sideways at 390 px (%v)", what, err)
	}
}

func TestWalletPagesBrowser(t *testing.T) {
	env := webtest.New(t)
	owner, _ := env.SignUpAPI("olive@example.com", "Olive Owner")
	_, memberID := env.SignUpAPI("mia@example.com", "Mia Member")
	_, billingID := env.SignUpAPI("bill@example.com", "Bill Billing")
	if r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme Robotics", "slug": "acme"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	var acme int64
	_ = env.Store.DB().Get(&acme, `SELECT id FROM orgs WHERE slug = 'acme'`)
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member'), ($1, $3, 'billing')`, acme, memberID, billingID)
	owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 25000})
	owner.Do(http.MethodPost, "/api/orgs/acme/policies", map[string]any{"name": "Engineering team", "max_per_purchase_cents": 5000,
		"daily_limit_cents": 20000, "require_approval_above_cents": 2000, "blocked_types": []string{"agent_template"}})
	pkgs := map[string]int64{}
	for _, p := range []struct {
		slug, name, typ, vis string
		price                int64
	}{
		{"pdf-reader", "PDF reader", "skill", "public", 900},
		{"github-mcp", "GitHub MCP server", "mcp_server", "public", 0},
		{"deploy-kit", "Deploy kit", "tool", "org_only", 3500},
		{"audit-agent", "Audit agent template", "agent_template", "public", 1500},
		{"internal-prompts", "Internal prompts", "prompt", "private", 300},
		{"mega-suite", "Mega suite", "tool", "public", 9900},
	} {
		r := owner.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": p.slug, "name": p.name, "type": p.typ, "price_cents": p.price,
			"visibility": p.vis, "description": "A " + strings.ReplaceAll(p.typ, "_", " ") + " for the " + p.name + " demo.", "manifest": "name: " + p.slug})
		if r.Status != 201 {
			t.Fatal(r.Raw)
		}
		pkgs[p.slug] = int64(r.Data()["id"].(float64))
	}
	// Enough free tools that the catalogue has a second page.
	for i := range 21 {
		if r := owner.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": fmt.Sprintf("zeta-%02d", i), "name": fmt.Sprintf("Zeta tool %02d", i),
			"type": "tool", "price_cents": 0, "visibility": "public", "description": "A small tool.", "manifest": "name: zeta"}); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	b := walletBrowser{memberBrowser{Browser: browsertest.New(t), t: t, env: env}}

	// Signed out: the public catalogue, a page at a time.
	b.visit("/packages")
	b.waitText("PDF reader")
	if strings.Contains(b.Text("#catalogue"), "Deploy kit") {
		t.Fatal("an org-only package shows signed out")
	}
	if txt := b.Text("#catalogue .pager"); !strings.Contains(txt, "Page 1 of 2 · 25 total") {
		t.Fatalf("pager %q", txt)
	}
	b.shoot("packages-signed-out")
	b.Click(`#catalogue .pager a[href*="page=2"]`)
	pollJS(t, b.Browser, `location.search.includes("page=2") && document.querySelectorAll("#catalogue .package-card").length === 1 &&
		document.querySelector("#catalogue").textContent.includes("Zeta tool 20") &&
		!document.querySelector(".htmx-settling") && document.querySelector('#catalogue .pager a')["htmx-internal-data"] !== undefined`)
	b.Click(`#catalogue .pager a[href*="page=1"]`)
	pollJS(t, b.Browser, `location.search.includes("page=1") && document.querySelectorAll("#catalogue .package-card").length === 24`)

	// Member: buys under the limits, is told why over them, waits for approval.
	b.as("mia@example.com")
	b.visit("/wallet")
	b.waitText("$250.00")
	if strings.Contains(b.Text("main"), "Transactions") {
		t.Fatal("a member sees the history")
	}
	b.shoot("wallet-member")
	b.visit("/packages")
	b.waitText("Deploy kit")
	b.shoot("packages-member")
	b.visit(fmt.Sprintf("/packages/%d", pkgs["pdf-reader"]))
	b.shoot("buy-before")
	b.RunResponse(browsertest.SubmitForm("#buy-button"))
	b.waitText("Bought PDF reader for $9.00")
	b.shoot("buy-completed")
	b.visit(fmt.Sprintf("/packages/%d", pkgs["mega-suite"]))
	b.RunResponse(browsertest.SubmitForm("#buy-button"))
	b.waitText("over the policy's maximum")
	b.shoot("buy-over-limit")
	b.visit(fmt.Sprintf("/packages/%d", pkgs["audit-agent"]))
	b.RunResponse(browsertest.SubmitForm("#buy-button"))
	b.waitText("blocks packages of type agent_template")
	b.visit(fmt.Sprintf("/packages/%d", pkgs["deploy-kit"]))
	b.RunResponse(browsertest.SubmitForm("#buy-button"))
	b.waitText("waiting for approval")
	b.shoot("buy-pending")
	b.visit(fmt.Sprintf("/packages/%d", pkgs["github-mcp"]))
	b.RunResponse(browsertest.SubmitForm("#buy-button"))
	b.waitText("Installed GitHub MCP server")
	b.noOverflow("the package page")

	// Owner: approves in place, funds, sees the chart, edits policies.
	b.as("olive@example.com")
	b.visit("/approvals")
	b.waitText("Deploy kit")
	b.shoot("approvals-owner")
	var approval int64
	_ = env.Store.DB().Get(&approval, `SELECT id FROM approvals WHERE status = 'pending'`)
	row := "#approval-" + strconv.FormatInt(approval, 10)
	// Rejecting asks for the reason the buyer will see; Cancel keeps it pending.
	b.openDialog("reject-"+strconv.FormatInt(approval, 10), "approvals-reject-confirm")
	b.CloseDialog("reject-" + strconv.FormatInt(approval, 10))
	// Approving spends money: the dialog says how much before it pays.
	b.openDialog("approve-"+strconv.FormatInt(approval, 10), "approvals-approve-confirm")
	if txt := b.Text("#approve-" + strconv.FormatInt(approval, 10)); !strings.Contains(txt, "$35.00") {
		t.Fatalf("approve dialog %q", txt)
	}
	b.Submit("#approve-" + strconv.FormatInt(approval, 10) + " button[type=submit]")
	pollJS(t, b.Browser, `document.querySelector(`+strconv.Quote(row)+`)?.dataset.status === "approved"`)
	if !strings.HasSuffix(b.Location(), "/approvals") {
		t.Fatalf("htmx approve navigated to %s", b.Location())
	}
	b.shoot("approvals-approved")
	b.visit("/wallet")
	b.waitText("Spending by day")
	b.Fill("#top-up #f-amount", "40")
	b.RunResponse(browsertest.SubmitForm("#top-up-submit"))
	b.waitText("Added $40.00")
	if n := strings.Count(b.Text("#entries-table"), "purchase"); n != 2 {
		t.Fatalf("%d purchases in the history", n)
	}
	b.shoot("wallet-owner")
	b.noOverflow("the wallet page")
	// A transfer to another workspace asks first, naming the amount and where.
	b.Fill("#transfer #f-amount", "5")
	b.Submit("#transfer form")
	b.WaitVisible("#transfer-dialog [data-confirm-choice-ok]")
	if txt := b.Text("#transfer-dialog"); !strings.Contains(txt, "Moves $5 from this workspace's wallet to Personal") {
		t.Fatalf("transfer dialog %q", txt)
	}
	b.shoot("wallet-transfer-confirm")
	b.RunResponse(chromedp.Click("#transfer-dialog [data-confirm-choice-ok]"))
	b.waitText("Moved $5.00 to the other workspace")
	b.visit("/policies")
	b.waitText("Engineering team")
	b.shoot("policies-owner")
	var policy int64
	_ = env.Store.DB().Get(&policy, `SELECT id FROM spend_policies WHERE name = 'Engineering team'`)
	b.openDialog("policy-delete-"+strconv.FormatInt(policy, 10), "policies-delete-confirm")
	b.CloseDialog("policy-delete-" + strconv.FormatInt(policy, 10))
	b.Fill("#policy-create #f-name", "Agents")
	b.Fill("#policy-create #f-daily_limit", "abc")
	b.RunResponse(browsertest.SubmitForm("#policy-submit-new"))
	b.waitText("Enter an amount in dollars")
	b.Fill("#policy-create #f-daily_limit", "15")
	b.RunResponse(browsertest.SubmitForm("#policy-submit-new"))
	b.waitText("Created the policy Agents")
	b.noOverflow("the policies page")
	b.visit("/packages")
	b.waitText("Internal prompts")
	b.shoot("packages-owner")
	b.visit("/packages/new")
	b.WaitVisible("#package-form")
	b.shoot("package-publish")
	// Making a package more public asks first, saying who newly sees it.
	b.visit(fmt.Sprintf("/packages/%d/edit", pkgs["internal-prompts"]))
	b.WaitVisible("#package-form")
	b.shoot("package-edit")
	b.Choose("#f-visibility", "public")
	b.Submit("#package-form")
	b.WaitVisible("#visibility-dialog [data-confirm-choice-ok]")
	if txt := b.Text("#visibility-dialog"); !strings.Contains(txt, "Anyone, signed in or not") {
		t.Fatalf("visibility dialog %q", txt)
	}
	b.shoot("package-visibility-confirm")
	b.RunResponse(chromedp.Click("#visibility-dialog [data-confirm-choice-ok]"))
	b.waitText("Saved Internal prompts")
	b.visit("/entitlements")
	b.waitText("Owned packages")
	b.shoot("entitlements-owner")

	// Billing: history and funding, no buying.
	b.as("bill@example.com")
	b.visit("/wallet")
	b.waitText("Transactions")
	b.shoot("wallet-billing")
	// The member filter takes an email (Enter submits it); htmx swaps the
	// history to that person's entries and keeps the filter in the address.
	b.Fill("#f-member", "MIA@example.com")
	b.Run(chromedp.SendKeys("#f-member", "\r"))
	pollJS(t, b.Browser, `location.search.includes("member=MIA%40example.com") && document.querySelector("#f-member").value === "MIA@example.com" &&
		document.querySelectorAll("#entries-table tbody tr").length === 2 &&
		[...document.querySelectorAll("#entries-table tbody tr")].every(r => r.dataset.kind === "purchase" && r.cells[2].textContent.includes("mia@example.com"))`)
	b.shoot("wallet-filtered")
	b.visit(fmt.Sprintf("/packages/%d", pkgs["mega-suite"]))
	b.waitText("Billing members fund the wallet")
	b.shoot("buy-billing")
	b.visit("/approvals")
	b.waitText("Your purchases waiting")
	b.shoot("approvals-billing")
	b.visit("/policies")
	b.waitText("Engineering team")
	b.shoot("policies-billing")

	if err := env.Store.CheckLedger(t.Context()); err != nil {
		t.Fatal(err)
	}
}
