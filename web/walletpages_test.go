package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"guildhall/db"
	"guildhall/web/webtest"
)

// pagesFix is moneyAPI plus browser clients of the same people, switched to acme.
type pagesFix struct {
	*moneyAPI
	owner, admin, member, billing, outsider *webtest.Client
}

func newPagesFix(t *testing.T) *pagesFix {
	t.Helper()
	m := newMoneyAPI(t)
	f := &pagesFix{moneyAPI: m}
	sign := func(email string) *webtest.Client {
		c := m.env.NewClient()
		if r := c.SignIn(email, webtest.Password); r.Status != http.StatusSeeOther {
			t.Fatalf("sign in %s: %d", email, r.Status)
		}
		if email != "outsider@example.com" {
			if r := c.Post("/workspace", url.Values{"org_id": {"acme"}}); r.Status != http.StatusSeeOther {
				t.Fatalf("switch %s: %d %s", email, r.Status, r.Body)
			}
			c.Get("/")
		}
		return c
	}
	f.owner, f.admin, f.member = sign("owner@example.com"), sign("admin@example.com"), sign("member@example.com")
	f.billing, f.outsider = sign("billing@example.com"), sign("outsider@example.com")
	return f
}

var keyRe = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)

func formKeyIn(t *testing.T, body string) string {
	t.Helper()
	m := keyRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no idempotency key in the form:\n%s", body)
	}
	return m[1]
}

func TestWalletPageRolesAndDoubleSubmit(t *testing.T) {
	f := newPagesFix(t)
	page := f.billing.Get("/wallet")
	if page.Status != 200 || !strings.Contains(page.Body, "manual provider: credits at once") || !strings.Contains(page.Body, `id="transactions"`) {
		t.Fatalf("billing wallet page: %d", page.Status)
	}
	key := formKeyIn(t, page.Body)
	// A double submit of one rendered form charges once.
	for i := 0; i < 2; i++ {
		r := f.billing.Post("/wallet/top-up", url.Values{"amount": {"120.50"}, "idempotency_key": {key}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("top-up %d: %d %s", i, r.Status, r.Body)
		}
	}
	if b := f.billing.Get("/wallet"); !strings.Contains(b.Body, "$120.50") || strings.Contains(b.Body, "$241.00") {
		t.Fatal("the balance after a double submit is not $120.50")
	}
	if r := f.billing.Post("/wallet/top-up", url.Values{"amount": {"abc"}, "idempotency_key": {"k"}}); r.Status != 422 || !strings.Contains(r.Body, "Enter an amount in dollars") {
		t.Fatalf("bad amount: %d", r.Status)
	}
	// Members see only the balance.
	mp := f.member.Get("/wallet")
	if mp.Status != 200 || !strings.Contains(mp.Body, "$120.50") || strings.Contains(mp.Body, `id="transactions"`) || strings.Contains(mp.Body, "top-up") {
		t.Fatalf("member wallet page: %d", mp.Status)
	}
	if r := f.member.Post("/wallet/top-up", url.Values{"amount": {"5"}}); r.Status != 403 {
		t.Fatalf("member top-up: %d", r.Status)
	}
	if r := f.member.Get("/wallet/export.csv"); r.Status != 403 {
		t.Fatalf("member export: %d", r.Status)
	}
	// The overview's balance tile links to the wallet.
	if ov := f.member.Get("/"); !strings.Contains(ov.Body, `href="/wallet" id="balance-tile"`) {
		t.Fatal("no balance tile link")
	}
	// Auto top-up form.
	if r := f.billing.Post("/wallet/auto-top-up", url.Values{"enabled": {"true"}, "threshold": {"20"}, "top_up_amount": {"100"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("auto top-up: %d %s", r.Status, r.Body)
	}
	if r := f.billing.Post("/wallet/auto-top-up", url.Values{"enabled": {"true"}, "threshold": {"20"}, "top_up_amount": {""}}); r.Status != 422 {
		t.Fatalf("auto top-up without amount: %d", r.Status)
	}
}

func TestWalletCSVNeutralisesFormulas(t *testing.T) {
	f := newPagesFix(t)
	f.moneyAPI.owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 5000})
	r := f.moneyAPI.admin.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": "evil", "name": "=HYPERLINK(\"http://x\")", "type": "skill", "price_cents": 100, "visibility": "org_only"})
	if r.Status != 201 {
		t.Fatal(r.Raw)
	}
	if b := f.moneyAPI.member.Do(http.MethodPost, fmt.Sprintf("/api/packages/%d/buy", num(r.Data()["id"])), map[string]any{"org": "acme"}); b.Status != 201 {
		t.Fatal(b.Raw)
	}
	csv := f.billing.Get("/wallet/export.csv")
	if csv.Status != 200 || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s", csv.Status, csv.Header)
	}
	if !strings.Contains(csv.Body, `"'=HYPERLINK(""http://x"")"`) || strings.Contains(csv.Body, `,"=HYPERLINK`) {
		t.Fatalf("formula not neutralised:\n%s", csv.Body)
	}
	lines := strings.Split(strings.TrimSpace(csv.Body), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "id,created_at,kind,amount_cents") || !strings.Contains(lines[1], ",purchase,-100,4900,") {
		t.Fatalf("csv:\n%s", csv.Body)
	}
	// Filters and keyset pages.
	if p := f.billing.Get("/wallet?kind=top_up"); !strings.Contains(p.Body, `data-kind="top_up"`) || strings.Contains(p.Body, `data-kind="purchase"`) {
		t.Fatal("kind filter")
	}
	if p := f.billing.Get(fmt.Sprintf("/wallet?user_id=%d", f.ids["member"])); strings.Contains(p.Body, `data-kind="top_up"`) || !strings.Contains(p.Body, `data-kind="purchase"`) {
		t.Fatal("member filter")
	}
	if p := f.owner.Get("/wallet"); !strings.Contains(p.Body, `<rect x=`) || !strings.Contains(p.Body, "$1.00") {
		t.Fatal("chart missing")
	}
	// The member filter takes an email (any case) or an account id, keeps
	// what was typed, and carries the account id into the export and the
	// next pages. An email no account has shows the same empty history as
	// an account without entries; anything else is a field error.
	byEmail := f.billing.Get("/wallet?member=" + url.QueryEscape(" Member@Example.com "))
	if byEmail.Status != http.StatusOK || !strings.Contains(byEmail.Body, `data-kind="purchase"`) || strings.Contains(byEmail.Body, `data-kind="top_up"`) ||
		!strings.Contains(byEmail.Body, `value="Member@Example.com"`) || !strings.Contains(byEmail.Body, fmt.Sprintf("export.csv?user_id=%d", f.ids["member"])) {
		t.Fatalf("member filter by email: status %d", byEmail.Status)
	}
	if p := f.billing.Get(fmt.Sprintf("/wallet?member=%d", f.ids["member"])); !strings.Contains(p.Body, `data-kind="purchase"`) || strings.Contains(p.Body, `data-kind="top_up"`) {
		t.Fatal("member filter by account id")
	}
	for _, who := range []string{"billing@example.com", "nobody@example.com"} {
		if p := f.billing.Get("/wallet?member=" + url.QueryEscape(who)); p.Status != http.StatusOK || strings.Contains(p.Body, `data-kind=`) || !strings.Contains(p.Body, "No transactions") {
			t.Fatalf("%s: status %d, want the empty history", who, p.Status)
		}
	}
	if p := f.billing.Get("/wallet?member=not-an-email"); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="e-member"`) || strings.Contains(p.Body, `data-kind=`) {
		t.Fatalf("a bad member filter: status %d, want 422 with the field error", p.Status)
	}
}

func TestPackagesPagesBuyAndApprovals(t *testing.T) {
	f := newPagesFix(t)
	f.moneyAPI.owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 10000})
	// An admin sets a policy in the browser.
	if r := f.admin.Post("/policies", url.Values{"name": {"Team"}, "max_per_purchase": {"50"}, "require_approval_above": {"10"}, "active": {"true"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create policy: %d %s", r.Status, r.Body)
	}
	if r := f.admin.Post("/policies", url.Values{"name": {""}, "daily_limit": {"-3"}}); r.Status != 422 || !strings.Contains(r.Body, "Name is required") {
		t.Fatalf("bad policy: %d", r.Status)
	}
	if r := f.member.Post("/policies", url.Values{"name": {"Mine"}}); r.Status != 403 {
		t.Fatalf("member policy: %d", r.Status)
	}
	if p := f.member.Get("/policies"); p.Status != 200 || !strings.Contains(p.Body, "Team") || strings.Contains(p.Body, "New policy") {
		t.Fatalf("member policies page: %d", p.Status)
	}
	// Publish through the form.
	if r := f.admin.Post("/packages", url.Values{"slug": {"pdf-reader"}, "name": {"PDF reader"}, "type": {"skill"}, "visibility": {"org_only"}, "price": {"5"}, "manifest": {"entry: main"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	f.admin.Post("/packages", url.Values{"slug": {"big-tool"}, "name": {"Big tool"}, "type": {"tool"}, "visibility": {"public"}, "price": {"20"}})
	f.admin.Post("/packages", url.Values{"slug": {"huge"}, "name": {"Huge"}, "type": {"tool"}, "visibility": {"public"}, "price": {"80"}})
	if r := f.member.Post("/packages", url.Values{"slug": {"nope"}, "name": {"Nope"}, "type": {"tool"}, "visibility": {"public"}}); r.Status != 403 {
		t.Fatalf("member publishes: %d", r.Status)
	}
	// Signed out: the public ones only; org-only is 404.
	anon := f.env.NewClient()
	cat := anon.Get("/packages")
	if cat.Status != 200 || !strings.Contains(cat.Body, "Big tool") || strings.Contains(cat.Body, "PDF reader") {
		t.Fatalf("signed-out catalogue: %d", cat.Status)
	}
	var pdf int64
	_ = f.env.Store.DB().Get(&pdf, `SELECT id FROM packages WHERE slug = 'pdf-reader'`)
	if r := anon.Get(fmt.Sprintf("/packages/%d", pdf)); r.Status != 404 {
		t.Fatalf("signed-out org-only: %d", r.Status)
	}
	if r := f.outsider.Get(fmt.Sprintf("/packages/%d", pdf)); r.Status != 404 {
		t.Fatalf("outsider org-only: %d", r.Status)
	}
	if r := f.member.Get("/packages?q=pdf&type=skill"); !strings.Contains(r.Body, "PDF reader") || strings.Contains(r.Body, "Big tool") {
		t.Fatal("search and type filter")
	}
	// The member buys under the limits; a double submit charges once.
	page := f.member.Get(fmt.Sprintf("/packages/%d", pdf))
	key := formKeyIn(t, page.Body)
	for i := 0; i < 2; i++ {
		if r := f.member.Post(fmt.Sprintf("/packages/%d/buy", pdf), url.Values{"idempotency_key": {key}}); r.Status != http.StatusSeeOther {
			t.Fatalf("buy %d: %d %s", i, r.Status, r.Body)
		}
	}
	if p := f.member.Get(fmt.Sprintf("/packages/%d", pdf)); !strings.Contains(p.Body, `data-status="owned"`) || !strings.Contains(p.Body, "Download manifest") {
		t.Fatal("owned status missing")
	}
	if m := f.member.Get(fmt.Sprintf("/packages/%d/manifest", pdf)); m.Status != 200 || m.Body != "entry: main" {
		t.Fatalf("manifest: %d %q", m.Status, m.Body)
	}
	// Far over the limit: a clear reason with the SPEC 9 code.
	var big, huge int64
	_ = f.env.Store.DB().Get(&big, `SELECT id FROM packages WHERE slug = 'big-tool'`)
	_ = f.env.Store.DB().Get(&huge, `SELECT id FROM packages WHERE slug = 'huge'`)
	if r := f.member.Post(fmt.Sprintf("/packages/%d/buy", huge), url.Values{"idempotency_key": {"h1"}}); r.Status != 403 || !strings.Contains(r.Body, "over_max_per_purchase") {
		t.Fatalf("far over: %d", r.Status)
	}
	// Over the approval threshold: pending, shown on the page.
	if r := f.member.Post(fmt.Sprintf("/packages/%d/buy", big), url.Values{"idempotency_key": {"b1"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("pending: %d %s", r.Status, r.Body)
	}
	if p := f.member.Get(fmt.Sprintf("/packages/%d", big)); !strings.Contains(p.Body, `data-status="pending_approval"`) {
		t.Fatal("pending status missing")
	}
	// Billing cannot buy.
	if p := f.billing.Get(fmt.Sprintf("/packages/%d", big)); !strings.Contains(p.Body, `data-status="refused"`) {
		t.Fatal("billing sees a buy button")
	}
	// The admin rejects without a reason (stays pending with a message), then approves in place.
	appr := f.admin.Get("/approvals")
	ids := regexp.MustCompile(`id="approval-(\d+)" data-status="pending"`).FindStringSubmatch(appr.Body)
	if ids == nil {
		t.Fatalf("no pending approval:\n%s", appr.Body)
	}
	rej := f.admin.HTMX(http.MethodPost, "/approvals/"+ids[1]+"/reject", url.Values{"reason": {""}})
	if rej.Status != 200 || !strings.Contains(rej.Body, "Say why") || !strings.Contains(rej.Body, `data-status="pending"`) {
		t.Fatalf("reject without reason: %d %s", rej.Status, rej.Body)
	}
	if r := f.member.HTMX(http.MethodPost, "/approvals/"+ids[1]+"/approve", nil); r.Status != 403 {
		t.Fatalf("member approves: %d", r.Status)
	}
	ok := f.admin.HTMX(http.MethodPost, "/approvals/"+ids[1]+"/approve", nil)
	if ok.Status != 200 || !strings.Contains(ok.Body, `data-status="approved"`) || strings.Contains(ok.Body, "<html") {
		t.Fatalf("approve fragment: %d %s", ok.Status, ok.Body)
	}
	f.env.LinkIn("member@example.com", fmt.Sprintf("/packages/%d", big))
	if p := f.member.Get("/entitlements"); !strings.Contains(p.Body, "Big tool") || !strings.Contains(p.Body, "PDF reader") {
		t.Fatal("entitlements page")
	}
	// Editing the visibility is audited.
	if r := f.admin.Post(fmt.Sprintf("/packages/%d/edit", pdf), url.Values{"name": {"PDF reader"}, "type": {"skill"}, "visibility": {"public"}, "price": {"5"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	var n int
	_ = f.env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'package.visibility_changed'`)
	if n != 1 {
		t.Fatal("visibility change not audited")
	}
	if r := anon.Get(fmt.Sprintf("/packages/%d", pdf)); r.Status != 200 {
		t.Fatalf("now public: %d", r.Status)
	}
}

func TestOrgDeleteRefusalSaysHowToClearBalance(t *testing.T) {
	f := newPagesFix(t)
	f.moneyAPI.owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 700})
	r := f.moneyAPI.owner.Do(http.MethodDelete, "/api/orgs/acme", nil)
	if r.Status != 409 || !strings.Contains(r.ErrorMessage(), "transfer it to another workspace you own") {
		t.Fatalf("refusal: %d %s", r.Status, r.Raw)
	}
	// The owner empties it with a transfer and can then delete it.
	key := formKeyIn(t, f.owner.Get("/wallet").Body)
	_ = key
	page := f.owner.Get("/wallet")
	tkey := keyRe.FindAllStringSubmatch(page.Body, -1)
	personal := f.env.Store.DB()
	var pid int64
	_ = personal.Get(&pid, `SELECT personal_org_id FROM accounts WHERE email = 'owner@example.com'`)
	if t2 := f.owner.Post("/wallet/transfer", url.Values{"to_org": {fmt.Sprint(pid)}, "amount": {"7"}, "idempotency_key": {tkey[len(tkey)-1][1]}}); t2.Status != http.StatusSeeOther {
		t.Fatalf("transfer: %d %s", t2.Status, t2.Body)
	}
	if r := f.moneyAPI.owner.Do(http.MethodDelete, "/api/orgs/acme", nil); r.Status != 200 {
		t.Fatalf("delete after transfer: %d %s", r.Status, r.Raw)
	}
}

// TestCatalogueIsPaged: the catalogue shows db.CataloguePageSize packages a
// page by name, counts only what the viewer may see, keeps the search in its
// page links, and a page past the end keeps a way back.
func TestCatalogueIsPaged(t *testing.T) {
	f := newPagesFix(t)
	for i := range 30 {
		vis, typ := "public", "tool"
		if i%10 == 9 {
			vis = "org_only" // three the signed-out catalogue never counts
		}
		if i%2 == 0 {
			typ = "skill"
		}
		if r := f.admin.Post("/packages", url.Values{"slug": {fmt.Sprintf("kit-%02d", i)}, "name": {fmt.Sprintf("Kit %02d", i)}, "type": {typ},
			"visibility": {vis}, "price": {"0"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("publish %d: %d %s", i, r.Status, r.Body)
		}
	}
	cards := func(body string) int { return strings.Count(body, `class="card package-card"`) }
	anon := f.env.NewClient()
	p1 := anon.Get("/packages")
	if p1.Status != 200 || cards(p1.Body) != db.CataloguePageSize || !strings.Contains(p1.Body, "Page 1 of 2 · 27 total") ||
		!strings.Contains(p1.Body, `data-slug="kit-00"`) || strings.Contains(p1.Body, `data-slug="kit-09"`) {
		t.Fatalf("signed-out page 1: %d, %d cards", p1.Status, cards(p1.Body))
	}
	p2 := anon.Get("/packages?page=2")
	if cards(p2.Body) != 27-db.CataloguePageSize || !strings.Contains(p2.Body, `data-slug="kit-28"`) || strings.Contains(p2.Body, `data-slug="kit-29"`) || strings.Contains(p2.Body, `data-slug="kit-00"`) {
		t.Fatalf("signed-out page 2: %d cards", cards(p2.Body))
	}
	// A member of the publisher sees the org-only ones too.
	if m := f.member.Get("/packages?page=2"); !strings.Contains(m.Body, "Page 2 of 2 · 30 total") || cards(m.Body) != 30-db.CataloguePageSize {
		t.Fatalf("member page 2: %d cards", cards(m.Body))
	}
	// The type filter narrows the count and stays in the links.
	sk := anon.Get("/packages?type=skill")
	if cards(sk.Body) != 15 || strings.Contains(sk.Body, "Page 1 of") || strings.Contains(sk.Body, "page=2") {
		t.Fatalf("skills: %d cards", cards(sk.Body))
	}
	if tl := anon.Get("/packages?type=tool&q=kit"); cards(tl.Body) != 12 || strings.Contains(tl.Body, "Page 1 of") {
		t.Fatalf("public tools: %d cards", cards(tl.Body))
	}
	if all := f.member.Get("/packages?q=kit"); !strings.Contains(all.Body, "/packages?page=2&amp;q=kit") {
		t.Fatal("the next page link drops the search")
	}
	// The API reads the same pages: any size up to 200, 20 by default (the
	// members list's, model.DefaultPerPage).
	if r := f.env.NewAPI("").Do(http.MethodGet, "/api/packages?q=kit&per_page=10&page=3", nil); r.Status != 200 || len(r.List()) != 7 ||
		!strings.Contains(r.Raw, `"pagination":{"page":3,"per_page":10,"total":27,"total_pages":3}`) {
		t.Fatalf("API page 3: %d %s", r.Status, r.Raw)
	}
	if r := f.env.NewAPI("").Do(http.MethodGet, "/api/packages?q=kit", nil); len(r.List()) != 20 || !strings.Contains(r.Raw, `"per_page":20,"total":27,"total_pages":2`) {
		t.Fatalf("API default page: %s", r.Raw)
	}
	for _, bad := range []string{"per_page=x", "page=0", "page=-2"} {
		if r := f.env.NewAPI("").Do(http.MethodGet, "/api/packages?"+bad, nil); r.Status != 422 {
			t.Fatalf("API %s: %d %s", bad, r.Status, r.Raw)
		}
	}
	// Past the end, and pages that are not numbers.
	if far := anon.Get("/packages?page=9"); far.Status != 200 || cards(far.Body) != 0 || !strings.Contains(far.Body, "No packages on this page") || !strings.Contains(far.Body, "27 total") {
		t.Fatalf("page past the end: %d", far.Status)
	}
	for _, bad := range []string{"abc", "-1", "0", "9223372036854775807"} {
		if r := anon.Get("/packages?page=" + bad); r.Status != 200 || (bad != "9223372036854775807" && cards(r.Body) != db.CataloguePageSize) {
			t.Fatalf("page=%s: %d, %d cards", bad, r.Status, cards(r.Body))
		}
	}
}
