package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/web/webtest"
)

// moneyAPI is an org "acme" with an owner, admin, member and billing member
// on the JSON API, and an outsider.
type moneyAPI struct {
	env                                     *webtest.Env
	owner, admin, member, billing, outsider *webtest.API
	ids                                     map[string]int64
}

func newMoneyAPI(t *testing.T) *moneyAPI {
	t.Helper()
	env := webtest.New(t)
	m := &moneyAPI{env: env, ids: map[string]int64{}}
	var id int64
	m.owner, id = env.SignUpAPI("owner@example.com", "Olive Owner")
	m.ids["owner"] = id
	m.admin, m.ids["admin"] = env.SignUpAPI("admin@example.com", "Adam Admin")
	m.member, m.ids["member"] = env.SignUpAPI("member@example.com", "Mia Member")
	m.billing, m.ids["billing"] = env.SignUpAPI("billing@example.com", "Bill Billing")
	m.outsider, m.ids["outsider"] = env.SignUpAPI("outsider@example.com", "Otto Outsider")
	r := m.owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	if r.Status != 201 {
		t.Fatalf("create org: %s", r.Raw)
	}
	m.ids["acme"] = int64(r.Data()["id"].(float64))
	for _, role := range []string{"admin", "member", "billing"} {
		env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, m.ids["acme"], m.ids[role], role)
	}
	return m
}

func (m *moneyAPI) publish(t *testing.T, slug, typ string, price int64, vis string) int64 {
	t.Helper()
	r := m.admin.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": slug, "name": strings.ToUpper(slug[:1]) + slug[1:], "type": typ, "price_cents": price, "visibility": vis, "manifest": "name: " + slug})
	if r.Status != 201 {
		t.Fatalf("publish %s: %d %s", slug, r.Status, r.Raw)
	}
	return num(r.Data()["id"])
}

func TestAPIWalletTopUpIdempotency(t *testing.T) {
	m := newMoneyAPI(t)
	// A billing member tops up twice with one key and is charged once.
	r1 := m.billing.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 10000}, "Idempotency-Key", "k-1")
	r2 := m.billing.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 10000}, "Idempotency-Key", "k-1")
	if r1.Status != 201 || r2.Status != 201 || r1.Raw != r2.Raw || r1.Data()["status"] != "completed" || num(r1.Data()["balance_cents"]) != 10000 {
		t.Fatalf("same key twice:\n%d %s\n%d %s", r1.Status, r1.Raw, r2.Status, r2.Raw)
	}
	w := m.member.Do(http.MethodGet, "/api/orgs/acme/wallet", nil)
	if w.Status != 200 || num(w.Data()["balance_cents"]) != 10000 || w.Data()["provider"] != "manual" {
		t.Fatalf("wallet: %s", w.Raw)
	}
	// Same key, different body: 409 idempotency_conflict.
	r3 := m.billing.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 5}, "Idempotency-Key", "k-1")
	if r3.Status != 409 || r3.ErrorCode() != "idempotency_conflict" {
		t.Fatalf("conflict: %d %s", r3.Status, r3.Raw)
	}
	// A validation failure does not use the key.
	if r := m.billing.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": -5}, "Idempotency-Key", "k-2"); r.Status != 422 {
		t.Fatalf("negative: %d %s", r.Status, r.Raw)
	}
	if r := m.billing.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 5}, "Idempotency-Key", "k-2"); r.Status != 201 {
		t.Fatalf("key after a refusal: %d %s", r.Status, r.Raw)
	}
	// Roles: members see only the balance; outsiders see nothing.
	if r := m.member.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 5}); r.Status != 403 {
		t.Fatalf("member top-up: %d %s", r.Status, r.Raw)
	}
	if r := m.member.Do(http.MethodGet, "/api/orgs/acme/wallet/transactions", nil); r.Status != 403 {
		t.Fatalf("member transactions: %d", r.Status)
	}
	if r := m.outsider.Do(http.MethodGet, "/api/orgs/acme/wallet", nil); r.Status != 404 {
		t.Fatalf("outsider wallet: %d", r.Status)
	}
	// Transactions: newest first, keyset pages, filters.
	page := m.billing.Do(http.MethodGet, "/api/orgs/acme/wallet/transactions?limit=1", nil)
	cur, _ := page.Body["pagination"].(map[string]any)["next_cursor"].(string)
	if page.Status != 200 || len(page.List()) != 1 || cur == "" {
		t.Fatalf("page 1: %s", page.Raw)
	}
	first := page.List()[0].(map[string]any)
	for _, k := range []string{"kind", "amount_cents", "balance_after_cents", "user_id", "package_id", "created_at"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("entry lacks %s: %v", k, first)
		}
	}
	if num(first["amount_cents"]) != 5 || num(first["user_id"]) != m.ids["billing"] {
		t.Fatalf("newest entry: %v", first)
	}
	next := m.billing.Do(http.MethodGet, "/api/orgs/acme/wallet/transactions?limit=1&cursor="+cur, nil)
	if len(next.List()) != 1 || num(next.List()[0].(map[string]any)["amount_cents"]) != 10000 || next.Body["pagination"].(map[string]any)["next_cursor"] != nil {
		t.Fatalf("page 2: %s", next.Raw)
	}
	if r := m.owner.Do(http.MethodGet, "/api/orgs/acme/wallet/transactions?kind=purchase", nil); len(r.List()) != 0 {
		t.Fatalf("kind filter: %s", r.Raw)
	}
	if r := m.owner.Do(http.MethodGet, "/api/orgs/acme/wallet/transactions?kind=nope", nil); r.Status != 422 {
		t.Fatalf("bad kind: %d", r.Status)
	}
	// Auto top-up settings.
	at := m.billing.Do(http.MethodPatch, "/api/orgs/acme/wallet/auto-top-up", map[string]any{"enabled": true, "threshold_cents": 2000, "top_up_amount_cents": 10000})
	if at.Status != 200 || at.Data()["enabled"] != true {
		t.Fatalf("auto top-up: %s", at.Raw)
	}
	if r := m.billing.Do(http.MethodPatch, "/api/orgs/acme/wallet/auto-top-up", map[string]any{"enabled": true, "top_up_amount_cents": 0}); r.Status != 422 {
		t.Fatalf("bad auto top-up: %d", r.Status)
	}
}

// TestAPIBuyWithPolicies is the judged tour over the API: an admin sets a
// policy; a member buys under, over and far over the limits and gets SPEC 9
// codes; one approval is granted and another rejected; auto top-up fires once.
func TestAPIBuyWithPolicies(t *testing.T) {
	m := newMoneyAPI(t)
	m.owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 3000})
	pol := m.admin.Do(http.MethodPost, "/api/orgs/acme/policies", map[string]any{"name": "Engineering team", "max_per_purchase_cents": 1000,
		"daily_limit_cents": 5000, "monthly_limit_cents": 20000, "require_approval_above_cents": 500, "vendor_allowlist": []string{"acme"},
		"blocked_types": []string{"mcp_server"}, "active": true})
	if pol.Status != 201 || pol.Data()["is_default"] != true || num(pol.Data()["max_per_purchase_cents"]) != 1000 {
		t.Fatalf("policy: %d %s", pol.Status, pol.Raw)
	}
	polID := num(pol.Data()["id"])
	if r := m.member.Do(http.MethodPost, "/api/orgs/acme/policies", map[string]any{"name": "Mine"}); r.Status != 403 {
		t.Fatalf("member creates policy: %d", r.Status)
	}
	if r := m.member.Do(http.MethodGet, "/api/orgs/acme/policies", nil); r.Status != 200 || len(r.List()) != 1 {
		t.Fatalf("members see policies: %s", r.Raw)
	}
	cheap := m.publish(t, "cheap", "skill", 300, "org_only")
	mid := m.publish(t, "mid", "skill", 800, "org_only")
	mid2 := m.publish(t, "mid-two", "skill", 700, "org_only")
	huge := m.publish(t, "huge", "skill", 50000, "org_only")
	server := m.publish(t, "server", "mcp_server", 100, "org_only")
	buy := func(a *webtest.API, id int64, key string) webtest.APIResponse {
		h := []string{}
		if key != "" {
			h = []string{"Idempotency-Key", key}
		}
		return a.Do(http.MethodPost, fmt.Sprintf("/api/packages/%d/buy", id), map[string]any{"org": "acme"}, h...)
	}
	// Under the limits: completed, and a replay returns the first answer.
	b1 := buy(m.member, cheap, "buy-1")
	b1again := buy(m.member, cheap, "buy-1")
	if b1.Status != 201 || b1.Data()["status"] != "completed" || b1.Raw != b1again.Raw {
		t.Fatalf("under:\n%s\n%s", b1.Raw, b1again.Raw)
	}
	if r := buy(m.member, mid, "buy-1"); r.Status != 409 || r.ErrorCode() != "idempotency_conflict" {
		t.Fatalf("key reused for another package: %d %s", r.Status, r.Raw)
	}
	for _, c := range []struct {
		id     int64
		status int
		code   string
	}{
		{huge, 403, "over_max_per_purchase"},
		{server, 403, "blocked_type"},
	} {
		if r := buy(m.member, c.id, ""); r.Status != c.status || r.ErrorCode() != c.code || r.ErrorMessage() == "" {
			t.Fatalf("package %d: %d %s", c.id, r.Status, r.Raw)
		}
	}
	if r := buy(m.billing, cheap, ""); r.Status != 403 || r.ErrorCode() != "forbidden" {
		t.Fatalf("billing buys: %d %s", r.Status, r.Raw)
	}
	// Above the approval threshold: pending.
	p1 := buy(m.member, mid, "")
	p2 := buy(m.member, mid2, "")
	if p1.Status != 201 || p1.Data()["status"] != "pending_approval" || p2.Data()["status"] != "pending_approval" {
		t.Fatalf("pending: %s %s", p1.Raw, p2.Raw)
	}
	appr := m.admin.Do(http.MethodGet, "/api/orgs/acme/approvals?status=pending", nil)
	if len(appr.List()) != 2 {
		t.Fatalf("approvals: %s", appr.Raw)
	}
	a1 := num(p1.Data()["purchase"].(map[string]any)["approval_id"])
	a2 := num(p2.Data()["purchase"].(map[string]any)["approval_id"])
	if r := m.member.Do(http.MethodPost, fmt.Sprintf("/api/orgs/acme/approvals/%d/approve", a1), nil); r.Status != 403 {
		t.Fatalf("member approves: %d", r.Status)
	}
	// Auto top-up: on at 2000; approving the 800 purchase takes 2700 -> 1900.
	m.owner.Do(http.MethodPatch, "/api/orgs/acme/wallet/auto-top-up", map[string]any{"enabled": true, "threshold_cents": 2000, "top_up_amount_cents": 5000})
	ok := m.admin.Do(http.MethodPost, fmt.Sprintf("/api/orgs/acme/approvals/%d/approve", a1), nil)
	if ok.Status != 200 || ok.Data()["approval"].(map[string]any)["status"] != "approved" || ok.Data()["purchase"].(map[string]any)["auto_top_up"] != true {
		t.Fatalf("approve: %d %s", ok.Status, ok.Raw)
	}
	if r := m.admin.Do(http.MethodPost, fmt.Sprintf("/api/orgs/acme/approvals/%d/reject", a2), map[string]any{}); r.Status != 422 {
		t.Fatalf("reject without a reason: %d %s", r.Status, r.Raw)
	}
	no := m.admin.Do(http.MethodPost, fmt.Sprintf("/api/orgs/acme/approvals/%d/reject", a2), map[string]any{"reason": "Use the free one"})
	if no.Status != 200 || no.Data()["approval"].(map[string]any)["reason"] != "Use the free one" {
		t.Fatalf("reject: %s", no.Raw)
	}
	// The buyer is emailed both decisions.
	m.env.LinkIn("member@example.com", fmt.Sprintf("/packages/%d", mid))
	m.env.LinkIn("member@example.com", fmt.Sprintf("/packages/%d", mid2))
	// The member sees their own approvals with status.
	mine := m.member.Do(http.MethodGet, "/api/orgs/acme/approvals", nil)
	if len(mine.List()) != 2 {
		t.Fatalf("buyer's approvals: %s", mine.Raw)
	}
	// Exactly one auto top-up.
	txs := m.owner.Do(http.MethodGet, "/api/orgs/acme/wallet/transactions?kind=auto_top_up", nil)
	if len(txs.List()) != 1 {
		t.Fatalf("auto top-ups: %s", txs.Raw)
	}
	w := m.owner.Do(http.MethodGet, "/api/orgs/acme/wallet", nil)
	if num(w.Data()["balance_cents"]) != 3000-300-800+5000 {
		t.Fatalf("balance: %s", w.Raw)
	}
	// Daily limit: a token bound to a policy uses it.
	pol2 := m.admin.Do(http.MethodPost, "/api/orgs/acme/policies", map[string]any{"name": "Tight", "daily_limit_cents": 100})
	tok := m.member.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "agent", "scopes": []string{"purchase", "download"}, "org": "acme", "policy_id": num(pol2.Data()["id"])})
	if tok.Status != 201 {
		t.Fatalf("token: %s", tok.Raw)
	}
	agent := m.env.NewAPI(tok.Data()["token"].(string))
	if r := buy(agent, m.publish(t, "daily", "skill", 101, "org_only"), ""); r.Status != 403 || r.ErrorCode() != "over_daily_limit" {
		t.Fatalf("token policy: %d %s", r.Status, r.Raw)
	}
	// The purchase-only agent token buys and downloads (no org in the body: the token's org).
	free := m.publish(t, "freebie", "skill", 0, "org_only")
	if r := agent.Do(http.MethodPost, fmt.Sprintf("/api/packages/%d/buy", free), map[string]any{}); r.Status != 201 || r.Data()["status"] != "completed" {
		t.Fatalf("agent installs: %d %s", r.Status, r.Raw)
	}
	if r := agent.Do(http.MethodGet, fmt.Sprintf("/api/packages/%d/download", free), nil); r.Status != 200 || r.Data()["manifest"] != "name: freebie" {
		t.Fatalf("agent downloads: %d %s", r.Status, r.Raw)
	}
	if r := m.outsider.Do(http.MethodGet, fmt.Sprintf("/api/packages/%d/download", free), nil); r.Status != 404 {
		t.Fatalf("outsider downloads org-only: %d", r.Status)
	}
	ents := m.member.Do(http.MethodGet, "/api/orgs/acme/entitlements", nil)
	if len(ents.List()) != 3 {
		t.Fatalf("entitlements: %s", ents.Raw)
	}
	// Policy PATCH and DELETE; another org's policy id is 404.
	if r := m.admin.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/policies/%d", polID), map[string]any{"daily_limit_cents": nil}); r.Status != 200 || r.Data()["daily_limit_cents"] != nil {
		t.Fatalf("patch: %s", r.Raw)
	}
	if r := m.outsider.Do(http.MethodGet, fmt.Sprintf("/api/orgs/acme/policies/%d", polID), nil); r.Status != 404 {
		t.Fatalf("outsider policy: %d", r.Status)
	}
	if r := m.admin.Do(http.MethodDelete, fmt.Sprintf("/api/orgs/acme/policies/%d", num(pol2.Data()["id"])), nil); r.Status != 200 {
		t.Fatalf("delete: %s", r.Raw)
	}
	if err := m.env.Store.CheckLedger(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestAPIPackagesVisibility(t *testing.T) {
	m := newMoneyAPI(t)
	m.publish(t, "open-skill", "skill", 0, "public")
	orgOnly := m.publish(t, "inner-tool", "tool", 500, "org_only")
	m.publish(t, "secret", "prompt", 500, "private")
	anon := m.env.NewAPI("")
	list := func(a *webtest.API, q string) []string {
		r := a.Do(http.MethodGet, "/api/packages"+q, nil)
		if r.Status != 200 {
			t.Fatalf("list %s: %d %s", q, r.Status, r.Raw)
		}
		var out []string
		for _, p := range r.List() {
			out = append(out, p.(map[string]any)["slug"].(string))
		}
		return out
	}
	if got := strings.Join(list(anon, ""), ","); got != "open-skill" {
		t.Fatalf("signed out: %s", got)
	}
	if got := strings.Join(list(m.outsider, ""), ","); got != "open-skill" {
		t.Fatalf("outsider: %s", got)
	}
	if got := len(list(m.member, "")); got != 2 {
		t.Fatalf("member sees %d", got)
	}
	if got := len(list(m.owner, "")); got != 3 {
		t.Fatalf("owner sees %d", got)
	}
	if got := strings.Join(list(m.owner, "?type=tool"), ","); got != "inner-tool" {
		t.Fatalf("type filter: %s", got)
	}
	if got := strings.Join(list(m.owner, "?q=SECR"), ","); got != "secret" {
		t.Fatalf("search: %s", got)
	}
	if r := m.env.NewAPI("bogus").Do(http.MethodGet, "/api/packages", nil); r.Status != 401 {
		t.Fatalf("bad token: %d", r.Status)
	}
	if r := m.outsider.Do(http.MethodGet, fmt.Sprintf("/api/packages/%d", orgOnly), nil); r.Status != 404 {
		t.Fatalf("outsider org-only: %d", r.Status)
	}
	if r := m.outsider.Do(http.MethodPost, fmt.Sprintf("/api/packages/%d/buy", orgOnly), map[string]any{}); r.Status != 404 {
		t.Fatalf("outsider buys org-only: %d %s", r.Status, r.Raw)
	}
	if r := m.member.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/packages/%d", orgOnly), map[string]any{"visibility": "public"}); r.Status != 403 {
		t.Fatalf("member edits: %d", r.Status)
	}
	if r := m.admin.Do(http.MethodPatch, fmt.Sprintf("/api/orgs/acme/packages/%d", orgOnly), map[string]any{"visibility": "public", "price_cents": 250}); r.Status != 200 || num(r.Data()["price_cents"]) != 250 {
		t.Fatalf("admin edits: %s", r.Raw)
	}
	if got := len(list(anon, "")); got != 2 {
		t.Fatalf("after going public: %d", got)
	}
	if r := m.admin.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": "x", "name": "", "type": "rocket", "price_cents": -1, "visibility": "everyone"}); r.Status != 422 {
		t.Fatalf("bad publish: %d %s", r.Status, r.Raw)
	} else {
		for _, f := range []string{"slug", "name", "type", "price_cents", "visibility"} {
			if !strings.Contains(r.Raw, `"`+f+`"`) {
				t.Fatalf("no message on %s: %s", f, r.Raw)
			}
		}
	}
}

// TestAPIConcurrentBuyersOneWallet: 64 HTTP clients buy on one wallet that
// holds enough for half; none overdraws, none is lost.
func TestAPIConcurrentBuyersOneWallet(t *testing.T) {
	m := newMoneyAPI(t)
	m.owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 32 * 100})
	ids := make([]int64, 64)
	for i := range ids {
		ids[i] = m.publish(t, fmt.Sprintf("p-%d", i), "skill", 100, "org_only")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := m.member.Do(http.MethodPost, fmt.Sprintf("/api/packages/%d/buy", ids[i]), map[string]any{"org": "acme"}, "Idempotency-Key", fmt.Sprint("c-", i))
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if codes[201] != 32 || codes[402] != 32 {
		t.Fatalf("answers: %v", codes)
	}
	if err := m.env.Store.CheckLedger(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = time.Now
}
