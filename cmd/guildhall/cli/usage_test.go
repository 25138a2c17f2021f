package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOrgUsage: requests made with a token show in "org usage" (chart of 14
// days, limits) and in its --json, against a running server.
func TestOrgUsage(t *testing.T) {
	h := newHarness(t)
	api := h.signUpAndLogin("alice@example.com", "Alice")
	h.must("", "org", "create", "acme", "Acme Inc")
	h.must("", "org", "switch", "acme")
	r := api.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "script", "org": "acme"})
	bot := h.env.NewAPI(r.Data()["token"].(string))
	ag := bot.Do(http.MethodPost, "/api/agents", map[string]any{"name": "Support triage", "org": "acme"})
	for i := 0; i < 4; i++ {
		bot.Do(http.MethodGet, fmt.Sprintf("/api/agents/%v", ag.Data()["id"]), nil)
	}
	if err := h.env.Server.Meter().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Six requests in acme: the switch's check of the org, the agent's
	// creation and four reads of it.
	out := h.must("", "org", "usage").stdout
	today := time.Now().UTC().Format("Mon Jan 02")
	squeezed := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"Acme Inc (acme), Free plan", "last 14 days (UTC): 6", today + " ████████████████████████████████████████ 6",
		"Support triage 4", "agents 1 / 10 [##", "requests this month 6 / 50,000", "team members 1 / 5"} {
		if !strings.Contains(squeezed, want) {
			t.Errorf("org usage lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n  "+time.Now().UTC().AddDate(0, 0, -13).Format("Mon Jan 02")); n != 1 {
		t.Errorf("the chart does not start 13 days ago:\n%s", out)
	}

	js := h.must("", "org", "usage", "acme", "--json").stdout
	var v struct {
		Org      struct{ Slug, Plan string }
		Requests struct{ Total, Limit int64 }
		ByDay    []struct{ Date string } `json:"by_day"`
		ByAgent  []struct{ Name string } `json:"by_agent"`
		Limits   map[string]int64
		Usage    map[string]int64
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("--json: %v\n%s", err, js)
	}
	if v.Org.Slug != "acme" || v.Org.Plan != "free" || v.Requests.Total < 6 || v.Requests.Limit != 50000 || len(v.ByDay) != 14 ||
		len(v.ByAgent) != 1 || v.Limits["agents"] != 10 || v.Usage["agents"] != 1 {
		t.Errorf("--json: %+v", v)
	}
	// The personal workspace when no org is active; another's org is refused.
	h.must("", "org", "switch", "none")
	if out := h.must("", "org", "usage").stdout; !strings.Contains(out, "Personal workspace") || strings.Contains(out, "team members") {
		t.Errorf("personal usage:\n%s", out)
	}
	h.env.SignUpAPI("bob@example.com", "Bob")
	bobOrg := h.run("", "org", "usage", "bob-example-com")
	if bobOrg.code != ExitError || !strings.Contains(bobOrg.stderr, "not found") {
		t.Errorf("another's org: %d %s", bobOrg.code, bobOrg.stderr)
	}
	expect(t, h.run("", "org", "usage", "a", "b"), ExitUsage, nil, []string{"at most one SLUG"})
}
