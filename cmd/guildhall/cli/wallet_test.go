package cli

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"guildhall/web/webtest"
)

// TestOrgWalletAndBuy runs "org wallet" and "buy" against a running server:
// buys honour "org switch" and --org, refusals print SPEC 9 codes, and a
// member sees the balance only.
func TestOrgWalletAndBuy(t *testing.T) {
	h := newHarness(t)
	api := h.signUpAndLogin("olive@example.com", "Olive")
	h.must("", "org", "create", "acme", "Acme Team")
	for _, p := range []map[string]any{
		{"slug": "pdf-reader", "name": "PDF reader", "type": "skill", "price_cents": 900, "visibility": "org_only"},
		{"slug": "github-mcp", "name": "GitHub MCP", "type": "mcp_server", "price_cents": 0, "visibility": "public"},
		{"slug": "mega-suite", "name": "Mega suite", "type": "tool", "price_cents": 9900, "visibility": "public"},
		{"slug": "deploy-kit", "name": "Deploy kit", "type": "tool", "price_cents": 3000, "visibility": "public"},
	} {
		if r := api.Do(http.MethodPost, "/api/orgs/acme/packages", p); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	api.Do(http.MethodPost, "/api/orgs/acme/wallet/top-up", map[string]any{"amount_cents": 10000})
	api.Do(http.MethodPost, "/api/orgs/acme/policies", map[string]any{"name": "Team", "max_per_purchase_cents": 5000, "require_approval_above_cents": 2000})

	// The personal workspace is the default: empty, and buying there fails for lack of funds.
	expect(t, h.run("", "org", "wallet"), ExitOK, []string{"Wallet of your personal workspace", "balance:      $0.00", "No entries yet."}, nil)
	expect(t, h.run("", "buy", "deploy-kit"), ExitError, nil, []string{"(insufficient_funds)"})

	// After "org switch acme", buys use the org wallet.
	h.must("", "org", "switch", "acme")
	expect(t, h.run("", "buy", "pdf-reader"), ExitOK, []string{"Bought pdf-reader for $9.00 from the wallet of Acme Team (acme). Balance: $91.00."}, nil)
	expect(t, h.run("", "buy", "github-mcp"), ExitOK, []string{"Installed github-mcp"}, nil)
	expect(t, h.run("", "buy", "mega-suite"), ExitError, nil, []string{"over the policy's maximum", "(over_max_per_purchase)"})
	expect(t, h.run("", "buy", "pdf-reader"), ExitError, nil, []string{"owns PDF reader already", "(conflict)"})
	expect(t, h.run("", "buy", "no-such-thing"), ExitError, nil, []string{"(not_found)"})
	r := h.must("", "buy", "deploy-kit", "--json")
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["status"] != "pending_approval" {
		t.Fatalf("--json: %v %s", err, r.stdout)
	}
	expect(t, h.run("", "org", "wallet"), ExitOK, []string{"Wallet of Acme Team (acme)", "balance:      $91.00", "auto top-up:  off",
		"purchase", "-$9.00", "top_up", "+$100.00"}, nil)

	// --org overrides the active org.
	expect(t, h.run("", "org", "wallet", "--org", "none"), ExitOK, []string{"your personal workspace"}, nil)

	// A member sees the balance only.
	h2 := &harness{t: t, env: h.env, cfg: filepath.Join(t.TempDir(), "cli.json")}
	h2.vars = map[string]string{"GUILDHALL_CONFIG": h2.cfg, "GUILDHALL_URL": h.env.URL}
	_, memberID := h.env.SignUpAPI("mia@example.com", "Mia")
	h.env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) SELECT id, $1, 'member' FROM orgs WHERE slug = 'acme'`, memberID)
	h2.must(webtest.Password+"\n", "login", "--email", "mia@example.com", "--password-stdin")
	r = h2.run("", "org", "wallet", "--org", "acme")
	expect(t, r, ExitOK, []string{"balance:      $91.00", "sees the balance only"}, nil)
	if strings.Contains(r.stdout, "top_up") {
		t.Fatalf("a member sees entries:\n%s", r.stdout)
	}
	expect(t, h2.run("", "buy"), ExitUsage, nil, []string{"buy needs one PACKAGE"})
}
