package web_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"guildhall/web"
	"guildhall/web/webtest"
)

// /metrics shows the wallet writer's batch sizes and the purchases by
// outcome once a purchase has gone through (issue 12 item 7), and how often
// the wallet page found its history kept.
func TestMetricsShowWalletBatchesAndOutcomes(t *testing.T) {
	env := webtest.New(t, webtest.Options{Ops: web.OpsConfig{MetricsToken: "metrics-token-123"}})
	owner, _ := env.SignUpAPI("owner@example.com", "Olive Owner")
	if r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"}); r.Status != 201 {
		t.Fatalf("create org: %s", r.Raw)
	}
	if r := owner.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 1000}, "Idempotency-Key", "t-1"); r.Status != 201 {
		t.Fatalf("top-up: %s", r.Raw)
	}
	var ids []int64
	for i, price := range []int64{600, 600} {
		r := owner.Do(http.MethodPost, "/api/orgs/acme/packages", map[string]any{"slug": "pkg-" + strconv.Itoa(i), "name": "Pkg " + strconv.Itoa(i),
			"type": "skill", "price_cents": price, "visibility": "private", "manifest": "name: pkg"})
		if r.Status != 201 {
			t.Fatalf("publish: %s", r.Raw)
		}
		ids = append(ids, num(r.Data()["id"]))
	}
	// One completes; the second finds 400 left of 600: insufficient_funds.
	if r := owner.Do(http.MethodPost, "/api/packages/"+strconv.FormatInt(ids[0], 10)+"/buy", map[string]any{"org": "acme"}, "Idempotency-Key", "b-1"); r.Status != 201 {
		t.Fatalf("buy: %d %s", r.Status, r.Raw)
	}
	if r := owner.Do(http.MethodPost, "/api/packages/"+strconv.FormatInt(ids[1], 10)+"/buy", map[string]any{"org": "acme"}, "Idempotency-Key", "b-2"); r.ErrorCode() != "insufficient_funds" {
		t.Fatalf("second buy: %d %s", r.Status, r.Raw)
	}

	// The wallet page twice: its history is read, then kept.
	c := env.SignUp("bea@example.com", "Bea Billing")
	for range 2 {
		if res := c.Get("/wallet"); res.Status != http.StatusOK || !strings.Contains(res.Body, `id="transactions"`) {
			t.Fatalf("wallet page: %d\n%s", res.Status, res.Body)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, env.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-token-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	names := parseMetrics(t, body.String())
	if !names["guildhall_wallet_batch_size"] || !names["guildhall_wallet_purchases_total"] {
		t.Fatalf("wallet metrics missing:\n%s", body.String())
	}
	for _, want := range []string{
		"guildhall_wallet_batch_size_count 2",
		`guildhall_wallet_batch_size_bucket{le="1"} 2`,
		`guildhall_wallet_purchases_total{outcome="completed"} 1`,
		`guildhall_wallet_purchases_total{outcome="insufficient_funds"} 1`,
		`guildhall_ledger_keep_total{outcome="hit"} 1`,
		`guildhall_ledger_keep_total{outcome="miss"} 1`,
	} {
		if !strings.Contains(body.String(), want) {
			t.Fatalf("no %q in\n%s", want, body.String())
		}
	}
}
